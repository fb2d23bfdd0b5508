/**
 * What deflating the factors' exactly-zero coordinates buys in step time (ekfac's
 * internal/sym-eigen.ts and curvature/basis-rotation.ts; MATH.md §9). The demo's KFAC and EKFAC
 * (true Fisher, T_kfe = 100, T_s = 1) on the demo autoencoder and on the 784-1000-500-10 MLP, each
 * three times: on a batch of MNIST digits as they are (pixels no digit of the batch touches are
 * exactly 0, so the first layer's A has zero rows and its basis is deflated, as at a refresh from one
 * minibatch), with only the training set's never-touched pixels left at 0 and the batch's other zero
 * pixels set to 1e-6 (the zero set of factors averaged over many batches), and with all of them at
 * 1e-6 (A's rows there are ≈ 1e-12, not zero: the full basis, the same arithmetic as before
 * deflation). SGD + momentum is the unit. The seven steps are interleaved in one process, `reps`
 * timed steps each after 3 warm-up steps (the warm-up includes the basis refresh); one refresh per
 * optimizer (every block's `refreshBasis`) is timed after and added / T_kfe, as `pnpm bench train`
 * amortises it. Medians; "paired" is the median over rounds of deflated / full.
 *
 * Run: `npx -y pnpm@12.4.2 example packages/bench/src/examples/deflation.ts [--batch N] [--reps R]`
 * (default batch 250 for the autoencoder and 256 for the MLP, 15 reps).
 */
import { KroneckerBlock } from "@ekfac-ts/ekfac";
import { PIXELS } from "../data/mnist.ts";
import { DEFAULTS } from "../demo/defaults.ts";
import { makeTrainer } from "../demo/trainer.ts";
import { median } from "../util.ts";
import { intFlag, stepCases, stepData } from "./step-cases.ts";

const reps = intFlag("deflation", "--reps") ?? 15;
const data = stepData();
const cases = stepCases(intFlag("deflation", "--batch"));

for (const c of cases) {
  const x = data.train.images.slice(0, c.batch * PIXELS);
  const labels = data.train.labels.subarray(0, c.batch);
  // The same batch with the pixels that are 0 in every digit of it set to 1e-6 (full basis), and with
  // only those that some training digit touches set to 1e-6 (deflated as factors averaged over the
  // whole training set would be: only the set's never-touched pixels stay 0).
  const xFull = x.slice();
  const xSet = x.slice();
  let untouched = 0;
  let neverTouched = 0;
  const set = data.train.images;
  for (let j = 0; j < PIXELS; j++) {
    let any = false;
    for (let r = 0; r < c.batch && !any; r++) any = x[r * PIXELS + j] !== 0;
    if (any) continue;
    untouched++;
    let inSet = false;
    for (let r = 0; r < data.train.count && !inSet; r++) inSet = set[r * PIXELS + j] !== 0;
    if (!inSet) neverTouched++;
    for (let r = 0; r < c.batch; r++) {
      xFull[r * PIXELS + j] = 1e-6;
      if (inSet) xSet[r * PIXELS + j] = 1e-6;
    }
  }
  const sgd = DEFAULTS.optimizers.sgd;
  const { kfac, ekfac } = DEFAULTS.optimizers;
  const runs = [
    { label: "SGD + momentum", config: sgd, input: x },
    { label: "KFAC, deflated", config: kfac, input: x },
    { label: "KFAC, set's zeros", config: kfac, input: xSet },
    { label: "KFAC, full basis", config: kfac, input: xFull },
    { label: "EKFAC, deflated", config: ekfac, input: x },
    { label: "EKFAC, set's zeros", config: ekfac, input: xSet },
    { label: "EKFAC, full basis", config: ekfac, input: xFull },
  ].map((r) => ({ ...r, trainer: makeTrainer(c.build(), c.task, PIXELS, r.config), ms: [] as number[] }));
  for (const r of runs) for (let i = 0; i < 3; i++) r.trainer.step(r.input, c.batch, labels);
  for (let i = 0; i < reps; i++) {
    for (const r of runs) {
      const t0 = performance.now();
      r.trainer.step(r.input, c.batch, labels);
      r.ms.push(performance.now() - t0);
    }
  }
  const refreshMs = runs.map((r) => {
    const t0 = performance.now();
    for (const b of r.trainer.blocks) b.refreshBasis?.();
    return performance.now() - t0;
  });
  const tkfe = ekfac.basisEvery ?? 100;
  const unit = median(runs[0]?.ms ?? []);
  const first = runs[1]?.trainer.blocks[0];
  const units = first instanceof KroneckerBlock ? first.dims.aDim - (first.rotationSizes()[0]?.a ?? 0) : 0;
  console.log(
    `${c.name}, batch ${c.batch}: ${untouched} of ${PIXELS} pixels are 0 in every digit of the batch (${neverTouched} in all ${data.train.count} training digits); the first layer's U_A has ${units} unit columns (deflated run); ${reps} steps each (medians, refresh / ${tkfe} added):`,
  );
  runs.forEach((r, i) => {
    const m = median(r.ms) + (i === 0 ? 0 : (refreshMs[i] as number) / tkfe);
    console.log(
      `  ${r.label.padEnd(20)} ${m.toFixed(1).padStart(8)} ms  ${(m / unit).toFixed(2)}× SGD  (refresh ${(refreshMs[i] as number).toFixed(0)} ms)`,
    );
  });
  for (const [d, f] of [
    [1, 3],
    [2, 3],
    [4, 6],
    [5, 6],
  ] as const) {
    const ratios = (runs[d]?.ms ?? []).map((v, k) => v / (runs[f]?.ms[k] as number));
    console.log(`  paired ${runs[d]?.label} / full: ${median(ratios).toFixed(3)} (regular steps)`);
  }
}
