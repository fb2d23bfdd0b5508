/**
 * diagnostics.ts's reports, field by field, against their definitions on explicit matrices (MATH.md §5):
 * `fisherApproximationReport` and `compareWithFisher` return ‖F‖_F, the traces and ‖F − F̂‖_F of each
 * approximation's dense P × P matrix; `gramFrobeniusError` returns the parts ‖F‖², ⟨F, F̂⟩ = Σ F∘F̂ and
 * ‖F̂‖² whose combination is the error. The Gram-route equality of the error itself is in
 * diagnostics.test.ts; here every other field is pinned, and the argument checks by message.
 */
import { describe, expect, it } from "vitest";
import { randomCase } from "../test/dense-reference.ts";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import { exactFisher, frobeniusDistance, traceOf } from "./curvature/exact-fisher.ts";
import { KroneckerBlock } from "./curvature/kronecker-block.ts";
import { compareWithFisher, fisherApproximationReport, gramFrobeniusError } from "./diagnostics.ts";

const rel = (x: number, y: number): number => Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);

/** Blocks fitted on `stats` alone (decays 0), as fisherApproximationReport fits them. */
function fitted(shape: ReturnType<typeof randomCase>["shape"], stats: ReturnType<typeof randomCase>["stats"]) {
  const kfac = new KroneckerBlock("test", "kfac", shape, { factorDecay: 0 });
  const ekfac = new KroneckerBlock("test", "ekfac", shape, { factorDecay: 0, scalingDecay: 0 });
  const diagonal = new DiagonalFisher(shape, { decay: 0 });
  kfac.updateFactors(stats);
  kfac.updateBasis();
  ekfac.updateFactors(stats);
  ekfac.updateBasis();
  ekfac.updateScaling(stats);
  diagonal.update(stats);
  return { kfac, ekfac, diagonal };
}

describe("fisherApproximationReport / compareWithFisher: every field is its definition", () => {
  for (const [name, c] of [
    ["dense with bias", randomCase(11, "dense", 3, 4, true, 9)],
    ["conv2d, 2 groups, T = 3", randomCase(12, "conv2d", 4, 3, false, 5, 3, 2)],
  ] as const) {
    it(name, () => {
      const r = fisherApproximationReport(c.shape, c.stats);
      const f = exactFisher(c.shape, c.stats);
      const b = fitted(c.shape, c.stats);
      const zero = new Float64Array(f.length);
      expect(rel(r.fisherNorm, frobeniusDistance(f, zero))).toBeLessThan(1e-12);
      expect(rel(r.trace.exact, traceOf(f))).toBeLessThan(1e-12);
      expect(rel(r.trace.diagonal, traceOf(b.diagonal.denseApproximation()))).toBeLessThan(1e-12);
      expect(rel(r.trace.kfac, traceOf(b.kfac.denseApproximation()))).toBeLessThan(1e-12);
      expect(rel(r.trace.ekfac, traceOf(b.ekfac.denseApproximation()))).toBeLessThan(1e-12);
      for (const k of ["diagonal", "kfac", "ekfac"] as const) {
        expect(rel(r.frobeniusError[k], frobeniusDistance(f, b[k].denseApproximation()))).toBeLessThan(1e-10);
      }
      // The same blocks through compareWithFisher give the same report.
      const again = compareWithFisher(f, b);
      expect(again.fisherNorm).toBe(r.fisherNorm);
      expect(again.trace).toEqual(r.trace);
    });
  }

  it("fisherApproximationReport names itself in its argument errors", () => {
    const c = randomCase(15, "dense", 2, 2, false, 3);
    expect(() => fisherApproximationReport({ ...c.shape, outDim: 0 }, c.stats)).toThrow(/^fisherApproximationReport: /);
  });

  it("compareWithFisher refuses an F whose size is not the blocks' P × P", () => {
    const c = randomCase(13, "dense", 2, 2, false, 4);
    const b = fitted(c.shape, c.stats);
    const p2 = (2 * 2) ** 2;
    expect(() => compareWithFisher(new Float64Array(p2 + 1), b)).toThrow(
      new RangeError(`compareWithFisher: F has ${p2 + 1} entries, the blocks ${p2}, ${p2}, ${p2}`),
    );
    // Each block is checked on its own: one block of another layer (P = 3·2) is refused whichever it is.
    const other = fitted(randomCase(14, "dense", 3, 2, false, 4).shape, randomCase(14, "dense", 3, 2, false, 4).stats);
    const f = new Float64Array(p2);
    const q2 = (3 * 2) ** 2;
    for (const [k, sizes] of [
      ["diagonal", `${q2}, ${p2}, ${p2}`],
      ["kfac", `${p2}, ${q2}, ${p2}`],
      ["ekfac", `${p2}, ${p2}, ${q2}`],
    ] as const) {
      expect(() => compareWithFisher(f, { ...b, [k]: other[k] })).toThrow(
        new RangeError(`compareWithFisher: F has ${p2} entries, the blocks ${sizes}`),
      );
    }
  });
});

describe("gramFrobeniusError: the parts of ‖F − F̂‖²", () => {
  for (const [name, c, fitOn] of [
    ["dense, stale basis", randomCase(21, "dense", 3, 3, true, 7), randomCase(22, "dense", 3, 3, true, 7)],
    [
      "conv2d, 2 groups, T = 2",
      randomCase(23, "conv2d", 4, 2, true, 4, 2, 2),
      randomCase(24, "conv2d", 4, 2, true, 4, 2, 2),
    ],
  ] as const) {
    it(name, () => {
      const f = exactFisher(c.shape, c.stats);
      const b = fitted(fitOn.shape, fitOn.stats);
      for (const k of ["diagonal", "kfac", "ekfac"] as const) {
        const fhat = b[k].denseApproximation();
        let inner = 0;
        let fhat2 = 0;
        let f2 = 0;
        for (let i = 0; i < f.length; i++) {
          inner += (f[i] as number) * (fhat[i] as number);
          fhat2 += (fhat[i] as number) ** 2;
          f2 += (f[i] as number) ** 2;
        }
        const g = gramFrobeniusError(b[k], c.stats);
        expect(rel(g.inner, inner)).toBeLessThan(1e-10);
        expect(rel(g.approximationNormSquared, fhat2)).toBeLessThan(1e-10);
        expect(rel(g.fisherNormSquared, f2)).toBeLessThan(1e-10);
        expect(rel(g.fisherTrace, traceOf(f))).toBeLessThan(1e-12);
        expect(g.frobeniusError).toBe(
          Math.sqrt(Math.max(0, g.fisherNormSquared - 2 * g.inner + g.approximationNormSquared)),
        );
      }
    });
  }

  it("names itself when the block is neither Kronecker nor diagonal", () => {
    const c = randomCase(25, "dense", 2, 2, false, 3);
    expect(() => gramFrobeniusError({} as KroneckerBlock, c.stats)).toThrow(
      new TypeError("gramFrobeniusError: block must be a KroneckerBlock or a DiagonalFisher"),
    );
  });
});
