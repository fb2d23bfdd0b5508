/**
 * scalar.ts's σ (linalg's `logistic`): within 3 ulps of the two-branch definition written with
 * `Math.exp` (1/(1 + e^(−v)) for v ≥ 0, e^v/(1 + e^v) below), exact at the special values, never
 * overflowing.
 */
import { ulp } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sigmoidOf } from "./scalar.ts";

function twoBranch(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

describe("sigmoidOf", () => {
  it("is within 3 ulps of the two-branch definition, +0 below −708, exact at ±0, ±∞ and NaN", () => {
    const special = fc.constantFrom(0, -0, Infinity, -Infinity, Number.NaN, 745, -745, 1e308, -1e308, 5e-324, -5e-324);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.double({ min: -40, max: 40 }), special), (v) => {
        const s = sigmoidOf(v);
        const want = twoBranch(v);
        if (Number.isNaN(v)) expect(s).toBeNaN();
        else if (v < -708) expect(Object.is(s, 0)).toBe(true);
        else if (want === 0 || want === 1) expect(s).toBe(want);
        else expect(Math.abs(s - want)).toBeLessThanOrEqual(3 * ulp(want));
      }),
      { numRuns: 2000 },
    );
  });

  it("stays in [0, 1] without overflow and is symmetric: σ(−v) = 1 − σ(v) to rounding", () => {
    for (const v of [-1e308, -800, -30, -1, -1e-9, 0, 1e-9, 1, 30, 800, 1e308]) {
      const s = sigmoidOf(v);
      expect(s >= 0 && s <= 1).toBe(true);
      expect(Math.abs(sigmoidOf(-v) - (1 - s))).toBeLessThanOrEqual(2 ** -52);
    }
    expect(sigmoidOf(0)).toBe(0.5);
  });
});
