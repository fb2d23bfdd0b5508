/**
 * Adaptive (per-coordinate) scalings: Adam, AdaGrad, RMSProp, Adadelta.
 *
 * Each transform maps the incoming gradient g to a direction d (the learning rate comes later in the
 * chain, `scaleByLearningRate`). Formulas are those of the torch.optim algorithm boxes (t = step,
 * 1-based; all operations elementwise):
 *
 * - `scaleByAdam(β₁, β₂, ε)` (Kingma & Ba 2015, Algorithm 1):
 *     m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),  d = m̂/(√v̂ + ε).
 *   `epsilonHat: true` gives Keras's form (Kingma & Ba §2, "ε̂" before §2.1):
 *     d = √(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε),  i.e. ε is added before un-biasing v.
 *   (tfjs-core's AdamOptimizer uses the bias-corrected form, like PyTorch.)
 * - `scaleByAdaGrad(s₀, ε)` (Duchi et al. 2011):  s ← s + g²,  d = g/(√s + ε);  s starts at s₀.
 *   `epsilonInsideSqrt: true`: d = g/√(s + ε) (tfjs, Keras).
 * - `scaleByRms(α, ε, centered, μ)` (Hinton 2012, lecture 6e; Graves 2013 eq. 38–41 for centered):
 *     v ← αv + (1−α)g²;  centered: ḡ ← αḡ + (1−α)g, ṽ = v − ḡ², else ṽ = v;
 *     r = g/(√ṽ + ε);  μ > 0: b ← μb + r, d = b;  else d = r.
 *   `epsilonInsideSqrt: true`: r = g/√(ṽ + ε) (Keras; tfjs non-centered).
 * - `scaleByAdadelta(ρ, ε)` (Zeiler 2012, Algorithm 1):
 *     v ← ρv + (1−ρ)g²,  Δ = √(w + ε)/√(v + ε) · g,  w ← ρw + (1−ρ)Δ²,  d = Δ.
 *
 * Deviations: none from the PyTorch boxes; PyTorch's kernels evaluate the same expressions in a
 * different order (e.g. Adam's `√v/√(1−β₂ᵗ) + ε`, used here too), so results agree to rounding.
 * Moments are stored in the parameter's dtype (float32 for float32 parameters), as in PyTorch;
 * arithmetic is in float64.
 *
 * Cost: one pass over the updates, O(n) flops with one `sqrt` (two for Adadelta) per entry; Adam,
 * centered RMSProp with momentum and Adadelta keep two or three buffers per parameter.
 *
 * Checkpoints: each transform's `validateState` (what `Optimizer.load` asks before writing) requires
 * the step count to be a non-negative integer, first moments and momentum buffers finite, and second
 * moments and accumulators (v, s, Adadelta's v and w) finite and ≥ 0 — a negative one has no square root.
 *
 * Symbols: g gradient, m/v first/second moments, s AdaGrad sum, ḡ mean gradient, b momentum buffer,
 * w Adadelta accumulated squared updates, t step (1-based), ε added for numerical safety.
 */
