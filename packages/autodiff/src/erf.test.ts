import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { erf } from "./erf.ts";

describe("erf", () => {
  it("matches reference values to a few ulps", () => {
    // Values from mpmath at 30 digits, rounded to double.
    const table: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, v] of table) {
      expect(Math.abs(erf(x) - v)).toBeLessThanOrEqual(4e-16 * Math.abs(v));
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(erf(0)).toBe(0);
    expect(erf(10)).toBe(1);
    expect(erf(Number.POSITIVE_INFINITY)).toBe(1);
    expect(Number.isNaN(erf(Number.NaN))).toBe(true);
  });

  it("erf′(x) = (2/√π)·e^(−x²) (central differences, both branches)", () => {
    fc.assert(
      fc.property(fc.double({ min: -5.5, max: 5.5, noNaN: true }), (x) => {
        const h = 1e-5;
        const fd = (erf(x + h) - erf(x - h)) / (2 * h);
        const exact = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
        expect(Math.abs(fd - exact)).toBeLessThanOrEqual(1e-9 + 1e-7 * exact);
      }),
    );
  });

  it("is monotone and bounded by 1", () => {
    let prev = -1;
    for (let x = -6; x <= 6; x += 0.01) {
      const v = erf(x);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(Math.abs(v)).toBeLessThanOrEqual(1);
      prev = v;
    }
  });
});
