/**
 * One run of the equal-time protocol: train `network` with `config` from the seed's initial weights on
 * the seed's minibatch sequence until `budget` seconds of training steps have been spent.
 *
 * - Minibatches: epoch after epoch, each a fresh permutation of the training set drawn from
 *   `Rng(seed + 100)` (the robust suite's convention), full batches only; the same sequence for every
 *   optimizer of a seed, however many epochs each gets through.
 * - Clock: only `trainer.step` (forward, backward, optimizer) is timed; curve and final evaluations
 *   are excluded. The run stops at the first step that ends at or past the budget; the curve is then
 *   cut at the budget exactly (stats.ts `truncateCurve`), and the final losses are those of the
 *   weights after that step (overshoot ≤ one step, reported as `seconds`).
 * - Curve: the loss on the first `curveExamples` training digits (eval mode, no gradients) at step 0,
 *   every `budget / CURVE_POINTS` seconds of training, and at the end of each of the first
 *   `EPOCH_POINTS` epochs (so equal-epoch comparisons interpolate between exact epoch points).
 * - Final: the loss on the whole training subset and on the test set, and test accuracy for
 *   classifiers, all in eval mode (BatchNorm uses its running statistics).
 * - A run that throws or whose minibatch loss turns non-finite stops there and counts as diverged
 *   (final losses +∞, the reason in `error`).
 */
import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import type { Sequential } from "@ekfac-ts/nn";
import { gatherBatch, type ImageSet, PIXELS } from "../data/mnist.ts";
import type { CurvePoint } from "../demo/experiment.ts";
import { evaluate, makeTrainer, type OptimizerConfig, type Task } from "../demo/trainer.ts";
import type { Network } from "./problems.ts";
import { truncateCurve } from "./stats.ts";

export const CURVE_POINTS = 24;
export const EPOCH_POINTS = 16;

export interface BudgetRun {
  readonly seed: number;
  /** Training-subset loss against steps, epochs and training seconds, cut at the budget. */
  readonly curve: CurvePoint[];
  readonly steps: number;
  /** Epochs completed (fractional) when the budget ran out. */
  readonly epochs: number;
  /** Training seconds actually spent (≥ budget by less than one step, unless diverged). */
  readonly seconds: number;
  readonly finalTrainLoss: number;
  readonly testLoss: number;
  /** Test accuracy (classifiers), null for the autoencoder. */
  readonly testAccuracy: number | null;
  readonly msPerStep: number;
  /** Share of the training time spent in eigendecompositions (basis refreshes). */
  readonly eigenShare: number;
  readonly basisRefreshes: number;
  readonly skipped: number;
  readonly error?: string;
}

export interface RunSpec {
  readonly network: Network;
  readonly config: OptimizerConfig;
  readonly seed: number;
  readonly budget: number;
  readonly train: ImageSet;
  readonly test: ImageSet;
  readonly curveExamples: number;
  readonly evalChunk: number;
  /** Called with every curve point as it is measured (progress output). */
  readonly onPoint?: (point: CurvePoint) => void;
}

function inputShape(task: Task): number[] {
  return task.kind === "classifier" && task.inputShape !== undefined ? [...task.inputShape] : [PIXELS];
}

/** Fraction of `set` whose argmax logit is its label, in chunks. */
export function accuracy(model: Sequential, task: Task, set: ImageSet, chunk: number): number {
  const classes = task.kind === "classifier" ? task.classes : 0;
  let correct = 0;
  for (let s = 0; s < set.count; s += chunk) {
    const n = Math.min(chunk, set.count - s);
    const x = set.images.subarray(s * PIXELS, (s + n) * PIXELS);
    const out = noGrad(() => model.forward(wrap(x, [n, ...inputShape(task)])).data);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++)
        if ((out[i * classes + c] as number) > (out[i * classes + best] as number)) best = c;
      if (best === set.labels[s + i]) correct++;
    }
  }
  return correct / set.count;
}

