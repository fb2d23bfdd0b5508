import { gradcheck, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import {
  mseLoss,
  propagateCategoricalInto,
  sampleBernoulli,
  sampleCategorical,
  sampleGaussian,
  sigmoidCrossEntropy,
  softmaxCrossEntropy,
  softmaxCrossEntropyOneHot,
} from "./losses.ts";

function t(values: number[], shape: number[], requiresGrad = false): Tensor {
  return wrap(Float64Array.from(values), shape, { requiresGrad });
}

describe("loss values follow their definitions (mean over the batch)", () => {
  const z = [1, -2, 0.5, 3, 0, -1];
  it("softmax CE: (1/N) Σ −log softmax(z_n)[y_n]; integer labels = one-hot targets", () => {
    const lse0 = Math.log(Math.exp(1) + Math.exp(-2) + Math.exp(0.5));
    const lse1 = Math.log(Math.exp(3) + Math.exp(0) + Math.exp(-1));
    const expected = (lse0 - 0.5 + (lse1 - 3)) / 2;
    expect(softmaxCrossEntropy(t(z, [2, 3]), [2, 0]).item()).toBeCloseTo(expected, 14);
    expect(softmaxCrossEntropyOneHot(t(z, [2, 3]), t([0, 0, 1, 1, 0, 0], [2, 3])).item()).toBeCloseTo(expected, 14);
  });
  it("sigmoid CE: (1/N) Σ_n Σ_j −y log σ(z) − (1 − y) log(1 − σ(z)), stable for large |z|", () => {
    const y = [1, 0, 0.3, 0, 1, 1];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    let s = 0;
    z.forEach((v, i) => {
      s += -(y[i] as number) * Math.log(sig(v)) - (1 - (y[i] as number)) * Math.log(1 - sig(v));
    });
    expect(sigmoidCrossEntropy(t(z, [2, 3]), t(y, [2, 3])).item()).toBeCloseTo(s / 2, 13);
    const big = sigmoidCrossEntropy(t([800, -800], [1, 2]), t([0, 1], [1, 2])).item();
    expect(big).toBeCloseTo(1600, 10);
  });
  it("mse: (1/N) Σ_n ½‖f_n − y_n‖²", () => {
    expect(mseLoss(t([1, 2, 3, 4], [2, 2]), t([0, 0, 3, 6], [2, 2])).item()).toBeCloseTo(
      (0.5 * (1 + 4) + 0.5 * 4) / 2,
      14,
    );
  });
  it("label and shape errors are RangeErrors", () => {
    expect(() => softmaxCrossEntropy(t(z, [2, 3]), [3, 0])).toThrow(RangeError);
    expect(() => softmaxCrossEntropy(t(z, [2, 3]), [0])).toThrow(RangeError);
    expect(() => mseLoss(t(z, [2, 3]), t(z, [3, 2]))).toThrow(RangeError);
  });
});

describe("loss gradients match finite differences", () => {
  const rng = new Rng(5);
  const logits = () => wrap(rng.fillNormal(new Float64Array(12)), [4, 3], { requiresGrad: true });
  it.each([
    ["softmax CE", (x: Tensor) => softmaxCrossEntropy(x, [0, 2, 1, 1])],
    ["sigmoid CE", (x: Tensor) => sigmoidCrossEntropy(x, t([1, 0, 0.5, 0, 1, 1, 0, 0, 1, 0.2, 0.9, 0], [4, 3]))],
    ["mse", (x: Tensor) => mseLoss(x, t([1, 0, 0.5, 0, 1, 1, 0, 0, 1, 0.2, 0.9, 0], [4, 3]))],
  ])("%s", (_, f) => {
    const r = gradcheck((x) => f(x as Tensor), [logits()]);
    expect(r.message).toBe("");
  });
});

/**
 * Monte Carlo estimate of E[g gᵀ] for one output row s, where g = ∂ℓ/∂s with targets sampled from the
 * model's predictive distribution: replicate s as a batch of M rows, sample M targets, backprop the
 * MEAN loss and multiply by M (the N-scaling of the capture convention).
 */
function sampledFisher(s: number[], M: number, loss: (x: Tensor, rng: Rng) => Tensor): { F: number[]; mean: number[] } {
  const D = s.length;
  const x = wrap(
    Float64Array.from({ length: M * D }, (_, i) => s[i % D] as number),
    [M, D],
    { requiresGrad: true },
  );
  loss(x, new Rng(42)).backward();
  const g = (x.grad?.data ?? []) as Float64Array;
  const F = new Array(D * D).fill(0);
  const mean = new Array(D).fill(0);
  for (let m = 0; m < M; m++) {
    for (let i = 0; i < D; i++) {
      const gi = M * (g[m * D + i] as number);
      mean[i] += gi / M;
      for (let j = 0; j < D; j++) F[i * D + j] += (gi * M * (g[m * D + j] as number)) / M;
    }
  }
  return { F, mean };
}

describe("sampled targets give the true Fisher of the output: E[g gᵀ] over y ~ p(y | s)", () => {
  const M = 40_000;
  const tol = 5 / Math.sqrt(M); // 5 standard errors for |g| ≤ ~1.5
  it("softmax CE with Categorical samples: E[g gᵀ] = diag(p) − p pᵀ, E[g] = 0", () => {
    const s = [0.3, -1, 1.2];
    const e = s.map(Math.exp);
    const Z = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / Z);
    const { F, mean } = sampledFisher(s, M, (x, rng) => softmaxCrossEntropy(x, sampleCategorical(x, rng)));
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(mean[i] as number)).toBeLessThan(tol);
      for (let j = 0; j < 3; j++) {
        const exact = (i === j ? (p[i] as number) : 0) - (p[i] as number) * (p[j] as number);
        expect(Math.abs((F[i * 3 + j] as number) - exact)).toBeLessThan(tol);
      }
    }
  });
  it("sigmoid CE with Bernoulli samples: E[g gᵀ] = diag(p(1 − p))", () => {
    const s = [0.5, -2];
    const p = s.map((v) => 1 / (1 + Math.exp(-v)));
    const { F } = sampledFisher(s, M, (x, rng) => sigmoidCrossEntropy(x, sampleBernoulli(x, rng)));
    expect(Math.abs((F[0] as number) - (p[0] as number) * (1 - (p[0] as number)))).toBeLessThan(tol);
    expect(Math.abs((F[3] as number) - (p[1] as number) * (1 - (p[1] as number)))).toBeLessThan(tol);
    expect(Math.abs(F[1] as number)).toBeLessThan(tol);
  });
  it("squared error (with the ½) and Gaussian samples: E[g gᵀ] = I", () => {
    const { F } = sampledFisher([0.7, -0.2], M, (x, rng) => mseLoss(x, sampleGaussian(x, rng)));
    const tolG = 5 * Math.sqrt(2 / M);
    expect(Math.abs((F[0] as number) - 1)).toBeLessThan(tolG);
    expect(Math.abs((F[3] as number) - 1)).toBeLessThan(tolG);
    expect(Math.abs(F[1] as number)).toBeLessThan(tolG);
  });
  it("samplers are deterministic for a seed", () => {
    const x = t([0.1, 0.2, 0.3, -1, 2, 0], [2, 3]);
    expect([...sampleCategorical(x, new Rng(9))]).toEqual([...sampleCategorical(x, new Rng(9))]);
    expect([...sampleBernoulli(x, new Rng(9)).data]).toEqual([...sampleBernoulli(x, new Rng(9)).data]);
  });
});

