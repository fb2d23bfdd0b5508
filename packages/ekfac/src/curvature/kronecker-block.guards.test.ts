/**
 * The Kronecker blocks' argument contract and their guarded eigenbasis (kronecker-block.ts header,
 * "Eigenbasis"): option defaults and the TypeError/RangeError of each bad option naming the class and
 * the option, the class names in `kind` and in every method's messages, and `updateBasis` — a
 * numerical failure (no convergence, a factor holding NaN/±Inf) keeps the previous basis and counts the
 * failure, the identity basis with λ = max(0, diag(factor)) before any success, a non-finite factor
 * reset to zero with its moving average restarted, and the EKFAC scaling restarted only when some
 * factor's basis changed.
 */
import { assertClose } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import {
  Conv2dEigenCorrected,
  Conv2dKroneckerFactored,
  DenseEigenCorrected,
  DenseKroneckerFactored,
  KroneckerBlock,
  type KroneckerBlockOptions,
} from "./kronecker-block.ts";
import { chooseScalingStrategy } from "./scaling.ts";

const dense = { outDim: 2, inDim: 3, hasBias: true };
const conv = { outDim: 4, inDim: 2, hasBias: false, groups: 2 };

describe("construction: names, defaults and option errors", () => {
  it("kind names the layer and the approximation; messages name the class", () => {
    expect(new DenseKroneckerFactored(dense).kind).toBe("DenseKroneckerFactored");
    expect(new DenseEigenCorrected(dense).kind).toBe("DenseEigenCorrected");
    expect(new Conv2dKroneckerFactored(conv).kind).toBe("Conv2dKroneckerFactored");
    expect(new Conv2dEigenCorrected(conv).kind).toBe("Conv2dEigenCorrected");
    expect(new Conv2dEigenCorrected(conv).approximation).toBe("ekfac");
    expect(new Conv2dKroneckerFactored(conv).approximation).toBe("kfac");
    const c = randomCase(1, "conv2d", 4, 2, false, 2, 3, 2);
    const b = new Conv2dEigenCorrected(conv);
    const bad = { ...c.stats, positions: 0 };
    expect(() => b.updateFactors(bad)).toThrow(/^Conv2dEigenCorrected\.updateFactors: statistics\.positions/);
    expect(() => b.updateScaling(bad)).toThrow(/^Conv2dEigenCorrected\.updateScaling: statistics\.positions/);
    expect(() => b.checkStatistics("caller", bad)).toThrow(/^caller: statistics\.positions/);
    expect(() => b.precondition(new Float64Array(6), new Float64Array(6), 1)).toThrow(
      /^Conv2dEigenCorrected\.precondition: grad and out must have outDim·aDim = 8 elements \(got 6, 6\)/,
    );
    expect(() => b.precondition(new Float64Array(8), new Float64Array(5), 1)).toThrow(/\(got 8, 5\)/);
    expect(() => b.precondition(new Float64Array(8), new Float64Array(8), 0)).toThrow(
      /^Conv2dEigenCorrected\.precondition: damping must be a finite number > 0 \(got 0\)/,
    );
    // A KFAC block checks its statistics in updateScaling too, though it has no scaling to update.
    expect(() => new Conv2dKroneckerFactored(conv).updateScaling(bad)).toThrow(
      /^Conv2dKroneckerFactored\.updateScaling: statistics\.positions/,
    );
  });

  it("defaults: decays 0.95, batch scaling, eigenbasis damping, float64, no shared rows", () => {
    const b = new DenseEigenCorrected(dense);
    expect(b.factorDecay).toBe(0.95);
    expect(b.scalingDecay).toBe(0.95);
    expect(b.scalingMode).toBe("batch");
    expect(b.kfacDamping).toBe("eigenbasis");
    expect(b.precision).toBe("float64");
    expect(b.gradientFromStatistics).toBe(false);
    expect(b.dims).toMatchObject({ aDim: 4, gDim: 2, groups: 1, size: 8 });
    expect(b.size).toBe(8);
    const o = new DenseEigenCorrected(dense, {
      factorDecay: 0,
      scalingDecay: 0.5,
      scaling: "ra",
      kfacDamping: "factored-tikhonov",
      precision: "float32",
      gradientFromStatistics: true,
    });
    expect([
      o.factorDecay,
      o.scalingDecay,
      o.scalingMode,
      o.kfacDamping,
      o.precision,
      o.gradientFromStatistics,
    ]).toEqual([0, 0.5, "ra", "factored-tikhonov", "float32", true]);
  });

  it("the shape is a copy with the kind and groups of the class", () => {
    const shape = { ...dense };
    const b = new DenseKroneckerFactored(shape);
    shape.outDim = 7;
    expect(b.shape).toEqual({ kind: "dense", outDim: 2, inDim: 3, hasBias: true, groups: 1 });
    expect(new Conv2dEigenCorrected(conv).shape).toEqual({ kind: "conv2d", ...conv });
  });

  it("bad options are TypeError (kind) or RangeError (value) naming the class and the option", () => {
    const cases: [KroneckerBlockOptions, ErrorConstructor, RegExp][] = [
      [{ factorDecay: 1 }, RangeError, /^DenseEigenCorrected: options\.factorDecay must be in \[0, 1\) \(got 1\)/],
      [{ factorDecay: -0.5 }, RangeError, /options\.factorDecay must be in \[0, 1\)/],
      [{ scalingDecay: 1 }, RangeError, /^DenseEigenCorrected: options\.scalingDecay must be in \[0, 1\) \(got 1\)/],
      [{ scaling: "x" as "ra" }, TypeError, /^DenseEigenCorrected: options\.scaling must be "batch" or "ra" \(got x\)/],
      [
        { kfacDamping: "x" as "eigenbasis" },
        TypeError,
        /^DenseEigenCorrected: options\.kfacDamping must be "eigenbasis" or "factored-tikhonov" \(got x\)/,
      ],
      [
        { precision: "float16" as "float32" },
        TypeError,
        /^DenseEigenCorrected: options\.precision must be "float32" or "float64" \(got float16\)/,
      ],
      [
        { gradientFromStatistics: 1 as unknown as boolean },
        TypeError,
        /^DenseEigenCorrected: options\.gradientFromStatistics must be true or false \(got 1\)$/,
      ],
      [
        { maxEigIterations: -1 },
        RangeError,
        /^DenseEigenCorrected: options\.maxEigIterations must be a non-negative integer \(got -1\)$/,
      ],
      [
        { scalingStrategy: "fastest" as "gram" },
        TypeError,
        /^DenseEigenCorrected: options\.scalingStrategy must be "gram", "rotate-rows" or "rotate-gradients" \(got fastest\)$/,
      ],
      [
        { factorDecy: 0.9 } as KroneckerBlockOptions,
        TypeError,
        /^DenseEigenCorrected: options\.factorDecy is not an option \(did you mean factorDecay\?\)/,
      ],
    ];
    for (const [opts, type, msg] of cases) {
      expect(() => new DenseEigenCorrected(dense, opts)).toThrow(type);
      expect(() => new DenseEigenCorrected(dense, opts)).toThrow(msg);
    }
    expect(() => new KroneckerBlock("Custom", "shampoo" as "kfac", { ...dense, kind: "dense", groups: 1 })).toThrow(
      /^Custom: approximation must be "kfac" or "ekfac" \(got shampoo\)/,
    );
    expect(
      () => new KroneckerBlock("Custom", "kfac", { ...dense, kind: "dense", groups: 1 }, { factorDecay: 2 }),
    ).toThrow(/^Custom: options\.factorDecay/);
  });
});

