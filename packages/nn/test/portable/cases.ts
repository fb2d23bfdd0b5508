/**
 * Portable conformance cases for @ekfac-ts/nn (see ../../../linalg/test/portable/harness.ts): the byte
 * formats (safetensors, IDX, checkpoints) must round-trip identically on every runtime — they go
 * through DataView/TextEncoder, where engines could differ — initialisers must respect their bounds, and
 * the captured curvature statistics must reproduce the gradient.
 */

import { wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import {
  BatchNorm2d,
  Conv2d,
  type CurvatureLayer,
  Flatten,
  fans,
  glorotUniform,
  Linear,
  loadCheckpoint,
  oneHot,
  ReLU,
  readIdx,
  readSafetensors,
  Sequential,
  saveCheckpoint,
  softmaxCrossEntropy,
  Tanh,
  writeIdx,
  writeSafetensors,
} from "@ekfac-ts/nn";
import { check, checkClose, checkIdentical, type PortableCase } from "../../../linalg/test/portable/harness.ts";

/** Σ_n Σ_t g ā ᵀ / N per group from a layer's captured statistics, as the flat [W | b] (outDim × aDim). */
function gradientFromStatistics(layer: CurvatureLayer): Float64Array {
  const s = layer.statistics;
  check(s !== null, `${layer.name}: no statistics captured`);
  const og = layer.outDim / layer.groups;
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const rows = s.batchSize * s.positions;
  const out = new Float64Array(layer.outDim * aDim);
  for (let k = 0; k < layer.groups; k++)
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < og; o++) {
        const g = s.g[(k * rows + r) * og + o] as number;
        const base = (k * og + o) * aDim;
        for (let j = 0; j < aDim; j++)
          out[base + j] = (out[base + j] as number) + (g * (s.a[(k * rows + r) * aDim + j] as number)) / s.batchSize;
      }
  return out;
}

/** The layer's backward-pass gradient as the flat [W | b] (outDim × aDim). */
function gradientFromBackward(layer: CurvatureLayer): Float64Array {
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const out = new Float64Array(layer.outDim * aDim);
  const w = layer.weight.grad;
  check(w !== null, `${layer.name}: no weight gradient`);
  const b = layer.bias?.grad ?? null;
  for (let o = 0; o < layer.outDim; o++) {
    for (let j = 0; j < layer.inDim; j++) out[o * aDim + j] = w[o * layer.inDim + j] as number;
    if (b !== null) out[o * aDim + layer.inDim] = b[o] as number;
  }
  return out;
}

