import { describe, expect, it } from "vitest";
import { assertClose, clearErrorOr, closeness, frobenius } from "./testing.ts";

describe("closeness", () => {
  it("identical arrays near the float64 maximum are close (scaled sums of squares)", () => {
    expect(closeness(new Float64Array([1e300, -2e300]), new Float64Array([1e300, -2e300])).ok).toBe(true);
  });
  it("NaN and ±Inf positions must match exactly", () => {
    expect(closeness([1, Number.NaN], [1, Number.NaN]).ok).toBe(true);
    expect(closeness([1, Number.NaN], [1, 2]).ok).toBe(false);
    expect(closeness([Number.POSITIVE_INFINITY], [Number.NEGATIVE_INFINITY]).ok).toBe(false);
    expect(closeness([Number.NaN], [Number.POSITIVE_INFINITY]).ok).toBe(false);
  });
  it("±0 compare equal", () => {
    expect(closeness([-0], [0]).ok).toBe(true);
  });
  it("the residual is relative to ‖y‖ with per-dtype default tolerances", () => {
    expect(closeness(new Float32Array([1 + 1e-6]), new Float32Array([1])).ok).toBe(true);
    expect(closeness(new Float64Array([1 + 1e-6]), new Float64Array([1])).ok).toBe(false);
    expect(closeness([1, 2], [1, 3]).relative).toBeCloseTo(1 / Math.sqrt(10), 12);
  });
  it("different lengths are never close", () => {
    expect(closeness([1, 2], [1]).ok).toBe(false);
  });
  it("frobenius does not overflow", () => {
    expect(frobenius(new Float64Array([3e300, 4e300]))).toBeCloseTo(5e300, -290);
  });
});

describe("closeness with Matrix objects (issue 19: it read .length and compared nothing)", () => {
  const m = (rows: number, cols: number, v: number[]) => ({ rows, cols, data: Float64Array.from(v) });
  it("NaN vs 1 and 0 vs 1e9 in a Matrix are not close", () => {
    expect(closeness(m(1, 1, [Number.NaN]), m(1, 1, [1])).ok).toBe(false);
    expect(closeness(m(1, 2, [0, 1]), m(1, 2, [1e9, 1])).ok).toBe(false);
    expect(() => assertClose(m(1, 1, [0]), m(1, 1, [1e9]))).toThrow(/not close/);
  });
  it("equal matrices are close; equal data under different shapes is not", () => {
    expect(closeness(m(2, 2, [1, 2, 3, 4]), m(2, 2, [1, 2, 3, 4])).ok).toBe(true);
    expect(closeness(m(2, 2, [1, 2, 3, 4]), m(1, 4, [1, 2, 3, 4])).ok).toBe(false);
  });
  it("a strided view compares its own elements only", () => {
    const big = m(2, 3, [1, 2, 99, 3, 4, 99]);
    const v = { rows: 2, cols: 2, data: big.data, offset: 0, stride: 3 };
    expect(closeness(v, m(2, 2, [1, 2, 3, 4])).ok).toBe(true);
    expect(closeness(v, m(2, 2, [1, 2, 3, 5])).ok).toBe(false);
  });
  it("non-array input is a TypeError, not a vacuous ok", () => {
    expect(() => closeness({} as unknown as number[], [1])).toThrow(TypeError);
    expect(() => closeness(m(1, 1, [1]), [1])).toThrow(TypeError);
    expect(() => closeness(null as unknown as number[], [1])).toThrow(TypeError);
  });
});

describe("clearErrorOr", () => {
  it("returns the result, or undefined for a TypeError/RangeError naming the function; re-throws anything else", () => {
    expect(clearErrorOr("f:", () => 3)).toBe(3);
    expect(
      clearErrorOr(["g:", "f:"], () => {
        throw new RangeError("f: bad size");
      }),
    ).toBeUndefined();
    expect(() =>
      clearErrorOr("f:", () => {
        throw new RangeError("h: bad size");
      }),
    ).toThrow(/naming f:/);
    expect(() => clearErrorOr("f:", () => (null as unknown as { x: number }).x)).toThrow(
      /expected a TypeError or RangeError/,
    );
  });
});
