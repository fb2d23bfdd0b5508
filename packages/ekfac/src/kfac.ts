/**
 * The curvature optimizers as aliases (optax style): `kfac`, `ekfac` (ekfac.ts) and `diagonalFisher`
 * each build ONE chain run by the one `Optimizer` (optim/optimizer.ts):
 *
 *   curvature (optim/curvature.ts: blocks, statistics, KL-clipping) → momentum → learning rate
 *
 *   const opt = new Optimizer(ekfac(model, { learningRate: 0.1 }), model);
 *   // each step: forward → loss → backward → opt.step()
 *
 * KFAC: Martens & Grosse 2015 (KFC for conv2d, Grosse & Martens 2016); EKFAC: George et al. 2018,
 * Algorithm 1; diagonal: the layers' diagonal Fisher. The optimizer asks the model to capture what each
 * step needs (`setCapture`) itself; the step schedule, the options' exact meaning and the refusals are in
 * optim/curvature.ts.
 *
 * Where the pieces act: KL-clipping (κ, Ba, Grosse & Martens 2017 §5) scales the PRECONDITIONED
 * direction before momentum, with the learning rate of the same step (a schedule is evaluated once per
 * step, at the number of completed steps, by both KL-clipping and `scaleByLearningRate`); momentum
 * (PyTorch's heavy ball, basic.ts) accumulates the clipped directions; the learning rate comes last.
 *
 * Defaults meant to be trusted rather than tuned: fisher "true" (sampled targets; the empirical Fisher
 * is known to mis-scale steps, Kunstner et al. 2019), KL-clipping on with κ = 1e-3 (the order of the
 * values Ba et al. 2017 §5 use with their KL-clipping), damping ε = 0.1 (absolute, added to F's
 * eigenvalues; its scale is stated at `CurvatureOptions.damping`), momentum 0.9, T_kfe = 20, T_s = 1, decays 0.95.
 */
import type { CurvatureModel } from "./capture.ts";
import type { LearningRate } from "./optim/aliases.ts";
import { scaleByLearningRate, traceMomentum } from "./optim/basic.ts";
import { checkDecay, checkPositive } from "./optim/checks.ts";
import {
  type CurvatureApproximation,
  type CurvatureOptions,
  type CurvatureTransform,
  curvature,
} from "./optim/curvature.ts";
import { chain, type GradientTransformation, type StateValue } from "./optim/transform.ts";

/**
 * Options of `kfac`, `ekfac` and `diagonalFisher`: the curvature transform's options (see `CurvatureOptions`)
 * plus the learning rate, momentum and KL-clipping of the chain.
 */
export interface CurvatureOptimizerOptions extends Omit<CurvatureOptions, "klClip"> {
  /** η > 0, or a schedule of the number of completed steps (used by KL-clipping and the last transform). */
  readonly learningRate: LearningRate;
  /** Heavy-ball momentum μ ∈ [0, 1) after the curvature (0: none). Default 0.9. NaN or < 0: RangeError. */
  readonly momentum?: number;
  /** κ > 0 of KL-clipping, or null for none. Default 1e-3. */
  readonly klClip?: number | null;
}

/** The chain the aliases build, with its curvature transform exposed (plan, blocks, approximation). */
export type CurvatureChain = GradientTransformation<StateValue[]> & {
  /** The chain's first transform: blocks, plan and approximation. */
  readonly curvature: CurvatureTransform;
};

/** Builds curvature → [momentum] → learning rate for `approximation` (the aliases below). */
export function curvatureChain(
  fn: string,
  model: CurvatureModel,
  approximation: CurvatureApproximation,
  options: CurvatureOptimizerOptions,
): CurvatureChain {
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be an object`);
  const lr = options.learningRate;
  if (typeof lr !== "function") checkPositive(fn, "options.learningRate", lr);
  const mu = options.momentum ?? 0.9;
  checkDecay(fn, "options.momentum", mu);
  const kappa = options.klClip === undefined ? 1e-3 : options.klClip;
  if (kappa !== null) checkPositive(fn, "options.klClip", kappa);
  const { learningRate: _lr, momentum: _mu, klClip: _kl, ...rest } = options;
  const curv = curvature(
    model,
    approximation,
    { ...rest, klClip: kappa === null ? null : { kappa, learningRate: lr } },
    fn,
  );
  const c = (
    mu > 0
      ? chain(curv, traceMomentum({ momentum: mu }), scaleByLearningRate(lr))
      : chain(curv, scaleByLearningRate(lr))
  ) as GradientTransformation<StateValue[]>;
  return Object.assign(c, { curvature: curv });
}

/**
 * KFAC (KFC for conv2d layers): F ≈ G ⊗ A per layer, inverted through the eigenbasis with exact
 * (`kfacDamping: "eigenbasis"`, default) or factored Tikhonov damping; `basisEvery` plays T_inv.
 * Ignores (RangeError if set): scalingEvery, scalingDecay, scaling.
 */
export function kfac(model: CurvatureModel, options: CurvatureOptimizerOptions): CurvatureChain {
  return curvatureChain("kfac", model, "kfac", options);
}

/**
 * Diagonal-Fisher preconditioning Δ = ∇ ⊘ (diag F + ε) of the curvature layers (a baseline); D is
 * re-estimated every T_s = `scalingEvery` steps with decay `scalingDecay`. Ignores (RangeError if
 * set): factorsEvery, basisEvery, factorDecay, scaling, kfacDamping.
 */
export function diagonalFisher(model: CurvatureModel, options: CurvatureOptimizerOptions): CurvatureChain {
  return curvatureChain("diagonalFisher", model, "diagonal", options);
}