export const cases: PortableCase[] = [
  {
    name: "Linear: forward(x) = x·Wᵀ + b, computed by hand (float64, 5 examples, 7 → 3)",
    run() {
      const layer = new Linear(7, 3, { rng: 13, dtype: "float64" });
      const x = new Rng(14).fillNormal(new Float64Array(5 * 7));
      const y = layer.forward(wrap(x, [5, 7]));
      check(y.shape.join() === "5,3", `output shape ${y.shape.join("×")}`);
      const w = layer.weight.value;
      const b = layer.bias?.value;
      check(b !== undefined, "the layer has no bias");
      const expected = new Float64Array(5 * 3);
      for (let n = 0; n < 5; n++) {
        for (let o = 0; o < 3; o++) {
          let s = b[o] as number;
          for (let i = 0; i < 7; i++) s += (x[n * 7 + i] as number) * (w[o * 7 + i] as number);
          expected[n * 3 + o] = s;
        }
      }
      checkClose(y.data, expected, "Linear output");
    },
  },
  {
    name: "safetensors: read(write(t)) = t for float32, float64 and int32 tensors with metadata",
    run() {
      const w = Float32Array.from([1, -2.5, 3.25, Number.NaN, -0, 1e-30]);
      const b = Float64Array.from([Math.PI, -Math.E]);
      const steps = Int32Array.from([7, -8, 2 ** 31 - 1]);
      const bytes = writeSafetensors(
        {
          "layer.weight": { dtype: "F32", shape: [2, 3], data: w },
          "layer.bias": { dtype: "F64", shape: [2], data: b },
          steps: { dtype: "I32", shape: [3], data: steps },
        },
        { format: "ekfac-ts", "ü-key": "ünïcödé ✓" },
      );
      const file = readSafetensors(bytes);
      check(file.tensors.size === 3, `read back ${file.tensors.size} tensors, expected 3`);
      const rw = file.tensors.get("layer.weight");
      check(rw !== undefined && rw.dtype === "F32" && rw.shape.join() === "2,3", "layer.weight header");
      const got = new Uint8Array(rw.data.buffer, rw.data.byteOffset, rw.data.byteLength);
      const want = new Uint8Array(w.buffer);
      check(
        got.length === want.length && got.every((x, i) => x === want[i]),
        "layer.weight bytes differ (NaN and −0 must survive bit for bit)",
      );
      const rb = file.tensors.get("layer.bias");
      check(rb !== undefined && rb.dtype === "F64", "layer.bias header");
      checkIdentical(rb.data as Float64Array, b, "layer.bias");
      const rs = file.tensors.get("steps");
      check(rs !== undefined && (rs.data as Int32Array).join() === "7,-8,2147483647", "steps");
      check(file.metadata?.get("ü-key") === "ünïcödé ✓", "UTF-8 metadata round trip");
    },
  },
  {
    name: "safetensors: the header length is a little-endian u64 and float data are little-endian",
    run() {
      const bytes = writeSafetensors({ x: { dtype: "F32", shape: [1], data: Float32Array.of(1) } });
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const headerLength = Number(view.getBigUint64(0, true));
      check(
        8 + headerLength + 4 === bytes.length,
        `header length ${headerLength} does not account for a ${bytes.length}-byte file`,
      );
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
      check(header.x?.dtype === "F32" && header.x.data_offsets?.join() === "0,4", `header ${JSON.stringify(header)}`);
      check(bytes.subarray(8 + headerLength).join() === "0,0,128,63", "1.0f must be stored as 00 00 80 3f");
    },
  },
  {
    name: "IDX: read(write(t)) = t for uint8 images and float64 data (big-endian on disk)",
    run() {
      const images = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);
      const back = readIdx(writeIdx({ dtype: "uint8", shape: [2, 3, 4], data: images }));
      check(back.dtype === "uint8" && back.shape.join() === "2,3,4", `uint8 header ${back.dtype} ${back.shape.join()}`);
      check(
        back.data.every((x, i) => x === images[i]),
        "uint8 data",
      );
      const values = Float64Array.of(0.1, -2, 1e300);
      const bytes = writeIdx({ dtype: "float64", shape: [3], data: values });
      const f = readIdx(bytes);
      check(f.dtype === "float64" && f.shape.join() === "3", "float64 header");
      checkIdentical(f.data as Float64Array, values, "float64 data");
    },
  },
  {
    name: "glorotUniform: every weight lies in ±√(6/(fan_in + fan_out)) and the fill is not constant",
    run() {
      const shape = [16, 24];
      const { fanIn, fanOut } = fans(shape);
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      const w = glorotUniform(new Float64Array(16 * 24), shape, new Rng(9));
      let min = Infinity;
      let max = -Infinity;
      for (const x of w) {
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      check(min >= -bound && max <= bound, `range [${min}, ${max}] exceeds ±${bound}`);
      check(max - min > bound, `range [${min}, ${max}] is too narrow for a uniform fill`);
    },
  },
  {
    name: "oneHot: row n has a single 1 in column labels[n]",
    run() {
      const y = oneHot([2, 0, 1], 3);
      check(y.join() === "0,0,1,1,0,0,0,1,0", `oneHot gave ${y.join()}`);
    },
  },
  {
    name: "Conv2d capture: the captured ā, g reproduce the weight gradient, ∇W̄ = (1/N) Σ_n Σ_t g āᵀ",
    run() {
      // Grouped, strided, padded conv (T = 3·3 positions) feeding a dense layer; float64 so the law
      // holds to rounding.
      const f64 = { dtype: "float64" as const };
      const model = new Sequential(
        new Conv2d(2, 4, 3, { ...f64, groups: 2, stride: 2, padding: 1, rng: 21 }),
        new Tanh(),
        new Flatten(),
        new Linear(4 * 3 * 3, 3, { ...f64, rng: 22 }),
      );
      const n = 5;
      const x = wrap(new Rng(23).fillNormal(new Float64Array(n * 2 * 5 * 5)), [n, 2, 5, 5]);
      model.setCapture(true);
      model.zeroGrad();
      softmaxCrossEntropy(model.forward(x), [0, 2, 1, 1, 0]).backward();
      const layers = model.curvatureLayers();
      check(layers.map((l) => l.kind).join() === "conv2d,dense", `layers ${layers.map((l) => l.kind).join()}`);
      const conv = layers[0] as CurvatureLayer;
      check(
        conv.statistics?.batchSize === n && conv.statistics.positions === 9,
        `conv statistics N = ${conv.statistics?.batchSize}, T = ${conv.statistics?.positions} (expected ${n}, 9)`,
      );
      for (const layer of layers) {
        const fromBackward = gradientFromBackward(layer);
        check(
          fromBackward.some((v) => v !== 0),
          `${layer.name}: the gradient is zero, the check would be vacuous`,
        );
        checkClose(gradientFromStatistics(layer), fromBackward, `∇W̄ of ${layer.name}`, { rtol: 1e-10 });
      }
    },
  },
  {
    name: "checkpoint: loadCheckpoint(saveCheckpoint(model)) restores every parameter and buffer bit for bit",
    run() {
      const make = (seed: number): Sequential =>
        new Sequential(
          new Conv2d(1, 3, 3, { padding: 1, rng: seed }),
          new BatchNorm2d(3),
          new ReLU(),
          new Flatten(),
          new Linear(3 * 4 * 4, 2, { rng: seed + 1 }),
        );
      const source = make(31);
      // One train-mode forward moves BatchNorm's running statistics off their initial 0 and 1.
      source.forward(wrap(new Rng(32).fillNormal(new Float32Array(4 * 16)), [4, 1, 4, 4]));
      const bytes = saveCheckpoint(source, { step: "7" });
      const target = make(33);
      const before = target.stateDict();
      const want = source.stateDict();
      check(
        [...want].some(([k, t]) => t.data.some((v, i) => !Object.is(v, before.get(k)?.data[i]))),
        "the two models start equal: the round trip would prove nothing",
      );
      const metadata = loadCheckpoint(target, bytes);
      check(metadata.get("step") === "7", `metadata step = ${metadata.get("step")}`);
      const got = target.stateDict();
      check([...got.keys()].join() === [...want.keys()].join(), `keys ${[...got.keys()].join()}`);
      check(
        want.get("1.running_mean")?.data.some((v) => v !== 0) === true,
        "BatchNorm's running mean was not updated: the buffer round trip would prove little",
      );
      for (const [k, t] of want) {
        const g = got.get(k);
        check(g !== undefined && g.data instanceof Float32Array, `${k}: missing or not float32`);
        checkIdentical(g.data, t.data, k);
      }
    },
  },
];
