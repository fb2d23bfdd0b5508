/**
 * Finite statistics whose float32 products overflow (entries beyond ≈ 1e19: a corrupted input batch)
 * must not poison the curvature state: the block leaves the batch out, the step is refused as for
 * non-finite statistics, the factors and EKFAC's S stay finite, training goes on with the next batch
 * and the optimizer's own state still saves and loads. Before: S held NaN for good (a restart with
 * ρ = 0 computed 0·NaN), every later step was refused, and `opt.load(opt.state())` failed on A = ∞.
 */
import { backward, noGrad, wrap } from "@ekfac-ts/autodiff";
import { allFinite, Rng } from "@ekfac-ts/linalg";
import { mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { DenseEigenCorrected } from "../curvature/kronecker-block.ts";
import { ekfac, type KroneckerBlock, kfac, Optimizer } from "../index.ts";

const N = 16;

function run(make: typeof ekfac, options: object, inject: number) {
  const rng = new Rng(3);
  const model = mlp([4, 8, 3], "relu", { seed: 1 });
  const t = make(model, options);
  const opt = new Optimizer(t, model);
  const batches = Array.from({ length: 4 }, () => ({
    x: rng.fillNormal(new Float32Array(N * 4)),
    labels: Int32Array.from({ length: N }, (_, i) => i % 3),
  }));
  const reports = [];
  for (let k = 0; k < 16; k++) {
    const b = batches[k % 4] as (typeof batches)[number];
    const x = k === 6 ? b.x.slice() : b.x;
    if (k === 6) x[3] = inject;
    const input = wrap(x, [N, 4]);
    model.zeroGrad();
    backward(softmaxCrossEntropy(model.forward(input), b.labels));
    reports.push(opt.step(() => noGrad(() => softmaxCrossEntropy(model.forward(input), b.labels).item())));
  }
  const blocks = t.curvature.blocks.map((s) => s.block as KroneckerBlock);
  return { opt, reports, blocks, model };
}

describe("statistics whose float32 products overflow", () => {
  const cases: [string, typeof ekfac, object][] = [
    ["ekfac defaults", ekfac, {}],
    ["ekfac, fixed step", ekfac, { learningRate: 0.05 }],
    ["kfac defaults", kfac, {}],
    ["kfac, fixed step", kfac, { learningRate: 0.05 }],
  ];
  it.each(cases)("%s: the step is refused, the state stays finite, training goes on", (_, make, options) => {
    for (const inject of [1e20, 1e38]) {
      const { opt, reports, blocks, model } = run(make, options, inject);
      expect(reports[6]?.skipped).toBe(true);
      expect(reports[6]?.reason).toBe("non-finite statistics");
      for (const b of blocks) {
        expect(allFinite(b.A) && allFinite(b.G) && allFinite(b.S)).toBe(true);
      }
      // Every step after it is applied but for the ones the loss check withdraws.
      const after = reports.slice(7);
      expect(after.filter((r) => r.skipped && r.reason !== "loss increased")).toEqual([]);
      expect(after.filter((r) => !r.skipped).length).toBeGreaterThanOrEqual(6);
      for (const p of model.parameters()) expect(allFinite(p.value)).toBe(true);
      expect(() => opt.load(opt.state())).not.toThrow();
    }
  });

  it("a block leaves the batch out and says so; the next restart overwrites whatever S held", () => {
    const shape = { kind: "dense", inDim: 3, outDim: 2, hasBias: true, groups: 1 } as const;
    const stats = (scale: number) => {
      const rng = new Rng(5);
      const a = rng.fillNormal(new Float32Array(8 * 4));
      for (let n = 0; n < 8; n++) a[n * 4 + 3] = 1;
      a[0] = scale;
      return { a, g: rng.fillNormal(new Float32Array(8 * 2)), batchSize: 8, positions: 1 };
    };
    const b = new DenseEigenCorrected(shape, { precision: "float32" });
    expect(b.updateFactors(stats(1))).toBe(true);
    b.updateBasis();
    expect(b.updateScaling(stats(1))).toBe(true);
    const [A, G, S] = [b.A.slice(), b.G.slice(), b.S.slice()];
    expect(b.updateFactors(stats(1e20))).toBe(false);
    expect(b.updateScaling(stats(1e20))).toBe(false);
    expect([b.A, b.G, b.S]).toEqual([A, G, S]);
    expect(b.state.factorUpdates).toBe(1);
    // A state poisoned by other means (a hand-written restore): the first S* after a refresh replaces it.
    b.S.fill(Number.NaN);
    b.updateBasis();
    expect(b.updateScaling(stats(1))).toBe(true);
    expect(allFinite(b.S)).toBe(true);
  });
});
