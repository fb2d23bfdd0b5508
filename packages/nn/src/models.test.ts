import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint/model-checkpoint.ts";
import { readSafetensors, writeSafetensors } from "./checkpoint/safetensors.ts";
import { Dropout, Sequential } from "./layers/basic.ts";
import { BatchNorm1d } from "./layers/batchnorm.ts";
import { Linear } from "./layers/linear.ts";
import { sigmoidCrossEntropy, softmaxCrossEntropy } from "./losses.ts";
import { deepAutoencoder, mlp, smallResNet, smallVgg } from "./models.ts";

function checksum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] as number) * ((i % 7) + 1);
  return s;
}

describe("models", () => {
  it("mlp: sizes, names, parameter count Σ (d_i + 1)·d_{i+1}", () => {
    const m = mlp([4, 8, 3], "relu");
    expect(m.parameters().map((p) => [p.name, p.shape])).toEqual([
      ["0.weight", [8, 4]],
      ["0.bias", [8]],
      ["2.weight", [3, 8]],
      ["2.bias", [3]],
    ]);
    expect(m.parameterCount()).toBe(5 * 8 + 9 * 3);
  });

  it("deep autoencoder: 784-1000-500-250-30-250-500-1000-784, linear code, logits out", () => {
    const ae = deepAutoencoder({ sizes: [784, 1000, 500, 250, 30] });
    const dims = ae.curvatureLayers().map((l) => [l.inDim, l.outDim]);
    expect(dims).toEqual([
      [784, 1000],
      [1000, 500],
      [500, 250],
      [250, 30],
      [30, 250],
      [250, 500],
      [500, 1000],
      [1000, 784],
    ]);
    // Layer kinds in order: the code Linear (250→30) is followed directly by the next Linear.
    const kinds = ae.layers.map((l) => l.constructor.name);
    const half = ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"];
    expect(kinds).toEqual([...half, ...half]); // encoder to the code, then the decoder
    const expectedCount = dims.reduce((s, [i, o]) => s + ((i as number) + 1) * (o as number), 0);
    expect(ae.parameterCount()).toBe(expectedCount);
  });

  it("a small autoencoder trains: sigmoid CE decreases under a few SGD steps", () => {
    const ae = deepAutoencoder({ sizes: [16, 8, 4], activation: "tanh", seed: 1 });
    const x = wrap(new Rng(2).fillUniform(new Float32Array(32 * 16)), [32, 16]);
    const lossAt = () => noGrad(() => sigmoidCrossEntropy(ae.forward(x), x).item());
    const before = lossAt();
    for (let step = 0; step < 20; step++) {
      ae.zeroGrad();
      sigmoidCrossEntropy(ae.forward(x), x).backward();
      for (const p of ae.parameters())
        for (let i = 0; i < p.value.length; i++)
          p.value[i] = (p.value[i] as number) - 0.5 * ((p.grad?.[i] ?? 0) as number);
    }
    expect(lossAt()).toBeLessThan(before);
  });

  it.each([
    ["smallVgg 28×28×1", () => smallVgg({ inChannels: 1 }), [2, 1, 28, 28]],
    ["smallVgg 32×32×3", () => smallVgg({ inChannels: 3, widths: [8, 16, 16] }), [2, 3, 32, 32]],
    ["smallResNet 28×28×1", () => smallResNet({ inChannels: 1 }), [2, 1, 28, 28]],
    ["smallResNet 32×32×3", () => smallResNet({ inChannels: 3, widths: [8, 16] }), [2, 3, 32, 32]],
  ])("%s: logits N × 10, gradients reach every parameter, capture on every conv/linear", (_, make, shape) => {
    const model = make();
    const n = shape.reduce((a, b) => a * b, 1);
    const x = wrap(new Rng(3).fillNormal(new Float32Array(n)), shape);
    model.setCapture(true);
    const y = model.forward(x);
    expect(y.shape).toEqual([2, 10]);
    softmaxCrossEntropy(y, [1, 7]).backward();
    for (const p of model.parameters()) expect(p.grad).not.toBeNull();
    for (const l of model.curvatureLayers()) {
      expect(l.statistics?.batchSize).toBe(2);
      const aDim = l.inDim + (l.hasBias ? 1 : 0);
      expect(l.statistics?.a.length).toBe(l.groups * 2 * (l.statistics?.positions ?? 0) * aDim);
    }
  });
});