export function runForBudget(spec: RunSpec): BudgetRun {
  try {
    return runOnce(spec);
  } catch (err) {
    return diverged(spec.seed, [], 0, 0, 0, String(err));
  }
}

function diverged(seed: number, curve: CurvePoint[], steps: number, epochs: number, seconds: number, error: string) {
  return {
    seed,
    curve,
    steps,
    epochs,
    seconds,
    finalTrainLoss: Number.POSITIVE_INFINITY,
    testLoss: Number.POSITIVE_INFINITY,
    testAccuracy: null,
    msPerStep: steps > 0 ? (1000 * seconds) / steps : Number.NaN,
    eigenShare: Number.NaN,
    basisRefreshes: 0,
    skipped: 0,
    error,
  };
}

function runOnce(spec: RunSpec): BudgetRun {
  const { network, train, test, budget, seed } = spec;
  const { task, batch } = network;
  const model = network.build(seed);
  const trainer = makeTrainer(model, task, PIXELS, spec.config);
  const order = new Rng(seed + 100);
  const labels = task.kind === "classifier" ? train.labels : undefined;
  const curveCount = Math.min(spec.curveExamples, train.count);
  const evalMode = <T>(f: () => T): T => {
    model.eval();
    try {
      return f();
    } finally {
      model.train();
    }
  };
  const curveLoss = () =>
    evalMode(() => evaluate(model, task, train.images, curveCount, PIXELS, labels, spec.evalChunk));
  const perEpoch = Math.floor(train.count / batch);
  if (perEpoch < 1) throw new RangeError(`runForBudget: ${train.count} digits make no batch of ${batch}`);
  const x = new Float32Array(batch * PIXELS);
  const y = new Int32Array(batch);
  const curve: CurvePoint[] = [{ step: 0, epoch: 0, seconds: 0, trainLoss: curveLoss() }];
  const every = budget / CURVE_POINTS;
  let nextEval = every;
  let seconds = 0;
  let step = 0;
  while (seconds < budget) {
    const perm = order.permutation(train.count);
    for (let b = 0; b < perEpoch && seconds < budget; b++) {
      gatherBatch(train, perm, b * batch, batch, x, y);
      const t0 = performance.now();
      const loss = trainer.step(x, batch, task.kind === "classifier" ? y : undefined);
      seconds += (performance.now() - t0) / 1000;
      step++;
      if (!Number.isFinite(loss)) {
        return diverged(seed, curve, step, step / perEpoch, seconds, `non-finite minibatch loss at step ${step}`);
      }
      const epochEnd = step % perEpoch === 0 && step / perEpoch <= EPOCH_POINTS;
      if (seconds >= nextEval || epochEnd || seconds >= budget) {
        const point = { step, epoch: step / perEpoch, seconds, trainLoss: curveLoss() };
        curve.push(point);
        spec.onPoint?.(point);
        while (nextEval <= seconds) nextEval += every;
      }
    }
  }
  const finalTrainLoss = evalMode(() =>
    evaluate(model, task, train.images, train.count, PIXELS, labels, spec.evalChunk),
  );
  const testLoss = evalMode(() =>
    evaluate(
      model,
      task,
      test.images,
      test.count,
      PIXELS,
      task.kind === "classifier" ? test.labels : undefined,
      spec.evalChunk,
    ),
  );
  const testAccuracy = task.kind === "classifier" ? evalMode(() => accuracy(model, task, test, spec.evalChunk)) : null;
  return {
    seed,
    curve: truncateCurve(curve, "seconds", budget),
    steps: step,
    epochs: step / perEpoch,
    seconds,
    finalTrainLoss,
    testLoss,
    testAccuracy,
    msPerStep: (1000 * seconds) / Math.max(1, step),
    eigenShare: trainer.eigenMs / 1000 / Math.max(seconds, 1e-9),
    basisRefreshes: trainer.basisRefreshes,
    skipped: trainer.skipped,
  };
}
