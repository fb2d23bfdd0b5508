/**
 * BLAS level 1 and 2 and the elementwise matrix helpers, over `Matrix` (strided views accepted) and
 * plain Float32Array / Float64Array vectors.
 *
 * Equations: axpy y ← α·x + y; scal x ← α·x; dot xᵀy; gemv y ← α·op(A)·x + β·y (reference BLAS
 * xAXPY, xSCAL, xDOT, xGEMV); ‖A‖_F = sqrt(Σ a_ij²); ‖A‖_max = max |a_ij|.
 *
 * Deviations: every sum accumulates in double (JavaScript arithmetic is float64), so float32 dot
 * products and gemv are rounded once, on the final store. `normFrobenius` first sums squares
 * directly and only falls back to the scaled two-pass form (as in LAPACK xLANGE/xNRM2, scaling by
 * max |a_ij|) when that sum overflowed, underflowed or is not finite: one fast pass in the common case,
 * no overflow ever. β = 0 overwrites y as in BLAS (NaN in y vanish); α = 0 in gemv does not read A.
 * Not hot paths: `map`, `zip` take callbacks. Every `…Into` function writes `out` and returns it; `out`
 * may be exactly an input (same buffer, offset and stride) for elementwise ops, never a partial overlap.
 *
 * Cost: O(size) for everything except gemv (2mn flops). transposeInto works in 32×32 blocks so reads
 * and writes stay in cache.
 */
import {
  assertAlphaBeta,
  assertDisjoint,
  assertFloatArray,
  assertFunction,
  assertMatrix,
  assertNoPartialOverlap,
  assertNumber,
  assertSameDtype,
  assertSameLength,
  assertSameShape,
  lengthError,
  shapeError,
} from "./internal/checks.ts";
import { gemvKernel } from "./internal/gemv-kernel.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, offsetOf, shapeOf, strideOf } from "./matrix.ts";

function newLike(a: Matrix, rows = a.rows, cols = a.cols): Matrix {
  return { rows, cols, data: allocate(rows * cols, dtypeOf(a.data)) };
}

// ---------------------------------------------------------------------------------------------------
// Level 1 on vectors

/** xᵀy, accumulated in double. */
export function dot(x: FloatArray, y: FloatArray): number {
  assertFloatArray("dot", "x", x);
  assertFloatArray("dot", "y", y);
  assertSameDtype("dot", "x", x, "y", y);
  assertSameLength("dot", "x", x, "y", y);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) * (y[i] as number);
  return s;
}

/** y ← α·x + y; returns y. x and y may be the same array (y ← (1 + α)·y). */
export function axpy<T extends FloatArray>(alpha: number, x: T, y: T): T {
  assertNumber("axpy", "alpha", alpha);
  assertFloatArray("axpy", "x", x);
  assertFloatArray("axpy", "y", y);
  assertSameDtype("axpy", "x", x, "y", y);
  assertSameLength("axpy", "x", x, "y", y);
  if (alpha === 0) return y;
  for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + alpha * (x[i] as number);
  return y;
}

/** x ← α·x; returns x. α = 0 writes zeros (NaN vanish, as with β = 0 in gemm). */
export function scal<T extends FloatArray>(alpha: number, x: T): T {
  assertNumber("scal", "alpha", alpha);
  assertFloatArray("scal", "x", x);
  if (alpha === 0) x.fill(0);
  else if (alpha !== 1) for (let i = 0; i < x.length; i++) x[i] = alpha * (x[i] as number);
  return x;
}

// ---------------------------------------------------------------------------------------------------
// Level 2

/**
 * y ← α·op(A)·x + β·y, op(A) = A or Aᵀ (m×n after op); x has n elements, y has m. β = 0 overwrites y.
 * y must not share its buffer with A or x. Sums accumulate in double (transposed case: in a reused
 * module-level double workspace, so nothing is allocated after warm-up); see internal/gemv-kernel.ts.
 */
