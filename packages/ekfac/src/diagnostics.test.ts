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
  it("before any successful decomposition the basis is the identity with λ = diag(factor)", () => {
    const c = randomCase(8, "dense", 3, 3, true, 5);
    const b = new KroneckerBlock("test", "kfac", c.shape, { factorDecay: 0, maxEigIterations: 0 });
    b.updateFactors(c.stats);
    const r = b.updateBasis();
    expect(r.failed).toBeGreaterThan(0);
    expect(b.basisReady).toBe(false);
    const grad = new Float64Array(b.dims.size).fill(1);
    const out = b.precondition(grad, new Float64Array(grad.length), 0.1);
    for (const v of out) expect(Number.isFinite(v)).toBe(true);
  });
});