describe("strategyFor", () => {
  it("defaults to the cheapest S* strategy for a non-identity basis; a forced one wins", () => {
    const b = new Conv2dEigenCorrected({ outDim: 6, inDim: 9, hasBias: true, groups: 2 });
    for (const [n, t] of [
      [1, 1],
      [4, 9],
      [64, 1],
      [2, 30],
    ] as const) {
      expect(b.strategyFor(n, t)).toBe(chooseScalingStrategy(n, t, 10, 3, false));
    }
    const seen = new Set([1, 4, 64, 2].map((n, i) => b.strategyFor(n, [1, 9, 1, 30][i] as number)));
    expect(seen.size).toBeGreaterThan(1);
    const f = new Conv2dEigenCorrected({ outDim: 6, inDim: 9, hasBias: true, groups: 2 }, { scalingStrategy: "gram" });
    expect(f.strategyFor(64, 1)).toBe("gram");
  });
});

describe("updateFactors: the moving average of A and G (KFC normalisation)", () => {
  it("the first update takes the batch, later ones X ← ρX + (1−ρ)X_batch, per group", () => {
    const c1 = randomCase(2, "conv2d", 4, 2, true, 3, 2, 2);
    const c2 = randomCase(3, "conv2d", 4, 2, true, 3, 2, 2);
    const rho = 0.7;
    const b = new Conv2dKroneckerFactored({ outDim: 4, inDim: 2, hasBias: true, groups: 2 }, { factorDecay: rho });
    const one = new Conv2dKroneckerFactored({ outDim: 4, inDim: 2, hasBias: true, groups: 2 }, { factorDecay: 0 });
    one.updateFactors(c1.stats);
    const [a1, g1] = [one.A.slice(), one.G.slice()];
    one.updateFactors(c2.stats);
    const [a2, g2] = [one.A.slice(), one.G.slice()];
    b.updateStatistics(c1.stats); // CurvatureBlock's name for updateFactors
    expect(b.factorUpdates).toBe(1);
    assertClose(b.A, a1, { rtol: 1e-14 });
    assertClose(b.G, g1, { rtol: 1e-14 });
    b.updateFactors(c2.stats);
    expect(b.factorUpdates).toBe(2);
    assertClose(
      b.A,
      a1.map((x, i) => rho * x + (1 - rho) * (a2[i] as number)),
      { rtol: 1e-13 },
    );
    assertClose(
      b.G,
      g1.map((x, i) => rho * x + (1 - rho) * (g2[i] as number)),
      { rtol: 1e-13 },
    );
  });

  it("float32 precision: the same average of the float32 batch products, exactly symmetric, on factors wider than a 32-tile", () => {
    // a = 71 and g = 40 span several of foldSymmetric's 32 × 32 tiles (the folded lower triangle is
    // written to both triangles); the reference folds the float64 products of the float32-rounded rows.
    const shape = { outDim: 40, inDim: 70, hasBias: true };
    const [c1, c2] = [randomCase(21, "dense", 40, 70, true, 9), randomCase(22, "dense", 40, 70, true, 9)];
    const rho = 0.6;
    const b = new DenseKroneckerFactored(shape, { factorDecay: rho, precision: "float32" });
    const ref = new DenseKroneckerFactored(shape, { factorDecay: rho });
    for (const c of [c1, c2]) {
      const rounded = {
        ...c.stats,
        a: Float64Array.from(Float32Array.from(c.stats.a)),
        g: Float64Array.from(Float32Array.from(c.stats.g)),
      };
      b.updateFactors(c.stats);
      ref.updateFactors(rounded);
    }
    assertClose(b.A, ref.A, { rtol: 1e-5, atol: 1e-6 });
    assertClose(b.G, ref.G, { rtol: 1e-5, atol: 1e-6 });
    for (const [x, d] of [
      [b.A, 71],
      [b.G, 40],
    ] as const) {
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) expect(x[j * d + i]).toBe(x[i * d + j]);
    }
  });

  it("per group k: A_k = (1/N) Σ_{n,t} ā ā^T and G_k = (1/(N·T)) Σ_{n,t} g g^T over that group's rows", () => {
    const [groups, n, t] = [2, 3, 2];
    const c = randomCase(14, "conv2d", 4, 2, true, n, t, groups);
    const b = new Conv2dKroneckerFactored({ outDim: 4, inDim: 2, hasBias: true, groups });
    b.updateFactors(c.stats);
    const { aDim: a, gDim: g } = b.dims;
    const rows = n * t;
    for (let k = 0; k < groups; k++) {
      for (const [x, m, data, scale] of [
        [b.A, a, c.stats.a, 1 / n],
        [b.G, g, c.stats.g, 1 / (n * t)],
      ] as const) {
        for (let i = 0; i < m; i++)
          for (let j = 0; j < m; j++) {
            let s = 0;
            for (let r = 0; r < rows; r++)
              s += (data[(k * rows + r) * m + i] as number) * (data[(k * rows + r) * m + j] as number);
            expect(x[k * m * m + i * m + j]).toBeCloseTo(scale * s, 12);
          }
      }
    }
  });

  it("float32 statistics: a larger batch after a smaller one grows the float64 copies", () => {
    const shape = { outDim: 4, inDim: 2, hasBias: true, groups: 2 };
    const b = new Conv2dEigenCorrected(shape, { factorDecay: 0, scalingDecay: 0 });
    const r = new Conv2dEigenCorrected(shape, { factorDecay: 0, scalingDecay: 0 });
    for (const [seed, n] of [
      [4, 2],
      [5, 5],
    ] as const) {
      const c = randomCase(seed, "conv2d", 4, 2, true, n, 2, 2);
      const a32 = Float32Array.from(c.stats.a);
      const g32 = Float32Array.from(c.stats.g);
      b.updateFactors({ ...c.stats, a: a32, g: g32 });
      b.updateBasis();
      b.updateScaling({ ...c.stats, a: a32, g: g32 });
      const ref = { ...c.stats, a: Float64Array.from(a32), g: Float64Array.from(g32) };
      r.updateFactors(ref);
      r.updateBasis();
      r.updateScaling(ref);
      expect(b.A).toEqual(r.A);
      expect(b.G).toEqual(r.G);
      expect(b.S).toEqual(r.S);
    }
  });
});

