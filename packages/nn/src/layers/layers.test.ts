import { gradcheck, noGrad, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { assertClose, Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Module } from "../module.ts";
import {
  AvgPool2d,
  Dropout,
  Flatten,
  GELU,
  GlobalAvgPool2d,
  LeakyReLU,
  MaxPool2d,
  ReLU,
  Residual,
  Sequential,
  Sigmoid,
  Softplus,
  Tanh,
} from "./basic.ts";
import { BatchNorm1d, BatchNorm2d } from "./batchnorm.ts";
import { Conv2d } from "./conv.ts";
import { Linear } from "./linear.ts";

const f64 = { dtype: "float64" as const };

function randomInput(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return wrap(new Rng(seed).fillNormal(new Float64Array(n)), shape, { requiresGrad: true });
}

/** Gradient check of a module's output w.r.t. its input and every parameter, in the current mode. */
function checkModule(m: Module, shape: number[], seed = 1, forward: (x: Tensor) => Tensor = (x) => m.forward(x)): void {
  const x = randomInput(shape, seed);
  const params = m.parameters().map((p) => p.tensor);
  // Convs feeding a train-mode BatchNorm carry no bias (as in ResNets): its gradient would be exactly
  // zero, and the relative error of a finite difference of pure rounding noise is meaningless.
  const report = gradcheck((xx) => forward(xx as Tensor), [x, ...params], { rtol: 1e-5, atol: 1e-6 });
  expect(report.message).toBe("");
  expect(report.ok).toBe(true);
}

describe("every layer's gradient matches central finite differences (float64), train and eval mode", () => {
  const cases: [string, () => Module, number[]][] = [
    ["Linear", () => new Linear(5, 3, { ...f64, rng: 1 }), [4, 5]],
    ["Linear without bias", () => new Linear(5, 3, { ...f64, bias: false, rng: 2 }), [4, 5]],
    ["Conv2d 3×3 pad 1", () => new Conv2d(2, 3, 3, { ...f64, padding: 1, rng: 3 }), [2, 2, 5, 5]],
    [
      "Conv2d stride 2, dilation 2, groups 2, no bias",
      () =>
        new Conv2d(4, 6, [3, 2], { ...f64, stride: 2, dilation: 2, groups: 2, padding: [1, 0], bias: false, rng: 4 }),
      [2, 4, 7, 6],
    ],
    ["ReLU", () => new ReLU(), [3, 4]],
    ["LeakyReLU", () => new LeakyReLU(0.2), [3, 4]],
    ["Tanh", () => new Tanh(), [3, 4]],
    ["Sigmoid", () => new Sigmoid(), [3, 4]],
    ["Softplus", () => new Softplus(), [3, 4]],
    ["GELU (erf)", () => new GELU(), [3, 4]],
    ["GELU (tanh)", () => new GELU("tanh"), [3, 4]],
    ["MaxPool2d", () => new MaxPool2d(2), [2, 2, 4, 4]],
    ["MaxPool2d stride 1 pad 1", () => new MaxPool2d(3, { stride: 1, padding: 1 }), [1, 2, 4, 4]],
    ["AvgPool2d", () => new AvgPool2d(2), [2, 2, 4, 4]],
    ["GlobalAvgPool2d", () => new GlobalAvgPool2d(), [2, 3, 3, 3]],
    ["Flatten", () => new Flatten(), [2, 3, 2, 2]],
    ["BatchNorm1d", () => new BatchNorm1d(3, f64), [5, 3]],
    ["BatchNorm2d", () => new BatchNorm2d(2, f64), [3, 2, 3, 3]],
    [
      "Residual block (conv-BN-ReLU-conv-BN + projection)",
      () =>
        new Residual(
          new Sequential(
            new Conv2d(2, 3, 3, { ...f64, padding: 1, bias: false, rng: 5 }),
            new BatchNorm2d(3, f64),
            new ReLU(),
            new Conv2d(3, 3, 3, { ...f64, padding: 1, bias: false, rng: 6 }),
            new BatchNorm2d(3, f64),
          ),
          new Sequential(new Conv2d(2, 3, 1, { ...f64, bias: false, rng: 7 }), new BatchNorm2d(3, f64)),
        ),
      [2, 2, 4, 4],
    ],
  ];
  for (const [name, make, shape] of cases) {
    it(`${name} (train)`, () => checkModule(make().train(), shape));
    it(`${name} (eval)`, () => {
      const m = make();
      // Give BatchNorm non-trivial running statistics before switching to eval.
      noGrad(() => m.forward(randomInput(shape, 9)));
      checkModule(m.eval(), shape);
    });
  }

  it("Dropout (train): fixed-seed mask, gradient is the mask", () => {
    checkModule(new Dropout(0.4), [4, 5], 1, (x) => new Dropout(0.4, 17).forward(x));
  });
  it("Dropout (eval) is the identity", () => {
    const d = new Dropout(0.4, 17).eval();
    const x = randomInput([3, 3], 2);
    expect(d.forward(x)).toBe(x);
  });
  it("Dropout (train) keeps each element with probability 1 − p and scales it by 1/(1 − p)", () => {
    const x = wrap(new Float64Array(20000).fill(1), [100, 200]);
    const y = new Dropout(0.25, 3).forward(x).data;
    let kept = 0;
    for (const v of y) {
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(1 / 0.75, 12);
      }
    }
    expect(Math.abs(kept / 20000 - 0.75)).toBeLessThan(5 * Math.sqrt((0.75 * 0.25) / 20000));
  });
});

