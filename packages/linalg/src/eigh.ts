/**
 * Symmetric eigendecomposition A = V·diag(λ)·Vᵀ, λ ascending, V orthogonal (eigenvectors as COLUMNS).
 *
 * Named steps (after Eigen's SelfAdjointEigenSolver, with LAPACK dsyevd's solver):
 *   validate → check finite → scale by s = max|a_ij| → blocked Householder tridiagonalization
 *   T = Qᵀ(A/s)Q (GVL Alg. 8.3.1, LAPACK dsytrd/dlatrd; internal/householder-blocked.ts) → then
 *   - algorithm "divide-and-conquer" (default): T = Y·Λ·Yᵀ by Cuppen's divide and conquer with the
 *     Gu–Eisenstat eigenvectors (LAPACK dstedc; internal/divide-conquer.ts), sort, V = Q·Y applied by
 *     compact-WY blocks (LAPACK dormtr);
 *   - algorithm "qr": Qᵀ accumulated, implicit symmetric QR with Wilkinson shift on T (GVL Alg. 8.3.2,
 *     8.3.3, LAPACK dsteqr) with the rotations applied to Qᵀ (internal/symmetric-eigen.ts), sort;
 *   → unscale by s. Eigenvalues only (`vectors: false`): QR on T without vectors, O(n²).
 * Only the LOWER triangle (a_ij with i ≥ j) is read; the strict upper triangle is ignored.
 * Computation is in float64 whatever the input type; float32 inputs are copied in and the results are
 * rounded to float32 on output (so the float32 results are as accurate as float32 storage allows).
 *
 * Deviations: see the kernels' headers (row-major lower storage, rotations batched, D&C merges sorted
 * per level, safeguarded secular iteration). Sweep cap: LAPACK dsteqr's 30·n QR sweeps in total (in
 * the D&C leaves for divide and conquer); exceeding it, or a secular equation that fails, gives
 * status "no-convergence" (with NaN outputs for divide and conquer).
 * Cost (flops): 4n³/3 for the reduction (half gemm); D&C ≈ 4n³/3 gemm without deflation (far less
 * with it) + 2n³ gemm for V = Q·Y; QR path 4n³/3 for Qᵀ + ≈ 6n³ in rotations. Memory: the workspace's
 * two n×n float64 buffers, plus three more for divide and conquer (made on first use), plus O(n).
 *
 * Errors: TypeError for a non-matrix, RangeError for non-square input, mis-sized outputs or a bad
 * option. NaN or ±Inf anywhere in the lower triangle gives status "no-convergence" with NaN values
 * (and vectors) at once. The decomposition runs on A scaled to unit max-norm, so finite input always
 * converges; an eigenvalue whose magnitude exceeds the output type's range (a float64 A with entries
 * near 1e308, a float32 output beyond 3.4e38) is ±Infinity after unscaling, as in LAPACK and NumPy,
 * with status "success" — the status reports convergence; `allFinite(values)` tells an overflow.
 */

import { assertIndex, assertMatrix, assertOneOf, assertSquare, lengthError, shapeError } from "./internal/checks.ts";
import { DivideConquerWorkspace, divideConquerKernel } from "./internal/divide-conquer.ts";
import { applyQKernel, householderScratchSize, tridiagonalizeBlockedKernel } from "./internal/householder-blocked.ts";
import { accumulateQtKernel, RotationLog, tridiagonalQRKernel } from "./internal/symmetric-eigen.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, offsetOf, shapeOf, strideOf } from "./matrix.ts";
import { checkFlag, checkOptions, optionKeys } from "./options.ts";

/**
 * Outcome of {@link eigh}: "no-convergence" when the sweep cap was exceeded, a secular equation failed,
 * or the input held NaN/±Inf (the outputs are then NaN for divide and conquer and for non-finite input).
 */
export type EighStatus = "success" | "no-convergence";

