import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { caseOfSizes, layerSizesArb, randomCase } from "../test/dense-reference.ts";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import { exactFisher, frobeniusDistance, traceOf } from "./curvature/exact-fisher.ts";
import { KroneckerBlock } from "./curvature/kronecker-block.ts";
import { compareWithFisher, fisherApproximationReport, gramFrobeniusError } from "./diagnostics.ts";

const caseArb = layerSizesArb({ outPerGroup: 4, inDim: 6, n: 12, t: 3 }, "dense or conv2d");

describe("‖F − F̂‖_F without forming F (MATH.md §5)", () => {
  it("Gram-matrix ‖F − F̂‖_F equals the explicit dense one, for KFAC, EKFAC and diagonal blocks with a stale basis", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const fitted = caseOfSizes(c, 1); // the blocks are fitted on OTHER examples: a stale basis and scaling
        const measured = caseOfSizes(c);
        const kfac = new KroneckerBlock("test", "kfac", fitted.shape, { factorDecay: 0 });
        const ekfac = new KroneckerBlock("test", "ekfac", fitted.shape, { factorDecay: 0, scalingDecay: 0 });
        const diagonal = new DiagonalFisher(fitted.shape, { decay: 0 });
        for (const b of [kfac, ekfac]) {
          b.updateFactors(fitted.stats);
          b.updateBasis();
          b.updateScaling(fitted.stats);
        }
        diagonal.update(fitted.stats);
        const f = exactFisher(measured.shape, measured.stats);
        const explicit = compareWithFisher(f, { diagonal, kfac, ekfac });
        const scale = explicit.fisherNorm + frobeniusDistance(kfac.denseApproximation(), new Float64Array(f.length));
        for (const [name, block] of [
          ["kfac", kfac],
          ["ekfac", ekfac],
          ["diagonal", diagonal],
        ] as const) {
          const g = gramFrobeniusError(block, measured.stats);
          // The Gram route subtracts squares: absolute accuracy ~ε·(‖F‖ + ‖F̂‖)², i.e. ~√ε relative in the root.
          expect(Math.abs(g.frobeniusError - explicit.frobeniusError[name])).toBeLessThanOrEqual(1e-6 * scale);
          expect(g.fisherNormSquared).toBeCloseTo(explicit.fisherNorm ** 2, 8);
          expect(Math.abs(g.fisherTrace - traceOf(f))).toBeLessThanOrEqual(1e-10 * traceOf(f));
        }
      }),
      { numRuns: 40 },
    );
  });

  it("fisherApproximationReport: errors ordered EKFAC ≤ KFAC, traces of F, F_ekfac and F_diag agree", () => {
    const c = randomCase(4, "dense", 5, 7, true, 20);
    const r = fisherApproximationReport(c.shape, c.stats);
    expect(r.frobeniusError.ekfac).toBeLessThan(r.frobeniusError.kfac);
    expect(r.frobeniusError.kfac).toBeGreaterThan(0);
    expect(r.trace.ekfac).toBeCloseTo(r.trace.exact, 9);
    expect(r.trace.diagonal).toBeCloseTo(r.trace.exact, 9);
  });

  it("gramFrobeniusError and fisherApproximationReport reject mismatched statistics", () => {
    const c = randomCase(4, "dense", 2, 3, false, 4);
    const block = new KroneckerBlock("test", "kfac", c.shape);
    expect(() => gramFrobeniusError(block, { ...c.stats, g: c.stats.g.subarray(1) })).toThrow(
      /gramFrobeniusError: statistics.g has length 7/,
    );
    expect(() => fisherApproximationReport({ ...c.shape, outDim: 0 }, c.stats)).toThrow(
      /shape.outDim must be a positive integer \(got 0\)/,
    );
    expect(() => gramFrobeniusError({} as KroneckerBlock, c.stats)).toThrow(TypeError);
  });
});