/** Direct 7-loop convolution, the definition: y[n,o,p,q] = b[o] + Σ_{c,i,j} w[o,c,i,j]·x[n, g·Cg + c, p·s − pad + i·d, …]. */
function naiveConv(x: Tensor, conv: Conv2d): Float64Array {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [kh, kw] = conv.kernel;
  const [sh, sw] = conv.stride;
  const [ph, pw] = conv.padding;
  const [dh, dw] = conv.dilation;
  const G = conv.groups;
  const O = conv.outChannels;
  const Cg = C / G;
  const Og = O / G;
  const Ho = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const w = conv.weight.value;
  const b = conv.bias?.value;
  const y = new Float64Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let p = 0; p < Ho; p++)
        for (let q = 0; q < Wo; q++) {
          let s = b === undefined ? 0 : (b[o] as number);
          const g = Math.floor(o / Og);
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const r = p * sh - ph + i * dh;
                const t = q * sw - pw + j * dw;
                if (r < 0 || r >= H || t < 0 || t >= W) continue;
                s +=
                  (w[((o * Cg + c) * kh + i) * kw + j] as number) *
                  (x.data[((n * C + g * Cg + c) * H + r) * W + t] as number);
              }
          y[((n * O + o) * Ho + p) * Wo + q] = s;
        }
  return y;
}

describe("Conv2d equals the naive convolution", () => {
  it.each([
    ["plain 3×3", 2, 4, [3, 3] as const, {}],
    ["stride 2, padding 2", 3, 2, [3, 3] as const, { stride: 2, padding: 2 }],
    ["dilation 2 and 3", 2, 2, [2, 3] as const, { dilation: [2, 3] as const, padding: 1 }],
    ["groups 3 (grouped)", 6, 9, [3, 3] as const, { groups: 3, padding: 1 }],
    [
      "depthwise (groups = C_in), dilated, strided",
      4,
      4,
      [3, 3] as const,
      { groups: 4, dilation: 2, stride: 2, padding: 2 },
    ],
  ])("%s", (_, cin, cout, k, opts) => {
    const conv = new Conv2d(cin, cout, k, { ...f64, rng: 11, ...opts });
    const x = randomInput([2, cin, 9, 8], 12);
    assertClose(conv.forward(x).data, naiveConv(x, conv), { rtol: 1e-12 });
  });
});

