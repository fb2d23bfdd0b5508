/**
 * What EKFAC's rotated gradient from the loss's own signals (`lossG`; ekfac's kronecker-block.ts,
 * "Shared rows") buys in step time: the demo's EKFAC (true Fisher, T_kfe = 100, T_s = 1) on the demo
 * autoencoder and on the 784-1000-500-10 MLP, with the statistics as nn captures them and with
 * `lossG` hidden from the blocks (so ∇ is rotated as before), plus SGD + momentum as the unit; the
 * three steps interleaved in one process, `reps` timed steps each after 3 warm-up steps; medians.
 * The blocks choose the rows where they cost fewer multiply-adds than the rotation (scaling.ts), so
 * at the demo's batch the autoencoder's first layer and both wide MLP layers take them; the rule was
 * set by this procedure (packages/bench/README.md).
 *
 * Run: `npx -y pnpm@12.4.2 example packages/bench/src/examples/loss-rows.ts [--batch N] [--reps R]`
 * (default batch 250 for the autoencoder and 256 for the MLP, 15 reps).
 */
import type { CurvatureLayer } from "@ekfac-ts/nn";
import { PIXELS } from "../data/mnist.ts";
import { DEFAULTS } from "../demo/defaults.ts";
import { makeTrainer } from "../demo/trainer.ts";
import { median } from "../util.ts";
import { intFlag, stepCases, stepData } from "./step-cases.ts";

const reps = intFlag("loss-rows", "--reps") ?? 15;
const data = stepData();
const cases = stepCases(intFlag("loss-rows", "--batch"));

for (const c of cases) {
  const x = data.train.images.subarray(0, c.batch * PIXELS);
  const labels = data.train.labels.subarray(0, c.batch);
  const sgd = DEFAULTS.optimizers.sgd;
  const runs = [
    { label: "SGD + momentum", config: sgd, hide: false },
    { label: "EKFAC, lossG captured", config: DEFAULTS.optimizers.ekfac, hide: false },
    { label: "EKFAC, lossG hidden", config: DEFAULTS.optimizers.ekfac, hide: true },
  ].map((r) => {
    const model = c.build();
    if (r.hide) {
      // The blocks read the layers the optimizer lists at construction: hand it views without lossG.
      const hidden = model.curvatureLayers().map(
        (l): CurvatureLayer =>
          Object.create(l, {
            statistics: { get: () => (l.statistics === null ? null : { ...l.statistics, lossG: null }) },
          }),
      );
      model.curvatureLayers = () => hidden;
    }
    return { ...r, trainer: makeTrainer(model, c.task, PIXELS, r.config), ms: [] as number[] };
  });
  for (const r of runs) for (let i = 0; i < 3; i++) r.trainer.step(x, c.batch, labels);
  for (let i = 0; i < reps; i++) {
    for (const r of runs) {
      const t0 = performance.now();
      r.trainer.step(x, c.batch, labels);
      r.ms.push(performance.now() - t0);
    }
  }
  const unit = median(runs[0]?.ms ?? []);
  console.log(`${c.name}, batch ${c.batch}, ${reps} steps each (medians):`);
  for (const r of runs) {
    const shared = r.trainer.blocks.reduce((s, b) => s + ((b as { sharedRotations?: number }).sharedRotations ?? 0), 0);
    const m = median(r.ms);
    console.log(
      `  ${r.label.padEnd(24)} ${m.toFixed(1).padStart(8)} ms  ${(m / unit).toFixed(2)}× SGD  rotated gradients from rows: ${shared}`,
    );
  }
}
