/**
 * Learning-rate (or any hyper-parameter) schedules: pure functions of the step count.
 *
 * `count` is the number of updates already applied (0 on the first step), as in optax; a schedule has
 * no state, so checkpoints need only the count (which the transform that evaluates it stores). Each
 * call is a few flops and allocates nothing.
 *
 * | schedule            | value at count c                                                          | source |
 * | ---                 | ---                                                                       | --- |
 * | `constantSchedule`  | v                                                                         | |
 * | `linearSchedule`    | v₀ + (v₁ − v₀)·min(c, T)/T                                                | optax `linear_schedule` |
 * | `exponentialDecay`  | v₀·r^((c − c₀)/T) (⌊·⌋ with `staircase`), clipped at `endValue`; v₀ for c < c₀ | optax `exponential_decay` |
 * | `stepDecay`         | v₀·γ^⌊c/T⌋                                                                | PyTorch `StepLR` |
 * | `cosineDecay`       | v₀·((1 − α)·½(1 + cos(π·min(c, T)/T)) + α)                                | optax `cosine_decay_schedule` (SGDR without restarts) |
 * | `warmupCosineDecay` | linear v₀ → peak over W steps, then cosine peak → end until step T (T counts the warm-up) | optax `warmup_cosine_decay_schedule` |
 * | `piecewiseConstant` | values[j], j = number of boundaries ≤ c                                   | PyTorch `MultiStepLR` with explicit values |
 */
import { checkCount, checkFinite, checkNonNegative, checkPositive } from "./checks.ts";

/** A hyper-parameter as a function of the number of updates already applied. */
export type Schedule = (count: number) => number;

/** `c ↦ value`. */
export function constantSchedule(value: number): Schedule {
  checkFinite("constantSchedule", "value", value);
  return () => value;
}

/** Options of `linearSchedule`. */
export interface LinearScheduleOptions {
  /** v₀, the value at c = 0. */
  readonly initValue: number;
  /** The value reached at c = T and kept afterwards. */
  readonly endValue: number;
  /** T > 0: steps to go from initValue to endValue; constant afterwards. */
  readonly transitionSteps: number;
}

/** Linear interpolation from `initValue` (c = 0) to `endValue` (c ≥ T). */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const fn = "linearSchedule";
  const { initValue, endValue, transitionSteps } = options;
  checkFinite(fn, "initValue", initValue);
  checkFinite(fn, "endValue", endValue);
  checkPositive(fn, "transitionSteps", transitionSteps);
  return (c) => initValue + ((endValue - initValue) * Math.min(Math.max(c, 0), transitionSteps)) / transitionSteps;
}

/** Options of `exponentialDecay`. */
export interface ExponentialDecayOptions {
  /** v₀, the value at c = 0. */
  readonly initValue: number;
  /** r > 0: factor per `transitionSteps` steps (< 1 decays, > 1 grows). */
  readonly decayRate: number;
  /** T > 0. */
  readonly transitionSteps: number;
  /** Decay in discrete jumps every T steps instead of continuously. Default false. */
  readonly staircase?: boolean;
  /** c₀: the value stays `initValue` before this step. Default 0. */
  readonly transitionBegin?: number;
  /** A floor (r < 1) or ceiling (r > 1) on the value. */
  readonly endValue?: number;
}

/** `v₀·r^((c − c₀)/T)`, optionally in steps and clipped at `endValue`. */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const fn = "exponentialDecay";
  const { initValue, decayRate, transitionSteps, staircase = false, transitionBegin = 0, endValue } = options;
  checkFinite(fn, "initValue", initValue);
  checkPositive(fn, "decayRate", decayRate);
  checkPositive(fn, "transitionSteps", transitionSteps);
  checkCount(fn, "transitionBegin", transitionBegin);
  if (endValue !== undefined) checkFinite(fn, "endValue", endValue);
  return (c) => {
    if (c < transitionBegin) return initValue;
    let p = (c - transitionBegin) / transitionSteps;
    if (staircase) p = Math.floor(p);
    const v = initValue * decayRate ** p;
    if (endValue === undefined) return v;
    return decayRate < 1 ? Math.max(v, endValue) : Math.min(v, endValue);
  };
}

/** Options of `stepDecay`. */
export interface StepDecayOptions {
  /** v₀, the value at c = 0. */
  readonly initValue: number;
  /** T: steps between decays (a positive integer). */
  readonly stepSize: number;
  /** γ: factor applied every T steps. Default 0.1 (PyTorch). */
  readonly gamma?: number;
}

