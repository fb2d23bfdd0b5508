import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTypedArrayConstructions } from "../../test/allocation-spy.ts";
import { type DenseCase, denseSolve, randomCase } from "../../test/dense-reference.ts";
import { concat64 } from "../internal/stats.ts";
import { meanGradient, perExampleGradients } from "./exact-fisher.ts";
import {
  QuadraticModelWorkspace,
  type QuadraticTerms,
  quadraticModelValue,
  quadraticStep,
  solveQuadraticStep,
} from "./quadratic-model.ts";

const EPS = Number.EPSILON;

/** A network of layers sharing one batch, with random Δ, δ₀, ∇ per layer (W̄ layout). */
interface Net {
  readonly layers: readonly DenseCase[];
  readonly dir: readonly Float64Array[];
  readonly prev: readonly Float64Array[];
  readonly grad: readonly Float64Array[];
  readonly n: number;
}

function sizeOf(c: DenseCase): number {
  return c.shape.outDim * (c.shape.inDim + (c.shape.hasBias ? 1 : 0));
}

function randomNet(seed: number, layers: readonly DenseCase[]): Net {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const vec = (c: DenseCase) => rng.fillNormal(new Float64Array(sizeOf(c)));
  return {
    layers,
    dir: layers.map(vec),
    prev: layers.map(vec),
    grad: layers.map(vec),
    n: (layers[0] as DenseCase).stats.batchSize,
  };
}

/** The whole network's vectors concatenated, and its per-example gradients (N × P) from the oracle. */
function denseNet(net: Net): { p: number; dir: Float64Array; prev: Float64Array; grad: Float64Array; v: Float64Array } {
  const sizes = net.layers.map(sizeOf);
  const p = sizes.reduce((s, x) => s + x, 0);
  const v = new Float64Array(net.n * p);
  let off = 0;
  net.layers.forEach((c, l) => {
    const per = perExampleGradients(c.shape, c.stats);
    const pl = sizes[l] as number;
    for (let e = 0; e < net.n; e++) v.set(per.subarray(e * pl, (e + 1) * pl), e * p + off);
    off += pl;
  });
  return { p, dir: concat64(net.dir), prev: concat64(net.prev), grad: concat64(net.grad), v };
}

/** F = (1/N) Σ vₙvₙᵀ formed explicitly; xᵀFy by the dense product. */
function fisherForm(d: ReturnType<typeof denseNet>, n: number, x: Float64Array, y: Float64Array): number {
  const f = new Float64Array(d.p * d.p);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < d.p; i++) {
      for (let j = 0; j < d.p; j++) {
        f[i * d.p + j] = (f[i * d.p + j] as number) + ((d.v[e * d.p + i] as number) * (d.v[e * d.p + j] as number)) / n;
      }
    }
  }
  let s = 0;
  for (let i = 0; i < d.p; i++)
    for (let j = 0; j < d.p; j++) s += (x[i] as number) * (f[i * d.p + j] as number) * (y[j] as number);
  return s;
}

function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) * (y[i] as number);
  return s;
}

function termsOf(net: Net, ws = new QuadraticModelWorkspace(), withPrevious = true): QuadraticTerms {
  ws.begin(net.n);
  net.layers.forEach((c, l) => {
    ws.addLayer(
      c.shape,
      c.stats,
      net.dir[l] as Float64Array,
      withPrevious ? (net.prev[l] as Float64Array) : null,
      net.grad[l] as Float64Array,
    );
  });
  return ws.terms();
}

/** Sizes of the two-layer network: dense out1 × in1, then dense out2 × out1 or a grouped conv (T positions). */
interface NetParams {
  readonly seed: number;
  readonly n: number;
  readonly out1: number;
  readonly in1: number;
  readonly out2: number;
  readonly bias: boolean;
  readonly t: number;
  readonly groups: number;
  readonly conv: boolean;
  readonly lambda: number;
}

/** Dense → (dense | grouped conv) sharing the batch; the conv layer has T positions per example. */
function buildNet(c: NetParams): Net {
  const first = randomCase(c.seed, "dense", c.out1, c.in1, c.bias, c.n);
  const second = c.conv
    ? randomCase(c.seed + 1, "conv2d", c.groups * c.out2, c.out1, c.bias, c.n, c.t, c.groups)
    : randomCase(c.seed + 1, "dense", c.out2, c.out1, !c.bias, c.n);
  return randomNet(c.seed, [first, second]);
}

