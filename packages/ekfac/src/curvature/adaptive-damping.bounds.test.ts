import { describe, expect, it } from "vitest";
import { adaptDamping, dampingAdaptation, reductionRatio } from "./adaptive-damping.ts";

describe("Levenberg–Marquardt damping: the boundaries of the rule and of its options", () => {
  it("the filled-in options: defaults 19/20, [0, ∞), thresholds 1/4 and 3/4; given values are kept", () => {
    expect(dampingAdaptation({ interval: 2 })).toEqual({
      interval: 2,
      decay: 19 / 20,
      omega: (19 / 20) ** 2,
      min: 0,
      max: Number.POSITIVE_INFINITY,
      lowerThreshold: 1 / 4,
      upperThreshold: 3 / 4,
    });
    expect(
      dampingAdaptation({ interval: 3, decay: 0.5, min: 0.1, max: 7, lowerThreshold: 0.1, upperThreshold: 0.9 }),
    ).toEqual({ interval: 3, decay: 0.5, omega: 0.125, min: 0.1, max: 7, lowerThreshold: 0.1, upperThreshold: 0.9 });
  });

  it("ρ exactly at a threshold leaves λ unchanged (strict comparisons, M&G §6.5)", () => {
    const ad = dampingAdaptation({ interval: 1, decay: 0.5 });
    expect(adaptDamping(1, 0.25, ad)).toBe(1);
    expect(adaptDamping(1, 0.75, ad)).toBe(1);
    expect(adaptDamping(1, 0.2499, ad)).toBe(2);
    expect(adaptDamping(1, 0.7501, ad)).toBe(0.5);
    expect(adaptDamping(1, Number.POSITIVE_INFINITY, ad)).toBe(0.5);
    expect(adaptDamping(1, Number.NEGATIVE_INFINITY, ad)).toBe(2);
    // Custom thresholds are the ones used.
    const custom = dampingAdaptation({ interval: 1, decay: 0.5, lowerThreshold: -1, upperThreshold: 2 });
    expect(adaptDamping(1, -0.5, custom)).toBe(1);
    expect(adaptDamping(1, 1.5, custom)).toBe(1);
    expect(adaptDamping(1, -1.5, custom)).toBe(2);
    expect(adaptDamping(1, 2.5, custom)).toBe(0.5);
  });

  it("λ = 0 stays at λ_min = 0 whatever ρ (0·ω = 0/ω = 0)", () => {
    const ad = dampingAdaptation({ interval: 1 });
    expect(adaptDamping(0, -1, ad)).toBe(0);
    expect(adaptDamping(0, 1, ad)).toBe(0);
  });

  it("ρ = actual / predicted for a predicted decrease, whatever the sign of the actual change", () => {
    expect(reductionRatio(-2, -4)).toBe(0.5);
    expect(reductionRatio(1, -4)).toBe(-0.25);
    expect(reductionRatio(0, -1)).toBe(-0);
    expect(reductionRatio(-1, -Number.MIN_VALUE)).toBe(Number.POSITIVE_INFINITY);
    expect(reductionRatio(-1, 0)).toBe(Number.NEGATIVE_INFINITY);
    expect(reductionRatio(-1, Number.NaN)).toBe(Number.NEGATIVE_INFINITY);
  });

  it("option bounds: decay = 1 and max = min are allowed; their neighbours are not", () => {
    expect(dampingAdaptation({ interval: 4, decay: 1 }).omega).toBe(1);
    expect(dampingAdaptation({ interval: 1, min: 2, max: 2 }).max).toBe(2);
    expect(dampingAdaptation({ interval: 1, max: Number.POSITIVE_INFINITY }).max).toBe(Number.POSITIVE_INFINITY);
    expect(() => dampingAdaptation({ interval: 1, decay: 1.0000001 })).toThrow(
      new RangeError("dampingAdaptation: options.decay must be in (0, 1] (got 1.0000001)"),
    );
    expect(() => dampingAdaptation({ interval: 1, decay: -0.5 })).toThrow(/dampingAdaptation: options.decay/);
    expect(() => dampingAdaptation({ interval: 1, min: -1 })).toThrow(/dampingAdaptation: options.min/);
    for (const max of [Number.NaN, 1.999]) {
      expect(() => dampingAdaptation({ interval: 1, min: 2, max })).toThrow(
        new RangeError(`dampingAdaptation: options.max must be a number ≥ options.min = 2 (got ${max})`),
      );
    }
    // A wrong kind is a TypeError, not a value out of range.
    expect(() => dampingAdaptation({ interval: 1, min: 2, max: "5" as unknown as number })).toThrow(
      new TypeError("dampingAdaptation: options.max must be a number (got string)"),
    );
  });

  it("interval must be an integer ≥ 1; the thresholds finite with lower < upper", () => {
    expect(() => dampingAdaptation({ interval: 0 })).toThrow(/options.interval/);
    expect(dampingAdaptation({ interval: 1 }).interval).toBe(1);
    expect(() => dampingAdaptation(undefined as never)).toThrow(
      new TypeError(
        "dampingAdaptation: options must be an object { interval, decay, min, max, lowerThreshold, upperThreshold } (got undefined)",
      ),
    );
    expect(() => dampingAdaptation(5 as never)).toThrow(
      new TypeError(
        "dampingAdaptation: options must be an object { interval, decay, min, max, lowerThreshold, upperThreshold } (got number)",
      ),
    );
    expect(() => dampingAdaptation(null as never)).toThrow(
      new TypeError(
        "dampingAdaptation: options must be an object { interval, decay, min, max, lowerThreshold, upperThreshold } (got null)",
      ),
    );
    const bad = [
      { lowerThreshold: 0.5, upperThreshold: 0.5 },
      { lowerThreshold: Number.NEGATIVE_INFINITY },
      { upperThreshold: Number.POSITIVE_INFINITY },
      { lowerThreshold: Number.NaN },
      { upperThreshold: Number.NaN },
    ];
    for (const o of bad) {
      const lo = o.lowerThreshold ?? 0.25;
      const hi = o.upperThreshold ?? 0.75;
      expect(() => dampingAdaptation({ interval: 1, ...o })).toThrow(
        new RangeError(
          `dampingAdaptation: options.lowerThreshold < options.upperThreshold must both be finite (got ${lo}, ${hi})`,
        ),
      );
    }
  });

  it("a model that predicted no change (M = 0) makes any step a failure: ρ = −∞, never ±∞ from 0/0 or x/0", () => {
    expect(reductionRatio(-1, 0)).toBe(Number.NEGATIVE_INFINITY);
    expect(reductionRatio(1, 0)).toBe(Number.NEGATIVE_INFINITY);
    expect(reductionRatio(0, 0)).toBe(Number.NEGATIVE_INFINITY);
  });
});
