/**
 * Elementwise transforms: scaling, learning rate, weight decay, heavy-ball momentum.
 *
 * Equations (u: the incoming updates, p: the parameters, c: updates applied so far):
 * - `scale(s)`:                 u ← s·u
 * - `scaleByLearningRate(η)`:   u ← −η(c)·u               (optax `scale_by_learning_rate`)
 * - `addDecayedWeights(λ)`:     u ← u + λ·p                (decoupled decay, Loshchilov & Hutter 2019,
 *                                                            AdamW Algorithm 2 line 12, when placed between
 *                                                            the direction and the learning rate)
 * - `addL2(λ)`:                 g ← g + λ·p                (coupled L2 = PyTorch `weight_decay`, placed first)
 * - `traceMomentum(μ, τ)`:      b ← g (first step), b ← μ·b + (1 − τ)·g (later);
 *                               u ← b, or u ← g + μ·b with `nesterov`  (torch.optim.SGD algorithm box)
 *
 * `addDecayedWeights` and `addL2` compute the same thing; they are two names because their place in
 * the chain is what differs (after the adaptive scaling vs before it), and the name documents it.
 *
 * Deviation: optax's `trace` has no dampening and no special first step (b₀ = 0, so b₁ = g either way
 * when τ = 0). PyTorch's first step `b₁ = g` is kept so that `dampening` matches torch.optim.SGD.
 *
 * Cost: one pass over the updates, O(n) flops; momentum keeps one buffer per parameter.
 */
import { axpbyInto, type FloatArray, scaleInto } from "@ekfac-ts/linalg";
import {
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkParamList,
  checkPositive,
  checkSameShapes,
  requireParams,
  zerosLike,
} from "./checks.ts";
import type { Schedule } from "./schedules.ts";
import type { EmptyState, GradientTransformation, Params } from "./transform.ts";

/** A transform without state (`init` gives {}) whose `update` rewrites the updates in place. */
export function stateless(name: string, update: (updates: Params) => void): GradientTransformation<EmptyState> {
  return {
    name,
    init: () => ({}),
    update(updates) {
      update(updates);
      return undefined;
    },
  };
}

/** `u ← s·u` for every update array, in place (linalg's `scaleInto`: SIMD for float32 on wasm, same bits). */
export function scaleUpdates(updates: Params, s: number): void {
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k] as FloatArray;
    scaleInto(u, 0, u.length, s);
  }
}

/** `u ← s·u`. */
export function scale(factor: number): GradientTransformation<EmptyState> {
  checkFinite("scale", "factor", factor);
  return stateless("scale", (updates) => scaleUpdates(updates, factor));
}

/** A step counter: the number of updates this transform has seen. */
export type CountState = {
  /** Updates seen. */
  count: number;
};

/** Options of `scaleByLearningRate`. */
export interface LearningRateOptions {
  /** Negate (descent). Default true; false gives `u ← η·u` (e.g. to scale by a schedule). */
  readonly flipSign?: boolean;
}

/**
 * `u ← −η·u`, with η a constant > 0 or a schedule evaluated at the number of updates already applied.
 * A schedule may return 0 (warm-up from 0, decay to 0) but not a negative or non-finite value: that
 * throws a RangeError naming the step.
 */
export function scaleByLearningRate(
  learningRate: number | Schedule,
  options: LearningRateOptions = {},
): GradientTransformation<CountState> {
  const fn = "scaleByLearningRate";
  const sign = (options.flipSign ?? true) ? -1 : 1;
  let constant = Number.NaN;
  let schedule: Schedule | null = null;
  if (typeof learningRate === "function") schedule = learningRate;
  else {
    checkPositive(fn, "learningRate", learningRate);
    constant = learningRate;
  }
  return {
    name: fn,
    init: () => ({ count: 0 }),
    update(updates, state) {
      let lr = constant;
      if (schedule !== null) {
        lr = schedule(state.count);
        if (!(typeof lr === "number" && Number.isFinite(lr) && lr >= 0)) {
          throw new RangeError(
            `${fn}: the schedule returned ${lr} at count ${state.count}, expected a finite number ≥ 0`,
          );
        }
      }
      scaleUpdates(updates, sign * lr);
      state.count += 1;
    },
  };
}

/** Options of `addL2` and `addDecayedWeights`. */
export interface WeightDecayOptions {
  /** Per parameter array: true to decay it (default all). Typically false for biases and norms. */
  readonly mask?: readonly boolean[];
}

