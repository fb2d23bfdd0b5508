/**
 * Eigendecomposition of a Gram matrix from its rows: s·XᵀX = U·diag(λ)·Uᵀ for X k × d, without
 * forming the d × d product when k < d — the covariance of a minibatch (a Kronecker factor built from
 * k examples of dimension d, rank ≤ k).
 *
 * Steps for k < d (the "LQ route"): X = [L 0]·Qᵀ by blocked Householder LQ (internal/householder-lq.ts;
 * GVL Alg. 5.2.1 on Xᵀ, LAPACK dgelqf), so s·XᵀX = Q·diag(s·LᵀL, 0)·Qᵀ; the k × k matrix s·LᵀL = W·M·Wᵀ
 * by `eigh`; then U = [Q₂ | Q₁·W] with Q₁ = Q's first k columns (the row space of X) and Q₂ the other
 * d − k (its orthogonal complement, eigenvalue 0), and λ = [0, …, 0, M] ascending (M clamped at 0 from
 * below: s·LᵀL is PSD, a negative eigenvalue is rounding). Q is applied as I − Uᵀ T U (compact WY,
 * gemms) to the block-diagonal [[0, W], [I, 0]], so W multiplies k rows, not Q's d. For k ≥ d the product s·XᵀX is formed (syrk) and decomposed by `eigh`: no saving there.
 * Source: the QR-then-small-eigenproblem route of the SVD of a tall matrix (Chan, "An improved
 * algorithm for computing the singular value decomposition", ACM TOMS 8, 1982; GVL §8.6.2) applied to
 * Xᵀ, whose right factor gives XᵀX's eigenvectors; the complement comes with the Householder Q.
 * Accuracy: backward stable in X (LQ, Higham 2002 Thm. 19.4; eigh of s·LᵀL, GVL §8.3.5), so the
 * residual ‖s·XᵀX·U − U·Λ‖ is O(ε·s·‖X‖²) as for `eigh` of the formed product — which itself carries the
 * product's rounding — and U is orthogonal to O(k·ε).
 * Cost (flops) for k < d: 2k²d (LQ) + 2k²d + 2kd² (Q) + ≈ 9k³ (eigh of k × k) + 2k²d (Q₁·W), against
 * ≈ 9d³ for `eigh` of the formed product (measured, Node 20, 2 cores: d = 784 with k = 250 ≈ 155 ms by
 * `eigh`; see the ekfac package's MATH.md §9 for the block that uses it). Memory: d² + 3kd + 4k² doubles.
 *
 * Errors: TypeError for a non-matrix or a mis-typed output, RangeError for mis-sized outputs or a bad
 * scale. NaN or ±Inf in X gives status "no-convergence" with NaN outputs, as `eigh` does.
 */
import { type EighOptions, type EighResult, eigh } from "./eigh.ts";
import { assertIndex, assertMatrix, assertNumber, lengthError, shapeError } from "./internal/checks.ts";
import { gemmUnchecked } from "./internal/gemm-dispatch.ts";
import { basisFromLQKernel, lqKernel, lqScratchSize } from "./internal/householder-lq.ts";
import { type FloatArray, type Matrix, offsetOf, shapeOf, strideOf } from "./matrix.ts";
import { checkOptions, optionKeys } from "./options.ts";
import { syrkStrided } from "./syrk.ts";

/** Options of {@link gramEigh} and {@link gramEighInto}. */
export interface GramEighOptions {
  /** The factor s of s·XᵀX (default 1), a finite number ≥ 0 (1/k gives the rows' second moment). */
  readonly scale?: number;
  /** Cap on implicit QR sweeps of the inner `eigh` (default 30·size, as `eigh`). */
  readonly maxIterations?: number;
}

const GRAM_EIGH_OPTIONS = optionKeys<GramEighOptions>()(["scale", "maxIterations"]);

/** Where `gramEighInto` writes: `values` of length d and a dense d × d `vectors`, of one element type. */
export interface GramEighOutput<T extends FloatArray = FloatArray> {
  /** Receives the d eigenvalues of s·XᵀX, ascending (the complement's zeros first). */
  readonly values: T;
  /** Receives the d × d eigenvectors as columns (dense, row-major), the same element type as `values`. */
  readonly vectors: Matrix<T>;
}

/** s·XᵀX = U·diag(λ)·Uᵀ from X's rows (see the file header); float64 results. */
export function gramEigh(x: Matrix, options: GramEighOptions = {}): EighResult<Float64Array> {
  assertMatrix("gramEigh", "x", x);
  const d = x.cols;
  const out: GramEighOutput<Float64Array> = {
    values: new Float64Array(d),
    vectors: { rows: d, cols: d, data: new Float64Array(d * d) },
  };
  return gramEighInto(out, x, options);
}

/**
 * `gramEigh` writing into `out` (values of length d, a dense d × d `vectors`, float32 or float64 —
 * computed in float64 and rounded on output; X may be either type). Returns a result sharing `out`'s arrays.
 */