import { checkFlag, checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { checkCount, checkDecay, checkNonNegative, checkParamList, checkSameShapes, zerosLike } from "./checks.ts";
import { checkStateBuffers } from "./state.ts";
import type { GradientTransformation } from "./transform.ts";

/** Options of `scaleByAdam` (and of the `adam`/`adamw` aliases). */
export interface AdamOptions {
  /** β₁ ∈ [0, 1). Default 0.9. */
  readonly beta1?: number;
  /** β₂ ∈ [0, 1). Default 0.999. */
  readonly beta2?: number;
  /** ε ≥ 0. Default 1e-8 (PyTorch; Keras and tfjs default to 1e-7). */
  readonly eps?: number;
  /** Keras's ε̂ placement (see the file header). Default false. */
  readonly epsilonHat?: boolean;
}

/** Adam's state. */
export type AdamState = {
  /** Updates seen (t in the bias corrections). */
  count: number;
  /** First-moment estimates m, one per parameter array. */
  mu: FloatArray[];
  /** Second-moment estimates v, one per parameter array. */
  nu: FloatArray[];
};

/** The option names `scaleByAdam` reads, which its alias hands it (aliases.ts). */
export const ADAM_OPTIONS = optionKeys<AdamOptions>()(["beta1", "beta2", "eps", "epsilonHat"]);

/** Adam's bias-corrected direction `m̂/(√v̂ + ε)`. */
export function scaleByAdam(options: AdamOptions = {}): GradientTransformation<AdamState> {
  return adamTransform(options, "scaleByAdam", "");
}

/**
 * `scaleByAdam` whose option checks name `caller` and the options' path `at` there (`adam: options.beta1 …`
 * for an alias, which has already refused unknown keys); the transform keeps its own name.
 */
export function adamTransform(options: AdamOptions, caller: string, at: string): GradientTransformation<AdamState> {
  const fn = "scaleByAdam";
  checkOptions(caller, "options", options, ADAM_OPTIONS);
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, epsilonHat = false } = options;
  checkDecay(caller, `${at}beta1`, beta1);
  checkDecay(caller, `${at}beta2`, beta2);
  checkNonNegative(caller, `${at}eps`, eps);
  checkFlag(caller, `${at}epsilonHat`, epsilonHat);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      return { count: 0, mu: zerosLike(params), nu: zerosLike(params) };
    },
    update(updates, state) {
      checkSameShapes(fn, "updates", updates, "state.mu", state.mu);
      const t = state.count + 1;
      const bc1 = 1 - beta1 ** t;
      const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
      const hatScale = sqrtBc2 / bc1;
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const m = state.mu[k] as FloatArray;
        const v = state.nu[k] as FloatArray;
        // Moments are re-read after the store so that float32 state rounds exactly as PyTorch's.
        if (epsilonHat) {
          for (let i = 0; i < u.length; i++) {
            const g = u[i] as number;
            m[i] = beta1 * (m[i] as number) + c1 * g;
            v[i] = beta2 * (v[i] as number) + c2 * g * g;
            u[i] = (hatScale * (m[i] as number)) / (Math.sqrt(v[i] as number) + eps);
          }
        } else {
          for (let i = 0; i < u.length; i++) {
            const g = u[i] as number;
            m[i] = beta1 * (m[i] as number) + c1 * g;
            v[i] = beta2 * (v[i] as number) + c2 * g * g;
            u[i] = (m[i] as number) / bc1 / (Math.sqrt(v[i] as number) / sqrtBc2 + eps);
          }
        }
      }
      state.count = t;
    },
    validateState(vfn, state) {
      checkCount(vfn, `${fn} state.count`, state.count);
      checkStateBuffers(vfn, `${fn} state.mu`, state.mu, false);
      checkStateBuffers(vfn, `${fn} state.nu`, state.nu, true, state.mu);
    },
  };
}

/** Options of `scaleByAdaGrad` (and of the `adagrad` alias). */
export interface AdaGradOptions {
  /** s₀ ≥ 0. Default 0 (PyTorch; tfjs and Keras use 0.1). */
  readonly initialAccumulator?: number;
  /** ε ≥ 0. Default 1e-10 (PyTorch). */
  readonly eps?: number;
  /** `g/√(s + ε)` instead of `g/(√s + ε)` (tfjs, Keras). Default false. */
  readonly epsilonInsideSqrt?: boolean;
}

/** AdaGrad's state. */
export type AdaGradState = {
  /** Running sums s of squared gradients, one per parameter array. */
  sum: FloatArray[];
};

/** The option names `scaleByAdaGrad` reads, which its alias hands it (aliases.ts). */
export const ADAGRAD_OPTIONS = optionKeys<AdaGradOptions>()(["initialAccumulator", "eps", "epsilonInsideSqrt"]);

/** AdaGrad's `g/(√s + ε)` with `s` the running sum of squared gradients. */
export function scaleByAdaGrad(options: AdaGradOptions = {}): GradientTransformation<AdaGradState> {
  return adaGradTransform(options, "scaleByAdaGrad", "");
}

/**
 * `scaleByAdaGrad` whose option checks name `caller` and the options' path `at` there (`adam: options.beta1 …`
 * for an alias, which has already refused unknown keys); the transform keeps its own name.
 */
