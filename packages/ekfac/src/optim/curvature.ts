/**
 * Curvature as ONE gradient transformation (optax style, transform.ts): `curvature(model, options)`
 * turns the gradients into preconditioned directions Δ = (F̂ + εI)⁻¹ ∇, parameter block by parameter
 * block, and optionally KL-clips them. The aliases `kfac`, `ekfac`, `diagonalFisher` (aliases.ts) put
 * it first in a chain: curvature → momentum → learning rate, run by the one `Optimizer`.
 *
 * Blocks (all behind `CurvatureBlock`, curvature/block.ts; the transform never asks their kind):
 *   - every curvature layer (dense / conv2d): KFAC (Martens & Grosse 2015; KFC for conv, Grosse &
 *     Martens 2016), EKFAC (George et al. 2018, Algorithm 1) or the layer's diagonal Fisher;
 *   - every scale-shift layer (BatchNorm): the per-channel 2×2 Fisher (curvature/scale-shift.ts);
 *   - every other parameter: the diagonal fallback (curvature/parameter-diagonal.ts; its estimator and
 *     bias are stated there) or, with `otherParameters: "first-order"`, the raw gradient.
 *
 * One update at step k (k = steps this transform has completed; refused steps do not count):
 *   1. statistics steps (see `wantsStatistics`): read every layer's captured statistics; refuse with a
 *      RangeError saying what to do when one is missing, was captured for another Fisher than `fisher`,
 *      or is the same pass as last time (stale, unless `reuseStatistics`); if any holds NaN/±Inf, REFUSE
 *      the step (return false: nothing absorbed, nothing after this transform runs, the parameters stay
 *      bit-unchanged);
 *   2. kfac/ekfac: every `factorsEvery` steps A, G ← moving averages; every `basisEvery` = T_kfe steps
 *      (counted globally from the first step, k % T_kfe = 0, so at k = 0 too) the eigenbases;
 *      ekfac "batch": S ← moving average of S* every `scalingEvery` = T_s steps (counted globally,
 *      k % T_s = 0) and always right after a new basis (restarted there); ekfac "ra": S from the
 *      minibatch gradient on the T_s steps between bases, same decay `scalingDecay`, N read from THIS
 *      step's statistics (so "ra" steps capture too). diagonal: D every T_s steps;
 *   3. Δ_b = (F̂_b + εI)⁻¹ ∇_b per block (pure); if any entry of Δ is NaN/±Inf, REFUSE the step (the
 *      statistics of 2 stay absorbed; the next step retries with them);
 *   4. KL-clipping (Ba, Grosse & Martens 2017 §5, kl-clip.ts): Δ ← ν Δ, ν = min(1, sqrt(κ/(η_k² Σ Δᵀ∇))),
 *      on the preconditioned direction BEFORE momentum, η_k the learning rate the chain's
 *      `scaleByLearningRate` uses at this step (the same number or schedule, evaluated at k);
 *   5. tell the model what to capture for step k + 1: `model.setCapture(wanted, { fisher, seed: seed + k + 1 })`
 *      (also done by `init` for step 0 and after a restore for the restored step).
 *
 * Adaptive step control (`stepControl`, the aliases' default when no learning rate is given; MATH.md §11):
 * the transform outputs the whole step δ = αΔ + μδ₀ itself (δ₀ the previous step) instead of Δ:
 *   0. burn-in: the first `burnIn` steps only absorb statistics (factors, diagonal estimates) and return a
 *      zero update; the basis / scaling schedule of 2 counts from the end of the burn-in (j = k − burnIn),
 *      so the first basis is computed from the burned-in factors;
 *   3'. Δ is preconditioned with γ = `stepControl.preconditionerDamping` when it is set (the aliases' default),
 *      else with the current λ (state `control.damping`);
 *   4'. α, μ minimise the quadratic model M(αΔ + μδ₀) = ∇ᵀδ + ½δᵀ(F + λI)δ with F the Fisher of the whole
 *      network on this minibatch, from the captured statistics (curvature/quadratic-model.ts; Martens &
 *      Grosse 2015 §6.4, §7); `stepControl.momentum` fixes μ. When M has no positive curvature along Δ
 *      ("fallback") the step is the KL-bounded one, α = −sqrt(κ / Δᵀ∇), μ = 0 (zero when Δᵀ∇ ≤ 0).
 *      With `stepControl.rateAveraging` = β_max > 0 (the aliases' 0.9) α instead comes from running
 *      averages of −∇ᵀΔ and Δᵀ(F + λI)Δ over the steps since the last one without δ₀, with weight β on the
 *      past; β = min(β_max, 1 − signal fraction) from a gradient-noise estimate on the last curvature
 *      layer (`noiseAveraging`; McCandlish et al. 2018); the step takes the fraction 1 − β of that α,
 *      over-relaxed by θ = `stepControl.overRelaxation` (default 1; the aliases' 1.5 for KFAC and EKFAC), and
 *      μ = max(β, the minimiser of M given α clipped to [0, 0.9]): the part of α left out is carried by
 *      momentum, as in a heavy ball whose rate is θ(1 − β)α and whose μ is β. The estimate costs
 *      that layer's M·T·(a² + g²) + M·g·a (T = 1; M·T·g·a for conv) per step, M = N up to 128 examples,
 *      then every s-th example (`NOISE_EXAMPLES`; MATH.md §11);
 *   5'. Levenberg–Marquardt (curvature/adaptive-damping.ts, M&G §6.5): every `interval` steps after the
 *      burn-in, `wantsLoss` asks the optimizer for h(θ) and h(θ + δ) on the same minibatch and
 *      `observeLoss` moves λ by ρ = (h(θ + δ) − h(θ)) / M(δ) (M without its λ term). Without a γ, λ is
 *      also the ε of every block: KFAC's eigenbasis (or factored-Tikhonov) damping, EKFAC's ε added to
 *      S, the diagonal's; with one, λ only damps the model (it bounds the step's length, γ shapes its
 *      direction);
 *   5''. a measured step that raised its own minibatch's loss, h(θ + δ) > h(θ) or not finite, is withdrawn:
 *      `observeLoss` returns true and `Optimizer.step` puts θ back bit for bit; δ₀ is forgotten (the next
 *      step solves for α alone) and λ rises by 1/ω (trust-region acceptance with η = 0, Nocedal & Wright
 *      2006 Algorithm 4.1; a deviation from M&G §6.5 and kfac-jax, which keep every step — MATH.md §11).
 *      With `stepControl.checkEveryStep` (the aliases' default) every step after the burn-in is measured
 *      (one extra forward pass each); without it only the rule's steps, and every step after a withdrawn
 *      one until one is kept.
 *   Statistics are captured on every step in this mode (the model needs this step's ā and g).
 *
 * Gradients formed from the rows (EKFAC, "batch" S*, every example, a Fisher with per-example loss
 * rows): on a step whose S* shares its rows (kronecker-block.ts, "Shared rows": the
 * rotated gradient U_Gᵀ∇U_A = (1/N) G̃ᵀÃ, taken only after the rows were checked to reproduce ∇), the
 * capture request of the next step names those dense layers in `deferWeightGradients`; a producer that
 * honours it (nn's Linear) skips the weight's product (1/N)·rᵀā in its backward and marks the weight
 * `gradFromRows`. `Optimizer.step` hands such weights over unread (`rowGradients`: zeros in `updates`,
 * `taken` = 1), and this transform preconditions them from S*'s rows alone
 * (`KroneckerBlock.preconditionFromRows`: no check, ∇ is their product by the producer's statement),
 * with Δᵀ∇ (KL-clipping's, the noise estimate's) formed in the basis as ⟨R ⊘ (S + ε), R⟩ and the
 * quadratic model's linear terms from the rows (`addLayerFromRows`: ∇ᵀV = (1/N) Σ_n r_nᵀ V ā_n from the
 * products Ā Vᵀ it forms anyway); the rows' finiteness stands in for the gradient's. A direction
 * taken from the rows after checking them against a formed ∇ reads the same quantities from the rows,
 * so a step is the same, bit for bit, whether or not the product was left unformed (a run resumed from
 * a checkpoint, whose first step forms it, continues bit-identically). Where the rows are not usable
 * on a step (no shared S* rows, "ra") the weight's `grad` is read, which forms the product then. Saves
 * the backward's N·out·in multiply-adds per such layer and the rows check: on the demo autoencoder its
 * two 784-wide layers, 100 M of 1,482 M per EKFAC step (packages/bench README, "Speed").
 *
 * State (plain data, saved and restored by optim/state.ts): the counters, the last consumed pass per
 * statistics source, and every block's record keyed "name/kind" — so restoring a state of another
 * model, approximation or shape fails on the keys and lengths before anything is written. The options
 * are not state: they are the transform's configuration.
 *
 * Cost per step: the blocks' (see kronecker-block.ts, scale-shift.ts) plus O(P) packing; after the first
 * step (warm-up) no typed array is allocated outside the eigendecompositions.
 */
