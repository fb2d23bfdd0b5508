/**
 * Learning-rate (or any other non-negative hyper-parameter) schedules: pure functions of the step count.
 *
 * `count` is the number of updates already applied (0 on the first step), as in optax; a schedule has
 * no state, so checkpoints need only the count (which the transform that evaluates it stores). Each
 * call is a few flops and allocates nothing.
 *
 * Every parameter is checked at construction, so that no schedule built here can reach a value that
 * `scaleByLearningRate` refuses mid-training: values (initValue, endValue, peakValue, values[j]) finite
 * and ≥ 0; a decay factor (`stepDecay`'s γ, `cosineDecay`'s α) in its documented range; an exponential
 * growth (`decayRate` > 1) only with `endValue` as its ceiling. Option objects are required and their
 * keys checked (linalg's `checkOptions`): a misspelt key is a TypeError, not a silent default.
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
import { checkFlag, checkRequiredOptions, optionKeys } from "@ekfac-ts/linalg";
import { kind } from "../internal/checks.ts";
import { checkCount, checkFinite, checkNonNegative, checkPositive } from "./checks.ts";

/** A hyper-parameter as a function of the number of updates already applied. */
export type Schedule = (count: number) => number;

/** `fn`'s options object is required and may hold only `known` keys (linalg's checkRequiredOptions). */
function checkScheduleOptions(fn: string, options: unknown, known: readonly string[]): void {
  checkRequiredOptions(fn, "options", options, known);
}

/** `c ↦ value` (value finite and ≥ 0). */
export function constantSchedule(value: number): Schedule {
  checkNonNegative("constantSchedule", "value", value);
  return () => value;
}

/** Options of `linearSchedule`. */
export interface LinearScheduleOptions {
  /** v₀ ≥ 0, the value at c = 0. */
  readonly initValue: number;
  /** ≥ 0, the value reached at c = T and kept afterwards. */
  readonly endValue: number;
  /** T > 0: steps to go from initValue to endValue; constant afterwards. */
  readonly transitionSteps: number;
}

const LINEAR_OPTIONS = optionKeys<LinearScheduleOptions>()(["initValue", "endValue", "transitionSteps"]);

/** Linear interpolation from `initValue` (c = 0) to `endValue` (c ≥ T). */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const fn = "linearSchedule";
  checkScheduleOptions(fn, options, LINEAR_OPTIONS);
  const { initValue, endValue, transitionSteps } = options;
  checkNonNegative(fn, "initValue", initValue);
  checkNonNegative(fn, "endValue", endValue);
  checkPositive(fn, "transitionSteps", transitionSteps);
  // The fraction first: v₀ + (v₁ − v₀)·f with f ∈ [0, 1] stays between the two in floating point, where
  // ((v₁ − v₀)·c)/T could overshoot by an ulp (below 0 when v₁ = 0: a learning rate the step refuses).
  return (c) => {
    if (c >= transitionSteps) return endValue;
    return initValue + (endValue - initValue) * (Math.max(c, 0) / transitionSteps);
  };
}

/** Options of `exponentialDecay`. */
export interface ExponentialDecayOptions {
  /** v₀ ≥ 0, the value at c = 0 (> 0 when growing). */
  readonly initValue: number;
  /** r > 0: factor per `transitionSteps` steps (≤ 1 decays; > 1 grows, and then needs `endValue`). */
  readonly decayRate: number;
  /** T > 0. */
  readonly transitionSteps: number;
  /** Decay in discrete jumps every T steps instead of continuously. Default false. */
  readonly staircase?: boolean;
  /** c₀: the value stays `initValue` before this step. Default 0. */
  readonly transitionBegin?: number;
  /**
   * ≥ 0: a floor (r < 1, at most `initValue`) or ceiling (r ≥ 1, at least `initValue`) on the value;
   * required when r > 1, where the value would otherwise grow to +∞.
   */
  readonly endValue?: number;
}

