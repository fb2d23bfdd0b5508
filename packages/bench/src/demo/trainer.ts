/**
 * One training step of an `@ekfac-ts/nn` model under one of the compared optimizers, behind a common
 * interface, so that the demo and the bench suites run exactly the same code — and the same code a
 * user writes: forward → nn loss → backward → `Optimizer.step()`, for every optimizer.
 *
 * Loss: the mean over the minibatch of the per-example loss (MATH.md §1), here
 * `sigmoidCrossEntropy(logits, pixels)` = (1/N) Σ_n Σ_j softplus(s_nj) − y_nj s_nj (Bernoulli NLL of
 * the pixel intensities, summed over the 784 pixels) for the autoencoder, `softmaxCrossEntropy` for
 * classifiers.
 *
 * Optimizers (ekfac's transforms, run by its one `Optimizer` bound to the model's parameters):
 * - `sgd`: heavy-ball momentum (torch.optim.SGD convention: v ← μv + ∇, θ ← θ − ηv);
 * - `adam`: torch.optim.Adam;
 * - `kfac` / `ekfac`: the curvature chain. Without a learning rate in the config: the library's adaptive
 *   step control (quadratic-model α and μ, Levenberg–Marquardt λ; the trainer passes the loss closure
 *   on the same minibatch to `Optimizer.step`); with one: fixed step control (curvature → momentum →
 *   learning rate). The optimizer asks the model to capture what each step needs (`setCapture`), and
 *   nn's loss runs the Fisher pass the optimizer requested (by default the true Fisher by curvature
 *   propagation, MATH.md §2). Options left undefined in the config keep the library defaults.
 *
 * Eigendecomposition time is measured by wrapping each block's `refreshBasis` (the only place the
 * optimizer eigendecomposes) with a timer: instrumentation of this instance only.
 */
import { noGrad, wrap } from "@ekfac-ts/autodiff";
import {
  adam,
  type CurvatureBlock,
  type CurvatureOptimizerOptions,
  type CurvatureStepInfo,
  ekfac,
  type FisherMode,
  kfac,
  Optimizer,
  sgd,
} from "@ekfac-ts/ekfac";
import { type Sequential, sigmoidCrossEntropy, softmaxCrossEntropy } from "@ekfac-ts/nn";

export type OptimizerName = "sgd" | "adam" | "kfac" | "ekfac";
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ["sgd", "adam", "kfac", "ekfac"];

export interface OptimizerConfig {
  readonly name: OptimizerName;
  /** η (required for sgd/adam; kfac/ekfac: fixed step control, undefined: adaptive). */
  readonly learningRate?: number;
  /** Adam's ε (adam only; undefined: the library default 1e-8). */
  readonly adamEps?: number;
  /** Heavy-ball momentum μ (sgd, kfac, ekfac). */
  readonly momentum?: number;
  /** ε (kfac, ekfac). */
  readonly damping?: number;
  /** T_kfe: steps between eigendecompositions (kfac: between inverses). */
  readonly basisEvery?: number;
  /** T_s: steps between S* re-estimates (ekfac). */
  readonly scalingEvery?: number;
  /** Steps between factor (A, G) updates; EKFAC only needs them at a basis refresh (Algorithm 1). */
  readonly factorsEvery?: number;
  /** Moving-average decay of the factors A, G. */
  readonly factorDecay?: number;
  /** Moving-average decay of S (ekfac). */
  readonly scalingDecay?: number;
  /** κ of KL-clipping (Ba et al. 2017) for kfac/ekfac, null for none; undefined: the library default. */
  readonly klClip?: number | null;
  /** Which Fisher the curvature statistics estimate (kfac, ekfac); undefined: the library default ("curvature-prop"). */
  readonly fisher?: FisherMode;
  /** Arithmetic of the per-step rotations (kfac, ekfac); undefined: the library default ("float32"). */
  readonly precision?: "float32" | "float64";
  /** kfac/ekfac: the fraction of each minibatch the curvature statistics use (undefined: the library default, 1). */
  readonly statisticsFraction?: number;
  /** Adaptive step control only: adapt λ (undefined: the library default, true). */
  readonly adaptiveDamping?: boolean;
  /** Adaptive step control only: the Levenberg–Marquardt rule's interval / decay (undefined: the library default). */
  readonly dampingAdaptation?: { readonly interval?: number; readonly decay?: number };
  /** Adaptive step control only: statistics-only steps first (undefined: the library default). */
  readonly burnIn?: number;
  /** Adaptive step control only: the blocks' damping γ (null: γ = λ; undefined: the library default). */
  readonly preconditionerDamping?: number | null;
  /** Adaptive step control only: β_max of α's running averages (0: none; undefined: the library default). */
  readonly rateAveraging?: number;
}

/** What the model is trained to do: reconstruct its input, or classify. */
export type Task =
  | { readonly kind: "autoencoder" }
  | {
      readonly kind: "classifier";
      readonly classes: number;
      /** Shape of one input row for the model (default [inputSize]; e.g. [1, 28, 28] for a CNN). */
      readonly inputShape?: readonly number[];
    };

