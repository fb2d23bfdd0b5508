import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adaptDamping, dampingAdaptation, reductionRatio } from "./adaptive-damping.ts";

const optionsArb = fc.record({
  interval: fc.integer({ min: 1, max: 20 }),
  decay: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
  min: fc.double({ min: 0, max: 1e-3, noNaN: true }),
});

describe("Levenberg–Marquardt damping (Martens & Grosse 2015 §6.5)", () => {
  it("ω = decay^{T_λ}, (19/20)^{T_λ} by default", () => {
    expect(dampingAdaptation({ interval: 5 }).omega).toBeCloseTo(0.95 ** 5, 15);
    expect(dampingAdaptation({ interval: 1 }).omega).toBe(19 / 20);
    expect(dampingAdaptation({ interval: 3, decay: 0.9 }).omega).toBeCloseTo(0.729, 15);
  });

  it("law: ρ > 3/4 shrinks λ by ω, ρ < 1/4 grows it by 1/ω, otherwise λ stays; always within [min, max]", () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        (o, lambda, rho) => {
          const ad = dampingAdaptation({ ...o, max: 1e6 });
          const next = adaptDamping(lambda, rho, ad);
          expect(next).toBeGreaterThanOrEqual(ad.min);
          expect(next).toBeLessThanOrEqual(ad.max);
          if (rho > 0.75) expect(next).toBeCloseTo(Math.max(ad.min, lambda * ad.omega), 12);
          else if (rho < 0.25) expect(next).toBeCloseTo(Math.min(1e6, lambda / ad.omega), 12);
          else expect(next).toBe(lambda);
          // The direction is strict unless a bound stops it.
          if (rho > 0.75 && lambda > ad.min) expect(next).toBeLessThan(lambda);
          if (rho < 0.25 && lambda < ad.max) expect(next).toBeGreaterThan(lambda);
        },
      ),
    );
  });

  it("respects the bounds and clamps a λ that starts outside them", () => {
    const ad = dampingAdaptation({ interval: 5, decay: 0.95, min: 1e-5, max: 100 });
    expect(adaptDamping(1e-5, 1, ad)).toBe(1e-5);
    expect(adaptDamping(99, -1, ad)).toBe(100);
    expect(adaptDamping(1000, 0.5, ad)).toBe(100);
    expect(adaptDamping(0, 0.5, ad)).toBe(1e-5);
    const unbounded = dampingAdaptation({ interval: 1, decay: 0.5 });
    expect(adaptDamping(Number.MAX_VALUE, -1, unbounded)).toBe(Number.MAX_VALUE);
  });

  it("a failed step raises λ: NaN ρ, a model that predicted no decrease, a non-finite loss", () => {
    const ad = dampingAdaptation({ interval: 5 });
    expect(adaptDamping(1, Number.NaN, ad)).toBeCloseTo(1 / ad.omega, 15);
    for (const [actual, predicted] of [
      [-1, 0],
      [-1, 2],
      [1, 2],
      [Number.NaN, -1],
      [Number.POSITIVE_INFINITY, -1],
      [Number.NEGATIVE_INFINITY, -1],
      [-1, Number.NEGATIVE_INFINITY],
    ] as const) {
      const rho = reductionRatio(actual, predicted);
      expect(rho).toBe(Number.NEGATIVE_INFINITY);
      expect(adaptDamping(1, rho, ad)).toBeGreaterThan(1);
    }
  });

  it("ρ from a loss change the model predicted: a good step lowers λ, a poor one raises it", () => {
    const ad = dampingAdaptation({ interval: 5 });
    expect(reductionRatio(-0.9, -1)).toBeCloseTo(0.9, 15);
    expect(adaptDamping(1, reductionRatio(-0.9, -1), ad)).toBeLessThan(1);
    expect(adaptDamping(1, reductionRatio(-0.1, -1), ad)).toBeGreaterThan(1);
    expect(adaptDamping(1, reductionRatio(0.5, -1), ad)).toBeGreaterThan(1);
    expect(adaptDamping(1, reductionRatio(-0.5, -1), ad)).toBe(1);
  });

  it("rejects bad options and a bad λ, naming the function and option", () => {
    expect(() => dampingAdaptation({ interval: 0 })).toThrow(/dampingAdaptation: options.interval/);
    expect(() => dampingAdaptation({ interval: 1.5 })).toThrow(/options.interval/);
    expect(() => dampingAdaptation({ interval: 1, decay: 1.5 })).toThrow(/options.decay/);
    expect(() => dampingAdaptation({ interval: 1, decay: 0 })).toThrow(/options.decay/);
    expect(() => dampingAdaptation({ interval: 1, min: 2, max: 1 })).toThrow(/options.max/);
    expect(() => dampingAdaptation({ interval: 1, lowerThreshold: 0.8 })).toThrow(/lowerThreshold/);
    expect(() => dampingAdaptation(null as never)).toThrow(TypeError);
    const ad = dampingAdaptation({ interval: 1 });
    expect(() => adaptDamping(-1, 0.5, ad)).toThrow(/adaptDamping: damping/);
    expect(() => adaptDamping(Number.POSITIVE_INFINITY, 0.5, ad)).toThrow(RangeError);
  });
});