function weightDecay(fn: string, rate: number, options: WeightDecayOptions): GradientTransformation<EmptyState> {
  checkNonNegative(fn, "weightDecay", rate);
  const mask = options.mask === undefined ? null : Array.from(options.mask, (m) => m === true);
  const check = (params: Params): void => {
    if (mask !== null && mask.length !== params.length) {
      throw new RangeError(
        `${fn}: mask has ${mask.length} entries, expected ${params.length} (one per parameter array)`,
      );
    }
  };
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      check(params);
      return {};
    },
    update(updates, _state, params) {
      requireParams(fn, params);
      checkParamList(fn, "params", params);
      checkSameShapes(fn, "updates", updates, "params", params);
      check(params);
      for (let k = 0; k < updates.length; k++) {
        if (mask !== null && !mask[k]) continue;
        const u = updates[k] as FloatArray;
        const p = params[k] as FloatArray;
        for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) + rate * (p[i] as number);
      }
    },
  };
}

/**
 * Decoupled weight decay `u ← u + λ·p` (AdamW). Place it after the direction and before
 * `scaleByLearningRate`, so the step is `−η(dir + λ·p)`: PyTorch's AdamW `θ ← θ − ηλθ − η·dir`.
 */
export function addDecayedWeights(
  weightDecayRate: number,
  options: WeightDecayOptions = {},
): GradientTransformation<EmptyState> {
  return weightDecay("addDecayedWeights", weightDecayRate, options);
}

/**
 * Coupled L2 regularisation `g ← g + λ·p` (PyTorch's `weight_decay` argument of SGD, Adam, Adagrad,
 * RMSprop, Adadelta). Place it FIRST in the chain so the penalty's gradient passes through the
 * moments, as in torch.optim.
 */
export function addL2(weightDecayRate: number, options: WeightDecayOptions = {}): GradientTransformation<EmptyState> {
  return weightDecay("addL2", weightDecayRate, options);
}

/** Options of `traceMomentum`. */
export interface MomentumOptions {
  /** μ ∈ [0, 1). */
  readonly momentum: number;
  /** Use `g + μ·b` (Sutskever et al. 2013 as rewritten by PyTorch). Requires μ > 0 and τ = 0. */
  readonly nesterov?: boolean;
  /** τ ∈ [0, 1): `b ← μ·b + (1 − τ)·g` after the first step. Default 0. */
  readonly dampening?: number;
}

/** The state of `traceMomentum`. */
export type TraceState = {
  /** Updates seen (the first fills the buffer without dampening). */
  count: number;
  /** Momentum buffers b, one per parameter array. */
  trace: FloatArray[];
};

/**
 * Heavy-ball momentum with PyTorch's convention `b ← μ·b + g`, `u ← b` (the learning rate multiplies
 * the buffer later, so a learning-rate schedule does not rescale past gradients). Other conventions:
 * Sutskever/tfjs `v ← μ·v − η·g` puts η inside the buffer — equal for a constant η.
 */
export function traceMomentum(options: MomentumOptions): GradientTransformation<TraceState> {
  const fn = "traceMomentum";
  const { momentum: mu, nesterov = false, dampening = 0 } = options;
  checkDecay(fn, "momentum", mu);
  checkDecay(fn, "dampening", dampening);
  if (nesterov && (mu <= 0 || dampening !== 0)) {
    throw new RangeError(
      `${fn}: nesterov requires momentum > 0 and dampening = 0 (got momentum ${mu}, dampening ${dampening})`,
    );
  }
  const keep = 1 - dampening;
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      return { count: 0, trace: zerosLike(params) };
    },
    update(updates, state) {
      checkSameShapes(fn, "updates", updates, "state.trace", state.trace);
      // PyTorch's first step b₁ = g is b = 0·b₀ + 1·g with the zero-initialised buffer.
      const first = state.count === 0;
      const a = first ? 0 : mu;
      const c = first ? 1 : keep;
      // The branch is hoisted out of the element loops; Nesterov reads the stored (possibly
      // float32-rounded) buffer, as PyTorch does.
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const b = state.trace[k] as FloatArray;
        if (nesterov) {
          for (let i = 0; i < u.length; i++) {
            const g = u[i] as number;
            b[i] = a * (b[i] as number) + c * g;
            u[i] = g + mu * (b[i] as number);
          }
        } else {
          // b ← a·b + c·u, then u ← b (linalg's axpby: a SIMD pass on the wasm backend, same bits).
          axpbyInto(b, 0, u, 0, u.length, a, c, true);
        }
      }
      state.count += 1;
    },
  };
}