describe("modules: mode, state dicts, checkpoints", () => {
  it("train/eval propagate to every descendant", () => {
    const m = new Sequential(new Linear(2, 2), new Sequential(new Dropout(0.5), new BatchNorm1d(2)));
    m.eval();
    const all = [m, ...m.childModules(), ...(m.childModules()[1]?.childModules() ?? [])];
    expect(all.every((x) => !x.training)).toBe(true);
    m.train();
    expect(all.every((x) => x.training)).toBe(true);
  });

  it("stateDict holds parameters and buffers under PyTorch-style names", () => {
    const m = new Sequential(new Linear(2, 3), new BatchNorm1d(3));
    expect([...m.stateDict().keys()]).toEqual([
      "0.weight",
      "0.bias",
      "1.weight",
      "1.bias",
      "1.running_mean",
      "1.running_var",
      "1.num_batches_tracked",
    ]);
  });

  it("loadCheckpoint(saveCheckpoint(m)) restores every parameter and buffer bit for bit", () => {
    const a = smallResNet({ seed: 1, widths: [4, 8] });
    noGrad(() => a.forward(wrap(new Rng(1).fillNormal(new Float32Array(2 * 28 * 28)), [2, 1, 28, 28]))); // moves running stats
    const b = smallResNet({ seed: 2, widths: [4, 8] });
    const meta = loadCheckpoint(b, saveCheckpoint(a, { note: "test" }));
    expect(meta.get("note")).toBe("test");
    const sa = a.stateDict();
    for (const [k, v] of b.stateDict()) expect([...v.data]).toEqual([...(sa.get(k)?.data ?? [])]);
  });

  it("loading a mismatched checkpoint fails with a message and leaves the model unchanged", () => {
    const model = mlp([3, 4, 2], "relu", { seed: 1 });
    const before = model.parameters().map((p) => [...p.value]);
    expect(() => loadCheckpoint(model, saveCheckpoint(mlp([3, 5, 2])))).toThrow(/shape \[5, 3\].*expects \[4, 3\]/);
    expect(() => loadCheckpoint(model, saveCheckpoint(mlp([3, 4, 2], "relu", { dtype: "float64" })))).toThrow(
      /dtype F64.*expects F32/,
    );
    expect(() => loadCheckpoint(model, saveCheckpoint(mlp([3, 4, 4, 2])))).toThrow(
      /missing: \[\], unexpected: \[4\.bias, 4\.weight\]/,
    );
    const file = readSafetensors(saveCheckpoint(model));
    file.tensors.delete("2.bias");
    expect(() => loadCheckpoint(model, writeSafetensors(file.tensors))).toThrow(/missing: \[2.bias\]/);
    expect(model.parameters().map((p) => [...p.value])).toEqual(before);
  });
});

describe("the same seed gives bit-identical models (pinned for cross-runtime determinism)", () => {
  it("mlp and smallVgg initial weights: identical per seed, pinned checksums", () => {
    const w = (seed: number) =>
      mlp([5, 4, 3], "relu", { seed, dtype: "float64" })
        .parameters()
        .map((p) => checksum(p.value));
    expect(w(3)).toEqual(w(3));
    expect(w(3)).not.toEqual(w(4));
    expect(w(3)).toEqual(PINNED_MLP_SEED3);
    const first = mlp([5, 4, 3], "relu", { seed: 3, dtype: "float64" }).parameters()[0]?.value;
    expect([...(first ?? []).slice(0, 3)]).toEqual(PINNED_MLP_LEADING);
    const vgg = smallVgg({ seed: 5, widths: [4] })
      .parameters()
      .map((p) => checksum(p.value));
    expect(vgg).toEqual(PINNED_VGG_SEED5);
  });
});

const PINNED_MLP_SEED3 = [7.309198732950026, 1.7355188276545077, 3.805031823241236, -0.11281485041237116];
const PINNED_MLP_LEADING = [0.1511361443842189, -0.30429847318103687, 0.08655170655982908];
// Float32 weights: conv, BN γ (= 1, checksum 10), BN β (0), conv, BN, BN, Linear.
const PINNED_VGG_SEED5 = [
  4.641492736060172, 0.927837435156107, 10, 0, -4.478090981545392, -0.43451597169041634, 10, 0, 1.0174949239008129,
  -2.4724367540329695,
];