/**
 * How the tridiagonal eigenproblem is solved when vectors are wanted. "divide-and-conquer" (default):
 * Cuppen / Gu–Eisenstat D&C with gemm merges, then V = Q·Y by compact-WY blocks (LAPACK dsyevd's
 * route). "qr": implicit QR with the rotations applied to Qᵀ (LAPACK dsteqr's route), kept for
 * comparison. Eigenvalues-only runs always use QR on the tridiagonal (O(n²)).
 */
export type EighAlgorithm = "divide-and-conquer" | "qr";

/** Options of {@link eigh} and {@link eighInto}. */
export interface EighOptions {
  /** Compute eigenvectors (default true). With false only eigenvalues are computed, in O(n²) after the reduction. */
  readonly vectors?: boolean;
  /** Cap on implicit QR sweeps in total (default 30·n, as LAPACK dsteqr). */
  readonly maxIterations?: number;
  /**
   * Eigenvalues in [−clampNegative, 0) are set to +0 (absolute tolerance, in the units of A). For PSD
   * matrices such as covariance factors, where rounding leaves tiny negative eigenvalues. Default: no clamp.
   */
  readonly clampNegative?: number;
  /** Tridiagonal solver for the vectors (default "divide-and-conquer"). */
  readonly algorithm?: EighAlgorithm;
}

/** A = V·diag(λ)·Vᵀ from {@link eigh}: ascending eigenvalues, eigenvectors as columns, and the status. */
export interface EighResult<T extends FloatArray = FloatArray> {
  /** Check before use: "no-convergence" means the values (and vectors) are not an eigendecomposition. */
  readonly status: EighStatus;
  /** Eigenvalues in ascending order, same element type as the input. */
  readonly values: T;
  /** n×n, column j is the unit eigenvector for values[j]; null when `vectors: false`. */
  readonly vectors: Matrix<T> | null;
  /** Implicit QR sweeps performed (for divide and conquer: in its leaves). */
  readonly iterations: number;
}

/** Where `eighInto` writes: `values` of length n and, unless `vectors: false`, an n×n `vectors`. */
export interface EighOutput<T extends FloatArray = FloatArray> {
  /** Receives the eigenvalues, ascending; length n, the input's element type. */
  readonly values: T;
  /** Receives the unit eigenvectors as columns (n×n); null when only eigenvalues are wanted. */
  readonly vectors: Matrix<T> | null;
}

/**
 * Reusable float64 buffers for one size n, so that repeated decompositions (a KFAC refresh every T
 * steps) allocate nothing but the small result record.
 */
export class EighWorkspace {
  /** The matrix size the buffers are sized for. */
  readonly n: number;
  /** Working copy of A; after the reduction its rows hold the Householder vectors. */
  readonly w: Float64Array;
  /** Qᵀ, then the eigenvectors as rows. */
  readonly z: Float64Array;
  /** Diagonal of the tridiagonal T, then the eigenvalues. */
  readonly d: Float64Array;
  /** Off-diagonal of T (length n − 1); destroyed by the tridiagonal solver. */
  readonly e: Float64Array;
  /** Householder scalars τ of the reduction. */
  readonly beta: Float64Array;
  /** Scratch vector of the reduction (p = τ·A·v). */
  readonly p: Float64Array;
  /** Sorting permutation of the eigenvalues. */
  readonly perm: Uint32Array;
  /** Batched Givens rotations of the QR path, applied to Qᵀ in cache-friendly blocks. */
  readonly log: RotationLog;
  /** Scratch of the blocked Householder kernels. */
  readonly hh: Float64Array;
  /** Divide-and-conquer buffers (3 n×n), made on first use. */
  dc: DivideConquerWorkspace | null = null;
  constructor(n: number) {
    assertIndex("EighWorkspace", "n", n);
    this.n = n;
    this.w = new Float64Array(n * n);
    this.z = new Float64Array(n * n);
    this.d = new Float64Array(n);
    this.e = new Float64Array(Math.max(n - 1, 0));
    this.beta = new Float64Array(n);
    this.p = new Float64Array(n);
    this.perm = new Uint32Array(n);
    // Enough rotations per batch that Z is streamed through the cache about n/16 times in total.
    this.log = new RotationLog(Math.max(1024, 16 * n));
    const hs = householderScratchSize(n);
    this.hh = new Float64Array(Math.max(hs.panel, hs.wy));
  }
}

