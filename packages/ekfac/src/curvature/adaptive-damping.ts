/**
 * Levenberg–Marquardt adaptation of the damping λ from the reduction ratio of the quadratic model.
 *
 *   ρ = (h(θ + δ) − h(θ)) / M(δ)
 *   ρ > 3/4 → λ ← ω·λ;   ρ < 1/4 → λ ← λ/ω;   otherwise λ unchanged;   ω = (19/20)^{T_λ};
 *   λ ← clamp(λ, λ_min, λ_max)
 *
 * Source: Martens & Grosse 2015, §6.5 (the rule, ω = (19/20)^{T₁} applied every T₁ = 5 iterations),
 * after Moré 1978 and Martens 2010 §4.1; kfac-jax's adaptive damping (`damping_adaptation_interval`,
 * `damping_adaptation_decay`, `damping_lower_threshold` = 1/4, `damping_upper_threshold` = 3/4, min
 * and max damping). h(θ + δ) is the loss at the new parameters on the SAME minibatch as h(θ) (one
 * extra forward pass every T_λ steps, paid by the caller), and M(δ) is the model change WITHOUT the λ
 * term (quadratic-model.ts, `predictedChange`), as in §6.5 and kfac-jax's default.
 *
 * Deviations (explicit where the paper is silent):
 * - A step the model did not predict to decrease the loss (M(δ) ≥ 0), or a non-finite h or M, gives
 *   ρ = −∞: the step failed and λ increases. Dividing by M ≥ 0 would flip the sign of ρ and could
 *   lower λ after a step that raised the loss; a NaN ρ would otherwise leave λ unchanged silently.
 * - The decay per step is a parameter (19/20 in the paper, 0.95 in kfac-jax's MNIST autoencoder
 *   example, 0.9 kfac-jax's library default).
 * Cost O(1); no allocation.
 */
import { checkRequiredOptions, optionKeys } from "@ekfac-ts/linalg";
import { checkCount, checkNonNegative, checkNumber, checkPositive } from "../internal/checks.ts";

/** Options of `dampingAdaptation`: the Levenberg–Marquardt rule for λ (Martens & Grosse 2015 §6.5). */
export interface DampingAdaptationOptions {
  /** T_λ ≥ 1: steps between adaptations (ρ needs one extra forward pass each time). */
  readonly interval: number;
  /** Per-step decay in (0, 1]; ω = decay^interval (default 19/20, M&G §6.5). */
  readonly decay?: number;
  /** λ_min ≥ 0 (default 0). */
  readonly min?: number;
  /** λ_max ≥ λ_min, may be Infinity (default Infinity). */
  readonly max?: number;
  /** ρ below it increases λ (default 1/4). */
  readonly lowerThreshold?: number;
  /** ρ above it decreases λ (default 3/4); must exceed lowerThreshold. */
  readonly upperThreshold?: number;
}

/** The options with every default filled in and ω precomputed (see `dampingAdaptation`). */
export interface DampingAdaptation {
  /** T_λ: steps between adaptations. */
  readonly interval: number;
  /** Per-step decay; λ is multiplied or divided by ω = decay^interval. */
  readonly decay: number;
  /** ω = decay^interval. */
  readonly omega: number;
  /** λ_min, the lower bound of λ. */
  readonly min: number;
  /** λ_max, the upper bound of λ (may be Infinity). */
  readonly max: number;
  /** ρ below it increases λ. */
  readonly lowerThreshold: number;
  /** ρ above it decreases λ. */
  readonly upperThreshold: number;
}

/** The names `dampingAdaptation` reads: every key of `DampingAdaptationOptions` (checked at compile time). */
export const DAMPING_ADAPTATION_KEYS = optionKeys<DampingAdaptationOptions>()([
  "interval",
  "decay",
  "min",
  "max",
  "lowerThreshold",
  "upperThreshold",
]);

/** Validates the options once (at construction) and precomputes ω. */
export function dampingAdaptation(options: DampingAdaptationOptions): DampingAdaptation {
  return checkedDampingAdaptation("dampingAdaptation", "options", options);
}

/**
 * `dampingAdaptation` for a caller that receives the rule's options as one of its own (`ekfac`'s
 * `options.dampingAdaptation`): messages name `fn` and the option as `name` (`name.decay`, …). Not exported
 * from the package.
 */
export function checkedDampingAdaptation(
  fn: string,
  name: string,
  options: DampingAdaptationOptions,
): DampingAdaptation {
  checkRequiredOptions(fn, name, options, DAMPING_ADAPTATION_KEYS);
  const { interval } = options;
  checkCount(fn, `${name}.interval`, interval);
  if (interval < 1) throw new RangeError(`${fn}: ${name}.interval must be ≥ 1 (got ${interval})`);
  const decay = options.decay ?? 19 / 20;
  checkPositive(fn, `${name}.decay`, decay);
  if (decay > 1) throw new RangeError(`${fn}: ${name}.decay must be in (0, 1] (got ${decay})`);
  const min = options.min ?? 0;
  checkNonNegative(fn, `${name}.min`, min);
  const max = options.max ?? Infinity;
  checkNumber(fn, `${name}.max`, max);
  if (Number.isNaN(max) || max < min) {
    throw new RangeError(`${fn}: ${name}.max must be a number ≥ ${name}.min = ${min} (got ${max})`);
  }
  const lowerThreshold = options.lowerThreshold ?? 1 / 4;
  const upperThreshold = options.upperThreshold ?? 3 / 4;
  checkNumber(fn, `${name}.lowerThreshold`, lowerThreshold);
  checkNumber(fn, `${name}.upperThreshold`, upperThreshold);
  if (!(Number.isFinite(lowerThreshold) && Number.isFinite(upperThreshold) && lowerThreshold < upperThreshold)) {
    throw new RangeError(
      `${fn}: ${name}.lowerThreshold < ${name}.upperThreshold must both be finite (got ${lowerThreshold}, ${upperThreshold})`,
    );
  }
  return { interval, decay, omega: decay ** interval, min, max, lowerThreshold, upperThreshold };
}

/**
 * ρ = actualChange / predictedChange, or −∞ when the step cannot count as a success: predictedChange ≥ 0
 * (the model foresaw no decrease) or either value is not finite. Never NaN.
 */
export function reductionRatio(actualChange: number, predictedChange: number): number {
  if (!(Number.isFinite(actualChange) && Number.isFinite(predictedChange) && predictedChange < 0)) return -Infinity;
  // Both finite and predictedChange < 0: the quotient is never NaN.
  return actualChange / predictedChange;
}

/**
 * The next λ from the current λ and ρ (a pure function). NaN ρ counts as a failed step (increase).
 * λ itself must be finite and ≥ 0; the result lies in [min, max].
 */
export function adaptDamping(damping: number, rho: number, adaptation: DampingAdaptation): number {
  checkNonNegative("adaptDamping", "damping", damping);
  const { omega, min, max, lowerThreshold, upperThreshold } = adaptation;
  let next = damping;
  if (Number.isNaN(rho) || rho < lowerThreshold) next = damping / omega;
  else if (rho > upperThreshold) next = damping * omega;
  // MAX_VALUE: an unbounded λ may grow without limit but never to Infinity (it scales a parameter step).
  return Math.min(max, Number.MAX_VALUE, Math.max(min, next));
}
