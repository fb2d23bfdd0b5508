/**
 * One training step of an `@ekfac-ts/nn` model under one of the compared optimizers, behind a common
 * interface, so that the demo and the `train` bench suite run exactly the same code.
 *
 * Loss: the mean over the minibatch of the per-example loss (MATH.md §1), here
 * `sigmoidCrossEntropy(logits, pixels)` = (1/N) Σ_n Σ_j softplus(s_nj) − y_nj s_nj (Bernoulli NLL of
 * the pixel intensities, summed over the 784 pixels) for the autoencoder, `softmaxCrossEntropy` for
 * classifiers. The curvature layers capture `ā` and `g·N` (nn's capture). By default the curvature
 * optimizers see the TRUE Fisher (MATH.md §2): g comes from a second backward pass of the loss
 * against targets sampled from the model (Bernoulli(σ(s)) per pixel, or Categorical(softmax s)) through
 * the same graph, as Martens & Grosse (2015 §5) do. The empirical Fisher (`fisher: "empirical"`) is
 * kept as an option: on this autoencoder it made every damping/learning-rate pair we tried either
 * diverge or stall (its steps scale like 1/‖∇‖ along the mean gradient, Kunstner et al. 2019).
 *
 * Optimizers:
 * - `sgd`: heavy-ball momentum (torch.optim.SGD convention: v ← μv + ∇, θ ← θ − ηv);
 * - `adam`: torch.optim.Adam;
 * - `kfac` / `ekfac`: ekfac's `CurvatureOptimizer` (factors every step, eigendecomposition every T_kfe
 *   steps; EKFAC re-estimates S* every T_s steps) followed by the same heavy-ball momentum.
 *
 * Eigendecomposition time is measured by wrapping each block's `updateBasis` (the only place the
 * optimizer eigendecomposes) with a timer: instrumentation of this instance only.
 */
import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { adam, type CurvatureOptimizer, ekfac, KroneckerBlock, kfac, Optimizer, sgd } from "@ekfac-ts/ekfac";
import { type FloatArray, Rng } from "@ekfac-ts/linalg";
import {
  type Sequential,
  sampleBernoulliInto,
  sampleCategoricalInto,
  sigmoidCrossEntropy,
  softmaxCrossEntropy,
} from "@ekfac-ts/nn";

export type OptimizerName = "sgd" | "adam" | "kfac" | "ekfac";
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ["sgd", "adam", "kfac", "ekfac"];

export interface OptimizerConfig {
  readonly name: OptimizerName;
  readonly learningRate: number;
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
  /** κ of KL-clipping (Ba et al. 2017) for kfac/ekfac, or null/undefined for none. */
  readonly klClip?: number | null;
  /**
   * Which Fisher the curvature statistics estimate (kfac, ekfac): "true" (default) backpropagates a
   * second loss against targets SAMPLED from the model's predictive distribution to capture g;
   * "empirical" uses the g of the training loss itself.
   */
  readonly fisher?: "true" | "empirical";
}

/** What the model is trained to do: reconstruct its input, or classify. */
export type Task = { readonly kind: "autoencoder" } | { readonly kind: "classifier"; readonly classes: number };

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
  /** The curvature optimizer's Kronecker blocks (empty for first-order optimizers). */
  readonly blocks: readonly KroneckerBlock[];
}

function lossOf(
  model: Sequential,
  task: Task,
  x: Float32Array,
  n: number,
  inputSize: number,
  labels?: ArrayLike<number>,
) {
  const input = wrap(x.length === n * inputSize ? x : x.subarray(0, n * inputSize), [n, inputSize]);
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
  model.setCapture(false);
  for (let s = 0; s < count; s += chunk) {
    const n = Math.min(chunk, count - s);
    const x = inputs.subarray(s * inputSize, (s + n) * inputSize);
    const y = labels?.subarray(s, s + n);
    const loss = noGradLoss(model, task, x, n, inputSize, y);
    total += loss * n;
  }
  return total / count;
}

function noGradLoss(
  model: Sequential,
  task: Task,
  x: Float32Array,
  n: number,
  inputSize: number,
  labels?: ArrayLike<number>,
): number {
  // Parameters require gradients, so build the graph only under noGrad to avoid a tape.
  return noGrad(() => lossOf(model, task, x, n, inputSize, labels).data[0] as number);
}

