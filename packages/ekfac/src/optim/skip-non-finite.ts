/**
 * `skipNonFinite(inner)`: NaN/±Inf never pass silently through an optimizer step.
 *
 * Before delegating, the wrapper scans the incoming updates. If any entry is NaN or ±Inf it
 *   - zeroes the updates, so `applyUpdates` leaves the parameters bit-for-bit unchanged,
 *   - leaves the inner state untouched (moments, step counts, schedules all stay where they were),
 *   - counts: `skipped` (steps skipped in total), `consecutive` (skipped since the last good step) and
 *     `nonFinite` (non-finite entries seen in total).
 * Otherwise it delegates. The next finite step therefore continues exactly as if the bad step had never
 * happened. A step the inner transform refuses (its `update` returns false: curvature with non-finite
 * statistics or a non-finite preconditioned update) is counted in `skipped`/`consecutive` as well.
 *
 * Source: optax `apply_if_finite`. Deviations: optax stops skipping after `max_consecutive_errors`
 * and lets the NaN through; here skipping never stops — the caller reads `consecutive` and decides
 * (e.g. lower the learning rate, or abort). Only the INPUT is checked: a transform that makes a
 * non-finite output from finite input (e.g. Adam with ε = 0 and a zero gradient, 0/0) is not caught,
 * because its state has already advanced; keep ε > 0.
 *
 * Cost: one extra read pass over the updates.
 */
import { allFinite, type FloatArray } from "@ekfac-ts/linalg";
import { checkCount, checkParamList } from "./checks.ts";
import type { GradientTransformation, StateValue } from "./transform.ts";

/** The state of `skipNonFinite`: the wrapped transform's state and the skip counters. */
export type SkipState<S extends StateValue> = {
  /** The wrapped transform's state. */
  inner: S;
  /** Steps skipped since init. */
  skipped: number;
  /** Steps skipped since the last finite one. */
  consecutive: number;
  /** Non-finite entries seen since init. */
  nonFinite: number;
  /** 1 when the last update was skipped here for non-finite input, else 0. */
  lastSkipped: number;
};

/** Wraps `inner` so that a step whose incoming updates hold NaN or ±Inf becomes a no-op. */
export function skipNonFinite<S extends StateValue>(
  inner: GradientTransformation<S>,
): GradientTransformation<SkipState<S>> {
  if (inner === null || typeof inner !== "object" || typeof inner.update !== "function") {
    throw new TypeError(
      `skipNonFinite: inner must be a GradientTransformation (got ${inner === null ? "null" : typeof inner})`,
    );
  }
  const name = `skipNonFinite(${inner.name})`;
  return {
    name,
    init(params) {
      checkParamList("skipNonFinite.init", "params", params);
      return { inner: inner.init(params), skipped: 0, consecutive: 0, nonFinite: 0, lastSkipped: 0 };
    },
    update(updates, state, params) {
      checkParamList(name, "updates", updates);
      // linalg's allFinite scans (SIMD for float32 on wasm); entries are counted only when one fails.
      let bad = 0;
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        if (!allFinite(u)) bad += countNonFinite(u);
      }
      if (bad > 0) {
        for (let k = 0; k < updates.length; k++) (updates[k] as FloatArray).fill(0);
        state.skipped += 1;
        state.consecutive += 1;
        state.nonFinite += bad;
        state.lastSkipped = 1;
        return false;
      }
      // Nothing is written before the inner update returns: if it throws, this state is unchanged too.
      const refused = inner.update(updates, state.inner, params) === false;
      state.lastSkipped = 0;
      if (refused) {
        // The inner transform refused the step (e.g. curvature with non-finite statistics): count it too.
        state.skipped += 1;
        state.consecutive += 1;
        return false;
      }
      state.consecutive = 0;
      return undefined;
    },
    prepare(state) {
      inner.prepare?.(state.inner);
    },
    validateState(fn, state) {
      for (const key of ["skipped", "consecutive", "nonFinite", "lastSkipped"] as const) {
        checkCount(fn, `skipNonFinite state.${key}`, state[key]);
      }
      if (state.lastSkipped > 1) {
        throw new RangeError(`${fn}: skipNonFinite state.lastSkipped must be 0 or 1 (got ${state.lastSkipped})`);
      }
      if (state.consecutive > state.skipped) {
        throw new RangeError(
          `${fn}: skipNonFinite state.consecutive (${state.consecutive}) cannot exceed state.skipped (${state.skipped})`,
        );
      }
      inner.validateState?.(fn, state.inner);
    },
    restored(state) {
      inner.restored?.(state.inner);
    },
    report(state) {
      if (state.lastSkipped === 1) return { vetoReason: "non-finite gradient", curvature: null };
      return inner.report?.(state.inner) ?? null;
    },
    needsLoss: inner.needsLoss === true,
    wantsLoss: (state) => inner.wantsLoss?.(state.inner) === true,
    observeLoss(state, before, after) {
      return inner.observeLoss?.(state.inner, before, after);
    },
    // Taken gradients arrive as zeros, which pass the scan; the inner transform checks their rows.
    ...(inner.rowGradients !== undefined ? { rowGradients: inner.rowGradients } : {}),
  };
}

/** Alias of `skipNonFinite`: `safe(adam(1e-3))`. */
export const safe = skipNonFinite;

/** How many entries of u are NaN or ±∞ (x − x is 0 exactly for finite x). */
function countNonFinite(u: FloatArray): number {
  let bad = 0;
  for (let i = 0; i < u.length; i++) {
    const x = u[i] as number;
    if (x - x !== 0) bad++;
  }
  return bad;
}
