/**
 * What scoring needs from a fitted curvature: apply (F̂ + λI)⁻¹ to stacked gradient vectors, and the
 * self-influence quadratic form ∇ₙᵀ (F̂ + λI)⁻¹ ∇ₙ of every example of a batch.
 *
 * Implemented by the Kronecker fits (KFAC, EKFAC; fit.ts) and the exact references (exact.ts), so that
 * one streaming scorer (score.ts) serves all of them and their scores are directly comparable.
 */
import type { Float64Statistics, InfluenceLayer } from "./common.ts";

/** The curvature behind an influence fit: EKFAC, KFAC, or the exact Fisher (block-diagonal or full). */
export type InfluenceMethod = "ekfac" | "kfac" | "exact-block-diagonal" | "exact-full";

/**
 * A fitted curvature that scoring applies: (F̂ + λI)⁻¹ on stacked gradients and the self-influence form ∇ₙᵀ (F̂
 * + λI)⁻¹ ∇ₙ (see the file header).
 */
export interface InfluencePreconditioner {
  /** Which curvature was fitted. */
  readonly method: InfluenceMethod;
  /** The curvature layers, in the model's `curvatureLayers()` order, with their damping. */
  readonly layers: readonly InfluenceLayer[];
  /** Examples the curvature was fitted on. */
  readonly examples: number;
  /**
   * out_l ← [(F̂ + λ)⁻¹ v]_l for `count` vectors v stacked per layer: `grads[l]` and `out[l]` hold
   * `count × P_l` values (W̄'s row-major layout per vector). `out` may alias `grads`.
   */
  precondition(grads: readonly Float64Array[], out: readonly Float64Array[], count: number): void;
  /**
   * Self-influence of each of the N examples of one batch: `out[n] = Σ_l perLayer[l·N + n]` with
   * perLayer[l·N + n] = ∇_{n,l}ᵀ [(F̂ + λ)⁻¹ ∇_n]_l (`perLayer` may be null).
   */
  selfInfluence(stats: readonly Float64Statistics[], out: Float64Array, perLayer: Float64Array | null): void;
}
