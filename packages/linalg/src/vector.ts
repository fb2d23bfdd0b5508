/**
 * Elementwise kernels over float arrays, for callers that keep float32 data out of the subnormal
 * range by hand ("flushing": an entry with 0 < |x| < tiny stored as 0) and that run the same pass
 * over hundreds of thousands of entries every training step: scans (all finite? any tiny entry?), a
 * flush, squares, float64 → float32 rounding, an exponential moving average, the quotients of a
 * diagonal or Kronecker-factored preconditioner, and the fold of a lower-triangular update into a
 * symmetric average. The curvature blocks of @ekfac-ts/ekfac are their users.
 *
 * One dispatch point per kernel (`useWasm` below): with the wasm backend active (backend.ts) and
 * enough entries, the operands are copied into the kernels' WebAssembly memory with one native `set`
 * each, the SIMD loop of internal/wasm/vector-codegen.ts runs, and the results are copied out the same
 * way; otherwise the JavaScript loop below runs. Both paths make the same IEEE-754 operations in the
 * same order on each entry (no fused multiply-add, float64 where the loop computes in float64), so
 * their results are identical bit for bit except for the payload of a NaN — a law of the package
 * (vector.test.ts). What the wasm path buys, measured on the demo autoencoder's statistics (Node 20,
 * 2026-12-04): squaring 196,000 float32 with the flush, 3.0 ns per entry in the JS loop against 0.51
 * with both copies (0.26 for the loop alone); the scans and quotients alike.
 *
 * The copies in take the whole source array (one `set`, no view object), so the wasm path is taken
 * only where the array is at most STAGE_SLACK times the span the kernel reads (squaresFlushedInto,
 * which squares a few rows of a large workspace, copies just its range through a view kept per array
 * and range); a larger array, an element type the kernel does not take, or a held resident region
 * (internal/wasm/resident.ts) runs the JS loop. Results are copied out through views of the memory cached per (offset, length), so a
 * training loop allocates nothing after its first step.
 *
 * Validation: every function checks its arrays, counts and offsets (TypeError/RangeError naming the
 * function and the argument) and nothing else; the thresholds and scalars are the caller's.
 */
import { assertFloatArray, assertIndex, assertNumber, kindOf } from "./internal/checks.ts";
import { logistic, logistic32 } from "./internal/exp.ts";

export { logistic, logistic32 };

import {
  ensureBytes,
  kernels,
  memoryView,
  rangeView,
  rangeViewsMade,
  reservedBytes,
} from "./internal/wasm/instance.ts";
import { activeBackend } from "./internal/wasm/runtime.ts";
import type { FloatArray } from "./matrix.ts";

/** Below this many entries a kernel stays in JavaScript (the call and copies cost more than SIMD saves). */
export const VECTOR_MIN_WASM = 256;

/** A source array is copied whole into the memory when at most this many times the span read. */
const STAGE_SLACK = 4;

/** Whether a kernel over `n` entries reading `sources` (each whole, with its span) goes to wasm. */
function useWasm(n: number): boolean {
  return n >= VECTOR_MIN_WASM && reservedBytes() === 0 && activeBackend() === "wasm";
}

/** Whether x (read over `span` entries) is small enough to be copied whole. */
function stageable(x: FloatArray, span: number): boolean {
  return x.length <= STAGE_SLACK * span;
}

/**
 * Lays out up to four consecutive regions of the given byte sizes in the memory (after any resident
 * region, each 16-byte aligned with 16 bytes of room for the padding lanes), grows the memory to fit,
 * and returns the byte offset of each in `offsets` (a module-level array: nothing is allocated per call).
 */
const offsets: [number, number, number, number] = [0, 0, 0, 0];
function layout(b0: number, b1 = -1, b2 = -1, b3 = -1): [number, number, number, number] {
  let end = Math.ceil(reservedBytes() / 16) * 16;
  end = place(0, b0, end);
  end = place(1, b1, end);
  end = place(2, b2, end);
  end = place(3, b3, end);
  ensureBytes(kernels(), end);
  return offsets;
}

/** Region i of `bytes` (none when negative) at `end`; returns the end of the region with its room. */
function place(i: number, bytes: number, end: number): number {
  if (bytes < 0) return end;
  offsets[i] = end;
  return end + Math.ceil((bytes + 16) / 16) * 16;
}

/** Typed-array views this module has made (of the memory and of callers' ranges), for the tests. */
let viewsMade = 0;

/** Internal, for tests: how many views the kernels have made so far (constant in a steady loop). */
export function vectorViewsMade(): number {
  return viewsMade + rangeViewsMade();
}

let viewBuffer: unknown = null;
const views32 = new Map<number, Map<number, Float32Array>>();
const views64 = new Map<number, Map<number, Float64Array>>();
let viewCount = 0;