export interface Trainer {
  readonly config: OptimizerConfig;
  /** One step on `n` rows of `x` (`n × inputSize`; labels for classifiers). Returns the minibatch loss. */
  step(x: Float32Array, n: number, labels?: ArrayLike<number>): number;
  /** Milliseconds spent in basis refreshes (eigendecompositions) so far. */
  readonly eigenMs: number;
  /** Basis refreshes so far (per step, not per layer). */
  readonly basisRefreshes: number;
  /** Steps skipped for non-finite values. */
  readonly skipped: number;
  /** Steps the adaptive step control withdrew because they raised their minibatch's loss. */
  readonly withdrawn: number;
  /** The curvature transform's blocks (empty for first-order optimizers). */
  readonly blocks: readonly CurvatureBlock[];
  /** The curvature report of the last step (λ, α, μ, ρ, …), null for first-order optimizers. */
  readonly lastCurvature: CurvatureStepInfo | null;
}

function lossOf(
  model: Sequential,
  task: Task,
  x: Float32Array,
  n: number,
  inputSize: number,
  labels?: ArrayLike<number>,
) {
  const shape = task.kind === "classifier" && task.inputShape !== undefined ? task.inputShape : [inputSize];
  const input = wrap(x.length === n * inputSize ? x : x.subarray(0, n * inputSize), [n, ...shape]);
  const out = model.forward(input);
  if (task.kind === "autoencoder") return sigmoidCrossEntropy(out, input);
  if (labels === undefined) throw new TypeError("Trainer.step: a classifier needs labels");
  return softmaxCrossEntropy(out, labels);
}

/** The mean loss of `model` on `count` rows, without gradients, in chunks of `chunk` rows. */
export function evaluate(
  model: Sequential,
  task: Task,
  inputs: Float32Array,
  count: number,
  inputSize: number,
  labels?: Int32Array,
  chunk = 1000,
): number {
  let total = 0;
  // noGrad: evaluation neither captures nor disturbs the optimizer's statistics (nn Module.capturesThisPass).
  for (let s = 0; s < count; s += chunk) {
    const n = Math.min(chunk, count - s);
    const x = inputs.subarray(s * inputSize, (s + n) * inputSize);
    const y = labels?.subarray(s, s + n);
    // Parameters require gradients, so build the graph only under noGrad to avoid a tape.
    const loss = noGrad(() => lossOf(model, task, x, n, inputSize, y).data[0] as number);
    total += loss * n;
  }
  return total / count;
}

/** The transform for `config` (library defaults for every option the config leaves undefined). */
export function transformFor(model: Sequential, config: OptimizerConfig) {
  if (config.name === "sgd" || config.name === "adam") {
    const lr = config.learningRate;
    if (lr === undefined) throw new TypeError(`transformFor: ${config.name} needs a learningRate`);
    const chain =
      config.name === "sgd"
        ? sgd(lr, { momentum: config.momentum ?? 0.9 })
        : adam(lr, config.adamEps === undefined ? {} : { eps: config.adamEps });
    return { chain, blocks: [], curvature: null };
  }
  // Only what the config sets: everything else keeps the library default (exactOptionalPropertyTypes).
  const { name: _name, adamEps: _eps, ...options } = config;
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const chain = (config.name === "kfac" ? kfac : ekfac)(model, defined as unknown as CurvatureOptimizerOptions);
  return { chain, blocks: chain.curvature.blocks.map((b) => b.block), curvature: chain.curvature };
}

/** Builds the trainer for `config` on `model` (whose parameters it updates in place). */
export function makeTrainer(model: Sequential, task: Task, inputSize: number, config: OptimizerConfig): Trainer {
  const { chain, blocks } = transformFor(model, config);
  const opt = new Optimizer(chain, model);
  let eigenMs = 0;
  let basisRefreshes = 0;
  let lastCurvature: CurvatureStepInfo | null = null;
  for (const block of blocks) {
    const inner = block.refreshBasis.bind(block);
    block.refreshBasis = () => {
      const t0 = performance.now();
      const r = inner();
      eigenMs += performance.now() - t0;
      return r;
    };
  }
  return {
    config,
    blocks,
    get eigenMs() {
      return eigenMs;
    },
    get basisRefreshes() {
      return basisRefreshes;
    },
    get skipped() {
      return opt.stepsSkipped - opt.stepsWithdrawn;
    },
    get withdrawn() {
      return opt.stepsWithdrawn;
    },
    get lastCurvature() {
      return lastCurvature;
    },
    step(x, n, labels) {
      model.zeroGrad();
      const loss = lossOf(model, task, x, n, inputSize, labels);
      loss.backward();
      // The same minibatch at the current parameters, asked for by the adaptive step control before and
      // after the update; before it, the parameters are this forward pass's, whose loss is at hand. After
      // it, `replay` draws this step's Dropout masks again (nn's Module.replay).
      const value = loss.data[0] as number;
      const after = (): number => model.replay(() => lossOf(model, task, x, n, inputSize, labels).data[0] as number);
      const report = opt.step((when) => (when === "before" ? value : noGrad(after)));
      lastCurvature = report.curvature;
      if (report.curvature?.basisRefreshed) basisRefreshes++;
      return value;
    },
  };
}
