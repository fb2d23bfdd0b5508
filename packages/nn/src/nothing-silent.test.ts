/**
 * "Nothing silent" audit of the nn package: unknown option keys, flags by truthiness, non-finite
 * values loaded into parameters, an optimizer bound to another model, raw JS crashes instead of named
 * errors, unknown dtypes, and the smaller value checks (labels, targets, a non-strict load that matches
 * nothing). Each case was accepted (or crashed without naming the function) before the fix.
 */
import { type Tensor, tensor, wrap, zeros } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint/model-checkpoint.ts";
import { readSafetensors, writeSafetensors } from "./checkpoint/safetensors.ts";
import { BatchLoader } from "./data/batches.ts";
import { featureStatistics, standardize } from "./data/normalize.ts";
import { constant, heNormal, heUniform, sparseInit } from "./init.ts";
import { AvgPool2d, Dropout, GELU, MaxPool2d, ReLU, Residual, Sequential } from "./layers/basic.ts";
import { BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.ts";
import { Conv2d } from "./layers/conv.ts";
import { Linear } from "./layers/linear.ts";
import { mseLoss, sigmoidCrossEntropy, softmaxCrossEntropy, softmaxCrossEntropyOneHot } from "./losses.ts";
import { activationModule, deepAutoencoder, mlp, smallResNet, smallVgg } from "./models.ts";
import type { Module } from "./module.ts";
import { accuracy, evaluate, fit } from "./training.ts";

/** Bypasses the compile-time checks, as a JavaScript caller or a spread config object would. */
const as = (x: unknown): never => x as never;

const dataset = (count: number, width = 2) => ({
  inputs: Float64Array.from({ length: count * width }, (_, i) => Math.sin(i)),
  targets: Int32Array.from({ length: count }, (_, i) => i % 2),
  count,
});

const snapshot = (m: Module) => [...m.stateDict().values()].map((e) => Array.from(e.data));

describe("1. unknown option keys are TypeErrors naming the function, the key and the closest option", () => {
  it("layers", () => {
    expect(() => new Linear(4, 3, as({ bais: false }))).toThrow(
      new TypeError("Linear: options.bais is not an option (did you mean bias?); known: dtype, rng, bias"),
    );
    expect(() => new Conv2d(1, 2, 3, as({ pading: 1 }))).toThrow(
      /^Conv2d: options\.pading is not an option \(did you mean padding\?\)/,
    );
    expect(() => new BatchNorm1d(4, as({ momentun: 0.2 }))).toThrow(
      /^BatchNorm1d: options\.momentun is not an option \(did you mean momentum\?\)/,
    );
    expect(() => new BatchNorm2d(4, as({ epsilon: 1e-3 }))).toThrow(/^BatchNorm2d: options\.epsilon is not an option/);
    // A choice checked when the layer is built, not at its first forward pass under autodiff's name.
    expect(() => new GELU(as("erf"))).toThrow(new RangeError('GELU: approximate must be "none" or "tanh" (got "erf")'));
    expect(new GELU("tanh").approximate).toBe("tanh");
    expect(() => new MaxPool2d(2, as({ strides: 1 }))).toThrow(
      /^MaxPool2d: options\.strides is not an option \(did you mean stride\?\)/,
    );
    expect(() => new AvgPool2d(2, as({ countIncludePadding: false }))).toThrow(
      /^AvgPool2d: options\.countIncludePadding is not an option/,
    );
    expect(() => new Linear(4, 3, as(null))).toThrow(/^Linear: options must be an object \(got null\)/);
    // What the interfaces list is accepted.
    expect(() => new AvgPool2d(2, { stride: 1, padding: 1, countIncludePad: false })).not.toThrow();
    expect(
      () => new Conv2d(2, 2, 3, { stride: 1, padding: 1, dilation: 1, groups: 2, bias: false, rng: 1 }),
    ).not.toThrow();
  });
  it("model builders", () => {
    expect(() => mlp([2, 3], "relu", as({ dtpye: "float64" }))).toThrow(
      /^mlp: options\.dtpye is not an option \(did you mean dtype\?\)/,
    );
    expect(() => deepAutoencoder(as({ sizes: [4, 2], activations: "relu" }))).toThrow(
      /^deepAutoencoder: options\.activations is not an option \(did you mean activation\?\)/,
    );
    expect(() => smallVgg(as({ width: [4] }))).toThrow(
      /^smallVgg: options\.width is not an option \(did you mean widths\?\)/,
    );
    expect(() => smallResNet(as({ classes: 3, inchannels: 3 }))).toThrow(
      /^smallResNet: options\.inchannels is not an option \(did you mean inChannels\?\)/,
    );
  });
  it("data, training, loading, initialisers, capture requests", () => {
    expect(() => new BatchLoader(dataset(4), as({ batchSize: 2, drop_last: true }))).toThrow(
      /^BatchLoader: options\.drop_last is not an option/,
    );
    const model = mlp([2, 3, 2]);
    const base = { epochs: 1, batchSize: 2, inputShape: [2], loss: softmaxCrossEntropy };
    const step = { step() {} };
    // Was "BatchLoader: batchSize must be a positive integer (got undefined)".
    expect(() => fit(model, step, dataset(4), as({ ...base, batchSize: undefined, batch_size: 4 }))).toThrow(
      /^fit: options\.batch_size is not an option \(did you mean batchSize\?\)/,
    );
    expect(() => fit(model, step, dataset(4), as({ ...base, validaton: dataset(2) }))).toThrow(
      /^fit: options\.validaton is not an option \(did you mean validation\?\)/,
    );
    expect(() => evaluate(model, dataset(4), as({ inputShape: [2], metric: {} }))).toThrow(
      /^evaluate: options\.metric is not an option \(did you mean metrics\?\)/,
    );
    expect(() => model.loadStateDict(model.stateDict(), as({ strickt: false }))).toThrow(
      /^loadStateDict: options\.strickt is not an option \(did you mean strict\?\)/,
    );
    const out = new Float64Array(6);
    expect(() => heNormal(out, [2, 3], new Rng(1), as({ fan: "fanOut" }))).toThrow(
      /^heNormal: options\.fan is not an option/,
    );
    expect(() => heUniform(out, [2, 3], new Rng(1), as({ gian: 1 }))).toThrow(
      /^heUniform: options\.gian is not an option \(did you mean gain\?\)/,
    );
    expect(() => sparseInit(out, [2, 3], new Rng(1), as({ nonzeros: 2 }))).toThrow(
      /^sparseInit: options\.nonzeros is not an option \(did you mean nonZeros\?\)/,
    );
    // He's mode: any other string selected fanOut silently.
    expect(() => heNormal(out, [2, 3], new Rng(1), as({ mode: "fan_in" }))).toThrow(
      /^heNormal: options\.mode must be "fanIn" or "fanOut"/,
    );
    expect(() => model.setCapture(true, as({ fisher: "true", seed: 1, deferWeights: new Set() }))).toThrow(
      /^setCapture: request\.deferWeights is not an option/,
    );
  });
});

describe("2. flags must be booleans (a string 'false' is truthy)", () => {
  it("bias, affine, countIncludePad, shuffle, dropLast, strict, train", () => {
    expect(() => new Linear(4, 3, as({ bias: "false" }))).toThrow(
      new TypeError('Linear: options.bias must be true or false (got "false")'),
    );
    expect(() => new Conv2d(1, 1, 1, as({ bias: 0 }))).toThrow(
      /^Conv2d: options\.bias must be true or false \(got 0\)/,
    );
    expect(() => new BatchNorm1d(4, as({ affine: "no" }))).toThrow(
      /^BatchNorm1d: options\.affine must be true or false/,
    );
    expect(() => new AvgPool2d(2, as({ countIncludePad: "false" }))).toThrow(
      /^AvgPool2d: options\.countIncludePad must be true or false/,
    );
    expect(() => new BatchLoader(dataset(4), as({ batchSize: 2, shuffle: "false" }))).toThrow(
      /^BatchLoader: options\.shuffle must be true or false \(got "false"\)/,
    );
    expect(() => new BatchLoader(dataset(4), as({ batchSize: 2, dropLast: 1 }))).toThrow(
      /^BatchLoader: options\.dropLast must be true or false/,
    );
    const model = mlp([2, 3, 2]);
    const options = {
      epochs: 1,
      batchSize: 2,
      inputShape: [2],
      loss: softmaxCrossEntropy,
      dropLast: as("yes"),
    };
    expect(() => fit(model, { step() {} }, dataset(4), options)).toThrow(
      /^fit: options\.dropLast must be true or false/,
    );
    expect(() => model.loadStateDict(model.stateDict(), as({ strict: "false" }))).toThrow(
      /^loadStateDict: options\.strict must be true or false/,
    );
    expect(() => model.train(as("false"))).toThrow(/^train: on must be true or false/);
    expect(model.training).toBe(true);
  });
});

describe("3. non-finite values never reach a parameter or a buffer through a load", () => {
  const entry = (shape: number[], data: ArrayLike<number>) => ({ shape, data });
  it("loadStateDict: NaN, ±∞ and float32 overflow are RangeErrors naming the key and index; nothing is written", () => {
    const lin = new Linear(1, 2, { rng: 1 });
    const before = snapshot(lin);
    const w = entry([2, 1], [0.5, 0.25]);
    expect(() =>
      lin.loadStateDict(
        new Map([
          ["weight", entry([2, 1], [Number.NaN, 0])],
          ["bias", entry([2], [0, 0])],
        ]),
      ),
    ).toThrow(new RangeError("loadStateDict: weight[0] is NaN, expected a finite number"));
    expect(() =>
      lin.loadStateDict(
        new Map([
          ["weight", w],
          ["bias", entry([2], [0, Number.POSITIVE_INFINITY])],
        ]),
      ),
    ).toThrow(new RangeError("loadStateDict: bias[1] is Infinity, expected a finite number"));
    expect(() =>
      lin.loadStateDict(
        new Map([
          ["weight", w],
          ["bias", entry([2], Float64Array.of(1e300, 0))],
        ]),
      ),
    ).toThrow(new RangeError("loadStateDict: bias[0] = 1e+300 overflows float32"));
    // The valid first key was not written either: a failed load changes nothing.
    expect(snapshot(lin)).toEqual(before);
    // A float64 model holds 1e300; the same load succeeds there.
    const lin64 = new Linear(1, 2, { dtype: "float64" });
    lin64.loadStateDict(
      new Map([
        ["weight", w],
        ["bias", entry([2], [1e300, 0])],
      ]),
    );
    expect(lin64.bias?.value[0]).toBe(1e300);
  });
  it("inside a Sequential the message names the dotted path (0.bias)", () => {
    const m = new Sequential(new Linear(1, 2));
    const state = new Map([...m.stateDict()].map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }]));
    (state.get("0.bias")?.data as number[])[1] = Number.NEGATIVE_INFINITY;
    expect(() => m.loadStateDict(state)).toThrow(
      /^loadStateDict: 0\.bias\[1\] is -Infinity, expected a finite number$/,
    );
  });
  it("BatchNorm running statistics (buffers, read by every eval pass) are refused too", () => {
    const bn = new BatchNorm1d(2);
    const before = snapshot(bn);
    const state = new Map(
      [...bn.stateDict()].map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]),
    );
    (state.get("running_var")?.data as Float32Array)[0] = Number.NaN;
    expect(() => bn.loadStateDict(state)).toThrow(/^loadStateDict: running_var\[0\] is NaN/);
    expect(snapshot(bn)).toEqual(before);
    // A negative running variance is finite, but eval mode's √(var + ε) is NaN below −ε.
    (state.get("running_var")?.data as Float32Array)[0] = -0.5;
    expect(() => bn.loadStateDict(state)).toThrow(new RangeError("loadStateDict: running_var[0] = -0.5, expected ≥ 0"));
    (state.get("running_var")?.data as Float32Array)[0] = 0;
    (state.get("num_batches_tracked")?.data as Float32Array)[0] = -1;
    expect(() => bn.loadStateDict(state)).toThrow(/^loadStateDict: num_batches_tracked\[0\] = -1, expected ≥ 0$/);
    expect(snapshot(bn)).toEqual(before);
    (state.get("num_batches_tracked")?.data as Float32Array)[0] = 3;
    bn.loadStateDict(state);
    expect(bn.runningVar[0]).toBe(0);
    expect(bn.bufferMinimums()).toEqual(
      new Map([
        ["running_var", 0],
        ["num_batches_tracked", 0],
      ]),
    );
  });
  it("loadCheckpoint: NaN or ∞ in a tensor's bytes is a RangeError naming loadCheckpoint; the model is unchanged", () => {
    const model = new Sequential(new Linear(2, 2, { rng: 1 }), new BatchNorm1d(2));
    const before = snapshot(model);
    for (const [key, value] of [
      ["0.bias", Number.POSITIVE_INFINITY],
      ["0.weight", Number.NaN],
      ["1.running_mean", Number.NaN],
    ] as const) {
      // A checkpoint of the right keys, shapes and dtypes, with one value poisoned.
      const good = readSafetensors(saveCheckpoint(new Sequential(new Linear(2, 2, { rng: 2 }), new BatchNorm1d(2))));
      (good.tensors.get(key)?.data as Float32Array)[1] = value;
      expect(() => loadCheckpoint(model, writeSafetensors(good.tensors))).toThrow(
        new RangeError(`loadCheckpoint: ${key}[1] is ${value}, expected a finite number`),
      );
    }
    expect(snapshot(model)).toEqual(before);
  });
});