/** A view of `len` elements of the memory at byte offset `byteOff` (cached; none made in a steady loop). */
function block<T extends FloatArray>(size: 4 | 8, byteOff: number, len: number): T {
  const w = memoryView(size);
  if (viewBuffer !== w.buffer || viewCount > 512) {
    views32.clear();
    views64.clear();
    viewBuffer = w.buffer;
    viewCount = 0;
  }
  const cache = (size === 4 ? views32 : views64) as Map<number, Map<number, T>>;
  let byLen = cache.get(byteOff);
  if (byLen === undefined) {
    byLen = new Map();
    cache.set(byteOff, byLen);
  }
  let v = byLen.get(len);
  if (v === undefined) {
    v = w.subarray(byteOff / size, byteOff / size + len) as T;
    byLen.set(len, v);
    viewCount++;
    viewsMade++;
  }
  return v;
}

/** Copies all of x into the memory at byte offset `at` (its own element type). */
function put(x: FloatArray, at: number): void {
  memoryView(x.BYTES_PER_ELEMENT as 4 | 8).set(x, at / x.BYTES_PER_ELEMENT);
}

/**
 * Copies x[off…off + len) into the memory at byte offset `at`: the whole array when the range is all
 * of it, else through a view of the range kept for the next call with the same array and range
 * (instance.ts, `rangeView`; a training loop repeats them), so a steady loop allocates nothing.
 */
function putRange(x: FloatArray, off: number, len: number, at: number): void {
  if (off === 0 && len === x.length) put(x, at);
  else memoryView(x.BYTES_PER_ELEMENT as 4 | 8).set(rangeView(x, off, len), at / x.BYTES_PER_ELEMENT);
}

function checkRange(fn: string, name: string, x: FloatArray, off: number, n: number): void {
  assertIndex(fn, `${name} offset`, off);
  if (off + n > x.length) {
    throw new RangeError(`${fn}: ${name} has ${x.length} entries, fewer than offset ${off} + n ${n}`);
  }
}

/** Whether x[xOff…xOff + xLen) and y[yOff…yOff + yLen) share bytes (views of one buffer). */
function overlaps(x: FloatArray, xOff: number, xLen: number, y: FloatArray, yOff: number, yLen: number): boolean {
  if (x.buffer !== y.buffer || xLen === 0 || yLen === 0) return false;
  const x0 = x.byteOffset + xOff * x.BYTES_PER_ELEMENT;
  const y0 = y.byteOffset + yOff * y.BYTES_PER_ELEMENT;
  return x0 < y0 + yLen * y.BYTES_PER_ELEMENT && y0 < x0 + xLen * x.BYTES_PER_ELEMENT;
}

