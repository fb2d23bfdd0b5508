import { type Tensor, wrap } from "@ekfac-ts/autodiff";
import { assertClose, gemmStrided, Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { extractPatchesInto, outputSize } from "../../test/naive-patches.ts";
import { Flatten, GlobalAvgPool2d, ReLU, Sequential, Tanh } from "../layers/basic.ts";
import { Conv2d } from "../layers/conv.ts";
import { Linear } from "../layers/linear.ts";
import { softmaxCrossEntropy } from "../losses.ts";
import { mlp } from "../models.ts";
import type { CurvatureLayer, Module } from "../module.ts";

const f64 = { dtype: "float64" as const };

function input(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return wrap(new Rng(seed).fillNormal(new Float64Array(n)), shape);
}

/** The flat row-major [W | b] gradient of a layer (per group block for conv: group k's rows). */
function combinedGrad(layer: CurvatureLayer): Float64Array {
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const out = new Float64Array(layer.outDim * aDim);
  const w = layer.weight.grad as Float64Array;
  const b = layer.bias?.grad ?? null;
  for (let o = 0; o < layer.outDim; o++) {
    for (let j = 0; j < layer.inDim; j++) out[o * aDim + j] = w[o * layer.inDim + j] as number;
    if (b !== null) out[o * aDim + layer.inDim] = b[o] as number;
  }
  return out;
}

/**
 * Σ over the rows of example n (all examples, divided by N, if n < 0) of g āᵀ per group, as [W | b]:
 * G_kᵀ Ā_k with linalg's gemm, rows [r0, r0 + len) of group k. (The naive-loop reference with rounding
 * bounds is law nn.capture.linear / nn.capture.conv2d in the proofs catalogue.)
 */
function fromStatistics(layer: CurvatureLayer, n: number): Float64Array {
  const s = layer.statistics;
  if (s === null) throw new Error("no statistics");
  const og = layer.outDim / layer.groups;
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const rows = s.batchSize * s.positions;
  const out = new Float64Array(layer.outDim * aDim);
  const [r0, len] = n < 0 ? [0, rows] : [n * s.positions, s.positions];
  for (let k = 0; k < layer.groups; k++) {
    const r = k * rows + r0;
    gemmStrided(
      true,
      false,
      og,
      aDim,
      len,
      n < 0 ? 1 / s.batchSize : 1,
      s.g,
      r * og,
      og,
      s.a,
      r * aDim,
      aDim,
      0,
      out,
      k * og * aDim,
      aDim,
    );
  }
  return out;
}

function oneExample(x: Tensor, n: number): Tensor {
  const per = x.size / (x.shape[0] as number);
  return wrap(x.data.slice(n * per, (n + 1) * per) as Float64Array, [1, ...x.shape.slice(1)]);
}

/** Checks both capture laws on a model: the batch gradient and every per-example gradient. */
function checkCaptureLaws(model: Module, x: Tensor, labels: number[]): void {
  const N = x.shape[0] as number;
  model.setCapture(true);
  model.zeroGrad();
  softmaxCrossEntropy(model.forward(x), labels).backward();
  const layers = model.curvatureLayers();
  expect(layers.length).toBeGreaterThan(0);
  // ∇W̄ = (1/N) Σ_n Σ_t g_{n,t} ā_{n,t}ᵀ
  for (const l of layers) assertClose(fromStatistics(l, -1), combinedGrad(l), { rtol: 1e-10 }, `∇W̄ of ${l.name}`);
  const perExample = layers.map((l) => Array.from({ length: N }, (_, n) => fromStatistics(l, n)));
  // Per-example gradients: a separate backward on example n alone (capture off) gives ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ.
  model.setCapture(false);
  for (let n = 0; n < N; n++) {
    model.zeroGrad();
    softmaxCrossEntropy(model.forward(oneExample(x, n)), [labels[n] as number]).backward();
    layers.forEach((l, i) => {
      assertClose(perExample[i]?.[n] ?? [], combinedGrad(l), { rtol: 1e-10 }, `∇_${n} of ${l.name}`);
    });
  }
}

// The capture laws for one Linear or Conv2d of any shape (batch gradient and every per-example
// gradient, with rounding bounds) are nn.capture.linear and nn.capture.conv2d in the proofs catalogue.
// Here: the same laws through a whole model (capture composes through nonlinear layers, pooling and
// flattening; layers are registered with their names), the patch layout against a naive im2col, and
// the costs of capture off / buffer reuse.
describe("captured ā and g reproduce the parameter gradients", () => {
  it("a CNN (grouped, strided, dilated conv with and without bias, then Linear): sums over positions", () => {
    const model = new Sequential(
      new Conv2d(2, 4, 3, { ...f64, padding: 1, rng: 1 }),
      new ReLU(),
      new Conv2d(4, 6, [3, 2], { ...f64, groups: 2, stride: 2, dilation: [1, 2], padding: 1, bias: false, rng: 2 }),
      new Tanh(),
      new GlobalAvgPool2d(),
      new Flatten(),
      new Linear(6, 3, { ...f64, rng: 3 }),
    );
    checkCaptureLaws(model, input([3, 2, 6, 7], 2), [2, 0, 1]);
    expect(model.curvatureLayers().map((l) => [l.name, l.kind, l.groups])).toEqual([
      ["0", "conv2d", 1],
      ["2", "conv2d", 2],
      ["6", "dense", 1],
    ]);
  });

  it("conv ā equals the naive patch extraction, rows n·T + t, columns (c, kh, kw), then 1", () => {
    const conv = new Conv2d(4, 2, 3, { ...f64, groups: 2, stride: 2, padding: 1, dilation: 2, rng: 5 });
    conv.setCapture(true);
    const x = input([2, 4, 7, 6], 6);
    conv.forward(x).backward(new Float64Array(2 * 2 * 3 * 2).fill(1));
    const s = conv.statistics;
    expect(s).not.toBeNull();
    const ho = outputSize(7, 3, 2, 1, 2);
    const wo = outputSize(6, 3, 2, 1, 2);
    expect(s?.positions).toBe(ho * wo);
    const ref = new Float64Array(2 * 2 * ho * wo * (2 * 9 + 1));
    extractPatchesInto(
      ref,
      x.data,
      {
        n: 2,
        cIn: 4,
        h: 7,
        w: 6,
        kh: 3,
        kw: 3,
        strideH: 2,
        strideW: 2,
        padH: 1,
        padW: 1,
        dilationH: 2,
        dilationW: 2,
        groups: 2,
        hOut: ho,
        wOut: wo,
      },
      true,
    );
    expect([...(s?.a ?? [])]).toEqual([...ref]);
    // With a seed of ones, ∂L/∂s = 1 everywhere, so g = N everywhere.
    expect([...(s?.g ?? [])].every((v) => v === 2)).toBe(true);
  });
});

describe("capture costs nothing when off and reuses its buffers when on", () => {
  it("capture off: no statistics, no hooks on the outputs", () => {
    const model = mlp([3, 4, 2], "relu", { seed: 1, dtype: "float64" });
    const y = model.forward(input([5, 3], 1));
    expect(y.hooks).toBeNull();
    softmaxCrossEntropy(y, [0, 1, 0, 1, 1]).backward();
    for (const l of model.curvatureLayers()) expect(l.statistics).toBeNull();
  });

  it("capture on: the same ā/g buffers across steps of equal batch size; statistics null until backward", () => {
    const lin = new Linear(3, 2, { ...f64, rng: 2 });
    lin.setCapture(true);
    const step = () => {
      const y = lin.forward(input([4, 3], 3));
      expect(lin.statistics).toBeNull();
      y.backward(new Float64Array(8).fill(1));
      return lin.statistics;
    };
    const s1 = step();
    const a1 = s1?.a;
    const s2 = step();
    const pass2 = s2?.pass ?? -1;
    expect(s2?.a).toBe(a1);
    expect(s2).toBe(s1);
    lin.setCapture(false);
    expect(lin.statistics).toBeNull(); // nothing stale can be read once capture is off
    lin.forward(input([4, 3], 3)).backward(new Float64Array(8).fill(1));
    expect(lin.statistics).toBeNull();
    lin.setCapture(true);
    expect(step()?.pass).toBe(pass2 + 1);
  });
});
