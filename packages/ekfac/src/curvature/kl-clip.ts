/**
 * KL-clipping of a natural-gradient step (Ba, Grosse & Martens, "Distributed Second-Order Optimization
 * using Kronecker-Factored Approximations", ICLR 2017, §5 "KL-clipping"; also used by the EKFAC
 * paper's experiments):
 *
 *   ν = min(1, sqrt(κ / (η² Σ_l Δ_lᵀ ∇_l)))
 *
 * where Δ_l is the preconditioned direction of parameter l, ∇_l its gradient and η the learning rate;
 * the update is scaled by ν so that the predicted KL change η² ΔᵀF̂Δ ≈ η² Δᵀ∇ stays under κ.
 * Deviation: when Σ Δᵀ∇ ≤ 0 or is not finite (it cannot be negative for a PSD preconditioner; zero
 * for a zero gradient) ν = 1. Cost O(P); no allocation.
 */
import type { FloatArray } from "@ekfac-ts/linalg";

/** ν for directions Δ and gradients ∇ (aligned lists); κ > 0, η > 0. */
export function klClipScale(
  directions: readonly FloatArray[],
  gradients: readonly (FloatArray | null)[],
  learningRate: number,
  kappa: number,
): number {
  let s = 0;
  for (let k = 0; k < directions.length; k++) {
    const d = directions[k] as FloatArray;
    const g = gradients[k];
    if (g === null || g === undefined) continue;
    for (let i = 0; i < d.length; i++) s += (d[i] as number) * (g[i] as number);
  }
  return klScaleFromDot(s, learningRate, kappa);
}

/** ν from s = Σ Δᵀ∇ (the curvature transform accumulates s while it preconditions). */
export function klScaleFromDot(s: number, learningRate: number, kappa: number): number {
  if (!(s > 0) || !Number.isFinite(s)) return 1;
  return Math.min(1, Math.sqrt(kappa / (learningRate * learningRate * s)));
}
