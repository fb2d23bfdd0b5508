/**
 * Kronecker products with the ROW-MAJOR vec convention of this project (MATH.md §1):
 * vec(X)[i·q + j] = X[i, j] for a p×q matrix X. Then, for B (m×p) and A (n×q),
 *
 *   (B ⊗ A)·vec(X) = vec(B·X·Aᵀ)                                  (m·n entries, B·X·Aᵀ is m×n)
 *
 * The papers use column-major vec, where the same identity reads (A ⊗ B)·vec_c(X) = vec_c(B·X·Aᵀ).
 * `kron(b, a)` forms B ⊗ A explicitly, (B ⊗ A)[i·n + k, j·q + l] = B[i, j]·A[k, l] — for tests and small
 * cases only (size m·n × p·q).
 * Aliasing: `kronMatVecInto` writes `scratch` while reading x and A, then `out` while reading B and
 * the scratch, so no two of out, scratch, x, A, B may share memory (a RangeError, as BLAS leaves such
 * calls undefined; here they would silently return wrong values). `kronMatVec` applies it WITHOUT forming it, as two small products
 * Y = X·Aᵀ (p×n) then B·Y (m×n): cost 2·p·q·n + 2·m·p·n flops instead of 2·m·n·p·q.
 */
import { assertDense, assertFloatArray, assertNoOverlap, assertSameDtype, lengthError } from "./internal/checks.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, shapeOf } from "./matrix.ts";

/** The explicit Kronecker product B ⊗ A ((m·n)×(p·q) for B m×p, A n×q). */
export function kron<T extends FloatArray>(b: Matrix<T>, a: Matrix<T>): Matrix<T> {
  const fn = "kron";
  assertDense(fn, "b", b);
  assertDense(fn, "a", a);
  assertSameDtype(fn, "b", b.data, "a", a.data);
  const rows = b.rows * a.rows;
  const cols = b.cols * a.cols;
  const out = allocate(rows * cols, dtypeOf(a.data)) as T;
  for (let i = 0; i < b.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      const bij = b.data[i * b.cols + j] as number;
      for (let k = 0; k < a.rows; k++) {
        const o = (i * a.rows + k) * cols + j * a.cols;
        for (let l = 0; l < a.cols; l++) out[o + l] = bij * (a.data[k * a.cols + l] as number);
      }
    }
  }
  return { rows, cols, data: out };
}

/** (B ⊗ A)·x for x = vec(X) (row-major, length p·q), without forming B ⊗ A. Returns a new vector. */
export function kronMatVec<T extends FloatArray>(b: Matrix<T>, a: Matrix<T>, x: T): T {
  const out = allocate(b.rows * a.rows, dtypeOf(a.data)) as T;
  return kronMatVecInto(out, b, a, x);
}

/**
 * `kronMatVec` into `out` (length m·n; must not alias x). `scratch`, if given, is a buffer of length
 * ≥ p·n for the intermediate X·Aᵀ, so repeated calls allocate nothing. Returns `out`.
 */
export function kronMatVecInto<T extends FloatArray>(
  out: T,
  b: Matrix<T>,
  a: Matrix<T>,
  x: T,
  scratch?: FloatArray,
): T {
  const fn = "kronMatVecInto";
  assertDense(fn, "b", b);
  assertDense(fn, "a", a);
  assertSameDtype(fn, "b", b.data, "a", a.data);
  assertFloatArray(fn, "x", x);
  assertFloatArray(fn, "out", out);
  assertSameDtype(fn, "a", a.data, "x", x);
  assertSameDtype(fn, "a", a.data, "out", out);
  const m = b.rows;
  const p = b.cols;
  const n = a.rows;
  const q = a.cols;
  if (x.length !== p * q || out.length !== m * n) {
    const shapes = `b is ${shapeOf(b)}, a is ${shapeOf(a)}`;
    if (x.length !== p * q) throw lengthError(fn, "x", x.length, `b.cols·a.cols = ${p}·${q} = ${p * q}`, shapes);
    throw lengthError(fn, "out", out.length, `b.rows·a.rows = ${m}·${n} = ${m * n}`, shapes);
  }
  assertNoOverlap(fn, "out", out, "x", x);
  assertNoOverlap(fn, "out", out, "a.data", a.data);
  assertNoOverlap(fn, "out", out, "b.data", b.data);
  if (scratch !== undefined) assertFloatArray(fn, "scratch", scratch);
  const y = scratch ?? new Float64Array(p * n);
  if (y.length < p * n) throw lengthError(fn, "scratch", y.length, `at least ${p * n}`);
  if (scratch !== undefined) {
    assertNoOverlap(fn, "scratch", scratch, "x", x);
    assertNoOverlap(fn, "scratch", scratch, "out", out);
    assertNoOverlap(fn, "scratch", scratch, "a.data", a.data);
    assertNoOverlap(fn, "scratch", scratch, "b.data", b.data);
  }
  const ad = a.data;
  const bd = b.data;
  // Y = X·Aᵀ: Y[i, k] = Σ_l X[i, l]·A[k, l] — a dot of two contiguous rows.
  for (let i = 0; i < p; i++) {
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let l = 0; l < q; l++) s += (x[i * q + l] as number) * (ad[k * q + l] as number);
      y[i * n + k] = s;
    }
  }
  // out = B·Y, row by row as axpys of contiguous rows of Y.
  out.fill(0);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < p; i++) {
      const bri = bd[r * p + i] as number;
      for (let k = 0; k < n; k++) out[r * n + k] = (out[r * n + k] as number) + bri * (y[i * n + k] as number);
    }
  }
  return out;
}
