/**
 * "Nothing silent" at the Optimizer's boundaries: a checkpoint of first-order state that no run could
 * have produced is refused by `Optimizer.load` and changes nothing; parameters that share memory are
 * refused at construction; misspelt or mistyped options are TypeErrors; a step whose learning-rate
 * schedule fails changes no state, so a retry does not count it twice; schedules whose parameters
 * would take them negative, to +∞ or through a crash are refused when they are built.
 */
import { Linear, ReLU, Sequential } from "@ekfac-ts/nn";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  adadelta,
  adagrad,
  adam,
  addDecayedWeights,
  chain,
  constantSchedule,
  cosineDecay,
  ekfac,
  exponentialDecay,
  type GradientTransformation,
  linearSchedule,
  momentum,
  Optimizer,
  type ParameterRef,
  piecewiseConstant,
  rmsprop,
  type SavedState,
  type Schedule,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  skipNonFinite,
  stepDecay,
  traceMomentum,
  warmupCosineDecay,
} from "../index.ts";

type FloatArray = Float32Array | Float64Array;
type Meta = Record<string, unknown>;

/** Every bit of an optimizer's state: JSON structure plus the arrays' bytes. */
function stateBits(opt: Optimizer): string {
  const s = opt.state();
  const bytes = s.arrays.map((a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).join(","));
  return `${JSON.stringify(s.meta)}|${bytes.join(";")}`;
}

const makeParams = (): FloatArray[] => [Float64Array.from([0.5, -1, 2]), Float32Array.from([0.1, 0.2, -0.3, 0.4])];

function trained(make: () => GradientTransformation): { opt: Optimizer; params: FloatArray[] } {
  const params = makeParams();
  const opt = new Optimizer(make(), params);
  const g = params.map((p) => p.map((_, i) => Math.sin(i + 1)));
  for (let s = 0; s < 3; s++) opt.step(g);
  return { opt, params };
}

/** A copy of `good` with `f` applied to its (copied) meta and arrays. */
function edit(good: SavedState, f: (meta: Meta, arrays: FloatArray[]) => void): SavedState {
  const meta = JSON.parse(JSON.stringify(good.meta)) as Meta;
  const arrays = good.arrays.map((a) => a.slice());
  f(meta, arrays);
  return { format: good.format, meta: meta as SavedState["meta"], arrays };
}

/** The state of the chain's transform `i` under the `skipNonFinite` wrapper. */
const inner = (meta: Meta, i: number): Meta => (meta.inner as Meta[])[i] as Meta;

/** The array that `meta[key][k]` refers to. */
function arrayOf(meta: Meta, key: string, k: number, arrays: FloatArray[]): FloatArray {
  const ref = (meta[key] as { $array: number }[])[k] as { $array: number };
  return arrays[ref.$array] as FloatArray;
}