import { checkFlag, checkOptions, convertRowsInto, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import type {
  CurvatureLayer,
  CurvatureModel,
  FisherMode,
  LayerStatistics,
  ParameterRef,
  ScaleShiftLayer,
  ScaleShiftStatistics,
} from "../capture.ts";
import {
  adaptDamping,
  checkedDampingAdaptation,
  type DampingAdaptation,
  type DampingAdaptationOptions,
  reductionRatio,
} from "../curvature/adaptive-damping.ts";
import type { BlockState, CurvatureBlock } from "../curvature/block.ts";
import { DiagonalFisher } from "../curvature/diagonal.ts";
import { klScaleFromDot } from "../curvature/kl-clip.ts";
import { type KfacDamping, KroneckerBlock, type RotationPrecision } from "../curvature/kronecker-block.ts";
import { ParameterDiagonalFisher } from "../curvature/parameter-diagonal.ts";
import {
  QuadraticModelWorkspace,
  type QuadraticStepStatus,
  quadraticModelValue,
  quadraticStep,
  solveQuadraticStep,
} from "../curvature/quadratic-model.ts";
import { ScaleShiftBlock } from "../curvature/scale-shift.ts";
import { checkChoice, checkCount, checkDecay, checkFinite, checkPositive } from "../internal/checks.ts";
import { allFinite, checkedDot, checkedDotFinite, layerShape } from "../internal/stats.ts";
import { checkDisjointParams, checkParamList } from "./checks.ts";
import type { Schedule } from "./schedules.ts";
import { prefixCount, StatisticsPrefix } from "./statistics-prefix.ts";
import type { GradientTransformation, Params, SkipReason, StepControl, TransformReport } from "./transform.ts";

/**
 * Which curvature the transform preconditions with: KFAC (KFC for conv), EKFAC or the layers' diagonal Fisher.
 */
export type CurvatureApproximation = "kfac" | "ekfac" | "diagonal";

/** Options of the curvature transform (and of the `kfac`/`ekfac`/`diagonalFisher` aliases). */
export interface CurvatureOptions {
  /**
   * ε > 0 added to the curvature: to every eigenvalue of F̂ (KFAC "eigenbasis", EKFAC, diagonal,
   * scale-shift, fallback) or split over the factors (KFAC "factored-tikhonov"). Absolute, in the units
   * of F's eigenvalues (per-example gradients of the mean loss). Default 0.1: the scale of the
   * per-example Fisher of an O(1) loss (a mean negative log-likelihood, inputs of unit scale), where
   * the true Fisher's top eigenvalues are O(1) — 0.1 keeps the step within an order of magnitude of the
   * undamped natural gradient along them and bounded along the many near-zero directions. Measured on
   * the 784-64-10 MNIST classifier (bench suite `classifier`): 1e-3 let 7 of 10 KFAC/EKFAC runs spike
   * above their initial loss; 0.1 none. A loss summed over many outputs has proportionally larger
   * eigenvalues and tolerates a smaller ε relative to them. (Adaptive damping, Martens & Grosse 2015
   * §6.5, removes this choice: MATH.md §11.)
   */
  readonly damping?: number;
  /**
   * Which Fisher the model must capture (see capture.ts). Default "curvature-prop": the true Fisher from
   * one backward pass with random-sign combinations of the output Fisher's square-root columns
   * (Martens, Sutskever & Swersky 2012; kfac-jax's `fisher_curvature_prop`). It has the expectation of
   * "true" (one sampled target per example, Martens & Grosse 2015 §5) and the same cost, and a bounded
   * relative variance on confident predictions, where a sampled target's is not (MATH.md §2). Measured
   * with adaptive step control on the 784-64-10 MNIST classifier (batch 100, 160 steps, seeds 1–3):
   * final training loss KFAC 0.230 ± 0.155 with "true", 0.134 ± 0.018 with "curvature-prop"; a tie on
   * the demo autoencoder (125.4 ± 6.7 vs 128.2 ± 1.7).
   */
  readonly fisher?: FisherMode;
  /** Base seed of the model's target sampler: step k's pass uses seed + k. Integer ≥ 0, default 0. */
  readonly seed?: number;
  /** Accept statistics of the same captured pass twice in a row (otherwise a RangeError). Default false. */
  readonly reuseStatistics?: boolean;
  /**
   * f in (0, 1]: the curvature statistics (factors, S*, the BatchNorm blocks, the quadratic model's
   * curvature products) use the first ⌈f·N⌉ examples of each minibatch; the gradient uses all N.
   * Default 1. Cuts the block-side cost per step by about f (the Fisher pass still runs on the whole
   * batch); not with fisher "exact". See optim/statistics-prefix.ts; the cost in training loss is
   * measured in packages/bench/README.md.
   */
  readonly statisticsFraction?: number;
  /** kfac/ekfac: steps between factor updates, counted globally (k % factorsEvery = 0). Default 1. */
  readonly factorsEvery?: number;
  /** kfac/ekfac: T_kfe, steps between eigendecompositions, counted globally (k % T_kfe = 0). Default 20. */
  readonly basisEvery?: number;
  /**
   * ekfac, diagonal: T_s, steps between re-estimates of S* (ekfac) or of D (diagonal), counted
   * globally (k % T_s = 0, not from the last basis refresh); ekfac also re-estimates right after every
   * new basis. Default 1.
   */
  readonly scalingEvery?: number;
  /** kfac/ekfac: moving-average decay ρ of A and G (and of the scale-shift and fallback blocks). Default 0.95. */
  readonly factorDecay?: number;
  /** ekfac: decay of S ("batch" and "ra"); diagonal: decay of D (and of the other blocks). Default 0.95. */
  readonly scalingDecay?: number;
  /** ekfac: "batch" (per-example S*, George et al. Alg. 1) or "ra" (S from minibatch gradients on the
   *  T_s steps between bases). Default "batch". */
  readonly scaling?: "batch" | "ra";
  /** kfac: "eigenbasis" (exact (G⊗A + εI)⁻¹) or "factored-tikhonov" (Martens & Grosse §6.3). Default "eigenbasis". */
  readonly kfacDamping?: KfacDamping;
  /**
   * kfac/ekfac: arithmetic of the per-step rotations into and out of the eigenbasis (the direction
   * and ekfac's S* rows): "float32" on float32 copies of the float64 bases (bases, factors, S and
   * the eigendecompositions stay float64), or "float64". The float32 direction is within 1e-4
   * relative of the float64 one when (max S + ε)/(min S + ε) ≤ 100 (law ekfac.precondition.float32);
   * on ill-conditioned layers the two differ in the directions of the smallest S + ε. Default "float32".
   */
  readonly precision?: RotationPrecision;
  /** Parameters outside every curvature and scale-shift layer: "diagonal-fisher" (default, see
   *  curvature/parameter-diagonal.ts) or "first-order" (their raw gradient, an explicit choice).
   *  The fallback, like "ra", needs the number of real examples, so with fisher "exact" (which presents
   *  N·C pseudo-examples) both are a RangeError. */
  readonly otherParameters?: "diagonal-fisher" | "first-order";
  /** KL-clipping: κ > 0 and the learning rate η (number or schedule) of the chain, or null (none).
   *  The aliases fill it from their own options so the learning rate is given once. Default null. */
  readonly klClip?: {
    /** κ > 0, the bound on the step's KL change. */
    readonly kappa: number;
    /** The chain's learning rate η (number or schedule of completed steps). */
    readonly learningRate: number | Schedule;
  } | null;
  /**
   * Adaptive step control (see the header, MATH.md §11): the transform outputs the step δ = αΔ + μδ₀
   * itself, with `damping` as the initial λ. null (default): it outputs Δ for the chain's momentum and
   * learning rate. Cannot be combined with `klClip` (the adaptive α replaces the clipped rate).
   */
  readonly stepControl?: AdaptiveStepOptions | null;
}

/** Options of the adaptive step control (`CurvatureOptions.stepControl`). */
export interface AdaptiveStepOptions {
  /** Fix μ ∈ [0, 1) instead of solving for it (0: α only, no previous step kept). Default: solved. */
  readonly momentum?: number;
  /** Levenberg–Marquardt adaptation of λ (curvature/adaptive-damping.ts), or null to keep λ fixed (no loss
   *  closure needed then). The starting λ, `damping`, must lie in its [min, max] (a RangeError otherwise). */
  readonly dampingAdaptation: DampingAdaptationOptions | null;
  /** Steps that only absorb statistics before the first update (integer ≥ 0). */
  readonly burnIn: number;
  /** κ > 0 of the fallback step α = −sqrt(κ / Δᵀ∇) when the model has no positive curvature along Δ. */
  readonly kappa: number;
  /**
   * γ > 0: the damping the blocks precondition with, Δ = (F̂ + γI)⁻¹∇, held apart from the λ of the
   * quadratic model and the Levenberg–Marquardt rule (Martens & Grosse 2015 §6.6 keep the two apart
   * too; MATH.md §11). null or absent: γ = λ, one damping for both (kfac-jax's choice).
   */
  readonly preconditionerDamping?: number | null;
  /**
   * β_max ∈ [0, 1): how far the quadratic model's α may be averaged over past minibatches (MATH.md §11,
   * "Averaging α where the gradient is noise"). Each step estimates the fraction of its minibatch
   * gradient that is signal rather than minibatch noise (McCandlish et al. 2018's noise scale, from the
   * per-example gradients of the last curvature layer, in the preconditioner's metric); α is then the
   * ratio of running averages of −∇ᵀΔ and Δᵀ(F + λI)Δ with weight β = min(β_max, 1 − signal fraction)
   * on the past, times 1 − β, and μ = max(β, the model's μ given α clipped to [0, 0.9]) carries the
   * rest. 0 (default here): α and μ from this minibatch's
   * model alone, the joint solve of Martens & Grosse §7. The aliases default to 0.9. Needs the loss's
   * per-example rows (`LayerStatistics.lossG`, or the empirical Fisher's g) of a Kronecker block; without
   * them, and with a fixed `momentum`, the joint solve is used.
   */
  readonly rateAveraging?: number;
  /**
   * θ ∈ (0, 2), the over-relaxation of `rateAveraging`'s step: α = θ(1 − β)ā/c̄ (MATH.md §11,
   * "Over-relaxing the averaged step"). Along Δ the model is a parabola, so θ times its minimiser still
   * predicts the decrease θ(2 − θ) of the greedy one (0.75 at θ = 1.5); relaxing the exact line-search
   * step of steepest descent by such a factor breaks its zig-zag (Raydan & Svaiter 2002). Default 1 (the
   * averaged minimiser itself); the aliases: 1.5 for KFAC and EKFAC (measured), 1 for the diagonal.
   * No effect where α is not averaged (`rateAveraging` 0, a fixed `momentum`, no Kronecker block).
   */
  readonly overRelaxation?: number;
  /**
   * With damping adaptation: ask for the loss after EVERY step (one extra forward pass each) and withdraw
   * any step that raised it; λ still adapts only every `interval` steps and after a withdrawn step.
   * false (default here): only the adaptation steps are measured. The aliases default to true.
   */
  readonly checkEveryStep?: boolean;
}

/**
 * The curvature options that `kfac`, `ekfac` and `diagonalFisher` pass through unchanged (kfac.ts lists
 * them with its own from this list).
 */
export const CURVATURE_SHARED_KEYS = [
  "damping",
  "fisher",
  "seed",
  "reuseStatistics",
  "statisticsFraction",
  "factorsEvery",
  "basisEvery",
  "scalingEvery",
  "factorDecay",
  "scalingDecay",
  "scaling",
  "kfacDamping",
  "precision",
  "otherParameters",
] as const;

/** The names `curvature` reads from its options: every key of `CurvatureOptions` (checked at compile time). */
const CURVATURE_OPTION_KEYS = optionKeys<CurvatureOptions>()([...CURVATURE_SHARED_KEYS, "klClip", "stepControl"]);

/** The names read from `options.stepControl`: every key of `AdaptiveStepOptions`. */
const STEP_CONTROL_KEYS = optionKeys<AdaptiveStepOptions>()([
  "momentum",
  "dampingAdaptation",
  "burnIn",
  "kappa",
  "preconditionerDamping",
  "rateAveraging",
  "overRelaxation",
  "checkEveryStep",
]);

/** The names read from `options.klClip`. */
const KL_CLIP_KEYS = optionKeys<NonNullable<CurvatureOptions["klClip"]>>()(["kappa", "learningRate"]);

/**
 * How `curvatureTransform`'s messages name what they check, for a caller that builds `CurvatureOptions`
 * from options of its own (kfac.ts maps `momentum`, `burnIn`, … into `stepControl`): its user never wrote
 * `options.stepControl.momentum`. Not exported from the package.
 */
export interface CurvatureNames {
  /** The caller's name of `options.stepControl.<field>`. */
  readonly stepControl: (field: keyof AdaptiveStepOptions) => string;
  /** The ε (initial λ) used when `options.damping` is not given. */
  readonly defaultDamping: number;
}

/** `curvature`'s own names. */
const CURVATURE_NAMES: CurvatureNames = {
  stepControl: (field) => `options.stepControl.${field}`,
  defaultDamping: 0.1,
};

/** Adaptive step-control bookkeeping in the state (numbers only, so it checkpoints like the rest). */
export type StepControlState = {
  /** λ: the damping the next step preconditions with (fixed mode: ε, constant). */
  damping: number;
  /** 1 when `previous` holds the last step δ₀, else 0. */
  hasPrevious: number;
  /** M(δ) without its λ term for the last step: the denominator of ρ. */
  predicted: number;
  /** 1 after a rejected step until a measured step is kept: ρ is then measured on every step. */
  recheck: number;
  /** `rateAveraging`: running averages of the signal part of gᵀPg and of gᵀPg itself (last curvature layer). */
  noiseSignal: number;
  /** Running average of gᵀPg (see `noiseSignal`). */
  noiseTotal: number;
  /** `rateAveraging`: running averages of −∇ᵀΔ and Δᵀ(F + λI)Δ since the last step without δ₀. */
  rateLinear: number;
  /** Running average of Δᵀ(F + λI)Δ (see `rateLinear`). */
  rateCurvature: number;
};

/** Which parameter each block covers (for logs: `describeCurvature`). */
export interface ParameterPlan {
  /** The parameter's name. */
  readonly name: string;
  /** The block's key ("layer/kind") or null for the first-order rule. */
  readonly block: string | null;
  /**
   * What preconditions the parameter, for programs: "kfac" or "ekfac" (a Kronecker block of its dense or
   * conv layer), "diagonal" (the `diagonalFisher` approximation of its layer), "scale-shift" (a
   * BatchNorm-style layer's 2×2 per-channel Fisher), "diagonal-fallback" (any other parameter's
   * diagonal Fisher) or "first-order" (`otherParameters: "first-order"`: the raw gradient).
   */
  readonly approximation: "kfac" | "ekfac" | "diagonal" | "scale-shift" | "diagonal-fallback" | "first-order";
  /** The rule that produces the parameter's direction, in words (for logs). */
  readonly rule: string;
}

/**
 * The curvature transform's plain-data state: step counters, consumed passes, the last update's details and
 * every block's state.
 */
export type CurvatureState = {
  /** Steps completed (refused steps not counted). */
  step: number;
  /** Steps on which the bases were refreshed, and eigendecompositions that failed, in total. */
  basisRefreshes: number;
  /** Eigendecompositions that failed numerically, in total (their previous basis was kept). */
  basisFailures: number;
  /** Steps refused for non-finite statistics or a non-finite update. */
  refused: number;
  /** Per statistics source (curvature layers, then scale-shift layers): the last pass consumed, −1 none. */
  passes: Float64Array;
  /** The last update: refreshed (0/1), failures, ν, refusal (0 none, 1 statistics, 2 update). */
  last: {
    /** 1 when the last update refreshed the bases, else 0. */
    refreshed: number;
    /** Eigendecompositions of the last update that failed. */
    failures: number;
    /** KL-clipping factor ν of the last update. */
    klScale: number;
    /** 0 applied, 1 refused for statistics, 2 refused for the update. */
    refusal: number;
    /** λ of the last update (fixed mode: ε). */
    damping: number;
    /** Step control of the last update: 0 fixed, 1 burn-in, 2 joint, 3 alpha-only, 4 fallback. */
    control: number;
    /** α and μ of the last update (adaptive step control; 0 otherwise). */
    alpha: number;
    /** μ of the last update. */
    momentum: number;
    /** ρ measured after the last update: 0 none, 1 `rho` holds it, 2 failed step (ρ = −∞). */
    rhoKind: number;
    /** The last ρ when `rhoKind` = 1. */
    rho: number;
    /** β of α's running averages on the last update (`rateAveraging`), −1 when α came from the joint solve. */
    averaging: number;
  };
  /** Adaptive step control's λ and previous-step bookkeeping. */
  control: StepControlState;
  /** Adaptive step control: δ₀ per block (in block order), then per first-order parameter; [] otherwise. */
  previous: Float64Array[];
  /** Every block's state, keyed "name/kind". */
  blocks: { [key: string]: BlockState };
};

/** The transform, with what it knows about the model. */
export interface CurvatureTransform extends GradientTransformation<CurvatureState> {
  /** The approximation every curvature layer's block uses. */
  readonly approximation: CurvatureApproximation;
  /** The Fisher the transform asks the model to capture. */
  readonly fisher: FisherMode;
  /** ε added to the curvature (see `CurvatureOptions.damping`); with adaptive damping, the initial λ. */
  readonly damping: number;
  /** Whether the transform outputs the whole step (adaptive step control) rather than Δ. */
  readonly adaptive: boolean;
  /** The model's parameters, in the order the transform expects its updates. */
  readonly parameters: readonly ParameterRef[];
  /** The blocks in order, with their keys. */
  readonly blocks: readonly {
    /** "name/kind": the key of the block's state in `CurvatureState.blocks`. */
    readonly key: string;
    /** The block itself. */
    readonly block: CurvatureBlock;
  }[];
  /** Which block (or rule) produces each parameter's direction, in parameter order. */
  readonly plan: readonly ParameterPlan[];
  /** Whether step `state.step` reads captured statistics (the capture the transform requested). */
  wantsStatistics(state: CurvatureState): boolean;
}

/** Options each approximation ignores: setting one is a RangeError, not silence. */
const IGNORED: Record<CurvatureApproximation, readonly (keyof CurvatureOptions)[]> = {
  kfac: ["scalingEvery", "scalingDecay", "scaling"],
  ekfac: ["kfacDamping"],
  diagonal: ["factorsEvery", "basisEvery", "factorDecay", "scaling", "kfacDamping", "precision"],
};

interface Slot {
  readonly key: string;
  readonly block: CurvatureBlock;
  readonly grad: Float64Array;
  readonly dir: Float64Array;
  /** Copies the parameters' entries of `src` into `grad` (the block's layout). */
  pack(src: Params): void;
  /** Writes `scale · dir` into the parameters' entries of `dst` (KL-clipping's ν folded into the copy). */
  unpack(dst: Params, scale: number): void;
  /** Statistics source index (into `passes`) or −1 (fallback blocks). */
  readonly source: number;
  /** Checks a captured batch against the block's shape (throws); returns whether it is all finite. */
  check(fn: string, s: LayerStatistics | ScaleShiftStatistics): boolean;
  /** Adds the block's terms (direction `dir`, previous step, gradient `grad`) to the quadratic model. */
  model(ws: QuadraticModelWorkspace, previous: Float64Array | null): void;
  /**
   * Dense EKFAC layers: the weight's parameter index and layer name (for `deferWeightGradients`),
   * whether this step's gradient is taken from the captured rows unformed (`taken`, set by `pack`) and
   * whether the direction came from the rows at all (`fromRows`: taken, or checked against ∇; then
   * everything the step reads of ∇ comes from them) — see "Gradients formed from the rows" in the
   * header; null for other slots.
   */
  readonly rows: { readonly weight: number; readonly layer: string; taken: boolean; fromRows: boolean } | null;
}

const CONTROL: readonly StepControl[] = ["fixed", "burn-in", "joint", "alpha-only", "fallback"];

/**
 * Upper bound of the solved momentum μ (MATH.md §11): the heavy-ball range of the fixed default. The
 * 2 × 2 solve on a small minibatch's one-sample Fisher returned μ ≈ 5 (a geometrically growing step)
 * before the loss of the 784-64-10 classifier blew up; kfac-jax, with the exact minibatch Fisher,
 * leaves μ free.
 */
const MOMENTUM_MAX = 0.9;
const AT_ZERO_MOMENTUM = { momentum: 0 } as const;
const AT_MAX_MOMENTUM = { momentum: MOMENTUM_MAX } as const;
/**
 * Decay of the running averages of the noise estimate's two parts (`rateAveraging`): McCandlish et al.
 * 2018 (Appendix A) smooth both with exponential averages and give no universal constant; 0.9 is the only
 * value measured (MATH.md §11).
 */
const NOISE_DECAY = 0.9;
/**
 * At most this many examples of a minibatch enter the noise estimate's per-example norms
 * (`rateAveraging`): every s-th, s = ⌈N / NOISE_EXAMPLES⌉, their mean standing for the batch's — an
 * unbiased stand-in for exchangeable examples, taken evenly spaced so that a batch ordered in blocks
 * (by class, say) is still spanned. Its error relative to ν does not shrink with N (ν itself is
 * ∝ 1/N), so the count is fixed rather than a fraction: 128 keeps every minibatch of ≤ 128 examples
 * whole (those of `pnpm bench robust`'s classifier, CNN and narrow autoencoder rows, where the rule
 * was measured with all examples) and halves the estimate's cost on its 784-256-128-32 autoencoder at
 * batch 250; 64 made the 784-64-10 classifier's EKFAC worse (MATH.md §11).
 */
const NOISE_EXAMPLES = 128;

/** d ← αd + μp in place (p = null: αd), and p ← d: the step δ = αΔ + μδ₀ becomes the next δ₀. */
function combineStep(d: FloatArray, p: Float64Array | null, alpha: number, mu: number): void {
  for (let i = 0; i < d.length; i++) {
    const x = alpha * (d[i] as number) + (p === null ? 0 : mu * (p[i] as number));
    d[i] = x;
    if (p !== null) p[i] = x;
  }
}
const SOLVED: Record<QuadraticStepStatus, number> = { joint: 2, "alpha-only": 3, fallback: 4 };

function checkEvery(fn: string, name: string, v: unknown): number {
  // A wrong kind is a TypeError, a wrong value a RangeError (internal/checks.ts's convention).
  const ErrorType = typeof v === "number" ? RangeError : TypeError;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new ErrorType(
      `${fn}: ${name} must be an integer ≥ 1 (got ${typeof v === "string" ? JSON.stringify(v) : String(v)})`,
    );
  }
  return v;
}