export function adaGradTransform(
  options: AdaGradOptions,
  caller: string,
  at: string,
): GradientTransformation<AdaGradState> {
  const fn = "scaleByAdaGrad";
  checkOptions(caller, "options", options, ADAGRAD_OPTIONS);
  const { initialAccumulator = 0, eps = 1e-10, epsilonInsideSqrt = false } = options;
  checkNonNegative(caller, `${at}initialAccumulator`, initialAccumulator);
  checkNonNegative(caller, `${at}eps`, eps);
  checkFlag(caller, `${at}epsilonInsideSqrt`, epsilonInsideSqrt);
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      return { sum: zerosLike(params, initialAccumulator) };
    },
    update(updates, state) {
      checkSameShapes(fn, "updates", updates, "state.sum", state.sum);
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const s = state.sum[k] as FloatArray;
        for (let i = 0; i < u.length; i++) {
          const g = u[i] as number;
          s[i] = (s[i] as number) + g * g;
          const si = s[i] as number;
          u[i] = epsilonInsideSqrt ? g / Math.sqrt(si + eps) : g / (Math.sqrt(si) + eps);
        }
      }
    },
    validateState(vfn, state) {
      checkStateBuffers(vfn, `${fn} state.sum`, state.sum, true);
    },
  };
}

/** Options of `scaleByRms` (and of the `rmsprop` alias). */
export interface RmsOptions {
  /** α ∈ [0, 1), the squared-gradient decay. Default 0.99 (PyTorch; tfjs and Keras use ρ = 0.9). */
  readonly alpha?: number;
  /** ε ≥ 0. Default 1e-8 (PyTorch; Keras 1e-7). */
  readonly eps?: number;
  /** Divide by the estimated standard deviation `√(v − ḡ²)` instead of `√v`. Default false. */
  readonly centered?: boolean;
  /** μ ∈ [0, 1): momentum on the scaled gradient. Default 0. */
  readonly momentum?: number;
  /** `g/√(ṽ + ε)` instead of `g/(√ṽ + ε)` (Keras). Default false. */
  readonly epsilonInsideSqrt?: boolean;
  /** v₀ ≥ 0, the initial squared-gradient average. Default 0 (PyTorch, tfjs, Keras; optax uses 0 too). */
  readonly initialScale?: number;
}

/** `gradAvg` is empty unless centered, `momentum` empty unless μ > 0. */
export type RmsState = {
  /** Squared-gradient averages v, one per parameter array. */
  nu: FloatArray[];
  /** Gradient averages ḡ (centered only). */
  gradAvg: FloatArray[];
  /** Momentum buffers (μ > 0 only). */
  momentum: FloatArray[];
};

/** The option names `scaleByRms` reads, which its alias hands it (aliases.ts). */
export const RMS_OPTIONS = optionKeys<RmsOptions>()([
  "alpha",
  "eps",
  "centered",
  "momentum",
  "epsilonInsideSqrt",
  "initialScale",
]);

/** RMSProp's `g/(√v + ε)` (optionally centered, optionally with momentum on the result). */
export function scaleByRms(options: RmsOptions = {}): GradientTransformation<RmsState> {
  return rmsTransform(options, "scaleByRms", "");
}

/**
 * `scaleByRms` whose option checks name `caller` and the options' path `at` there (`adam: options.beta1 …`
 * for an alias, which has already refused unknown keys); the transform keeps its own name.
 */