describe("curvature propagation: E[out outᵀ] over the signs is the logits' Fisher diag(p) − p pᵀ", () => {
  it("averaged over all 2^C sign patterns (enumerated by a scripted rng): exact to 1e-15; every row sums to 0", () => {
    const s = [0.3, -1, 1.2, 4];
    const C = s.length;
    const e = s.map((v) => Math.exp(v));
    const Z = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / Z);
    const F = new Float64Array(C * C);
    const patterns = 2 ** C;
    for (let bits = 0; bits < patterns; bits++) {
      let k = 0;
      // uniform() < 0.5 draws the sign −1: bit k of the pattern picks it.
      const scripted = { uniform: () => ((bits >> k++) & 1 ? 0.25 : 0.75) } as unknown as Rng;
      const out = propagateCategoricalInto(new Float64Array(C), t(s, [1, C]), scripted);
      expect(Math.abs(out.reduce((a, b) => a + b, 0))).toBeLessThan(1e-15);
      for (let i = 0; i < C; i++)
        for (let j = 0; j < C; j++)
          F[i * C + j] = (F[i * C + j] as number) + ((out[i] as number) * (out[j] as number)) / patterns;
    }
    for (let i = 0; i < C; i++)
      for (let j = 0; j < C; j++) {
        const exact = (i === j ? (p[i] as number) : 0) - (p[i] as number) * (p[j] as number);
        expect(Math.abs((F[i * C + j] as number) - exact)).toBeLessThan(1e-15);
      }
  });
  it("one uniform per entry, deterministic for a seed; rows without a distribution and wrong sizes are RangeErrors", () => {
    const x = t([0.1, 0.2, 0.3, -1, 2, 0], [2, 3]);
    const a = propagateCategoricalInto(new Float64Array(6), x, new Rng(4));
    expect([...a]).toEqual([...propagateCategoricalInto(new Float64Array(6), x, new Rng(4))]);
    const rng = new Rng(4);
    propagateCategoricalInto(new Float64Array(6), x, rng);
    const next = new Rng(4);
    for (let i = 0; i < 6; i++) next.uniform();
    expect(rng.uniform()).toBe(next.uniform());
    expect(() => propagateCategoricalInto(new Float64Array(5), x, new Rng(1))).toThrow(
      /propagateCategoricalInto: out has length 5, expected 6/,
    );
    const bad = t([0, Number.NaN, 1, 0, 0, 0], [2, 3]);
    expect(() => propagateCategoricalInto(new Float64Array(6), bad, new Rng(1))).toThrow(RangeError);
    const inf = t([0, 0, 0, Number.POSITIVE_INFINITY, 0, 0], [2, 3]);
    expect(() => propagateCategoricalInto(new Float64Array(6), inf, new Rng(1))).toThrow(
      /row 1 defines no distribution/,
    );
  });
});
