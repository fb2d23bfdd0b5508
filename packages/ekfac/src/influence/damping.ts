/**
 * Damping of influence preconditioners, (F̂_l + λ_l I)⁻¹ per curvature layer l.
 *
 * Three ways to give λ:
 * - a number: the same absolute λ for every layer;
 * - an array: one absolute λ per curvature layer (in `curvatureLayers()` order);
 * - `{ factor }`: λ_l = factor · mean eigenvalue of F̂_l = factor · mean(S_l), kronfluence's default
 *   rule (`damping_factor = None` → 0.1 · mean(lambda_matrix), per module). For EKFAC mean(S*) equals
 *   tr(F_l)/P_l exactly (S* = diag(Qᵀ F Q), MATH.md §4), so EKFAC and the exact reference get the
 *   same λ; KFAC's mean(λ_G λ_Aᵀ) = tr(G)·tr(A)/P is a different number.
 * A layer whose curvature is identically 0 (dead units) would get λ = 0; it gets `factor · 1e-12`
 * instead (its gradients are 0 too, so any λ > 0 gives the same scores).
 */
import { checkOptions, optionKeys } from "@ekfac-ts/linalg";
import { checkPositive } from "../internal/checks.ts";

/**
 * The damping λ of influence preconditioners: one absolute λ for every layer, one per layer, or `{ factor }` =
 * factor · mean eigenvalue of each layer's F̂ (see the file header).
 */
export type InfluenceDamping =
  | number
  | readonly number[]
  | {
      /** λ_l = factor · mean eigenvalue of F̂_l (kronfluence's default rule, factor 0.1). */
      readonly factor: number;
    };

type FactorDamping = Exclude<InfluenceDamping, number | readonly number[]>;
/** The names of the `{ factor }` form (checked at compile time). */
const FACTOR_KEYS = optionKeys<FactorDamping>()(["factor"]);

/** kronfluence's default: 0.1 × the mean eigenvalue of each layer's block. */
export const defaultInfluenceDamping: InfluenceDamping = { factor: 0.1 };

/** Checks the option's form (before any work is done). */
export function checkDampingOption(fn: string, damping: InfluenceDamping, layers: number): void {
  if (typeof damping === "number") checkPositive(fn, "options.damping", damping);
  else if (Array.isArray(damping)) {
    if (damping.length !== layers) {
      throw new RangeError(
        `${fn}: options.damping has ${damping.length} entries, expected one per curvature layer (${layers})`,
      );
    }
    for (let i = 0; i < damping.length; i++) checkPositive(fn, `options.damping[${i}]`, damping[i]);
  } else if (damping !== null && typeof damping === "object") {
    // `{ factor }`: a misspelled key is an error, not a missing factor's TypeError later.
    checkOptions(fn, "options.damping", damping, FACTOR_KEYS);
    checkPositive(fn, "options.damping.factor", (damping as FactorDamping).factor);
  } else {
    throw new TypeError(
      `${fn}: options.damping must be a number, an array of numbers or { factor } (got ${String(damping)})`,
    );
  }
}

/** λ per layer from the option and each layer's mean eigenvalue. */
export function resolveDamping(damping: InfluenceDamping, meanEigenvalues: readonly number[]): number[] {
  if (typeof damping === "number") return meanEigenvalues.map(() => damping);
  if (Array.isArray(damping)) return damping.slice() as number[];
  const factor = (damping as { factor: number }).factor;
  return meanEigenvalues.map((m) => (m > 0 ? factor * m : factor * 1e-12));
}
