/**
 * Symmetric rank-k update, BLAS level 3: C = α·XᵀX + β·C (default), or C = α·X·Xᵀ + β·C with
 * `trans: false`. X is N×d (rows are examples), C is d×d; with `trans: false` X is d×N.
 * This is the KFAC factor update `A = āᵀā / N` (Martens & Grosse 2015, §3): `syrk(1 / N, aBar, 0, A)`.
 *
 * Source: BLAS xSYRK (trans = 'T' is the default here, 'N' is `trans: false`) as BLIS computes it
 * (Van Zee & van de Geijn, "BLIS", TOMS 41(3), 2015, §4: herk/syrk are gemm with the macro-kernel
 * skipping the blocks above the diagonal): one product through the gemm dispatch that asks for the
 * lower triangle only (`gemmLowerUnchecked`); the kernels skip the blocks and tiles wholly above the
 * diagonal (the wasm driver runs its macro-kernel 32 rows at a time, each to its last row's column),
 * so the packing of X is done once. The strictly upper triangle is then mirrored from the lower
 * one, so the result is exactly symmetric whatever rounding happened.
 *
 * Deviations from BLAS: BLAS updates one triangle and leaves the other untouched; here the full C is
 * written (the upper triangle is a copy of the lower), because every consumer here wants a full
 * symmetric matrix. As in BLAS only the lower triangle of the old C is read when β ≠ 0: the upper
 * triangle of the input is ignored. β = 0 overwrites C (old NaN/Inf vanish).
 *
 * Cost: ≈ d·(d + 32)·k flops for k = N on the wasm kernel (half of gemm's 2·d²·k and a band), plus the
 * d²/2 copy. Measured (Node 20, 2026-12-05, float32, X 250 × 785): 4.3 ms as 13 block-row products
 * of 64 rows (each packing X again), ≈ 3.5 ms as one (see packages/bench/README.md).
 * No allocation (the gemm kernel's packing buffers are reused).
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
import { gemmLowerUnchecked } from "./internal/gemm-dispatch.ts";
import { type FloatArray, type Matrix, offsetOf, shapeOf, strideOf } from "./matrix.ts";
import { checkFlag, checkOptions, optionKeys } from "./options.ts";

/** Which Gram matrix {@link syrk} forms: of the columns (XᵀX, default) or of the rows (X·Xᵀ). */
export interface SyrkOptions {
  /**
   * true (default): C = α·XᵀX + β·C, X is N×d (Gram matrix of the columns, the KFAC factor form).
   * false: C = α·X·Xᵀ + β·C, X is d×N (Gram matrix of the rows).
   */
  readonly trans?: boolean;
}

const SYRK_OPTIONS = optionKeys<SyrkOptions>()(["trans"]);

/** C = α·XᵀX + β·C (or α·X·Xᵀ + β·C with `trans: false`), exactly symmetric; writes and returns `c`. */
export function syrk(alpha: number, x: Matrix, beta: number, c: Matrix, options: SyrkOptions = {}): Matrix {
  const fn = "syrk";
  assertMatrix(fn, "x", x);
  assertMatrix(fn, "c", c);
  assertSameDtype(fn, "x", x.data, "c", c.data);
  assertAlphaBeta(fn, alpha, beta);
  checkOptions(fn, "options", options, SYRK_OPTIONS);
  checkFlag(fn, "options.trans", options.trans);
  const trans = options.trans ?? true;
  const d = trans ? x.cols : x.rows;
  const k = trans ? x.rows : x.cols;
  if (c.rows !== d || c.cols !== d) {
    throw shapeError(fn, "c", c, `${d}×${d} for ${trans ? "xᵀx" : "x·xᵀ"} with x ${shapeOf(x)}`);
  }
  if (sharesMemory(c.data, x.data)) {
    throw new RangeError(`${fn}: c must not share its buffer with x (the product would read overwritten values)`);
  }
  // (A row stride of 0, an empty matrix's, is stored as 1: the strided entry point asks ld ≥ 1.)
  const ldx = Math.max(1, strideOf(x));
  syrkStrided(trans, d, k, alpha, x.data, offsetOf(x), ldx, beta, c.data, offsetOf(c), Math.max(1, strideOf(c)));
  return c;
}

/**
 * {@link syrk} on raw strided buffers, like `gemmStrided`: C (d×d at `offC`, row stride `ldc`) =
 * α·XᵀX + β·C with X k×d (`trans`, the default of syrk) or α·X·Xᵀ + β·C with X d×k, X at `offX` with
 * row stride `ldx`. Validates without allocating (the entry point the curvature blocks call every
 * step); returns `c`. With `mirror` false the strictly upper triangle is unspecified (partly computed,
 * partly β times its old value): for a caller that reads only the lower triangle and would otherwise
 * pay for the mirror twice (the Kronecker blocks fold it into a float64 average).
 */
export function syrkStrided(
  trans: boolean,
  d: number,
  k: number,
  alpha: number,
  x: FloatArray,
  offX: number,
  ldx: number,
  beta: number,
  c: FloatArray,
  offC: number,
  ldc: number,
  mirror = true,
): FloatArray {
  const fn = "syrkStrided";
  assertIndex(fn, "d", d);
  assertIndex(fn, "k", k);
  assertStridedOperand(fn, "x", "offX", x, offX, ldx, trans ? k : d, trans ? d : k);
  assertStridedOperand(fn, "c", "offC", c, offC, ldc, d, d);
  assertSameDtype(fn, "x", x, "c", c);
  assertAlphaBeta(fn, alpha, beta);
  if (typeof mirror !== "boolean") throw new TypeError(`${fn}: mirror must be a boolean (got ${String(mirror)})`);
  if (sharesMemory(c, x)) {
    throw new RangeError(`${fn}: c must not share its buffer with x (the product would read overwritten values)`);
  }
  // One product asking for the lower triangle only: XᵀX is gemm(Xᵀ, X), X·Xᵀ is gemm(X, Xᵀ).
  gemmLowerUnchecked(trans, !trans, d, d, k, alpha, x, offX, ldx, x, offX, ldx, beta, c, offC, ldc);
  if (mirror) mirrorLower(d, c, offC, ldc);
  return c;
}

/** C[i, j] ← C[j, i] for j > i, in square blocks so both the reads and the writes stay in cache. */
function mirrorLower(d: number, c: Matrix["data"], offC: number, ldc: number): void {
  const B = 32;
  for (let j0 = 0; j0 < d; j0 += B) {
    const j1 = Math.min(d, j0 + B);
    for (let i0 = 0; i0 <= j0; i0 += B) {
      const i1 = Math.min(d, i0 + B);
      for (let i = i0; i < i1; i++) {
        const row = offC + i * ldc;
        for (let j = Math.max(j0, i + 1); j < j1; j++) c[row + j] = c[offC + j * ldc + i] as number;
      }
    }
  }
}
