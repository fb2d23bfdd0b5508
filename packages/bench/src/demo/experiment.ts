/**
 * The autoencoder experiment of George et al. (2018) §4.1 / Martens & Grosse (2015) §13, scaled to a
 * CPU: train the same deep autoencoder from the SAME initial weights, on the SAME sequence of
 * minibatches, with each optimizer, and record the training loss against epochs and against
 * wall-clock seconds.
 *
 * Measurement rules:
 * - wall-clock counts only training steps (forward, backward, optimizer); the loss evaluations that
 *   draw the curves are excluded (they are the same for every optimizer and not part of training);
 * - the curve's "training loss" is the mean loss over a fixed subset of the training set
 *   (`curveExamples` rows, no gradients), evaluated `pointsPerEpoch` times per epoch; the final
 *   training loss is over the whole training set, the test loss over the held-out test set;
 * - eigendecomposition time is the time inside the blocks' `updateBasis` (see trainer.ts).
 */
import { Rng } from "@ekfac-ts/linalg";
import { type Activation, BatchLoader, deepAutoencoder, type Sequential } from "@ekfac-ts/nn";
import type { ImageSet } from "../data/mnist.ts";
import { PIXELS } from "../data/mnist.ts";
import { Progress } from "./progress.ts";
import { evaluate, makeTrainer, type OptimizerConfig } from "./trainer.ts";

export interface ExperimentConfig {
  /** Encoder sizes, mirrored for the decoder (nn's `deepAutoencoder`). */
  readonly sizes: readonly number[];
  readonly activation: Activation;
  /** Initial weights: nn's default (PyTorch's) or Martens' sparse initialisation. */
  readonly init: "default" | "sparse";
  /** Seeds the initial weights (identical for every optimizer) and the minibatch order. */
  readonly seed: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly pointsPerEpoch: number;
  /** Rows of the training set used to draw the curves. */
  readonly curveExamples: number;
}

export interface CurvePoint {
  readonly step: number;
  readonly epoch: number;
  /** Training wall-clock seconds so far (evaluations excluded). */
  readonly seconds: number;
  readonly trainLoss: number;
}

export interface RunResult {
  readonly optimizer: string;
  readonly config: OptimizerConfig;
  readonly curve: CurvePoint[];
  readonly steps: number;
  readonly finalTrainLoss: number;
  readonly testLoss: number;
  readonly wallSeconds: number;
  readonly msPerStep: number;
  readonly eigenSeconds: number;
  readonly basisRefreshes: number;
  readonly skippedSteps: number;
  /** Mean minibatch loss of each epoch (a by-product of training, for reference). */
  readonly epochMeanLoss: number[];
}

/**
 * Martens' (2010) sparse initialisation, used by the KFAC autoencoder experiments (Martens & Grosse
 * 2015 §13): each unit gets `fanIn` nonzero incoming weights drawn from N(0, 1), the others and the
 * biases are 0. PyTorch's default (uniform ±1/√d_in) leaves this deep sigmoid network on the
 * "mean image" plateau for many epochs with SGD; the sparse start is the one the papers compare on.
 */
export function sparseInit(model: Sequential, seed: number, fanIn = 15): void {
  const rng = new Rng(seed);
  for (const l of model.curvatureLayers()) {
    const w = l.weight.value;
    w.fill(0);
    const k = Math.min(fanIn, l.inDim);
    const cols = new Uint32Array(l.inDim);
    for (let r = 0; r < l.outDim; r++) {
      rng.permutation(l.inDim, cols);
      for (let j = 0; j < k; j++) w[r * l.inDim + (cols[j] as number)] = rng.normal();
    }
    l.bias?.value.fill(0);
  }
}

export function runOptimizer(
  train: ImageSet,
  test: ImageSet,
  exp: ExperimentConfig,
  config: OptimizerConfig,
  label: string,
): RunResult {
  const model = deepAutoencoder({ sizes: exp.sizes, activation: exp.activation, seed: exp.seed });
  if (exp.init === "sparse") sparseInit(model, exp.seed);
  const task = { kind: "autoencoder" } as const;
  const trainer = makeTrainer(model, task, PIXELS, config);
  // dropLast: every step sees exactly batchSize examples (the curvature statistics assume a fixed N).
  const loader = new BatchLoader(
    { inputs: train.images, targets: train.labels, count: train.count },
    { batchSize: exp.batchSize, rng: new Rng(exp.seed + 1), dropLast: true },
  );
  const perEpoch = loader.batchesPerEpoch;
  const total = perEpoch * exp.epochs;
  const curveCount = Math.min(exp.curveExamples, train.count);
  const curveLoss = () => evaluate(model, task, train.images, curveCount, PIXELS);
  const evalEvery = Math.max(1, Math.round(perEpoch / exp.pointsPerEpoch));
  const curve: CurvePoint[] = [{ step: 0, epoch: 0, seconds: 0, trainLoss: curveLoss() }];
  const progress = new Progress({ label, total });
  const epochMeanLoss: number[] = [];
  let seconds = 0;
  let step = 0;
  let last = curve[0]?.trainLoss ?? Number.NaN;
  for (let e = 0; e < exp.epochs; e++) {
    let sum = 0;
    let b = 0;
    for (const batch of loader.epoch()) {
      const t0 = performance.now();
      const loss = trainer.step(batch.inputs, batch.size);
      seconds += (performance.now() - t0) / 1000;
      step++;
      b++;
      sum += loss;
      last = loss;
      const endOfEpoch = b === perEpoch;
      if (step % evalEvery === 0 || endOfEpoch) {
        const point = { step, epoch: step / perEpoch, seconds, trainLoss: curveLoss() };
        if (curve[curve.length - 1]?.step !== step) curve.push(point);
      }
      progress.update(step, seconds, last);
    }
    epochMeanLoss.push(sum / Math.max(1, b));
  }
  const finalTrainLoss = evaluate(model, task, train.images, train.count, PIXELS);
  const testLoss = evaluate(model, task, test.images, test.count, PIXELS);
  const result: RunResult = {
    optimizer: label,
    config,
    curve,
    steps: step,
    finalTrainLoss,
    testLoss,
    wallSeconds: seconds,
    msPerStep: (1000 * seconds) / Math.max(1, step),
    eigenSeconds: trainer.eigenMs / 1000,
    basisRefreshes: trainer.basisRefreshes,
    skippedSteps: trainer.skipped,
    epochMeanLoss,
  };
  progress.finish(
    `done: train ${finalTrainLoss.toFixed(3)} test ${testLoss.toFixed(3)} in ${seconds.toFixed(1)} s (${result.msPerStep.toFixed(1)} ms/step, eig ${result.eigenSeconds.toFixed(1)} s)`,
  );
  return result;
}