describe("4. fit refuses an optimizer bound to another model's parameters", () => {
  const options = { epochs: 1, batchSize: 2, inputShape: [2], loss: softmaxCrossEntropy };
  it("an optimizer exposing params that are not the model's", () => {
    const model = mlp([2, 3, 2], "relu", { seed: 1 });
    const other = mlp([2, 3, 2], "relu", { seed: 1 });
    let steps = 0;
    const optimizer = { params: other.parameters().map((p) => p.value), step: () => steps++ };
    expect(() => fit(model, optimizer, dataset(4), options)).toThrow(
      /^fit: optimizer is not bound to model's parameters \(optimizer\.params\[0\] \(Float32Array of 6 values\) is not the value array of any of the model's 4 parameters/,
    );
    expect(steps).toBe(0);
  });
  it("the model's own parameters, or a subset of them (fine-tuning), are accepted; so is an optimizer without params", () => {
    const model = mlp([2, 3, 2], "relu", { seed: 1, dtype: "float64" });
    let steps = 0;
    fit(model, { params: model.parameters().map((p) => p.value), step: () => steps++ }, dataset(4), options);
    fit(model, { params: [model.parameters()[2]?.value as Float32Array], step: () => steps++ }, dataset(4), options);
    fit(model, { step: () => steps++ }, dataset(4), options);
    expect(steps).toBe(6);
  });
});

