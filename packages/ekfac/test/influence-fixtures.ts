/**
 * Test fixtures for the influence tests: an nn model, a classification data set, training, and batch
 * callbacks that follow the contract of common.ts (seeded sampling per batch, so that every pass of a
 * fit draws the same targets and the exact reference sees the same Fisher).
 */
import { wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { mlp, type Sequential, sampleCategorical, softmaxCrossEntropy } from "@ekfac-ts/nn";
import type { InfluenceBatch } from "../src/influence/common.ts";
import { adam } from "../src/optim/aliases.ts";
import { Optimizer } from "../src/optim/optimizer.ts";

export interface Data {
  readonly x: Float64Array;
  readonly y: Int32Array;
  readonly dim: number;
  readonly n: number;
}

/** Gaussian blobs: class c has mean μ_c (|μ| ~ spread), unit noise. */
export function blobData(seed: number, n: number, dim: number, classes: number, spread = 1.2): Data {
  const rng = new Rng(seed);
  const centers = Array.from({ length: classes * dim }, () => spread * rng.normal());
  const x = new Float64Array(n * dim);
  const y = new Int32Array(n);
  for (let e = 0; e < n; e++) {
    const c = Math.floor(rng.uniform() * classes) % classes;
    y[e] = c;
    for (let j = 0; j < dim; j++) x[e * dim + j] = (centers[c * dim + j] as number) + rng.normal();
  }
  return { x, y, dim, n };
}

/** Multiplies each example by exp(σ·z), z ~ N(0, 1): examples of varied norm (seeded). */
export function varyNorms(d: Data, sigma: number, seed: number): Data {
  const rng = new Rng(seed);
  const x = d.x.slice();
  for (let e = 0; e < d.n; e++) {
    const s = Math.exp(sigma * rng.normal());
    for (let j = 0; j < d.dim; j++) x[e * d.dim + j] = (x[e * d.dim + j] as number) * s;
  }
  return { ...d, x };
}

/** Flips round(fraction·N) labels (chosen without replacement) to another class; returns the flipped indices. */
export function flipLabels(
  d: Data,
  fraction: number,
  classes: number,
  seed: number,
): { data: Data; flipped: number[] } {
  const rng = new Rng(seed);
  const idx = Array.from({ length: d.n }, (_, i) => i);
  for (let i = d.n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1)) % (i + 1);
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  const flipped = idx.slice(0, Math.round(fraction * d.n)).sort((a, b) => a - b);
  const y = d.y.slice();
  for (const i of flipped)
    y[i] = ((y[i] as number) + 1 + (Math.floor(rng.uniform() * (classes - 1)) % (classes - 1))) % classes;
  return { data: { ...d, y }, flipped };
}

/** A contiguous slice of a data set. */
export function slice(d: Data, from: number, to: number): Data {
  return { x: d.x.slice(from * d.dim, to * d.dim), y: d.y.slice(from, to), dim: d.dim, n: to - from };
}

/** Batch callbacks over `d` in order, `bs` examples each; "sampled" draws with Rng(seed + batch). */
export function batchesOf(model: Sequential, d: Data, bs: number, seed = 1000): InfluenceBatch[] {
  const out: InfluenceBatch[] = [];
  for (let o = 0, b = 0; o < d.n; o += bs, b++) {
    const n = Math.min(bs, d.n - o);
    const x = d.x.slice(o * d.dim, (o + n) * d.dim);
    const y = d.y.slice(o, o + n);
    const batchSeed = seed + b;
    out.push((targets) => {
      model.zeroGrad();
      const logits = model.forward(wrap(x, [n, d.dim]));
      const labels = targets === "labels" ? y : sampleCategorical(logits, new Rng(batchSeed));
      softmaxCrossEntropy(logits, labels).backward();
    });
  }
  return out;
}

/** A float64 MLP trained full-batch with Adam on `d` for `steps` steps. */
export function trainedMlp(sizes: readonly number[], d: Data, steps: number, seed: number, lr = 0.02): Sequential {
  const model = mlp(sizes, "tanh", { seed, dtype: "float64" });
  const params = model.parameters();
  const opt = new Optimizer(
    adam(lr),
    params.map((p) => p.value),
  );
  model.setCapture(false);
  for (let s = 0; s < steps; s++) {
    model.zeroGrad();
    softmaxCrossEntropy(model.forward(wrap(d.x, [d.n, d.dim])), d.y).backward();
    opt.step(params.map((p) => p.grad as Float64Array));
  }
  return model;
}
