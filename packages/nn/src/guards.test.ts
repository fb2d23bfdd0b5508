/** Issue 19: degenerate batches, construction-time ranges, samplers without a distribution, clear errors. */
import { type Tensor, tensor, wrap, zeros } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { truncatedNormal } from "./init.ts";
import { AvgPool2d, LeakyReLU, MaxPool2d, Sequential } from "./layers/basic.ts";
import { BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.ts";
import { Conv2d } from "./layers/conv.ts";
import { Linear } from "./layers/linear.ts";
import { mseLoss, sampleBernoulliInto, sampleCategorical, softmaxCrossEntropy } from "./losses.ts";

describe("BatchNorm on an empty batch (issue 19: running statistics became NaN for good)", () => {
  it("a train-mode forward on N = 0 returns an empty output and changes no state (PyTorch)", () => {
    for (const bn of [new BatchNorm1d(3), new BatchNorm2d(3)]) {
      const before = [...bn.stateDict().values()].map((e) => Array.from(e.data));
      const shape = bn instanceof BatchNorm1d ? [0, 3] : [0, 3, 2, 2];
      const y = bn.forward(zeros(shape));
      expect(y.shape).toEqual(shape);
      const after = [...bn.stateDict().values()].map((e) => Array.from(e.data));
      expect(after).toEqual(before);
      // The next real batch still gives finite statistics.
      bn.forward(wrap(new Rng(1).fillNormal(new Float32Array(shape.length === 2 ? 12 : 48)), [4, ...shape.slice(1)]));
      for (const v of bn.runningVar) expect(Number.isFinite(v)).toBe(true);
    }
  });
});

describe("construction-time ranges (issue 19: accepted, then NaN or a late failure)", () => {
  it("BatchNorm eps ≤ 0 or NaN, momentum outside [0, 1] are RangeErrors", () => {
    expect(() => new BatchNorm1d(2, { eps: -1e-5 })).toThrow(/BatchNorm1d: options\.eps/);
    expect(() => new BatchNorm1d(2, { eps: Number.NaN })).toThrow(RangeError);
    expect(() => new BatchNorm2d(2, { momentum: 1.5 })).toThrow(/BatchNorm2d: options\.momentum must be in \[0, 1\]/);
    expect(() => new BatchNorm2d(2, { momentum: -0.1 })).toThrow(RangeError);
    // eps = 0 normalises a constant channel (a batch of one, say) to 0/0 = NaN: refused (fuzz finding).
    expect(() => new BatchNorm1d(2, { eps: 0 })).toThrow(/BatchNorm1d: options\.eps must be a finite number > 0/);
    expect(() => new BatchNorm1d(2, { momentum: 0, eps: 1e-12 })).not.toThrow();
    expect(() => new BatchNorm1d(2, { momentum: 1 })).not.toThrow();
  });
  it("MaxPool2d(0), AvgPool2d with stride 0 or negative padding are RangeErrors naming the layer", () => {
    expect(() => new MaxPool2d(0)).toThrow(/MaxPool2d: kernelSize/);
    expect(() => new MaxPool2d([2, 1.5])).toThrow(RangeError);
    expect(() => new AvgPool2d(2, { stride: 0 })).toThrow(/AvgPool2d: stride/);
    expect(() => new AvgPool2d(2, { padding: -1 })).toThrow(/AvgPool2d: padding/);
    expect(() => new MaxPool2d([2, 3], { stride: 1 })).not.toThrow();
  });
  it("LeakyReLU(NaN) and LeakyReLU(∞) are RangeErrors", () => {
    expect(() => new LeakyReLU(Number.NaN)).toThrow(/LeakyReLU: slope/);
    expect(() => new LeakyReLU(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(new LeakyReLU(-0.5).slope).toBe(-0.5);
  });
  it("truncatedNormal with NaN or negative std is a RangeError; values lie within mean ± 2 std", () => {
    expect(() => truncatedNormal(new Float32Array(4), new Rng(1), Number.NaN)).toThrow(/truncatedNormal: std/);
    expect(() => truncatedNormal(new Float32Array(4), new Rng(1), -1)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 10, noNaN: true }), fc.integer({ min: 0, max: 1000 }), (std, seed) => {
        const out = truncatedNormal(new Float64Array(16), new Rng(seed), std, 1);
        for (const v of out) expect(Math.abs(v - 1)).toBeLessThanOrEqual(2 * std + 1e-12);
      }),
    );
  });
});

