import { describe, expect, it } from "vitest";
import { closeness, frobenius } from "./testing.ts";

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
