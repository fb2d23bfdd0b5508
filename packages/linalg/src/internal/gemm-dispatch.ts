/**
 * The one gemm dispatch: every product C = α·op(A)·op(B) + β·C in the package (gemm, gemmStrided,
 * matmul, syrk's blocks, eigh's reductions and back-transformations) comes through `gemmUnchecked`
 * and is sent to exactly one backend, in this order:
 *
 *   threads   the wasm kernels on worker threads (`setThreads`), when running and the product is big
 *             enough (wasm/threads.ts decides "big enough"; it declines otherwise)
 *   wasm      WebAssembly SIMD (wasm/driver.ts): backend "wasm" (or "auto" resolved to it), m, n ≥ 2,
 *             α ≠ 0, m·n·k ≥ WASM_MIN_WORK and C̃ under MAX_C_BYTES
 *   gemv      one row or one column with n·k (m·k) ≥ SMALL_WORK (gemv-kernel.ts): an 8×4 register
 *             tile would be 7/8 or 3/4 padding
 *   small     m·n·k < SMALL_WORK: unpacked dot products (gemm-kernel.ts, `gemmSmall`)
 *   blocked   the packed JS kernel (gemm-kernel.ts, `gemmBlocked`)
 *
 * The kernels only compute; the thresholds below are the whole policy. The caller validated every
 * index (gemm.ts is the public, checking layer; internal callers are trusted).
 * Cost: a few comparisons per call; no allocation (one module-level `GemmArgs` is refilled per call,
 * which is safe because no kernel calls back into the dispatch). While the product profiler is on
 * (gemm.ts, `profileGemm`), two reads of the caller's clock per call around the whole dispatch, so
 * a product's time includes its copies, packing and, on threads, the wait for the workers.
 */
import type { FloatArray } from "../matrix.ts";
import { type GemmArgs, type GemmPositional, newGemmArgs } from "./gemm-args.ts";
import { gemmBlocked, gemmSmall } from "./gemm-kernel.ts";
import { gemvKernel } from "./gemv-kernel.ts";
import { gemmWasm } from "./wasm/driver.ts";
import { reservedBytes } from "./wasm/instance.ts";
import { activeBackend } from "./wasm/runtime.ts";
import { gemmThreaded, threadCount } from "./wasm/threads.ts";

/** Below this many multiply-adds the packed JS kernel costs more than it saves. */
export const SMALL_WORK = 16 * 16 * 16;
/**
 * Below this many multiply-adds the copies into and out of wasm memory cost more than SIMD saves
 * (measured against the JS kernels, square n³: equal at 8³, wasm 2.3× faster at 12³, 3× at 32³).
 */
export const WASM_MIN_WORK = 16 * 16 * 16;
/** C̃ lives whole in wasm memory; past 256 MiB stay on JS rather than risk a failed grow. */
const MAX_C_BYTES = 1 << 28;

const args: GemmArgs = newGemmArgs();

/** Running totals of the product profiler (gemm.ts, `profileGemm`); `clock` null while it is off. */
export const profiler = { clock: null as (() => number) | null, calls: 0, multiplyAdds: 0, ms: 0 };

/** Which backend `gemmDispatch` sends a product to (for tests and diagnostics). */
export type GemmRoute = "threads" | "wasm" | "gemv-row" | "gemv-column" | "small" | "blocked";

/** The route of the product `g` under the current backend, thread and resident-region state. */
export function gemmRoute(g: Readonly<GemmArgs>): GemmRoute {
  const { m, n, k } = g;
  if (
    m >= 2 &&
    n >= 2 &&
    g.alpha !== 0 &&
    m * n * k >= WASM_MIN_WORK &&
    m * n * g.c.BYTES_PER_ELEMENT <= MAX_C_BYTES &&
    activeBackend() === "wasm"
  ) {
    return threadCount() > 1 && reservedBytes() === 0 ? "threads" : "wasm";
  }
  if (m === 1 && n * k >= SMALL_WORK) return "gemv-row";
  if (n === 1 && m * k >= SMALL_WORK) return "gemv-column";
  return m * n * k < SMALL_WORK ? "small" : "blocked";
}

/** Runs the product `g` on the backend `gemmRoute(g)` names (threads fall back to one thread when they decline). */
export function gemmDispatch(g: Readonly<GemmArgs>): void {
  const { transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc } = g;
  switch (gemmRoute(g)) {
    case "threads":
      if (!gemmThreaded(g)) gemmWasm(g);
      return;
    case "wasm":
      gemmWasm(g);
      return;
    case "gemv-row":
      // One row: cᵀ = α·op(B)ᵀ·op(A)[0, :]ᵀ + β·cᵀ, a gemv with B (n×k when transB, else k×n).
      gemvKernel(!transB, n, k, alpha, b, offB, ldb, a, offA, transA ? lda : 1, beta, c, offC, 1);
      return;
    case "gemv-column":
      // One column: c = α·op(A)·op(B)[:, 0] + β·c.
      gemvKernel(transA, m, k, alpha, a, offA, lda, b, offB, transB ? 1 : ldb, beta, c, offC, ldc);
      return;
    case "small":
      gemmSmall(g);
      return;
    case "blocked":
      gemmBlocked(g);
  }
}

/**
 * C = α·op(A)·op(B) + β·C, BLAS-style arguments (see gemm-args.ts for their meaning), unchecked: the
 * entry point of the package's internal callers and of gemm.ts after validation.
 */
// biome-ignore format: the argument groups of GemmPositional
export const gemmUnchecked: GemmPositional<void> = function gemmUnchecked(
  transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc,
) {
  run(false, transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc);
};

/**
 * `gemmUnchecked` for a caller that reads only C's lower triangle (m = n, syrk): the kernels may skip
 * what lies wholly above the diagonal and leave it at β·C (GemmArgs `lower`).
 */
// biome-ignore format: the argument groups of GemmPositional
export const gemmLowerUnchecked: GemmPositional<void> = function gemmLowerUnchecked(
  transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc,
) {
  run(true, transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc);
};

// biome-ignore format: the argument groups of GemmPositional
function run(
  lower: boolean,
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, offA: number, lda: number,
  b: FloatArray, offB: number, ldb: number,
  beta: number, c: FloatArray, offC: number, ldc: number,
): void {
  const g = args;
  g.transA = transA;
  g.transB = transB;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.a = a;
  g.offA = offA;
  g.lda = lda;
  g.b = b;
  g.offB = offB;
  g.ldb = ldb;
  g.beta = beta;
  g.c = c;
  g.offC = offC;
  g.ldc = ldc;
  g.lower = lower;
  const clock = profiler.clock;
  if (clock === null) {
    gemmDispatch(g);
    return;
  }
  const t0 = clock();
  gemmDispatch(g);
  profiler.ms += clock() - t0;
  profiler.calls++;
  // A lower-triangle product counts the triangle (with its diagonal) it asked for.
  profiler.multiplyAdds += lower && m === n ? ((n * (n + 1)) / 2) * k : m * n * k;
}
