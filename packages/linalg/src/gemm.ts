/**
 * General matrix multiply, BLAS level 3: C = α·op(A)·op(B) + β·C, op(X) ∈ {X, Xᵀ}.
 *
 * Three layers (after stdlib-js blas/base/sgemm): `gemm` validates matrices and views; `gemmStrided`
 * takes raw buffers with offsets and leading dimensions (BLAS's lda/ldb/ldc, row-major) and validates
 * them; `internal/gemm-dispatch.ts` trusts its caller and picks the backend kernel. β = 0 overwrites
 * C, so NaN or Inf already in C vanish, as in reference BLAS. C must not alias A or B: the check rejects any overlap of the typed
 * arrays' memory (also a `subarray` of the same ArrayBuffer), even where the views themselves are disjoint.
 * The packing workspace is module-level and reused (see `gemmWorkspaceStats`).
 */
import {
  assertAlphaBeta,
  assertIndex,
  assertMatrix,
  assertSameDtype,
  assertStridedOperand,
  shapeError,
  sharesMemory,
} from "./internal/checks.ts";
import { gemmUnchecked, profiler } from "./internal/gemm-dispatch.ts";
import { gemmWorkspace } from "./internal/gemm-kernel.ts";
import { allocate, dtypeOf, type FloatArray, type Matrix, offsetOf, strideOf } from "./matrix.ts";
import { checkFlag, checkOptions, optionKeys } from "./options.ts";

/** Which operands {@link matmul}, {@link matmulInto} and {@link gemm} read transposed. */
export interface MatmulOptions {
  /** Use Aᵀ in place of A (read in place, never materialised). */
  readonly transA?: boolean;
  /** Use Bᵀ in place of B. */
  readonly transB?: boolean;
}

const MATMUL_OPTIONS = optionKeys<MatmulOptions>()(["transA", "transB"]);

/** `options` of matmul / matmulInto: known keys, boolean flags. */
function checkMatmulOptions(fn: string, options: MatmulOptions): void {
  checkOptions(fn, "options", options, MATMUL_OPTIONS);
  checkFlag(fn, "options.transA", options.transA);
  checkFlag(fn, "options.transB", options.transB);
}

/**
 * C = α·op(A)·op(B) + β·C, writing into and returning `c`. op(A) is m×k, op(B) is k×n, C is m×n.
 * Accepts strided views for A, B and C.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  alpha: number,
  a: Matrix,
  b: Matrix,
  beta: number,
  c: Matrix,
): Matrix {
  const fn = "gemm";
  assertMatrix(fn, "a", a);
  assertMatrix(fn, "b", b);
  assertMatrix(fn, "c", c);
  assertSameDtype(fn, "a", a.data, "b", b.data);
  assertSameDtype(fn, "a", a.data, "c", c.data);
  assertAlphaBeta(fn, alpha, beta);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb || c.rows !== m || c.cols !== n) {
    // The operands' shapes after op(), built only here: a passing call allocates no string.
    const ops = `${transA ? "aᵀ" : "a"} is ${m}×${k}, ${transB ? "bᵀ" : "b"} is ${kb}×${n}`;
    if (k !== kb) throw new RangeError(`${fn}: inner dimensions differ (${ops})`);
    throw shapeError(fn, "c", c, `${m}×${n}`, ops);
  }
  if (sharesMemory(c.data, a.data) || sharesMemory(c.data, b.data)) {
    throw new RangeError(`${fn}: c must not share its buffer with a or b (the product would read overwritten values)`);
  }
  gemmUnchecked(
    transA,
    transB,
    m,
    n,
    k,
    alpha,
    a.data,
    offsetOf(a),
    strideOf(a),
    b.data,
    offsetOf(b),
    strideOf(b),
    beta,
    c.data,
    offsetOf(c),
    strideOf(c),
  );
  return c;
}

/**
 * The strided (BLAS-style, row-major) layer: op(A) is m×k stored from `offA` with leading dimension
 * `lda`, and so on. Validates that every addressed element lies inside its buffer.
 */
