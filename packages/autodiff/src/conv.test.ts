import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rngOf, seedArb } from "../test/support.ts";
import * as ad from "./index.ts";

interface ConvCase {
  n: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Random conv geometry whose output is non-empty. */
const convCaseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cinPer: fc.integer({ min: 1, max: 2 }),
    coutPer: fc.integer({ min: 1, max: 2 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    extraH: fc.integer({ min: 0, max: 4 }),
    extraW: fc.integer({ min: 0, max: 4 }),
  })
  .map(
    (r): ConvCase => ({
      n: r.n,
      cin: r.groups * r.cinPer,
      cout: r.groups * r.coutPer,
      kh: r.kh,
      kw: r.kw,
      h: Math.max(1, (r.kh - 1) * r.dilation[0] + 1 - 2 * r.padding[0]) + r.extraH,
      w: Math.max(1, (r.kw - 1) * r.dilation[1] + 1 - 2 * r.padding[1]) + r.extraW,
      stride: r.stride,
      padding: r.padding,
      dilation: r.dilation,
      groups: r.groups,
    }),
  );

/** The textbook definition, seven nested loops, no im2col. */
function naiveConv(
  x: ad.Tensor,
  w: ad.Tensor,
  b: ad.Tensor | null,
  c: ConvCase,
): { data: Float64Array; shape: number[] } {
  const ho = Math.floor((c.h + 2 * c.padding[0] - c.dilation[0] * (c.kh - 1) - 1) / c.stride[0]) + 1;
  const wo = Math.floor((c.w + 2 * c.padding[1] - c.dilation[1] * (c.kw - 1) - 1) / c.stride[1]) + 1;
  const cg = c.cin / c.groups;
  const og = c.cout / c.groups;
  const y = new Float64Array(c.n * c.cout * ho * wo);
  for (let n = 0; n < c.n; n++)
    for (let o = 0; o < c.cout; o++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          const grp = Math.floor(o / og);
          let s = b === null ? 0 : (b.data[o] as number);
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < c.kh; i++)
              for (let j = 0; j < c.kw; j++) {
                const ih = oh * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const iw = ow * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const xv = x.data[((n * c.cin + grp * cg + ci) * c.h + ih) * c.w + iw] as number;
                s += xv * (w.data[((o * cg + ci) * c.kh + i) * c.kw + j] as number);
              }
          y[((n * c.cout + o) * ho + oh) * wo + ow] = s;
        }
  return { data: y, shape: [c.n, c.cout, ho, wo] };
}

describe("conv2d", () => {
  it("equals the direct convolution for random shapes, strides, paddings, dilations and groups", () => {
    fc.assert(
      fc.property(seedArb, convCaseArb, fc.boolean(), (seed, c, withBias) => {
        const rng = rngOf(seed);
        const x = ad.randn([c.n, c.cin, c.h, c.w], rng, { dtype: "float64" });
        const w = ad.randn([c.cout, c.cin / c.groups, c.kh, c.kw], rng, { dtype: "float64" });
        const b = withBias ? ad.randn([c.cout], rng, { dtype: "float64" }) : null;
        const y = ad.conv2d(x, w, b, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups });
        const ref = naiveConv(x, w, b, c);
        expect(y.shape).toEqual(ref.shape);
        for (let i = 0; i < ref.data.length; i++) {
          expect(Math.abs((y.data[i] as number) - (ref.data[i] as number))).toBeLessThanOrEqual(
            1e-12 * (1 + Math.abs(ref.data[i] as number)),
          );
        }
      }),
      { numRuns: 60 },
    );
  });

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

  it("gradients of x, w and b match finite differences", () => {
    fc.assert(
      fc.property(seedArb, convCaseArb, (seed, c) => {
        const rng = rngOf(seed);
        const x = ad.randn([c.n, c.cin, c.h, c.w], rng, { dtype: "float64", requiresGrad: true });
        const w = ad.randn([c.cout, c.cin / c.groups, c.kh, c.kw], rng, { dtype: "float64", requiresGrad: true });
        const b = ad.randn([c.cout], rng, { dtype: "float64", requiresGrad: true });
        const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
        const report = ad.gradcheck((x, w, b) => ad.conv2d(x, w, b, opts), [x, w, b]);
        if (!report.ok) throw new Error(report.message);
      }),
      { numRuns: 20 },
    );
  });
});

describe("im2col / col2im", () => {
  it("col2im is the adjoint of im2col: ⟨im2col(x), P⟩ = ⟨x, col2im(P)⟩", () => {
    fc.assert(
      fc.property(seedArb, convCaseArb, (seed, c) => {
        const rng = rngOf(seed);
        const g = ad.conv2dGeometry([c.n, c.cin, c.h, c.w], [c.kh, c.kw], c);
        const x = rng.fillNormal(new Float64Array(c.n * c.cin * c.h * c.w));
        const p = rng.fillNormal(new Float64Array(ad.patchesLength(g)));
        const px = ad.im2col(x, g);
        const xp = ad.col2im(p, g);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < p.length; i++) lhs += (px[i] as number) * (p[i] as number);
        for (let i = 0; i < x.length; i++) rhs += (x[i] as number) * (xp[i] as number);
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(lhs)));
      }),
    );
  });

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