describe("5. named TypeErrors instead of raw JavaScript crashes", () => {
  const lg = tensor([
    [1, 2],
    [3, 1],
  ]);
  it("losses", () => {
    const out = zeros([2, 3]);
    expect(() => mseLoss(out, as(new Float32Array(6)))).toThrow(
      new TypeError("mseLoss: target must be a Tensor (got Float32Array)"),
    );
    expect(() => mseLoss(as([[1, 2]]), out)).toThrow(/^mseLoss: output must be a Tensor \(got Array\)/);
    expect(() => softmaxCrossEntropy(lg, as(null))).toThrow(
      /^softmaxCrossEntropy: labels must be integer class labels in an array or a typed array \(got null\)/,
    );
    expect(() => softmaxCrossEntropy(as([[1, 2]]), [0])).toThrow(
      /^softmaxCrossEntropy: logits must be a Tensor \(got Array\)/,
    );
    const oneHot = tensor([
      [0, 1],
      [1, 0],
    ]);
    expect(() => softmaxCrossEntropy(lg, as(oneHot))).toThrow(
      /^softmaxCrossEntropy: labels must be integer class labels .*\(got Tensor; for one-hot or soft targets in a Tensor use softmaxCrossEntropyOneHot\)/,
    );
    expect(() =>
      sigmoidCrossEntropy(
        lg,
        tensor(
          [
            [0, 1],
            [1, 0],
          ],
          undefined,
          { dtype: "float64" },
        ),
      ),
    ).toThrow(/^sigmoidCrossEntropy: logits is float32 but targets is float64/);
  });
  it("BatchLoader, fit, evaluate", () => {
    // @ts-expect-error: the options argument is required; a JavaScript caller may leave it out.
    expect(() => new BatchLoader(dataset(4))).toThrow(
      /^BatchLoader: options must be an object \{ batchSize, .*\} \(got undefined\)/,
    );
    expect(() => new BatchLoader(as(null), { batchSize: 2 })).toThrow(
      /^BatchLoader: dataset must be a dataset \{ inputs, targets, count \} \(got null\)/,
    );
    expect(() => new BatchLoader(as({ inputs: [1, 2, 3, 4], targets: [0, 1], count: 2 }), { batchSize: 1 })).toThrow(
      /^BatchLoader: dataset\.inputs must be a typed array .*\(got Array\)/,
    );
    expect(() => new BatchLoader(dataset(4), as({ batchSize: 2, rng: "seed" }))).toThrow(
      /^BatchLoader: options\.rng must be an Rng or a seed number \(got string\)/,
    );
    const model = mlp([2, 3, 2]);
    expect(() => evaluate(model, dataset(4), as(undefined))).toThrow(
      /^evaluate: options must be an object \{ inputShape, batchSize, loss, metrics \} \(got undefined\)/,
    );
    expect(() => evaluate(as(null), dataset(4), { inputShape: [2] })).toThrow(
      /^evaluate: model must be a Module \(got null\)/,
    );
    expect(() => fit(model, { step() {} }, dataset(4), as(undefined))).toThrow(
      /^fit: options must be an object \{ .*epochs.*\} \(got undefined\)/,
    );
    expect(() =>
      fit(model, { step() {} }, as(null), { epochs: 1, batchSize: 2, inputShape: [2], loss: softmaxCrossEntropy }),
    ).toThrow(/^fit: data must be a dataset/);
    // A bad validation set is refused before training, not by evaluate after the first epoch.
    let steps = 0;
    const counting = { step: () => steps++ };
    const base = { epochs: 1, batchSize: 2, inputShape: [2], loss: softmaxCrossEntropy };
    expect(() =>
      fit(model, counting, dataset(4), { ...base, validation: as({ inputs: [0, 0], targets: [0], count: 1 }) }),
    ).toThrow(/^fit: options\.validation\.inputs must be a typed array/);
    expect(() => fit(model, counting, dataset(4), { ...base, validation: as(dataset(2, 3)) })).toThrow(
      /^fit: options\.validation has 3 values per input row, data has 2/,
    );
    expect(() => fit(model, counting, dataset(4), { ...base, seed: as("1") })).toThrow(
      /^fit: options\.seed must be a number \(got string\)/,
    );
    expect(steps).toBe(0);
    // The loader's errors name the caller.
    expect(() =>
      fit(model, { step() {} }, dataset(4), { epochs: 1, batchSize: 0, inputShape: [2], loss: softmaxCrossEntropy }),
    ).toThrow(/^fit: options\.batchSize must be a positive integer \(got 0\)/);
    expect(() =>
      fit(
        model,
        { step() {} },
        dataset(4),
        as({ epochs: 1, batchSize: 2, inputShape: [2], loss: softmaxCrossEntropy, onBatch: 1 }),
      ),
    ).toThrow(/^fit: options\.onBatch must be a function \(got number\)/);
  });
  it("checkpoints and state dicts", () => {
    const bytes = saveCheckpoint(new Linear(1, 1));
    expect(() => loadCheckpoint(as(null), bytes)).toThrow(
      new TypeError("loadCheckpoint: model must be a Module (got null)"),
    );
    expect(() => loadCheckpoint(new Linear(1, 1), as([1, 2]))).toThrow(
      /^loadCheckpoint: bytes must be a Uint8Array \(got Array\)/,
    );
    expect(() => saveCheckpoint(as({}))).toThrow(/^saveCheckpoint: model must be a Module \(got Object\)/);
    const lin = new Linear(1, 1);
    // The signature and the README promise a Map: a plain object is refused, with the fix in the message.
    expect(() =>
      lin.loadStateDict(as({ weight: { shape: [1, 1], data: [1] }, bias: { shape: [1], data: [0] } })),
    ).toThrow(
      /^loadStateDict: state must be a Map of name → \{ shape, data \} \(got Object; for a plain object pass new Map\(Object\.entries\(state\)\)\)/,
    );
    expect(() =>
      lin.loadStateDict(
        new Map([
          ["weight", as(null)],
          ["bias", { shape: [1], data: [0] }],
        ]),
      ),
    ).toThrow(/^loadStateDict: weight must be \{ shape: number\[\], data: an array or a typed array \} \(got null\)/);
  });
  it("containers, activations, standardize, initialisers, Dropout", () => {
    expect(() => new Sequential(as(null))).toThrow(new TypeError("Sequential: layers[0] must be a Module (got null)"));
    expect(() => new Sequential(new ReLU(), as("relu"))).toThrow(
      /^Sequential: layers\[1\] must be a Module \(got string\)/,
    );
    expect(() => new Residual(as(undefined))).toThrow(/^Residual: body must be a Module \(got undefined\)/);
    expect(() => mlp([2, 2, 2], as("Relu"))).toThrow(
      new TypeError('mlp: activation must be "relu", "tanh", "sigmoid", "softplus" or "gelu" (got "Relu")'),
    );
    expect(() => deepAutoencoder({ sizes: [4, 2], activation: as("swish") })).toThrow(
      /^deepAutoencoder: options\.activation must be/,
    );
    expect(() => activationModule(as("ReLU"))).toThrow(/^activationModule: a must be/);
    expect(() => mlp(as(null))).toThrow(/^mlp: sizes must be an array of layer sizes \(got null\)/);
    expect(() => mlp([2, 0, 2])).toThrow(/^mlp: sizes\[1\] must be a positive integer \(got 0\)/);
    expect(() => mlp([2, 2], "relu", { seed: Number.NaN })).toThrow(
      /^mlp: options\.seed must be a finite number \(got NaN\)/,
    );
    const x = [1, 2, 3, 4];
    expect(() => standardize(x, as(2), undefined)).toThrow(
      /^standardize: stats must be \{ mean, std \} arrays, as featureStatistics returns them \(got number\)/,
    );
    expect(() => standardize(as(null), featureStatistics(x, 2))).toThrow(
      /^standardize: x must be an array or a typed array \(got null\)/,
    );
    expect(() => standardize(x, featureStatistics(x, 2), as("1e-8"))).toThrow(
      /^standardize: epsilon must be a number \(got string\)/,
    );
    expect(() => heNormal(as([0, 0]), [1, 2], new Rng(1))).toThrow(
      /^heNormal: out must be a Float32Array or Float64Array \(got Array\)/,
    );
    expect(() => constant(new Float32Array(2), Number.NaN)).toThrow(
      /^constant: value must be a finite number \(got NaN\)/,
    );
    expect(() => new Dropout(0.5, as("7"))).toThrow(/^Dropout: rng must be an Rng or a seed number \(got string\)/);
    expect(() => new Linear(2, 2, { rng: Number.POSITIVE_INFINITY })).toThrow(
      /^Linear: options\.rng must be a finite seed \(got Infinity\)/,
    );
    expect(() => accuracy(as([[1, 0]]), [0])).toThrow(/^accuracy: logits must be a Tensor \(got Array\)/);
  });
});

