/**
 * First-order optimizers as small composable gradient transformations (optax's design, PyTorch's
 * formulas).
 *
 * Model
 * -----
 * - Parameters are a list of flat typed arrays, `Params = readonly FloatArray[]` (one entry per weight
 *   tensor, row-major, Float32Array or Float64Array). Nothing here knows about layers or shapes, so the
 *   curvature optimizers (KFAC/EKFAC) feed their preconditioned direction into these transforms exactly
 *   like a gradient.
 * - A `GradientTransformation<S>` is `{ init(params) → S; update(updates, state, params?) }`. `update`
 *   rewrites `updates` IN PLACE: they come in as gradients (or as the output of the previous transform)
 *   and leave as the increments to ADD to the parameters, `θ ← θ + u` (`applyUpdates`). In place so that
 *   a step allocates nothing once `init` has made the state: every buffer lives in the state, and
 *   `update` only mutates it (typed-array contents and the numeric fields such as `count`).
 * - `chain(t₁, …, tₖ)` runs `t₁ … tₖ` in order; its state is the tuple of their states. A full optimizer
 *   is a chain, e.g. `adam = chain(scaleByAdam, scaleByLearningRate)`; decoupled weight decay
 *   (`addDecayedWeights`) sits between the direction and the learning rate, coupled L2 (`addL2`) first.
 * - `scaleByLearningRate` negates (`u ← −η·u`), so every transform before it works with descent
 *   directions in gradient orientation, and `applyUpdates` always adds.
 * - State is data: numbers (step counts) and typed arrays, nested in plain objects and arrays
 *   (`StateValue`). No closures, no class instances, no derived values that cannot be recomputed from
 *   the counts (schedules are pure functions of the step count). `saveState`/`loadState` (state.ts)
 *   therefore checkpoint and resume bit-identically.
 * - The transforms trust nothing about finiteness: a NaN gradient poisons the moments. Wrap with
 *   `skipNonFinite` (alias `safe`) — a wrapper, not code inside every optimizer, as in optax's
 *   `apply_if_finite`. The aliases (`sgd`, `adam`, …) are NOT wrapped; the `Optimizer` class is, by
 *   default.
 *
 * Conventions (the defaults follow torch.optim's documented algorithms; differences from tfjs and Keras
 * are listed in aliases.ts and at each transform):
 * - momentum: heavy ball `b ← μ·b + g`, lr applied after the buffer (PyTorch), Nesterov `g + μ·b`.
 * - Adam: `u = m̂ / (√v̂ + ε)` with both moments bias-corrected.
 * - the step counter `count` is the number of updates already applied (0 before the first);
 *   schedules are evaluated at `count` (optax), so the first step uses `schedule(0)`.
 *
 * Validation happens at the public boundary of each function (constructor arguments, and cheap
 * list/length checks in `update`); the per-element loops trust them. A value that can only be checked
 * at step time (a schedule's learning rate) is checked by the transform's `prepare`, which `chain` runs
 * for every transform before the first `update`: a step that throws leaves the chain's state as it was.
 */
import { axpbyInto, type FloatArray } from "@ekfac-ts/linalg";
import { checkParamList, checkSameShapes } from "./checks.ts";

/** A list of flat parameter (or gradient, or update) buffers. */
export type Params = readonly FloatArray[];

/** What an optimizer state may contain: numbers, typed arrays, and plain arrays/records of them. */
export type StateValue = number | FloatArray | readonly StateValue[] | { readonly [key: string]: StateValue };

/** The state of a transform that keeps none. */
export type EmptyState = { readonly [key: string]: never };

/** Why a step was refused (see `StepReport`). */
export type SkipReason =
  | "non-finite gradient"
  | "non-finite statistics"
  | "non-finite update"
  /** The update raised the loss on its own minibatch and the step control withdrew it (`observeLoss`). */
  | "loss increased";

/**
 * How the curvature transform chose the step: "fixed" (the chain's learning rate and momentum),
 * "burn-in" (statistics only, zero update), or the adaptive rule's solve of the quadratic model
 * (curvature/quadratic-model.ts): "joint" (α and μ), "alpha-only" (μ = 0), "fallback" (no positive
 * curvature along Δ: the KL-bounded step).
 */
export type StepControl = "fixed" | "burn-in" | "joint" | "alpha-only" | "fallback";