/** `v₀·γ^⌊c/T⌋` (PyTorch `StepLR`, with c counted in optimizer steps). */
export function stepDecay(options: StepDecayOptions): Schedule {
  const fn = "stepDecay";
  const { initValue, stepSize, gamma = 0.1 } = options;
  checkFinite(fn, "initValue", initValue);
  checkCount(fn, "stepSize", stepSize);
  checkPositive(fn, "stepSize", stepSize);
  checkNonNegative(fn, "gamma", gamma);
  return (c) => initValue * gamma ** Math.floor(Math.max(c, 0) / stepSize);
}

/** Options of `cosineDecay`. */
export interface CosineDecayOptions {
  /** v₀, the value at c = 0. */
  readonly initValue: number;
  /** T > 0: steps over which to decay; the value stays at `α·v₀` afterwards. */
  readonly decaySteps: number;
  /** α: the final value as a fraction of `initValue`. Default 0. */
  readonly alpha?: number;
}

/** `v₀·((1 − α)·½(1 + cos(π·min(c, T)/T)) + α)` (Loshchilov & Hutter 2017, eq. 5, one period). */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const fn = "cosineDecay";
  const { initValue, decaySteps, alpha = 0 } = options;
  checkFinite(fn, "initValue", initValue);
  checkPositive(fn, "decaySteps", decaySteps);
  checkFinite(fn, "alpha", alpha);
  return (c) => {
    const t = Math.min(Math.max(c, 0), decaySteps) / decaySteps;
    return initValue * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)) + alpha);
  };
}

/** Options of `warmupCosineDecay`. */
export interface WarmupCosineDecayOptions {
  /** Value at c = 0 (often 0). */
  readonly initValue: number;
  /** The value at the end of the warm-up, where the cosine starts. */
  readonly peakValue: number;
  /** W ≥ 0: steps of linear warm-up from initValue to peakValue. */
  readonly warmupSteps: number;
  /** T > W: total length of warm-up plus decay (optax's convention). */
  readonly decaySteps: number;
  /** Value reached at c = T and kept afterwards. Default 0. */
  readonly endValue?: number;
}

/** Linear warm-up to `peakValue` over W steps, then a half cosine down to `endValue` at step T. */
export function warmupCosineDecay(options: WarmupCosineDecayOptions): Schedule {
  const fn = "warmupCosineDecay";
  const { initValue, peakValue, warmupSteps, decaySteps, endValue = 0 } = options;
  checkFinite(fn, "initValue", initValue);
  checkFinite(fn, "peakValue", peakValue);
  checkFinite(fn, "endValue", endValue);
  checkNonNegative(fn, "warmupSteps", warmupSteps);
  checkPositive(fn, "decaySteps", decaySteps);
  if (!(decaySteps > warmupSteps)) {
    throw new RangeError(
      `${fn}: decaySteps must exceed warmupSteps (got decaySteps ${decaySteps}, warmupSteps ${warmupSteps})`,
    );
  }
  const cosineSteps = decaySteps - warmupSteps;
  return (c) => {
    if (c < warmupSteps) return initValue + ((peakValue - initValue) * Math.max(c, 0)) / warmupSteps;
    const t = Math.min(c - warmupSteps, cosineSteps) / cosineSteps;
    return endValue + (peakValue - endValue) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Options of `piecewiseConstant`. */
export interface PiecewiseConstantOptions {
  /** Strictly increasing step counts b₁ < b₂ < … < bₖ (non-negative integers). */
  readonly boundaries: readonly number[];
  /** k + 1 values: values[j] applies from step b_j (b₀ = 0) up to, not including, b_{j+1}. */
  readonly values: readonly number[];
}

/** `values[j]` where j is the number of boundaries ≤ c. */
export function piecewiseConstant(options: PiecewiseConstantOptions): Schedule {
  const fn = "piecewiseConstant";
  const boundaries = Array.from(options.boundaries);
  const values = Array.from(options.values);
  if (values.length !== boundaries.length + 1) {
    throw new RangeError(
      `${fn}: values must have boundaries.length + 1 = ${boundaries.length + 1} entries (got ${values.length})`,
    );
  }
  for (let j = 0; j < boundaries.length; j++) {
    checkCount(fn, `boundaries[${j}]`, boundaries[j]);
    if (j > 0 && !((boundaries[j] as number) > (boundaries[j - 1] as number))) {
      throw new RangeError(
        `${fn}: boundaries must be strictly increasing (boundaries[${j - 1}] = ${boundaries[j - 1]}, boundaries[${j}] = ${boundaries[j]})`,
      );
    }
  }
  for (let j = 0; j < values.length; j++) checkFinite(fn, `values[${j}]`, values[j]);
  return (c) => {
    let j = 0;
    while (j < boundaries.length && c >= (boundaries[j] as number)) j++;
    return values[j] as number;
  };
}