const EXPONENTIAL_OPTIONS = optionKeys<ExponentialDecayOptions>()([
  "initValue",
  "decayRate",
  "transitionSteps",
  "staircase",
  "transitionBegin",
  "endValue",
]);

/** `v₀·r^((c − c₀)/T)`, optionally in steps and clipped at `endValue`. */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const fn = "exponentialDecay";
  checkScheduleOptions(fn, options, EXPONENTIAL_OPTIONS);
  const { initValue, decayRate, transitionSteps, staircase = false, transitionBegin = 0, endValue } = options;
  checkNonNegative(fn, "initValue", initValue);
  checkPositive(fn, "decayRate", decayRate);
  checkPositive(fn, "transitionSteps", transitionSteps);
  checkFlag(fn, "staircase", staircase);
  checkCount(fn, "transitionBegin", transitionBegin);
  if (endValue !== undefined) checkNonNegative(fn, "endValue", endValue);
  if (decayRate > 1) {
    if (endValue === undefined) {
      throw new RangeError(
        `${fn}: decayRate ${decayRate} > 1 grows without bound (to Infinity): give endValue as its ceiling, or a decayRate in (0, 1]`,
      );
    }
    // 0·r^p is NaN once r^p overflows: growth needs something to grow.
    checkPositive(fn, "initValue (decayRate > 1)", initValue);
  }
  if (endValue !== undefined && (decayRate < 1 ? endValue > initValue : endValue < initValue)) {
    throw new RangeError(
      `${fn}: endValue ${endValue} is a ${decayRate < 1 ? "floor" : "ceiling"} (decayRate ${decayRate}), so it must be ${decayRate < 1 ? "≤" : "≥"} initValue ${initValue}`,
    );
  }
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
  /** v₀ ≥ 0, the value at c = 0. */
  readonly initValue: number;
  /** T: steps between decays (a positive integer). */
  readonly stepSize: number;
  /** γ ∈ (0, 1]: the decay factor applied every T steps. Default 0.1 (PyTorch). */
  readonly gamma?: number;
}

const STEP_DECAY_OPTIONS = optionKeys<StepDecayOptions>()(["initValue", "stepSize", "gamma"]);

/** `v₀·γ^⌊c/T⌋` (PyTorch `StepLR`, with c counted in optimizer steps). */
export function stepDecay(options: StepDecayOptions): Schedule {
  const fn = "stepDecay";
  checkScheduleOptions(fn, options, STEP_DECAY_OPTIONS);
  const { initValue, stepSize, gamma = 0.1 } = options;
  checkNonNegative(fn, "initValue", initValue);
  checkCount(fn, "stepSize", stepSize);
  checkPositive(fn, "stepSize", stepSize);
  checkFinite(fn, "gamma", gamma);
  // γ > 1 would grow to +∞ (a decay schedule); γ = 0 would silently stop training after T steps.
  if (!(gamma > 0 && gamma <= 1)) {
    throw new RangeError(`${fn}: gamma must be a decay factor in (0, 1] (got ${gamma})`);
  }
  return (c) => initValue * gamma ** Math.floor(Math.max(c, 0) / stepSize);
}

/** Options of `cosineDecay`. */
export interface CosineDecayOptions {
  /** v₀ ≥ 0, the value at c = 0. */
  readonly initValue: number;
  /** T > 0: steps over which to decay; the value stays at `α·v₀` afterwards. */
  readonly decaySteps: number;
  /** α ∈ [0, 1]: the final value as a fraction of `initValue`. Default 0. */
  readonly alpha?: number;
}

const COSINE_OPTIONS = optionKeys<CosineDecayOptions>()(["initValue", "decaySteps", "alpha"]);

