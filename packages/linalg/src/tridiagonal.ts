/**
 * The two halves of the symmetric eigensolver, callable (and testable) on their own.
 *
 * `tridiagonalize(a)`: A = Q·T·Qᵀ with T symmetric tridiagonal and Q orthogonal, by Householder
 * reflections (GVL Alg. 8.3.1), blocked as LAPACK dsytrd/dlatrd, with Q formed from compact-WY blocks
 * (GVL §5.1.7, LAPACK dormtr applied to I): see internal/householder-blocked.ts. Reads the LOWER
 * triangle of A. Cost 4n³/3 flops (half of them gemm), plus 2n³ (gemm) for Q.
 *
 * `tridiagonalQR(d, e, z)`: diagonalises T = tridiag(e, d, e) in place by implicit symmetric QR steps
 * with the Wilkinson shift and deflation (GVL Alg. 8.3.2, 8.3.3). Every rotation P (T ← P·T·Pᵀ) is also
 * applied to the ROWS of z (z ← P·z), so with z = Qᵀ on entry row k of z is on return the eigenvector
 * of A = Q·T·Qᵀ for d[k]; with z = I, of T itself. Eigenvalues are left UNSORTED in d (`eigh` sorts).
 * Iterations (QR sweeps) are capped at 30·n by default (LAPACK dsteqr); non-finite input returns
 * "no-convergence" at once. Cost O(n²) for d alone, plus ≈ 6n flops per rotation (≈ 3n² of them) on z.
 *
 * Both compute in float64; float32 arguments are copied in and rounded on the way out.
 */
import { type EighStatus, EighWorkspace } from "./eigh.ts";
import {
  assertDense,
  assertFloatArray,
  assertIndex,
  assertSquare,
  lengthError,
  shapeError,
} from "./internal/checks.ts";
import { applyQKernel, tridiagonalizeBlockedKernel } from "./internal/householder-blocked.ts";
import { RotationLog, tridiagonalQRKernel } from "./internal/symmetric-eigen.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, offsetOf, strideOf } from "./matrix.ts";
import { checkOptions, optionKeys } from "./options.ts";

/** A = Q·T·Qᵀ with T symmetric tridiagonal, from {@link tridiagonalize}. */
export interface Tridiagonalization<T extends FloatArray = FloatArray> {
  /** T's diagonal, length n. */
  readonly diagonal: T;
  /** T's sub- (= super-) diagonal, length max(n − 1, 0): T[k+1, k] = offDiagonal[k]. */
  readonly offDiagonal: T;
  /** Q (n×n, orthogonal) with A = Q·T·Qᵀ; null when `vectors: false`. */
  readonly q: Matrix<T> | null;
}

/** Householder tridiagonalization of the lower triangle of `a` (see the file header). */
export function tridiagonalize<T extends FloatArray>(
  a: Matrix<T>,
  options: { readonly vectors?: boolean } = {},
): Tridiagonalization<T> {
  const fn = "tridiagonalize";
  assertSquare(fn, "a", a);
  const n = a.rows;
  const dtype = dtypeOf(a.data);
  // eigh's workspace: w, d, e, beta, p and the blocked kernels' scratch, and z to form Q in.
  const ws = new EighWorkspace(n);
  const { w, d, e, beta, z, hh } = ws;
  const off = offsetOf(a);
  const st = strideOf(a);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) w[i * n + j] = a.data[off + i * st + j] as number;
  tridiagonalizeBlockedKernel(ws, hh);
  const diagonal = allocate(n, dtype) as T;
  diagonal.set(d);
  const offDiagonal = allocate(e.length, dtype) as T;
  offDiagonal.set(e);
  if (options.vectors === false) return { diagonal, offDiagonal, q: null };
  // Q = Q·I by compact-WY blocks.
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  applyQKernel(n, w, beta, z, n, n, hh);
  const q = allocate(n * n, dtype) as T;
  q.set(z);
  return { diagonal, offDiagonal, q: { rows: n, cols: n, data: q } };
}

/** Options of {@link tridiagonalQR}. */
export interface TridiagonalQROptions {
  /** Cap on QR sweeps (default 30·n). */
  readonly maxIterations?: number;
}

const TRIDIAGONAL_QR_OPTIONS = optionKeys<TridiagonalQROptions>()(["maxIterations"]);

/** Outcome of {@link tridiagonalQR}; the eigenvalues are written into its arguments. */
export interface TridiagonalQRResult {
  /** "no-convergence" when the sweep cap was reached. */
  readonly status: EighStatus;
  /** QR sweeps performed. */
  readonly iterations: number;
}

/**
 * Implicit symmetric QR on the tridiagonal (d, e), in place (see the file header). `z`, when given, is a
 * dense row-major matrix with n rows (any number of columns) whose rows receive every rotation.
 */
export function tridiagonalQR(
  d: FloatArray,
  e: FloatArray,
  z: Matrix | null = null,
  options: TridiagonalQROptions = {},
): TridiagonalQRResult {
  const fn = "tridiagonalQR";
  checkOptions(fn, "options", options, TRIDIAGONAL_QR_OPTIONS);
  assertFloatArray(fn, "d", d);
  assertFloatArray(fn, "e", e);
  const n = d.length;
  if (e.length !== Math.max(n - 1, 0)) {
    throw lengthError(fn, "e", e.length, `n − 1 = ${Math.max(n - 1, 0)}`, `d has length ${n}`);
  }
  if (z !== null) {
    assertDense(fn, "z", z);
    if (z.rows !== n) throw shapeError(fn, "z", z, `a dense matrix with n = ${n} rows`);
  }
  const maxSweeps = options.maxIterations ?? 30 * n;
  assertIndex(fn, "options.maxIterations", maxSweeps);
  let finite = true;
  for (let i = 0; i < n; i++) if (!Number.isFinite(d[i] as number)) finite = false;
  for (let i = 0; i < e.length; i++) if (!Number.isFinite(e[i] as number)) finite = false;
  if (!finite) {
    d.fill(Number.NaN);
    e.fill(Number.NaN);
    if (z !== null) z.data.fill(Number.NaN);
    return { status: "no-convergence", iterations: 0 };
  }
  // Scale to max |entry| = 1, as eigh does, so the deflation test and the shifts see O(1) numbers.
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(d[i] as number));
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i] as number));
  if (scale === 0) scale = 1;
  const d64 = new Float64Array(n);
  const e64 = new Float64Array(e.length);
  for (let i = 0; i < n; i++) d64[i] = (d[i] as number) / scale;
  for (let i = 0; i < e.length; i++) e64[i] = (e[i] as number) / scale;
  let z64: Float64Array | null = null;
  if (z !== null) z64 = z.data instanceof Float64Array ? z.data : Float64Array.from(z.data);
  const cols = z === null ? 0 : z.cols;
  const log = z === null ? null : new RotationLog(Math.max(1024, 16 * n));
  // The kernel applies every logged rotation to z before it returns (both exits flush the log).
  const r = tridiagonalQRKernel(n, d64, e64, z64, cols, log, maxSweeps);
  for (let i = 0; i < n; i++) d[i] = (d64[i] as number) * scale;
  for (let i = 0; i < e.length; i++) e[i] = (e64[i] as number) * scale;
  if (z !== null && z64 !== null && z64 !== z.data) z.data.set(z64);
  return r >= 0 ? { status: "success", iterations: r } : { status: "no-convergence", iterations: -r - 1 };
}