describe("samplers without a distribution (issue 19: a class was returned)", () => {
  const rng = new Rng(3);
  it("sampleCategorical with a NaN logit, all −∞ or a +∞ logit is a RangeError naming the row", () => {
    expect(() => sampleCategorical(tensor([0, 1, 2, Number.NaN], [2, 2]), rng)).toThrow(/row 1/);
    expect(() => sampleCategorical(tensor([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY], [1, 2]), rng)).toThrow(
      RangeError,
    );
    expect(() => sampleCategorical(tensor([Number.POSITIVE_INFINITY, 0], [1, 2]), rng)).toThrow(RangeError);
  });
  it("−∞ on some classes is allowed: those classes are never drawn", () => {
    const z = tensor([Number.NEGATIVE_INFINITY, 0, Number.NEGATIVE_INFINITY], [1, 3]);
    for (let i = 0; i < 20; i++) expect(sampleCategorical(z, rng)[0]).toBe(1);
  });
  it("sampleBernoulli with a NaN logit is a RangeError", () => {
    expect(() => sampleBernoulliInto(new Float32Array(2), tensor([0, Number.NaN]), rng)).toThrow(/logits\[1\] is NaN/);
  });
});

describe("clear errors (issue 19)", () => {
  it("Linear.forward with a plain array is a TypeError naming the layer", () => {
    const lin = new Linear(2, 3);
    expect(() => lin.forward([[1, 2]] as unknown as Tensor)).toThrow(/Linear\(root\): x must be a Tensor/);
    expect(() => new Conv2d(1, 1, 1).forward([] as unknown as Tensor)).toThrow(TypeError);
    expect(() => new BatchNorm1d(2).forward({} as unknown as Tensor)).toThrow(TypeError);
  });
  it("a capturing forward on an empty batch says so (not 'no captured statistics' later)", () => {
    const model = new Sequential(new Linear(2, 3), new LeakyReLU());
    model.setCapture(true);
    expect(() => model.forward(zeros([0, 2]))).toThrow(/Linear\(0\): capture needs a non-empty batch/);
    const conv = new Conv2d(1, 2, 1);
    conv.setCapture(true);
    expect(() => conv.forward(zeros([0, 1, 2, 2]))).toThrow(/capture needs a non-empty batch/);
  });
  it("an empty batch without capture is fine (a zero-size loss input is the caller's business)", () => {
    expect(new Linear(2, 3).forward(zeros([0, 2])).shape).toEqual([0, 3]);
  });
  it("a mean loss over an empty batch is a RangeError, not NaN (found by the fuzz suite)", () => {
    expect(() => softmaxCrossEntropy(zeros([0, 3]), [])).toThrow(/softmaxCrossEntropy: the batch is empty/);
    expect(() => mseLoss(zeros([0, 2]), zeros([0, 2]))).toThrow(RangeError);
  });
  it("pool padding above half the kernel is refused at construction (found by the fuzz suite)", () => {
    expect(() => new AvgPool2d(1, { padding: 1 })).toThrow(/AvgPool2d: padding 1×1 must be at most half/);
  });
  it("huge sizes name the layer and the size", () => {
    expect(() => new Linear(1e6, 1e6)).toThrow(/Linear: cannot allocate 1000000000000 float32 elements/);
  });
  it("loadStateDict between forward and backward makes the backward throw (a parameter changed in place)", () => {
    const lin = new Linear(2, 1, { dtype: "float64" });
    const loss = softmaxCrossEntropy(lin.forward(tensor([[1, 2]], undefined, { dtype: "float64" })), [0]);
    lin.loadStateDict(lin.stateDict());
    expect(() => loss.backward()).toThrow(/modified in place/);
  });
});