/** `v₀·((1 − α)·½(1 + cos(π·min(c, T)/T)) + α)` (Loshchilov & Hutter 2017, eq. 5, one period). */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const fn = "cosineDecay";
  checkScheduleOptions(fn, options, COSINE_OPTIONS);
  const { initValue, decaySteps, alpha = 0 } = options;
  checkNonNegative(fn, "initValue", initValue);
  checkPositive(fn, "decaySteps", decaySteps);
  checkFinite(fn, "alpha", alpha);
  // α < 0 would end below 0; α > 1 would make the "decay" rise from v₀ to α·v₀.
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`${fn}: alpha, the final fraction of initValue, must be in [0, 1] (got ${alpha})`);
  }
  return (c) => {
    const t = Math.min(Math.max(c, 0), decaySteps) / decaySteps;
    return initValue * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)) + alpha);
  };
}

/** Options of `warmupCosineDecay`. */
export interface WarmupCosineDecayOptions {
  /** ≥ 0, the value at c = 0 (often 0). */
  readonly initValue: number;
  /** ≥ 0, the value at the end of the warm-up, where the cosine starts. */
  readonly peakValue: number;
  /** W ≥ 0: steps of linear warm-up from initValue to peakValue. */
  readonly warmupSteps: number;
  /** T > W: total length of warm-up plus decay (optax's convention). */
  readonly decaySteps: number;
  /** ≥ 0, the value reached at c = T and kept afterwards. Default 0. */
  readonly endValue?: number;
}

const WARMUP_COSINE_OPTIONS = optionKeys<WarmupCosineDecayOptions>()([
  "initValue",
  "peakValue",
  "warmupSteps",
  "decaySteps",
  "endValue",
]);

/** Linear warm-up to `peakValue` over W steps, then a half cosine down to `endValue` at step T. */
export function warmupCosineDecay(options: WarmupCosineDecayOptions): Schedule {
  const fn = "warmupCosineDecay";
  checkScheduleOptions(fn, options, WARMUP_COSINE_OPTIONS);
  const { initValue, peakValue, warmupSteps, decaySteps, endValue = 0 } = options;
  checkNonNegative(fn, "initValue", initValue);
  checkNonNegative(fn, "peakValue", peakValue);
  checkNonNegative(fn, "endValue", endValue);
  checkNonNegative(fn, "warmupSteps", warmupSteps);
  checkPositive(fn, "decaySteps", decaySteps);
  if (!(decaySteps > warmupSteps)) {
    throw new RangeError(
      `${fn}: decaySteps must exceed warmupSteps (got decaySteps ${decaySteps}, warmupSteps ${warmupSteps})`,
    );
  }
  const cosineSteps = decaySteps - warmupSteps;
  return (c) => {
    // The fraction first, as in linearSchedule: the warm-up stays between initValue and peakValue.
    if (c < warmupSteps) return initValue + (peakValue - initValue) * (Math.max(c, 0) / warmupSteps);
    const t = Math.min(c - warmupSteps, cosineSteps) / cosineSteps;
    return endValue + (peakValue - endValue) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Options of `piecewiseConstant`. */
export interface PiecewiseConstantOptions {
  /** Strictly increasing step counts b₁ < b₂ < … < bₖ (non-negative integers). */
  readonly boundaries: readonly number[];
  /** k + 1 values ≥ 0: values[j] applies from step b_j (b₀ = 0) up to, not including, b_{j+1}. */
  readonly values: readonly number[];
}

const PIECEWISE_OPTIONS = optionKeys<PiecewiseConstantOptions>()(["boundaries", "values"]);

/** `values[j]` where j is the number of boundaries ≤ c. */
export function piecewiseConstant(options: PiecewiseConstantOptions): Schedule {
  const fn = "piecewiseConstant";
  checkScheduleOptions(fn, options, PIECEWISE_OPTIONS);
  for (const key of PIECEWISE_OPTIONS) {
    const list: unknown = options[key];
    if (!Array.isArray(list)) throw new TypeError(`${fn}: ${key} must be an array of numbers (got ${kind(list)})`);
  }
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
  for (let j = 0; j < values.length; j++) checkNonNegative(fn, `values[${j}]`, values[j]);
  return (c) => {
    let j = 0;
    while (j < boundaries.length && c >= (boundaries[j] as number)) j++;
    return values[j] as number;
  };
}
