/**
 * Cholesky factorisation A = L·Lᵀ of a symmetric positive definite A, triangular solves, SPD solves.
 *
 * Factor: GVL §4.2.5 (Cholesky, Alg. 4.2.1 gaxpy form), in its row-oriented "dot product" ordering
 * (Cholesky–Banachiewicz): L_ij = (a_ij − Σ_{k<j} L_ik L_jk) / L_jj, L_ii = √(a_ii − Σ_{k<i} L_ik²).
 * Deviation: row-oriented rather than GVL's column gaxpy, because in row-major storage the sums are dot
 * products of two contiguous rows of L. Reads only the LOWER triangle of A; the strict upper triangle of
 * the factor is set to 0. Cost n³/3 flops. Sums are accumulated in float64 (JS numbers) for both types.
 * A pivot that is not > 0 (including NaN) stops the factorisation with status "not-positive-definite"
 * and `failedAt` = that row; it never throws for indefinite or singular input.
 *
 * Triangular solve: op(T)·X = B by forward or backward substitution (GVL Alg. 3.1.1/3.1.2, row
 * versions), B and X n×k; each step is an axpy on a contiguous row of X. Cost n²k flops. Like BLAS
 * trsm, a zero diagonal is not checked for and yields ±Inf/NaN.
 *
 * Aliasing (as LAPACK: dpotrf factors in place, dtrsm overwrites B): `choleskyInto` may write over
 * `a` itself (row i of L only reads rows ≤ i of L and the element of A it replaces), and
 * `solveTriangularInto` over `b` itself. Any other sharing of memory — an `out` that is a shifted
 * subarray of the input's buffer, or an `out` overlapping `t` — is a RangeError, since the substitution
 * would read elements it has already overwritten.
 *
 * `spdSolve` and `spdInverse` THROW a RangeError when A is not positive definite (they have no useful
 * partial result); use `cholesky` and check `status` to branch without exceptions.
 */
import { assertDense, assertNoOverlap, assertSameDtype, assertSquare, shapeError } from "./internal/checks.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, shapeOf } from "./matrix.ts";
import { checkFlag, checkOptions, optionKeys } from "./options.ts";

/** Outcome of {@link cholesky}: it reports a non-positive pivot instead of throwing. */
export type CholeskyStatus = "success" | "not-positive-definite";

/** The factor of A = L·Lᵀ from {@link cholesky} and whether the factorisation completed. */
export interface CholeskyResult<T extends FloatArray = FloatArray> {
  /** "success", or "not-positive-definite" when a pivot was ≤ 0 or NaN (see `failedAt`). */
  readonly status: CholeskyStatus;
  /** Lower-triangular L with A = L·Lᵀ (upper triangle zero). Partial when status is not "success". */
  readonly factor: Matrix<T>;
  /** The row whose pivot was not positive, when status is "not-positive-definite". */
  readonly failedAt?: number;
}

/** A = L·Lᵀ (see the file header). */
export function cholesky<T extends FloatArray>(a: Matrix<T>): CholeskyResult<T> {
  assertSquare("cholesky", "a", a, "dense");
  const out = { rows: a.rows, cols: a.cols, data: allocate(a.rows * a.cols, dtypeOf(a.data)) as T };
  return choleskyInto(out, a);
}

/** `cholesky` writing L into `out` (n×n, same type); `out` may be `a` itself (in-place factorisation). */
export function choleskyInto<T extends FloatArray>(out: Matrix<T>, a: Matrix<T>): CholeskyResult<T> {
  const fn = "choleskyInto";
  assertSquare(fn, "a", a, "dense");
  assertDense(fn, "out", out);
  assertSameDtype(fn, "a", a.data, "out", out.data);
  const n = a.rows;
  if (out.rows !== n || out.cols !== n) throw shapeError(fn, "out", out, `${n}×${n}`, `a is ${shapeOf(a)}`);
  assertNoOverlap(fn, "out", out.data, "a", a.data, true);
  const ad = a.data;
  const l = out.data;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = ad[ri + j] as number;
      for (let k = 0; k < j; k++) s -= (l[ri + k] as number) * (l[rj + k] as number);
      if (i === j) {
        if (!(s > 0)) {
          l[ri + i] = s;
          for (let c = i + 1; c < n; c++) l[ri + c] = 0;
          return { status: "not-positive-definite", factor: out, failedAt: i };
        }
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / (l[rj + j] as number);
      }
    }
    for (let c = i + 1; c < n; c++) l[ri + c] = 0;
  }
  return { status: "success", factor: out };
}

/** Which triangle of T, and which of T·X = B or Tᵀ·X = B, {@link solveTriangular} solves. */
export interface TriangularOptions {
  /** T is lower triangular (default true); otherwise upper. Only that triangle is read. */
  readonly lower?: boolean;
  /** Solve Tᵀ·X = B instead of T·X = B (default false). */
  readonly transpose?: boolean;
  /** Assume a unit diagonal (not read) (default false). */
  readonly unitDiagonal?: boolean;
}

const TRIANGULAR_OPTIONS = optionKeys<TriangularOptions>()(["lower", "transpose", "unitDiagonal"]);