export function gramEighInto<T extends FloatArray>(
  out: GramEighOutput<T>,
  x: Matrix,
  options: GramEighOptions = {},
): EighResult<T> {
  const fn = "gramEighInto";
  assertMatrix(fn, "x", x);
  checkOptions(fn, "options", options, GRAM_EIGH_OPTIONS);
  const scale = options.scale ?? 1;
  assertNumber(fn, "options.scale", scale);
  if (!(scale >= 0 && scale < Infinity)) {
    throw new RangeError(`${fn}: options.scale must be a finite number ≥ 0 (got ${scale})`);
  }
  if (options.maxIterations !== undefined) assertIndex(fn, "options.maxIterations", options.maxIterations);
  const { rows: k, cols: d } = x;
  checkOutput(fn, out, x);
  const xs = copyRows(x);
  if (xs === null) return failed(out);
  if (k >= d) return viaProduct(out, xs, k, d, scale, options);
  if (k === 0) return written(out, identity(d), new Float64Array(d), 0);
  const tau = new Float64Array(k);
  lqKernel(xs, k, d, tau, new Float64Array(lqScratchSize(k, d)));
  // s·LᵀL (k × k) from L's lower triangle, then its eigenpairs.
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j <= i; j++) l[i * k + j] = xs[i * d + j] as number;
  const m = new Float64Array(k * k);
  gemmUnchecked(true, false, k, k, k, scale, l, 0, k, l, 0, k, 0, m, 0, k);
  const small = eigh({ rows: k, cols: k, data: m }, eighOptions(options));
  if (small.status !== "success" || small.vectors === null) return failed(out, small.iterations);
  // U = Q·[[0, W], [I, 0]] = [Q₂ | Q₁·W]: the complement first (eigenvalue 0), then the row space in
  // M's ascending order.
  const u = new Float64Array(d * d);
  basisFromLQKernel(xs, k, d, tau, small.vectors.data, u, new Float64Array(3 * k * d + 2 * k * k));
  const z = d - k;
  const lam = new Float64Array(d);
  for (let j = 0; j < k; j++) lam[z + j] = Math.max(0, small.values[j] as number);
  return written(out, u, lam, small.iterations);
}

/** The inner `eigh`'s options (its iteration cap, if given). */
function eighOptions(options: GramEighOptions): EighOptions {
  return options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {};
}

/** Checks `out` against x (d × d vectors, length-d values, one element type). */
function checkOutput<T extends FloatArray>(fn: string, out: GramEighOutput<T>, x: Matrix): void {
  const d = x.cols;
  if (out === null || typeof out !== "object") throw new TypeError(`${fn}: out must be {values, vectors}`);
  const v = out.values;
  if (!(v instanceof Float32Array || v instanceof Float64Array)) {
    throw new TypeError(`${fn}: out.values must be a Float32Array or Float64Array`);
  }
  if (v.length !== d) throw lengthError(fn, "out.values", v.length, d, `x is ${shapeOf(x)}`);
  assertMatrix(fn, "out.vectors", out.vectors);
  if (out.vectors.data.constructor !== v.constructor) {
    throw new TypeError(`${fn}: out.vectors and out.values must have one element type`);
  }
  const vec = out.vectors;
  if (vec.rows !== d || vec.cols !== d || strideOf(vec) !== d) {
    throw shapeError(fn, "out.vectors", vec, `a dense ${d}×${d}`, `x is ${shapeOf(x)}`);
  }
}

/** X's rows as a dense float64 copy, or null when an entry is NaN or ±Inf. */
function copyRows(x: Matrix): Float64Array | null {
  const { rows, cols } = x;
  const src = x.data;
  const off = offsetOf(x);
  const ld = strideOf(x);
  const w = new Float64Array(rows * cols);
  let bad = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = src[off + i * ld + j] as number;
      w[i * cols + j] = v;
      bad += v - v; // 0 for finite v, NaN otherwise
    }
  }
  return bad === 0 ? w : null;
}

/** k ≥ d: s·XᵀX formed by syrk (lower triangle) and decomposed by `eigh`. */
function viaProduct<T extends FloatArray>(
  out: GramEighOutput<T>,
  xs: Float64Array,
  k: number,
  d: number,
  scale: number,
  options: GramEighOptions,
): EighResult<T> {
  const a = new Float64Array(d * d);
  syrkStrided(true, d, k, scale, xs, 0, d, 0, a, 0, d, false);
  const r = eigh({ rows: d, cols: d, data: a }, eighOptions(options));
  if (r.status !== "success" || r.vectors === null) return failed(out, r.iterations);
  const lam = new Float64Array(d);
  for (let j = 0; j < d; j++) lam[j] = Math.max(0, r.values[j] as number);
  return written(out, r.vectors.data, lam, r.iterations);
}

/** The d × d identity (X with no rows: s·XᵀX = 0, every vector an eigenvector). */
function identity(d: number): Float64Array {
  const u = new Float64Array(d * d);
  for (let i = 0; i < d; i++) u[i * d + i] = 1;
  return u;
}

/** Copies (and, for float32 outputs, rounds) the float64 results into `out`. */
function written<T extends FloatArray>(
  out: GramEighOutput<T>,
  u: Float64Array,
  lam: Float64Array,
  iterations: number,
): EighResult<T> {
  const off = offsetOf(out.vectors);
  out.vectors.data.set(u, off);
  out.values.set(lam);
  return { status: "success", values: out.values, vectors: out.vectors, iterations };
}

/** The "no-convergence" result: NaN everywhere, as `eigh` gives for non-finite input. */
function failed<T extends FloatArray>(out: GramEighOutput<T>, iterations = 0): EighResult<T> {
  const d = out.values.length;
  const off = offsetOf(out.vectors);
  out.values.fill(Number.NaN);
  out.vectors.data.fill(Number.NaN, off, off + d * d);
  return { status: "no-convergence", values: out.values, vectors: out.vectors, iterations };
}
