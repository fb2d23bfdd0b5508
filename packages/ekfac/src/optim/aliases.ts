/**
 * The usual optimizers, each a `chain` of the transforms in basic.ts and adaptive.ts, reproducing
 * torch.optim's algorithm boxes (SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta) with PyTorch's defaults:
 *
 * | alias                  | chain                                                            | PyTorch equivalent |
 * | ---                    | ---                                                              | --- |
 * | `sgd(η)`               | [addL2] → [traceMomentum] → scaleByLearningRate                  | `SGD(lr, momentum, dampening, weight_decay, nesterov)` |
 * | `momentum(η, μ)`       | sgd with momentum μ                                              | `SGD(lr, momentum=μ)` |
 * | `nesterov(η, μ)`       | sgd with Nesterov momentum μ                                     | `SGD(lr, momentum=μ, nesterov=True)` |
 * | `adam(η)`              | [addL2] → scaleByAdam → scaleByLearningRate                      | `Adam(lr, betas, eps, weight_decay)` |
 * | `adamw(η)`             | scaleByAdam → addDecayedWeights(λ = 0.01) → scaleByLearningRate  | `AdamW(lr, betas, eps, weight_decay)` |
 * | `adagrad(η)`           | [addL2] → scaleByAdaGrad → scaleByLearningRate(η/(1 + c·decay))  | `Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)` |
 * | `rmsprop(η)`           | [addL2] → scaleByRms → scaleByLearningRate                       | `RMSprop(lr, alpha, eps, weight_decay, momentum, centered)` |
 * | `adadelta(η = 1)`      | [addL2] → scaleByAdadelta → scaleByLearningRate                  | `Adadelta(lr, rho, eps, weight_decay)` |
 *
 * Bracketed transforms appear only when their option is non-zero, so the state holds no dead buffers.
 * `η` may be a number or a `Schedule` (evaluated at the number of steps already taken). None of these
 * is wrapped in `skipNonFinite`: use `safe(adam(…))`, or the `Optimizer` class, which wraps by default.
 *
 * Where tfjs-core (tfjs-core/src/optimizers/*.ts) and Keras 3 (keras/src/optimizers/*.py) differ, as
 * read in their sources:
 * - Adam: Keras adds ε to √v BEFORE un-biasing ("ε̂": `η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)`), default ε =
 *   1e-7 → option `epsilonHat: true`. tfjs uses the bias-corrected form, like PyTorch, with ε defaulting
 *   to the backend's epsilon.
 * - Adagrad: tfjs and Keras start the accumulator at 0.1 (PyTorch 0) and put ε inside the square root,
 *   `g/√(s + ε)` → options `initialAccumulator: 0.1, epsilonInsideSqrt: true`.
 * - RMSProp: tfjs and Keras default the decay to 0.9 (PyTorch α = 0.99), put ε inside the square root
 *   (`epsilonInsideSqrt: true`) and fold η into the momentum buffer (`b ← μb + η·r`; equal to PyTorch's
 *   `η·b` for a constant η). tfjs's centered variant computes `√(v − ḡ² − ε)` (ε subtracted) — not
 *   reproduced.
 * - Adadelta: tfjs and Keras default ρ = 0.95 and η = 0.001 (PyTorch ρ = 0.9, η = 1). tfjs divides by
 *   the previous squared-gradient average instead of the updated one — not reproduced.
 * - Momentum (tfjs `MomentumOptimizer`): η inside the buffer; equal to PyTorch for a constant η.
 */
import { checkFlag, checkOptions, optionKeys } from "@ekfac-ts/linalg";
import { kind } from "../internal/checks.ts";
import {
  ADADELTA_OPTIONS,
  ADAGRAD_OPTIONS,
  ADAM_OPTIONS,
  type AdadeltaOptions,
  type AdaGradOptions,
  type AdamOptions,
  adadeltaTransform,
  adaGradTransform,
  adamTransform,
  RMS_OPTIONS,
  type RmsOptions,
  rmsTransform,
} from "./adaptive.ts";
import { addDecayedWeights, addL2, scaleByLearningRate, traceMomentum, type WeightDecayOptions } from "./basic.ts";
import { checkDecay, checkNonNegative, checkPositive } from "./checks.ts";
import type { Schedule } from "./schedules.ts";
import { chain, type GradientTransformation, type StateValue } from "./transform.ts";

