/**
 * Options objects of the package's public functions ("Nothing silent"): an unknown or misspelled key is a
 * TypeError naming the function the user called and the key (never silently left at its default), a flag
 * must be a boolean (not read by truthiness), every message names the option as the user wrote it, and
 * adaptive damping's starting λ must lie within the bounds the rule keeps it in.
 */
import { mlp } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { TinyMlp } from "../../test/tiny-mlp.ts";
import type { BatchCaptureModel } from "../capture.ts";
import {
  adadelta,
  adagrad,
  adam,
  adamw,
  Conv2dEigenCorrected,
  curvature,
  DenseKroneckerFactored,
  DiagonalFisher,
  dampingAdaptation,
  diagonalFisher,
  ekfac,
  fitExactInfluence,
  fitInfluence,
  type InfluencePreconditioner,
  kfac,
  momentum,
  nesterov,
  Optimizer,
  ParameterDiagonalFisher,
  rmsprop,
  ScaleShiftBlock,
  scaleByAdadelta,
  scaleByAdaGrad,
  scaleByAdam,
  scaleByRms,
  scoreInfluence,
  selfInfluence,
  sgd,
} from "../index.ts";

const model = () => new TinyMlp([4, 5, 3], 7, "softmax-ce");
const dense = { outDim: 3, inDim: 4, hasBias: true };
/** A value of the wrong type, for options a caller builds at run time (JSON, a config, JavaScript). */
const untyped = (o: object): never => o as never;

type Case = readonly [string, () => unknown, ErrorConstructor, RegExp];

