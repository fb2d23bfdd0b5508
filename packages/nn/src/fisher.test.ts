import { add, mean, mul, noGrad, softmax, square, sum, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { assertClose, type FloatArray, logistic32, Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { Flatten, GlobalAvgPool2d, Sequential, Tanh } from "./layers/basic.ts";
import { BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.ts";
import { Conv2d } from "./layers/conv.ts";
import { Linear } from "./layers/linear.ts";
import {
  mseLoss,
  sampleBernoulli,
  sigmoidCrossEntropy,
  softmaxCrossEntropy,
  softmaxCrossEntropyOneHot,
} from "./losses.ts";
import { mlp } from "./models.ts";
import type { CurvatureLayer, FisherMode, Module, Parameter } from "./module.ts";

const f64 = { dtype: "float64" as const };

function input(shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  return wrap(new Rng(seed).fillNormal(data), shape);
}

/** Uniform targets in [0, 1): what sigmoid and soft-target cross-entropies accept (negatives are refused). */
function probabilities(shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  return wrap(new Rng(seed).fillUniform(data), shape);
}

/** (1/rows) Σ_r x_r x_rᵀ of a `rows × d` block (one group). */
function secondMoment(x: FloatArray, rows: number, d: number, offset = 0): Float64Array {
  const out = new Float64Array(d * d);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        out[i * d + j] =
          (out[i * d + j] as number) + (x[offset + r * d + i] as number) * (x[offset + r * d + j] as number);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / rows;
  return out;
}

function factors(l: CurvatureLayer): { A: Float64Array; G: Float64Array } {
  const s = l.statistics;
  if (s === null) throw new Error(`no statistics on ${l.name}`);
  const aDim = l.inDim + (l.hasBias ? 1 : 0);
  const rows = s.batchSize * s.positions;
  return { A: secondMoment(s.a, rows, aDim), G: secondMoment(s.g, rows, l.outDim) };
}

describe('"exact" Fisher: every layer\'s factors equal the dense expectation', () => {
  it("3-class MLP (float64): A = (1/N) Σ ā āᵀ and G = (1/N) Σ_n Σ_c p_nc ĝ_nc ĝ_ncᵀ to 1e-10, by per-class backward passes", () => {
    const model = mlp([4, 6, 5, 3], "tanh", { seed: 2, dtype: "float64" });
    const N = 5;
    const C = 3;
    const x = input([N, 4], 11);
    model.setCapture(true, { fisher: "exact", seed: 0 });
    const logits = model.forward(x);
    softmaxCrossEntropy(logits, [0, 1, 2, 1, 0]).backward();
    const layers = model.curvatureLayers() as Linear[];
    // Class probabilities from autodiff's softmax (an implementation independent of nn's losses).
    const p = noGrad(() => softmax(logits)).data;
    model.setCapture(false);

    // Brute force with no capture machinery: a hand-run forward for ā, and for every (n, c) a
    // one-example backward with label c, whose bias gradient is ĝ_nc = ∂ℓ_n(y = c)/∂s_n.
    const children = model.childModules();
    const denseA = layers.map((l) => new Float64Array((l.inDim + 1) ** 2));
    const denseG = layers.map((l) => new Float64Array(l.outDim ** 2));
    for (let n = 0; n < N; n++) {
      const xn = wrap(x.data.slice(n * 4, n * 4 + 4) as Float64Array, [1, 4]);
      let h = xn;
      let li = 0;
      for (const m of children) {
        if (m instanceof Linear) {
          const a = [...h.data, 1];
          const A = denseA[li] as Float64Array;
          for (let i = 0; i < a.length; i++)
            for (let j = 0; j < a.length; j++)
              A[i * a.length + j] = (A[i * a.length + j] as number) + ((a[i] as number) * (a[j] as number)) / N;
          li++;
        }
        h = m.forward(h);
      }
      for (let c = 0; c < C; c++) {
        model.zeroGrad();
        softmaxCrossEntropy(model.forward(xn), [c]).backward();
        layers.forEach((l, i) => {
          const g = l.bias?.grad as Float64Array;
          const G = denseG[i] as Float64Array;
          const w = (p[n * C + c] as number) / N;
          for (let r = 0; r < l.outDim; r++)
            for (let q = 0; q < l.outDim; q++)
              G[r * l.outDim + q] = (G[r * l.outDim + q] as number) + w * (g[r] as number) * (g[q] as number);
        });
      }
    }
    model.setCapture(true, { fisher: "exact", seed: 0 });
    softmaxCrossEntropy(model.forward(x), [0, 1, 2, 1, 0]).backward();
    layers.forEach((l, i) => {
      expect(l.statistics?.fisher).toBe("exact");
      expect(l.statistics?.batchSize).toBe(N * C);
      const { A, G } = factors(l);
      assertClose(A, denseA[i] as Float64Array, { rtol: 1e-10, atol: 1e-12 }, `A of ${l.name}`);
      assertClose(G, denseG[i] as Float64Array, { rtol: 1e-10, atol: 1e-12 }, `G of ${l.name}`);
    });
  });

  it("sigmoid and squared-error heads: the output layer's G is (1/N) Σ_n diag(p_n(1 − p_n)), resp. I", () => {
    const N = 6;
    const D = 4;
    const x = input([N, 3], 5);
    const model = mlp([3, 5, D], "tanh", { seed: 4, dtype: "float64" });
    model.setCapture(true, { fisher: "exact", seed: 0 });
    const s = model.forward(x);
    sigmoidCrossEntropy(s, probabilities([N, D], 6)).backward();
    const last = model.curvatureLayers()[1] as CurvatureLayer;
    const want = new Float64Array(D * D);
    for (let n = 0; n < N; n++)
      for (let j = 0; j < D; j++) {
        const q = 1 / (1 + Math.exp(-(s.data[n * D + j] as number)));
        want[j * D + j] = (want[j * D + j] as number) + (q * (1 - q)) / N;
      }
    assertClose(factors(last).G, want, { rtol: 1e-12, atol: 1e-15 }, "sigmoid G");
    mseLoss(model.forward(x), input([N, D], 7)).backward();
    const eye = new Float64Array(D * D);
    for (let j = 0; j < D; j++) eye[j * D + j] = 1;
    assertClose(factors(last).G, eye, { rtol: 1e-12, atol: 1e-15 }, "Gaussian G");
    expect(last.statistics?.batchSize).toBe(N * D);
  });

  it("a float32 model's sampled sigmoid targets: σ in float32 (logistic32), the draws of sampleBernoulli", () => {
    const N = 300;
    const D = 3;
    const model = mlp([3, 4, D], "tanh", { seed: 4 });
    model.setCapture(true, { fisher: "true", seed: 9 });
    const s = model.forward(input([N, 3], 5, "float32"));
    expect(s.data).toBeInstanceOf(Float32Array);
    sigmoidCrossEntropy(s, probabilities([N, D], 6, "float32")).backward();
    const g = (model.curvatureLayers()[1] as CurvatureLayer).statistics?.g as FloatArray;
    const drawn = sampleBernoulli(s, new Rng(9)).data;
    for (let i = 0; i < N * D; i++) {
      // g = N · (q − y)/N with q the float32 σ, to float32 rounding; y the draw sampleBernoulli makes.
      const q = logistic32(s.data[i] as number);
      expect(Math.abs((g[i] as number) - (q - (drawn[i] as number)))).toBeLessThan(1e-6);
    }
  });

  it("sampled sigmoid targets: each output signal is σ(s) − y with y ∈ {0, 1}, y = 1 about σ(s) of the time; NaN logits refused", () => {
    const N = 400;
    const D = 3;
    const model = mlp([3, 4, D], "tanh", { seed: 4, dtype: "float64" });
    model.setCapture(true, { fisher: "true", seed: 9 });
    const s = model.forward(input([N, 3], 5));
    sigmoidCrossEntropy(s, probabilities([N, D], 6)).backward();
    const g = (model.curvatureLayers()[1] as CurvatureLayer).statistics?.g as Float64Array;
    // The pass draws its targets as sampleBernoulli does with the request's seed (one uniform each).
    const drawn = sampleBernoulli(s, new Rng(9)).data;
    let ones = 0;
    let expected = 0;
    for (let i = 0; i < N * D; i++) {
      const q = 1 / (1 + Math.exp(-(s.data[i] as number)));
      const gi = g[i] as number;
      // g = N · (q − y)/N: q (y = 0) or q − 1 (y = 1), to rounding.
      const y = Math.abs(gi - q) < 1e-12 ? 0 : Math.abs(gi - (q - 1)) < 1e-12 ? 1 : Number.NaN;
      expect(y).not.toBeNaN();
      expect(y).toBe(drawn[i]);
      ones += y;
      expected += q;
    }
    // Σ y − Σ q has standard deviation ≤ √(N·D)/2 = 17.3; the bound is four of them (and the seed is fixed).
    expect(Math.abs(ones - expected)).toBeLessThan(70);
    expect(() =>
      sigmoidCrossEntropy(
        model.forward(
          wrap(
            Float64Array.from({ length: 6 }, () => Number.NaN),
            [2, 3],
          ),
        ),
        probabilities([2, D], 2),
      ),
    ).toThrow(/sigmoidCrossEntropy: logits\[\d\] is NaN/);
    // Curvature propagation draws nothing from σ: a NaN logit reaches the statistics as NaN (the
    // optimizer's scan refuses that step) instead of throwing from the loss.
    model.setCapture(true, { fisher: "curvature-prop", seed: 9 });
    const bad = model.forward(
      wrap(
        Float64Array.from({ length: 6 }, (_, i) => (i === 4 ? Number.NaN : 0.1 * i)),
        [2, 3],
      ),
    );
    expect(() => sigmoidCrossEntropy(bad, probabilities([2, D], 2))).not.toThrow();
    const gBad = (model.curvatureLayers()[1] as CurvatureLayer).statistics?.g as Float64Array;
    expect(Array.from(gBad).some(Number.isNaN)).toBe(true);
  });

  it("conv layers get E = N·C rows with ā replicated per class (grouped, strided, positions T > 1)", () => {
    const model = new Sequential(
      new Conv2d(2, 4, 3, { ...f64, padding: 1, rng: 1 }),
      new Tanh(),
      new Conv2d(4, 6, 3, { ...f64, groups: 2, stride: 2, rng: 2 }),
      new Tanh(),
      new GlobalAvgPool2d(),
      new Flatten(),
      new Linear(6, 3, { ...f64, rng: 3 }),
    );
    const x = input([3, 2, 6, 7], 2);
    model.setCapture(true, { fisher: "empirical", seed: 0 });
    softmaxCrossEntropy(model.forward(x), [0, 1, 2]).backward();
    const empirical = model.curvatureLayers().map((l) => factors(l).A);
    model.setCapture(true, { fisher: "exact", seed: 0 });
    softmaxCrossEntropy(model.forward(x), [0, 1, 2]).backward();
    model.curvatureLayers().forEach((l, i) => {
      expect(l.statistics?.batchSize).toBe(9);
      assertClose(factors(l).A, empirical[i] as Float64Array, { rtol: 1e-12, atol: 1e-14 }, `A of ${l.name}`);
      // every pseudo-example (n, c) received a gradient: none of its T·og entries stayed zero in all groups
      const s = l.statistics;
      const T = s?.positions ?? 0;
      const E = s?.batchSize ?? 0;
      const og = l.outDim / l.groups;
      let silent = 0;
      for (let e = 0; e < E; e++) {
        let any = false;
        for (let k = 0; k < l.groups; k++)
          for (let q = (k * E + e) * T * og; q < (k * E + e + 1) * T * og; q++) if (s?.g[q] !== 0) any = true;
        if (!any) silent++;
      }
      expect(silent).toBe(0);
    });
  });
});

/**
 * Per-entry mean and variance over seeds 1…S of the G factors a stochastic Fisher mode captures on one
 * batch (`scale` multiplies the logits: a large one makes the softmax peaked).
 */
function gMoments(mode: FisherMode, S: number, scale = 1) {
  const model = mlp([4, 5, 3], "tanh", { seed: 7, dtype: "float64" });
  const x = input([6, 4], 3);
  const labels = [0, 1, 2, 0, 1, 2];
  const loss = () => softmaxCrossEntropy(mul(model.forward(x), scale), labels).backward();
  model.setCapture(true, { fisher: "exact", seed: 0 });
  loss();
  const exact = model.curvatureLayers().map((l) => factors(l).G);
  const sum = exact.map((g) => new Float64Array(g.length));
  const sumSq = exact.map((g) => new Float64Array(g.length));
  for (let seed = 1; seed <= S; seed++) {
    model.setCapture(true, { fisher: mode, seed });
    loss();
    model.curvatureLayers().forEach((l, i) => {
      expect(l.statistics?.fisher).toBe(mode);
      const G = factors(l).G;
      for (let k = 0; k < G.length; k++) {
        (sum[i] as Float64Array)[k] = ((sum[i] as Float64Array)[k] as number) + (G[k] as number);
        (sumSq[i] as Float64Array)[k] = ((sumSq[i] as Float64Array)[k] as number) + (G[k] as number) ** 2;
      }
    });
  }
  return exact.map((E, i) => {
    const mean = (sum[i] as Float64Array).map((v) => v / S);
    const variance = (sumSq[i] as Float64Array).map((v, k) => Math.max(0, v / S - (mean[k] as number) ** 2));
    return { exact: E, mean, variance };
  });
}

describe('"true" and "curvature-prop" Fisher: one stochastic pass in the loss', () => {
  it.each(["true", "curvature-prop"] as const)(
    "%s: G averaged over 400 seeds converges to the exact G (every entry within 5 standard errors)",
    (mode) => {
      const S = 400;
      for (const { exact, mean, variance } of gMoments(mode, S)) {
        for (let k = 0; k < exact.length; k++) {
          const se = Math.sqrt((variance[k] as number) / (S - 1));
          expect(Math.abs((mean[k] as number) - (exact[k] as number))).toBeLessThanOrEqual(5 * se + 1e-12);
        }
      }
    },
  );

  it("on a peaked softmax, curvature propagation's G varies less than the sampled-target G (summed entry variance, every layer)", () => {
    const S = 300;
    const sampled = gMoments("true", S, 20);
    const propagated = gMoments("curvature-prop", S, 20);
    sampled.forEach((t, i) => {
      const total = (v: Float64Array) => v.reduce((a, b) => a + b, 0);
      const cp = propagated[i] as (typeof propagated)[number];
      // Measured here: ratios 0.09 (hidden) and 0.32 (output). Sampling rarely hits an unlikely class,
      // with a large g when it does; propagation weighs every class by sqrt(p) on every pass. (On a
      // near-uniform softmax the order flips — MATH.md §2 — which is not where a trained classifier sits.)
      expect(total(cp.variance)).toBeLessThan(0.5 * total(t.variance));
    });
  });

  it("diagonal heads: every propagated output gradient is ±sqrt(Fisher entry) (sigmoid p(1 − p), Gaussian 1), signs of both kinds", () => {
    const N = 6;
    const D = 4;
    const x = input([N, 3], 5);
    const model = mlp([3, 5, D], "tanh", { seed: 4, dtype: "float64" });
    model.setCapture(true, { fisher: "curvature-prop", seed: 2 });
    const s = model.forward(x);
    sigmoidCrossEntropy(s, probabilities([N, D], 6)).backward();
    const last = model.curvatureLayers()[1] as CurvatureLayer;
    const g = last.statistics?.g as FloatArray;
    let positive = 0;
    for (let i = 0; i < N * D; i++) {
      const q = 1 / (1 + Math.exp(-(s.data[i] as number)));
      expect(Math.abs(g[i] as number)).toBeCloseTo(Math.sqrt(q * (1 - q)), 12);
      if ((g[i] as number) > 0) positive++;
    }
    expect(positive).toBeGreaterThan(0);
    expect(positive).toBeLessThan(N * D);
    mseLoss(model.forward(x), input([N, D], 7)).backward();
    for (const v of (last.statistics as { g: FloatArray }).g) expect(Math.abs(v)).toBeCloseTo(1, 12);
    expect(last.statistics?.batchSize).toBe(N);
  });
});

describe('"true" Fisher: sampled targets in the loss', () => {
  it("the same seed gives the same g; another seed other targets", () => {
    const model = mlp([3, 4, 3], "relu", { seed: 1, dtype: "float64" });
    const x = input([16, 3], 1);
    const run = (seed: number) => {
      model.setCapture(true, { fisher: "true", seed });
      softmaxCrossEntropy(model.forward(x), new Array(16).fill(0)).backward();
      return [...(model.curvatureLayers()[1]?.statistics?.g ?? [])];
    };
    expect(run(5)).toEqual(run(5));
    expect(run(6)).not.toEqual(run(5));
  });
});

describe("the user's loop: forward → loss → backward", () => {
  const modes: FisherMode[] = ["empirical", "true", "curvature-prop", "exact"];
  it("parameter gradients are bit-identical with and without the Fisher pass (float32)", () => {
    const x = input([8, 5], 2, "float32");
    const labels = [0, 1, 2, 3, 0, 1, 2, 3];
    const grads = (mode: FisherMode | null) => {
      const model = mlp([5, 7, 6, 4], "relu", { seed: 3 });
      if (mode !== null) model.setCapture(true, { fisher: mode, seed: 9 });
      softmaxCrossEntropy(model.forward(x), labels).backward();
      return model.parameters().map((p) => [...(p.grad ?? [])]);
    };
    const reference = grads(null);
    for (const m of modes) expect(grads(m)).toEqual(reference);
  });

  it("statistics are ready after the loss, labelled, and the user's backward leaves the Fisher's g unchanged", () => {
    const model = mlp([3, 4, 2], "tanh", { seed: 1, dtype: "float64" });
    model.setCapture(true, { fisher: "true", seed: 3 });
    const x = input([5, 3], 2);
    const y = model.forward(x);
    for (const l of model.curvatureLayers()) expect(l.statistics).toBeNull();
    const loss = softmaxCrossEntropyOneHot(y, probabilities([5, 2], 9));
    const before = model.curvatureLayers().map((l) => [...(l.statistics?.g ?? [])]);
    for (const l of model.curvatureLayers()) expect(l.statistics?.fisher).toBe("true");
    loss.backward();
    expect(model.curvatureLayers().map((l) => [...(l.statistics?.g ?? [])])).toEqual(before);
  });

  it("lossG: null after the loss; the user's backward fills it with the loss's own g, whose (1/N) Σ g_L āᵀ is ∇W̄ (dense and conv)", () => {
    const conv = () =>
      new Sequential(
        new Conv2d(2, 4, 3, { ...f64, rng: 2, padding: 1, groups: 2 }),
        new Tanh(),
        new GlobalAvgPool2d(),
        new Linear(4, 3, { ...f64, rng: 3 }),
      );
    const cases: [Module & { curvatureLayers(): readonly CurvatureLayer[] }, Tensor][] = [
      [mlp([3, 4, 3], "tanh", { seed: 1, dtype: "float64" }), input([5, 3], 2)],
      [conv(), input([5, 2, 4, 4], 3)],
    ];
    for (const [model, x] of cases) {
      for (const fisher of ["true", "curvature-prop"] as const) {
        model.setCapture(true, { fisher, seed: 4 });
        for (const p of model.parameters()) p.grad?.fill(0);
        const loss = softmaxCrossEntropy(model.forward(x), [0, 1, 2, 0, 1]);
        for (const l of model.curvatureLayers()) expect(l.statistics?.lossG).toBeNull();
        loss.backward();
        for (const l of model.curvatureLayers()) {
          const s = l.statistics;
          if (s === null || s.lossG === null) throw new Error(`no lossG on ${l.name}`);
          expect(s.lossG).not.toBe(s.g);
          // ∇W̄ = (1/N) Σ_rows g_L āᵀ per group (MATH.md §1), against autodiff's gradients.
          const aDim = l.inDim + (l.hasBias ? 1 : 0);
          const gDim = l.outDim / l.groups;
          const rows = s.batchSize * s.positions;
          for (let k = 0; k < l.groups; k++)
            for (let i = 0; i < gDim; i++)
              for (let j = 0; j < aDim; j++) {
                let sum = 0;
                for (let r = 0; r < rows; r++)
                  sum += (s.lossG[(k * rows + r) * gDim + i] as number) * (s.a[(k * rows + r) * aDim + j] as number);
                const o = k * gDim + i;
                const want = j < l.inDim ? (l.weight.grad?.[o * l.inDim + j] as number) : (l.bias?.grad?.[o] as number);
                expect(sum / s.batchSize).toBeCloseTo(want, 12);
              }
        }
      }
      // "exact" pseudo-example rows have no loss row; "empirical" g are the loss's own.
      for (const fisher of ["exact", "empirical"] as const) {
        model.setCapture(true, { fisher, seed: 4 });
        softmaxCrossEntropy(model.forward(x), [0, 1, 2, 0, 1]).backward();
        for (const l of model.curvatureLayers()) expect(l.statistics?.lossG).toBeNull();
      }
    }
  });

  it("an evaluation forward under noGrad between steps neither captures nor disturbs the last pass's statistics", () => {
    const model = mlp([3, 4, 3], "tanh", { seed: 1, dtype: "float64" });
    model.setCapture(true, { fisher: "true", seed: 5 });
    softmaxCrossEntropy(model.forward(input([4, 3], 2)), [0, 1, 2, 0]).backward();
    const before = model.curvatureLayers().map((l) => ({ pass: l.statistics?.pass, a: [...(l.statistics?.a ?? [])] }));
    noGrad(() => softmaxCrossEntropy(model.forward(input([7, 3], 8)), [0, 1, 2, 0, 1, 2, 0]));
    const after = model.curvatureLayers().map((l) => ({ pass: l.statistics?.pass, a: [...(l.statistics?.a ?? [])] }));
    expect(after).toEqual(before);
    expect(before.every((b) => b.a.length === 4 * 4 || b.a.length === 4 * 5)).toBe(true);
  });

  it("pass increments once per captured pass (also in exact mode); buffers and objects are reused", () => {
    const model = mlp([3, 4, 3], "tanh", { seed: 1 });
    const x = input([4, 3], 2, "float32");
    for (const fisher of modes) {
      model.setCapture(true, { fisher, seed: 1 });
      const step = () => {
        softmaxCrossEntropy(model.forward(x), [0, 1, 2, 0]).backward();
        return model.curvatureLayers().map((l) => l.statistics);
      };
      const s1 = step().map((s) => ({ pass: s?.pass ?? -1, a: s?.a, g: s?.g, s }));
      const s2 = step();
      s2.forEach((s, i) => {
        const prev = s1[i] as { pass: number; a: unknown; g: unknown; s: unknown };
        expect(s?.pass).toBe(prev.pass + 1);
        expect(s?.fisher).toBe(fisher);
        expect(s).toBe(prev.s);
        expect(s?.a).toBe(prev.a);
        expect(s?.g).toBe(prev.g);
      });
    }
  });

  it('a loss nn does not know leaves the statistics labelled "empirical"', () => {
    const model = mlp([3, 4, 2], "tanh", { seed: 1, dtype: "float64" });
    model.setCapture(true, { fisher: "true", seed: 3 });
    const y = model.forward(input([5, 3], 2));
    mean(square(y)).backward(); // the user's own loss
    for (const l of model.curvatureLayers()) {
      expect(l.statistics?.fisher).toBe("empirical");
      expect(l.statistics?.batchSize).toBe(5);
    }
  });

  it("setCapture(false) clears every statistics object; the request is kept when omitted; bad requests are rejected", () => {
    const model = new Sequential(
      new Linear(3, 4, { ...f64, rng: 1 }),
      new BatchNorm1d(4, f64),
      new Tanh(),
      new Linear(4, 2, { ...f64, rng: 2 }),
    );
    model.setCapture(true, { fisher: "exact", seed: 4 });
    softmaxCrossEntropy(model.forward(input([5, 3], 1)), [0, 1, 0, 1, 1]).backward();
    expect(model.scaleShiftLayers()[0]?.statistics?.fisher).toBe("exact");
    model.setCapture(false);
    for (const l of model.curvatureLayers()) expect(l.statistics).toBeNull();
    for (const l of model.scaleShiftLayers()) expect(l.statistics).toBeNull();
    model.setCapture(true);
    softmaxCrossEntropy(model.forward(input([5, 3], 1)), [0, 1, 0, 1, 1]).backward();
    for (const l of model.curvatureLayers()) expect(l.statistics?.fisher).toBe("exact");
    expect(() => model.setCapture(true, { fisher: "fake" as FisherMode, seed: 1 })).toThrow(
      'setCapture: request.fisher must be "empirical", "true", "curvature-prop" or "exact" (got fake)',
    );
    expect(() => model.setCapture(true, { fisher: "true", seed: Number.NaN })).toThrow(RangeError);
    expect(() => model.setCapture(1 as unknown as boolean)).toThrow(TypeError);
  });
});

describe("the link between a loss and the capturing layers", () => {
  it("two models capturing at once: each loss runs the pass of the model its prediction depends on", () => {
    const x = input([4, 3], 1);
    const a = mlp([3, 4, 3], "tanh", { seed: 1, dtype: "float64" });
    const b = mlp([3, 4, 3], "tanh", { seed: 2, dtype: "float64" });
    a.setCapture(true, { fisher: "true", seed: 1 });
    b.setCapture(true, { fisher: "exact", seed: 1 });
    const ya = a.forward(x);
    const yb = b.forward(x);
    softmaxCrossEntropy(ya, [0, 1, 2, 0]);
    for (const l of a.curvatureLayers()) expect(l.statistics?.fisher).toBe("true");
    for (const l of b.curvatureLayers()) expect(l.statistics).toBeNull();
    softmaxCrossEntropy(yb, [0, 1, 2, 0]);
    for (const l of b.curvatureLayers()) expect(l.statistics?.batchSize).toBe(12);
  });

  it("layers of one prediction capturing with different requests: a RangeError naming both", () => {
    const model = mlp([3, 4, 3], "tanh", { seed: 1, dtype: "float64" });
    model.setCapture(true, { fisher: "true", seed: 1 });
    (model.childModules()[2] as Module).setCapture(true, { fisher: "true", seed: 2 });
    expect(() => softmaxCrossEntropy(model.forward(input([4, 3], 1)), [0, 1, 2, 0])).toThrow(
      /softmaxCrossEntropy: the prediction depends on layers capturing with different requests/,
    );
  });

  it("the pass also runs when the prediction is a later op of the model's output (here a Tanh head)", () => {
    const model = new Sequential(new Linear(3, 2, { ...f64, rng: 1 }), new Tanh());
    model.setCapture(true, { fisher: "true", seed: 1 });
    mseLoss(model.forward(input([4, 3], 1)), input([4, 2], 2)).backward();
    expect(model.curvatureLayers()[0]?.statistics?.fisher).toBe("true");
  });
});

describe("BatchNorm scale-and-shift capture", () => {
  /** (1/N) Σ_e per-example gradients of γ and β from the captured x̂ and g. */
  function fromCapture(m: Module): { dGamma: Float64Array; dBeta: Float64Array } {
    const layer = m.scaleShiftLayers()[0];
    const s = layer?.statistics;
    if (!layer || !s) throw new Error("no scale-shift statistics");
    const C = layer.channels;
    const dGamma = new Float64Array(C);
    const dBeta = new Float64Array(C);
    for (let r = 0; r < s.batchSize * s.positions; r++)
      for (let c = 0; c < C; c++) {
        dGamma[c] = (dGamma[c] as number) + ((s.g[r * C + c] as number) * (s.xhat[r * C + c] as number)) / s.batchSize;
        dBeta[c] = (dBeta[c] as number) + (s.g[r * C + c] as number) / s.batchSize;
      }
    return { dGamma, dBeta };
  }

  it("1d and 2d, train mode: (1/N) Σ_e Σ_t g·x̂ and (1/N) Σ_e Σ_t g equal autodiff's ∂L/∂γ and ∂L/∂β", () => {
    const cases: [Module, Tensor, number][] = [
      [
        new Sequential(
          new Linear(3, 4, { ...f64, rng: 1 }),
          new BatchNorm1d(4, f64),
          new Tanh(),
          new Linear(4, 3, { ...f64, rng: 2 }),
        ),
        input([6, 3], 1),
        6,
      ],
      [
        new Sequential(
          new Conv2d(2, 3, 3, { ...f64, padding: 1, rng: 1 }),
          new BatchNorm2d(3, f64),
          new Tanh(),
          new GlobalAvgPool2d(),
          new Flatten(),
          new Linear(3, 3, { ...f64, rng: 2 }),
        ),
        input([4, 2, 5, 4], 2),
        4,
      ],
    ];
    for (const [model, x, n] of cases) {
      const bn = model.scaleShiftLayers()[0];
      // make γ, β non-trivial so that x̂ and g both matter
      new Rng(3).fillNormal(bn?.scale.value as FloatArray);
      new Rng(4).fillNormal(bn?.shift?.value as FloatArray);
      model.setCapture(true);
      model.zeroGrad();
      softmaxCrossEntropy(
        model.forward(x),
        Array.from({ length: n }, (_, i) => i % 3),
      ).backward();
      expect(bn?.statistics?.positions).toBe(x.ndim === 4 ? 20 : 1);
      const { dGamma, dBeta } = fromCapture(model);
      assertClose(dGamma, bn?.scale.grad as FloatArray, { rtol: 1e-10, atol: 1e-14 }, "∂L/∂γ");
      assertClose(dBeta, bn?.shift?.grad as FloatArray, { rtol: 1e-10, atol: 1e-14 }, "∂L/∂β");
    }
  });

  it("containers list scale-shift layers in registration order; non-affine BatchNorm is not one", () => {
    const model = new Sequential(
      new BatchNorm1d(3, f64),
      new Linear(3, 3, f64),
      new BatchNorm1d(3, { ...f64, affine: false }),
      new BatchNorm1d(3, f64),
    );
    expect(model.scaleShiftLayers().map((l) => [l.name, l.kind, l.channels])).toEqual([
      ["0", "scale-shift", 3],
      ["3", "scale-shift", 3],
    ]);
  });
});

describe("deferred weight gradients (CaptureRequest.deferWeightGradients)", () => {
  const labels = [0, 1, 2, 0, 1];
  const model = () => mlp([3, 4, 3], "tanh", { seed: 1, dtype: "float64" });
  const names = (m: Module & { curvatureLayers(): readonly CurvatureLayer[] }) =>
    new Set(m.curvatureLayers().map((l) => l.name));
  /** autodiff's own gradients, capture off. */
  const reference = (passes = 1, extra?: (m: Sequential) => Tensor) => {
    const m = model();
    for (let p = 0; p < passes; p++) {
      let loss = softmaxCrossEntropy(m.forward(input([5, 3], 2 + p)), labels);
      if (extra) loss = add(loss, extra(m));
      loss.backward();
    }
    return m.parameters().map((p) => [...(p.grad ?? [])]);
  };
  const close = (got: number[][], want: number[][]) => {
    expect(got.length).toBe(want.length);
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as number[];
      for (let j = 0; j < g.length; j++) expect(g[j]).toBeCloseTo(want[i]?.[j] as number, 13);
    }
  };

  it("the backward leaves the weights' products pending (gradFromRows); reading forms (1/N) Σ r āᵀ = autodiff's ∇W, every mode with loss rows", () => {
    const want = reference();
    for (const fisher of ["empirical", "true", "curvature-prop"] as const) {
      const m = model();
      m.setCapture(true, { fisher, seed: 4, deferWeightGradients: names(m) });
      softmaxCrossEntropy(m.forward(input([5, 3], 2)), labels).backward();
      const layers = m.curvatureLayers();
      for (const l of layers) expect(l.weight.gradFromRows).toBe(true);
      for (const l of layers) expect(l.bias?.gradFromRows).toBe(false);
      close(
        m.parameters().map((p) => [...(p.grad ?? [])]),
        want,
      );
      for (const l of layers) expect(l.weight.gradFromRows).toBe(false);
    }
  });

  it("not in exact mode, nor for layers not named, nor with a hook on the weight", () => {
    const want = reference();
    const m = model();
    m.setCapture(true, { fisher: "exact", seed: 4, deferWeightGradients: names(m) });
    softmaxCrossEntropy(m.forward(input([5, 3], 2)), labels).backward();
    for (const l of m.curvatureLayers()) expect(l.weight.gradFromRows).toBe(false);
    close(
      m.parameters().map((p) => [...(p.grad ?? [])]),
      want,
    );
    const h = model();
    const [first, second] = h.curvatureLayers() as [CurvatureLayer, CurvatureLayer];
    const remove = (second.weight as Parameter).tensor.registerHook(() => {});
    h.setCapture(true, { fisher: "true", seed: 4, deferWeightGradients: new Set([first.name, second.name]) });
    softmaxCrossEntropy(h.forward(input([5, 3], 2)), labels).backward();
    expect(first.weight.gradFromRows).toBe(true);
    expect(second.weight.gradFromRows).toBe(false);
    remove();
    close(
      h.parameters().map((p) => [...(p.grad ?? [])]),
      want,
    );
  });

  it("accumulates as autodiff does: a second backward without zeroGrad, a retained graph's second backward, another use of the weight", () => {
    const m = model();
    m.setCapture(true, { fisher: "true", seed: 4, deferWeightGradients: names(m) });
    for (let p = 0; p < 2; p++) softmaxCrossEntropy(m.forward(input([5, 3], 2 + p)), labels).backward();
    close(
      m.parameters().map((p) => [...(p.grad ?? [])]),
      reference(2),
    );

    const r = model();
    r.setCapture(true, { fisher: "empirical", seed: 4, deferWeightGradients: names(r) });
    const loss = softmaxCrossEntropy(r.forward(input([5, 3], 2)), labels);
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    close(
      r.parameters().map((p) => [...(p.grad ?? [])]),
      reference().map((g) => g.map((v) => 2 * v)),
    );

    // A regulariser on the first weight: its gradient holds more than the rows, so gradFromRows is false.
    const l2 = (s: Sequential) => sum(square(((s.curvatureLayers()[0] as CurvatureLayer).weight as Parameter).tensor));
    const w = model();
    w.setCapture(true, { fisher: "true", seed: 4, deferWeightGradients: names(w) });
    add(softmaxCrossEntropy(w.forward(input([5, 3], 2)), labels), l2(w)).backward();
    const [a, b] = w.curvatureLayers() as [CurvatureLayer, CurvatureLayer];
    expect(a.weight.gradFromRows).toBe(false);
    expect(b.weight.gradFromRows).toBe(true);
    close(
      w.parameters().map((p) => [...(p.grad ?? [])]),
      reference(1, l2),
    );
  });

  it("an older forward's backward forms its product from its own operands; zeroGrad discards a pending one", () => {
    // Two forwards, one user loss over both (no Fisher pass claims them): the first forward's rows
    // were overwritten by the second's, so its product is formed at once.
    const m = model();
    m.setCapture(true, { fisher: "empirical", seed: 4, deferWeightGradients: names(m) });
    const y1 = m.forward(input([5, 3], 2));
    const y2 = m.forward(input([5, 3], 3));
    add(mean(square(y1)), mean(square(y2))).backward();
    const ref = model();
    add(mean(square(ref.forward(input([5, 3], 2)))), mean(square(ref.forward(input([5, 3], 3))))).backward();
    close(
      m.parameters().map((p) => [...(p.grad ?? [])]),
      ref.parameters().map((p) => [...(p.grad ?? [])]),
    );

    const z = model();
    z.setCapture(true, { fisher: "true", seed: 4, deferWeightGradients: names(z) });
    softmaxCrossEntropy(z.forward(input([5, 3], 2)), labels).backward();
    z.zeroGrad();
    for (const l of z.curvatureLayers()) expect(l.weight.gradFromRows).toBe(false);
    for (const p of z.parameters()) expect([...(p.grad ?? [])].every((v) => v === 0)).toBe(true);
    // A capturing forward before the product was read forms it first (its ā is about to change).
    softmaxCrossEntropy(z.forward(input([5, 3], 2)), labels).backward();
    softmaxCrossEntropy(z.forward(input([5, 3], 3)), labels).backward();
    close(
      z.parameters().map((p) => [...(p.grad ?? [])]),
      reference(2),
    );
  });

  it("a setCapture request whose deferWeightGradients is not a Set is a TypeError", () => {
    const m = model();
    expect(() =>
      m.setCapture(true, { fisher: "true", seed: 1, deferWeightGradients: ["0"] as unknown as Set<string> }),
    ).toThrow(/setCapture: request.deferWeightGradients must be a Set of layer names or null/);
  });
});
