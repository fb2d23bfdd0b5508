// The edges of `solveQuadraticStep` (Martens & Grosse 2015 §6.4, §7), on hand-made terms whose solution is
// known in closed form: the L2 term η is part of the damped Gram and of `predictedChange`; δ₀ counts as
// absent only when both its norm and its curvature vanish; the singular cut 1 − r² ≤ 1e-10 of the header;
// a tie between the joint and the α-only minimum keeps the joint status (the Gram is positive definite
// and δ₀ took part); rounding never makes the returned step worse than the α-only one; a fixed α needs no
// curvature along Δ but a positive C₂₂ to solve for μ; a non-finite linear term or an overflowing model
// value is "fallback" with reason "non-finite", while large finite terms are not; option guards name the
// option. The random-network properties live in quadratic-model.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type QuadraticTerms, quadraticModelValue, quadraticStep, solveQuadraticStep } from "./quadratic-model.ts";

/** Terms with the Fisher part `c` and the Euclidean part `i` (each [11, 12, 22]) and linear terms `b`. */
function terms(c: readonly number[], i: readonly number[], b: readonly number[]): QuadraticTerms {
  return {
    batchSize: 1,
    curvature11: c[0] as number,
    curvature12: c[1] as number,
    curvature22: c[2] as number,
    inner11: i[0] as number,
    inner12: i[1] as number,
    inner22: i[2] as number,
    linear1: b[0] as number,
    linear2: b[1] as number,
  };
}

/** The exact minimiser of ½xᵀCx + bᵀx for a 2×2 PD C (Cramer's rule). */
function cramer(c11: number, c12: number, c22: number, b1: number, b2: number): [number, number] {
  const det = c11 * c22 - c12 * c12;
  return [-(c22 * b1 - c12 * b2) / det, -(c11 * b2 - c12 * b1) / det];
}

