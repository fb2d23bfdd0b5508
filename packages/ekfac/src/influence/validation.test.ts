import { wrap } from "@ekfac-ts/autodiff";
import { mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { batchesOf, blobData, trainedMlp } from "../../test/influence-fixtures.ts";
import type { BatchCaptureModel as CurvatureModel } from "../capture.ts";
import type { InfluenceBatch } from "./common.ts";
import { fitExactInfluence } from "./exact.ts";
import { fitInfluence } from "./fit.ts";
import { pearson, scoreInfluence, selfInfluence } from "./score.ts";

describe("influence: bad input is rejected with errors naming the function and the argument", () => {
  const data = blobData(1, 20, 5, 3);
  const model = trainedMlp([5, 7, 3], data, 5, 1);
  const batches = batchesOf(model, data, 10);
  const fit = fitInfluence(model, batches);

  it("a model whose layer shapes differ from the fit's is a RangeError naming the layer and both shapes", () => {
    const other = trainedMlp([5, 8, 3], data, 1, 1);
    const b = batchesOf(other, data, 10);
    expect(() => scoreInfluence(fit, other, b, b)).toThrow(
      /scoreInfluence: model layer 0 \("[^"]*"\) is dense 8×5 \+ bias but the fit has dense 7×5 \+ bias/,
    );
    expect(() => selfInfluence(fit, other, b)).toThrow(RangeError);
    const deeper = trainedMlp([5, 7, 7, 3], data, 1, 1);
    expect(() => selfInfluence(fit, deeper, batchesOf(deeper, data, 10))).toThrow(
      /selfInfluence: model has 3 curvature layers but the fit has 2/,
    );
  });

  it("an empty dataset, query set or training set is a RangeError", () => {
    expect(() => fitInfluence(model, [])).toThrow(/fitInfluence: batches yielded no examples/);
    expect(() => fitExactInfluence(model, [])).toThrow(/fitExactInfluence: batches yielded no examples/);
    expect(() => scoreInfluence(fit, model, [], batches)).toThrow(/scoreInfluence: queries yielded no examples/);
    expect(() => scoreInfluence(fit, model, batches, [])).toThrow(/scoreInfluence: train yielded no examples/);
    expect(() => selfInfluence(fit, model, [])).toThrow(/selfInfluence: train yielded no examples/);
  });

  it("a one-shot generator cannot feed EKFAC's two passes: RangeError asking for a re-iterable collection", () => {
    function* once(): Generator<InfluenceBatch> {
      yield* batches;
    }
    expect(() => fitInfluence(model, once())).toThrow(/first pass but 0 in the second; pass a re-iterable collection/);
    // KFAC needs one pass only.
    expect(fitInfluence(model, once(), { approximation: "kfac" }).examples).toBe(20);
  });

  it("NaN inputs or gradients are a RangeError naming the batch, the layer and the statistic", () => {
    const x = data.x.slice(0, 10 * 5);
    x[7] = Number.NaN;
    const nanBatch: InfluenceBatch = () => {
      model.zeroGrad();
      softmaxCrossEntropy(model.forward(wrap(x, [10, 5])), data.y.slice(0, 10)).backward();
    };
    expect(() => fitInfluence(model, [batches[0] as InfluenceBatch, nanBatch])).toThrow(
      /fitInfluence: batches\[1\], layer 0 \("[^"]*"\): statistics\.a \(activations ā\) contains NaN or ±Inf/,
    );
    expect(() => scoreInfluence(fit, model, [nanBatch], batches)).toThrow(/scoreInfluence: queries\[0\], layer 0/);
    expect(() => selfInfluence(fit, model, [nanBatch])).toThrow(/selfInfluence: train\[0\], layer 0/);
  });

  it("a batch callback that captured nothing is a RangeError", () => {
    const fresh = mlp([5, 7, 3], "tanh", { seed: 9, dtype: "float64" });
    expect(() => fitInfluence(fresh, [() => {}])).toThrow(
      /fitInfluence: batches\[0\], layer 0 .*no statistics were captured/,
    );
  });

  it("wrong kinds are TypeErrors", () => {
    expect(() => fitInfluence(null as unknown as CurvatureModel, batches)).toThrow(
      /fitInfluence: model must be a CurvatureModel/,
    );
    expect(() => fitInfluence(model, 3 as unknown as InfluenceBatch[])).toThrow(
      /fitInfluence: batches must be an iterable/,
    );
    expect(() => fitInfluence(model, [42 as unknown as InfluenceBatch])).toThrow(
      /fitInfluence: batches\[0\] must be a function/,
    );
    expect(() => fitInfluence(model, batches, { approximation: "diag" as "kfac" })).toThrow(TypeError);
    expect(() => fitInfluence(model, batches, { fisher: "exact" as "true" })).toThrow(TypeError);
    expect(() => fitInfluence(model, batches, { damping: "big" as unknown as number })).toThrow(TypeError);
    expect(() => scoreInfluence({} as typeof fit, model, batches, batches)).toThrow(
      /scoreInfluence: fit must be an InfluencePreconditioner/,
    );
    expect(() => fitExactInfluence(model, batches, { structure: "banded" as "full" })).toThrow(TypeError);
  });

  it("bad damping values are RangeErrors", () => {
    expect(() => fitInfluence(model, batches, { damping: -1 })).toThrow(
      /fitInfluence: options.damping must be a finite number > 0 \(got -1\)/,
    );
    expect(() => fitInfluence(model, batches, { damping: { factor: 0 } })).toThrow(/options.damping.factor/);
    expect(() => fitInfluence(model, batches, { damping: [0.1] })).toThrow(
      /options.damping has 1 entries, expected one per curvature layer \(2\)/,
    );
    expect(() => fitInfluence(model, batches, { damping: [0.1, Number.NaN] })).toThrow(/options.damping\[1\]/);
  });

  it("the explicit reference refuses models too large for a P × P matrix", () => {
    const big = mlp([100, 50, 3], "tanh", { seed: 1, dtype: "float64" });
    const x = new Float64Array(2 * 100);
    const b: InfluenceBatch = () => {
      big.zeroGrad();
      softmaxCrossEntropy(big.forward(wrap(x, [2, 100])), [0, 1]).backward();
    };
    expect(() => fitExactInfluence(big, [b])).toThrow(/fitExactInfluence: the curvature layers have 5203 parameters/);
  });

  it("pearson rejects series of different lengths", () => {
    expect(() => pearson([1, 2, 3], [1, 2])).toThrow(/pearson: lengths differ/);
  });
});