describe("Conv2d equals the naive convolution on random geometries", () => {
  it("∀ stride, padding, dilation, groups, kernel: conv2d = direct sum", () => {
    fc.assert(
      fc.property(
        fc.record({
          groups: fc.integer({ min: 1, max: 3 }),
          cPer: fc.integer({ min: 1, max: 2 }),
          oPer: fc.integer({ min: 1, max: 2 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
          padding: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
          dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
          bias: fc.boolean(),
          seed: fc.integer(),
        }),
        (c) => {
          const h = 7;
          const w = 6;
          // Keep at least one output position.
          fc.pre(
            c.dilation[0] * (c.kh - 1) < h + 2 * c.padding[0] && c.dilation[1] * (c.kw - 1) < w + 2 * c.padding[1],
          );
          const conv = new Conv2d(c.groups * c.cPer, c.groups * c.oPer, [c.kh, c.kw], {
            ...f64,
            groups: c.groups,
            stride: c.stride,
            padding: c.padding,
            dilation: c.dilation,
            bias: c.bias,
            rng: c.seed,
          });
          const x = randomInput([2, c.groups * c.cPer, h, w], c.seed);
          assertClose(conv.forward(x).data, naiveConv(x, conv), { rtol: 1e-12 });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("BatchNorm running statistics follow their definition (momentum 0.1, unbiased running variance)", () => {
  it("BatchNorm2d after three batches", () => {
    const bn = new BatchNorm2d(2, f64);
    const C = 2;
    const rm = [0, 0];
    const rv = [1, 1];
    for (let step = 0; step < 3; step++) {
      const x = randomInput([4, C, 3, 3], 20 + step);
      noGrad(() => bn.forward(x));
      for (let c = 0; c < C; c++) {
        const vals: number[] = [];
        for (let n = 0; n < 4; n++) for (let t = 0; t < 9; t++) vals.push(x.data[(n * C + c) * 9 + t] as number);
        const m = vals.length;
        const mu = vals.reduce((a, b) => a + b, 0) / m;
        const unbiased = vals.reduce((a, b) => a + (b - mu) ** 2, 0) / (m - 1);
        rm[c] = 0.9 * (rm[c] as number) + 0.1 * mu;
        rv[c] = 0.9 * (rv[c] as number) + 0.1 * unbiased;
      }
    }
    assertClose(bn.runningMean, rm, { rtol: 1e-12 });
    assertClose(bn.runningVar, rv, { rtol: 1e-12 });
    expect(bn.batchesTracked[0]).toBe(3);
  });

  it("train mode normalises with the biased batch variance: per-channel output mean 0, variance ≈ 1", () => {
    const bn = new BatchNorm1d(3, f64);
    const y = bn.forward(randomInput([50, 3], 30)).data;
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      for (let n = 0; n < 50; n++) {
        s += y[n * 3 + c] as number;
        s2 += (y[n * 3 + c] as number) ** 2;
      }
      expect(Math.abs(s / 50)).toBeLessThan(1e-12);
      const v = s2 / 50;
      expect(v).toBeGreaterThan(0.999);
      expect(v).toBeLessThan(1);
    }
  });

  it("eval mode uses the running statistics and leaves them unchanged", () => {
    const bn = new BatchNorm1d(2, f64);
    noGrad(() => bn.forward(randomInput([8, 2], 31)));
    const rm = bn.runningMean.slice();
    bn.eval();
    const x = randomInput([3, 2], 32);
    const y = bn.forward(x).data;
    for (let i = 0; i < 6; i++) {
      const c = i % 2;
      const expected =
        ((x.data[i] as number) - (bn.runningMean[c] as number)) / Math.sqrt((bn.runningVar[c] as number) + 1e-5);
      expect(y[i]).toBeCloseTo(expected, 12);
    }
    expect([...bn.runningMean]).toEqual([...rm]);
  });
});

describe("layer input validation", () => {
  it("wrong input shapes are RangeErrors naming the layer", () => {
    expect(() => new Linear(3, 2).forward(wrap(new Float32Array(8), [2, 4]))).toThrow(/Linear.*N × 3/);
    expect(() => new Conv2d(3, 2, 3).forward(wrap(new Float32Array(16), [1, 1, 4, 4]))).toThrow(/Conv2d.*N × 3/);
    expect(() => new BatchNorm2d(3).forward(wrap(new Float32Array(6), [2, 3]))).toThrow(RangeError);
  });
  it("channels not divisible by groups is a RangeError", () => {
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(RangeError);
  });
});
