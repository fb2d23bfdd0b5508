/**
 * Validation of layer shapes and captured statistics, and their conversion to float64 workspaces.
 * Shared by every curvature block; kernels downstream trust what leaves this file.
 */
import { type FloatArray, flushTiny, hasTiny, roundFlushedInto } from "@ekfac-ts/linalg";
import type { LayerBatch, LayerShape } from "../capture.ts";
import type { BlockDims } from "../curvature/block.ts";
import { checkChoice } from "./checks.ts";

/** The block shape of a layer (the fields of `LayerShape`, copied so later changes to the layer cannot leak in). */
export function layerShape(layer: LayerShape): LayerShape {
  return {
    kind: layer.kind,
    outDim: layer.outDim,
    inDim: layer.inDim,
    hasBias: layer.hasBias,
    groups: layer.groups,
  };
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

export function checkShape(fn: string, shape: LayerShape): BlockDims {
  if (shape === null || typeof shape !== "object") throw new TypeError(`${fn}: shape must be an object`);
  checkChoice(fn, "shape.kind", shape.kind, ["dense", "conv2d"], shape.kind);
  for (const key of ["outDim", "inDim", "groups"] as const) {
    if (!isPositiveInt(shape[key])) {
      throw new RangeError(`${fn}: shape.${key} must be a positive integer (got ${String(shape[key])})`);
    }
  }
  if (typeof shape.hasBias !== "boolean") throw new TypeError(`${fn}: shape.hasBias must be a boolean`);
  if (shape.outDim % shape.groups !== 0) {
    throw new RangeError(`${fn}: shape.outDim = ${shape.outDim} is not divisible by groups = ${shape.groups}`);
  }
  if (shape.kind === "dense" && shape.groups !== 1) {
    throw new RangeError(`${fn}: a dense layer has groups = 1 (got ${shape.groups})`);
  }
  const aDim = shape.inDim + (shape.hasBias ? 1 : 0);
  const gDim = shape.outDim / shape.groups;
  return { aDim, gDim, groups: shape.groups, size: shape.outDim * aDim };
}

/** Checks the statistics against the layer; returns rows = N·T. Throws TypeError/RangeError. */
export function checkStatistics(fn: string, kind: "dense" | "conv2d", dims: BlockDims, stats: LayerBatch): number {
  if (stats === null || typeof stats !== "object") throw new TypeError(`${fn}: statistics must be an object`);
  const { batchSize: n, positions: t } = stats;
  if (!isPositiveInt(n)) throw new RangeError(`${fn}: statistics.batchSize must be a positive integer (got ${n})`);
  if (!isPositiveInt(t)) throw new RangeError(`${fn}: statistics.positions must be a positive integer (got ${t})`);
  if (kind === "dense" && t !== 1) {
    throw new RangeError(`${fn}: a dense layer has statistics.positions = 1 (got ${t})`);
  }
  for (const key of ["a", "g"] as const) {
    const arr = stats[key];
    if (!(arr instanceof Float32Array || arr instanceof Float64Array)) {
      throw new TypeError(`${fn}: statistics.${key} must be a Float32Array or Float64Array`);
    }
  }
  const rows = n * t;
  const expectA = dims.groups * rows * dims.aDim;
  const expectG = dims.groups * rows * dims.gDim;
  if (stats.a.length !== expectA) {
    throw new RangeError(
      `${fn}: statistics.a has length ${stats.a.length}, expected groups·N·T·aDim = ${dims.groups}·${n}·${t}·${dims.aDim} = ${expectA}`,
    );
  }
  if (stats.g.length !== expectG) {
    throw new RangeError(
      `${fn}: statistics.g has length ${stats.g.length}, expected groups·N·T·gDim = ${dims.groups}·${n}·${t}·${dims.gDim} = ${expectG}`,
    );
  }
  const lossG = stats.lossG;
  if (lossG !== undefined && lossG !== null) {
    if (!(lossG instanceof Float32Array || lossG instanceof Float64Array)) {
      throw new TypeError(`${fn}: statistics.lossG must be a Float32Array, a Float64Array or null`);
    }
    if (lossG.length !== expectG) {
      throw new RangeError(
        `${fn}: statistics.lossG has length ${lossG.length}, expected the length of statistics.g, groups·N·T·gDim = ${expectG}`,
      );
    }
  }
  return rows;
}

/**
 * Whether every entry of x is finite: linalg's `allFinite` (vector.ts; a SIMD scan of float32 arrays
 * on the wasm backend). The transform scans every layer's ā and g with it each step, ≈ 0.8 M entries
 * on the demo autoencoder.
 */
export { allFinite } from "@ekfac-ts/linalg";

/** A float64 view of `x`: `x` itself when it already is float64, otherwise a copy into `ws`. */
export function asFloat64(x: FloatArray, ws: Float64Array): Float64Array {
  if (x instanceof Float64Array) return x;
  ws.set(x);
  return ws;
}

/** `buf` if it holds at least `n` elements, else a new buffer (workspaces grow to the largest batch). */
export function ensure(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(n);
}

/** `ensure` for float32 workspaces (the float32 rotations of curvature/kronecker-block.ts). */
export function ensure32(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(n);
}

/** The arrays one after another in a new Float64Array. */
export function concat64(list: readonly Float64Array[]): Float64Array {
  let total = 0;
  for (const c of list) total += c.length;
  const out = new Float64Array(total);
  let off = 0;
  for (const c of list) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * The float32 rotations' flush threshold τ = 2⁻⁶³ ≈ 1.1e-19 (kronecker-block.ts, "Precision"). Every
 * float32 operand the curvature blocks form themselves — the bases' copies, the gradient's copy, the
 * rotated rows and intermediate rotations, S*'s pair rows and per-example products — stores entries
 * below τ as 0, so a product of two of them is 0 or ≥ τ² = 2⁻¹²⁶, float32's smallest normal number,
 * and the CPU does not take its slow path for subnormal numbers (measured: the demo autoencoder's
 * first layer, whose input factor has an exact null space from always-zero pixels, ran its rotations
 * ≈ 1.7× and its S* ≈ 2.6× slower with them). Captured statistics (the model's arrays, never
 * modified) that hold an entry 0 < |x| < τ are read through a flushed copy (`hasTiny32`): a saturating
 * network produces them — sigmoid outputs and output signals of ~1e-39 — and with them the demo
 * autoencoder's last layer ran its S* ≈ 3× slower (2026-12-03).
 */
export const FLUSH32 = 2 ** -63;

/** The branch-free test behind every flush in the package: linalg's `tinyNonzero` (vector.ts). */
export { tinyNonzero } from "@ekfac-ts/linalg";

/** dst[i] ← src[off + i] rounded to float32, 0 where 0 < |src[off + i]| < FLUSH32, for i < n (NaN is kept). */
export function roundFlushed32(src: Float64Array, off: number, dst: Float32Array, n: number): void {
  roundFlushedInto(src, off, dst, 0, n, FLUSH32);
}

/** Whether x[0…n) holds an entry with 0 < |x[i]| < FLUSH32 (one that `flushTiny32` would change). */
export function hasTiny32(x: Float32Array, n: number): boolean {
  return hasTiny(x, n, FLUSH32);
}

/**
 * The statistics x (n entries) as float32 without entries below FLUSH32: x itself when it is float32
 * and holds none, else a rounded copy in ws (grown to n if needed) with those entries stored as 0.
 * The caller keeps the workspace when the result is not x.
 */
export function readFlushed32(x: FloatArray, n: number, ws: Float32Array): Float32Array {
  if (x instanceof Float32Array && !hasTiny32(x, n)) return x;
  const out = ensure32(ws, n);
  out.set(x);
  flushTiny32(out, n);
  return out;
}

/** x[i] ← 0 where 0 < |x[i]| < FLUSH32, for i < n (in place; NaN is kept). */
export function flushTiny32(x: Float32Array, n: number): void {
  flushTiny(x, n, FLUSH32);
}

/** Whether the last `checkedDot` saw only finite x[i] (a module-level flag: no object per call). */
let dotFinite = true;

/** Whether every x[i] of the last `checkedDot` was finite. */
export function checkedDotFinite(): boolean {
  return dotFinite;
}

/**
 * start + Σ x[xOff + i]·y[yOff + i] over n entries, summed in four interleaved partial sums (entries
 * i ≡ 0, 1, 2, 3 mod 4, the tail in the first; then (s₀ + s₁) + (s₂ + s₃)): four independent chains of
 * additions instead of one, whose latency bound a single running sum (≈ 1 ms per step over the demo
 * autoencoder's 475,000 entries); the error bound is the same as the sequential sum's (Higham §4.2).
 * Records whether every x[i] was finite (`checkedDotFinite`). The optimizer's direction dot Δᵀ∇ and a
 * block's Δᵀ∇ in its basis (kronecker-block.ts `rowsDot`), one summation order for both. A function of
 * its own, not a loop inside the transform's update: V8 optimises a small hot function on its own,
 * while the loop inside that long closure ran in less optimised code that boxed the running sum (a
 * sampled allocation profile of the EKFAC step showed the update allocating ≈ 0.3 MB per step there).
 */
export function checkedDot(x: FloatArray, xOff: number, y: FloatArray, yOff: number, n: number, start: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let bad = 0; // Σ (v − v): 0 while every v is finite, NaN after a NaN or ±∞
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const x0 = x[xOff + i] as number;
    const x1 = x[xOff + i + 1] as number;
    const x2 = x[xOff + i + 2] as number;
    const x3 = x[xOff + i + 3] as number;
    bad += x0 - x0 + (x1 - x1) + (x2 - x2) + (x3 - x3);
    s0 += x0 * (y[yOff + i] as number);
    s1 += x1 * (y[yOff + i + 1] as number);
    s2 += x2 * (y[yOff + i + 2] as number);
    s3 += x3 * (y[yOff + i + 3] as number);
  }
  for (; i < n; i++) {
    const v = x[xOff + i] as number;
    bad += v - v;
    s0 += v * (y[yOff + i] as number);
  }
  dotFinite = bad === 0;
  return start + (s0 + s1 + (s2 + s3));
}