describe("solveQuadraticStep: edges of the (α, μ) solve", () => {
  it("a fresh result record describes no step, and `out` is written and returned", () => {
    expect(quadraticStep()).toEqual({
      status: "fallback",
      reason: "ok",
      alpha: 0,
      momentum: 0,
      dampedChange: 0,
      predictedChange: 0,
    });
    const out = quadraticStep();
    const r = solveQuadraticStep(terms([2, 0, 1], [0, 0, 0], [-1, -1]), 0, undefined, out);
    expect(r).toBe(out);
    expect([out.status, out.reason]).toEqual(["joint", "ok"]);
    expect(out.alpha).toBeCloseTo(0.5, 15);
    expect(out.momentum).toBeCloseTo(1, 15);
  });

  it("the L2 term η joins λ in the Gram; predictedChange keeps η and drops λ", () => {
    const t = terms([2, 0.5, 1], [1, 0.2, 0.5], [-1, 0.3]);
    const [lambda, eta] = [0.5, 0.25];
    const r = solveQuadraticStep(t, lambda, { l2: eta });
    const same = solveQuadraticStep(t, lambda + eta);
    expect(r.status).toBe("joint");
    expect([r.alpha, r.momentum, r.dampedChange]).toEqual([same.alpha, same.momentum, same.dampedChange]);
    const [a, m] = cramer(2 + 0.75, 0.5 + 0.75 * 0.2, 1 + 0.75 * 0.5, -1, 0.3);
    expect(r.alpha).toBeCloseTo(a, 14);
    expect(r.momentum).toBeCloseTo(m, 14);
    expect(r.dampedChange).toBe(quadraticModelValue(t, lambda + eta, r.alpha, r.momentum));
    expect(r.predictedChange).toBe(quadraticModelValue(t, eta, r.alpha, r.momentum));
    expect(r.predictedChange).toBeLessThan(r.dampedChange);
    // Without η the reduction-ratio model has no damping at all.
    expect(same.predictedChange).toBe(quadraticModelValue(t, 0, same.alpha, same.momentum));
  });

  it("δ₀ in the null space of F is still a direction: with λ > 0 the solve is joint", () => {
    // C = diag(2, 0) + 1·diag(0, 1): α = 1/2, μ = 1.
    const r = solveQuadraticStep(terms([2, 0, 0], [0, 0, 1], [-1, -1]), 1);
    expect([r.status, r.reason]).toEqual(["joint", "ok"]);
    expect(r.alpha).toBeCloseTo(0.5, 15);
    expect(r.momentum).toBeCloseTo(1, 15);
    // δ₀ whose squared norm underflowed but whose curvature did not is not absent either.
    const s = solveQuadraticStep(terms([1, 0, 4], [0, 0, 0], [-1, -2]), 0);
    expect([s.status, s.reason]).toEqual(["joint", "ok"]);
    expect(s.alpha).toBeCloseTo(1, 15);
    expect(s.momentum).toBeCloseTo(0.5, 15);
    // Both zero: no previous update.
    const none = solveQuadraticStep(terms([1, 0, 0], [0, 0, 0], [-1, 0]), 0);
    expect([none.status, none.reason, none.alpha, none.momentum]).toEqual(["alpha-only", "no-previous-update", 1, 0]);
  });

  it("the singular cut: 1 − r² = 1e-12 drops δ₀, 1 − r² = 1e-6 keeps it", () => {
    for (const [gap, status] of [
      [1e-12, "alpha-only"],
      [1e-6, "joint"],
    ] as const) {
      const r12 = Math.sqrt(1 - gap);
      const r = solveQuadraticStep(terms([1, r12, 1], [0, 0, 0], [-1, 0.5]), 0);
      expect(r.status).toBe(status);
      if (status === "alpha-only") {
        expect([r.reason, r.alpha, r.momentum]).toEqual(["gram-not-positive-definite", 1, 0]);
        expect(r.dampedChange).toBe(-0.5);
      } else {
        const [a, m] = cramer(1, r12, 1, -1, 0.5);
        expect(r.alpha).toBeCloseTo(a, 6);
        expect(r.momentum).toBeCloseTo(m, 6);
        expect(r.dampedChange).toBeLessThan(-0.5);
      }
    }
  });

  it("a tie (δ₀ adds nothing: μ* = 0) keeps the joint status: the Gram is positive definite", () => {
    // b₂ = C₁₂ b₁ / C₁₁, so α* = 1, μ* = 0 and M = −½ on both sides.
    const r = solveQuadraticStep(terms([1, 0.5, 1], [0, 0, 0], [-1, -0.5]), 0);
    expect([r.status, r.reason, r.alpha, Math.abs(r.momentum), r.dampedChange]).toEqual(["joint", "ok", 1, 0, -0.5]);
  });

  it("rounding never makes the returned step worse than the α-only step", () => {
    // Near-ties (μ* = 0 up to rounding of b₂) are where the computed joint value can come out above it.
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.double({ min: -0.9, max: 0.9, noNaN: true }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        (c11, c22, rho, b1) => {
          const c12 = rho * Math.sqrt(c11 * c22);
          const t = terms([c11, c12, c22], [0, 0, 0], [b1, (c12 * b1) / c11]);
          const r = solveQuadraticStep(t, 0);
          expect(r.status).not.toBe("fallback");
          expect(r.dampedChange).toBeLessThanOrEqual(quadraticModelValue(t, 0, -b1 / c11, 0));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a fixed α needs no curvature along Δ: μ = −(b₂ + αC₁₂)/C₂₂ when C₂₂ > 0", () => {
    // C₁₁ = 0 (Δ in the null space of F, λ = 0) would be a fallback for a free α.
    const t = terms([0, 0.5, 2], [1, 0, 1], [-1, -2]);
    expect([solveQuadraticStep(t, 0).status, solveQuadraticStep(t, 0).reason]).toEqual([
      "fallback",
      "curvature-not-positive",
    ]);
    const r = solveQuadraticStep(t, 0, { alpha: 2 });
    expect([r.status, r.reason, r.alpha, r.momentum]).toEqual(["joint", "ok", 2, 0.5]);
    const s = solveQuadraticStep(terms([1, 0.5, 2], [0, 0, 0], [-1, -3]), 0, { alpha: 1 });
    expect([s.status, s.reason, s.alpha, s.momentum]).toEqual(["joint", "ok", 1, 1.25]);
  });

  it("a fixed α with C₂₂ ≤ 0 drops δ₀: alpha-only, μ = 0", () => {
    for (const c22 of [0, -1]) {
      // inner₂₂ > 0, so δ₀ exists; with λ = 0 its damped curvature is C₂₂.
      const r = solveQuadraticStep(terms([1, 0.5, c22], [0, 0, 1], [-1, -1]), 0, { alpha: 0.5 });
      expect([r.status, r.reason, r.alpha, r.momentum]).toEqual(["alpha-only", "gram-not-positive-definite", 0.5, 0]);
      expect(r.dampedChange).toBe(quadraticModelValue(terms([1, 0.5, c22], [0, 0, 1], [-1, -1]), 0, 0.5, 0));
    }
  });

  it("a non-finite linear term is 'non-finite' even where C₁₁ ≤ 0 would say otherwise", () => {
    for (const b of [
      [Number.NaN, 0],
      [0, Number.POSITIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, 1],
    ]) {
      const r = solveQuadraticStep(terms([0, 0, 1], [0, 0, 1], b), 0);
      expect([r.status, r.reason, r.alpha, r.momentum, r.dampedChange]).toEqual(["fallback", "non-finite", 0, 0, 0]);
    }
    // Large but finite linear terms (their sum overflows) are finite terms.
    const big = solveQuadraticStep(terms([0, 0, 1], [0, 0, 1], [1e308, 1e308]), 0);
    expect([big.status, big.reason]).toEqual(["fallback", "curvature-not-positive"]);
  });

  it("a model value that overflows for finite terms turns the step into 'non-finite' fallback", () => {
    // Fixed α = 1 (δ₀ = 0): M_damped = b₁ + ½(λ‖Δ‖²) = 1.7e308 + 0.85e308 overflows; M with η = 0 does not.
    const t = terms([0, 0, 0], [1, 0, 0], [1.7e308, 0]);
    expect(quadraticModelValue(t, 0, 1, 0)).toBe(1.7e308);
    const r = solveQuadraticStep(t, 1.7e308, { alpha: 1 });
    expect([r.status, r.reason, r.alpha, r.momentum, r.dampedChange, r.predictedChange]).toEqual([
      "fallback",
      "non-finite",
      0,
      0,
      0,
      0,
    ]);
    // A free α that overflows: α = −b₁/C₁₁ = −∞.
    const s = solveQuadraticStep(terms([1e-10, 0, 0], [0, 0, 0], [1e300, 0]), 0);
    expect([s.status, s.reason, s.alpha]).toEqual(["fallback", "non-finite", 0]);
  });

  it("option guards name the function and the option", () => {
    const t = terms([1, 0, 1], [0, 0, 1], [-1, 0]);
    expect(() => solveQuadraticStep(t, 1, { l2: -1 })).toThrow(
      new RangeError("solveQuadraticStep: options.l2 must be a finite number ≥ 0 (got -1)"),
    );
    expect(() => solveQuadraticStep(t, 1, { alpha: Number.NaN })).toThrow(
      new RangeError("solveQuadraticStep: options.alpha must be finite (got NaN)"),
    );
    expect(() => solveQuadraticStep(t, 1, { momentum: Number.POSITIVE_INFINITY })).toThrow(
      new RangeError("solveQuadraticStep: options.momentum must be finite (got Infinity)"),
    );
    expect(() => solveQuadraticStep(t, Number.NaN)).toThrow(
      new RangeError("solveQuadraticStep: damping must be a finite number ≥ 0 (got NaN)"),
    );
  });
});