describe("6. an unknown dtype is a TypeError, never a silent float32", () => {
  it("layers and model builders name themselves and list the element types", () => {
    const f16 = as("float16");
    expect(() => new Linear(2, 2, { dtype: f16 })).toThrow(
      new TypeError('Linear: options.dtype must be "float32" or "float64" (got float16)'),
    );
    expect(() => new Conv2d(1, 1, 1, { dtype: f16 })).toThrow(/^Conv2d: options\.dtype must be "float32" or "float64"/);
    expect(() => new BatchNorm2d(2, { dtype: f16 })).toThrow(
      /^BatchNorm2d: options\.dtype must be "float32" or "float64"/,
    );
    expect(() => mlp([2, 2], "relu", { dtype: f16 })).toThrow(
      /^mlp: options\.dtype must be "float32" or "float64" \(got float16\)/,
    );
    expect(() => deepAutoencoder({ sizes: [2, 1], dtype: as("Float64") })).toThrow(/^deepAutoencoder: options\.dtype/);
    expect(() => smallVgg({ widths: [2], dtype: f16 })).toThrow(/^smallVgg: options\.dtype/);
    expect(() => smallResNet({ widths: [2], dtype: f16 })).toThrow(/^smallResNet: options\.dtype/);
    expect(new Linear(2, 2, { dtype: "float64" }).weight.value).toBeInstanceOf(Float64Array);
  });
});