/** A 3×3 dense layer followed by a 2-output dense or conv layer (fixed sizes for the example tests). */
function fixedNet(seed: number, n: number, conv?: { t: number; groups: number }): Net {
  const c = conv ?? { t: 1, groups: 1 };
  return buildNet({ seed, n, out1: 3, in1: 3, out2: 2, bias: true, ...c, conv: conv !== undefined, lambda: 0 });
}

// M(αΔ + μδ₀) = ∇ᵀδ + ½δᵀ(F + λI)δ against F from explicit per-example gradients, on random two-layer
// networks (dense, then dense or grouped conv), is law ekfac.quadratic-model.dense in the proofs catalogue.
describe("quadratic model from captured statistics (Martens & Grosse 2015 §6.4, §7)", () => {
  it("keeps the cross-layer terms: the joint ΔᵀFΔ differs from the sum of per-layer blocks", () => {
    const net = fixedNet(7, 6, { t: 3, groups: 2 });
    const joint = termsOf(net).curvature11;
    let blockwise = 0;
    net.layers.forEach((_, l) => {
      const one: Net = {
        ...net,
        layers: [net.layers[l] as DenseCase],
        dir: [net.dir[l] as Float64Array],
        prev: [net.prev[l] as Float64Array],
        grad: [net.grad[l] as Float64Array],
      };
      blockwise += termsOf(one).curvature11;
    });
    const d = denseNet(net);
    expect(Math.abs(joint - fisherForm(d, net.n, d.dir, d.dir))).toBeLessThan(1e-10 * joint);
    expect(Math.abs(joint - blockwise)).toBeGreaterThan(1e-3 * joint);
  });

  it("float32 statistics give the terms of their float64 copies (the inputs are widened, not rounded)", () => {
    const net = fixedNet(3, 5, { t: 2, groups: 1 });
    const narrow = (c: DenseCase): DenseCase => ({
      shape: c.shape,
      stats: { ...c.stats, a: Float32Array.from(c.stats.a), g: Float32Array.from(c.stats.g) },
    });
    const f32 = { ...net, layers: net.layers.map(narrow) };
    const widened = {
      ...net,
      layers: f32.layers.map((c) => ({
        shape: c.shape,
        stats: { ...c.stats, a: Float64Array.from(c.stats.a), g: Float64Array.from(c.stats.g) },
      })),
    };
    const a = { ...termsOf(f32) };
    const b = { ...termsOf(widened) };
    expect(a).toEqual(b);
  });

  it("addLayerFromRows: the linear terms from the loss rows r equal those of the gradient (1/N) Σ r āᵀ; the rest is addLayer's", () => {
    for (const conv of [undefined, { t: 3, groups: 2 }]) {
      const net = fixedNet(13, 5, conv);
      const rng = new Rng(21);
      const lossRows = net.layers.map((c) => rng.fillNormal(new Float64Array(c.stats.g.length)));
      const grads = net.layers.map((c, l) => meanGradient(c.shape, { ...c.stats, g: lossRows[l] as Float64Array }));
      const ws = new QuadraticModelWorkspace().begin(net.n);
      net.layers.forEach((c, l) => {
        // float32 rows too: they are widened, as the statistics are.
        const r = l === 0 ? Float32Array.from(lossRows[l] as Float64Array) : (lossRows[l] as Float64Array);
        if (l === 0) grads[0] = meanGradient(c.shape, { ...c.stats, g: Float64Array.from(r) });
        ws.addLayerFromRows(c.shape, c.stats, r, net.dir[l] as Float64Array, net.prev[l] as Float64Array);
      });
      const got = { ...ws.terms() };
      const exact = { ...termsOf({ ...net, grad: grads }) };
      for (const key of Object.keys(exact) as (keyof QuadraticTerms)[]) {
        const scale = Math.max(1, Math.abs(exact[key]));
        expect(Math.abs(got[key] - exact[key])).toBeLessThan(1e-12 * scale);
      }
      expect(Math.abs(got.linear1)).toBeGreaterThan(0);
      expect(Math.abs(got.linear2)).toBeGreaterThan(0);
      expect(() =>
        ws.addLayerFromRows(
          net.layers[0]?.shape as DenseCase["shape"],
          net.layers[0]?.stats as DenseCase["stats"],
          new Float64Array(1),
          net.dir[0] as Float64Array,
          null,
        ),
      ).toThrow(
        /QuadraticModelWorkspace.addLayerFromRows: lossRows must be a Float32Array or Float64Array laid out as statistics.g/,
      );
    }
  });

  it("addParameter adds linear and λ‖·‖² terms but no Fisher curvature", () => {
    const net = fixedNet(11, 4);
    const ws = new QuadraticModelWorkspace();
    const before = { ...termsOf(net, ws) };
    const x = Float64Array.of(1, -2, 3);
    const y = Float64Array.of(0.5, 0.5, -1);
    const g = Float64Array.of(2, 0, 1);
    termsOf(net, ws);
    const after = ws.addParameter(x, y, g).terms();
    expect(after.curvature11).toBe(before.curvature11);
    expect(after.curvature22).toBe(before.curvature22);
    expect(after.inner11).toBeCloseTo(before.inner11 + 14, 12);
    expect(after.inner12).toBeCloseTo(before.inner12 - 3.5, 12);
    expect(after.linear1).toBeCloseTo(before.linear1 + 5, 12);
    expect(after.linear2).toBeCloseTo(before.linear2, 12);
  });

  it("a BatchNorm-style scale-and-shift layer enters like a layer: terms = dense forms with its per-example gradients", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          n: fc.integer({ min: 1, max: 6 }),
          t: fc.integer({ min: 1, max: 4 }),
          channels: fc.integer({ min: 1, max: 4 }),
          hasShift: fc.boolean(),
        }),
        ({ seed, n, t, channels, hasShift }) => {
          const dense = randomNet(seed, [randomCase(seed, "dense", 2, 3, true, n)]);
          const rng = new Rng(seed + 17);
          const xhat = rng.fillNormal(new Float64Array(n * t * channels));
          const g = rng.fillNormal(new Float64Array(n * t * channels));
          const k = hasShift ? 2 : 1;
          const [dir, prev, grad] = [0, 1, 2].map(() => rng.fillNormal(new Float64Array(k * channels))) as [
            Float64Array,
            Float64Array,
            Float64Array,
          ];
          const ws = new QuadraticModelWorkspace();
          termsOf(dense, ws);
          const got = ws.addScaleShift({ batchSize: n, positions: t, xhat, g }, hasShift, dir, prev, grad).terms();
          // Oracle: the dense layer's per-example gradients followed by (Σ_t g x̂, Σ_t g) per channel.
          const d = denseNet(dense);
          const p = d.p + k * channels;
          const v = new Float64Array(n * p);
          for (let e = 0; e < n; e++) {
            v.set(d.v.subarray(e * d.p, (e + 1) * d.p), e * p);
            for (let s = 0; s < t; s++) {
              for (let c = 0; c < channels; c++) {
                const r = (e * t + s) * channels + c;
                v[e * p + d.p + c] = (v[e * p + d.p + c] as number) + (g[r] as number) * (xhat[r] as number);
                if (hasShift)
                  v[e * p + d.p + channels + c] = (v[e * p + d.p + channels + c] as number) + (g[r] as number);
              }
            }
          }
          const whole = {
            p,
            v,
            dir: concat64([d.dir, dir]),
            prev: concat64([d.prev, prev]),
            grad: concat64([d.grad, grad]),
          };
          const fdd = fisherForm(whole, n, whole.dir, whole.dir);
          const fpp = fisherForm(whole, n, whole.prev, whole.prev);
          const tol = 1e3 * EPS * (1 + n * p) * (fdd + fpp);
          expect(Math.abs(got.curvature11 - fdd)).toBeLessThanOrEqual(tol);
          expect(Math.abs(got.curvature12 - fisherForm(whole, n, whole.dir, whole.prev))).toBeLessThanOrEqual(tol);
          expect(Math.abs(got.curvature22 - fpp)).toBeLessThanOrEqual(tol);
          expect(got.linear1).toBeCloseTo(dot(whole.grad, whole.dir), 10);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("float32 directions give the terms of their float64 copies", () => {
    const net = fixedNet(9, 4, { t: 2, groups: 1 });
    const narrow = { ...net, dir: net.dir.map((x) => Float64Array.from(Float32Array.from(x))) };
    const want = { ...termsOf(narrow) };
    const ws = new QuadraticModelWorkspace().begin(net.n);
    net.layers.forEach((c, l) => {
      ws.addLayer(c.shape, c.stats, Float32Array.from(net.dir[l] as Float64Array), null, net.grad[l] as Float64Array);
    });
    const got = ws.terms();
    expect(got.curvature11).toBe(want.curvature11);
    expect(got.linear1).toBe(want.linear1);
  });

  it("allocates nothing after the first evaluation at the largest size", () => {
    const net = fixedNet(5, 8, { t: 3, groups: 1 });
    const ws = new QuadraticModelWorkspace();
    const out = quadraticStep();
    termsOf(net, ws);
    const count = countTypedArrayConstructions(() => {
      for (let i = 0; i < 3; i++) solveQuadraticStep(termsOf(net, ws), 0.1, undefined, out);
    });
    expect(count).toBe(0);
  });

  it("rejects bad input naming the function and argument", () => {
    const net = fixedNet(1, 3);
    const c = net.layers[0] as DenseCase;
    const ws = new QuadraticModelWorkspace();
    const v = net.dir[0] as Float64Array;
    expect(() => ws.addLayer(c.shape, c.stats, v, null, v)).toThrow(/addLayer: call begin/);
    expect(() => ws.begin(0)).toThrow(RangeError);
    ws.begin(4);
    expect(() => ws.addLayer(c.shape, c.stats, v, null, v)).toThrow(/batchSize = 3, expected 4/);
    ws.begin(3);
    expect(() => ws.addLayer(c.shape, c.stats, v.subarray(1), null, v)).toThrow(/direction has length/);
    expect(() => ws.addLayer(c.shape, c.stats, v, v.subarray(1), v)).toThrow(/previous has length/);
    expect(() => ws.addLayer(c.shape, c.stats, v, null, [] as unknown as Float64Array)).toThrow(TypeError);
    const rows = { batchSize: 3, positions: 2, xhat: new Float64Array(12), g: new Float64Array(12) };
    const four = new Float64Array(4);
    expect(() => ws.addScaleShift(rows, true, four.subarray(1), null, four)).toThrow(
      /addScaleShift: direction has length 3, expected 4/,
    );
    expect(() => ws.addScaleShift({ ...rows, xhat: new Float64Array(13) }, true, four, null, four)).toThrow(/N·T·C/);
    expect(() => ws.addScaleShift({ ...rows, batchSize: 2 }, true, four, null, four)).toThrow(/expected 3/);
    expect(() => solveQuadraticStep(ws.terms(), -1)).toThrow(/solveQuadraticStep: damping/);
    expect(() => solveQuadraticStep(ws.terms(), 1, { momentum: Number.NaN })).toThrow(/options.momentum/);
  });
});

