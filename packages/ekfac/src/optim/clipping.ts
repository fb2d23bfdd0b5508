/**
 * Gradient clipping.
 *
 * - `clipByGlobalNorm(c)`: ‖u‖ = √(Σ_k Σ_i u_ki²) over ALL arrays; if ‖u‖ > c then u ← (c/‖u‖)·u
 *   (Pascanu et al. 2013, Algorithm 2; optax `clip_by_global_norm`).
 *   Deviation from PyTorch `clip_grad_norm_`: PyTorch scales by min(1, c/(‖u‖ + 1e-6)), so it shrinks by
 *   a hair even when ‖u‖ ≤ c; here updates with ‖u‖ ≤ c pass bit-for-bit unchanged.
 *   A non-finite norm (a NaN or ±Inf entry) leaves the updates untouched, so the non-finite values stay
 *   visible to `skipNonFinite` instead of being turned into zeros or NaNs everywhere.
 * - `clipByValue(c)`: u ← clamp(u, −c, c) (PyTorch `clip_grad_value_`, optax `clip`). NaN stays NaN.
 *
 * Cost: one pass (two when the sum of squares overflows and is recomputed with scaling).
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { scaleUpdates, stateless } from "./basic.ts";
import { checkParamList, checkPositive } from "./checks.ts";
import type { EmptyState, GradientTransformation, Params } from "./transform.ts";

/**
 * ‖u‖₂ over all arrays, without overflow for finite entries: NaN when an entry is NaN, +Inf when an
 * entry is ±Inf (and none is NaN).
 */
export function globalNorm(updates: Params): number {
  checkParamList("globalNorm", "updates", updates);
  return globalNormUnchecked(updates);
}

function globalNormUnchecked(updates: Params): number {
  let sum = 0;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k] as FloatArray;
    for (let i = 0; i < u.length; i++) {
      const x = u[i] as number;
      sum += x * x;
    }
  }
  if (Number.isFinite(sum)) return Math.sqrt(sum);
  // Overflowed, or a non-finite entry: rescale by the largest magnitude (NaN propagates through max).
  let big = 0;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k] as FloatArray;
    for (let i = 0; i < u.length; i++) big = Math.max(big, Math.abs(u[i] as number));
  }
  if (!Number.isFinite(big)) return big;
  let scaled = 0;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k] as FloatArray;
    for (let i = 0; i < u.length; i++) {
      const x = (u[i] as number) / big;
      scaled += x * x;
    }
  }
  return big * Math.sqrt(scaled);
}

/** Rescales all updates together so their global L2 norm is at most `maxNorm`. */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  checkPositive("clipByGlobalNorm", "maxNorm", maxNorm);
  return stateless("clipByGlobalNorm", (updates) => {
    const norm = globalNormUnchecked(updates);
    if (norm > maxNorm && Number.isFinite(norm)) scaleUpdates(updates, maxNorm / norm);
  });
}

/** Clamps every entry to [−maxDelta, maxDelta]. */
export function clipByValue(maxDelta: number): GradientTransformation<EmptyState> {
  checkPositive("clipByValue", "maxDelta", maxDelta);
  const lo = -maxDelta;
  return stateless("clipByValue", (updates) => {
    for (let k = 0; k < updates.length; k++) {
      const u = updates[k] as FloatArray;
      for (let i = 0; i < u.length; i++) {
        const x = u[i] as number;
        // Comparisons are false for NaN, so NaN passes through unchanged.
        if (x > maxDelta) u[i] = maxDelta;
        else if (x < lo) u[i] = lo;
      }
    }
  });
}