/** What the curvature transform says about its last update (absent for first-order transforms). */
export interface CurvatureStepInfo {
  /** Whether this step refreshed the eigenbases (every T_kfe steps). */
  readonly basisRefreshed: boolean;
  /** Eigendecompositions of this step that failed numerically (their previous basis was kept). */
  readonly basisFailures: number;
  /** KL-clipping factor ν of this step (1 without clipping or when not binding). */
  readonly klScale: number;
  /** The damping λ of this step: fixed step control's ε, or the adaptive λ of the quadratic model. */
  readonly damping: number;
  /** The damping γ the blocks preconditioned with: `damping`, unless adaptive step control holds γ apart
   *  (`stepControl.preconditionerDamping`). */
  readonly preconditionerDamping: number;
  /** How the step was chosen (see `StepControl`). */
  readonly stepControl: StepControl;
  /** Adaptive step control: α of δ = αΔ + μδ₀ (negative: Δ is an ascent direction), else null. */
  readonly alpha: number | null;
  /** Adaptive step control: μ of δ = αΔ + μδ₀, else null. */
  readonly momentum: number | null;
  /** Adaptive damping: the reduction ratio ρ measured after this step (−∞ for a failed step), or null
   *  when this step was not an adaptation step. */
  readonly rho: number | null;
  /** Adaptive step control with `rateAveraging`: the weight β of the past in α's running averages on
   *  this step (0: this minibatch's α; MATH.md §11), or null when α came from the joint solve. */
  readonly averaging: number | null;
}

/**
 * The loss on the current minibatch at the current parameters (a forward pass, e.g. under `noGrad`).
 * `Optimizer.step` calls it with "before" (the parameters are still those of the caller's own forward
 * pass, so a caller that kept that loss may return it and save a pass) and with "after" the update.
 */
export type LossClosure = (when: "before" | "after") => number;

/** What a transform reports about its last `update` (`report`), read by `Optimizer.step`. */
export interface TransformReport {
  /** Set when the transform refused the step (its `update` returned false). */
  readonly vetoReason: SkipReason | null;
  /** Curvature details of the last update (null for first-order transforms). */
  readonly curvature: CurvatureStepInfo | null;
}

/**
 * An optimizer building block: `init` makes the state for a parameter list, `update` turns `updates`
 * (gradients on entry) into the increments to add to the parameters, in place, mutating `state`.
 * `params` are the current parameter values, needed only by weight decay.
 *
 * `update` may return `false` to REFUSE the step (the curvature transform does when its statistics or
 * its own output are not finite): it then zeroes `updates`, and `chain` runs no later transform, so
 * momentum buffers and step counts after it stay where they were and the parameters are not touched.
 */
export interface GradientTransformation<S extends StateValue = StateValue> {
  /** For error messages and debugging. */
  readonly name: string;
  /** The initial state for the parameter list `params` (buffers sized like the parameters). */
  init(params: Params): S;
  /**
   * Turns `updates` (gradients on entry) into the increments to add to the parameters, in place, mutating
   * `state`; returns false to refuse the step (see above).
   */
  update(updates: Params, state: S, params?: Params): undefined | boolean;
  /**
   * Optional: throws the TypeError/RangeError that `update` at `state` would throw for a value known
   * before it runs (a learning-rate schedule's value at `state.count`), and nothing otherwise. Never
   * writes `state` and allocates nothing (it may keep the checked value for the `update` that follows).
   * `chain` runs every transform's `prepare` before the first `update`, so a step that fails this way
   * leaves every state of the chain as it was (Adam's count and moments included) and a retry does not
   * count it twice.
   */
  prepare?(state: S): void;
  /**
   * Optional: throws a TypeError/RangeError naming `fn` unless `state` (a candidate for restore, same
   * structure as `init`'s) holds values this transform can continue from. `Optimizer.load` has already
   * checked what every state shares before calling it — the structure against this transform's own
   * `init` (keys, list lengths, array lengths and element types) and that every number is finite — so
   * what is left here is the transform's own invariants: integer counters ≥ 0, second moments ≥ 0,
   * blocks matching the model. Never writes.
   */
  validateState?(fn: string, state: S): void;
  /** Optional: what the last `update` did (veto reason, curvature details). */
  report?(state: S): TransformReport | null;
  /** Optional: called by `Optimizer.load` after a restore wrote `state` (e.g. to re-request capture). */
  restored?(state: S): void;
  /**
   * Optional: true when some update will need the loss before and after it (Levenberg–Marquardt
   * damping); `Optimizer.step` then requires a `LossClosure`.
   */
  readonly needsLoss?: boolean;
  /** Optional: whether the next `update` (at `state`) wants the loss before and after it. */
  wantsLoss?(state: S): boolean;
  /**
   * Optional: the loss on the same minibatch before (`before`) and after (`after`) the update that
   * `wantsLoss` asked for was applied. Returns true to REJECT that update: `Optimizer.step` then puts
   * the parameters back bit for bit (the transform has already forgotten the update, e.g. as momentum;
   * a stateful transform later in a chain is not rewound).
   */
  observeLoss?(state: S, before: number, after: number): boolean | undefined;
  /**
   * Optional, a transform that can form some gradients itself from a model's captured rows (EKFAC's
   * curvature transform, at the head of its chain): see `RowGradients`.
   */
  readonly rowGradients?: RowGradients;
}

/**
 * The hand-over of gradients a transform forms from captured rows (`ParameterRef.gradFromRows`).
 * `accepts[k]` = 1 where the transform can take parameter k's gradient as deferred; before each
 * `update`, `Optimizer.step` writes `taken[k]` = 1 where it did — the ref said `gradFromRows`, so it
 * passed zeros in `updates[k]` instead of reading (and so forming) the gradient — and 0 elsewhere (all
 * 0 when the caller passed the gradients). Only the first transform of a chain is asked: a transform
 * before it would read zeros.
 */