/** A learning rate: a constant > 0 or a schedule of the step count. */
export type LearningRate = number | Schedule;

/** Optimizers built here: a chain whose state is the list of its transforms' states. */
export type OptimizerTransform = GradientTransformation<StateValue[]>;

function checkLearningRate(fn: string, lr: unknown): asserts lr is LearningRate {
  if (typeof lr === "function") return;
  checkPositive(fn, "learningRate", lr);
}

function build(parts: readonly (GradientTransformation | null)[]): OptimizerTransform {
  const kept: GradientTransformation[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p !== undefined && p !== null) kept.push(p);
  }
  return chain(...kept) as OptimizerTransform;
}

/** `options.weightDecayMask`: undefined or an array of booleans (a `"false"` would decay its array). */
function checkMask(fn: string, mask: unknown): void {
  if (mask === undefined) return;
  if (!Array.isArray(mask)) {
    throw new TypeError(`${fn}: options.weightDecayMask must be an array of booleans (got ${kind(mask)})`);
  }
  for (let k = 0; k < mask.length; k++) checkFlag(fn, `options.weightDecayMask[${k}]`, mask[k]);
}

function l2(fn: string, weightDecay: number, mask: readonly boolean[] | undefined) {
  checkNonNegative(fn, "options.weightDecay", weightDecay);
  checkMask(fn, mask);
  if (weightDecay === 0) return null;
  return addL2(weightDecay, mask === undefined ? {} : { mask });
}

/*
 * The aliases refuse unknown keys themselves; the transforms they chain check the values under the
 * alias's name ("adam: options.beta1 …", adaptive.ts's `adamTransform` and siblings), and keep their
 * own name when called directly ("scaleByAdam: beta1 …").
 */

/** Options of `sgd`. */
export interface SgdOptions {
  /** μ ∈ [0, 1). Default 0 (no buffer). */
  readonly momentum?: number;
  /** τ ∈ [0, 1). Default 0. */
  readonly dampening?: number;
  /** Nesterov momentum (requires momentum > 0 and dampening 0). Default false. */
  readonly nesterov?: boolean;
  /** Coupled L2 λ ≥ 0 (PyTorch `weight_decay`), added to the gradient first. Default 0. */
  readonly weightDecay?: number;
  /** Per parameter array: true to decay it (default all). */
  readonly weightDecayMask?: readonly boolean[];
}

/** PyTorch's coupled `weight_decay` (the sgd options of that name), shared by the adaptive aliases. */
type CoupledL2 = Pick<SgdOptions, "weightDecay" | "weightDecayMask">;

/*
 * The names each alias accepts: every key of its options interface, checked at compile time both ways
 * (`optionKeys`), so a list cannot drift from the interface it documents.
 */
const SGD_KEYS = optionKeys<SgdOptions>()(["momentum", "dampening", "nesterov", "weightDecay", "weightDecayMask"]);
const MOMENTUM_KEYS = optionKeys<Omit<SgdOptions, "momentum" | "nesterov">>()([
  "dampening",
  "weightDecay",
  "weightDecayMask",
]);
const NESTEROV_KEYS = optionKeys<Omit<SgdOptions, "momentum" | "nesterov" | "dampening">>()([
  "weightDecay",
  "weightDecayMask",
]);
// The transforms' own option lists (adaptive.ts) are what an alias hands its core transform, nothing else.
const ADAM_KEYS = optionKeys<AdamAliasOptions>()([...ADAM_OPTIONS, "weightDecay", "weightDecayMask"]);
const ADAMW_KEYS = optionKeys<AdamWOptions>()([...ADAM_OPTIONS, "weightDecay", "weightDecayMask"]);
const ADAGRAD_KEYS = optionKeys<AdaGradAliasOptions>()([
  ...ADAGRAD_OPTIONS,
  "lrDecay",
  "weightDecay",
  "weightDecayMask",
]);
const RMS_KEYS = optionKeys<RmsAliasOptions>()([...RMS_OPTIONS, "weightDecay", "weightDecayMask"]);
const ADADELTA_KEYS = optionKeys<AdadeltaAliasOptions>()([...ADADELTA_OPTIONS, "weightDecay", "weightDecayMask"]);