export function rmsTransform(options: RmsOptions, caller: string, at: string): GradientTransformation<RmsState> {
  const fn = "scaleByRms";
  checkOptions(caller, "options", options, RMS_OPTIONS);
  const {
    alpha = 0.99,
    eps = 1e-8,
    centered = false,
    momentum = 0,
    epsilonInsideSqrt = false,
    initialScale = 0,
  } = options;
  checkDecay(caller, `${at}alpha`, alpha);
  checkNonNegative(caller, `${at}eps`, eps);
  checkDecay(caller, `${at}momentum`, momentum);
  checkNonNegative(caller, `${at}initialScale`, initialScale);
  checkFlag(caller, `${at}centered`, centered);
  checkFlag(caller, `${at}epsilonInsideSqrt`, epsilonInsideSqrt);
  const c = 1 - alpha;
  const useMomentum = momentum > 0;
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      return {
        nu: zerosLike(params, initialScale),
        gradAvg: centered ? zerosLike(params) : [],
        momentum: useMomentum ? zerosLike(params) : [],
      };
    },
    update(updates, state) {
      checkSameShapes(fn, "updates", updates, "state.nu", state.nu);
      if (centered) checkSameShapes(fn, "state.gradAvg", state.gradAvg, "state.nu", state.nu);
      if (useMomentum) checkSameShapes(fn, "state.momentum", state.momentum, "state.nu", state.nu);
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const v = state.nu[k] as FloatArray;
        const gAvg = state.gradAvg[k];
        const b = state.momentum[k];
        for (let i = 0; i < u.length; i++) {
          const g = u[i] as number;
          v[i] = alpha * (v[i] as number) + c * g * g;
          let variance = v[i] as number;
          if (gAvg !== undefined) {
            gAvg[i] = alpha * (gAvg[i] as number) + c * g;
            const gi = gAvg[i] as number;
            variance -= gi * gi;
          }
          const r = epsilonInsideSqrt ? g / Math.sqrt(variance + eps) : g / (Math.sqrt(variance) + eps);
          if (b !== undefined) {
            b[i] = momentum * (b[i] as number) + r;
            u[i] = b[i] as number;
          } else {
            u[i] = r;
          }
        }
      }
    },
    validateState(vfn, state) {
      checkStateBuffers(vfn, `${fn} state.nu`, state.nu, true);
      // Centred: ḡ may have either sign (v − ḡ² ≥ 0 is not required: rounding can break it by a hair).
      checkStateBuffers(vfn, `${fn} state.gradAvg`, state.gradAvg, false, centered ? state.nu : []);
      checkStateBuffers(vfn, `${fn} state.momentum`, state.momentum, false, useMomentum ? state.nu : []);
    },
  };
}

/** Options of `scaleByAdadelta` (and of the `adadelta` alias). */
export interface AdadeltaOptions {
  /** ρ ∈ [0, 1). Default 0.9 (PyTorch; tfjs and Keras use 0.95). */
  readonly rho?: number;
  /** ε ≥ 0. Default 1e-6 (PyTorch; Keras 1e-7). */
  readonly eps?: number;
}

/** Adadelta's state. */
export type AdadeltaState = {
  /** Squared-gradient averages, one per parameter array. */
  sqAvg: FloatArray[];
  /** Squared-update averages, one per parameter array. */
  accDelta: FloatArray[];
};

/** The option names `scaleByAdadelta` reads, which its alias hands it (aliases.ts). */
export const ADADELTA_OPTIONS = optionKeys<AdadeltaOptions>()(["rho", "eps"]);

/**
 * Adadelta's `Δ = √(w + ε)/√(v + ε)·g`. Deviation of tfjs-core's AdadeltaOptimizer (source read, not
 * reproduced): it divides by the PREVIOUS v instead of the updated one.
 */
export function scaleByAdadelta(options: AdadeltaOptions = {}): GradientTransformation<AdadeltaState> {
  return adadeltaTransform(options, "scaleByAdadelta", "");
}

/**
 * `scaleByAdadelta` whose option checks name `caller` and the options' path `at` there (`adam: options.beta1 …`
 * for an alias, which has already refused unknown keys); the transform keeps its own name.
 */
export function adadeltaTransform(
  options: AdadeltaOptions,
  caller: string,
  at: string,
): GradientTransformation<AdadeltaState> {
  const fn = "scaleByAdadelta";
  checkOptions(caller, "options", options, ADADELTA_OPTIONS);
  const { rho = 0.9, eps = 1e-6 } = options;
  checkDecay(caller, `${at}rho`, rho);
  checkNonNegative(caller, `${at}eps`, eps);
  const c = 1 - rho;
  return {
    name: fn,
    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      return { sqAvg: zerosLike(params), accDelta: zerosLike(params) };
    },
    update(updates, state) {
      checkSameShapes(fn, "updates", updates, "state.sqAvg", state.sqAvg);
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const v = state.sqAvg[k] as FloatArray;
        const w = state.accDelta[k] as FloatArray;
        for (let i = 0; i < u.length; i++) {
          const g = u[i] as number;
          v[i] = rho * (v[i] as number) + c * g * g;
          const delta = (Math.sqrt((w[i] as number) + eps) / Math.sqrt((v[i] as number) + eps)) * g;
          u[i] = delta;
          const d = u[i] as number;
          w[i] = rho * (w[i] as number) + c * d * d;
        }
      }
    },
    validateState(vfn, state) {
      checkStateBuffers(vfn, `${fn} state.sqAvg`, state.sqAvg, true);
      checkStateBuffers(vfn, `${fn} state.accDelta`, state.accDelta, true, state.sqAvg);
    },
  };
}
