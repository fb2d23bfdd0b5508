/**
 * Unchecked gemv kernel: y = α·op(A)·x + β·y on raw strided buffers (the caller validated).
 * op(A) is m×n; A is stored row-major with leading dimension `lda` (n×m when `trans`); x and y are
 * read with increments `incX`, `incY` (so a row or a column of a matrix can serve as a vector).
 *
 * Source: reference BLAS xGEMV (row-major). Both loop orders read A contiguously: without `trans`
 * each y_i is a dot product of row i of A with x; with `trans` rows of A are added, scaled by x_i,
 * into a module-level double accumulator (grown on demand, reused: no allocation after warm-up).
 * Sums accumulate in double; y is rounded once. β = 0 overwrites y; α = 0 or n = 0 does not read A.
 *
 * Cost: 2mn flops. Also used by gemm for products with one row or one column, where packing for an
 * 8×4 register tile would waste most of the tile.
 */
import type { FloatArray } from "../matrix.ts";

let acc = new Float64Array(0);

export function gemvKernel(
  trans: boolean,
  m: number,
  n: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  x: FloatArray,
  offX: number,
  incX: number,
  beta: number,
  y: FloatArray,
  offY: number,
  incY: number,
): void {
  if (alpha === 0 || n === 0) {
    for (let i = 0, iy = offY; i < m; i++, iy += incY) y[iy] = beta === 0 ? 0 : beta * (y[iy] as number);
    return;
  }
  if (!trans) {
    for (let i = 0, iy = offY; i < m; i++, iy += incY) {
      const row = offA + i * lda;
      let s = 0;
      for (let j = 0, ix = offX; j < n; j++, ix += incX) s += (a[row + j] as number) * (x[ix] as number);
      y[iy] = alpha * s + (beta === 0 ? 0 : beta * (y[iy] as number));
    }
    return;
  }
  // op(A) = Aᵀ, A is n×m: sweep A by rows (contiguous), accumulating y in double.
  if (acc.length < m) acc = new Float64Array(m);
  const t = acc;
  t.fill(0, 0, m);
  for (let p = 0, ix = offX; p < n; p++, ix += incX) {
    const xp = x[ix] as number;
    const row = offA + p * lda;
    for (let j = 0; j < m; j++) t[j] = (t[j] as number) + xp * (a[row + j] as number);
  }
  for (let j = 0, iy = offY; j < m; j++, iy += incY) {
    y[iy] = alpha * (t[j] as number) + (beta === 0 ? 0 : beta * (y[iy] as number));
  }
}