describe("updateBasis: the guarded eigenbasis", () => {
  it("success: eigenpairs of every factor, counters, and a fresh scaling", () => {
    const c = randomCase(6, "conv2d", 4, 2, true, 3, 2, 2);
    const b = new Conv2dEigenCorrected({ outDim: 4, inDim: 2, hasBias: true, groups: 2 }, { scalingDecay: 0.5 });
    const { aDim: a, gDim: g } = b.dims;
    expect(b.basisReady).toBe(false);
    b.updateFactors(c.stats);
    const [a0, g0] = [b.A.slice(), b.G.slice()];
    expect(b.refreshBasis()).toEqual({ succeeded: 4, failed: 0 });
    expect(b.basisReady).toBe(true);
    expect([b.basisRefreshes, b.basisFailures, b.scalingUpdates, b.factorUpdates]).toEqual([1, 0, 0, 1]);
    for (const [x, u, lam, n] of [
      [b.A, b.uA, b.lambdaA, a],
      [b.G, b.uG, b.lambdaG, g],
    ] as const) {
      for (let k = 0; k < 2; k++) {
        // X U = U diag(λ), λ ascending and ≥ 0.
        for (let j = 0; j < n; j++) {
          const l = lam[k * n + j] as number;
          expect(l).toBeGreaterThanOrEqual(0);
          if (j > 0) expect(l).toBeGreaterThanOrEqual(lam[k * n + j - 1] as number);
          for (let i = 0; i < n; i++) {
            let xu = 0;
            for (let m = 0; m < n; m++)
              xu += (x[k * n * n + i * n + m] as number) * (u[k * n * n + m * n + j] as number);
            expect(xu).toBeCloseTo(l * (u[k * n * n + i * n + j] as number), 10);
          }
        }
      }
    }
    expect(b.A).toEqual(a0); // finite factors are left as they are
    expect(b.G).toEqual(g0);
    // The scaling after a refresh overwrites S; the next one averages; a new basis restarts it.
    b.updateScaling(c.stats);
    const s1 = b.S.slice();
    const c2 = randomCase(7, "conv2d", 4, 2, true, 3, 2, 2);
    const fresh = new Conv2dEigenCorrected({ outDim: 4, inDim: 2, hasBias: true, groups: 2 }, { scalingDecay: 0 });
    fresh.bindState("test", { ...b.state, S: b.S.slice() });
    fresh.updateScaling(c2.stats);
    b.updateScaling(c2.stats);
    expect(b.scalingUpdates).toBe(2);
    assertClose(
      b.S,
      s1.map((x, i) => 0.5 * x + 0.5 * (fresh.S[i] as number)),
      { rtol: 1e-13 },
    );
    b.updateBasis();
    expect(b.scalingUpdates).toBe(0);
    expect(b.basisRefreshes).toBe(2);
    b.updateScaling(c2.stats);
    fresh.bindState("test", { ...b.state, S: new Float64Array(b.S.length), scalingUpdates: 0 });
    fresh.updateScaling(c2.stats);
    expect(b.S).toEqual(fresh.S);
  });

  it("no convergence before any success: identity basis, λ = max(0, diag(factor)), failures counted", () => {
    const c = randomCase(8, "conv2d", 4, 3, true, 3, 2, 2);
    const shape = { outDim: 4, inDim: 3, hasBias: true, groups: 2 };
    const b = new Conv2dKroneckerFactored(shape, { factorDecay: 0, maxEigIterations: 0 });
    b.updateFactors(c.stats);
    const r = b.updateBasis();
    expect(r).toEqual({ succeeded: 0, failed: 4 });
    expect([b.basisFailures, b.state.hasBasis]).toEqual([4, 0]);
    expect(b.basisReady).toBe(false);
    const { aDim: a, gDim: g } = b.dims;
    const fresh = b.initState();
    expect(b.uA).toEqual(fresh.uA);
    expect(b.uG).toEqual(fresh.uG);
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < a; i++) expect(b.lambdaA[k * a + i]).toBe(b.A[k * a * a + i * a + i]);
      for (let i = 0; i < g; i++) expect(b.lambdaG[k * g + i]).toBe(b.G[k * g * g + i * g + i]);
    }
    // The direction is then the diagonal one: ∇ ⊘ (diag G diag Aᵀ + ε).
    const grad = Float64Array.from({ length: b.size }, (_, i) => Math.cos(i));
    const out = b.precondition(grad, new Float64Array(b.size), 0.1);
    for (let k = 0; k < 2; k++)
      for (let i = 0; i < g; i++)
        for (let j = 0; j < a; j++) {
          const x = k * g * a + i * a + j;
          const d = (b.G[k * g * g + i * g + i] as number) * (b.A[k * a * a + j * a + j] as number);
          expect(out[x]).toBeCloseTo((grad[x] as number) / (d + 0.1), 12);
        }
    b.updateBasis();
    expect(b.basisFailures).toBe(8);
  });

  it("a later failure keeps the previous basis and eigenvalues, and the EKFAC scaling keeps averaging", () => {
    const c = randomCase(9, "dense", 3, 4, true, 6);
    const shape = { outDim: 3, inDim: 4, hasBias: true };
    const good = new DenseEigenCorrected(shape, { scalingDecay: 0.5 });
    good.updateFactors(c.stats);
    good.updateBasis();
    good.updateScaling(c.stats);
    const failing = new DenseEigenCorrected(shape, { scalingDecay: 0.5, maxEigIterations: 0 });
    failing.bindState("test", good.state);
    const before = structuredClone(good.state);
    const c2 = randomCase(10, "dense", 3, 4, true, 6);
    failing.updateFactors(c2.stats);
    expect(failing.updateBasis()).toEqual({ succeeded: 0, failed: 2 });
    expect(failing.state.hasBasis).toBe(1);
    expect(failing.basisReady).toBe(true);
    expect(failing.uA).toEqual(before.uA);
    expect(failing.uG).toEqual(before.uG);
    expect(failing.lambdaA).toEqual(before.lambdaA);
    expect(failing.lambdaG).toEqual(before.lambdaG);
    expect(failing.scalingUpdates).toBe(1); // no basis changed: S keeps averaging in the same basis
    expect(failing.basisFailures).toBe(2);
  });

  for (const [name, key] of [
    ["A", "A"],
    ["G", "G"],
  ] as const) {
    it(`a non-finite ${name} is reset to 0, counted as failed, restarts the factor average; the other factor is decomposed`, () => {
      const c = randomCase(11, "conv2d", 4, 2, true, 3, 2, 2);
      const shape = { outDim: 4, inDim: 2, hasBias: true, groups: 2 };
      const b = new Conv2dEigenCorrected(shape, { factorDecay: 0.9 });
      b.updateFactors(c.stats);
      b.updateBasis();
      b.updateScaling(c.stats);
      b.updateFactors(c.stats);
      const prev = structuredClone(b.state);
      b.state[key][1] = key === "A" ? Number.NaN : Number.POSITIVE_INFINITY;
      const other = key === "A" ? "G" : "A";
      const otherBefore = b.state[other].slice();
      expect(b.updateBasis()).toEqual({ succeeded: 2, failed: 2 });
      expect(b.state[key]).toEqual(new Float64Array(b.state[key].length));
      expect(b.state[other]).toEqual(otherBefore);
      expect(b.factorUpdates).toBe(0);
      expect(b.basisFailures).toBe(2);
      expect(b.state.hasBasis).toBe(1);
      const u = key === "A" ? "uA" : "uG";
      const lam = key === "A" ? "lambdaA" : "lambdaG";
      expect(b.state[u]).toEqual(prev[u]);
      expect(b.state[lam]).toEqual(prev[lam]);
      expect(b.scalingUpdates).toBe(0); // the other factor's basis is new
      // The restarted average takes the next batch whole, so the next refresh succeeds.
      const c2 = randomCase(12, "conv2d", 4, 2, true, 3, 2, 2);
      b.updateFactors(c2.stats);
      const ref = new Conv2dEigenCorrected(shape, { factorDecay: 0 });
      ref.updateFactors(c2.stats);
      expect(b.state[key]).toEqual(ref.state[key]);
      expect(b.updateBasis()).toEqual({ succeeded: 4, failed: 0 });
    });
  }

  it("a non-finite factor before any success leaves λ = 0 for it (its reset diagonal)", () => {
    const c = randomCase(13, "dense", 2, 2, true, 4);
    const b = new DenseKroneckerFactored({ outDim: 2, inDim: 2, hasBias: true });
    b.updateFactors(c.stats);
    b.A[0] = Number.NaN;
    expect(b.updateBasis()).toEqual({ succeeded: 1, failed: 1 });
    expect(b.lambdaA).toEqual(new Float64Array(3));
    expect(b.basisReady).toBe(false);
    expect(b.lambdaG[1]).toBeGreaterThan(0);
  });

  it("an argument error of the eigensolver propagates", () => {
    const b = new DenseEigenCorrected(dense);
    // The constructor refuses -1 itself: set behind its back, the eigensolver's own RangeError must surface.
    (b as unknown as { maxEigIterations: number }).maxEigIterations = -1;
    b.updateFactors(randomCase(1, "dense", 2, 3, true, 3).stats);
    expect(() => b.updateBasis()).toThrow(RangeError);
  });
});