function run(cases: readonly Case[]): void {
  for (const [name, fn, type, message] of cases) {
    it(name, () => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  }
}

describe("an unknown option key is a TypeError naming the function called and the key", () => {
  run([
    [
      "ekfac: learningrate",
      () => ekfac(model(), untyped({ learningrate: 0.1 })),
      TypeError,
      /^ekfac: options\.learningrate is not an option \(did you mean learningRate\?\); known: damping, .*learningRate/,
    ],
    [
      "ekfac: dampning",
      () => ekfac(model(), untyped({ dampning: 1 })),
      TypeError,
      /^ekfac: options\.dampning is not an option \(did you mean damping\?\)/,
    ],
    [
      "kfac: momentun (fixed step control)",
      () => kfac(model(), untyped({ learningRate: 0.1, momentun: 0.5 })),
      TypeError,
      /^kfac: options\.momentun is not an option \(did you mean momentum\?\)/,
    ],
    [
      "kfac: stepControl is the transform's option, not the alias's",
      () => kfac(model(), untyped({ stepControl: null })),
      TypeError,
      /^kfac: options\.stepControl is not an option/,
    ],
    [
      "diagonalFisher: scalingevery",
      () => diagonalFisher(model(), untyped({ learningRate: 0.1, scalingevery: 2 })),
      TypeError,
      /^diagonalFisher: options\.scalingevery is not an option \(did you mean scalingEvery\?\)/,
    ],
    [
      "ekfac: dampingAdaptation.intervall",
      () => ekfac(model(), untyped({ dampingAdaptation: { intervall: 3 } })),
      TypeError,
      /^ekfac: options\.dampingAdaptation\.intervall is not an option \(did you mean interval\?\); known: interval, decay, min, max, lowerThreshold, upperThreshold$/,
    ],
    [
      "adam: b1",
      () => adam(1e-3, untyped({ b1: 1.1 })),
      TypeError,
      /^adam: options\.b1 is not an option; known: beta1/,
    ],
    [
      "adam: betas",
      () => adam(1e-3, untyped({ betas: [0.9, 1.5] })),
      TypeError,
      /^adam: options\.betas is not an option \(did you mean beta1\?\)/,
    ],
    [
      "adam: weight_decay",
      () => adam(1e-3, untyped({ weight_decay: 0.1 })),
      TypeError,
      /^adam: options\.weight_decay is not an option \(did you mean weightDecay\?\)/,
    ],
    [
      "adamw: lrDecay (adagrad's)",
      () => adamw(1e-3, untyped({ lrDecay: 0.1 })),
      TypeError,
      /^adamw: options\.lrDecay is not an option/,
    ],
    [
      "adagrad: initialAccumulatorValue",
      () => adagrad(0.1, untyped({ initialAccumulatorValue: 0.1 })),
      TypeError,
      /^adagrad: options\.initialAccumulatorValue is not an option/,
    ],
    [
      "rmsprop: decay",
      () => rmsprop(0.1, untyped({ decay: 1.5 })),
      TypeError,
      /^rmsprop: options\.decay is not an option/,
    ],
    [
      "adadelta: rh0",
      () => adadelta(1, untyped({ rh0: 0.9 })),
      TypeError,
      /^adadelta: options\.rh0 is not an option \(did you mean rho\?\)/,
    ],
    [
      "sgd: momentun",
      () => sgd(0.1, untyped({ momentun: 0.9 })),
      TypeError,
      /^sgd: options\.momentun is not an option \(did you mean momentum\?\)/,
    ],
    [
      "momentum: μ is the second argument, not an option",
      () => momentum(0.1, 0.9, untyped({ momentum: 0.5 })),
      TypeError,
      /^momentum: options\.momentum is not an option; known: dampening, weightDecay, weightDecayMask$/,
    ],
    [
      "nesterov: dampening (Nesterov needs none)",
      () => nesterov(0.1, 0.9, untyped({ dampening: 0.1 })),
      TypeError,
      /^nesterov: options\.dampening is not an option; known: weightDecay, weightDecayMask$/,
    ],
    [
      "curvature: learningRate (the aliases' option)",
      () => curvature(model(), "ekfac", untyped({ learningRate: 0.1 })),
      TypeError,
      /^curvature: options\.learningRate is not an option/,
    ],
    [
      "curvature: stepControl.burnin",
      () =>
        curvature(model(), "ekfac", {
          stepControl: untyped({ dampingAdaptation: null, burnIn: 0, kappa: 1e-3, burnin: 2 }),
        }),
      TypeError,
      /^curvature: options\.stepControl\.burnin is not an option \(did you mean burnIn\?\)/,
    ],
    [
      "curvature: klClip.lr",
      () => curvature(model(), "kfac", { klClip: untyped({ kappa: 1e-3, learningRate: 0.1, lr: 0.1 }) }),
      TypeError,
      /^curvature: options\.klClip\.lr is not an option; known: kappa, learningRate$/,
    ],
    [
      "dampingAdaptation: interva1",
      () => dampingAdaptation(untyped({ interval: 1, interva1: 2 })),
      TypeError,
      /^dampingAdaptation: options\.interva1 is not an option \(did you mean interval\?\)/,
    ],
    [
      "DenseKroneckerFactored: factordecay",
      () => new DenseKroneckerFactored(dense, untyped({ factordecay: 0.9 })),
      TypeError,
      /^DenseKroneckerFactored: options\.factordecay is not an option \(did you mean factorDecay\?\)/,
    ],
    [
      "Conv2dEigenCorrected: decay (the diagonal's)",
      () =>
        new Conv2dEigenCorrected(
          { outDim: 2, inDim: 2, hasBias: false, kernel: [1, 1], groups: 1 } as never,
          untyped({ decay: 0.9 }),
        ),
      TypeError,
      /^Conv2dEigenCorrected: options\.decay is not an option/,
    ],
    [
      "DiagonalFisher: decy",
      () => new DiagonalFisher({ ...dense, kind: "dense", groups: 1 }, untyped({ decy: 0.9 })),
      TypeError,
      /^DiagonalFisher: options\.decy is not an option \(did you mean decay\?\); known: decay$/,
    ],
    [
      "ScaleShiftBlock: rho",
      () => new ScaleShiftBlock(2, true, untyped({ rho: 0.9 })),
      TypeError,
      /^ScaleShiftBlock: options\.rho is not an option; known: decay$/,
    ],
    [
      "ParameterDiagonalFisher: factorDecay",
      () => new ParameterDiagonalFisher(3, untyped({ factorDecay: 0.9 })),
      TypeError,
      /^ParameterDiagonalFisher: options\.factorDecay is not an option; known: decay$/,
    ],
  ]);
});

describe("the transforms the aliases build check their own options too (called directly)", () => {
  run([
    [
      "scaleByAdam: beta_1",
      () => scaleByAdam(untyped({ beta_1: 0.5 })),
      TypeError,
      /^scaleByAdam: options\.beta_1 is not an option \(did you mean beta1\?\)/,
    ],
    [
      "scaleByAdaGrad: epsilon",
      () => scaleByAdaGrad(untyped({ epsilon: 1 })),
      TypeError,
      /^scaleByAdaGrad: options\.epsilon is not an option/,
    ],
    [
      "scaleByRms: centred",
      () => scaleByRms(untyped({ centred: true })),
      TypeError,
      /^scaleByRms: options\.centred is not an option \(did you mean centered\?\)/,
    ],
    [
      "scaleByAdadelta: decay",
      () => scaleByAdadelta(untyped({ decay: 0.9 })),
      TypeError,
      /^scaleByAdadelta: options\.decay is not an option; known: rho, eps$/,
    ],
  ]);
});

describe("an options argument that is not an object is a TypeError saying what it got", () => {
  run([
    [
      "adam: null",
      () => adam(1e-3, untyped(null as never)),
      TypeError,
      /^adam: options must be an object \(got null\)$/,
    ],
    ["adam: 5", () => adam(1e-3, 5 as never), TypeError, /^adam: options must be an object \(got number\)$/],
    ["sgd: null", () => sgd(0.1, null as never), TypeError, /^sgd: options must be an object \(got null\)$/],
    ["ekfac: []", () => ekfac(model(), [] as never), TypeError, /^ekfac: options must be an object \(got Array\)$/],
    [
      "ekfac: dampingAdaptation null (it would spread to the defaults)",
      () => ekfac(model(), { dampingAdaptation: null as never }),
      TypeError,
      /^ekfac: options\.dampingAdaptation must be an object \(got null\)$/,
    ],
    [
      "curvature: 'fast'",
      () => curvature(model(), "kfac", "fast" as never),
      TypeError,
      /^curvature: options must be an object \(got string\)$/,
    ],
    [
      "DiagonalFisher: 0.9",
      () => new DiagonalFisher({ ...dense, kind: "dense", groups: 1 }, 0.9 as never),
      TypeError,
      /^DiagonalFisher: options must be an object \(got number\)$/,
    ],
  ]);
});

describe("a flag must be true or false, not read by truthiness", () => {
  run([
    [
      'sgd: nesterov "yes"',
      () => sgd(0.1, { momentum: 0.9, nesterov: untyped("yes" as never) }),
      TypeError,
      /^sgd: options\.nesterov must be true or false \(got "yes"\)$/,
    ],
    [
      'adam: epsilonHat "false"',
      () => adam(1e-3, { epsilonHat: untyped("false" as never) }),
      TypeError,
      /^adam: options\.epsilonHat must be true or false \(got "false"\)$/,
    ],
    [
      "adagrad: epsilonInsideSqrt 1",
      () => adagrad(0.1, { epsilonInsideSqrt: untyped(1 as never) }),
      TypeError,
      /^adagrad: options\.epsilonInsideSqrt must be true or false \(got 1\)$/,
    ],
    [
      "rmsprop: centered 0",
      () => rmsprop(0.1, { centered: untyped(0 as never) }),
      TypeError,
      /^rmsprop: options\.centered must be true or false \(got 0\)$/,
    ],
    [
      'adamw: weightDecayMask ["false"]',
      () => adamw(1e-3, { weightDecayMask: untyped(["false"]) }),
      TypeError,
      /^adamw: options\.weightDecayMask\[0\] must be true or false \(got "false"\)$/,
    ],
    [
      "sgd: weightDecayMask not an array",
      () => sgd(0.1, { weightDecay: 0.1, weightDecayMask: untyped("all" as never) }),
      TypeError,
      /^sgd: options\.weightDecayMask must be an array of booleans \(got string\)$/,
    ],
    [
      'ekfac: adaptiveDamping "no"',
      () => ekfac(model(), { adaptiveDamping: untyped("no" as never) }),
      TypeError,
      /^ekfac: options\.adaptiveDamping must be true or false \(got "no"\)$/,
    ],
    [
      'curvature: reuseStatistics "false"',
      () => curvature(model(), "kfac", { reuseStatistics: untyped("false" as never) }),
      TypeError,
      /^curvature: options\.reuseStatistics must be true or false \(got "false"\)$/,
    ],
    [
      "curvature: stepControl.checkEveryStep 1",
      () =>
        curvature(model(), "ekfac", {
          stepControl: {
            dampingAdaptation: { interval: 1 },
            burnIn: 0,
            kappa: 1e-3,
            checkEveryStep: untyped(1 as never),
          },
        }),
      TypeError,
      /^curvature: options\.stepControl\.checkEveryStep must be true or false \(got 1\)$/,
    ],
  ]);
});

describe("messages name the option as the caller wrote it", () => {
  run([
    [
      "ekfac (adaptive): momentum, not stepControl.momentum",
      () => ekfac(model(), { momentum: 1 }),
      RangeError,
      /^ekfac: options\.momentum must be in \[0, 1\) \(got 1\)$/,
    ],
    [
      "ekfac (adaptive): burnIn",
      () => ekfac(model(), { burnIn: 1.5 }),
      RangeError,
      /^ekfac: options\.burnIn must be a non-negative integer \(got 1\.5\)$/,
    ],
    [
      "kfac (adaptive): rateAveraging",
      () => kfac(model(), { rateAveraging: 1 }),
      RangeError,
      /^kfac: options\.rateAveraging must be in \[0, 1\) \(got 1\)$/,
    ],
    [
      "kfac (adaptive): overRelaxation",
      () => kfac(model(), { overRelaxation: 2 }),
      RangeError,
      /^kfac: options\.overRelaxation must be in \(0, 2\)/,
    ],
    [
      "ekfac (adaptive): preconditionerDamping",
      () => ekfac(model(), { preconditionerDamping: 0 }),
      RangeError,
      /^ekfac: options\.preconditionerDamping must be a finite number > 0 \(got 0\)$/,
    ],
    [
      "ekfac: dampingAdaptation.decay",
      () => ekfac(model(), { dampingAdaptation: { decay: 1.5 } }),
      RangeError,
      /^ekfac: options\.dampingAdaptation\.decay must be in \(0, 1\] \(got 1\.5\)$/,
    ],
    [
      "ekfac: dampingAdaptation.min > max",
      () => ekfac(model(), { dampingAdaptation: { min: 1, max: 0.5 } }),
      RangeError,
      /^ekfac: options\.dampingAdaptation\.max must be a number ≥ options\.dampingAdaptation\.min = 1 \(got 0\.5\)$/,
    ],
    [
      "kfac (fixed): damping is options.damping",
      () => kfac(model(), { learningRate: 0.1, damping: -1 }),
      RangeError,
      /^kfac: options\.damping must be a finite number > 0 \(got -1\)$/,
    ],
    [
      "curvature: damping is options.damping",
      () => curvature(model(), "kfac", { damping: 0 }),
      RangeError,
      /^curvature: options\.damping must be a finite number > 0 \(got 0\)$/,
    ],
    [
      "curvature (called directly): stepControl.dampingAdaptation.decay",
      () =>
        curvature(model(), "ekfac", {
          stepControl: { dampingAdaptation: { interval: 1, decay: 2 }, burnIn: 0, kappa: 1e-3 },
        }),
      RangeError,
      /^curvature: options\.stepControl\.dampingAdaptation\.decay must be in \(0, 1\] \(got 2\)$/,
    ],
    [
      "adam: beta1",
      () => adam(1e-3, { beta1: 1.5 }),
      RangeError,
      /^adam: options\.beta1 must be in \[0, 1\) \(got 1\.5\)$/,
    ],
    ["adamw: beta2", () => adamw(1e-3, { beta2: -1 }), RangeError, /^adamw: options\.beta2 must be in \[0, 1\)/],
    [
      "adagrad: initialAccumulator",
      () => adagrad(0.1, { initialAccumulator: -1 }),
      RangeError,
      /^adagrad: options\.initialAccumulator must be a finite number ≥ 0 \(got -1\)$/,
    ],
    [
      "rmsprop: momentum",
      () => rmsprop(0.1, { momentum: 1 }),
      RangeError,
      /^rmsprop: options\.momentum must be in \[0, 1\)/,
    ],
    [
      "adadelta: eps",
      () => adadelta(1, { eps: -1 }),
      RangeError,
      /^adadelta: options\.eps must be a finite number ≥ 0/,
    ],
    [
      "sgd: momentum",
      () => sgd(0.1, { momentum: 1 }),
      RangeError,
      /^sgd: options\.momentum must be in \[0, 1\) \(got 1\)$/,
    ],
    [
      "sgd: nesterov without momentum",
      () => sgd(0.1, { nesterov: true }),
      RangeError,
      /^sgd: options\.nesterov requires options\.momentum > 0 and options\.dampening = 0/,
    ],
  ]);

  it("the alias names itself; the transform called directly, and curvature's stepControl, keep their names", () => {
    expect(() => adam(1e-3, { beta1: 1.5 })).toThrow(/^adam: options\.beta1 must be in \[0, 1\) \(got 1\.5\)$/);
    expect(() => scaleByAdam({ beta1: 1.5 })).toThrow(/^scaleByAdam: beta1 must be in \[0, 1\) \(got 1\.5\)$/);
    expect(() => ekfac(model(), { momentum: 1 })).toThrow(/^ekfac: options\.momentum must be in \[0, 1\) \(got 1\)$/);
    expect(() =>
      curvature(model(), "ekfac", { stepControl: { dampingAdaptation: null, burnIn: 0, kappa: 1e-3, momentum: 1 } }),
    ).toThrow(/^curvature: options\.stepControl\.momentum must be in \[0, 1\) \(got 1\)$/);
  });

  it("a step() without a forward pass is a RangeError saying what to do", () => {
    const m = model();
    const opt = new Optimizer(ekfac(m, { learningRate: 0.1 }), m);
    expect(() => opt.step()).toThrow(RangeError);
    expect(() => opt.step()).toThrow(
      /^ekfac\.update: layer \S+ has no captured statistics; .*run a forward and backward pass before each step\(\)/,
    );
  });
});

describe("the starting damping must lie within dampingAdaptation's bounds", () => {
  run([
    [
      "ekfac: damping 1e9 above the default max 1e6",
      () => ekfac(model(), { damping: 1e9 }),
      RangeError,
      /^ekfac: options\.damping = 1000000000 lies outside the bounds of λ, \[options\.dampingAdaptation\.min, options\.dampingAdaptation\.max\] = \[0\.000001, 1000000\]/,
    ],
    [
      "ekfac: the default damping 0.1 above a given max",
      () => ekfac(model(), { dampingAdaptation: { min: 1e-3, max: 1e-2 } }),
      RangeError,
      /^ekfac: options\.damping = 0\.1 \(the default\) lies outside the bounds of λ, \[options\.dampingAdaptation\.min, options\.dampingAdaptation\.max\] = \[0\.001, 0\.01\]/,
    ],
    [
      "kfac: the default damping 1 below a given min",
      () => kfac(model(), { dampingAdaptation: { min: 2 } }),
      RangeError,
      /^kfac: options\.damping = 1 \(the default\) lies outside/,
    ],
    [
      "curvature (called directly): names stepControl.dampingAdaptation",
      () =>
        curvature(model(), "ekfac", {
          damping: 5,
          stepControl: { dampingAdaptation: { interval: 1, max: 1 }, burnIn: 0, kappa: 1e-3 },
        }),
      RangeError,
      /^curvature: options\.damping = 5 lies outside the bounds of λ, \[options\.stepControl\.dampingAdaptation\.min, options\.stepControl\.dampingAdaptation\.max\] = \[0, 1\]/,
    ],
  ]);

  it("the bounds themselves are allowed, just outside them is not, and a fixed λ has none", () => {
    expect(() => ekfac(model(), { damping: 1e6 })).not.toThrow();
    expect(() => ekfac(model(), { damping: 1e6 * (1 + Number.EPSILON) })).toThrow(RangeError);
    expect(() => ekfac(model(), { damping: 1e-6 })).not.toThrow();
    expect(() => ekfac(model(), { damping: 1e-6 * (1 - Number.EPSILON) })).toThrow(RangeError);
    expect(() => ekfac(model(), { dampingAdaptation: { min: 1e-3, max: 1e-2 }, damping: 1e-2 })).not.toThrow();
    expect(() => ekfac(model(), { damping: 1e9, adaptiveDamping: false })).not.toThrow();
    expect(() => ekfac(model(), { damping: 1e9, learningRate: 0.1 })).not.toThrow();
  });
});

describe("influence: options checked before any work", () => {
  const net = () => mlp([3, 4, 2], "tanh", { seed: 1, dtype: "float64" }) as unknown as BatchCaptureModel;
  const fit = {} as InfluencePreconditioner;
  run([
    [
      "fitInfluence: onProgres",
      () => fitInfluence(net(), [], untyped({ onProgres: () => {} })),
      TypeError,
      /^fitInfluence: options\.onProgres is not an option \(did you mean onProgress\?\)/,
    ],
    [
      "fitExactInfluence: approximation (fitInfluence's)",
      () => fitExactInfluence(net(), [], untyped({ approximation: "kfac" })),
      TypeError,
      /^fitExactInfluence: options\.approximation is not an option; known: fisher, damping, onProgress, structure$/,
    ],
    [
      "fitInfluence: damping.fator",
      () => fitInfluence(net(), [], { damping: untyped({ fator: 0.1 }) }),
      TypeError,
      /^fitInfluence: options\.damping\.fator is not an option \(did you mean factor\?\); known: factor$/,
    ],
    [
      "fitInfluence: onProgress not a function",
      () => fitInfluence(net(), [], { onProgress: untyped("log" as never) }),
      TypeError,
      /^fitInfluence: options\.onProgress must be a function \(got string\)$/,
    ],
    [
      "scoreInfluence: perlayer",
      () => scoreInfluence(fit, net(), [], [], untyped({ perlayer: true })),
      TypeError,
      /^scoreInfluence: options\.perlayer is not an option \(did you mean perLayer\?\)/,
    ],
    [
      'scoreInfluence: keepScores "no"',
      () => scoreInfluence(fit, net(), [], [], { keepScores: untyped("no" as never) }),
      TypeError,
      /^scoreInfluence: options\.keepScores must be true or false \(got "no"\)$/,
    ],
    [
      "selfInfluence: keepScores (scoreInfluence's)",
      () => selfInfluence(fit, net(), [], untyped({ keepScores: false })),
      TypeError,
      /^selfInfluence: options\.keepScores is not an option; known: perLayer, onProgress$/,
    ],
    [
      "selfInfluence: perLayer 1",
      () => selfInfluence(fit, net(), [], { perLayer: untyped(1 as never) }),
      TypeError,
      /^selfInfluence: options\.perLayer must be true or false \(got 1\)$/,
    ],
  ]);
});

describe("the lists are exactly the options read: every one accepted, one more refused", () => {
  const mask = [true, false];
  const adamOptions = { beta1: 0.8, beta2: 0.99, eps: 1e-7, epsilonHat: true, weightDecay: 0.1, weightDecayMask: mask };
  const aliases: readonly [string, (extra: object) => unknown][] = [
    [
      "sgd",
      (x) => sgd(0.1, { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.1, weightDecayMask: mask, ...x }),
    ],
    ["momentum", (x) => momentum(0.1, 0.9, { dampening: 0.1, weightDecay: 0.1, weightDecayMask: mask, ...x })],
    ["nesterov", (x) => nesterov(0.1, 0.9, { weightDecay: 0.1, weightDecayMask: mask, ...x })],
    ["adam", (x) => adam(1e-3, { ...adamOptions, ...x })],
    ["adamw", (x) => adamw(1e-3, { ...adamOptions, ...x })],
    [
      "adagrad",
      (x) =>
        adagrad(0.1, {
          initialAccumulator: 0.1,
          eps: 1e-7,
          epsilonInsideSqrt: true,
          lrDecay: 0.1,
          weightDecay: 0.1,
          weightDecayMask: mask,
          ...x,
        }),
    ],
    [
      "rmsprop",
      (x) =>
        rmsprop(0.1, {
          alpha: 0.9,
          eps: 1e-7,
          centered: true,
          momentum: 0.5,
          epsilonInsideSqrt: true,
          initialScale: 0.1,
          weightDecay: 0.1,
          weightDecayMask: mask,
          ...x,
        }),
    ],
    ["adadelta", (x) => adadelta(1, { rho: 0.95, eps: 1e-7, weightDecay: 0.1, weightDecayMask: mask, ...x })],
  ];
  for (const [name, build] of aliases) {
    it(name, () => {
      expect(() => build({})).not.toThrow();
      // A key present with the value undefined is still checked: a misspelling is one whatever its value.
      expect(() => build({ extra: undefined })).toThrow(new RegExp(`^${name}: options\\.extra is not an option`));
    });
  }
});