const EIGH_OPTIONS = optionKeys<EighOptions>()(["vectors", "maxIterations", "clampNegative", "algorithm"]);

function checkEighOptions(fn: string, options: EighOptions): void {
  checkOptions(fn, "options", options, EIGH_OPTIONS);
  checkFlag(fn, "options.vectors", options.vectors);
  if (options.maxIterations !== undefined) assertIndex(fn, "options.maxIterations", options.maxIterations);
  if (options.clampNegative !== undefined && !(options.clampNegative >= 0)) {
    throw new RangeError(`${fn}: options.clampNegative must be a number ≥ 0 (got ${options.clampNegative})`);
  }
  if (options.algorithm !== undefined) {
    assertOneOf(fn, "options.algorithm", options.algorithm, ["qr", "divide-and-conquer"], RangeError);
  }
}

/** Symmetric eigendecomposition of the lower triangle of `a` (see the file header). */
export function eigh<T extends FloatArray>(a: Matrix<T>, options: EighOptions = {}): EighResult<T> {
  assertSquare("eigh", "a", a);
  checkEighOptions("eigh", options);
  const n = a.rows;
  const dtype = dtypeOf(a.data);
  const wantVectors = options.vectors ?? true;
  const out: EighOutput<T> = {
    values: allocate(n, dtype) as T,
    vectors: wantVectors ? { rows: n, cols: n, data: allocate(n * n, dtype) as T } : null,
  };
  return eighInto(out, a, options, new EighWorkspace(n));
}

/**
 * `eigh` writing into `out` (values of length n and, unless `options.vectors === false`, an n×n
 * `vectors` of the input's element type) using `workspace` (created when omitted). Returns a result
 * record that shares `out`'s arrays. The body is the header's steps, one function each.
 */
export function eighInto<T extends FloatArray>(
  out: EighOutput<T>,
  a: Matrix<T>,
  options: EighOptions = {},
  workspace?: EighWorkspace,
): EighResult<T> {
  const fn = "eighInto";
  assertSquare(fn, "a", a);
  checkEighOptions(fn, options);
  const n = a.rows;
  const vecs = checkOutput(fn, out, a, options.vectors ?? true);
  const ws = workspace ?? new EighWorkspace(n);
  if (!(ws instanceof EighWorkspace)) throw new TypeError(`${fn}: workspace must be an EighWorkspace`);
  if (ws.n !== n) throw new RangeError(`${fn}: workspace is for n = ${ws.n}, a is ${shapeOf(a)}`);
  const values = out.values;

  const scale = copyScaled(ws.w, a);
  if (Number.isNaN(scale)) return failed(values, vecs, 0);
  tridiagonalizeBlockedKernel(ws, ws.hh);
  const solved = solveTridiagonal(ws, vecs !== null, options);
  if (solved.route === "none") return failed(values, vecs, solved.iterations);
  sortAscending(ws.perm, ws.d, n);
  writeValues(values, ws.d, ws.perm, scale, options.clampNegative);
  if (vecs !== null) writeVectors(vecs, ws, solved.route);
  return { status: solved.status, values, vectors: vecs, iterations: solved.iterations };
}

