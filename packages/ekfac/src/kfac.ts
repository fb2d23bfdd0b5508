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
 * Step control (MATH.md §11). Adaptive (the default, no `learningRate` given): the curvature transform
 * outputs the whole step δ = αΔ + μδ₀ with α, μ minimising the quadratic model of the loss on the
 * minibatch (Martens & Grosse 2015 §6.4, §7) and λ adapted by the Levenberg–Marquardt rule every 5 steps
 * (§6.5), after a burn-in of 5 statistics-only steps — kfac-jax's `use_adaptive_learning_rate`,
 * `use_adaptive_momentum`, `use_adaptive_damping` with its MNIST-autoencoder settings (interval 5,
 * decay 0.95, burn-in 5). The initial λ (`damping`) is 0.1 for EKFAC and 1 for KFAC and the diagonal
 * (measured, MATH.md §11), bounds [1e-6, 1e6]. λ damps the quadratic
 * model only; the blocks precondition with their own constant γ — 0.001 for KFAC and the diagonal, 3e-4
 * for EKFAC (`preconditionerDamping`; two
 * dampings as in Martens & Grosse §6.6, without its γ search — measured in MATH.md §11; null: γ = λ,
 * kfac-jax's single damping). Where the minibatch gradient is mostly noise (estimated each step from
 * the last layer's per-example gradients), α is averaged over past minibatches by up to β_max = 0.9,
 * the step takes its signal share (over-relaxed by 1.5 for KFAC and EKFAC, `overRelaxation`) and momentum carries
 * the rest (`rateAveraging`, MATH.md §11). `Optimizer.step(loss)`
 * must then be given the loss closure (two extra forward passes every 5 steps); `adaptiveDamping:
 * false` keeps λ fixed and needs none.
 *
 * Fixed step control (`learningRate` given) — defaults meant to be trusted rather than tuned: fisher
 * "curvature-prop" (the true Fisher by curvature propagation, MATH.md §2; the empirical Fisher is known
 * to mis-scale steps, Kunstner et al. 2019), KL-clipping on with κ = 1e-3 (the order of the
 * values Ba et al. 2017 §5 use with their KL-clipping), damping ε = 0.1 (absolute, added to F's
 * eigenvalues; its scale is stated at `CurvatureOptions.damping`), momentum 0.9, T_kfe = 20, T_s = 1, decays 0.95.
 */
import { checkFlag, checkOptions, optionKeys } from "@ekfac-ts/linalg";
import type { CurvatureModel } from "./capture.ts";
import { DAMPING_ADAPTATION_KEYS, type DampingAdaptationOptions } from "./curvature/adaptive-damping.ts";
import type { LearningRate } from "./optim/aliases.ts";
import { scaleByLearningRate, traceMomentum } from "./optim/basic.ts";
import { checkDecay, checkPositive } from "./optim/checks.ts";
import {
  CURVATURE_SHARED_KEYS,
  type CurvatureApproximation,
  type CurvatureNames,
  type CurvatureOptions,
  type CurvatureTransform,
  curvatureTransform,
} from "./optim/curvature.ts";
import { chain, type GradientTransformation, type StateValue } from "./optim/transform.ts";

/**
 * Options of `kfac`, `ekfac` and `diagonalFisher`: the curvature transform's options (see `CurvatureOptions`)
 * plus the step control. Without `learningRate` the step control is ADAPTIVE (the default): α and μ
 * minimise the quadratic model, λ (`damping`, its initial value) follows the Levenberg–Marquardt rule,
 * and `Optimizer.step` needs the loss closure. With `learningRate` it is FIXED: curvature → momentum →
 * learning rate, KL-clipped, with the constant `damping`.
 */
export interface CurvatureOptimizerOptions extends Omit<CurvatureOptions, "klClip" | "stepControl"> {
  /**
   * η > 0 or a schedule of the number of completed steps: selects fixed step control (KL-clipping and
   * the last transform use it). Default: none — adaptive step control.
   */
  readonly learningRate?: LearningRate;
  /**
   * Fixed: heavy-ball momentum μ ∈ [0, 1) after the curvature (0: none; default 0.9). Adaptive: fixes μ
   * of δ = αΔ + μδ₀ (0: α only; default: solved from the quadratic model).
   */
  readonly momentum?: number;
  /**
   * Fixed: κ > 0 of KL-clipping, or null for none (default 1e-3). Adaptive: κ of the fallback step
   * α = −sqrt(κ/Δᵀ∇) when the model has no positive curvature along Δ (default 1e-3; null is a RangeError).
   */
  readonly klClip?: number | null;
  /** Adaptive only: adapt λ by the Levenberg–Marquardt rule (needs the loss closure). Default true. */
  readonly adaptiveDamping?: boolean;
  /** Adaptive only: the rule's options (default interval 5, decay 0.95, min 1e-6, max 1e6; see
   *  curvature/adaptive-damping.ts). `damping`, λ's starting value, must lie in [min, max]. */
  readonly dampingAdaptation?: Partial<DampingAdaptationOptions>;
  /** Adaptive only: steps that only absorb statistics before the first update (default 5). */
  readonly burnIn?: number;
  /**
   * Adaptive only: γ > 0, the damping the blocks precondition with, Δ = (F̂ + γI)⁻¹∇, while λ
   * (`damping`, adapted) damps the quadratic model that sets the step's length; null: γ = λ (one damping,
   * kfac-jax's choice). Default per approximation (`ADAPTIVE_DEFAULTS.preconditionerDamping`): 0.001 for
   * `kfac` and `diagonalFisher`, 3e-4 for `ekfac` (MATH.md §11). Absolute, in the units of `damping`.
   */
  readonly preconditionerDamping?: number | null;
  /**
   * Adaptive only: β_max ∈ [0, 1), how far α may be averaged over past minibatches where the gradient
   * noise estimate says the minibatch gradient is mostly noise (`CurvatureOptions.stepControl`
   * `.rateAveraging`, MATH.md §11); 0: α and μ from each minibatch's model alone. Default 0.9.
   */
  readonly rateAveraging?: number;
  /**
   * Adaptive only: θ ∈ (0, 2), the over-relaxation of the averaged step, α = θ(1 − β)ā/c̄
   * (`CurvatureOptions.stepControl.overRelaxation`, MATH.md §11). Default 1.5 for `kfac` and `ekfac`, 1
   * for `diagonalFisher` (`ADAPTIVE_DEFAULTS.overRelaxation`).
   */
  readonly overRelaxation?: number;
  /**
   * Adaptive only: measure the loss after every step (one extra forward pass) and withdraw any step that
   * raised it, not only the Levenberg–Marquardt rule's steps (MATH.md §11). Default true.
   */
  readonly checkEveryStep?: boolean;
}

/** The adaptive defaults (kfac-jax's MNIST autoencoder example: interval 5, decay 0.95, burn-in 5). */
export const ADAPTIVE_DEFAULTS = {
  /**
   * Initial λ per approximation: 0.1 for EKFAC, 1 for KFAC and the diagonal. Measured, not derived
   * (MATH.md §11, packages/bench/README.md "λ₀ with γ held apart"): with γ held apart, λ₀ = 0.1 gave
   * EKFAC 34 % / 52 % lower final losses on the two CNN rows of `pnpm bench robust` (seeds 1–5; 36 % /
   * 39 % on held-out seeds 6–10) and ties elsewhere, but made KFAC lose the sparse-init autoencoder.
   */
  damping: {
    /** `kfac`: 1. */
    kfac: 1,
    /** `ekfac`: 0.1. */
    ekfac: 0.1,
    /** `diagonalFisher`: 1 (0.1 not measured). */
    diagonal: 1,
  } as const satisfies Record<CurvatureApproximation, number>,
  /** T_λ. */
  interval: 5,
  /** Per-step decay of the Levenberg–Marquardt factor, ω = decay^T_λ. */
  decay: 0.95,
  /** Bounds of λ. */
  min: 1e-6,
  /** Upper bound of λ. */
  max: 1e6,
  /** Statistics-only steps before the first update. */
  burnIn: 5,
  /** κ of the fallback step. */
  kappa: 1e-3,
  /**
   * γ, the blocks' damping under adaptive step control (null would tie it to λ), per approximation.
   * Measured, not derived (MATH.md §11, "Two dampings" and "Over-relaxing the averaged step"): 0.001 was
   * the best of 0.1, 0.01 and 0.001 on the problems of `pnpm bench robust` under the per-minibatch
   * step; under today's averaged step EKFAC with γ = 3e-4 and θ = 1.5 had a lower final loss than with
   * 0.001 and θ = 1 by more than the seed spread on 4 of the 8 rows (seeds 1–5) and a higher one on none
   * (γ = 1e-4: 4 of 8 rows worse with θ = 1, one with θ = 1.5 or 1.75). KFAC keeps 0.001 (at 3e-4 it
   * lost two rows and won one); the diagonal 0.001 (not measured).
   */
  preconditionerDamping: {
    /** `kfac`: 0.001. */
    kfac: 0.001,
    /** `ekfac`: 3e-4. */
    ekfac: 3e-4,
    /** `diagonalFisher`: 0.001. */
    diagonal: 0.001,
  } as const satisfies Record<CurvatureApproximation, number>,
  /** Withdraw any step that raised its minibatch's loss, measured on every step. */
  checkEveryStep: true,
  /** β_max of α's running averages (the heavy-ball momentum of the fixed default, 0.9). */
  rateAveraging: 0.9,
  /**
   * θ, the over-relaxation of the averaged step, per approximation. Measured, not derived (MATH.md §11,
   * "Over-relaxing the averaged step"): θ = 1.5 lowered KFAC's final loss by more than the seed spread on
   * 5 of the 8 rows of `pnpm bench robust` on seeds 1–5 and on 5 of 8 on held-out seeds 6–10, with no
   * loss. For EKFAC, θ = 1.5 at γ = 0.001 won 3 rows but made the demo autoencoder worse at equal
   * steps; at its γ = 3e-4 (`preconditionerDamping`) it is the pair that won 4 rows and lost none.
   */
  overRelaxation: {
    /** `kfac`: 1.5. */
    kfac: 1.5,
    /** `ekfac`: 1.5 (with γ = 3e-4). */
    ekfac: 1.5,
    /** `diagonalFisher`: 1 — no effect there: without a Kronecker block there is no noise estimate, so
     *  its α comes from the joint solve. */
    diagonal: 1,
  } as const satisfies Record<CurvatureApproximation, number>,
} as const;

/** ε of fixed step control when `damping` is not given (`CurvatureOptions.damping`'s default). */
const FIXED_DAMPING = 0.1;

/** The chain the aliases build, with its curvature transform exposed (plan, blocks, approximation). */
export type CurvatureChain = GradientTransformation<StateValue[]> & {
  /** The chain's first transform: blocks, plan and approximation. */
  readonly curvature: CurvatureTransform;
};

/**
 * The names `kfac`, `ekfac` and `diagonalFisher` accept: every key of `CurvatureOptimizerOptions` (checked
 * at compile time), the curvature transform's and the step control's together.
 */
const OPTIMIZER_KEYS = optionKeys<CurvatureOptimizerOptions>()([
  ...CURVATURE_SHARED_KEYS,
  "learningRate",
  "momentum",
  "klClip",
  "adaptiveDamping",
  "dampingAdaptation",
  "burnIn",
  "preconditionerDamping",
  "rateAveraging",
  "overRelaxation",
  "checkEveryStep",
]);

/**
 * How the curvature transform's messages name the options these aliases map into it: the step control's
 * fields are the aliases' own top-level options (`options.momentum`, not `options.stepControl.momentum`),
 * its κ is `options.klClip`.
 */
function aliasNames(defaultDamping: number): CurvatureNames {
  return { stepControl: (field) => (field === "kappa" ? "options.klClip" : `options.${field}`), defaultDamping };
}

const ADAPTIVE_ONLY = [
  "adaptiveDamping",
  "dampingAdaptation",
  "burnIn",
  "preconditionerDamping",
  "checkEveryStep",
  "rateAveraging",
  "overRelaxation",
] as const;

/** Builds the chain for `approximation` (the aliases below): adaptive or fixed step control. */
export function curvatureChain(
  fn: string,
  model: CurvatureModel,
  approximation: CurvatureApproximation,
  options: CurvatureOptimizerOptions = {},
): CurvatureChain {
  checkOptions(fn, "options", options, OPTIMIZER_KEYS);
  const {
    learningRate: lr,
    momentum,
    klClip,
    adaptiveDamping,
    dampingAdaptation,
    burnIn,
    preconditionerDamping,
    checkEveryStep,
    rateAveraging,
    overRelaxation,
    ...rest
  } = options;
  if (lr === undefined) {
    const kappa = klClip === undefined ? ADAPTIVE_DEFAULTS.kappa : klClip;
    if (kappa === null) {
      throw new RangeError(
        `${fn}: options.klClip = null leaves adaptive step control without its fallback step; give κ > 0, or set learningRate for fixed step control`,
      );
    }
    checkPositive(fn, "options.klClip", kappa);
    checkFlag(fn, "options.adaptiveDamping", adaptiveDamping);
    const adapt = adaptiveDamping ?? true;
    // Checked here, before the defaults are merged in: a non-object would spread to nothing.
    checkOptions(fn, "options.dampingAdaptation", dampingAdaptation, DAMPING_ADAPTATION_KEYS);
    if (!adapt && dampingAdaptation !== undefined) {
      throw new RangeError(`${fn}: options.dampingAdaptation has no effect with adaptiveDamping: false; remove it`);
    }
    checkFlag(fn, "options.checkEveryStep", checkEveryStep);
    if (!adapt && checkEveryStep === true) {
      throw new RangeError(
        `${fn}: options.checkEveryStep needs the loss closure of adaptive damping; remove it or drop adaptiveDamping: false`,
      );
    }
    const curv = curvatureTransform(
      model,
      approximation,
      {
        ...rest,
        stepControl: {
          ...(momentum === undefined ? {} : { momentum }),
          dampingAdaptation: adapt
            ? {
                interval: ADAPTIVE_DEFAULTS.interval,
                decay: ADAPTIVE_DEFAULTS.decay,
                min: ADAPTIVE_DEFAULTS.min,
                max: ADAPTIVE_DEFAULTS.max,
                ...dampingAdaptation,
              }
            : null,
          burnIn: burnIn ?? ADAPTIVE_DEFAULTS.burnIn,
          kappa,
          preconditionerDamping:
            preconditionerDamping === undefined
              ? ADAPTIVE_DEFAULTS.preconditionerDamping[approximation]
              : preconditionerDamping,
          // Only with a closure to measure (adaptive damping); checkEveryStep: true without one is refused below.
          checkEveryStep: adapt && (checkEveryStep ?? ADAPTIVE_DEFAULTS.checkEveryStep),
          rateAveraging: rateAveraging ?? ADAPTIVE_DEFAULTS.rateAveraging,
          overRelaxation: overRelaxation ?? ADAPTIVE_DEFAULTS.overRelaxation[approximation],
        },
      },
      fn,
      aliasNames(ADAPTIVE_DEFAULTS.damping[approximation]),
    );
    const c = chain(curv) as GradientTransformation<StateValue[]>;
    return Object.assign(c, { curvature: curv });
  }
  for (const key of ADAPTIVE_ONLY) {
    if (options[key] !== undefined) {
      throw new RangeError(
        `${fn}: options.${key} applies to adaptive step control only, which a learningRate turns off; remove one of them`,
      );
    }
  }
  if (typeof lr !== "function") checkPositive(fn, "options.learningRate", lr);
  const mu = momentum ?? 0.9;
  checkDecay(fn, "options.momentum", mu);
  const kappa = klClip === undefined ? 1e-3 : klClip;
  if (kappa !== null) checkPositive(fn, "options.klClip", kappa);
  const curv = curvatureTransform(
    model,
    approximation,
    { ...rest, klClip: kappa === null ? null : { kappa, learningRate: lr } },
    fn,
    aliasNames(FIXED_DAMPING),
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
export function kfac(model: CurvatureModel, options: CurvatureOptimizerOptions = {}): CurvatureChain {
  return curvatureChain("kfac", model, "kfac", options);
}

/**
 * Diagonal-Fisher preconditioning Δ = ∇ ⊘ (diag F + ε) of the curvature layers (a baseline); D is
 * re-estimated every T_s = `scalingEvery` steps with decay `scalingDecay`. Ignores (RangeError if
 * set): factorsEvery, basisEvery, factorDecay, scaling, kfacDamping.
 */
export function diagonalFisher(model: CurvatureModel, options: CurvatureOptimizerOptions = {}): CurvatureChain {
  return curvatureChain("diagonalFisher", model, "diagonal", options);
}