export function gemv<T extends FloatArray>(trans: boolean, alpha: number, a: Matrix, x: T, beta: number, y: T): T {
  const fn = "gemv";
  assertMatrix(fn, "a", a);
  assertFloatArray(fn, "x", x);
  assertFloatArray(fn, "y", y);
  assertAlphaBeta(fn, alpha, beta);
  assertSameDtype(fn, "a", a.data, "x", x);
  assertSameDtype(fn, "a", a.data, "y", y);
  const m = trans ? a.cols : a.rows;
  const n = trans ? a.rows : a.cols;
  if (x.length !== n) throw lengthError(fn, "x", x.length, n, `${trans ? "aᵀ" : "a"} is ${m}×${n}`);
  if (y.length !== m) throw lengthError(fn, "y", y.length, m, `${trans ? "aᵀ" : "a"} is ${m}×${n}`);
  if (y === x || y === a.data || y.buffer === x.buffer || y.buffer === a.data.buffer) {
    throw new RangeError(`${fn}: y must not share its buffer with a or x`);
  }
  gemvKernel(trans, m, n, alpha, a.data, offsetOf(a), strideOf(a), x, 0, 1, beta, y, 0, 1);
  return y;
}

// ---------------------------------------------------------------------------------------------------
// Norms

/** True for a Matrix record, false for a bare typed-array vector. */
function isMatrix(a: Matrix | FloatArray): a is Matrix {
  return !(a instanceof Float32Array || a instanceof Float64Array);
}

/** max |a_ij| (0 for an empty input; NaN if any element is NaN). */
export function normMaxAbs(a: Matrix | FloatArray): number {
  const fn = "normMaxAbs";
  if (!isMatrix(a)) return maxAbsStrided(a, 0, a.length, 1, a.length);
  assertMatrix(fn, "a", a);
  return maxAbsStrided(a.data, offsetOf(a), a.cols, a.rows, strideOf(a));
}

function maxAbsStrided(d: FloatArray, off: number, cols: number, rows: number, ld: number): number {
  let mx = 0;
  for (let i = 0; i < rows; i++) {
    const row = off + i * ld;
    for (let j = 0; j < cols; j++) {
      const v = Math.abs(d[row + j] as number);
      if (v > mx) mx = v;
      else if (Number.isNaN(v)) return Number.NaN;
    }
  }
  return mx;
}

/** Below this a sum of squares may have lost terms to underflow; above it, float64 may overflow. */
const SSQ_MIN = 2 ** -900;
const SSQ_MAX = 2 ** 1000;

/** ‖A‖_F = sqrt(Σ a_ij²) without overflow or harmful underflow (NaN if any NaN, else Inf if any ±Inf). */
export function normFrobenius(a: Matrix | FloatArray): number {
  const fn = "normFrobenius";
  let d: FloatArray;
  let off = 0;
  let rows = 1;
  let cols: number;
  let ld: number;
  if (isMatrix(a)) {
    assertMatrix(fn, "a", a);
    d = a.data;
    off = offsetOf(a);
    rows = a.rows;
    cols = a.cols;
    ld = strideOf(a);
  } else {
    d = a;
    cols = a.length;
    ld = a.length;
  }
  let s = 0;
  for (let i = 0; i < rows; i++) {
    const row = off + i * ld;
    for (let j = 0; j < cols; j++) {
      const v = d[row + j] as number;
      s += v * v;
    }
  }
  if (s >= SSQ_MIN && s <= SSQ_MAX) return Math.sqrt(s);
  // Rare path: scale by the largest magnitude (also sorts out NaN and ±Inf).
  const scale = maxAbsStrided(d, off, cols, rows, ld);
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let t = 0;
  for (let i = 0; i < rows; i++) {
    const row = off + i * ld;
    for (let j = 0; j < cols; j++) {
      const v = (d[row + j] as number) / scale;
      t += v * v;
    }
  }
  return scale * Math.sqrt(t);
}

