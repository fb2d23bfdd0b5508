/** Composite checks on a small MLP: end-to-end gradients, and a steady state of the buffer pool. */
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rngOf, seedArb } from "../test/support.ts";
import * as ad from "./index.ts";

interface Mlp {
  params: ad.Tensor[];
  forward: (x: ad.Tensor) => ad.Tensor;
}

function mlp(rng: Rng, sizes: readonly number[], dtype: "float32" | "float64"): Mlp {
  const params: ad.Tensor[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [din, dout] = [sizes[l] as number, sizes[l + 1] as number];
    params.push(ad.randn([dout, din], rng, { dtype, std: 1 / Math.sqrt(din), requiresGrad: true }));
    params.push(ad.randn([dout], rng, { dtype, std: 0.1, requiresGrad: true }));
  }
  const layers = params.length / 2;
  return {
    params,
    forward: (x) => {
      let h = x;
      for (let l = 0; l < layers; l++) {
        const s = ad.add(ad.matmul(h, params[2 * l] as ad.Tensor, { transB: true }), params[2 * l + 1] as ad.Tensor);
        h = l + 1 < layers ? ad.tanh(s) : s;
      }
      return h;
    },
  };
}

/** Mean cross-entropy: −mean_n log softmax(logits)[n, y_n]. */
function crossEntropy(logits: ad.Tensor, labels: readonly number[]): ad.Tensor {
  return ad.neg(ad.mean(ad.gather(ad.logSoftmax(logits, 1), 1, labels)));
}

describe("3-layer MLP", () => {
  it("the loss gradient with respect to every parameter matches finite differences", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const rng = rngOf(seed);
        const net = mlp(rng, [4, 6, 5, 3], "float64");
        const x = ad.randn([7, 4], rng, { dtype: "float64" });
        const labels = Array.from({ length: 7 }, () => rng.int(3));
        // gradcheck perturbs the parameters in place, so f may read them through the closure.
        const report = ad.gradcheck(() => crossEntropy(net.forward(x), labels), net.params);
        if (!report.ok) throw new Error(report.message);
      }),
      { numRuns: 15 },
    );
  });

  it("1000 training steps reach a steady state: no fresh pool allocations and a flat heap after warm-up", () => {
    const rng = new Rng(11);
    const net = mlp(rng, [20, 64, 64, 10], "float32");
    const x = ad.randn([32, 20], rng);
    const labels = Array.from({ length: 32 }, () => rng.int(10));
    const step = (): number => {
      const loss = crossEntropy(net.forward(x), labels);
      loss.backward();
      ad.noGrad(() => {
        for (const p of net.params) {
          const g = p.grad?.data as Float32Array;
          for (let i = 0; i < p.size; i++) p.data[i] = (p.data[i] as number) - 0.05 * (g[i] as number);
          p.zeroGrad();
        }
      });
      return loss.item();
    };
    const first = step();
    for (let i = 0; i < 20; i++) step();
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = ad.poolStats();
    const heapBefore = process.memoryUsage().heapUsed;
    let last = first;
    for (let i = 0; i < 1000; i++) last = step();
    gc?.();
    const after = ad.poolStats();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(after.allocations - before.allocations).toBe(0);
    expect(after.reuses - before.reuses).toBeGreaterThan(1000);
    expect(heapGrowth).toBeLessThan(20 * 1024 * 1024);
    expect(last).toBeLessThan(first); // and it trains
  });
});