describe("Optimizer.load refuses first-order state no run could produce, and changes nothing", () => {
  const cases: readonly [string, () => GradientTransformation, (meta: Meta, arrays: FloatArray[]) => void, RegExp][] = [
    [
      "adam: count −1",
      () => adam(0.01),
      (m) => {
        inner(m, 0).count = -1;
      },
      /Optimizer\.load: scaleByAdam state\.count must be a non-negative integer \(got -1\)/,
    ],
    [
      "adam: count 1.5",
      () => adam(0.01),
      (m) => {
        inner(m, 0).count = 1.5;
      },
      /scaleByAdam state\.count must be a non-negative integer \(got 1\.5\)/,
    ],
    [
      "adam: ν filled with −5",
      () => adam(0.01),
      (m, a) => {
        arrayOf(inner(m, 0), "nu", 0, a).fill(-5);
      },
      /Optimizer\.load: scaleByAdam state\.nu\[0\]\[0\] must be a finite number ≥ 0 \(got -5\)/,
    ],
    [
      "adam: ν holding NaN",
      () => adam(0.01),
      (m, a) => {
        arrayOf(inner(m, 0), "nu", 1, a)[2] = Number.NaN;
      },
      /Optimizer\.load: state\.inner\[0\]\.nu\[1\]\[2\] is NaN, expected a finite number/,
    ],
    [
      "adam: the learning rate's count −1",
      () => adam(0.01),
      (m) => {
        inner(m, 1).count = -1;
      },
      /scaleByLearningRate state\.count must be a non-negative integer \(got -1\)/,
    ],
    [
      "sgd with momentum: the buffer's count 2.5",
      () => momentum(0.05, 0.9),
      (m) => {
        inner(m, 0).count = 2.5;
      },
      /traceMomentum state\.count must be a non-negative integer \(got 2\.5\)/,
    ],
    [
      "adagrad: a negative accumulated sum",
      () => adagrad(0.1),
      (m, a) => {
        arrayOf(inner(m, 0), "sum", 1, a)[3] = -1e-3;
      },
      /scaleByAdaGrad state\.sum\[1\]\[3\] must be a finite number ≥ 0 \(got -0\.001/,
    ],
    [
      "rmsprop centered with momentum: a negative ν",
      () => rmsprop(0.01, { centered: true, momentum: 0.5 }),
      (m, a) => {
        arrayOf(inner(m, 0), "nu", 0, a)[1] = -2;
      },
      /scaleByRms state\.nu\[0\]\[1\] must be a finite number ≥ 0 \(got -2\)/,
    ],
    [
      "adadelta: a negative squared-update average",
      () => adadelta(1),
      (m, a) => {
        arrayOf(inner(m, 0), "accDelta", 0, a)[0] = -1;
      },
      /scaleByAdadelta state\.accDelta\[0\]\[0\] must be a finite number ≥ 0 \(got -1\)/,
    ],
    [
      "skipNonFinite: lastSkipped 2",
      () => adam(0.01),
      (m) => {
        m.lastSkipped = 2;
      },
      /skipNonFinite state\.lastSkipped must be 0 or 1 \(got 2\)/,
    ],
    [
      "skipNonFinite: more consecutive skips than skips",
      () => adam(0.01),
      (m) => {
        m.consecutive = 3;
      },
      /skipNonFinite state\.consecutive \(3\) cannot exceed state\.skipped \(0\)/,
    ],
  ];

  for (const [name, make, f, message] of cases) {
    it(name, () => {
      const { opt, params } = trained(make);
      const good = opt.state();
      const before = stateBits(opt);
      const values = params.map((p) => p.slice());
      const bad = edit(good, f);
      expect(() => opt.load(bad)).toThrow(RangeError);
      expect(() => opt.load(bad)).toThrow(message);
      expect(stateBits(opt)).toBe(before);
      params.forEach((p, k) => {
        expect(p).toEqual(values[k]);
      });
      // The good state still loads, and the next step is applied (not skipped as non-finite).
      opt.load(good);
      expect(stateBits(opt)).toBe(before);
      expect(opt.step(params.map((p) => p.map(() => 0.5))).skipped).toBe(false);
    });
  }

  it("a centred RMSProp mean gradient and momentum buffers may be negative: they load", () => {
    const { opt } = trained(() => rmsprop(0.01, { centered: true, momentum: 0.5 }));
    const good = opt.state();
    const negated = edit(good, (m, a) => {
      for (const key of ["gradAvg", "momentum"]) arrayOf(inner(m, 0), key, 0, a).fill(-0.25);
    });
    expect(() => opt.load(negated)).not.toThrow();
  });

  it("validateState holds for a raw transform too: Adam's ν of another length than μ is refused", () => {
    const t = scaleByAdam();
    const s = t.init([new Float64Array(2)]);
    expect(() => t.validateState?.("check", s)).not.toThrow();
    expect(() => t.validateState?.("check", { ...s, nu: [new Float64Array(3)] })).toThrow(
      /check: scaleByAdam state\.nu\[0\] has length 3, expected 2/,
    );
  });
});

describe("Optimizer refuses parameters that share memory", () => {
  it("the same array twice: a RangeError naming both positions", () => {
    const a = new Float64Array(3);
    expect(() => new Optimizer(sgd(1), [a, a])).toThrow(RangeError);
    expect(() => new Optimizer(sgd(1), [new Float64Array(1), a, a])).toThrow(
      /Optimizer: params\[1\] and params\[2\] are the same array/,
    );
  });

  it("overlapping views of one buffer are refused; disjoint views of one store are fine", () => {
    const store = new Float32Array(10);
    expect(() => new Optimizer(sgd(1), [store.subarray(0, 4), store.subarray(3, 8)])).toThrow(
      /params\[0\] and params\[1\] overlap in memory/,
    );
    const params = [store.subarray(0, 4), store.subarray(4, 10)];
    const opt = new Optimizer(sgd(1), params);
    opt.step([new Float32Array(4).fill(1), new Float32Array(6).fill(1)]);
    expect(Array.from(store)).toEqual(new Array(10).fill(-1));
  });

  it("a model listing one layer twice (nn Sequential(l, ReLU, l)): named by parameter and position", () => {
    const l = new Linear(3, 3, { rng: 1 });
    const model = new Sequential(l, new ReLU(), l);
    expect(() => new Optimizer(sgd(1), model)).toThrow(RangeError);
    expect(() => new Optimizer(sgd(1), model)).toThrow(/Optimizer: parameter \S+weight \(position 0\) and parameter/);
    // The curvature transform refuses it by the same check (one home: optim/checks.ts).
    expect(() => ekfac(model)).toThrow(
      /^ekfac: parameter \S+weight \(position 0\) and parameter \S+weight \(position 2\) are the same array/,
    );
  });

  it("a hand-written source whose refs share a value buffer", () => {
    const w = new Float64Array(4);
    const ref = (name: string, value: FloatArray): ParameterRef => ({ name, value, grad: null });
    const source = { parameters: () => [ref("w", w), ref("b", new Float64Array(2)), ref("w again", w)] };
    expect(() => new Optimizer(adam(0.1), source)).toThrow(
      /parameter w \(position 0\) and parameter w again \(position 2\) are the same array/,
    );
  });
});

describe("Optimizer options are checked", () => {
  const params = [new Float64Array(2)];
  it("an unknown key is a TypeError naming the closest option", () => {
    expect(() => new Optimizer(sgd(1), params, { skipNonfinite: false } as never)).toThrow(
      /Optimizer: options\.skipNonfinite is not an option \(did you mean skipNonFinite\?\)/,
    );
  });
  it('a flag that is not a boolean is a TypeError ("false" would read as true)', () => {
    expect(() => new Optimizer(sgd(1), params, { skipNonFinite: "false" } as never)).toThrow(
      /Optimizer: options\.skipNonFinite must be true or false \(got "false"\)/,
    );
    expect(() => new Optimizer(sgd(1), params, null as never)).toThrow(TypeError);
  });
  it("the transforms' own options are checked too", () => {
    expect(() => scaleByLearningRate(0.1, { flipsign: false } as never)).toThrow(/did you mean flipSign/);
    expect(() => scaleByLearningRate(0.1, { flipSign: 0 } as never)).toThrow(TypeError);
    expect(() => traceMomentum(undefined as never)).toThrow(/traceMomentum: options must be an object/);
    expect(() => traceMomentum({ momentum: 0.9, nestrov: true } as never)).toThrow(/did you mean nesterov/);
    expect(() => addDecayedWeights(0.1, { mask: [1, 0] as never })).toThrow(
      /addDecayedWeights: options\.mask\[0\] must be true or false \(got number\)/,
    );
    expect(() => scaleByAdam({ epsilonHat: "false" as never })).toThrow(
      /scaleByAdam: epsilonHat must be true or false/,
    );
    expect(() => rmsprop(0.01, { centered: 1 as never })).toThrow(TypeError);
  });
});

describe("a step whose learning rate fails changes no state", () => {
  const params = () => [Float64Array.from([1, 2]), Float32Array.from([3])];
  const grads = [Float64Array.from([0.5, -0.5]), Float32Array.from([1])];

  it("adam(c ↦ NaN): RangeError, parameters and Adam's count and moments unchanged, every time", () => {
    const p = params();
    const opt = new Optimizer(
      adam(() => Number.NaN),
      p,
    );
    const before = stateBits(opt);
    for (let k = 0; k < 3; k++) {
      expect(() => opt.step(grads)).toThrow(/scaleByLearningRate: the schedule returned NaN at count 0/);
      expect(stateBits(opt)).toBe(before);
    }
    expect(p).toEqual(params());
    expect(opt.stepsApplied + opt.stepsSkipped).toBe(0);
  });

  it("a schedule that fails at count 2 only: the retry at a good value continues as the uninterrupted run", () => {
    let fail = true;
    const schedule: Schedule = (c) => (c === 2 && fail ? -1 : 0.1 / (1 + c));
    const make = () => chain(traceMomentum({ momentum: 0.9 }), scaleByAdam(), scaleByLearningRate(schedule));
    const pA = params();
    const a = new Optimizer(make(), pA);
    const pB = params();
    const b = new Optimizer(make(), pB);
    for (let s = 0; s < 2; s++) {
      a.step(grads);
      b.step(grads);
    }
    const before = stateBits(b);
    const values = pB.map((x) => x.slice());
    expect(() => b.step(grads)).toThrow(/the schedule returned -1 at count 2/);
    expect(stateBits(b)).toBe(before);
    expect(pB).toEqual(values);
    fail = false;
    for (let s = 0; s < 3; s++) {
      a.step(grads);
      b.step(grads);
    }
    expect(stateBits(b)).toBe(stateBits(a));
    expect(pB).toEqual(pA);
  });

  it("a raw chain (no Optimizer) and a nested chain inside skipNonFinite are atomic as well", () => {
    const t = adam(() => -1);
    const s = t.init(params());
    const u = grads.map((g) => g.slice());
    expect(() => t.update(u, s)).toThrow(RangeError);
    expect((s[0] as { count: number }).count).toBe(0);
    const nested = skipNonFinite(
      chain(
        chain(traceMomentum({ momentum: 0.5 })),
        scaleByLearningRate(() => Number.NaN),
      ),
    );
    const ns = nested.init(params());
    // A skipped (non-finite) step first: lastSkipped = 1 must survive the failed step after it.
    nested.update([Float64Array.from([Number.NaN, 0]), new Float32Array(1)], ns);
    const snapshot = JSON.stringify(ns, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as FloatArray) : v));
    expect(() =>
      nested.update(
        grads.map((g) => g.slice()),
        ns,
      ),
    ).toThrow(RangeError);
    expect(JSON.stringify(ns, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as FloatArray) : v))).toBe(snapshot);
  });

  it("a loss closure that fails on 'after' leaves the step applied: parameters and state agree", () => {
    // A measured transform (sgd's update with a loss check, as adaptive step control has).
    let observed = 0;
    const measured: GradientTransformation<{ count: number }> = {
      name: "measured",
      init: () => ({ count: 0 }),
      update(updates, state) {
        for (const u of updates) for (let i = 0; i < u.length; i++) u[i] = -(u[i] as number);
        state.count += 1;
      },
      wantsLoss: () => true,
      observeLoss: () => {
        observed += 1;
        return false;
      },
    };
    const p = params();
    const opt = new Optimizer(measured, p);
    const closure = (when: "before" | "after") => {
      if (when === "after") throw new Error("closure failed");
      return 1;
    };
    expect(() => opt.step(grads, closure)).toThrow("closure failed");
    expect(p).toEqual([Float64Array.from([0.5, 2.5]), Float32Array.from([2])]);
    expect(observed).toBe(0);
    expect(() => opt.step(grads, ((when: "before" | "after") => (when === "after" ? "1" : 1)) as never)).toThrow(
      /the loss closure must return a number \(got string\)/,
    );
    expect(p).toEqual([Float64Array.from([0, 3]), Float32Array.from([1])]);
  });

  it("a schedule returning a non-number is a TypeError", () => {
    const opt = new Optimizer(sgd((() => "0.1") as never), params());
    expect(() => opt.step(grads)).toThrow(/scaleByLearningRate: the schedule returned a string at count 0/);
  });
});

