import "@tensorflow/tfjs-backend-cpu";
import { wrap } from "@ekfac-ts/autodiff";
import { ekfac, type FisherMode, Optimizer, type ParameterRef } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { Conv2d, Flatten, Linear, mlp, ReLU, Sequential, softmaxCrossEntropy } from "@ekfac-ts/nn";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { TfjsCurvatureModel } from "./model.ts";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function normals(n: number, rng: Rng, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** Replaces every weight of `model` by seeded normals (tfjs's initialisers are not seeded). */
function seedWeights(model: tfl.LayersModel, seed: number, scale = 0.3): void {
  const rng = new Rng(seed);
  const values = model.getWeights().map((w) => tf.tensor(normals(w.size, rng, scale), w.shape));
  model.setWeights(values);
  tf.dispose(values);
}

/** ‖a − b‖ / ‖b‖ over all parameters. */
function relativeError(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    const y = b[i] as Float32Array;
    for (let j = 0; j < x.length; j++) {
      num += ((x[j] as number) - (y[j] as number)) ** 2;
      den += (y[j] as number) ** 2;
    }
  });
  return Math.sqrt(num / den);
}

const snapshot = (ps: readonly ParameterRef[]) => ps.map((p) => Float32Array.from(p.value));
const delta = (ps: readonly ParameterRef[], before: readonly Float32Array[]) =>
  ps.map((p, i) => Float32Array.from(p.value, (v, j) => v - ((before[i] as Float32Array)[j] as number)));

/** EKFAC without momentum and KL-clipping: the update is −ηΔ. A small η keeps both runs near the same
 *  weights, where float32 rounding cannot be amplified by large steps. */
const options = (fisher: FisherMode) =>
  ({ learningRate: 0.01, momentum: 0, klClip: null, damping: 0.01, basisEvery: 2, fisher, seed: 5 }) as const;

interface Pair {
  tfjs: TfjsCurvatureModel;
  nn: Sequential;
  /** An example batch in tfjs's layout and in nn's. */
  batch(k: number): { xt: tf.Tensor; xn: Float32Array; shape: number[]; labels: number[] };
  /** nn's parameters in the adapter's layout (identity but for the layers whose layouts differ). */
  toTfjs(values: readonly Float32Array[]): Float32Array[];
}

function checkSameDirections(pair: Pair, fisher: FisherMode, steps: number): number[] {
  const { tfjs, nn } = pair;
  const optT = new Optimizer(ekfac(tfjs, options(fisher)), tfjs);
  const optN = new Optimizer(ekfac(nn, options(fisher)), nn);
  const errors: number[] = [];
  for (let k = 0; k < steps; k++) {
    const { xt, xn, shape, labels } = pair.batch(k);
    const bt = snapshot(tfjs.parameters());
    const lossT = tfjs.backward(xt, labels);
    expect(optT.step().skipped).toBe(false);
    const dt = delta(tfjs.parameters(), bt);
    tfjs.commit();
    xt.dispose();

    const bn = snapshot(nn.parameters());
    nn.zeroGrad();
    const loss = softmaxCrossEntropy(nn.forward(wrap(xn, shape)), labels);
    loss.backward();
    expect(optN.step().skipped).toBe(false);
    const dn = pair.toTfjs(delta(nn.parameters(), bn));
    expect(Math.abs(lossT - (loss.data[0] as number))).toBeLessThan(1e-5 * Math.abs(lossT) + 1e-6);
    errors.push(relativeError(dt, dn));
  }
  return errors;
}

function mlpPair(): Pair {
  const [din, hidden, classes, n] = [6, 8, 3, 16];
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [din], activation: "relu" }),
      tfl.layers.dense({ units: classes, activation: "softmax" }),
    ],
  });
  seedWeights(model, 1);
  const tfjs = new TfjsCurvatureModel(model);
  const nn = mlp([din, hidden, classes], "relu");
  nn.parameters().forEach((p, i) => {
    p.value.set((tfjs.parameters()[i] as ParameterRef).value);
  });
  const rng = new Rng(2);
  return {
    tfjs,
    nn,
    batch() {
      const xn = normals(n * din, rng, 1);
      const labels = Array.from({ length: n }, () => Math.floor(rng.uniform() * classes));
      return { xt: tf.tensor2d(xn, [n, din]), xn, shape: [n, din], labels };
    },
    toTfjs: (v) => [...v],
  };
}

