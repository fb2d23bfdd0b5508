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
import { axpbyInto, checkFlag, checkOptions, type FloatArray, optionKeys, scaleInto } from "@ekfac-ts/linalg";
import { kind } from "../internal/checks.ts";
import {
  checkCount,
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
import { checkStateBuffers } from "./state.ts";
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

const LEARNING_RATE_OPTIONS = optionKeys<LearningRateOptions>()(["flipSign"]);

/**
 * `u ← −η·u`, with η a constant > 0 or a schedule evaluated at the number of updates already applied.
 * A schedule may return 0 (warm-up from 0, decay to 0) but not a negative or non-finite value: that
 * throws a RangeError naming the step — from `prepare`, which `chain` runs before any transform of the
 * chain writes its state, so the failed step changes nothing.
 */
export function scaleByLearningRate(
  learningRate: number | Schedule,
  options: LearningRateOptions = {},
): GradientTransformation<CountState> {
  const fn = "scaleByLearningRate";
  checkOptions(fn, "options", options, LEARNING_RATE_OPTIONS);
  checkFlag(fn, "options.flipSign", options.flipSign);
  const sign = (options.flipSign ?? true) ? -1 : 1;
  let constant = Number.NaN;
  let schedule: Schedule | null = null;
  if (typeof learningRate === "function") schedule = learningRate;
  else {
    checkPositive(fn, "learningRate", learningRate);
    constant = learningRate;
  }
  /** η at `count`: the constant, or the schedule's value, checked. */
  const rate = (count: number): number => {
    if (schedule === null) return constant;
    const lr: unknown = schedule(count);
    if (typeof lr !== "number") {
      throw new TypeError(`${fn}: the schedule returned a ${kind(lr)} at count ${count}, expected a number`);
    }
    if (!(Number.isFinite(lr) && lr >= 0)) {
      throw new RangeError(`${fn}: the schedule returned ${lr} at count ${count}, expected a finite number ≥ 0`);
    }
    return lr;
  };
  // The value `prepare` checked, kept for the `update` that follows it (same state, same count), so that
  // this transform still evaluates its schedule once per step. Numbers only: nothing is allocated.
  let preparedFor: CountState | null = null;
  let preparedCount = 0;
  let preparedRate = 0;
  return {
    name: fn,
    init: () => ({ count: 0 }),
    prepare(state) {
      if (schedule === null || (preparedFor === state && preparedCount === state.count)) return;
      preparedRate = rate(state.count);
      preparedCount = state.count;
      preparedFor = state;
    },
    update(updates, state) {
      const lr = preparedFor === state && preparedCount === state.count ? preparedRate : rate(state.count);
      preparedFor = null;
      scaleUpdates(updates, sign * lr);
      state.count += 1;
    },
    validateState(vfn, state) {
      checkCount(vfn, `${fn} state.count`, state.count);
    },
  };
}

/** Options of `addL2` and `addDecayedWeights`. */
export interface WeightDecayOptions {
  /** Per parameter array: true to decay it (default all). Typically false for biases and norms. */
  readonly mask?: readonly boolean[];
}

const WEIGHT_DECAY_OPTIONS = optionKeys<WeightDecayOptions>()(["mask"]);

function weightDecay(fn: string, rate: number, options: WeightDecayOptions): GradientTransformation<EmptyState> {
  checkNonNegative(fn, "weightDecay", rate);
  checkOptions(fn, "options", options, WEIGHT_DECAY_OPTIONS);
  if (options.mask !== undefined && !Array.isArray(options.mask)) {
    throw new TypeError(`${fn}: options.mask must be an array of booleans (got ${kind(options.mask)})`);
  }
  // A mask entry read by truthiness would turn 1 or "yes" into "not decayed": booleans only.
  if (options.mask !== undefined) {
    for (let k = 0; k < options.mask.length; k++) {
      const m: unknown = options.mask[k];
      if (typeof m !== "boolean")
        throw new TypeError(`${fn}: options.mask[${k}] must be true or false (got ${kind(m)})`);
    }
  }
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

const MOMENTUM_OPTIONS = optionKeys<MomentumOptions>()(["momentum", "nesterov", "dampening"]);

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
  if (options === undefined) {
    throw new TypeError(`${fn}: options must be an object { momentum, nesterov?, dampening? } (got undefined)`);
  }
  checkOptions(fn, "options", options, MOMENTUM_OPTIONS);
  const { momentum: mu, nesterov = false, dampening = 0 } = options;
  checkDecay(fn, "momentum", mu);
  checkDecay(fn, "dampening", dampening);
  checkFlag(fn, "nesterov", nesterov);
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
    validateState(vfn, state) {
      checkCount(vfn, `${fn} state.count`, state.count);
      checkStateBuffers(vfn, `${fn} state.trace`, state.trace, false);
    },
  };
}
