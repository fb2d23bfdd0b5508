/**
 * What adaptive step control's gradient-noise estimate (`rateAveraging`, ekfac's optim/curvature.ts;
 * MATH.md §11) costs per step: `kfac(model)` and `ekfac(model)` with their defaults against the same
 * with `rateAveraging: 0`, on the 784-256-128-32 sigmoid autoencoder of `pnpm bench robust` (batch 250,
 * the estimate on its 256 → 784 output layer) and its 784-64-10 ReLU classifier (batch 100, a 64 → 10
 * head). The two optimizers step alternately in one process on the same MNIST minibatch, 10 warm-up
 * steps then `reps` timed pairs; printed: the medians and the median of the paired ratios.
 *
 * Run: `npx -y pnpm@12.4.2 example packages/bench/src/examples/rate-averaging-cost.ts [--reps R]`
 * (default 30).
 */
import { deepAutoencoder, mlp, type Sequential } from "@ekfac-ts/nn";
import { gatherBatch, mnistPackageSplit, PIXELS } from "../data/mnist.ts";
import { makeTrainer, type Task } from "../demo/trainer.ts";

const i = process.argv.indexOf("--reps");
const reps = i < 0 ? 30 : Number(process.argv[i + 1]);
if (!(Number.isInteger(reps) && reps >= 1))
  throw new RangeError("rate-averaging-cost: --reps needs a positive integer");
const data = mnistPackageSplit(1, 1000);
const cases: { name: string; build: () => Sequential; task: Task; batch: number }[] = [
  {
    name: "autoencoder 784-256-128-32-…, batch 250",
    build: () => deepAutoencoder({ sizes: [784, 256, 128, 32], activation: "sigmoid", seed: 1 }),
    task: { kind: "autoencoder" },
    batch: 250,
  },
  {
    name: "classifier 784-64-10, batch 100",
    build: () => mlp([PIXELS, 64, 10], "relu", { seed: 1 }),
    task: { kind: "classifier", classes: 10 },
    batch: 100,
  },
];
const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number;
for (const c of cases) {
  const x = new Float32Array(c.batch * PIXELS);
  const y = new Int32Array(c.batch);
  const order = Int32Array.from({ length: data.train.count }, (_, k) => k);
  gatherBatch(data.train, order, 0, c.batch, x, y);
  const labels = c.task.kind === "classifier" ? y : undefined;
  for (const name of ["ekfac", "kfac"] as const) {
    const on = makeTrainer(c.build(), c.task, PIXELS, { name });
    const off = makeTrainer(c.build(), c.task, PIXELS, { name, rateAveraging: 0 });
    const tOn: number[] = [];
    const tOff: number[] = [];
    const ratio: number[] = [];
    for (let s = 0; s < 10 + reps; s++) {
      const t0 = performance.now();
      on.step(x, c.batch, labels);
      const t1 = performance.now();
      off.step(x, c.batch, labels);
      const t2 = performance.now();
      if (s < 10) continue;
      tOn.push(t1 - t0);
      tOff.push(t2 - t1);
      ratio.push((t1 - t0) / (t2 - t1));
    }
    console.log(
      `${c.name}, ${name}(model): ${median(tOn).toFixed(1)} ms with the estimate, ${median(tOff).toFixed(1)} ms with rateAveraging: 0 (paired median ratio ${median(ratio).toFixed(3)})`,
    );
  }
}
