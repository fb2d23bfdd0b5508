/**
 * Unchecked gemm kernel: C = α·op(A)·op(B) + β·C on raw strided buffers (the caller validated).
 *
 * PLACEHOLDER ORDER OF LOOPS — straightforward i-p-j (row-major friendly) with op() folded into the
 * index arithmetic. The cache-blocked, packed, register-tiled kernel replaces this body.
 *
 * β = 0 overwrites C (BLAS semantics: NaN/Inf already in C vanish).
 */
import type { FloatArray } from "../matrix.ts";

export function gemmKernel(
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
): void {
  for (let i = 0; i < m; i++) {
    const ci = offC + i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[ci + j] = beta * (c[ci + j] as number);
  }
  if (alpha === 0 || k === 0) return;
  // op(A)[i, p] = transA ? A[p, i] : A[i, p]; op(B)[p, j] = transB ? B[j, p] : B[p, j]
  const sai = transA ? 1 : lda;
  const sap = transA ? lda : 1;
  const sbp = transB ? 1 : ldb;
  const sbj = transB ? ldb : 1;
  for (let i = 0; i < m; i++) {
    const ci = offC + i * ldc;
    for (let p = 0; p < k; p++) {
      const aip = alpha * (a[offA + i * sai + p * sap] as number);
      const bp = offB + p * sbp;
      for (let j = 0; j < n; j++) c[ci + j] = (c[ci + j] as number) + aip * (b[bp + j * sbj] as number);
    }
  }
}
