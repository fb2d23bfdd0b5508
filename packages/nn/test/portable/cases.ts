/**
 * Portable conformance cases for @ekfac-ts/nn (see ../../../linalg/test/portable/harness.ts): the byte
 * formats (safetensors, IDX) must round-trip identically on every runtime — they go through
 * DataView/TextEncoder, where engines could differ — and initialisers must respect their bounds.
 */

import { wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import {
  fans,
  glorotUniform,
  Linear,
  oneHot,
  readIdx,
  readSafetensors,
  writeIdx,
  writeSafetensors,
} from "@ekfac-ts/nn";
import { check, checkClose, checkIdentical, type PortableCase } from "../../../linalg/test/portable/harness.ts";

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
];