export interface RowGradients {
  readonly accepts: Uint8Array;
  readonly taken: Uint8Array;
}

/** The state type of a transform. */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;

/** The state of `chain(...T)`: the tuple of the states. */
export type ChainState<T extends readonly GradientTransformation[]> = { -readonly [K in keyof T]: StateOf<T[K]> };

/**
 * Composes transforms left to right: `chain(a, b).update(u)` is `a.update(u); b.update(u)`. The state is
 * the tuple `[stateA, stateB]`.
 */
export function chain<const T extends readonly GradientTransformation[]>(
  ...transforms: T
): GradientTransformation<ChainState<T> & StateValue[]> {
  for (let i = 0; i < transforms.length; i++) {
    const t = transforms[i];
    if (t === null || typeof t !== "object" || typeof t.init !== "function" || typeof t.update !== "function") {
      throw new TypeError(`chain: argument ${i} must be a GradientTransformation (got ${describe(t)})`);
    }
  }
  // Copied once so that a caller mutating its array later cannot change the optimizer.
  const ts: readonly GradientTransformation[] = transforms.slice();
  const name = `chain(${ts.map((t) => t.name).join(", ")})`;
  return {
    name,
    init(params) {
      checkParamList("chain.init", "params", params);
      const states: StateValue[] = [];
      for (let i = 0; i < ts.length; i++) states.push((ts[i] as GradientTransformation).init(params));
      return states as ChainState<T> & StateValue[];
    },
    update(updates, state, params) {
      if (!Array.isArray(state) || state.length !== ts.length) {
        throw new RangeError(
          `${name}.update: state must be a list of ${ts.length} states, one per transform (got ${Array.isArray(state) ? `${state.length} entries` : describe(state)})`,
        );
      }
      // Every value check first (a schedule's learning rate), so that a failing step writes no state.
      for (let i = 0; i < ts.length; i++) (ts[i] as GradientTransformation).prepare?.(state[i] as StateValue);
      for (let i = 0; i < ts.length; i++) {
        if ((ts[i] as GradientTransformation).update(updates, state[i] as StateValue, params) === false) return false;
      }
      return undefined;
    },
    prepare(state) {
      // A state that is not this chain's tuple: `update` reports it.
      if (!Array.isArray(state) || state.length !== ts.length) return;
      for (let i = 0; i < ts.length; i++) (ts[i] as GradientTransformation).prepare?.(state[i] as StateValue);
    },
    validateState(fn, state) {
      if (!Array.isArray(state) || state.length !== ts.length) {
        throw new RangeError(`${fn}: the state of ${name} must be a list of ${ts.length} states`);
      }
      for (let i = 0; i < ts.length; i++) (ts[i] as GradientTransformation).validateState?.(fn, state[i] as StateValue);
    },
    restored(state) {
      for (let i = 0; i < ts.length; i++) (ts[i] as GradientTransformation).restored?.(state[i] as StateValue);
    },
    report(state) {
      for (let i = 0; i < ts.length; i++) {
        const r = (ts[i] as GradientTransformation).report?.(state[i] as StateValue);
        if (r !== undefined && r !== null) return r;
      }
      return null;
    },
    needsLoss: ts.some((t) => t.needsLoss === true),
    wantsLoss(state) {
      for (let i = 0; i < ts.length; i++) {
        if ((ts[i] as GradientTransformation).wantsLoss?.(state[i] as StateValue) === true) return true;
      }
      return false;
    },
    observeLoss(state, before, after) {
      let reject = false;
      for (let i = 0; i < ts.length; i++) {
        if ((ts[i] as GradientTransformation).observeLoss?.(state[i] as StateValue, before, after) === true) {
          reject = true;
        }
      }
      return reject;
    },
    // The first transform sees the gradients as the optimizer hands them over; any later one sees
    // what the transforms before it made of them.
    ...(ts[0]?.rowGradients !== undefined ? { rowGradients: ts[0].rowGradients } : {}),
  };
}

/** The transform that leaves updates unchanged (useful as a placeholder in a chain). */
export function identity(): GradientTransformation<EmptyState> {
  return {
    name: "identity",
    init: () => ({}),
    update: () => undefined,
  };
}

/**
 * `params[k][i] += updates[k][i]`, in place; returns `params`. By linalg's `axpbyInto` (1·p + 1·u, the
 * same sum; SIMD for float32 on wasm) unless an update shares memory with its parameter.
 */
export function applyUpdates(params: Params, updates: Params): Params {
  checkParamList("applyUpdates", "params", params);
  checkSameShapes("applyUpdates", "updates", updates, "params", params);
  for (let k = 0; k < params.length; k++) {
    const p = params[k] as FloatArray;
    const u = updates[k] as FloatArray;
    if (p.buffer !== u.buffer) axpbyInto(p, 0, u, 0, p.length, 1, 1);
    else for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) + (u[i] as number);
  }
  return params;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  return typeof x;
}
