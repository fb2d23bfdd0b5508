/**
 * What the two Fisher-approximation suites share (`fisher`, in sample; `fisher-heldout`, out of sample):
 * the study's sizes and the training run they measure along — the demo autoencoder (sparse
 * initialisation) trained by Adam (η = 3e-3), so the trajectory does not depend on the curvature
 * approximations under study. Seed 3 for the data split, the weights and the minibatch order.
 */
import type { CaptureRequest, BatchLayer as CurvatureLayer, LayerBatch as LayerStatistics } from "@ekfac-ts/ekfac";
import { deepAutoencoder } from "@ekfac-ts/nn";
import { type MnistSplit, mnistPackageSplit, PIXELS } from "../data/mnist.ts";
import { sparseInit } from "../demo/experiment.ts";
import { makeTrainer } from "../demo/trainer.ts";

/** Sizes of a staleness study: `warmup` Adam steps, then `windows` windows of `window` steps (= T_kfe). */
export interface StudyConfig {
  readonly sizes: readonly number[];
  readonly batch: number;
  readonly warmup: number;
  readonly windows: number;
  /** Window length (= T_kfe of the study). */
  readonly window: number;
  /** Basis ages (steps since the window's first minibatch) at which the approximations are scored. */
  readonly ages: readonly number[];
  readonly trainCount: number;
}

/** The full study: autoencoder 784-256-64-16-…, batch 128, 3 windows of 40 steps. */
export const STUDY_FULL: StudyConfig = {
  sizes: [784, 256, 64, 16],
  batch: 128,
  warmup: 60,
  windows: 3,
  window: 40,
  ages: [0, 1, 2, 4, 8, 12, 16, 24, 32, 39],
  trainCount: 8000,
};

/** CI's smoke size. */
export const STUDY_SMOKE: StudyConfig = {
  sizes: [784, 32, 16, 8],
  batch: 24,
  warmup: 2,
  windows: 1,
  window: 4,
  ages: [0, 1, 3],
  trainCount: 1000,
};

/** The block shape of a captured layer. */
export function shapeOf(l: CurvatureLayer) {
  return { kind: l.kind, outDim: l.outDim, inDim: l.inDim, hasBias: l.hasBias, groups: l.groups };
}

/** A float64 deep copy of captured statistics (the layer reuses its capture buffers on the next pass). */
export function copyStats(s: LayerStatistics): LayerStatistics {
  return { batchSize: s.batchSize, positions: s.positions, a: Float64Array.from(s.a), g: Float64Array.from(s.g) };
}

/** The training run a study measures along. */
export interface AdamAutoencoder {
  readonly data: MnistSplit;
  readonly layers: readonly CurvatureLayer[];
  readonly model: ReturnType<typeof deepAutoencoder>;
  /**
   * One Adam step on the next minibatch. With a capture request, returns copies of the statistics of
   * that minibatch at the parameters before the step ("empirical": the loss's own g; "true": sampled
   * targets); with null, captures nothing and returns [].
   */
  step(request: CaptureRequest | null): LayerStatistics[];
}

export function adamAutoencoder(cfg: StudyConfig): AdamAutoencoder {
  const data = mnistPackageSplit(3, cfg.trainCount);
  const model = deepAutoencoder({ sizes: cfg.sizes, seed: 3 });
  sparseInit(model, 3);
  const trainer = makeTrainer(model, { kind: "autoencoder" }, PIXELS, { name: "adam", learningRate: 3e-3 });
  const layers = model.curvatureLayers();
  const perEpoch = Math.floor(data.train.count / cfg.batch);
  let cursor = 0;
  return {
    data,
    layers,
    model,
    step(request) {
      const b = cursor % perEpoch;
      cursor++;
      if (request === null) model.setCapture(false);
      else model.setCapture(true, request);
      trainer.step(data.train.images.subarray(b * cfg.batch * PIXELS, (b + 1) * cfg.batch * PIXELS), cfg.batch);
      const out = request === null ? [] : layers.map((l) => copyStats(l.statistics as LayerStatistics));
      model.setCapture(false);
      return out;
    },
  };
}