/** Checks `out` against `a` and returns the matrix the vectors go to (null when none are wanted). */
function checkOutput<T extends FloatArray>(
  fn: string,
  out: EighOutput<T>,
  a: Matrix<T>,
  wantVectors: boolean,
): Matrix<T> | null {
  const n = a.rows;
  const dtype = dtypeOf(a.data);
  if (out === null || typeof out !== "object") throw new TypeError(`${fn}: out must be {values, vectors}`);
  if (!(out.values instanceof Float32Array || out.values instanceof Float64Array) || dtypeOf(out.values) !== dtype) {
    throw new TypeError(`${fn}: out.values must be a ${dtype === "float64" ? "Float64Array" : "Float32Array"} like a`);
  }
  if (out.values.length !== n) throw lengthError(fn, "out.values", out.values.length, n, `a is ${shapeOf(a)}`);
  if (!wantVectors) return null;
  const vecs = out.vectors;
  if (vecs === null) throw new TypeError(`${fn}: out.vectors is null but options.vectors is true`);
  assertMatrix(fn, "out.vectors", vecs);
  if (dtypeOf(vecs.data) !== dtype)
    throw new TypeError(`${fn}: out.vectors is ${dtypeOf(vecs.data)} but a is ${dtype}`);
  if (vecs.rows !== n || vecs.cols !== n || strideOf(vecs) !== n) {
    throw shapeError(fn, "out.vectors", vecs, `a dense ${n}×${n}`, `a is ${shapeOf(a)}`);
  }
  return vecs;
}

/** The "no-convergence" result: NaN values (and vectors), as for non-finite input. */
function failed<T extends FloatArray>(values: T, vecs: Matrix<T> | null, iterations: number): EighResult<T> {
  values.fill(Number.NaN);
  if (vecs !== null) vecs.data.fill(Number.NaN, offsetOf(vecs), offsetOf(vecs) + vecs.rows * vecs.rows);
  return { status: "no-convergence", values, vectors: vecs, iterations };
}

/**
 * Step 1, scale: copies the lower triangle of `a` into `w` (float64) divided by s = max|a_ij|, and
 * returns s; NaN when an entry is NaN or ±Inf. The zero matrix gets s = 1 (T = 0, every later step is
 * exact).
 */
function copyScaled(w: Float64Array, a: Matrix): number {
  const n = a.rows;
  const scale = copyLowerMaxAbs(w, a.data, offsetOf(a), strideOf(a), n);
  if (Number.isNaN(scale) || scale === Infinity) return Number.NaN;
  if (scale === 0) return 1;
  divideLower(w, n, scale);
  return scale;
}

/*
 * copyScaled's two passes are functions of their own: one function holding both loops was optimised
 * mid-way through the first (on-stack replacement) with no type feedback yet for the second, and
 * deoptimised there on every call — a refresh decomposes a dozen factors, so each paid it (seen with
 * --trace-deopt in the EKFAC step).
 */

/** w's lower triangle ← a's (stride `as` from aoff); returns max |a_ij| over it, NaN if any entry is NaN. */
function copyLowerMaxAbs(w: Float64Array, ad: FloatArray, aoff: number, as: number, n: number): number {
  let scale = 0;
  let finite = true;
  for (let i = 0; i < n; i++) {
    const src = aoff + i * as;
    const dst = i * n;
    for (let j = 0; j <= i; j++) {
      const v = ad[src + j] as number;
      w[dst + j] = v;
      const m = Math.abs(v);
      if (m > scale) scale = m;
      else if (!(m <= scale)) finite = false; // NaN
    }
  }
  return finite ? scale : Number.NaN;
}

/** w's lower triangle ÷ scale (divide, not multiply by 1/scale, which overflows for a subnormal scale). */
function divideLower(w: Float64Array, n: number, scale: number): void {
  for (let i = 0; i < n; i++) {
    const dst = i * n;
    for (let j = 0; j <= i; j++) w[dst + j] = (w[dst + j] as number) / scale;
  }
}

/**
 * How step 3 ended. "divide-and-conquer": T's eigenvectors are the columns of `ws.dc.y`; "qr": A's
 * (scaled) eigenvectors are the rows of `ws.z`, or no vectors were wanted; "none": divide and conquer
 * hit the sweep cap and nothing usable was produced.
 */
interface TridiagonalSolution {
  readonly status: EighStatus;
  readonly iterations: number;
  readonly route: EighAlgorithm | "none";
}