/** Builds the trainer for `config` on `model` (whose parameters it updates in place). */
export function makeTrainer(model: Sequential, task: Task, inputSize: number, config: OptimizerConfig): Trainer {
  const params = model.parameters();
  const values = params.map((p) => p.value);
  if (config.name === "sgd" || config.name === "adam") {
    const transform =
      config.name === "sgd"
        ? sgd(config.learningRate, { momentum: config.momentum ?? 0.9 })
        : adam(config.learningRate);
    const opt = new Optimizer(transform, values);
    const grads: FloatArray[] = values.map(() => new Float32Array(0));
    model.setCapture(false);
    return {
      config,
      eigenMs: 0,
      basisRefreshes: 0,
      blocks: [],
      get skipped() {
        return opt.stepsSkipped;
      },
      step(x, n, labels) {
        model.zeroGrad();
        const loss = lossOf(model, task, x, n, inputSize, labels);
        loss.backward();
        for (let i = 0; i < params.length; i++) grads[i] = params[i]?.grad as FloatArray;
        opt.step(grads);
        return loss.data[0] as number;
      },
    };
  }
  const options = {
    learningRate: config.learningRate,
    momentum: config.momentum ?? 0.9,
    damping: config.damping ?? 1e-3,
    basisEvery: config.basisEvery ?? 20,
    scalingEvery: config.scalingEvery ?? 1,
    ...(config.factorsEvery !== undefined ? { factorsEvery: config.factorsEvery } : {}),
    ...(config.factorDecay !== undefined ? { factorDecay: config.factorDecay } : {}),
    ...(config.scalingDecay !== undefined ? { scalingDecay: config.scalingDecay } : {}),
    fisher: config.fisher ?? "true",
    klClip: config.klClip ?? null,
  } as const;
  const opt: CurvatureOptimizer = config.name === "kfac" ? kfac(model, options) : ekfac(model, options);
  // Buffers of the true-Fisher pass, made once (they grow only if the batch does).
  const saved = values.map((v) => new Float32Array(v.length));
  const rng = new Rng(12345);
  let samples = new Float32Array(0);
  let sampledLabels = new Int32Array(0);
  const sampleBuffer = (size: number) => {
    if (samples.length !== size) samples = new Float32Array(size);
    return samples;
  };
  const labelBuffer = (size: number) => {
    if (sampledLabels.length !== size) sampledLabels = new Int32Array(size);
    return sampledLabels;
  };
  let eigenMs = 0;
  const blocks: KroneckerBlock[] = [];
  for (const l of opt.adapter.layers) {
    const block = l.block;
    if (!(block instanceof KroneckerBlock)) continue;
    blocks.push(block);
    const inner = block.updateBasis.bind(block);
    block.updateBasis = () => {
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
      return opt.stats.basisRefreshes;
    },
    get skipped() {
      return opt.stats.skippedSteps;
    },
    step(x, n, labels) {
      const capture = opt.wantsStatistics;
      model.setCapture(capture);
      model.zeroGrad();
      if (!capture || options.fisher === "empirical") {
        const loss = lossOf(model, task, x, n, inputSize, labels);
        loss.backward();
        opt.step();
        return loss.data[0] as number;
      }
      // True Fisher: backpropagate the training loss (keeping the graph), save the gradients, then
      // backpropagate the loss against sampled targets through the same graph — the capture hooks
      // keep the g of this LAST pass — and restore the training gradients.
      const input = wrap(x.length === n * inputSize ? x : x.subarray(0, n * inputSize), [n, inputSize]);
      const logits = model.forward(input);
      const loss =
        task.kind === "autoencoder"
          ? sigmoidCrossEntropy(logits, input)
          : softmaxCrossEntropy(logits, labels as ArrayLike<number>);
      loss.backward(undefined, { retainGraph: true });
      for (let i = 0; i < params.length; i++) (saved[i] as FloatArray).set(params[i]?.grad as FloatArray);
      const sampledLoss =
        task.kind === "autoencoder"
          ? sigmoidCrossEntropy(logits, wrap(sampleBernoulliInto(sampleBuffer(logits.size), logits, rng), logits.shape))
          : softmaxCrossEntropy(logits, sampleCategoricalInto(labelBuffer(n), logits, rng));
      sampledLoss.backward();
      for (let i = 0; i < params.length; i++) {
        const grad = params[i]?.grad;
        if (grad) grad.set(saved[i] as FloatArray);
      }
      opt.step();
      return loss.data[0] as number;
    },
  };
}
