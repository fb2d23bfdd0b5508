/**
 * EKFAC (George, Laurent, Bouthillier, Ballas, Vincent, NeurIPS 2018, Algorithm 1): KFAC's
 * Kronecker-factored eigenbasis refreshed every T_kfe = `basisEvery` steps, and the diagonal scaling
 * S* = E[(U_Gᵀ ∇_n U_A)²] re-estimated every T_s = `scalingEvery` steps (counted globally) from
 * per-example statistics (moving average, restarted on every new basis), or the "ra" variant
 * (`scaling: "ra"`). The chain, schedule and guards are shared with KFAC: see kfac.ts and
 * optim/curvature.ts; the block mathematics and per-step cost are in curvature/kronecker-block.ts and
 * curvature/scaling.ts. Ignores (RangeError if set): kfacDamping.
 */
import type { CurvatureModel } from "./capture.ts";
import { type CurvatureChain, type CurvatureOptimizerOptions, curvatureChain } from "./kfac.ts";

/**
 * EKFAC (George et al. 2018, Algorithm 1) as one optimizer chain: curvature in the Kronecker-factored
 * eigenbasis (refreshed every T_kfe = `basisEvery` steps) with the per-example scaling S* (re-estimated
 * every T_s = `scalingEvery` steps, or the "ra" variant with `scaling: "ra"`) → momentum → learning rate.
 *
 * ```ts
 * const opt = new Optimizer(ekfac(model, { learningRate: 0.1 }), model);
 * // each step: forward → loss → backward → opt.step()
 * ```
 *
 * Defaults and their sources are listed in `kfac`'s module (adaptive step control with λ₀ = 0.1 when no
 * learning rate is given; fixed: fisher "curvature-prop", KL-clipping κ = 1e-3, damping 0.1, momentum
 * 0.9, T_kfe = 20, T_s = 1, decays 0.95). Setting `kfacDamping` is a RangeError.
 */
export function ekfac(model: CurvatureModel, options: CurvatureOptimizerOptions = {}): CurvatureChain {
  return curvatureChain("ekfac", model, "ekfac", options);
}