/**
 * Step 3, the tridiagonal eigenproblem T = Y·Λ·Yᵀ in place on `ws.d` (then the eigenvalues, unsorted)
 * and `ws.e`: divide and conquer when vectors are wanted (unless `options.algorithm` is "qr"), else
 * implicit QR with the rotations applied to Qᵀ. A secular equation that fails (never seen in testing)
 * falls back to QR on the kept T.
 */
function solveTridiagonal(ws: EighWorkspace, wantVectors: boolean, options: EighOptions): TridiagonalSolution {
  const { n, d, e, z } = ws;
  const maxSweeps = options.maxIterations ?? 30 * n;
  if (wantVectors && (options.algorithm ?? "divide-and-conquer") === "divide-and-conquer") {
    if (ws.dc === null) ws.dc = new DivideConquerWorkspace(n);
    const dc = ws.dc;
    dc.d0.set(d);
    dc.e0.set(e);
    const outcome = divideConquerKernel(n, d, e, dc, maxSweeps);
    if (outcome === "sweep-cap") return { status: "no-convergence", iterations: dc.sweeps, route: "none" };
    if (outcome === "success") return { status: "success", iterations: dc.sweeps, route: "divide-and-conquer" };
    d.set(dc.d0);
    e.set(dc.e0);
  }
  if (wantVectors) accumulateQtKernel(n, ws.w, ws.beta, z);
  // The kernel applies the logged rotations to z itself before it returns (also at the sweep cap).
  const r = tridiagonalQRKernel(n, d, e, wantVectors ? z : null, n, wantVectors ? ws.log : null, maxSweeps);
  return r >= 0
    ? { status: "success", iterations: r, route: "qr" }
    : { status: "no-convergence", iterations: -r - 1, route: "qr" };
}

/** Step 4, sort: `perm` orders `d` ascending (stable insertion sort: O(n²), negligible beside O(n³)). */
function sortAscending(perm: Uint32Array, d: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 1; i < n; i++) {
    const pi = perm[i] as number;
    const v = d[pi] as number;
    let j = i - 1;
    while (j >= 0 && (d[perm[j] as number] as number) > v) {
      perm[j + 1] = perm[j] as number;
      j--;
    }
    perm[j + 1] = pi;
  }
}

/** Step 5, unscale: values[j] = s·d[perm[j]], with tiny negatives clamped to +0 on request. */
function writeValues(values: FloatArray, d: Float64Array, perm: Uint32Array, scale: number, clamp?: number): void {
  for (let j = 0; j < perm.length; j++) {
    let v = (d[perm[j] as number] as number) * scale;
    if (clamp !== undefined && v < 0 && v >= -clamp) v = 0;
    values[j] = v;
  }
}

/** The eigenvectors in sorted order as the columns of `vecs` (unit length: no unscaling needed). */
function writeVectors(vecs: Matrix, ws: EighWorkspace, route: EighAlgorithm): void {
  const { n, z, perm } = ws;
  const vdata = vecs.data;
  const voff = offsetOf(vecs);
  if (route === "divide-and-conquer") {
    // Column perm[j] of Y (T's eigenvectors) becomes column j; then V = Q·Y by compact-WY blocks.
    const y = (ws.dc as DivideConquerWorkspace).y;
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) z[row + j] = y[row + (perm[j] as number)] as number;
    }
    applyQKernel(n, ws.w, ws.beta, z, n, n, ws.hh);
    // A native copy where the types and lengths allow (z holds exactly n² entries), else the loop.
    if (vdata instanceof Float64Array && z.length === n * n) vdata.set(z, voff);
    else for (let i = 0; i < n * n; i++) vdata[voff + i] = z[i] as number;
    return;
  }
  // Row perm[j] of Z is the eigenvector for values[j]; it becomes column j of the output.
  for (let j = 0; j < n; j++) {
    const src = (perm[j] as number) * n;
    for (let i = 0; i < n; i++) vdata[voff + i * n + j] = z[src + i] as number;
  }
}
