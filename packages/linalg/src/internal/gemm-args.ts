/**
 * The one description of a gemm call, C = α·op(A)·op(B) + β·C on raw row-major strided buffers, that
 * every backend kernel takes (the JS small and blocked kernels, the wasm driver, the threaded driver):
 * op(A) is m×k, op(B) is k×n, C is m×n, and element (i, j) of a stored matrix X lives at
 * `x[offX + i·ldX + j]` (X is stored k×m when op(X) = Xᵀ, and so on). Kernels trust it: the public
 * layer (gemm.ts) validated every index.
 *
 * A mutable record rather than sixteen positional arguments: the dispatch (gemm-dispatch.ts) fills
 * one module-level instance per call and hands it down, so no call allocates. Kernels read it and
 * never keep it past their return.
 */
import type { FloatArray } from "../matrix.ts";

export interface GemmArgs {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  a: FloatArray;
  offA: number;
  lda: number;
  b: FloatArray;
  offB: number;
  ldb: number;
  beta: number;
  c: FloatArray;
  offC: number;
  ldc: number;
  /**
   * Only C's lower triangle (j ≤ i) is wanted (syrk): a kernel may skip blocks and tiles that lie
   * wholly above the diagonal, whose entries it then leaves at β·C. Kernels that ignore it compute
   * them, which is as good. Set by `gemmLowerUnchecked`, false for every other call.
   */
  lower: boolean;
}

/**
 * The positional (BLAS-order) form of the same call, declared once: the internal entry point
 * `gemmUnchecked` (gemm-dispatch.ts) has this type, and the public `gemmStrided` (gemm.ts) takes the same
 * arguments and validates them. Each argument means what the GemmArgs field of its name says.
 */
// biome-ignore format: one line per BLAS argument group (op and shape, α; A; B; β and C), as BLAS documents them
export type GemmPositional<R> = (
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, offA: number, lda: number,
  b: FloatArray, offB: number, ldb: number,
  beta: number, c: FloatArray, offC: number, ldc: number,
) => R;

/** A backend kernel: computes the product described by `g` into g.c. */
export type GemmKernel = (g: Readonly<GemmArgs>) => void;

const EMPTY = new Float64Array(0);

/** A blank record to fill (all sizes 0), one per call site that needs its own. */
export function newGemmArgs(): GemmArgs {
  return {
    transA: false,
    transB: false,
    m: 0,
    n: 0,
    k: 0,
    alpha: 0,
    a: EMPTY,
    offA: 0,
    lda: 1,
    b: EMPTY,
    offB: 0,
    ldb: 1,
    beta: 0,
    c: EMPTY,
    offC: 0,
    ldc: 1,
    lower: false,
  };
}