// ---------------------------------------------------------------------------------------------------
// Transpose

const TB = 32;

/** out = aᵀ (out is a.cols × a.rows and must not overlap a); blocked 32×32. */
export function transposeInto(out: Matrix, a: Matrix): Matrix {
  const fn = "transposeInto";
  assertMatrix(fn, "out", out);
  assertMatrix(fn, "a", a);
  assertSameDtype(fn, "a", a.data, "out", out.data);
  if (out.rows !== a.cols || out.cols !== a.rows)
    throw shapeError(fn, "out", out, `${a.cols}×${a.rows}`, `a is ${shapeOf(a)}`);
  assertDisjoint(fn, out, "a", a);
  const src = a.data;
  const dst = out.data;
  const offA = offsetOf(a);
  const lda = strideOf(a);
  const offO = offsetOf(out);
  const ldo = strideOf(out);
  for (let i0 = 0; i0 < a.rows; i0 += TB) {
    const i1 = Math.min(a.rows, i0 + TB);
    for (let j0 = 0; j0 < a.cols; j0 += TB) {
      const j1 = Math.min(a.cols, j0 + TB);
      for (let i = i0; i < i1; i++) {
        const row = offA + i * lda;
        for (let j = j0; j < j1; j++) dst[offO + j * ldo + i] = src[row + j] as number;
      }
    }
  }
  return out;
}

/** aᵀ in a new matrix of a's element type. */
export function transpose(a: Matrix): Matrix {
  assertMatrix("transpose", "a", a);
  return transposeInto(newLike(a, a.cols, a.rows), a);
}

// ---------------------------------------------------------------------------------------------------
// Elementwise

/** out[i, j] = f(a[i, j], i, j). */
export function mapInto(out: Matrix, a: Matrix, f: (value: number, i: number, j: number) => number): Matrix {
  const fn = "mapInto";
  checkUnary(fn, out, a);
  assertFunction(fn, "f", f);
  for (let i = 0; i < a.rows; i++) {
    const ra = rowStart(a, i);
    const ro = rowStart(out, i);
    for (let j = 0; j < a.cols; j++) out.data[ro + j] = f(a.data[ra + j] as number, i, j);
  }
  return out;
}

/** Index of element (i, 0) of `m` in m.data (the callback forms index row by row; not hot paths). */
function rowStart(m: Matrix, i: number): number {
  return offsetOf(m) + i * strideOf(m);
}

/** f applied elementwise, in a new matrix. */
export function map(a: Matrix, f: (value: number, i: number, j: number) => number): Matrix {
  assertMatrix("map", "a", a);
  return mapInto(newLike(a), a, f);
}

/** out[i, j] = f(a[i, j], b[i, j], i, j). */
export function zipInto(
  out: Matrix,
  a: Matrix,
  b: Matrix,
  f: (x: number, y: number, i: number, j: number) => number,
): Matrix {
  const fn = "zipInto";
  checkBinary(fn, out, a, b);
  assertFunction(fn, "f", f);
  for (let i = 0; i < a.rows; i++) {
    const ra = rowStart(a, i);
    const rb = rowStart(b, i);
    const ro = rowStart(out, i);
    for (let j = 0; j < a.cols; j++) out.data[ro + j] = f(a.data[ra + j] as number, b.data[rb + j] as number, i, j);
  }
  return out;
}

/** f applied to matching elements of a and b, in a new matrix. */
export function zip(a: Matrix, b: Matrix, f: (x: number, y: number, i: number, j: number) => number): Matrix {
  assertMatrix("zip", "a", a);
  return zipInto(newLike(a), a, b, f);
}