function assertFloat32(fn: string, name: string, x: unknown): asserts x is Float32Array {
  if (!(x instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array (got ${kindOf(x)})`);
}

function assertFloat64(fn: string, name: string, x: unknown): asserts x is Float64Array {
  if (!(x instanceof Float64Array)) throw new TypeError(`${fn}: ${name} must be a Float64Array (got ${kindOf(x)})`);
}

/**
 * 1 when 0 < |v| < tiny, else 0 (also for NaN and for tiny = 0): the test every flush in the JS loops
 * here (and in @ekfac-ts/ekfac's curvature blocks) makes, written without branches on purpose. The
 * obvious `v < tiny && v > -tiny` branches on v's sign, which is random in gradient data, and ReLU
 * zeros are scattered at random too; the mispredicted
 * branches made the loops 5–8× slower (random-sign float32 with half its entries 0: flush 6.9 against
 * 1.6 ns per element, the preconditioner's quotients 12.6 against 2.2; in the EKFAC step of the
 * 784-1000-500-10 MLP the flushes alone took 7.6 ms, 5.9 ns per element; Node 20, 2026-12-04). Here
 * the only branch left to the caller is on the rare tiny entry.
 */
export function tinyNonzero(v: number, tiny: number): number {
  const a = Math.abs(v);
  return +(a < tiny) & +(a > 0);
}

/** scan32's result bits over x[0…n) (x float32, copied whole). */
function scanWasm(x: Float32Array, n: number, tiny: number): number {
  const [at] = layout(x.length * 4);
  put(x, at);
  const blocks = Math.ceil(n / 4);
  memoryView(4).fill(0, at / 4 + n, at / 4 + blocks * 4);
  return kernels().vec.scan32(at, blocks, tiny);
}

/** Entries `allFinite`'s JS loop reads between its tests (early exit on a bad chunk, one branch per chunk). */
const FINITE_CHUNK = 4096;

/**
 * Whether every entry of x is finite (no NaN, no ±∞). The JS loop sums v − v (0 for a finite v, NaN
 * otherwise) over chunks, with one test per chunk; float32 arrays go to the SIMD scan.
 */
export function allFinite(x: FloatArray): boolean {
  assertFloatArray("allFinite", "x", x);
  const n = x.length;
  if (x instanceof Float32Array && useWasm(n)) return (scanWasm(x, n, 0) & 1) === 0;
  for (let start = 0; start < n; start += FINITE_CHUNK) {
    const end = Math.min(n, start + FINITE_CHUNK);
    let even = 0;
    let odd = 0;
    let i = start;
    for (; i + 1 < end; i += 2) {
      const u = x[i] as number;
      const v = x[i + 1] as number;
      even += u - u;
      odd += v - v;
    }
    if (i < end) even += (x[i] as number) - (x[i] as number);
    if (even + odd !== 0) return false;
  }
  return true;
}

/** Whether x[0…n) holds an entry with 0 < |x[i]| < tiny. */
export function hasTiny(x: FloatArray, n: number, tiny: number): boolean {
  const fn = "hasTiny";
  assertFloatArray(fn, "x", x);
  checkRange(fn, "x", x, 0, n);
  assertNumber(fn, "tiny", tiny);
  if (x instanceof Float32Array && useWasm(n) && stageable(x, n)) return (scanWasm(x, n, tiny) & 2) !== 0;
  for (let i = 0; i < n; i++) if (tinyNonzero(x[i] as number, tiny)) return true;
  return false;
}

/**
 * x[i] ← +0 where 0 < |x[i]| < tiny, for i < n (in place; NaN kept). The SIMD path scans x first and
 * copies it back only when it held a tiny entry.
 */
export function flushTiny(x: FloatArray, n: number, tiny: number): void {
  const fn = "flushTiny";
  assertFloatArray(fn, "x", x);
  checkRange(fn, "x", x, 0, n);
  assertNumber(fn, "tiny", tiny);
  if (x instanceof Float32Array && useWasm(n) && stageable(x, n)) {
    // Scanned first: tiny entries are rare, and without one nothing needs to come back out.
    if ((scanWasm(x, n, tiny) & 2) === 0) return;
    const at = offsets[0]; // where scanWasm put x
    kernels().vec.flush32(at, Math.ceil(n / 4), tiny);
    x.set(block<Float32Array>(4, at, n));
    return;
  }
  for (let i = 0; i < n; i++) if (tinyNonzero(x[i] as number, tiny)) x[i] = 0;
}

/**
 * dst[dstOff + i] ← src[srcOff + i] rounded to float32, +0 where 0 < |src[srcOff + i]| < tiny (the
 * test on the float64 value), for i < n; NaN kept.
 */
export function roundFlushedInto(
  src: Float64Array,
  srcOff: number,
  dst: Float32Array,
  dstOff: number,
  n: number,
  tiny: number,
): void {
  const fn = "roundFlushedInto";
  assertFloat64(fn, "src", src);
  assertFloat32(fn, "dst", dst);
  checkRange(fn, "src", src, srcOff, n);
  checkRange(fn, "dst", dst, dstOff, n);
  assertNumber(fn, "tiny", tiny);
  if (useWasm(n) && stageable(src, n)) {
    const [s, d] = layout(src.length * 8, n * 4);
    put(src, s);
    kernels().vec.round64to32(s + srcOff * 8, d, Math.ceil(n / 2), tiny);
    dst.set(block<Float32Array>(4, d, n), dstOff);
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = src[srcOff + i] as number;
    dst[dstOff + i] = tinyNonzero(v, tiny) ? 0 : v;
  }
}

/**
 * out[outOff + i] ← s·[s ≥ tiny] with s = x[xOff + i]² (a square below tiny stored as 0, a NaN kept),
 * for i < n; with `flushX` also x[xOff + i] ← x·(1 − [0 < |x| < tiny]) in place (±0). `out` may be
 * the same array as x where the two ranges do not overlap.
 */
export function squaresFlushedInto(
  x: FloatArray,
  xOff: number,
  out: FloatArray,
  outOff: number,
  n: number,
  tiny: number,
  flushX: boolean,
): void {
  const fn = "squaresFlushedInto";
  assertFloatArray(fn, "x", x);
  assertFloatArray(fn, "out", out);
  checkRange(fn, "x", x, xOff, n);
  checkRange(fn, "out", out, outOff, n);
  assertNumber(fn, "tiny", tiny);
  if (x === out && xOff < outOff + n && outOff < xOff + n) {
    throw new RangeError(`${fn}: x [${xOff}, ${xOff + n}) and out [${outOff}, ${outOff + n}) overlap`);
  }
  if (x instanceof Float32Array && out instanceof Float32Array && useWasm(n)) {
    // Only the range read goes in (the rows of a workspace, not the whole workspace).
    const [at, o] = layout(n * 4, n * 4);
    putRange(x, xOff, n, at);
    kernels().vec.squares32(at, o, Math.ceil(n / 4), tiny, flushX ? 1 : 0);
    if (flushX) x.set(block<Float32Array>(4, at, n), xOff);
    out.set(block<Float32Array>(4, o, n), outOff);
    return;
  }
  if (flushX) {
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i] as number;
      const s = v * v;
      x[xOff + i] = v * (1 - tinyNonzero(v, tiny));
      out[outOff + i] = s * +(s >= tiny);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i] as number;
    const s = v * v;
    out[outOff + i] = s * +(s >= tiny);
  }
}

/**
 * x[xOff + i] ← rho·x[xOff + i] + (1 − rho)·y[yOff + i] for i < n (float64 arithmetic, in that order).
 * rho = 0 overwrites x with y whatever x held: a running average restarted after its values went bad
 * (0·NaN is NaN, so the formula alone would keep a NaN forever).
 */
export function decayInto(x: Float64Array, xOff: number, y: FloatArray, yOff: number, n: number, rho: number): void {
  const fn = "decayInto";
  assertFloat64(fn, "x", x);
  assertFloatArray(fn, "y", y);
  checkRange(fn, "x", x, xOff, n);
  checkRange(fn, "y", y, yOff, n);
  assertNumber(fn, "rho", rho);
  // A restart: x's old values (NaN, ±Inf included) take no part; on finite x the formula's bits but for a
  // zero's sign (0·x is −0 for x < 0).
  if (rho === 0) x.fill(0, xOff, xOff + n);
  const w = 1 - rho;
  if (y instanceof Float32Array && useWasm(n) && stageable(x, n) && stageable(y, n)) {
    const [xs, ys] = layout(x.length * 8, y.length * 4);
    put(x, xs);
    put(y, ys);
    kernels().vec.decay64of32(xs + xOff * 8, ys + yOff * 4, Math.ceil(n / 2), rho, w);
    x.set(block<Float64Array>(8, xs + xOff * 8, n), xOff);
    return;
  }
  for (let i = 0; i < n; i++) x[xOff + i] = rho * (x[xOff + i] as number) + w * (y[yOff + i] as number);
}

/**
 * out[outOff + i] ← q, +0 where 0 < |q| < tiny, with q = r[rOff + i] / (s[sOff + i] + damping) in
 * float64, for i < n (the quotients of a diagonal preconditioner). `out` may be r itself at the same
 * offset.
 */
export function quotientFlushedInto(
  r: FloatArray,
  rOff: number,
  s: Float64Array,
  sOff: number,
  damping: number,
  out: FloatArray,
  outOff: number,
  n: number,
  tiny: number,
): void {
  const fn = "quotientFlushedInto";
  assertFloatArray(fn, "r", r);
  assertFloat64(fn, "s", s);
  assertFloatArray(fn, "out", out);
  checkRange(fn, "r", r, rOff, n);
  checkRange(fn, "s", s, sOff, n);
  checkRange(fn, "out", out, outOff, n);
  assertNumber(fn, "damping", damping);
  assertNumber(fn, "tiny", tiny);
  if (r instanceof Float32Array && out instanceof Float32Array && useWasm(n) && stageable(r, n) && stageable(s, n)) {
    const [rs, ss, os] = layout(r.length * 4, s.length * 8, n * 4);
    put(r, rs);
    put(s, ss);
    kernels().vec.quotient32(rs + rOff * 4, ss + sOff * 8, os, Math.ceil(n / 2), damping, tiny);
    out.set(block<Float32Array>(4, os, n), outOff);
    return;
  }
  for (let i = 0; i < n; i++) {
    const q = (r[rOff + i] as number) / ((s[sOff + i] as number) + damping);
    out[outOff + i] = tinyNonzero(q, tiny) ? 0 : q;
  }
}

/**
 * The quotients of a Kronecker-factored preconditioner in its eigenbasis: for the rows × cols matrix r
 * (row-major from rOff), out[i, j] ← q, +0 where 0 < |q| < tiny, with
 * q = r[i, j] / ((lamG[gOff + i] + cG)·(lamA[aOff + j] + cA) + add) in float64. `out` (from outOff,
 * same layout) may be r itself at the same offset.
 */
export function quotientOuterFlushedInto(
  r: FloatArray,
  rOff: number,
  lamG: Float64Array,
  gOff: number,
  lamA: Float64Array,
  aOff: number,
  out: FloatArray,
  outOff: number,
  rows: number,
  cols: number,
  cG: number,
  cA: number,
  add: number,
  tiny: number,
): void {
  const fn = "quotientOuterFlushedInto";
  assertFloatArray(fn, "r", r);
  assertFloat64(fn, "lamG", lamG);
  assertFloat64(fn, "lamA", lamA);
  assertFloatArray(fn, "out", out);
  assertIndex(fn, "rows", rows);
  assertIndex(fn, "cols", cols);
  const n = rows * cols;
  checkRange(fn, "r", r, rOff, n);
  checkRange(fn, "lamG", lamG, gOff, rows);
  checkRange(fn, "lamA", lamA, aOff, cols);
  checkRange(fn, "out", out, outOff, n);
  for (const [name, v] of [
    ["cG", cG],
    ["cA", cA],
    ["add", add],
    ["tiny", tiny],
  ] as const)
    assertNumber(fn, name, v);
  if (
    r instanceof Float32Array &&
    out instanceof Float32Array &&
    useWasm(n) &&
    stageable(r, n) &&
    stageable(lamG, rows) &&
    stageable(lamA, cols)
  ) {
    const [rs, gs, as, os] = layout(r.length * 4, lamG.length * 8, lamA.length * 8, n * 4);
    put(r, rs);
    put(lamG, gs);
    put(lamA, as);
    const k = kernels().vec;
    k.quotientOuter32(
      rs + rOff * 4,
      gs + gOff * 8,
      as + aOff * 8,
      os,
      rows,
      Math.ceil(cols / 2),
      cols * 4,
      cG,
      cA,
      add,
      tiny,
    );
    out.set(block<Float32Array>(4, os, n), outOff);
    return;
  }
  for (let i = 0; i < rows; i++) {
    const gi = (lamG[gOff + i] as number) + cG;
    for (let j = 0; j < cols; j++) {
      const q = (r[rOff + i * cols + j] as number) / (gi * ((lamA[aOff + j] as number) + cA) + add);
      out[outOff + i * cols + j] = tinyNonzero(q, tiny) ? 0 : q;
    }
  }
}

/** Tile side of the mirror in `foldLowerSymmetric` (a 32 × 32 float64 tile is 8 KB: both tiles in L1). */
const MIRROR_TILE = 32;

/**
 * The running average of a symmetric matrix from a lower-triangular update: for the d × d float64
 * matrix x (row-major from xOff) and the float32 f (d × d from 0, only its lower triangle with the
 * diagonal read — what syrk writes), x[i, j] ← rho·x[i, j] + (1 − rho)·f[i, j] for j ≤ i, then
 * x[j, i] ← x[i, j] (both triangles hold the average). rho = 0 overwrites x with f's triangle whatever
 * x held (NaN included), as `decayInto` does. `fOff`: where f's d × d starts (default 0).
 */
export function foldLowerSymmetric(
  x: Float64Array,
  xOff: number,
  f: Float32Array,
  d: number,
  rho: number,
  fOff = 0,
): void {
  const fn = "foldLowerSymmetric";
  assertFloat64(fn, "x", x);
  assertFloat32(fn, "f", f);
  assertIndex(fn, "d", d);
  checkRange(fn, "x", x, xOff, d * d);
  checkRange(fn, "f", f, fOff, d * d);
  assertNumber(fn, "rho", rho);
  if (rho === 0) x.fill(0, xOff, xOff + d * d);
  const w = 1 - rho;
  if (useWasm(d * d) && stageable(x, d * d) && stageable(f, d * d)) {
    const [xs, fs] = layout(x.length * 8, f.length * 4);
    put(x, xs);
    put(f, fs);
    kernels().vec.foldLower64(xs + xOff * 8, fs + fOff * 4, d, rho, w);
    kernels().vec.mirror64(xs + xOff * 8, d, MIRROR_TILE);
    x.set(block<Float64Array>(8, xs + xOff * 8, d * d), xOff);
    return;
  }
  for (let i = 0; i < d; i++) {
    const row = xOff + i * d;
    for (let j = 0; j <= i; j++) x[row + j] = rho * (x[row + j] as number) + w * (f[fOff + i * d + j] as number);
  }
  mirrorLower(x, xOff, d);
}

/** x[j, i] ← x[i, j] for j < i (d × d from off), in MIRROR_TILE tiles (the column writes stay in cache). */
function mirrorLower(x: Float64Array, off: number, d: number): void {
  const B = MIRROR_TILE;
  for (let i0 = 0; i0 < d; i0 += B) {
    const i1 = Math.min(d, i0 + B);
    for (let j0 = 0; j0 <= i0; j0 += B) {
      const j1 = Math.min(d, j0 + B);
      for (let i = i0; i < i1; i++) {
        const row = off + i * d;
        const end = Math.min(j1, i);
        for (let j = j0; j < end; j++) x[off + j * d + i] = x[row + j] as number;
      }
    }
  }
}

/** Checks a rows × cols block at off with leading dimension ld ≥ cols inside x. */
function checkRows(fn: string, name: string, x: FloatArray, off: number, ld: number, rows: number, cols: number): void {
  assertIndex(fn, `${name} offset`, off);
  assertIndex(fn, `${name} stride`, ld);
  if (rows > 0 && cols > 0) {
    if (ld < cols) throw new RangeError(`${fn}: ${name} stride ${ld} is less than cols ${cols}`);
    const end = off + (rows - 1) * ld + cols;
    if (end > x.length) {
      throw new RangeError(
        `${fn}: ${name} has ${x.length} entries, fewer than the ${rows} × ${cols} block ending at ${end}`,
      );
    }
  }
}

/**
 * Copies a rows × cols block between arrays of either element type, scaled (LAPACK's slag2d/dlag2s
 * with a scale): dst[dstOff + r·dstStride + j] ← scale·src[srcOff + r·srcStride + j], the product in
 * float64 then stored in dst's type, the entries between rows untouched (with `keepGaps` false their
 * content afterwards is unspecified: for a caller that writes them next, which saves copying dst into
 * the wasm memory); src and dst must not overlap. Float32 → float64 with scale 1 (exact), float64 → float32 and float32 → float32 go to the
 * SIMD loops.
 */
export function convertRowsInto(
  src: FloatArray,
  srcOff: number,
  srcStride: number,
  dst: FloatArray,
  dstOff: number,
  dstStride: number,
  rows: number,
  cols: number,
  scale = 1,
  keepGaps = true,
): void {
  const fn = "convertRowsInto";
  assertFloatArray(fn, "src", src);
  assertFloatArray(fn, "dst", dst);
  assertIndex(fn, "rows", rows);
  assertIndex(fn, "cols", cols);
  checkRows(fn, "src", src, srcOff, srcStride, rows, cols);
  checkRows(fn, "dst", dst, dstOff, dstStride, rows, cols);
  assertNumber(fn, "scale", scale);
  const spanS = rows === 0 || cols === 0 ? 0 : (rows - 1) * srcStride + cols;
  const spanD = rows === 0 || cols === 0 ? 0 : (rows - 1) * dstStride + cols;
  if (overlaps(src, srcOff, spanS, dst, dstOff, spanD)) throw new RangeError(`${fn}: src and dst overlap`);
  const n = rows * cols;
  const widen = src instanceof Float32Array && dst instanceof Float64Array && scale === 1;
  const narrow = src instanceof Float64Array && dst instanceof Float32Array;
  const single = src instanceof Float32Array && dst instanceof Float32Array;
  const simd = widen || narrow || single;
  if (simd && src.buffer !== dst.buffer && useWasm(n) && stageable(src, n) && stageable(dst, n)) {
    const ss = src.BYTES_PER_ELEMENT;
    const ds = dst.BYTES_PER_ELEMENT;
    const [s, d] = layout(src.length * ss, dst.length * ds);
    put(src, s);
    // dst goes in too: the entries between its rows must come back out as they were (unless the
    // caller writes them next and said so).
    if (keepGaps && dstStride > cols && rows > 1) put(dst, d);
    const a = s + srcOff * ss;
    const b = d + dstOff * ds;
    const k = kernels().vec;
    if (widen) k.widenRows(a, b, rows, cols, srcStride * ss, dstStride * ds, 1);
    else if (narrow) k.narrowRows(a, b, rows, cols, srcStride * ss, dstStride * ds, scale);
    else k.scaleRows32(a, b, rows, cols, srcStride * ss, dstStride * ds, scale);
    const span = (rows - 1) * dstStride + cols;
    if (ds === 8) dst.set(block<Float64Array>(8, b, span), dstOff);
    else dst.set(block<Float32Array>(4, b, span), dstOff);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = srcOff + r * srcStride;
    const d = dstOff + r * dstStride;
    for (let j = 0; j < cols; j++) dst[d + j] = scale * (src[s + j] as number);
  }
}

/**
 * x[xOff + i] ← s·x[xOff + i] for i < n, in place, computed in float64 and stored in x's type (BLAS
 * scal): an optimizer's learning-rate or clipping scale over every parameter. The float32 SIMD loop
 * is convertRowsInto's (one row, reading and writing the same place in the memory).
 */
export function scaleInto(x: FloatArray, xOff: number, n: number, s: number): void {
  const fn = "scaleInto";
  assertFloatArray(fn, "x", x);
  checkRange(fn, "x", x, xOff, n);
  assertNumber(fn, "s", s);
  if (x instanceof Float32Array && useWasm(n)) {
    const [at] = layout(n * 4);
    putRange(x, xOff, n, at);
    kernels().vec.scaleRows32(at, at, 1, n, n * 4, n * 4, s);
    x.set(block<Float32Array>(4, at, n), xOff);
    return;
  }
  for (let i = 0; i < n; i++) x[xOff + i] = s * (x[xOff + i] as number);
}

/**
 * y[yOff + i] ← a·y[yOff + i] + b·x[xOff + i] for i < n, computed in float64 and stored in y's type
 * (BLAS axpby); with `copyBack` also x[xOff + i] ← the stored y[yOff + i] (the heavy-ball momentum
 * buffer and the update it becomes). x and y must not overlap.
 */
export function axpbyInto(
  y: FloatArray,
  yOff: number,
  x: FloatArray,
  xOff: number,
  n: number,
  a: number,
  b: number,
  copyBack = false,
): void {
  const fn = "axpbyInto";
  assertFloatArray(fn, "y", y);
  assertFloatArray(fn, "x", x);
  checkRange(fn, "y", y, yOff, n);
  checkRange(fn, "x", x, xOff, n);
  assertNumber(fn, "a", a);
  assertNumber(fn, "b", b);
  if (overlaps(x, xOff, n, y, yOff, n)) throw new RangeError(`${fn}: x and y overlap`);
  const wasm = y instanceof Float32Array && x instanceof Float32Array && x.buffer !== y.buffer;
  if (wasm && useWasm(n) && stageable(y, n) && stageable(x, n)) {
    const [ys, xs] = layout(y.length * 4, x.length * 4);
    put(y, ys);
    put(x, xs);
    kernels().vec.axpby32(ys + yOff * 4, xs + xOff * 4, Math.ceil(n / 2), a, b, copyBack ? 1 : 0);
    y.set(block<Float32Array>(4, ys + yOff * 4, n), yOff);
    if (copyBack) x.set(block<Float32Array>(4, xs + xOff * 4, n), xOff);
    return;
  }
  if (copyBack) {
    for (let i = 0; i < n; i++) {
      y[yOff + i] = a * (y[yOff + i] as number) + b * (x[xOff + i] as number);
      x[xOff + i] = y[yOff + i] as number;
    }
    return;
  }
  for (let i = 0; i < n; i++) y[yOff + i] = a * (y[yOff + i] as number) + b * (x[xOff + i] as number);
}

/**
 * out[outOff + i] ← σ(x[xOff + i]) = 1/(1 + e^(−x)) in float64, for i < n: the logistic function of
 * internal/exp.ts (a fixed sequence of float64 operations — fdlibm's argument reduction and a Taylor
 * polynomial — so every engine and both paths give the same bits; within a few ulps of the same formula
 * with `Math.exp`, with σ(v) = +0 exactly for v < −708, σ(±0) = ½, σ(+∞) = 1, σ(−∞) = +0, σ(NaN) = NaN).
 * x is float32 or float64; x and out must not overlap. Cost: one pass, ≈ 30 float64 operations per
 * entry (the wasm loop two lanes at a time).
 */
export function sigmoidInto(x: FloatArray, xOff: number, out: Float64Array, outOff: number, n: number): void {
  const fn = "sigmoidInto";
  assertFloatArray(fn, "x", x);
  assertFloat64(fn, "out", out);
  checkRange(fn, "x", x, xOff, n);
  checkRange(fn, "out", out, outOff, n);
  if (overlaps(x, xOff, n, out, outOff, n)) throw new RangeError(`${fn}: x and out overlap`);
  if (useWasm(n)) {
    const size = x.BYTES_PER_ELEMENT as 4 | 8;
    const [xs, os] = layout(n * size, n * 8);
    putRange(x, xOff, n, xs);
    kernels().vec.sigmoid64(xs, os, Math.ceil(n / 2), size === 4 ? 1 : 0, 0, 1);
    out.set(block<Float64Array>(8, os, n), outOff);
    return;
  }
  for (let i = 0; i < n; i++) out[outOff + i] = logistic(x[xOff + i] as number);
}

/**
 * out[outOff + i] ← (p − [u[i] < p]) / divisor with p = σ(x[xOff + i]) in x's precision, for i < n: the
 * residual p − y of a target y ~ Bernoulli(p) drawn by comparing the uniform u[i] with p (y = 1 when
 * u < p), divided in float64 — the sampled-target signal of a sigmoid output (nn's true Fisher),
 * without p ever leaving the kernel. σ is `sigmoidInto`'s float64 logistic for float64 x and its
 * float32 twin `logistic32` (internal/exp.ts, MATH.md §12) for float32 x: a float32 model's signal is
 * float32 once it enters the backward, and the float32 form runs four lanes at a time (1.24 → 0.72 ms
 * for 196,000 outputs, the demo autoencoder's batch, copies included; Node 20, 2026-12-05). Returns false when some
 * σ(x) was NaN (x NaN), whose output is then NaN; true otherwise. One SIMD pass on the wasm path (σ
 * and the draw fused), the same bits in the JS loop.
 */
export function bernoulliResidualInto(
  x: FloatArray,
  xOff: number,
  u: Float64Array,
  out: Float64Array,
  outOff: number,
  n: number,
  divisor: number,
): boolean {
  const fn = "bernoulliResidualInto";
  assertFloatArray(fn, "x", x);
  assertFloat64(fn, "u", u);
  assertFloat64(fn, "out", out);
  checkRange(fn, "x", x, xOff, n);
  checkRange(fn, "u", u, 0, n);
  checkRange(fn, "out", out, outOff, n);
  assertNumber(fn, "divisor", divisor);
  if (!(divisor !== 0 && Number.isFinite(divisor))) {
    throw new RangeError(`${fn}: divisor must be a finite nonzero number (got ${divisor})`);
  }
  if (overlaps(x, xOff, n, out, outOff, n) || overlaps(u, 0, n, out, outOff, n)) {
    throw new RangeError(`${fn}: out overlaps x or u`);
  }
  const single = x instanceof Float32Array;
  if (useWasm(n)) {
    if (single) {
      // Four lanes per step: up to three padding lanes, x's zeroed (σ = ½: no NaN from stale memory).
      const quads = Math.ceil(n / 4);
      const [xs, us, os] = layout(quads * 16, quads * 32, quads * 32);
      putRange(x, xOff, n, xs);
      putRange(u, 0, n, us);
      memoryView(4).fill(0, xs / 4 + n, xs / 4 + quads * 4);
      const nan = kernels().vec.bernoulli32(xs, os, quads, us, divisor);
      out.set(block<Float64Array>(8, os, n), outOff);
      return nan === 0;
    }
    const [xs, us, os] = layout(n * 8, n * 8, n * 8);
    putRange(x, xOff, n, xs);
    putRange(u, 0, n, us);
    // An odd n leaves one padding lane: zeroed, so that stale memory cannot raise the NaN flag.
    if (n & 1) memoryView(8).fill(0, xs / 8 + n, xs / 8 + n + 1);
    const nan = kernels().vec.sigmoid64(xs, os, Math.ceil(n / 2), 0, us, divisor);
    out.set(block<Float64Array>(8, os, n), outOff);
    return nan === 0;
  }
  let nan = 0;
  for (let i = 0; i < n; i++) {
    const p = single ? logistic32(x[xOff + i] as number) : logistic(x[xOff + i] as number);
    const r = (p - +((u[i] as number) < p)) / divisor;
    out[outOff + i] = r;
    nan += +Number.isNaN(r); // a count, not a branch (as the SIMD loop's lane mask)
  }
  return nan === 0;
}

let intView: Int32Array = new Int32Array(0);

/** The memory as int32 (rebuilt after a grow, like the float views). */
function memoryInt32(): Int32Array {
  const buffer = memoryView(4).buffer;
  if (intView.buffer !== buffer) {
    intView = new Int32Array(buffer);
    viewsMade++;
  }
  return intView;
}

/** Checks the column indices (each in [0, ld)) and the row blocks of a gather or scatter. */
function checkColumns(fn: string, cols: Int32Array, m: number, ld: number): void {
  if (!(cols instanceof Int32Array)) throw new TypeError(`${fn}: cols must be an Int32Array (got ${kindOf(cols)})`);
  assertIndex(fn, "m", m);
  if (m > cols.length) throw new RangeError(`${fn}: m = ${m} exceeds cols.length = ${cols.length}`);
  for (let j = 0; j < m; j++) {
    const c = cols[j] as number;
    if (c < 0 || c >= ld) throw new RangeError(`${fn}: cols[${j}] = ${c} is outside [0, ${ld})`);
  }
}

/**
 * Chosen columns of a row-major block, in the order of `cols`: out[outOff + r·ldo + j] ←
 * x[xOff + r·ldx + cols[j]] for r < rows, j < m (each cols[j] in [0, ldx)). x and out must not overlap.
 */
export function gatherColumnsInto(
  x: FloatArray,
  xOff: number,
  ldx: number,
  rows: number,
  cols: Int32Array,
  m: number,
  out: FloatArray,
  outOff: number,
  ldo: number,
): void {
  const fn = "gatherColumnsInto";
  permuteColumns(fn, false, x, xOff, ldx, rows, cols, m, out, outOff, ldo);
}

/**
 * The inverse placement: out[outOff + r·ldo + cols[j]] ← x[xOff + r·ldx + j] for r < rows, j < m
 * (each cols[j] in [0, ldo); the other entries of out untouched — with `keepOthers` false their
 * content afterwards is unspecified, for a caller that writes them next; repeated indices: the last
 * wins). x and out must not overlap.
 */
export function scatterColumnsInto(
  x: FloatArray,
  xOff: number,
  ldx: number,
  rows: number,
  cols: Int32Array,
  m: number,
  out: FloatArray,
  outOff: number,
  ldo: number,
  keepOthers = true,
): void {
  const fn = "scatterColumnsInto";
  permuteColumns(fn, true, x, xOff, ldx, rows, cols, m, out, outOff, ldo, keepOthers);
}

function permuteColumns(
  fn: string,
  scatter: boolean,
  x: FloatArray,
  xOff: number,
  ldx: number,
  rows: number,
  cols: Int32Array,
  m: number,
  out: FloatArray,
  outOff: number,
  ldo: number,
  keep = true,
): void {
  assertFloatArray(fn, "x", x);
  assertFloatArray(fn, "out", out);
  assertIndex(fn, "rows", rows);
  checkColumns(fn, cols, m, scatter ? ldo : ldx);
  const xCols = scatter ? m : ldx;
  const oCols = scatter ? ldo : m;
  checkRows(fn, "x", x, xOff, ldx, rows, Math.min(xCols, ldx));
  checkRows(fn, "out", out, outOff, ldo, rows, Math.min(oCols, ldo));
  if (!scatter && m > ldo) throw new RangeError(`${fn}: out stride ${ldo} is less than m ${m}`);
  if (scatter && m > ldx) throw new RangeError(`${fn}: x stride ${ldx} is less than m ${m}`);
  const spanX = rows === 0 ? 0 : (rows - 1) * ldx + xCols;
  const spanO = rows === 0 ? 0 : (rows - 1) * ldo + oCols;
  if (overlaps(x, xOff, spanX, out, outOff, spanO)) throw new RangeError(`${fn}: x and out overlap`);
  const n = rows * m;
  if (
    x instanceof Float32Array &&
    out instanceof Float32Array &&
    x.buffer !== out.buffer &&
    useWasm(n) &&
    stageable(x, spanX) &&
    stageable(out, spanO)
  ) {
    const [xs, is, os] = layout(x.length * 4, m * 4, out.length * 4);
    put(x, xs);
    // The indices by a loop (m ≤ a row's length): a subarray of a longer cols would be an allocation.
    const iv = memoryInt32();
    for (let j = 0, at = is / 4; j < m; j++) iv[at + j] = cols[j] as number;
    // Entries of out the kernel does not write (a scatter's other columns, a gather's gaps between
    // rows) must come back out as they were: out goes in too, unless the caller writes them next.
    if (keep && (scatter || (ldo > m && rows > 1))) put(out, os);
    const k = kernels().vec;
    (scatter ? k.scatter32 : k.gather32)(xs + xOff * 4, ldx * 4, rows, is, m, os + outOff * 4, ldo * 4);
    out.set(block<Float32Array>(4, os + outOff * 4, spanO), outOff);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const xr = xOff + r * ldx;
    const or = outOff + r * ldo;
    if (scatter) for (let j = 0; j < m; j++) out[or + (cols[j] as number)] = x[xr + j] as number;
    else for (let j = 0; j < m; j++) out[or + j] = x[xr + (cols[j] as number)] as number;
  }
}