describe("7. value checks: labels, targets, a non-strict load that matches nothing", () => {
  const logits = tensor([
    [0, 0, 1],
    [1, 0, 0],
  ]);
  it("accuracy: labels must be integers in [0, classes) (2.5 counted as a plain miss)", () => {
    expect(() => accuracy(logits, [2.5, 0])).toThrow(
      new RangeError("accuracy: labels[0] = 2.5 is not a class, expected an integer in [0, 3)"),
    );
    expect(() => accuracy(logits, [2, -1])).toThrow(/^accuracy: labels\[1\] = -1 is not a class/);
    expect(() => accuracy(logits, [3, 0])).toThrow(RangeError);
    expect(() => accuracy(logits, as(null))).toThrow(
      /^accuracy: labels must be an array or a typed array \(got null\)/,
    );
    expect(accuracy(logits, [2, 1])).toBe(0.5);
  });
  it("mseLoss: a NaN or infinite target is a RangeError naming it; any finite target is fine", () => {
    const out = tensor([[0.5, -1]]);
    expect(() => mseLoss(out, tensor([[Number.NaN, 0]]))).toThrow(
      new RangeError("mseLoss: target[0] is NaN, expected finite values (a Gaussian mean)"),
    );
    expect(() => mseLoss(out, tensor([[0, Number.NEGATIVE_INFINITY]]))).toThrow(/^mseLoss: target\[1\] is -Infinity/);
    expect(mseLoss(out, tensor([[-1e30, 3]])).item()).toBeGreaterThan(0);
  });
  it("sigmoidCrossEntropy: targets outside [0, 1] (or NaN) are RangeErrors; 0, 1 and soft targets are fine", () => {
    const s = tensor([[0.5, -1]]);
    expect(() => sigmoidCrossEntropy(s, tensor([[1.5, 0]]))).toThrow(
      new RangeError("sigmoidCrossEntropy: targets[0] is 1.5, expected values in [0, 1] (Bernoulli probabilities)"),
    );
    expect(() => sigmoidCrossEntropy(s, tensor([[0, -0.25]]))).toThrow(/targets\[1\] is -0.25/);
    expect(() => sigmoidCrossEntropy(s, tensor([[0, Number.NaN]]))).toThrow(/targets\[1\] is NaN/);
    expect(Number.isFinite(sigmoidCrossEntropy(s, tensor([[0, 1]])).item())).toBe(true);
    expect(Number.isFinite(sigmoidCrossEntropy(s, tensor([[0.3, 0.7]])).item())).toBe(true);
  });
  it("softmaxCrossEntropyOneHot: negative or non-finite targets are RangeErrors", () => {
    const s = tensor([[0.5, -1]]);
    expect(() => softmaxCrossEntropyOneHot(s, tensor([[2, -1]]))).toThrow(
      new RangeError("softmaxCrossEntropyOneHot: targets[1] is -1, expected finite values ≥ 0 (class probabilities)"),
    );
    expect(() => softmaxCrossEntropyOneHot(s, tensor([[Number.POSITIVE_INFINITY, 0]]))).toThrow(RangeError);
    expect(Number.isFinite(softmaxCrossEntropyOneHot(s, tensor([[0.1, 0.9]])).item())).toBe(true);
  });
  it("loadStateDict with strict: false and no key in common is a RangeError; a partial match loads", () => {
    const model = mlp([2, 2, 2], "relu", { seed: 1 });
    const before = snapshot(model);
    const other = new Linear(2, 2, { rng: 5 }).stateDict(); // "weight", "bias": no "0." prefix
    expect(() => model.loadStateDict(other, { strict: false })).toThrow(
      /^loadStateDict: no key of state matches the model \(state: \[weight, bias\], model: \[0\.weight, 0\.bias, 2\.weight, 2\.bias\]\)/,
    );
    expect(() => model.loadStateDict(new Map(), { strict: false })).toThrow(/no key of state matches/);
    expect(snapshot(model)).toEqual(before);
    const partial = new Map([["2.bias", { shape: [2], data: [1, 2] }]]);
    model.loadStateDict(partial, { strict: false });
    expect(Array.from(model.parameters()[3]?.value ?? [])).toEqual([1, 2]);
    // A module with no state and an empty state: nothing to load, nothing to refuse.
    expect(() => new ReLU().loadStateDict(new Map(), { strict: false })).not.toThrow();
  });
});

describe("unchanged behaviour the checks must not disturb", () => {
  it("a float32 checkpoint round trip, Residual defaults and wrap-built targets still work", () => {
    const a = smallResNet({ seed: 1, widths: [2] });
    const b = smallResNet({ seed: 2, widths: [2] });
    loadCheckpoint(b, saveCheckpoint(a));
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(() => new Residual(new ReLU())).not.toThrow();
    const t: Tensor = wrap(new Float32Array([0, 1]), [1, 2]);
    expect(Number.isFinite(sigmoidCrossEntropy(wrap(new Float32Array([1, 2]), [1, 2]), t).item())).toBe(true);
  });
});