/** out = f(a) elementwise: same dtype and shape; out may be exactly a, never a partial overlap. */
function checkUnary(fn: string, out: Matrix, a: Matrix): void {
  assertMatrix(fn, "out", out);
  assertMatrix(fn, "a", a);
  assertSameDtype(fn, "a", a.data, "out", out.data);
  assertSameShape(fn, "a", a, "out", out);
  assertNoPartialOverlap(fn, out, "a", a);
}

/** out = f(a, b) elementwise: as `checkUnary` for both inputs, b checked against a. */
function checkBinary(fn: string, out: Matrix, a: Matrix, b: Matrix): void {
  checkUnary(fn, out, a);
  assertMatrix(fn, "b", b);
  assertSameDtype(fn, "a", a.data, "b", b.data);
  assertSameShape(fn, "a", a, "b", b);
  assertNoPartialOverlap(fn, out, "b", b);
}

/** out = a + b; out may be a or b. */
export function addInto(out: Matrix, a: Matrix, b: Matrix): Matrix {
  checkBinary("addInto", out, a, b);
  return axpbyKernel(out, 1, a, 1, b);
}

/** out = a − b; out may be a or b. */
export function subInto(out: Matrix, a: Matrix, b: Matrix): Matrix {
  checkBinary("subInto", out, a, b);
  return axpbyKernel(out, 1, a, -1, b);
}

/** out = α·a; out may be a. */
export function scaleInto(out: Matrix, alpha: number, a: Matrix): Matrix {
  const fn = "scaleInto";
  assertNumber(fn, "alpha", alpha);
  checkUnary(fn, out, a);
  return axpbyKernel(out, alpha, a, 0, a);
}

/** a + b in a new matrix. */
export function add(a: Matrix, b: Matrix): Matrix {
  assertMatrix("add", "a", a);
  return addInto(newLike(a), a, b);
}

/** a − b in a new matrix. */
export function sub(a: Matrix, b: Matrix): Matrix {
  assertMatrix("sub", "a", a);
  return subInto(newLike(a), a, b);
}

/** α·a in a new matrix. */
export function scale(alpha: number, a: Matrix): Matrix {
  assertMatrix("scale", "a", a);
  return scaleInto(newLike(a), alpha, a);
}

/** out = α·a + β·b (β = 0: b is not read). */
function axpbyKernel(out: Matrix, alpha: number, a: Matrix, beta: number, b: Matrix): Matrix {
  const offA = offsetOf(a);
  const lda = strideOf(a);
  const offB = offsetOf(b);
  const ldb = strideOf(b);
  const offO = offsetOf(out);
  const ldo = strideOf(out);
  const o = out.data;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < out.rows; i++) {
    const ra = offA + i * lda;
    const rb = offB + i * ldb;
    const ro = offO + i * ldo;
    if (beta === 0) for (let j = 0; j < out.cols; j++) o[ro + j] = alpha * (x[ra + j] as number);
    else for (let j = 0; j < out.cols; j++) o[ro + j] = alpha * (x[ra + j] as number) + beta * (y[rb + j] as number);
  }
  return out;
}

/** Sets every element of `out` to `value`; returns out. */
export function fill(out: Matrix, value: number): Matrix {
  assertMatrix("fill", "out", out);
  assertNumber("fill", "value", value);
  const off = offsetOf(out);
  const ld = strideOf(out);
  for (let i = 0; i < out.rows; i++) out.data.fill(value, off + i * ld, off + i * ld + out.cols);
  return out;
}

/** out = a (element types must match; views allowed; out must not partially overlap a). */
export function copyInto(out: Matrix, a: Matrix): Matrix {
  const fn = "copyInto";
  checkUnary(fn, out, a);
  const offA = offsetOf(a);
  const lda = strideOf(a);
  const offO = offsetOf(out);
  const ldo = strideOf(out);
  for (let i = 0; i < a.rows; i++) {
    out.data.set(a.data.subarray(offA + i * lda, offA + i * lda + a.cols), offO + i * ldo);
  }
  return out;
}