/** A square dense `t` (named `tName` in messages) and a dense `b` with as many rows, of one dtype. */
function checkSolveArgs(fn: string, t: Matrix, b: Matrix, tName = "t"): void {
  assertSquare(fn, tName, t, "dense");
  assertDense(fn, "b", b);
  assertSameDtype(fn, tName, t.data, "b", b.data);
  if (b.rows !== t.rows) {
    throw new RangeError(
      `${fn}: b has ${b.rows} rows, expected ${t.rows} (${tName} is ${shapeOf(t)}, b is ${shapeOf(b)})`,
    );
  }
}

/** X with op(T)·X = B, op(T) = T or Tᵀ, T triangular (see the file header). */
export function solveTriangular<T extends FloatArray>(
  t: Matrix<T>,
  b: Matrix<T>,
  options: TriangularOptions = {},
): Matrix<T> {
  checkSolveArgs("solveTriangular", t, b);
  const out = { rows: b.rows, cols: b.cols, data: allocate(b.data.length, dtypeOf(b.data)) as T };
  return solveTriangularInto(out, t, b, options);
}

/** `solveTriangular` into `out` (same shape as b); `out` may be `b` itself. Returns `out`. */
export function solveTriangularInto<T extends FloatArray>(
  out: Matrix<T>,
  t: Matrix<T>,
  b: Matrix<T>,
  options: TriangularOptions = {},
): Matrix<T> {
  const fn = "solveTriangularInto";
  checkSolveArgs(fn, t, b);
  assertDense(fn, "out", out);
  assertSameDtype(fn, "b", b.data, "out", out.data);
  if (out.rows !== b.rows || out.cols !== b.cols) throw shapeError(fn, "out", out, shapeOf(b));
  assertNoOverlap(fn, "out", out.data, "t", t.data);
  assertNoOverlap(fn, "out", out.data, "b", b.data, true);
  const n = t.rows;
  const m = b.cols;
  checkOptions(fn, "options", options, TRIANGULAR_OPTIONS);
  for (const key of TRIANGULAR_OPTIONS) checkFlag(fn, `options.${key}`, options[key]);
  const lower = options.lower ?? true;
  const trans = options.transpose ?? false;
  const unit = options.unitDiagonal ?? false;
  const td = t.data;
  const x = out.data;
  if (x !== b.data) x.set(b.data);
  // op(T)[i, k] = T[i, k], or T[k, i] when transposed; op(T) is lower iff lower XOR transpose.
  const effLower = lower !== trans;
  const si = trans ? 1 : n; // strides of op(T) in its row and column index
  const sk = trans ? n : 1;
  for (let step = 0; step < n; step++) {
    const i = effLower ? step : n - 1 - step;
    const ri = i * m;
    const k0 = effLower ? 0 : i + 1;
    const k1 = effLower ? i : n;
    for (let k = k0; k < k1; k++) {
      const tik = td[i * si + k * sk] as number;
      if (tik === 0) continue;
      const rk = k * m;
      for (let j = 0; j < m; j++) x[ri + j] = (x[ri + j] as number) - tik * (x[rk + j] as number);
    }
    if (!unit) {
      const tii = td[i * n + i] as number;
      for (let j = 0; j < m; j++) x[ri + j] = (x[ri + j] as number) / tii;
    }
  }
  return out;
}

/** X with L·Lᵀ·X = B, from a Cholesky factor L (two triangular solves). */
export function choleskySolve<T extends FloatArray>(l: Matrix<T>, b: Matrix<T>): Matrix<T> {
  checkSolveArgs("choleskySolve", l, b);
  const x = solveTriangular(l, b, { lower: true });
  return solveTriangularInto(x, l, x, { lower: true, transpose: true });
}

function factorOrThrow<T extends FloatArray>(fn: string, a: Matrix<T>): Matrix<T> {
  assertSquare(fn, "a", a, "dense");
  const r = cholesky(a);
  if (r.status !== "success") {
    throw new RangeError(`${fn}: a (${shapeOf(a)}) is not positive definite (Cholesky pivot ${r.failedAt} is not > 0)`);
  }
  return r.factor;
}

/** X with A·X = B for symmetric positive definite A (lower triangle read). Throws RangeError otherwise. */
export function spdSolve<T extends FloatArray>(a: Matrix<T>, b: Matrix<T>): Matrix<T> {
  checkSolveArgs("spdSolve", a, b, "a");
  return choleskySolve(factorOrThrow("spdSolve", a), b);
}

/** A⁻¹ for symmetric positive definite A (exactly symmetric on return). Throws RangeError otherwise. */
export function spdInverse<T extends FloatArray>(a: Matrix<T>): Matrix<T> {
  const l = factorOrThrow("spdInverse", a);
  const n = a.rows;
  const eye = { rows: n, cols: n, data: allocate(n * n, dtypeOf(a.data)) as T };
  for (let i = 0; i < n; i++) eye.data[i * n + i] = 1;
  const x = choleskySolve(l, eye);
  const d = x.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = ((d[i * n + j] as number) + (d[j * n + i] as number)) / 2;
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  return x;
}