/** The entries of `options` named in `keys` (construction only): an alias's options less its own. */
function pick<T extends object, K extends keyof T>(options: T, keys: readonly K[]): Pick<T, K> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (options[k] !== undefined) out[k] = options[k];
  return out as Pick<T, K>;
}

/**
 * PyTorch's recipe for an adaptive optimizer: coupled L2 on the gradient, then the optimizer's own
 * transform (`core`, built after the learning rate is checked), then the learning rate.
 */
function coupledL2(
  fn: string,
  learningRate: LearningRate,
  options: CoupledL2,
  core: () => GradientTransformation,
): OptimizerTransform {
  checkLearningRate(fn, learningRate);
  return build([l2(fn, options.weightDecay ?? 0, options.weightDecayMask), core(), scaleByLearningRate(learningRate)]);
}

/**
 * `sgd`, `momentum` and `nesterov`: [addL2] → [traceMomentum] → scaleByLearningRate, every value checked
 * under the alias's name (`muName`: how the alias's user gives μ).
 */
function heavyBall(
  fn: string,
  learningRate: LearningRate,
  options: CoupledL2 & Pick<SgdOptions, "dampening">,
  mu: number,
  muName: string,
  useNesterov: boolean,
  nesterovName: string,
): OptimizerTransform {
  checkLearningRate(fn, learningRate);
  checkDecay(fn, muName, mu);
  const dampening = options.dampening ?? 0;
  checkDecay(fn, "options.dampening", dampening);
  if (useNesterov && (mu <= 0 || dampening !== 0)) {
    throw new RangeError(
      `${fn}: ${nesterovName} requires ${muName} > 0 and options.dampening = 0 (got ${muName} = ${mu}, options.dampening = ${dampening})`,
    );
  }
  // As in torch.optim.SGD, dampening only acts through the momentum buffer: μ = 0 means no buffer.
  const trace = mu === 0 ? null : traceMomentum({ momentum: mu, nesterov: useNesterov, dampening });
  return build([l2(fn, options.weightDecay ?? 0, options.weightDecayMask), trace, scaleByLearningRate(learningRate)]);
}

/** torch.optim.SGD: `g ← g + λθ; b ← μb + (1−τ)g; θ ← θ − η·(b or g + μb)`. */
export function sgd(learningRate: LearningRate, options: SgdOptions = {}): OptimizerTransform {
  const fn = "sgd";
  checkOptions(fn, "options", options, SGD_KEYS);
  checkFlag(fn, "options.nesterov", options.nesterov);
  return heavyBall(
    fn,
    learningRate,
    options,
    options.momentum ?? 0,
    "options.momentum",
    options.nesterov ?? false,
    "options.nesterov",
  );
}

/** Heavy-ball SGD, `SGD(lr, momentum=μ)`. */
export function momentum(
  learningRate: LearningRate,
  mu = 0.9,
  options: Omit<SgdOptions, "momentum" | "nesterov"> = {},
): OptimizerTransform {
  checkOptions("momentum", "options", options, MOMENTUM_KEYS);
  return heavyBall("momentum", learningRate, options, mu, "mu", false, "Nesterov momentum");
}

/** Nesterov SGD, `SGD(lr, momentum=μ, nesterov=True)`. */
export function nesterov(
  learningRate: LearningRate,
  mu = 0.9,
  options: Omit<SgdOptions, "momentum" | "nesterov" | "dampening"> = {},
): OptimizerTransform {
  checkOptions("nesterov", "options", options, NESTEROV_KEYS);
  return heavyBall("nesterov", learningRate, options, mu, "mu", true, "Nesterov momentum");
}

/** Options of `adam`: Adam's options plus coupled L2. */
export interface AdamAliasOptions extends AdamOptions, Pick<SgdOptions, "weightDecay" | "weightDecayMask"> {}

/** torch.optim.Adam (η = 1e-3, β = (0.9, 0.999), ε = 1e-8). */
export function adam(learningRate: LearningRate = 1e-3, options: AdamAliasOptions = {}): OptimizerTransform {
  const fn = "adam";
  checkOptions(fn, "options", options, ADAM_KEYS);
  return coupledL2(fn, learningRate, options, () => adamTransform(pick(options, ADAM_OPTIONS), fn, "options."));
}

