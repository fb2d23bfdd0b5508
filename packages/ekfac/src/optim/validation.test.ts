import { describe, expect, it } from "vitest";
import {
  adadelta,
  adagrad,
  adam,
  adamw,
  addDecayedWeights,
  addL2,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  clipByValue,
  cosineDecay,
  exponentialDecay,
  momentum,
  nesterov,
  Optimizer,
  piecewiseConstant,
  rmsprop,
  scale,
  scaleByAdaGrad,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  sgd,
  skipNonFinite,
  stepDecay,
  traceMomentum,
  warmupCosineDecay,
} from "../index.ts";

const cases: readonly [string, () => unknown, ErrorConstructor, RegExp][] = [
  ["sgd: learning rate 0", () => sgd(0), RangeError, /sgd: learningRate must be a finite number > 0 \(got 0\)/],
  ["sgd: negative learning rate", () => sgd(-0.1), RangeError, /sgd: learningRate .*got -0\.1/],
  ["adam: NaN learning rate", () => adam(Number.NaN), RangeError, /adam: learningRate .*got NaN/],
  ["adam: infinite learning rate", () => adam(Number.POSITIVE_INFINITY), RangeError, /adam: learningRate/],
  [
    "adam: string learning rate",
    () => adam("0.1" as unknown as number),
    TypeError,
    /adam: learningRate must be a number \(got string\)/,
  ],
  ["adam: β₁ = 1", () => adam(1e-3, { beta1: 1 }), RangeError, /^adam: options\.beta1 must be in \[0, 1\) \(got 1\)$/],
  ["adam: β₂ < 0", () => adam(1e-3, { beta2: -0.1 }), RangeError, /^adam: options\.beta2 must be in \[0, 1\)/],
  ["adam: β₂ NaN", () => scaleByAdam({ beta2: Number.NaN }), RangeError, /beta2 .*got NaN/],
  [
    "adam: ε < 0",
    () => adam(1e-3, { eps: -1e-8 }),
    RangeError,
    /^adam: options\.eps must be a finite number ≥ 0 \(got -1e-8\)$/,
  ],
  ["adamw: negative weight decay", () => adamw(1e-3, { weightDecay: -1 }), RangeError, /^adamw: options\.weightDecay/],
  ["adagrad: negative lrDecay", () => adagrad(0.1, { lrDecay: -1 }), RangeError, /^adagrad: options\.lrDecay/],
  [
    "adagrad: negative initial accumulator",
    () => scaleByAdaGrad({ initialAccumulator: -1 }),
    RangeError,
    /initialAccumulator/,
  ],
  ["rmsprop: α = 1", () => rmsprop(0.01, { alpha: 1 }), RangeError, /^rmsprop: options\.alpha/],
  ["rmsprop: momentum 1.5", () => scaleByRms({ momentum: 1.5 }), RangeError, /scaleByRms: momentum/],
  ["adadelta: ρ = 1", () => adadelta(1, { rho: 1 }), RangeError, /^adadelta: options\.rho/],
  ["momentum: μ = 1", () => momentum(0.1, 1), RangeError, /^momentum: mu must be in \[0, 1\)/],
  ["nesterov: μ = 0", () => nesterov(0.1, 0), RangeError, /^nesterov: Nesterov momentum requires mu > 0/],
  [
    "nesterov with dampening",
    () => traceMomentum({ momentum: 0.9, nesterov: true, dampening: 0.1 }),
    RangeError,
    /dampening = 0/,
  ],
  ["sgd: negative weight decay", () => sgd(0.1, { weightDecay: -1 }), RangeError, /^sgd: options\.weightDecay/],
  ["addL2: NaN", () => addL2(Number.NaN), RangeError, /addL2: weightDecay/],
  ["scale: Infinity", () => scale(Number.POSITIVE_INFINITY), RangeError, /scale: factor must be finite/],
  ["clipByGlobalNorm: 0", () => clipByGlobalNorm(0), RangeError, /clipByGlobalNorm: maxNorm/],
  ["clipByValue: -1", () => clipByValue(-1), RangeError, /clipByValue: maxDelta/],
  ["scaleByLearningRate: 0", () => scaleByLearningRate(0), RangeError, /scaleByLearningRate: learningRate/],
  [
    "chain: not a transform",
    () => chain(sgd(0.1), 3 as never),
    TypeError,
    /chain: argument 1 must be a GradientTransformation \(got number\)/,
  ],
  ["skipNonFinite: null", () => skipNonFinite(null as never), TypeError, /skipNonFinite: inner/],
  ["cosineDecay: 0 steps", () => cosineDecay({ initValue: 1, decaySteps: 0 }), RangeError, /cosineDecay: decaySteps/],
  [
    "warmupCosineDecay: decay ≤ warmup",
    () => warmupCosineDecay({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
    RangeError,
    /decaySteps must exceed warmupSteps \(got decaySteps 10, warmupSteps 10\)/,
  ],
  [
    "exponentialDecay: rate 0",
    () => exponentialDecay({ initValue: 1, decayRate: 0, transitionSteps: 1 }),
    RangeError,
    /decayRate/,
  ],
  [
    "stepDecay: fractional step size",
    () => stepDecay({ initValue: 1, stepSize: 1.5 }),
    RangeError,
    /stepSize must be a non-negative integer/,
  ],
  [
    "piecewiseConstant: values count",
    () => piecewiseConstant({ boundaries: [10, 20], values: [1, 2] }),
    RangeError,
    /values must have boundaries\.length \+ 1 = 3 entries \(got 2\)/,
  ],
  [
    "piecewiseConstant: unsorted boundaries",
    () => piecewiseConstant({ boundaries: [20, 10], values: [1, 2, 3] }),
    RangeError,
    /strictly increasing/,
  ],
];

describe("bad constructor arguments throw, naming function, argument and value", () => {
  for (const [name, fn, type, message] of cases) {
    it(name, () => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  }
});

describe("bad shapes at update time", () => {
  const params = [new Float64Array(3), new Float64Array(2)];

  it("updates with fewer arrays than at init → RangeError naming both counts", () => {
    const t = adam();
    const s = t.init(params);
    expect(() => t.update([new Float64Array(3)], s)).toThrow(/scaleByAdam: updates has 1 arrays, expected 2/);
  });

  it("updates with a different array length → RangeError naming index and both lengths", () => {
    const t = rmsprop(0.01);
    const s = t.init(params);
    expect(() => t.update([new Float64Array(3), new Float64Array(4)], s)).toThrow(
      /scaleByRms: updates\[1\] has length 4, expected 2/,
    );
  });

  it("updates that are not typed arrays → TypeError", () => {
    const t = momentum(0.1, 0.9);
    const s = t.init(params);
    expect(() => t.update([[1, 2, 3] as never, new Float64Array(2)], s)).toThrow(
      /traceMomentum: updates\[0\] must be a Float32Array or Float64Array \(got Array\)/,
    );
  });

  it("init with a non-list → TypeError", () => {
    expect(() => adam().init(new Float64Array(3) as never)).toThrow(TypeError);
    expect(() => adam().init(new Float64Array(3) as never)).toThrow(/params must be an array/);
  });

  it("decoupled weight decay without params → TypeError naming the transform", () => {
    const t = adamw(1e-3);
    const s = t.init(params);
    expect(() => t.update([new Float64Array(3), new Float64Array(2)], s)).toThrow(
      /addDecayedWeights: update needs the current params/,
    );
  });

  it("weight decay with params of a different shape → RangeError", () => {
    const t = addDecayedWeights(0.1);
    expect(() => t.update([new Float64Array(3)], {}, [new Float64Array(4)])).toThrow(
      /updates\[0\] has length 3, expected 4/,
    );
  });

  it("weight decay mask of the wrong length → RangeError", () => {
    expect(() => addL2(0.1, { mask: [true] }).init(params)).toThrow(/mask has 1 entries, expected 2/);
  });

  it("applyUpdates with mismatched lists → RangeError", () => {
    expect(() => applyUpdates(params, [new Float64Array(3)])).toThrow(/applyUpdates: updates has 1 arrays, expected 2/);
    expect(() => applyUpdates(params, [new Float64Array(3), new Float64Array(1)])).toThrow(RangeError);
  });

  it("a schedule returning a negative or NaN learning rate → RangeError naming the step", () => {
    const t = scaleByLearningRate((c) => (c < 2 ? 0.1 : -0.1));
    const s = t.init(params);
    const u = [new Float64Array(3), new Float64Array(2)];
    t.update(u, s);
    t.update(u, s);
    expect(() => t.update(u, s)).toThrow(/scaleByLearningRate: the schedule returned -0\.1 at count 2/);
  });

  it("Optimizer.step with the wrong gradient shapes → RangeError", () => {
    const opt = new Optimizer(sgd(0.1), params);
    expect(() => opt.step([new Float64Array(3)])).toThrow(/Optimizer\.step: grads has 1 arrays, expected 2/);
    expect(() => opt.step([new Float64Array(2), new Float64Array(2)])).toThrow(/grads\[0\] has length 2, expected 3/);
  });

  it("chain.update with a state that is not its tuple → RangeError", () => {
    const t = chain(sgd(0.1), scale(2));
    expect(() => t.update(params, {} as never)).toThrow(
      /state must be a list of 2 states, one per transform \(got Object\)/,
    );
    expect(() => t.update(params, [[]] as never)).toThrow(/got 1 entries/);
  });

  it("Optimizer with a non-transform → TypeError", () => {
    expect(() => new Optimizer({} as never, params)).toThrow(TypeError);
  });
});