/** Terms of one random dense layer with N = m examples: F has rank ≤ m, singular when m < P. */
const problemArb = fc.record({
  seed: fc.integer(),
  out: fc.integer({ min: 1, max: 3 }),
  in: fc.integer({ min: 1, max: 3 }),
  m: fc.integer({ min: 1, max: 8 }),
  lambda: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 10, noNaN: true })),
  logScale: fc.integer({ min: -6, max: 6 }),
});

function problem(c: {
  seed: number;
  out: number;
  in: number;
  m: number;
  lambda: number;
  logScale: number;
}): QuadraticTerms {
  const net = randomNet(c.seed, [randomCase(c.seed, "dense", c.out, c.in, false, c.m)]);
  (net.dir[0] as Float64Array).forEach((v, i, x) => {
    x[i] = v * 10 ** c.logScale;
  });
  return termsOf(net);
}

function gram(t: QuadraticTerms, lambda: number): [number, number, number] {
  return [t.curvature11 + lambda * t.inner11, t.curvature12 + lambda * t.inner12, t.curvature22 + lambda * t.inner22];
}

describe("the 2×2 solve for (α, μ)", () => {
  it("optimality: ∇M(α, μ) = C·(α, μ) + b ≈ 0 at a joint solution, and it equals a generic linear solve", () => {
    fc.assert(
      fc.property(problemArb, (c) => {
        const t = problem(c);
        const r = solveQuadraticStep(t, c.lambda);
        if (r.status !== "joint") return;
        const [c11, c12, c22] = gram(t, c.lambda);
        const cond = (c11 * c22) / (c11 * c22 - c12 * c12);
        const r1 = c11 * r.alpha + c12 * r.momentum + t.linear1;
        const r2 = c12 * r.alpha + c22 * r.momentum + t.linear2;
        const scale1 = Math.abs(c11 * r.alpha) + Math.abs(c12 * r.momentum) + Math.abs(t.linear1);
        const scale2 = Math.abs(c12 * r.alpha) + Math.abs(c22 * r.momentum) + Math.abs(t.linear2);
        expect(Math.abs(r1)).toBeLessThanOrEqual(64 * EPS * cond * scale1);
        expect(Math.abs(r2)).toBeLessThanOrEqual(64 * EPS * cond * scale2);
        // The reference: Gaussian elimination on the equilibrated system (D C D) x̃ = −D b, D = diag(C)^(−½)
        // (partial pivoting on the raw C is itself inaccurate when Δ and δ₀ differ in scale by 10⁶).
        const s1 = Math.sqrt(c11);
        const s2 = Math.sqrt(c22);
        const x = denseSolve(
          Float64Array.of(1, c12 / s1 / s2, c12 / s1 / s2, 1),
          Float64Array.of(-t.linear1 / s1, -t.linear2 / s2),
        );
        // Both forward errors are ≤ c·ε·cond·‖x̃‖ normwise.
        const xt = Math.hypot(r.alpha * s1, r.momentum * s2);
        expect(Math.abs(r.alpha * s1 - (x[0] as number))).toBeLessThanOrEqual(64 * EPS * cond * xt);
        expect(Math.abs(r.momentum * s2 - (x[1] as number))).toBeLessThanOrEqual(64 * EPS * cond * xt);
        // At the minimiser M = ½ bᵀx; and the reduction-ratio model drops exactly ½λ‖δ‖².
        // M(x) − ½bᵀx = ½xᵀ(Cx + b), so it inherits the residual bound above.
        const half = 0.5 * (t.linear1 * r.alpha + t.linear2 * r.momentum);
        const scaleM =
          Math.abs(t.linear1 * r.alpha) + Math.abs(t.linear2 * r.momentum) + Math.abs(c11 * r.alpha * r.alpha);
        expect(Math.abs(r.dampedChange - half)).toBeLessThanOrEqual(
          64 * EPS * cond * (scaleM + Math.abs(c22 * r.momentum * r.momentum)),
        );
        expect(r.predictedChange).toBe(quadraticModelValue(t, 0, r.alpha, r.momentum));
        expect(r.predictedChange).toBeLessThanOrEqual(r.dampedChange);
      }),
      { numRuns: 300 },
    );
  });

  it("the solution is no worse than any point of a fine grid around it (direct minimisation)", () => {
    fc.assert(
      fc.property(problemArb, (c) => {
        const t = problem(c);
        const r = solveQuadraticStep(t, c.lambda);
        if (r.status === "fallback") return;
        const m0 = quadraticModelValue(t, c.lambda, r.alpha, r.momentum);
        const ha = Math.max(Math.abs(r.alpha), 1e-3);
        const hm = Math.max(Math.abs(r.momentum), 1e-3);
        for (let i = -20; i <= 20; i++) {
          for (let j = -20; j <= 20; j++) {
            const a = r.alpha + (i / 10) * ha;
            const mu = r.status === "joint" ? r.momentum + (j / 10) * hm : 0;
            const m = quadraticModelValue(t, c.lambda, a, mu);
            expect(m0).toBeLessThanOrEqual(m + 1e-9 * (Math.abs(m) + Math.abs(m0)));
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it("never returns NaN or ±Inf, whatever finite terms it gets", () => {
    const num = fc.double({ noNaN: true, noDefaultInfinity: true });
    const pos = fc.double({ min: 0, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(num, num, num, pos, num, pos, num, num, pos, (c11, c12, c22, i11, i12, i22, b1, b2, lambda) => {
        const t = {
          batchSize: 1,
          curvature11: c11,
          curvature12: c12,
          curvature22: c22,
          inner11: i11,
          inner12: i12,
          inner22: i22,
          linear1: b1,
          linear2: b2,
        };
        const r = solveQuadraticStep(t, lambda);
        for (const v of [r.alpha, r.momentum, r.dampedChange, r.predictedChange]) expect(Number.isFinite(v)).toBe(true);
        if (r.status === "fallback") expect([r.alpha, r.momentum]).toEqual([0, 0]);
      }),
      { numRuns: 500 },
    );
  });

  it("first step (δ₀ = 0): α alone, α = −∇ᵀΔ / (ΔᵀFΔ + λ‖Δ‖²) (§6.4)", () => {
    const net = fixedNet(2, 5);
    const t = termsOf(net, undefined, false);
    const r = solveQuadraticStep(t, 0.5);
    expect([r.status, r.reason, r.momentum]).toEqual(["alpha-only", "no-previous-update", 0]);
    expect(r.alpha).toBeCloseTo(-t.linear1 / (t.curvature11 + 0.5 * t.inner11), 12);
  });

  it("δ₀ parallel to Δ (singular Gram): α alone, and the model value matches the joint optimum", () => {
    const net = fixedNet(4, 5);
    const parallel = { ...net, prev: net.dir.map((x) => x.map((v) => -2 * v)) };
    const t = termsOf(parallel);
    const r = solveQuadraticStep(t, 0.1);
    expect([r.status, r.reason, r.momentum]).toEqual(["alpha-only", "gram-not-positive-definite", 0]);
    const [c11] = gram(t, 0.1);
    expect(r.dampedChange).toBeCloseTo((-0.5 * t.linear1 * t.linear1) / c11, 10);
  });

  it("no positive curvature along Δ (λ = 0, Δ in the null space of F): fallback, α = μ = 0", () => {
    const t = {
      batchSize: 4,
      curvature11: 0,
      curvature12: 0,
      curvature22: 1,
      inner11: 3,
      inner12: 0,
      inner22: 1,
      linear1: -1,
      linear2: 0,
    };
    const r = solveQuadraticStep(t, 0);
    expect([r.status, r.reason, r.alpha, r.momentum, r.predictedChange]).toEqual([
      "fallback",
      "curvature-not-positive",
      0,
      0,
      0,
    ]);
    const nan = solveQuadraticStep({ ...t, curvature11: Number.NaN }, 1);
    expect([nan.status, nan.reason]).toEqual(["fallback", "non-finite"]);
  });

  it("a non-PD Gram from an indefinite 'curvature' drops δ₀ (C₂₂ ≤ 0)", () => {
    const t = {
      batchSize: 1,
      curvature11: 1,
      curvature12: 0.3,
      curvature22: -2,
      inner11: 0,
      inner12: 0,
      inner22: 1,
      linear1: -1,
      linear2: 1,
    };
    const r = solveQuadraticStep(t, 0.5);
    expect([r.status, r.reason, r.momentum, r.alpha]).toEqual(["alpha-only", "gram-not-positive-definite", 0, 1]);
  });

  it("fixed coefficients: the free one minimises M along its own axis", () => {
    fc.assert(
      fc.property(problemArb, fc.double({ min: -2, max: 2, noNaN: true }), (c, fixed) => {
        const t = problem(c);
        const [c11, c12, c22] = gram(t, c.lambda);
        const m = solveQuadraticStep(t, c.lambda, { momentum: fixed });
        if (m.status !== "fallback") {
          const dAlpha = c11 * m.alpha + c12 * m.momentum + t.linear1;
          expect(m.momentum).toBe(fixed);
          expect(Math.abs(dAlpha)).toBeLessThanOrEqual(
            1e-12 * (Math.abs(c11 * m.alpha) + Math.abs(c12 * fixed) + Math.abs(t.linear1)),
          );
        }
        const a = solveQuadraticStep(t, c.lambda, { alpha: fixed });
        expect(a.alpha).toBe(fixed);
        if (a.status === "joint") {
          const dMu = c12 * fixed + c22 * a.momentum + t.linear2;
          expect(Math.abs(dMu)).toBeLessThanOrEqual(
            1e-12 * (Math.abs(c12 * fixed) + Math.abs(c22 * a.momentum) + Math.abs(t.linear2)),
          );
        }
        const both = solveQuadraticStep(t, c.lambda, { alpha: fixed, momentum: 0.5 });
        expect([both.alpha, both.momentum]).toEqual([fixed, 0.5]);
        expect(both.dampedChange).toBe(quadraticModelValue(t, c.lambda, fixed, 0.5));
      }),
      { numRuns: 200 },
    );
  });
});
