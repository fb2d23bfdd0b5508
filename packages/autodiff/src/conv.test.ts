import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rngOf, seedArb } from "../test/support.ts";
import * as ad from "./index.ts";

// conv2d's laws are in the proofs catalogue (packages/proofs/src/laws/autodiff.ts): the forward equals
// the direct convolution (autodiff.conv2d.direct), its gradients equal finite differences
// (autodiff.rule.conv2d) and col2im is im2col's adjoint (autodiff.im2col.adjoint), all on random
// geometries (groups, stride, padding, dilation). Here: float32, the patch layout, errors, pooling.
describe("conv2d", () => {
  it("float32 conv2d matches the float64 one to float32 accuracy", () => {
    const rng = new Rng(5);
    const x = ad.randn([2, 4, 7, 6], rng, { dtype: "float64" });
    const w = ad.randn([6, 2, 3, 3], rng, { dtype: "float64" });
    const y64 = ad.conv2d(x, w, null, { padding: 1, groups: 2 });
    const y32 = ad.conv2d(
      ad.tensor(x.data, x.shape, { dtype: "float32" }),
      ad.tensor(w.data, w.shape, { dtype: "float32" }),
      null,
      { padding: 1, groups: 2 },
    );
    expect(y32.dtype).toBe("float32");
    for (let i = 0; i < y64.size; i++)
      expect(Math.abs((y32.data[i] as number) - (y64.data[i] as number))).toBeLessThan(1e-4);
  });
});

describe("im2col / col2im", () => {
  it("patch rows are (example, position), columns (c, kh, kw) per group", () => {
    // 1 example, 2 channels, 3×3 image with values 100c + 10h + w; 2×2 kernel, stride 1, no padding.
    const x = new Float64Array(18);
    for (let c = 0; c < 2; c++)
      for (let h = 0; h < 3; h++) for (let w = 0; w < 3; w++) x[c * 9 + h * 3 + w] = 100 * c + 10 * h + w;
    const g = ad.conv2dGeometry([1, 2, 3, 3], [2, 2]);
    const p = ad.im2col(x, g);
    expect(g.positions).toBe(4);
    expect(g.patchSize).toBe(8);
    // position t = 3 is (oh, ow) = (1, 1)
    expect(Array.from(p.subarray(3 * 8, 4 * 8))).toEqual([11, 12, 21, 22, 111, 112, 121, 122]);
  });

  it("bad geometry is a RangeError naming the caller", () => {
    expect(() => ad.conv2dGeometry([1, 3, 4, 4], [3, 3], { groups: 2 })).toThrow(
      /groups = 2 must be a positive integer dividing the 3 input channels/,
    );
    expect(() => ad.conv2dGeometry([1, 1, 2, 2], [3, 3])).toThrow(/does not fit/);
    expect(() => ad.conv2dGeometry([1, 1, 4], [3, 3])).toThrow(/input must be 4-D/);
  });
});

describe("pooling", () => {
  function naivePool(
    x: ad.Tensor,
    k: number,
    s: number,
    p: number,
    kind: "max" | "avg",
    includePad: boolean,
  ): number[] {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const ho = Math.floor((h + 2 * p - k) / s) + 1;
    const wo = Math.floor((w + 2 * p - k) / s) + 1;
    const out: number[] = [];
    for (let a = 0; a < n * c; a++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          const vals: number[] = [];
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const ih = oh * s - p + i;
              const iw = ow * s - p + j;
              if (ih >= 0 && ih < h && iw >= 0 && iw < w) vals.push(x.data[a * h * w + ih * w + iw] as number);
            }
          out.push(
            kind === "max" ? Math.max(...vals) : vals.reduce((u, v) => u + v, 0) / (includePad ? k * k : vals.length),
          );
        }
    return out;
  }

  it("maxPool2d and avgPool2d equal their direct definitions", () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(1),
        fc.boolean(),
        (seed, k, s, pRaw, includePad) => {
          const p = Math.min(pRaw, Math.floor(k / 2));
          const x = ad.randn([2, 3, 5 + k, 4 + k], rngOf(seed), { dtype: "float64" });
          const mp = ad.maxPool2d(x, { kernelSize: k, stride: s, padding: p });
          const ap = ad.avgPool2d(x, { kernelSize: k, stride: s, padding: p, countIncludePad: includePad });
          const refMax = naivePool(x, k, s, p, "max", includePad);
          const refAvg = naivePool(x, k, s, p, "avg", includePad);
          expect(mp.toArray()).toEqual(refMax);
          ap.toArray().forEach((v, i) => {
            expect(Math.abs(v - (refAvg[i] as number))).toBeLessThan(1e-12);
          });
        },
      ),
    );
  });

  it("padding larger than half the kernel is rejected", () => {
    expect(() => ad.maxPool2d(ad.zeros([1, 1, 4, 4]), { kernelSize: 2, padding: 2 })).toThrow(
      /maxPool2d: padding 2×2 must be at most half/,
    );
  });
});
