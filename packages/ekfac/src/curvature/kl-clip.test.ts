import { describe, expect, it } from "vitest";
import { klClipScale, klScaleFromDot } from "./kl-clip.ts";

// ν = min(1, sqrt(κ / (η² Σ_l Δ_lᵀ∇_l))) (Ba, Grosse & Martens 2017, §5), computed here in float64.
const formula = (s: number, lr: number, kappa: number) => Math.min(1, Math.sqrt(kappa / (lr * lr * s)));

describe("klScaleFromDot", () => {
  it("ν = sqrt(κ / (η² s)) when that is below 1, and exactly 1 when it is above", () => {
    // η² s = 0.01·50 = 0.5, κ/0.5 = 0.002 → ν = sqrt(0.002).
    expect(klScaleFromDot(50, 0.1, 0.001)).toBeCloseTo(Math.sqrt(0.002), 15);
    expect(klScaleFromDot(50, 0.1, 0.001)).toBe(formula(50, 0.1, 0.001));
    // κ/(η² s) = 0.001/(0.01·0.05) = 2 > 1 → ν = 1 (the clip never enlarges a step).
    expect(klScaleFromDot(0.05, 0.1, 0.001)).toBe(1);
  });

  it("the ν = 1 fallback: s = 0, s < 0, s = NaN and s = +Inf all give exactly 1", () => {
    expect(klScaleFromDot(0, 0.1, 0.001)).toBe(1);
    expect(klScaleFromDot(-3, 0.1, 0.001)).toBe(1);
    expect(klScaleFromDot(Number.NaN, 0.1, 0.001)).toBe(1);
    // sqrt(κ/∞) = 0 would freeze the step; the fallback keeps it.
    expect(klScaleFromDot(Number.POSITIVE_INFINITY, 0.1, 0.001)).toBe(1);
    expect(klScaleFromDot(Number.NEGATIVE_INFINITY, 0.1, 0.001)).toBe(1);
  });

  it("ν is the formula's value for a smallest positive s", () => {
    expect(klScaleFromDot(Number.MIN_VALUE, 1, 1e-300)).toBe(1);
    expect(klScaleFromDot(1e300, 1, 1)).toBe(formula(1e300, 1, 1));
  });
});

describe("klClipScale", () => {
  it("sums Δ_lᵀ∇_l over every parameter and compares it with the formula", () => {
    const d1 = new Float64Array([1, 2, 3]);
    const g1 = new Float64Array([4, 5, 6]); // 32
    const d2 = new Float32Array([0.5, -1]);
    const g2 = new Float32Array([2, 1]); // 0
    const d3 = new Float64Array([3]);
    const g3 = new Float64Array([6]); // 18
    const s = 32 + 0 + 18;
    const nu = klClipScale([d1, d2, d3], [g1, g2, g3], 0.1, 0.001);
    expect(nu).toBe(formula(s, 0.1, 0.001));
    expect(nu).toBeLessThan(1);
  });

  it("a parameter without gradient (null or missing) adds nothing to Σ Δᵀ∇", () => {
    const d1 = new Float64Array([1, 2]);
    const g1 = new Float64Array([3, 4]); // 11
    const d2 = new Float64Array([100, 100]);
    expect(klClipScale([d1, d2], [g1, null], 0.5, 0.01)).toBe(formula(11, 0.5, 0.01));
    expect(klClipScale([d2, d1], [null, g1], 0.5, 0.01)).toBe(formula(11, 0.5, 0.01));
    // The gradient list may end before the direction list: the trailing parameters have no gradient.
    expect(klClipScale([d1, d2], [g1], 0.5, 0.01)).toBe(formula(11, 0.5, 0.01));
  });

  it("no parameter with a gradient, or an empty list, gives ν = 1", () => {
    expect(klClipScale([], [], 0.1, 0.001)).toBe(1);
    expect(klClipScale([new Float64Array([5])], [null], 0.1, 0.001)).toBe(1);
  });

  it("a direction opposed to the gradient (s < 0) gives the ν = 1 fallback", () => {
    expect(klClipScale([new Float64Array([-1, -1])], [new Float64Array([3, 3])], 0.1, 0.001)).toBe(1);
  });

  it("ν is invariant to the order of the parameters (a sum), and scales as 1/η", () => {
    const ds = [new Float64Array([1, -2, 3]), new Float64Array([4, 5])];
    const gs = [new Float64Array([2, -1, 1]), new Float64Array([1, 1])];
    const a = klClipScale(ds, gs, 0.2, 1e-4);
    const b = klClipScale(
      [ds[1] as Float64Array, ds[0] as Float64Array],
      [gs[1] as Float64Array, gs[0] as Float64Array],
      0.2,
      1e-4,
    );
    expect(a).toBeCloseTo(b, 15);
    expect(klClipScale(ds, gs, 0.4, 1e-4)).toBeCloseTo(a / 2, 15);
  });
});
