/**
 * scalar.ts's σ: the branch-free form must give the same bits as the two-branch definition
 * (1/(1 + e^(−v)) for v ≥ 0, e^v/(1 + e^v) below) everywhere, and never overflow.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sigmoidOf } from "./scalar.ts";

function twoBranch(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

describe("sigmoidOf", () => {
  it("equals the two-branch definition bit for bit, for any double and the special values", () => {
    const special = fc.constantFrom(0, -0, Infinity, -Infinity, Number.NaN, 745, -745, 1e308, -1e308, 5e-324, -5e-324);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.double({ min: -40, max: 40 }), special), (v) => {
        expect(Object.is(sigmoidOf(v), twoBranch(v))).toBe(true);
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