/** Options of `adamw`: Adam's options plus decoupled weight decay. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled λ ≥ 0. Default 0.01 (PyTorch AdamW). */
  readonly weightDecay?: number;
  /** Per parameter array: true to decay it (default all). */
  readonly weightDecayMask?: readonly boolean[];
}

/**
 * torch.optim.AdamW: `θ ← θ − ηλθ − η·m̂/(√v̂ + ε)` (Loshchilov & Hutter 2019). The decay is multiplied
 * by the (scheduled) learning rate, as in PyTorch and optax.
 */
export function adamw(learningRate: LearningRate = 1e-3, options: AdamWOptions = {}): OptimizerTransform {
  const fn = "adamw";
  checkOptions(fn, "options", options, ADAMW_KEYS);
  checkLearningRate(fn, learningRate);
  const wd = options.weightDecay ?? 0.01;
  checkNonNegative(fn, "options.weightDecay", wd);
  checkMask(fn, options.weightDecayMask);
  const mask: WeightDecayOptions = options.weightDecayMask === undefined ? {} : { mask: options.weightDecayMask };
  return build([
    adamTransform(pick(options, ADAM_OPTIONS), fn, "options."),
    wd === 0 ? null : addDecayedWeights(wd, mask),
    scaleByLearningRate(learningRate),
  ]);
}

/** Options of `adagrad`: AdaGrad's options plus PyTorch's learning-rate decay and coupled L2. */
export interface AdaGradAliasOptions extends AdaGradOptions, Pick<SgdOptions, "weightDecay" | "weightDecayMask"> {
  /** PyTorch `lr_decay` ≥ 0: step t uses η/(1 + (t−1)·lrDecay). Default 0. */
  readonly lrDecay?: number;
}

/** torch.optim.Adagrad (η = 1e-2, s₀ = 0, ε = 1e-10). */
export function adagrad(learningRate: LearningRate = 1e-2, options: AdaGradAliasOptions = {}): OptimizerTransform {
  const fn = "adagrad";
  checkOptions(fn, "options", options, ADAGRAD_KEYS);
  checkLearningRate(fn, learningRate);
  const lrDecay = options.lrDecay ?? 0;
  checkNonNegative(fn, "options.lrDecay", lrDecay);
  let lr: LearningRate = learningRate;
  if (lrDecay > 0) {
    const base = learningRate;
    lr = typeof base === "number" ? (c) => base / (1 + c * lrDecay) : (c) => base(c) / (1 + c * lrDecay);
  }
  return coupledL2(fn, lr, options, () => adaGradTransform(pick(options, ADAGRAD_OPTIONS), fn, "options."));
}

/** Options of `rmsprop`: RMSProp's options plus coupled L2. */
export interface RmsAliasOptions extends RmsOptions, Pick<SgdOptions, "weightDecay" | "weightDecayMask"> {}

/** torch.optim.RMSprop (η = 1e-2, α = 0.99, ε = 1e-8, μ = 0, not centered). */
export function rmsprop(learningRate: LearningRate = 1e-2, options: RmsAliasOptions = {}): OptimizerTransform {
  const fn = "rmsprop";
  checkOptions(fn, "options", options, RMS_KEYS);
  return coupledL2(fn, learningRate, options, () => rmsTransform(pick(options, RMS_OPTIONS), fn, "options."));
}

/** Options of `adadelta`: Adadelta's options plus coupled L2. */
export interface AdadeltaAliasOptions extends AdadeltaOptions, Pick<SgdOptions, "weightDecay" | "weightDecayMask"> {}

/** torch.optim.Adadelta (η = 1, ρ = 0.9, ε = 1e-6). */
export function adadelta(learningRate: LearningRate = 1, options: AdadeltaAliasOptions = {}): OptimizerTransform {
  const fn = "adadelta";
  checkOptions(fn, "options", options, ADADELTA_KEYS);
  return coupledL2(fn, learningRate, options, () => adadeltaTransform(pick(options, ADADELTA_OPTIONS), fn, "options."));
}
