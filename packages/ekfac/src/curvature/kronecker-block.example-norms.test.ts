/**
 * `examplePreconditionedNorms` (what adaptive step control's gradient-noise estimate reads; MATH.md §11):
 * its law — every example's ∇ℓ_nᵀ (F̂ + εI)⁻¹ ∇ℓ_n equals a dense solve with the block's own F̂, for dense
 * and grouped conv layers, KFAC and EKFAC — has its one home in the proofs catalogue
 * (packages/proofs/src/laws/ekfac.ts, `ekfac.example-norms`). Here: float32 rows agree with their
 * float64 widening, the sum adds to what `out` held, a stride takes every s-th example's norm unchanged,
 * and malformed input is refused by name.
 */
import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import { Conv2dEigenCorrected, DenseEigenCorrected } from "./kronecker-block.ts";

describe("examplePreconditionedNorms: ‖∇ℓ_n‖² in the metric (F̂ + εI)⁻¹ of the block", () => {
  it("float32 rows give their float64 widening's norms; the norms are added to out, past N untouched", () => {
    const c = randomCase(5, "conv2d", 4, 3, true, 3, 2, 2);
    const block = new Conv2dEigenCorrected({ outDim: 4, inDim: 3, hasBias: true, groups: 2 });
    block.updateFactors(c.stats);
    block.updateBasis();
    block.updateScaling(c.stats);
    const a32 = Float32Array.from(c.stats.a);
    const g32 = Float32Array.from(c.stats.g);
    const fresh = block.examplePreconditionedNorms(
      Float64Array.from(a32),
      Float64Array.from(g32),
      3,
      2,
      0.1,
      new Float64Array(3),
    );
    const out = new Float64Array(4).fill(2);
    block.examplePreconditionedNorms(a32, g32, 3, 2, 0.1, out);
    for (let e = 0; e < 3; e++) expect(out[e] as number).toBeCloseTo(2 + (fresh[e] as number), 12);
    expect(out[3]).toBe(2);
    expect(Math.min(...fresh)).toBeGreaterThan(0);
  });

  it("stride s: out[m] is the norm of example m·s, the same number as without a stride (dense, grouped conv, float32)", () => {
    const cases = [
      {
        c: randomCase(7, "dense", 3, 4, true, 7),
        t: 1,
        block: new DenseEigenCorrected({ outDim: 3, inDim: 4, hasBias: true }),
      },
      {
        c: randomCase(8, "conv2d", 4, 3, true, 5, 2, 2),
        t: 2,
        block: new Conv2dEigenCorrected({ outDim: 4, inDim: 3, hasBias: true, groups: 2 }),
      },
    ];
    for (const { c, t, block } of cases) {
      block.updateFactors(c.stats);
      block.updateBasis();
      block.updateScaling(c.stats);
      const n = c.stats.batchSize;
      const all = block.examplePreconditionedNorms(c.stats.a, c.stats.g, n, t, 0.1, new Float64Array(n));
      for (const stride of [2, 3, n]) {
        const m = Math.ceil(n / stride);
        for (const rows of [c.stats, { a: Float32Array.from(c.stats.a), g: Float32Array.from(c.stats.g) }]) {
          const out = new Float64Array(m + 1).fill(1);
          block.examplePreconditionedNorms(rows.a, rows.g, n, t, 0.1, out, stride);
          const f32 = rows.a instanceof Float32Array;
          for (let e = 0; e < m; e++) {
            const want = 1 + (all[e * stride] as number);
            if (f32) expect(Math.abs((out[e] as number) - want)).toBeLessThan(1e-5 * want);
            else expect(out[e] as number).toBeCloseTo(want, 12);
          }
          expect(out[m]).toBe(1);
        }
      }
    }
  });

  it("refuses malformed input by name, before writing anything", () => {
    const c = randomCase(3, "dense", 3, 4, true, 2);
    const block = new DenseEigenCorrected({ outDim: 3, inDim: 4, hasBias: true });
    block.updateFactors(c.stats);
    block.updateBasis();
    block.updateScaling(c.stats);
    const out = new Float64Array(2);
    const call = (over: Partial<{ a: unknown; g: unknown; n: number; t: number; eps: number; out: unknown }>) => () =>
      block.examplePreconditionedNorms(
        (over.a ?? c.stats.a) as Float64Array,
        (over.g ?? c.stats.g) as Float64Array,
        over.n ?? 2,
        over.t ?? 1,
        over.eps ?? 0.1,
        (over.out ?? out) as Float64Array,
      );
    expect(call({ n: 0 })).toThrow(/examplePreconditionedNorms: batchSize must be a positive integer \(got 0\)/);
    expect(call({ t: 1.5 })).toThrow(/positions must be a positive integer/);
    expect(call({ eps: 0 })).toThrow(/damping/);
    expect(call({ a: [1, 2] })).toThrow(TypeError);
    expect(call({ g: new Float64Array(5) })).toThrow(/g must hold 6 values \(got 5\)/);
    expect(call({ a: new Float64Array(3) })).toThrow(/a must hold 10 values \(got 3\)/);
    expect(call({ out: new Float64Array(1) })).toThrow(/out must be a Float64Array of length ≥ 2/);
    for (const stride of [0, 1.5, Number.NaN]) {
      expect(() => block.examplePreconditionedNorms(c.stats.a, c.stats.g, 2, 1, 0.1, out, stride)).toThrow(
        /examplePreconditionedNorms: stride must be a positive integer/,
      );
    }
    // ⌈2 / 2⌉ = 1 example: an out of length 1 is enough with stride 2.
    expect(() =>
      block.examplePreconditionedNorms(c.stats.a, c.stats.g, 2, 1, 0.1, new Float64Array(1), 2),
    ).not.toThrow();
    expect(out).toEqual(new Float64Array(2));
  });
});
