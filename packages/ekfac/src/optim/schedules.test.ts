import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  constantSchedule,
  cosineDecay,
  exponentialDecay,
  linearSchedule,
  piecewiseConstant,
  scaleByLearningRate,
  stepDecay,
  warmupCosineDecay,
} from "../index.ts";

const close = (a: number, b: number, tol = 1e-14) =>
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));

describe("schedules: closed forms", () => {
  it("constant: v at every step", () => {
    const s = constantSchedule(0.3);
    for (const c of [0, 1, 1000]) expect(s(c)).toBe(0.3);
  });

  it("linear: v₀ at 0, midpoint at T/2, v₁ from T on", () => {
    const s = linearSchedule({ initValue: 1, endValue: 0.2, transitionSteps: 10 });
    close(s(0), 1);
    close(s(5), 0.6);
    close(s(10), 0.2);
    close(s(50), 0.2);
  });

  it("exponential: v₀·r^(c/T), staircase holds between transitions, endValue clips, begin delays", () => {
    const s = exponentialDecay({ initValue: 2, decayRate: 0.5, transitionSteps: 10 });
    close(s(0), 2);
    close(s(10), 1);
    close(s(5), 2 * 0.5 ** 0.5);
    const st = exponentialDecay({ initValue: 2, decayRate: 0.5, transitionSteps: 10, staircase: true });
    close(st(9), 2);
    close(st(10), 1);
    close(st(19), 1);
    const clipped = exponentialDecay({ initValue: 2, decayRate: 0.5, transitionSteps: 1, endValue: 0.3 });
    close(clipped(100), 0.3);
    const growing = exponentialDecay({ initValue: 1, decayRate: 2, transitionSteps: 1, endValue: 5 });
    close(growing(2), 4);
    close(growing(3), 5);
    const delayed = exponentialDecay({ initValue: 2, decayRate: 0.5, transitionSteps: 10, transitionBegin: 5 });
    close(delayed(4), 2);
    close(delayed(15), 1);
  });

  it("step (PyTorch StepLR): v₀·γ^⌊c/T⌋", () => {
    const s = stepDecay({ initValue: 1, stepSize: 3, gamma: 0.1 });
    expect([0, 2, 3, 5, 6].map(s)).toEqual([1, 1, 0.1, 0.1, 0.1 ** 2]);
  });

  it("cosine: v₀ at 0, v₀(1 + α)/2 at T/2, α·v₀ from T on", () => {
    const s = cosineDecay({ initValue: 2, decaySteps: 100, alpha: 0.1 });
    close(s(0), 2);
    close(s(50), (2 * 1.1) / 2);
    close(s(100), 0.2);
    close(s(1000), 0.2);
  });

  it("warmup + cosine: v₀ at 0, peak at W (continuous there), (peak + end)/2 halfway through the decay, end at T", () => {
    const s = warmupCosineDecay({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
    close(s(0), 0);
    close(s(5), 0.5);
    close(s(10), 1);
    close(s(9.999999), 1, 1e-6);
    close(s(60), 0.55);
    close(s(110), 0.1);
    close(s(1e6), 0.1);
  });

  it("piecewise constant: values[j] for the j boundaries ≤ c", () => {
    const s = piecewiseConstant({ boundaries: [10, 20], values: [1, 0.5, 0.25] });
    expect([0, 9, 10, 19, 20, 1000].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });
});

describe("schedules: laws", () => {
  it("decaying schedules are non-increasing in c", () => {
    const decaying = [
      cosineDecay({ initValue: 1, decaySteps: 50, alpha: 0.05 }),
      exponentialDecay({ initValue: 1, decayRate: 0.9, transitionSteps: 7 }),
      stepDecay({ initValue: 1, stepSize: 4, gamma: 0.5 }),
      linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 30 }),
    ];
    fc.assert(
      fc.property(fc.nat(200), fc.nat(200), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        for (const s of decaying) if (s(hi) > s(lo)) return false;
        return true;
      }),
    );
  });

  it("warmup + cosine stays within [min(init, end), peak]", () => {
    const s = warmupCosineDecay({ initValue: 0.01, peakValue: 1, warmupSteps: 20, decaySteps: 200, endValue: 0.05 });
    fc.assert(fc.property(fc.nat(500), (c) => s(c) >= 0.01 && s(c) <= 1));
  });

  it("scaleByLearningRate evaluates the schedule at the number of steps already taken (0 first)", () => {
    const seen: number[] = [];
    const t = scaleByLearningRate((c) => {
      seen.push(c);
      return 1 + c;
    });
    const state = t.init([new Float64Array(1)]);
    const u = [Float64Array.from([1])];
    for (let k = 0; k < 3; k++) {
      u[0]?.fill(1);
      t.update(u, state);
      expect(u[0]?.[0]).toBe(-(1 + k));
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(state.count).toBe(3);
  });
});