describe("schedules refuse, when built, parameters that would go bad", () => {
  const cases: readonly [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "exponentialDecay growing without a ceiling",
      () => exponentialDecay({ initValue: 1, decayRate: 2, transitionSteps: 10 }),
      RangeError,
      /exponentialDecay: decayRate 2 > 1 grows without bound/,
    ],
    [
      "exponentialDecay: a ceiling below the start",
      () => exponentialDecay({ initValue: 1, decayRate: 2, transitionSteps: 10, endValue: 0.5 }),
      RangeError,
      /endValue 0\.5 is a ceiling .* ≥ initValue 1/,
    ],
    [
      "exponentialDecay: a floor above the start",
      () => exponentialDecay({ initValue: 1, decayRate: 0.5, transitionSteps: 10, endValue: 2 }),
      RangeError,
      /endValue 2 is a floor .* ≤ initValue 1/,
    ],
    [
      "exponentialDecay: growing from 0",
      () => exponentialDecay({ initValue: 0, decayRate: 2, transitionSteps: 10, endValue: 1 }),
      RangeError,
      /initValue \(decayRate > 1\) must be a finite number > 0 \(got 0\)/,
    ],
    [
      "exponentialDecay: staircase given as a string",
      () => exponentialDecay({ initValue: 1, decayRate: 0.5, transitionSteps: 10, staircase: "yes" as never }),
      TypeError,
      /exponentialDecay: staircase must be true or false/,
    ],
    [
      "stepDecay: γ = 5 grows",
      () => stepDecay({ initValue: 1, stepSize: 10, gamma: 5 }),
      RangeError,
      /stepDecay: gamma must be a decay factor in \(0, 1\] \(got 5\)/,
    ],
    ["stepDecay: γ = 0 stops", () => stepDecay({ initValue: 1, stepSize: 10, gamma: 0 }), RangeError, /gamma/],
    [
      "cosineDecay: α = −1 goes negative",
      () => cosineDecay({ initValue: 1, decaySteps: 10, alpha: -1 }),
      RangeError,
      /cosineDecay: alpha, the final fraction of initValue, must be in \[0, 1\] \(got -1\)/,
    ],
    ["cosineDecay: α = 2", () => cosineDecay({ initValue: 1, decaySteps: 10, alpha: 2 }), RangeError, /alpha/],
    [
      "cosineDecay(): no options",
      () => (cosineDecay as (o?: unknown) => unknown)(),
      TypeError,
      /cosineDecay: options must be an object \{ initValue, decaySteps, alpha \} \(got undefined\)/,
    ],
    [
      "cosineDecay: a misspelt key",
      () => cosineDecay({ initValue: 1, decaySteps: 10, alpah: 0.1 } as never),
      TypeError,
      /cosineDecay: options\.alpah is not an option \(did you mean alpha\?\)/,
    ],
    [
      "piecewiseConstant({})",
      () => piecewiseConstant({} as never),
      TypeError,
      /piecewiseConstant: boundaries must be an array of numbers \(got undefined\)/,
    ],
    [
      "piecewiseConstant: a negative value",
      () => piecewiseConstant({ boundaries: [5], values: [1, -0.1] }),
      RangeError,
      /piecewiseConstant: values\[1\] must be a finite number ≥ 0 \(got -0\.1\)/,
    ],
    [
      "constantSchedule(−1)",
      () => constantSchedule(-1),
      RangeError,
      /constantSchedule: value must be a finite number ≥ 0 \(got -1\)/,
    ],
    [
      "linearSchedule to a negative value",
      () => linearSchedule({ initValue: 1, endValue: -1, transitionSteps: 10 }),
      RangeError,
      /linearSchedule: endValue must be a finite number ≥ 0/,
    ],
    [
      "linearSchedule(null)",
      () => linearSchedule(null as never),
      TypeError,
      /linearSchedule: options must be an object .*\(got null\)/,
    ],
    [
      "warmupCosineDecay to a negative peak",
      () => warmupCosineDecay({ initValue: 0, peakValue: -1, warmupSteps: 1, decaySteps: 10 }),
      RangeError,
      /warmupCosineDecay: peakValue must be a finite number ≥ 0/,
    ],
    [
      "stepDecay(undefined)",
      () => stepDecay(undefined as never),
      TypeError,
      /stepDecay: options must be an object \{ initValue, stepSize, gamma \}/,
    ],
  ];
  for (const [name, fn, type, message] of cases) {
    it(name, () => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  }

  it("linearSchedule down to 0 ends at exactly 0, not an ulp below it (which the learning rate refuses)", () => {
    // ((0 − v₀)·T)/T rounded to −v₀ − 1.1e-13 here: the step at c = T threw mid-training.
    const s = linearSchedule({ initValue: 995.653678006086, endValue: 0, transitionSteps: 962 });
    for (const c of [962, 963, 1e6]) expect(s(c)).toBe(0);
    const opt = new Optimizer(sgd(s), [new Float64Array(1)]);
    for (let k = 0; k < 965; k++) opt.step([Float64Array.from([1])]);
    expect(opt.stepsApplied).toBe(965);
  });

  it("a schedule that passes construction stays finite and ≥ 0 at every count, however far", () => {
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    const value = fc.double({ min: 0, max: 1e3, noNaN: true });
    const steps = fc.integer({ min: 1, max: 1000 });
    const count = fc.oneof(fc.nat(5000), fc.constantFrom(1e6, 1e9, 2 ** 53));
    const schedule = fc.oneof(
      fc
        .tuple(value, fc.double({ min: 1e-6, max: 1, noNaN: true }), steps, fc.boolean())
        .map(([v, r, t, staircase]) => exponentialDecay({ initValue: v, decayRate: r, transitionSteps: t, staircase })),
      fc
        .tuple(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), fc.double({ min: 1, max: 1e3, noNaN: true }), steps)
        .map(([v, r, t]) =>
          exponentialDecay({ initValue: v, decayRate: r, transitionSteps: t, endValue: v * (1 + r) }),
        ),
      fc
        .tuple(value, steps, fc.double({ min: 1e-9, max: 1, noNaN: true }))
        .map(([v, t, gamma]) => stepDecay({ initValue: v, stepSize: t, gamma })),
      fc.tuple(value, steps, unit).map(([v, t, alpha]) => cosineDecay({ initValue: v, decaySteps: t, alpha })),
      fc
        .tuple(value, value, value, steps)
        .map(([a, b, e, t]) =>
          warmupCosineDecay({ initValue: a, peakValue: b, endValue: e, warmupSteps: t, decaySteps: 2 * t }),
        ),
      fc
        .tuple(value, value, steps)
        .map(([a, b, t]) => linearSchedule({ initValue: a, endValue: b, transitionSteps: t })),
    );
    fc.assert(
      fc.property(schedule, count, (s, c) => {
        const v = s(c);
        return Number.isFinite(v) && v >= 0;
      }),
    );
  });
});