describe("guarded eigenbasis", () => {
  // kronecker-block.guards.test.ts checks the block itself in this state (grouped conv); here: a dense
  // block, and what the diagnostics measure for it.
  it("before any successful decomposition the basis is the identity with λ = diag(factor), and the diagnostics measure F̂ = diag(diag G ⊗ diag A)", () => {
    const n = 5;
    const c = randomCase(8, "dense", 3, 3, true, n);
    const b = new KroneckerBlock("test", "kfac", c.shape, { factorDecay: 0, maxEigIterations: 0 });
    b.updateFactors(c.stats);
    expect(b.updateBasis()).toEqual({ succeeded: 0, failed: 2 });
    expect(b.basisReady).toBe(false);
    const { aDim: a, gDim: g, size: p } = b.dims;
    expect([a, g, p]).toEqual([4, 3, 12]);
    // From the statistics, by hand: A = (1/N) Σ ā āᵀ, G = (1/N) Σ g gᵀ, v_n = vec(g_n ā_nᵀ) (W̄ row-major,
    // entry i·a + j), F = (1/N) Σ v vᵀ.
    const row = (x: ArrayLike<number>, r: number, d: number) =>
      Array.from({ length: d }, (_, i) => x[r * d + i] as number);
    /** m ← m + x xᵀ / N (d × d, row-major). */
    const addOuter = (m: Float64Array, x: readonly number[]) => {
      const d = x.length;
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) m[i * d + j] = (m[i * d + j] as number) + ((x[i] as number) * (x[j] as number)) / n;
    };
    const A = new Float64Array(a * a);
    const G = new Float64Array(g * g);
    const F = new Float64Array(p * p);
    for (let e = 0; e < n; e++) {
      const ae = row(c.stats.a, e, a);
      const ge = row(c.stats.g, e, g);
      addOuter(A, ae);
      addOuter(G, ge);
      addOuter(
        F,
        Array.from({ length: p }, (_, x) => (ge[Math.floor(x / a)] as number) * (ae[x % a] as number)),
      );
    }
    const eye = (d: number) => Float64Array.from({ length: d * d }, (_, x) => (x % (d + 1) === 0 ? 1 : 0));
    expect(b.uA).toEqual(eye(a));
    expect(b.uG).toEqual(eye(g));
    for (let j = 0; j < a; j++) expect(b.lambdaA[j]).toBeCloseTo(A[j * a + j] as number, 12);
    for (let i = 0; i < g; i++) expect(b.lambdaG[i]).toBeCloseTo(G[i * g + i] as number, 12);
    // F̂ = Q diag(λ_G ⊗ λ_A) Qᵀ with Q = I: the diagonal matrix of d[i·a + j] = G_ii A_jj.
    const d = Float64Array.from(
      { length: p },
      (_, x) => (G[Math.floor(x / a) * (g + 1)] as number) * (A[(x % a) * (a + 1)] as number),
    );
    const fHat = b.denseApproximation();
    for (let x = 0; x < p; x++)
      for (let y = 0; y < p; y++) expect(fHat[x * p + y]).toBeCloseTo(x === y ? (d[x] as number) : 0, 12);
    // ‖F − F̂‖²_F = ‖F‖² − 2 Σ_x F_xx d_x + Σ_x d_x², by both routes of diagnostics.ts.
    let fNorm2 = 0;
    let err2 = 0;
    let inner = 0;
    let dNorm2 = 0;
    for (let x = 0; x < p; x++) {
      inner += (F[x * p + x] as number) * (d[x] as number);
      dNorm2 += (d[x] as number) ** 2;
      for (let y = 0; y < p; y++) {
        fNorm2 += (F[x * p + y] as number) ** 2;
        err2 += ((F[x * p + y] as number) - (x === y ? (d[x] as number) : 0)) ** 2;
      }
    }
    const gram = gramFrobeniusError(b, c.stats);
    expect(gram.fisherNormSquared).toBeCloseTo(fNorm2, 10);
    expect(gram.inner).toBeCloseTo(inner, 10);
    expect(gram.approximationNormSquared).toBeCloseTo(dNorm2, 10);
    expect(Math.abs(gram.frobeniusError - Math.sqrt(err2))).toBeLessThanOrEqual(1e-8 * Math.sqrt(fNorm2));
    const diagonal = new DiagonalFisher(c.shape, { decay: 0 });
    diagonal.update(c.stats);
    const explicit = compareWithFisher(F, { diagonal, kfac: b, ekfac: b });
    expect(explicit.frobeniusError.kfac).toBeCloseTo(Math.sqrt(err2), 10);
    expect(explicit.trace.kfac).toBeCloseTo(
      d.reduce((s, x) => s + x, 0),
      10,
    );
    // The direction is the diagonal one: ∇ ⊘ (diag G ⊗ diag A + ε), entry i·a + j.
    const grad = Float64Array.from({ length: p }, (_, x) => Math.cos(x));
    const out = b.precondition(grad, new Float64Array(p), 0.1);
    for (let x = 0; x < p; x++) expect(out[x]).toBeCloseTo((grad[x] as number) / ((d[x] as number) + 0.1), 12);
  });
});