function isModel(m: unknown): m is CurvatureModel {
  const x = m as CurvatureModel;
  return (
    x !== null &&
    typeof x === "object" &&
    typeof x.curvatureLayers === "function" &&
    typeof x.parameters === "function" &&
    typeof x.setCapture === "function"
  );
}

/** The curvature transform of `model` (see the header). `fn` names the caller in error messages. */
export function curvature(
  model: CurvatureModel,
  approximation: CurvatureApproximation,
  options: CurvatureOptions = {},
  fn = "curvature",
): CurvatureTransform {
  checkOptions(fn, "options", options, CURVATURE_OPTION_KEYS);
  return curvatureTransform(model, approximation, options, fn, CURVATURE_NAMES);
}

/**
 * `curvature` for a caller that has checked the keys of its own options (kfac.ts) and names them its
 * way (`names`). Not exported from the package.
 */
export function curvatureTransform(
  model: CurvatureModel,
  approximation: CurvatureApproximation,
  options: CurvatureOptions,
  fn: string,
  names: CurvatureNames,
): CurvatureTransform {
  if (!isModel(model)) {
    throw new TypeError(`${fn}: model must implement CurvatureModel (curvatureLayers, parameters, setCapture)`);
  }
  checkChoice(fn, "approximation", approximation, ["kfac", "ekfac", "diagonal"], approximation);
  for (const key of IGNORED[approximation]) {
    if (options[key] !== undefined) {
      throw new RangeError(
        `${fn}: options.${key} has no effect on ${approximation} (it would be ignored); remove it or choose an approximation that uses it`,
      );
    }
  }
  const damping = options.damping ?? names.defaultDamping;
  checkPositive(fn, "options.damping", damping);
  const fisher = checkChoice(
    fn,
    "options.fisher",
    options.fisher,
    ["true", "curvature-prop", "empirical", "exact"],
    "curvature-prop",
  );
  const seed = options.seed ?? 0;
  checkCount(fn, "options.seed", seed);
  checkFlag(fn, "options.reuseStatistics", options.reuseStatistics);
  const reuse = options.reuseStatistics ?? false;
  const fraction = options.statisticsFraction ?? 1;
  if (typeof fraction !== "number" || !(fraction > 0 && fraction <= 1)) {
    const ErrorType = typeof fraction === "number" ? RangeError : TypeError;
    throw new ErrorType(`${fn}: options.statisticsFraction must be a number in (0, 1] (got ${String(fraction)})`);
  }
  if (fraction < 1 && fisher === "exact") {
    throw new RangeError(
      `${fn}: options.statisticsFraction < 1 cannot be combined with fisher: "exact" (its N·C pseudo-examples are not a batch to subsample)`,
    );
  }
  const factorsEvery = checkEvery(fn, "options.factorsEvery", options.factorsEvery ?? 1);
  const basisEvery = checkEvery(fn, "options.basisEvery (T_kfe)", options.basisEvery ?? 20);
  const scalingEvery = checkEvery(fn, "options.scalingEvery (T_s)", options.scalingEvery ?? 1);
  const factorDecay = options.factorDecay ?? 0.95;
  const scalingDecay = options.scalingDecay ?? 0.95;
  checkDecay(fn, "options.factorDecay", factorDecay);
  checkDecay(fn, "options.scalingDecay", scalingDecay);
  const scalingMode = checkChoice(fn, "options.scaling", options.scaling, ["batch", "ra"], "batch");
  const others = checkChoice(
    fn,
    "options.otherParameters",
    options.otherParameters,
    ["diagonal-fisher", "first-order"],
    "diagonal-fisher",
  );
  const kl = options.klClip ?? null;
  if (kl !== null) {
    if (typeof kl !== "object") throw new TypeError(`${fn}: options.klClip must be { kappa, learningRate } or null`);
    checkOptions(fn, "options.klClip", kl, KL_CLIP_KEYS);
    checkPositive(fn, "options.klClip.kappa", kl.kappa);
    if (typeof kl.learningRate !== "function") checkPositive(fn, "options.klClip.learningRate", kl.learningRate);
  }
  const otherDecay = approximation === "diagonal" ? scalingDecay : factorDecay;
  const control = options.stepControl ?? null;
  let adaptation: DampingAdaptation | null = null;
  let burnIn = 0;
  let fixedMomentum: number | undefined;
  let kappa = 0;
  let gamma: number | null = null;
  let checkEveryStep = false;
  let rateAveraging = 0;
  let overRelaxation = 1;
  if (control !== null) {
    if (typeof control !== "object") throw new TypeError(`${fn}: options.stepControl must be an object or null`);
    checkOptions(fn, "options.stepControl", control, STEP_CONTROL_KEYS);
    if (kl !== null) {
      throw new RangeError(
        `${fn}: options.klClip and options.stepControl exclude each other (the adaptive α replaces the clipped learning rate; κ of its fallback is stepControl.kappa)`,
      );
    }
    const name = names.stepControl;
    if (control.dampingAdaptation !== null) {
      adaptation = checkedDampingAdaptation(fn, name("dampingAdaptation"), control.dampingAdaptation);
      // λ starts at `damping` and the rule keeps it in [min, max]: a start outside would be clamped silently.
      if (!(damping >= adaptation.min && damping <= adaptation.max)) {
        const da = name("dampingAdaptation");
        throw new RangeError(
          `${fn}: options.damping = ${damping}${options.damping === undefined ? " (the default)" : ""} lies outside the bounds of λ, [${da}.min, ${da}.max] = [${adaptation.min}, ${adaptation.max}]; set a damping within them or widen them`,
        );
      }
    }
    burnIn = control.burnIn;
    checkCount(fn, name("burnIn"), burnIn);
    kappa = control.kappa;
    checkPositive(fn, name("kappa"), kappa);
    fixedMomentum = control.momentum;
    if (fixedMomentum !== undefined) checkDecay(fn, name("momentum"), fixedMomentum);
    rateAveraging = control.rateAveraging ?? 0;
    checkDecay(fn, name("rateAveraging"), rateAveraging);
    overRelaxation = control.overRelaxation ?? 1;
    checkFinite(fn, name("overRelaxation"), overRelaxation);
    if (!(overRelaxation > 0 && overRelaxation < 2)) {
      throw new RangeError(
        `${fn}: ${name("overRelaxation")} must be in (0, 2), where the model still predicts a decrease (got ${overRelaxation})`,
      );
    }
    gamma = control.preconditionerDamping ?? null;
    if (gamma !== null) checkPositive(fn, name("preconditionerDamping"), gamma);
    checkFlag(fn, name("checkEveryStep"), control.checkEveryStep);
    checkEveryStep = control.checkEveryStep ?? false;
    if (checkEveryStep && adaptation === null) {
      throw new RangeError(
        `${fn}: ${name("checkEveryStep")} needs damping adaptation (the loss closure); set ${name("dampingAdaptation")} or drop ${name("checkEveryStep")}`,
      );
    }
  }
  const adaptive = control !== null;
  const keepsPrevious = adaptive && fixedMomentum !== 0;

  const parameters = [...model.parameters()];
  checkDisjointParams(
    fn,
    parameters.map((p) => p.value),
    parameters.map((p) => p.name),
  );
  const index = new Map<FloatArray, number>();
  parameters.forEach((p, i) => {
    index.set(p.value, i);
  });
  const covered = parameters.map(() => false);
  const claim = (owner: string, ref: ParameterRef, expected: number): number => {
    const i = index.get(ref.value);
    if (i === undefined) throw new RangeError(`${fn}: ${owner}: parameter ${ref.name} is not among model.parameters()`);
    if (covered[i]) throw new RangeError(`${fn}: parameter ${ref.name} belongs to two curvature blocks`);
    if (ref.value.length !== expected) {
      throw new RangeError(
        `${fn}: ${owner}: parameter ${ref.name} has ${ref.value.length} values, expected ${expected}`,
      );
    }
    covered[i] = true;
    return i;
  };

  const layers: readonly CurvatureLayer[] = [...model.curvatureLayers()];
  const scaleShift: readonly ScaleShiftLayer[] = model.scaleShiftLayers ? [...model.scaleShiftLayers()] : [];
  const prefix = new StatisticsPrefix(fraction, [...layers.map(layerShape), ...scaleShift.map(() => null)]);
  const slots: Slot[] = [];
  const plan: (ParameterPlan | null)[] = parameters.map(() => null);
  // Gradients formed from the rows (header): the weights this transform can take, those the optimizer
  // handed over as deferred on this step, and the layers asked to defer on the next pass. Whether this
  // step may use them: S* shared its rows (checked per slot in `pack`) and no "ra" update reads ∇.
  const rowAccepts = new Uint8Array(parameters.length);
  const rowTaken = new Uint8Array(parameters.length);
  const deferred = new Set<string>();
  let rowsUsable = false;
  const precision = checkChoice(fn, "options.precision", options.precision, ["float32", "float64"], "float32");
  const blockOptions = {
    factorDecay,
    scalingDecay,
    scaling: scalingMode,
    ...(options.kfacDamping !== undefined ? { kfacDamping: options.kfacDamping } : {}),
    precision,
    // Empirical statistics are the loss's own g: EKFAC may rotate ∇ from S*'s rows (probe-checked).
    gradientFromStatistics: fisher === "empirical",
  };

  layers.forEach((layer, li) => {
    const shape = layerShape(layer);
    const block =
      approximation === "diagonal"
        ? new DiagonalFisher(shape, { decay: scalingDecay })
        : new KroneckerBlock(`${fn} (layer ${layer.name})`, approximation, shape, blockOptions);
    if (layer.hasBias !== (layer.bias !== null)) {
      throw new RangeError(
        `${fn}: layer ${layer.name} has hasBias = ${layer.hasBias} but bias is ${layer.bias === null ? "null" : "present"}`,
      );
    }
    const wi = claim(`layer ${layer.name}`, layer.weight, layer.outDim * layer.inDim);
    const bi = layer.bias === null ? -1 : claim(`layer ${layer.name}`, layer.bias, layer.outDim);
    const key = `${layer.name}/${block.kind}`;
    const kind = { block: key, approximation } as const;
    plan[wi] = { name: parameters[wi]?.name ?? "", ...kind, rule: `${block.kind} weight` };
    if (bi >= 0) plan[bi] = { name: parameters[bi]?.name ?? "", ...kind, rule: `${block.kind} bias` };
    const { outDim, inDim } = layer;
    const aDim = inDim + (bi >= 0 ? 1 : 0);
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    const rows =
      block instanceof KroneckerBlock && layer.kind === "dense" && approximation === "ekfac"
        ? { weight: wi, layer: layer.name, taken: false, fromRows: false }
        : null;
    if (rows !== null) rowAccepts[wi] = 1;
    slots.push({
      key,
      block,
      grad,
      dir,
      source: li,
      rows,
      check(cfn, s) {
        const b = s as LayerStatistics;
        block.checkStatistics(cfn, b);
        // A gradient taken from the rows is as finite as they are (the loss's own, lossG, or g).
        const taken = rowTaken[wi] === 1 && b.lossG !== null && b.lossG !== undefined;
        return allFinite(b.a) && allFinite(b.g) && (!taken || allFinite(b.lossG as FloatArray));
      },
      model(ws, previous) {
        const stats = curvatureStatisticsOf(li) as LayerStatistics;
        // A direction from the rows: the model's linear terms from them too.
        if (rows?.fromRows === true) ws.addLayerFromRows(shape, stats, stats.lossG ?? stats.g, dir, previous);
        else ws.addLayer(shape, stats, dir, previous, grad);
      },
      pack(src) {
        // A weight gradient handed over as deferred: taken from S*'s rows when they are ready and
        // nothing else reads ∇; otherwise formed now (reading the ref forms the deferred product).
        let w = src[wi] as FloatArray;
        if (rows !== null) {
          const handed = rowTaken[wi] === 1;
          rows.taken = handed && rowsUsable && (block as KroneckerBlock).sharedRowsReady;
          if (rows.taken) return;
          if (handed) w = layer.weight.grad as FloatArray;
        }
        const b = bi >= 0 ? (src[bi] as FloatArray) : null;
        // With a bias its column is written next, so the copy need not keep it.
        convertRowsInto(w, 0, inDim, grad, 0, aDim, outDim, inDim, 1, b === null);
        if (b !== null) for (let r = 0; r < outDim; r++) grad[r * aDim + inDim] = b[r] as number;
      },
      unpack(dst, scale) {
        convertRowsInto(dir, 0, aDim, dst[wi] as FloatArray, 0, inDim, outDim, inDim, scale);
        const b = bi >= 0 ? (dst[bi] as FloatArray) : null;
        if (b !== null) for (let r = 0; r < outDim; r++) b[r] = scale * (dir[r * aDim + inDim] as number);
      },
    });
  });

  scaleShift.forEach((layer, si) => {
    const block = new ScaleShiftBlock(layer.channels, layer.shift !== null, { decay: otherDecay });
    const c = layer.channels;
    const gi = claim(`scale-shift layer ${layer.name}`, layer.scale, c);
    const hi = layer.shift === null ? -1 : claim(`scale-shift layer ${layer.name}`, layer.shift, c);
    const key = `${layer.name}/${block.kind}`;
    const kind = { block: key, approximation: "scale-shift" } as const;
    plan[gi] = { name: parameters[gi]?.name ?? "", ...kind, rule: `${block.kind} scale` };
    if (hi >= 0) plan[hi] = { name: parameters[hi]?.name ?? "", ...kind, rule: `${block.kind} shift` };
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    slots.push({
      key,
      block,
      grad,
      dir,
      source: layers.length + si,
      rows: null,
      check(cfn, s) {
        const b = s as ScaleShiftStatistics;
        block.checkStatistics(cfn, b);
        return allFinite(b.xhat) && allFinite(b.g);
      },
      model(ws, previous) {
        ws.addScaleShift(
          curvatureStatisticsOf(layers.length + si) as ScaleShiftStatistics,
          hi >= 0,
          dir,
          previous,
          grad,
        );
      },
      pack(src) {
        const g = src[gi] as FloatArray;
        for (let i = 0; i < c; i++) grad[i] = g[i] as number;
        if (hi >= 0) {
          const h = src[hi] as FloatArray;
          for (let i = 0; i < c; i++) grad[c + i] = h[i] as number;
        }
      },
      unpack(dst, scale) {
        const g = dst[gi] as FloatArray;
        for (let i = 0; i < c; i++) g[i] = scale * (dir[i] as number);
        if (hi >= 0) {
          const h = dst[hi] as FloatArray;
          for (let i = 0; i < c; i++) h[i] = scale * (dir[c + i] as number);
        }
      },
    });
  });

  const fallback: Slot[] = [];
  parameters.forEach((p, i) => {
    if (covered[i]) return;
    if (others === "first-order") {
      plan[i] = { name: p.name, block: null, approximation: "first-order", rule: "first-order (raw gradient)" };
      return;
    }
    const block = new ParameterDiagonalFisher(p.value.length, { decay: otherDecay });
    const key = `${p.name}/${block.kind}`;
    plan[i] = { name: p.name, block: key, approximation: "diagonal-fallback", rule: block.kind };
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    const slot: Slot = {
      key,
      block,
      grad,
      dir,
      source: -1,
      rows: null,
      check: () => true,
      model(ws, previous) {
        ws.addParameter(dir, previous, grad);
      },
      pack(src) {
        const g = src[i] as FloatArray;
        for (let j = 0; j < grad.length; j++) grad[j] = g[j] as number;
      },
      unpack(dst, scale) {
        const u = dst[i] as FloatArray;
        for (let j = 0; j < u.length; j++) u[j] = scale * (dir[j] as number);
      },
    };
    slots.push(slot);
    fallback.push(slot);
  });
  const keys = new Set<string>();
  for (const s of slots) {
    if (keys.has(s.key)) throw new RangeError(`${fn}: two blocks share the key ${s.key} (rename a layer or parameter)`);
    keys.add(s.key);
  }
  if (fisher === "exact" && (fallback.length > 0 || (approximation === "ekfac" && scalingMode === "ra"))) {
    // Both scale by the number of REAL examples N, which "exact" statistics (E = N·C pseudo-examples)
    // do not carry.
    throw new RangeError(
      `${fn}: fisher: "exact" cannot be combined with ${fallback.length > 0 ? `the diagonal fallback of ${fallback.map((f) => f.key).join(", ")} (set otherParameters: "first-order")` : 'scaling: "ra"'}: both need the batch's number of examples, which exact-mode statistics (N·C pseudo-examples) do not carry`,
    );
  }
  const firstOrder = parameters.map((_, i) => plan[i]?.block === null);
  const sources = layers.length + scaleShift.length;
  if (sources === 0) {
    throw new RangeError(
      `${fn}: the model has no curvature or scale-shift layers, so there is no curvature to estimate; use a first-order optimizer (adam, sgd)`,
    );
  }
  const isEkfac = approximation === "ekfac";
  const needsStatistics = (k: number): boolean => {
    // Adaptive step control reads this step's statistics for the quadratic model (and burn-in steps
    // are statistics steps), so it captures on every step.
    if (adaptive) return true;
    const scalingStep = k % scalingEvery === 0;
    if (approximation === "diagonal") return scalingStep;
    return k % factorsEvery === 0 || k % basisEvery === 0 || (isEkfac && scalingStep);
  };
  /** Whether step k is one of the Levenberg–Marquardt rule's (every `interval` steps after the burn-in). */
  const adaptationStep = (k: number): boolean =>
    adaptation !== null && k >= burnIn && (k - burnIn) % adaptation.interval === 0;
  const statisticsStep = (k: number): boolean =>
    approximation === "diagonal" ? k % scalingEvery === 0 : k % factorsEvery === 0;
  const fnStep = `${fn}.update`;
  // Whether step k's S* shares its rows, so that the pass before it may defer the weights' products
  // (header, "Gradients formed from the rows"): "batch" S* re-estimated on step k (after the burn-in),
  // every example in the statistics, a Fisher with per-example loss rows.
  const defersOn = (k: number): boolean =>
    isEkfac &&
    scalingMode === "batch" &&
    fraction === 1 &&
    fisher !== "exact" &&
    k >= burnIn &&
    (k - burnIn) % scalingEvery === 0;
  const capture = (k: number): void => {
    const wanted = needsStatistics(k);
    model.setCapture(
      wanted,
      wanted && defersOn(k) && deferred.size > 0
        ? { fisher, seed: seed + k, deferWeightGradients: deferred }
        : { fisher, seed: seed + k },
    );
  };

  const statisticsOf = (i: number): LayerStatistics | ScaleShiftStatistics => {
    const src = i < layers.length ? layers[i] : scaleShift[i - layers.length];
    const s = src?.statistics ?? null;
    const name = src?.name ?? "";
    if (s === null) {
      throw new RangeError(
        `${fnStep}: layer ${name} has no captured statistics; the optimizer turned capture on for this step, so run a forward and backward pass before each step() (and do not turn capture off)`,
      );
    }
    if (s.fisher !== fisher) {
      throw new RangeError(
        `${fnStep}: layer ${name} captured statistics for the "${String(s.fisher)}" Fisher but this optimizer uses fisher: "${fisher}". ${fisher === "empirical" ? "" : "Sampling targets needs a loss that knows the model's predictive distribution (nn's softmaxCrossEntropy, sigmoidCrossEntropy, mseLoss); "}use such a loss or build the optimizer with fisher: "${String(s.fisher)}".`,
      );
    }
    return s;
  };
  /** What the blocks and the quadratic model see: the statistics' first ⌈f·N⌉ examples. */
  const curvatureStatisticsOf = (i: number): LayerStatistics | ScaleShiftStatistics => prefix.of(i, statisticsOf(i));

  const ws = new QuadraticModelWorkspace();
  // The gradient-noise estimate of `rateAveraging` reads the last curvature layer's per-example rows:
  // its examples' gradients are their own even under BatchNorm in training mode, which couples the
  // examples' signals in the layers below it (MATH.md §11).
  let noiseSlot: Slot | null = null;
  if (rateAveraging > 0 && fixedMomentum === undefined) {
    for (const slot of slots) {
      if (slot.source >= 0 && slot.source < layers.length && slot.block instanceof KroneckerBlock) noiseSlot = slot;
    }
  }
  let exampleNorms = new Float64Array(0);
  const solved = quadraticStep();
  const solveOptions = fixedMomentum === undefined ? {} : { momentum: fixedMomentum };
  // α fixed from the running averages (and μ at a bound when clamped): reused, so that no step allocates.
  const atAlpha = { alpha: 0 };
  const atAlphaMomentum = { alpha: 0, momentum: 0 };
  const previousSizes = [
    ...slots.map((s) => s.block.size),
    ...parameters.filter((_, i) => firstOrder[i]).map((p) => p.value.length),
  ];

  const transform: CurvatureTransform = {
    name: `curvature(${approximation})`,
    approximation,
    fisher,
    damping,
    adaptive,
    needsLoss: adaptation !== null,
    wantsLoss: (state) =>
      adaptation !== null &&
      state.step >= burnIn &&
      (checkEveryStep || adaptationStep(state.step) || state.control.recheck === 1),
    observeLoss(state, before, after) {
      if (adaptation === null) return false;
      const c = state.control;
      // 5''. A step that raised its own minibatch's loss (or made it non-finite) is withdrawn, and ρ is
      // measured on every step until one is kept (MATH.md §11).
      const reject = !(after <= before);
      // λ moves on the rule's own steps and after every withdrawn step (state.step already counts this one).
      if (reject || adaptationStep(state.step - 1)) {
        const rho = reductionRatio(after - before, c.predicted);
        c.damping = adaptDamping(c.damping, rho, adaptation);
        state.last.rhoKind = rho === -Infinity ? 2 : 1;
        state.last.rho = rho === -Infinity ? 0 : rho;
      }
      c.recheck = reject ? 1 : 0;
      if (reject) c.hasPrevious = 0;
      return reject;
    },
    rowGradients: { accepts: rowAccepts, taken: rowTaken },
    parameters,
    blocks: slots.map((s) => ({ key: s.key, block: s.block })),
    plan: plan.map(
      (p, i) =>
        p ?? {
          name: parameters[i]?.name ?? "",
          block: null,
          approximation: "first-order",
          rule: "first-order (raw gradient)",
        },
    ),
    wantsStatistics: (state) => needsStatistics(state.step),

    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      if (params.length !== parameters.length || params.some((p, i) => p !== parameters[i]?.value)) {
        throw new RangeError(
          `${fn}.init: params must be the model's parameter values, in the order of model.parameters() (${parameters.length} arrays)`,
        );
      }
      const blocks: { [key: string]: BlockState } = {};
      for (const s of slots) {
        const st = s.block.initState();
        s.block.bindState(fn, st);
        blocks[s.key] = st;
      }
      capture(0);
      return {
        step: 0,
        basisRefreshes: 0,
        basisFailures: 0,
        refused: 0,
        passes: new Float64Array(sources).fill(-1),
        last: {
          refreshed: 0,
          failures: 0,
          klScale: 1,
          refusal: 0,
          damping,
          control: 0,
          alpha: 0,
          momentum: 0,
          rhoKind: 0,
          rho: 0,
          averaging: -1,
        },
        control: {
          damping,
          hasPrevious: 0,
          predicted: 0,
          recheck: 0,
          noiseSignal: 0,
          noiseTotal: 0,
          rateLinear: 0,
          rateCurvature: 0,
        },
        previous: keepsPrevious ? previousSizes.map((n) => new Float64Array(n)) : [],
        blocks,
      };
    },

    validateState(vfn, state) {
      for (const key of ["step", "basisRefreshes", "basisFailures", "refused"] as const) {
        checkCount(vfn, `curvature state.${key}`, state[key]);
      }
      if (!(state.passes instanceof Float64Array) || state.passes.length !== sources) {
        throw new RangeError(`${vfn}: curvature state.passes must be a Float64Array of length ${sources}`);
      }
      for (const p of state.passes) {
        if (!(Number.isInteger(p) && p >= -1)) throw new RangeError(`${vfn}: curvature state.passes holds ${p}`);
      }
      const c = state.control;
      checkPositive(vfn, "curvature state.control.damping", c.damping);
      for (const key of ["hasPrevious", "recheck"] as const) {
        if (c[key] !== 0 && c[key] !== 1) {
          throw new RangeError(`${vfn}: curvature state.control.${key} must be 0 or 1 (got ${c[key]})`);
        }
      }
      for (const key of ["noiseSignal", "noiseTotal", "rateLinear", "rateCurvature"] as const) {
        checkFinite(vfn, `curvature state.control.${key}`, c[key]);
      }
      if (!adaptive && c.damping !== damping) {
        throw new RangeError(
          `${vfn}: curvature state.control.damping = ${c.damping} but this optimizer's fixed damping is ${damping}`,
        );
      }
      const prev = state.previous;
      if (
        !Array.isArray(prev) ||
        prev.length !== (keepsPrevious ? previousSizes.length : 0) ||
        prev.some((p, i) => !(p instanceof Float64Array) || p.length !== previousSizes[i])
      ) {
        throw new RangeError(
          `${vfn}: curvature state.previous must hold ${keepsPrevious ? `${previousSizes.length} Float64Arrays of lengths ${previousSizes.join(", ")}` : "no arrays"} (another step control or model)`,
        );
      }
      const got = Object.keys(state.blocks ?? {});
      if (got.length !== slots.length || slots.some((s) => !(s.key in state.blocks))) {
        throw new RangeError(
          `${vfn}: the saved curvature blocks {${got.join(", ")}} are not this optimizer's {${slots.map((s) => s.key).join(", ")}} (another model or approximation)`,
        );
      }
      for (const s of slots) s.block.checkState(`${vfn} (block ${s.key})`, state.blocks[s.key]);
    },

    restored(state) {
      for (const s of slots) {
        const st = state.blocks[s.key];
        if (st !== undefined) s.block.bindState(fn, st);
        s.block.stateRestored?.();
      }
      // The model's capture request belongs to the restored step (its sampler seed in particular).
      capture(state.step);
    },

    report(state): TransformReport {
      const l = state.last;
      const vetoReason: SkipReason | null =
        l.refusal === 1 ? "non-finite statistics" : l.refusal === 2 ? "non-finite update" : null;
      const solvedStep = l.control >= 2;
      return {
        vetoReason,
        curvature: {
          basisRefreshed: l.refreshed === 1,
          basisFailures: l.failures,
          klScale: l.klScale,
          damping: l.damping,
          preconditionerDamping: gamma ?? l.damping,
          stepControl: CONTROL[l.control] ?? "fixed",
          alpha: solvedStep ? l.alpha : null,
          momentum: solvedStep ? l.momentum : null,
          rho: l.rhoKind === 1 ? l.rho : l.rhoKind === 2 ? -Infinity : null,
          averaging: solvedStep && l.averaging >= 0 ? l.averaging : null,
        },
      };
    },

    update(updates, state) {
      const k = state.step;
      for (const s of slots) {
        const st = state.blocks[s.key];
        if (st === undefined) throw new RangeError(`${fnStep}: the state has no block ${s.key}`);
        s.block.bindState(fnStep, st);
      }
      const last = state.last;
      const lambda = state.control.damping;
      // γ: what the blocks precondition with (λ unless the step control holds it apart).
      const gammaNow = gamma ?? lambda;
      last.refreshed = 0;
      last.failures = 0;
      last.klScale = 1;
      last.refusal = 0;
      last.damping = lambda;
      last.control = 0;
      last.alpha = 0;
      last.momentum = 0;
      last.rhoKind = 0;
      last.averaging = -1;
      // The basis / scaling schedule counts from the end of the burn-in (burnIn = 0 without step control).
      const j = k - burnIn;
      const burning = j < 0;
      const needStats = needsStatistics(k);
      const refresh = !burning && approximation !== "diagonal" && j % basisEvery === 0;
      const scalingStep = !burning && j % scalingEvery === 0;
      const statsStep = burning || statisticsStep(j);
      const ra = isEkfac && scalingMode === "ra" && !refresh && scalingStep;

      // 1. statistics: present, of the requested Fisher, fresh, well-shaped, finite.
      let batchSize = 0;
      if (needStats) {
        let finite = true;
        for (let i = 0; i < sources; i++) {
          const s = statisticsOf(i);
          if (!reuse && s.pass === state.passes[i]) {
            const name = (i < layers.length ? layers[i]?.name : scaleShift[i - layers.length]?.name) ?? "";
            throw new RangeError(
              `${fnStep}: layer ${name}'s statistics are those of pass ${s.pass}, already used by the previous step (stale): run a new forward and backward pass before step(), or set reuseStatistics: true`,
            );
          }
          if (batchSize === 0) batchSize = s.batchSize;
          if (!(slots[i] as Slot).check(fnStep, s)) finite = false;
        }
        for (let i = 0; i < sources; i++) state.passes[i] = statisticsOf(i).pass;
        if (!finite) return refuse(updates, state, 1, k);
      }

      // 2. curvature statistics, bases, scalings. Finite statistics whose float32 products overflow
      // (entries beyond ≈ 1e19) are left out by the block that sees it, and the step is refused as
      // for non-finite statistics: a factor or S never holds ±Inf or NaN.
      let absorbed = true;
      if (needStats) {
        for (let i = 0; i < sources; i++) {
          const slot = slots[i] as Slot;
          const s = curvatureStatisticsOf(i);
          if (statsStep && !slot.block.updateStatistics(s)) absorbed = false;
          if (refresh) last.failures += slot.block.refreshBasis().failed;
          if (isEkfac && (refresh || (scalingStep && scalingMode === "batch")) && !slot.block.updateScaling(s)) {
            absorbed = false;
          }
        }
      }
      if (refresh) {
        last.refreshed = 1;
        state.basisRefreshes++;
        state.basisFailures += last.failures;
      }
      if (!absorbed) return refuse(updates, state, 1, k);

      // 0. burn-in: the fallback blocks absorb this gradient too; the update is zero.
      if (burning) {
        for (const slot of fallback) {
          slot.pack(updates);
          slot.block.updateStatistics({ grad: slot.grad, batchSize });
        }
        for (const u of updates) u.fill(0);
        last.control = 1;
        return advance(state, k);
      }

      // 3. directions; "ra" first folds this gradient into S (N of this step's statistics). A weight
      // gradient taken from the rows is preconditioned from them, its dot with Δ formed in the basis.
      let dot = 0;
      let finite = true;
      rowsUsable = !ra;
      for (const slot of slots) {
        slot.pack(updates);
        if (slot.source === -1 && statsStep && batchSize > 0) {
          slot.block.updateStatistics({ grad: slot.grad, batchSize });
        }
        if (ra && slot.source >= 0 && slot.source < layers.length) {
          slot.block.updateScalingFromGradient(slot.grad, (statisticsOf(slot.source) as LayerStatistics).batchSize);
        }
        const rows = slot.rows;
        if (rows?.taken === true) (slot.block as KroneckerBlock).preconditionFromRows(slot.dir, gammaNow);
        else slot.block.precondition(slot.grad, slot.dir, gammaNow);
        if (rows !== null) {
          // From the rows (taken, or ∇ checked against them): Δᵀ∇ from them too, the same bits either
          // way, and the next pass may leave the weight's product to them.
          rows.fromRows = (slot.block as KroneckerBlock).fromRows;
          if (rows.fromRows) deferred.add(rows.layer);
          else deferred.delete(rows.layer);
        }
        if (rows?.fromRows === true) {
          dot += (slot.block as KroneckerBlock).rowsDot;
          if (!allFinite(slot.dir)) finite = false;
        } else {
          dot = checkedDot(slot.dir, 0, slot.grad, 0, slot.dir.length, dot);
          if (!checkedDotFinite()) finite = false;
        }
      }
      if (!finite) return refuse(updates, state, 2, k);
      for (let i = 0; i < parameters.length; i++) {
        if (!firstOrder[i]) continue;
        const u = updates[i] as FloatArray;
        for (let m = 0; m < u.length; m++) dot += (u[m] as number) * (u[m] as number);
      }

      // 4'. adaptive step control: δ = αΔ + μδ₀ from the quadratic model.
      if (adaptive) {
        stepFromModel(updates, state, lambda, gammaNow, dot, prefixCount(fraction, batchSize));
        return advance(state, k);
      }

      // 4. KL-clipping at this step's learning rate.
      let nu = 1;
      if (kl !== null) {
        const lr = typeof kl.learningRate === "function" ? kl.learningRate(k) : kl.learningRate;
        nu = klScaleFromDot(dot, lr, kl.kappa);
      }
      for (const slot of slots) slot.unpack(updates, nu);
      if (nu !== 1) {
        for (let i = 0; i < parameters.length; i++) {
          if (!firstOrder[i]) continue;
          const u = updates[i] as FloatArray;
          for (let m = 0; m < u.length; m++) u[m] = nu * (u[m] as number);
        }
      }
      last.klScale = nu;
      return advance(state, k);
    },
  };

  /** Completes step k: counts it and asks the model for step k + 1's capture. */
  function advance(state: CurvatureState, k: number): undefined {
    state.step = k + 1;
    capture(k + 1);
    return undefined;
  }

  /**
   * Adaptive step control (header, 4'): solves for α, μ on this step's statistics and writes δ = αΔ + μδ₀
   * into `updates` (and into `state.previous` for the next step). Δ is in the slots' `dir` and, for
   * first-order parameters, in `updates` itself.
   */
  function stepFromModel(
    updates: Params,
    state: CurvatureState,
    lambda: number,
    gammaNow: number,
    dot: number,
    n: number,
  ): void {
    const c = state.control;
    const prev = state.previous;
    const hasPrev = keepsPrevious && c.hasPrevious === 1;
    ws.begin(n);
    for (let b = 0; b < slots.length; b++) {
      (slots[b] as Slot).model(ws, hasPrev ? (prev[b] as Float64Array) : null);
    }
    let f = slots.length;
    for (let i = 0; i < parameters.length; i++) {
      if (!firstOrder[i]) continue;
      const u = updates[i] as FloatArray;
      ws.addParameter(u, hasPrev ? (prev[f] as Float64Array) : null, u);
      f++;
    }
    const terms = ws.terms();
    const beta = noiseSlot === null ? -1 : noiseAveraging(noiseSlot, c, gammaNow);
    const c11 = terms.curvature11 + lambda * terms.inner11;
    if (beta >= 0 && c11 > 0 && Number.isFinite(c11) && Number.isFinite(terms.linear1)) {
      // α from running averages of the model's terms along Δ (MATH.md §11), restarted with δ₀, times the
      // signal fraction 1 − β and over-relaxed by θ; the rest of the step is carried by momentum μ ≥ β
      // (heavy ball with rate θ(1 − β)α and μ = β sums to θα along a direction that persists), or the
      // model's μ given that α (clipped to [0, MOMENTUM_MAX]) where the model asks for more.
      if (!hasPrev) c.rateLinear = c.rateCurvature = 0;
      c.rateLinear = beta * c.rateLinear - (1 - beta) * terms.linear1;
      c.rateCurvature = beta * c.rateCurvature + (1 - beta) * c11;
      atAlpha.alpha = overRelaxation * (1 - beta) * (c.rateLinear / c.rateCurvature);
      solveQuadraticStep(terms, lambda, atAlpha, solved);
      if (solved.status !== "fallback") {
        atAlphaMomentum.alpha = atAlpha.alpha;
        atAlphaMomentum.momentum = hasPrev ? Math.max(beta, Math.min(MOMENTUM_MAX, solved.momentum)) : 0;
        solveQuadraticStep(terms, lambda, atAlphaMomentum, solved);
      }
      state.last.averaging = beta;
    } else {
      solveQuadraticStep(terms, lambda, solveOptions, solved);
      // μ is minimised over [0, MOMENTUM_MAX] (MATH.md §11, safeguard 1): outside it, the nearest bound
      // with the α that is optimal for it — the constrained minimum of the convex 2-D quadratic.
      if (solved.status === "joint" && !(solved.momentum >= 0 && solved.momentum <= MOMENTUM_MAX)) {
        solveQuadraticStep(terms, lambda, solved.momentum < 0 ? AT_ZERO_MOMENTUM : AT_MAX_MOMENTUM, solved);
      }
    }
    let alpha = solved.alpha;
    let mu = solved.momentum;
    let predicted = solved.predictedChange;
    if (solved.status === "fallback") {
      // No positive curvature along Δ: the KL-bounded step α²Δᵀ∇ = κ (zero if Δ is not a descent direction).
      alpha = dot > 0 && Number.isFinite(dot) ? -Math.sqrt(kappa / dot) : 0;
      mu = 0;
      predicted = quadraticModelValue(terms, 0, alpha, 0);
    }
    for (let b = 0; b < slots.length; b++) {
      const slot = slots[b] as Slot;
      const p = keepsPrevious ? (prev[b] as Float64Array) : null;
      if (p !== null && !hasPrev) p.fill(0);
      combineStep(slot.dir, p, alpha, mu);
      slot.unpack(updates, 1);
    }
    f = slots.length;
    for (let i = 0; i < parameters.length; i++) {
      if (!firstOrder[i]) continue;
      const p = keepsPrevious ? (prev[f] as Float64Array) : null;
      if (p !== null && !hasPrev) p.fill(0);
      combineStep(updates[i] as FloatArray, p, alpha, mu);
      f++;
    }
    c.hasPrevious = keepsPrevious ? 1 : 0;
    c.predicted = Number.isFinite(predicted) ? predicted : 0;
    const last = state.last;
    last.control = SOLVED[solved.status];
    last.alpha = alpha;
    last.momentum = mu;
  }

  /**
   * `rateAveraging`'s weight β for this step, or −1 when the estimate is unavailable (no loss rows, N < 2,
   * a non-finite value). From the slot's per-example gradients ∇ℓ_n and its minibatch gradient g (mean of
   * the ∇ℓ_n) in the metric P of its preconditioner: the noise part of gᵀPg is the sample variance of
   * the ∇ℓ_n over N, ν = (Σ_n ‖∇ℓ_n‖²_P / N − gᵀPg) / (N − 1), its signal part gᵀPg − ν (McCandlish
   * et al. 2018 §2.2 and Appendix A: unbiased estimates of |G|² and tr Σ, each smoothed by its own running
   * average before the ratio is taken); β = min(β_max, 1 − signal / total) of the running averages.
   */
  function noiseAveraging(slot: Slot, c: StepControlState, gammaNow: number): number {
    // The statistics the blocks see: with statisticsFraction < 1 a prefix, which carries no loss rows
    // (statistics-prefix.ts), so only the empirical Fisher's g, of the prefix, give an estimate then.
    const stats = curvatureStatisticsOf(slot.source) as LayerStatistics;
    const rows = fisher === "empirical" ? stats.g : (stats.lossG ?? null);
    const n = stats.batchSize;
    if (rows === null || n < 2) return -1;
    const stride = Math.ceil(n / NOISE_EXAMPLES);
    const m = Math.ceil(n / stride);
    if (exampleNorms.length < m) exampleNorms = new Float64Array(m);
    exampleNorms.fill(0, 0, m);
    (slot.block as KroneckerBlock).examplePreconditionedNorms(
      stats.a,
      rows,
      n,
      stats.positions,
      gammaNow,
      exampleNorms,
      stride,
    );
    let perExample = 0;
    for (let e = 0; e < m; e++) perExample += exampleNorms[e] as number;
    perExample *= n / m;
    let total = 0;
    if (slot.rows?.fromRows === true) total = (slot.block as KroneckerBlock).rowsDot;
    else {
      const g = slot.grad;
      const d = slot.dir;
      for (let i = 0; i < d.length; i++) total += (g[i] as number) * (d[i] as number);
    }
    const noise = (perExample / n - total) / (n - 1);
    if (!Number.isFinite(noise) || !Number.isFinite(total)) return -1;
    c.noiseSignal = NOISE_DECAY * c.noiseSignal + (1 - NOISE_DECAY) * (total - noise);
    c.noiseTotal = NOISE_DECAY * c.noiseTotal + (1 - NOISE_DECAY) * total;
    if (!(c.noiseTotal > 0)) return 0;
    return Math.min(rateAveraging, Math.max(0, 1 - c.noiseSignal / c.noiseTotal));
  }

  function refuse(updates: Params, state: CurvatureState, reason: number, k: number): false {
    for (const u of updates) u.fill(0);
    state.last.refusal = reason;
    state.refused++;
    capture(k);
    return false;
  }

  return transform;
}

/** One line per parameter: the block (or rule) that produces its direction. */
export function describeCurvature(t: CurvatureTransform): string {
  return t.plan.map((p) => `${p.name}: ${p.rule}${p.block === null ? "" : ` (${p.block})`}`).join("\n");
}