/** conv(3, k3, same) → relu → conv(4, k3, stride 2, valid) → relu → flatten → dense(5), on 7×7×2. */
function cnnPair(): Pair {
  // N·1 rows > 37 = the dense layer's aDim: a rank-deficient A has a degenerate null space whose eigenbasis
  // is arbitrary, and EKFAC's later rescalings depend on that choice.
  const [h, cin, n, classes] = [7, 2, 48, 5];
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "relu", inputShape: [h, h, cin] }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "valid", activation: "relu" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: classes }),
    ],
  });
  seedWeights(model, 3, 0.2);
  const tfjs = new TfjsCurvatureModel(model);
  const nn = new Sequential(
    new Conv2d(cin, 3, 3, { padding: 1 }),
    new ReLU(),
    new Conv2d(3, 4, 3, { stride: 2 }),
    new ReLU(),
    new Flatten(),
    new Linear(36, classes),
  );
  // tfjs flattens (h, w, c), nn (c, h, w): the last weight's columns are permuted, p·4 + c ↔ c·9 + p.
  const flat = (p: number, c: number) => [p * 4 + c, c * 9 + p] as const;
  const permute = (w: Float32Array, fromTfjs: boolean) => {
    const out = new Float32Array(w.length);
    for (let o = 0; o < classes; o++)
      for (let p = 0; p < 9; p++)
        for (let c = 0; c < 4; c++) {
          const [t, m] = flat(p, c);
          if (fromTfjs) out[o * 36 + m] = w[o * 36 + t] as number;
          else out[o * 36 + t] = w[o * 36 + m] as number;
        }
    return out;
  };
  const tp = tfjs.parameters();
  nn.parameters().forEach((p, i) => {
    const v = (tp[i] as ParameterRef).value as Float32Array;
    p.value.set(i === 4 ? permute(v, true) : v);
  });
  const rng = new Rng(4);
  return {
    tfjs,
    nn,
    batch() {
      const xt = normals(n * h * h * cin, rng, 1);
      const xn = new Float32Array(xt.length);
      for (let e = 0; e < n; e++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < h; x++)
            for (let c = 0; c < cin; c++)
              xn[((e * cin + c) * h + y) * h + x] = xt[((e * h + y) * h + x) * cin + c] as number;
      const labels = Array.from({ length: n }, () => Math.floor(rng.uniform() * classes));
      return { xt: tf.tensor4d(xt, [n, h, h, cin]), xn, shape: [n, cin, h, h], labels };
    },
    toTfjs: (v) => v.map((w, i) => (i === 4 ? permute(w, false) : w)),
  };
}

describe("TfjsCurvatureModel against @ekfac-ts/nn + @ekfac-ts/ekfac", () => {
  for (const fisher of ["empirical", "true", "curvature-prop"] as const) {
    it(`same EKFAC direction on the same MLP, weights and batches (${fisher} Fisher, 4 steps)`, () => {
      const errors = checkSameDirections(mlpPair(), fisher, 4);
      for (const e of errors) expect(e).toBeLessThan(1e-4);
    });
    it(`same EKFAC direction on the same CNN, weights and batches (${fisher} Fisher, 3 steps)`, () => {
      const errors = checkSameDirections(cnnPair(), fisher, 3);
      for (const e of errors) expect(e).toBeLessThan(1e-4);
    });
  }
});