export function gemmStrided(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  beta: number,
  c: FloatArray,
  offC: number,
  ldc: number,
): FloatArray {
  // Validation allocates nothing (no argument arrays, no closures): this is the entry point that
  // autodiff and ekfac call on every step.
  const fn = "gemmStrided";
  assertIndex(fn, "m", m);
  assertIndex(fn, "n", n);
  assertIndex(fn, "k", k);
  assertStridedOperand(fn, "a", "offA", a, offA, lda, transA ? k : m, transA ? m : k);
  assertStridedOperand(fn, "b", "offB", b, offB, ldb, transB ? n : k, transB ? k : n);
  assertStridedOperand(fn, "c", "offC", c, offC, ldc, m, n);
  assertSameDtype(fn, "a", a, "b", b);
  assertSameDtype(fn, "a", a, "c", c);
  if (sharesMemory(c, a) || sharesMemory(c, b)) throw new RangeError(`${fn}: c must not share its buffer with a or b`);
  gemmUnchecked(transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc);
  return c;
}

/** out = op(A)·op(B), overwriting `out` (β = 0). */
export function matmulInto(out: Matrix, a: Matrix, b: Matrix, options: MatmulOptions = {}): Matrix {
  checkMatmulOptions("matmulInto", options);
  return gemm(options.transA ?? false, options.transB ?? false, 1, a, b, 0, out);
}

/** op(A)·op(B) in a new matrix of A's element type. */
export function matmul(a: Matrix, b: Matrix, options: MatmulOptions = {}): Matrix {
  assertMatrix("matmul", "a", a);
  assertMatrix("matmul", "b", b);
  checkMatmulOptions("matmul", options);
  const m = options.transA ? a.cols : a.rows;
  const n = options.transB ? b.rows : b.cols;
  const out = { rows: m, cols: n, data: allocate(m * n, dtypeOf(a.data)) };
  return matmulInto(out, a, b, options);
}

/** Diagnostics of the shared packing workspace used by gemm, matmul and syrk. */
export interface GemmWorkspaceStats {
  /** How many times a packing buffer was (re)allocated since the module loaded. */
  readonly allocations: number;
  /** Bytes currently held by the packing buffers. */
  readonly bytes: number;
}

/**
 * The packing buffers are module-level and grow on demand; after the first call at a given size no
 * further allocation happens. Benchmarks record `allocations` before and after their timed runs.
 */
export function gemmWorkspaceStats(): GemmWorkspaceStats {
  const w = gemmWorkspace();
  return { allocations: w.allocations, bytes: w.packA.byteLength + w.packB.byteLength };
}

/** Totals of the products run since {@link profileGemm} started profiling. */
export interface GemmProfile {
  /** Products (every gemm, gemmStrided, matmul, syrk block and eigh reduction counts once). */
  readonly calls: number;
  /** Their multiply-adds, Σ m·n·k (2 flops each). */
  readonly multiplyAdds: number;
  /** Milliseconds spent in them, as read on the profiler's clock. */
  readonly ms: number;
}

/**
 * Starts profiling every product with `clock` (milliseconds, e.g. `() => performance.now()`; the
 * totals restart from zero), or stops it (`null`; the totals stay readable). For finding how much of a
 * region's time is matrix products: read {@link gemmProfile} before and after it. The package reads no
 * clock of its own (no ambient globals); while profiling each product costs two clock reads. Off by
 * default, and then one comparison per product.
 *
 * @example
 * ```ts
 * profileGemm(() => performance.now());
 * const before = gemmProfile();
 * trainStep();
 * const inGemm = gemmProfile().ms - before.ms;
 * profileGemm(null);
 * ```
 */
export function profileGemm(clock: (() => number) | null): void {
  if (clock !== null && typeof clock !== "function") {
    throw new TypeError(`profileGemm: clock must be a function returning milliseconds, or null (got ${typeof clock})`);
  }
  if (clock !== null) {
    profiler.calls = 0;
    profiler.multiplyAdds = 0;
    profiler.ms = 0;
  }
  profiler.clock = clock;
}

/** The profiler's totals since it was last started (zeros if it never was); a new object per call. */
export function gemmProfile(): GemmProfile {
  return { calls: profiler.calls, multiplyAdds: profiler.multiplyAdds, ms: profiler.ms };
}
