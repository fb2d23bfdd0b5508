/**
 * What the two Fisher-approximation suites share (`fisher`, in sample; `fisher-heldout`, out of sample):
 * the study's sizes and the training run they measure along — the demo autoencoder (sparse
 * initialisation) trained by Adam (η = 3e-3), so the trajectory does not depend on the curvature
 * approximations under study. Seed 3 for the data split, the weights and the minibatch order.
 */

import { join } from "node:path";
import type { CaptureRequest, BatchLayer as CurvatureLayer, LayerBatch as LayerStatistics } from "@ekfac-ts/ekfac";
import { deepAutoencoder } from "@ekfac-ts/nn";
import { type MnistSplit, mnistPackageSplit, PIXELS } from "../data/mnist.ts";
import { sparseInit } from "../demo/experiment.ts";
import { writeTextAtomic } from "../demo/report.ts";
import { makeTrainer } from "../demo/trainer.ts";
import type { BenchRecord } from "../harness.ts";
import { linePlot } from "../plot/svg.ts";

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

/** The mean of a list (0 for an empty one). */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** The upper median of a list (NaN for an empty one). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[s.length >> 1] as number);
}

/** What an error-vs-age plot shows: `rel[layer][kind][ageIndex]` lists the errors over windows. */
export interface AgePlot<K extends string> {
  readonly file: string;
  readonly title: string;
  readonly yLabel: string;
  readonly ages: readonly number[];
  readonly kinds: readonly K[];
  readonly label: Readonly<Record<K, string>>;
  readonly dashed: readonly K[];
  readonly rel: readonly Readonly<Record<K, readonly (readonly number[])[]>>[];
}

/** Writes `results/bench/<file>` (atomically): per approximation, the mean over layers and windows vs age, log y. */
export function writeAgePlot<K extends string>(p: AgePlot<K>): string {
  const series = p.kinds.map((k) => ({
    name: p.label[k],
    points: p.ages.map((age, ai) => [age, mean(p.rel.map((r) => mean(r[k][ai] ?? [])))] as const),
    dashed: p.dashed.includes(k),
  }));
  const svg = linePlot({
    title: p.title,
    xLabel: "steps since the eigenbasis / factors were computed",
    yLabel: p.yLabel,
    series,
    logY: true,
  });
  const path = join("results", "bench", p.file);
  writeTextAtomic(path, svg);
  return path;
}

/** One record per layer and approximation: its error at each age (mean over windows) and the spread. */
export function ageRecords<K extends string>(
  suite: string,
  layers: readonly CurvatureLayer[],
  p: Pick<AgePlot<K>, "ages" | "kinds" | "label" | "rel">,
  extra: { readonly shape: string; readonly medianMs: number; readonly ok: boolean; readonly error: string },
): BenchRecord[] {
  const last = p.ages.length - 1;
  return layers.flatMap((l, li) =>
    p.kinds.map((k) => {
      const windows = p.rel[li]?.[k] ?? [];
      const byAge = windows.map(mean);
      return {
        suite,
        case: `layer ${l.name} ${l.inDim}→${l.outDim}`,
        impl: p.label[k],
        shape: `${l.outDim}×${l.inDim + 1} (P=${l.outDim * (l.inDim + 1)}), ${extra.shape}`,
        median_ms: extra.medianMs,
        check: `${extra.error} ${byAge[0]?.toFixed(3)} (age 0) → ${byAge[last]?.toFixed(3)} (age ${p.ages[last]})`,
        ok: extra.ok,
        ages: p.ages,
        relativeError: byAge,
        relativeErrorStd: windows.map(std),
      };
    }),
  );
}

/** The sample standard deviation of a list (0 for fewer than two items). */
export function std(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
}