describe("TfjsCurvatureModel laws", () => {
  it("captured statistics reproduce the weight gradient: Σ_rows g āᵀ / N = ∇W̄ (any conv geometry)", () => {
    const geometry = fc.record({
      h: fc.integer({ min: 3, max: 7 }),
      w: fc.integer({ min: 3, max: 7 }),
      cin: fc.integer({ min: 1, max: 3 }),
      cout: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 2 }),
      same: fc.boolean(),
      bias: fc.boolean(),
      seed: fc.nat(1000),
    });
    fc.assert(
      fc.property(geometry, (g) => {
        fc.pre(g.same || g.k <= Math.min(g.h, g.w));
        const model = tfl.sequential({
          layers: [
            tfl.layers.conv2d({
              filters: g.cout,
              kernelSize: g.k,
              strides: g.stride,
              padding: g.same ? "same" : "valid",
              useBias: g.bias,
              inputShape: [g.h, g.w, g.cin],
            }),
            tfl.layers.flatten(),
            tfl.layers.dense({ units: 3 }),
          ],
        });
        seedWeights(model, g.seed);
        const adapted = new TfjsCurvatureModel(model);
        adapted.setCapture(true, { fisher: "empirical", seed: 0 });
        const n = 3;
        const rng = new Rng(g.seed + 1);
        const x = tf.tensor4d(normals(n * g.h * g.w * g.cin, rng, 1), [n, g.h, g.w, g.cin]);
        adapted.backward(x, [0, 1, 2]);
        x.dispose();
        for (const layer of adapted.curvatureLayers()) {
          const s = layer.statistics;
          expect(s?.fisher).toBe("empirical");
          if (s === null) return;
          const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
          const rows = s.batchSize * s.positions;
          const grad = [layer.weight.grad, layer.bias?.grad ?? null];
          let num = 0;
          let den = 0;
          for (let o = 0; o < layer.outDim; o++) {
            for (let j = 0; j < aDim; j++) {
              let sum = 0;
              for (let r = 0; r < rows; r++)
                sum += (s.g[r * layer.outDim + o] as number) * (s.a[r * aDim + j] as number);
              const want = j < layer.inDim ? grad[0]?.[o * layer.inDim + j] : grad[1]?.[o];
              num += (sum / s.batchSize - (want as number)) ** 2;
              den += (want as number) ** 2;
            }
          }
          expect(Math.sqrt(num / Math.max(den, 1e-30))).toBeLessThan(1e-4);
        }
        adapted.dispose();
        model.dispose();
      }),
      { numRuns: 25, seed: 18 },
    );
  });

  it("commit then backward round-trips the values through tfjs's layouts (pull ∘ commit = id)", () => {
    const { tfjs } = cnnPair();
    const rng = new Rng(9);
    const written = tfjs.parameters().map((p) => {
      p.value.set(normals(p.value.length, rng, 1));
      return Float32Array.from(p.value);
    });
    tfjs.commit();
    for (const p of tfjs.parameters()) p.value.fill(0);
    tfjs.backward(tf.zeros([1, 7, 7, 2]), [0]);
    tfjs.parameters().forEach((p, i) => {
      expect(Array.from(p.value)).toEqual(Array.from(written[i] as Float32Array));
    });
  });

  it("the true-Fisher pass labels its statistics and draws from the seed (same seed, same g)", () => {
    const { tfjs, batch } = mlpPair();
    const { xt, labels } = batch(0);
    const run = (seed: number) => {
      tfjs.setCapture(true, { fisher: "true", seed });
      tfjs.backward(xt, labels);
      return tfjs.curvatureLayers().map((l) => ({ g: Float32Array.from(l.statistics?.g ?? []), s: l.statistics }));
    };
    const first = run(11);
    const again = run(11);
    expect(first[0]?.s?.fisher).toBe("true");
    expect(again[0]?.s?.pass).toBe((first[0]?.s?.pass ?? 0) + 1);
    expect(Array.from(again[1]?.g ?? [])).toEqual(Array.from(first[1]?.g ?? []));
    tfjs.setCapture(false);
    expect(tfjs.curvatureLayers().every((l) => l.statistics === null)).toBe(true);
  });
});

describe("TfjsCurvatureModel guards", () => {
  it('refuses fisher "exact" (RangeError naming the method)', () => {
    const { tfjs } = mlpPair();
    expect(() => tfjs.setCapture(true, { fisher: "exact", seed: 0 })).toThrow(/setCapture: fisher "exact"/);
  });

  it("refuses Conv2D layers in channelsFirst layout", () => {
    const model = tfl.sequential({
      layers: [tfl.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: "channelsFirst", inputShape: [1, 3, 3] })],
    });
    expect(() => new TfjsCurvatureModel(model)).toThrow(RangeError);
  });

  it("refuses dilated Conv2D layers (tfjs cannot differentiate them)", () => {
    const model = tfl.sequential({
      layers: [tfl.layers.conv2d({ filters: 2, kernelSize: 2, dilationRate: 2, inputShape: [5, 5, 1] })],
    });
    expect(() => new TfjsCurvatureModel(model)).toThrow(/dilationRate 2/);
  });

  it("refuses an unknown output kind", () => {
    const { tfjs } = mlpPair();
    expect(() => new TfjsCurvatureModel(tfjs.model, { output: "logit" as "logits" })).toThrow(/options.output/);
  });

  it("refuses a Dense input of rank 3 while capturing, and runs it otherwise", () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 2, inputShape: [3, 4] }), tfl.layers.flatten()],
    });
    const adapted = new TfjsCurvatureModel(model);
    const x = tf.zeros([2, 3, 4]);
    expect(adapted.backward(x, [0, 1])).toBeCloseTo(Math.log(6), 5);
    adapted.setCapture(true, { fisher: "empirical", seed: 0 });
    expect(() => adapted.backward(x, [0, 1])).toThrow(/rank-3 input/);
  });

  it("refuses a batch whose label count differs from its example count", () => {
    const { tfjs } = mlpPair();
    expect(() => tfjs.backward(tf.zeros([4, 6]), [0, 1])).toThrow(/backward: x has 4 examples and labels 2/);
  });

  it("refuses a non-model", () => {
    expect(() => new TfjsCurvatureModel({} as tfl.LayersModel)).toThrow(TypeError);
  });

  it("dispose gives the layers their own call back", () => {
    const { tfjs } = mlpPair();
    const layer = tfjs.model.layers[0] as tfl.LayersModel["layers"][number];
    const patched = layer.call;
    tfjs.dispose();
    expect(layer.call).not.toBe(patched);
    expect(Object.hasOwn(layer, "call")).toBe(false);
  });
});
