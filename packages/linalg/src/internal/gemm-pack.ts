/**
 * Packing for the blocked gemm kernels, shared by the JavaScript kernel (gemm-kernel.ts: MR×NR = 8×4,
 * Float64Array panels) and the wasm driver (wasm/driver.ts: 4×8 for float32, 4×4 for float64, panels
 * in wasm memory of C's type).
 *
 * Source: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3),
 * 2008, §4 (packing Ã and B̃ into contiguous micro-panels); Van Zee & van de Geijn, "BLIS", TOMS
 * 41(3), 2015, Fig. 2. Panels:
 *
 *   packA: op(A)[ic:ic+mc, pc:pc+kc] → MR-tall panels; panel q (rows ic+q·MR …) starts at
 *          base + q·MR·kcp and holds kcp groups of MR values (column p of the panel);
 *   packB: op(B)[pc:pc+kc, jc:jc+nc] → NR-wide panels; panel q (columns jc+q·NR …) starts at
 *          base + q·NR·kcp and holds kcp groups of NR values (row p of the panel).
 *
 * Rows (columns) past mc (nc) and groups past kc, up to kcp ≥ kc, are zero, so a micro-kernel never
 * has an edge case in k and edge tiles compute on zero padding. Packing reads op(X) in whatever order
 * the transpose dictates and always writes sequentially. The full-width copies for the tile widths in
 * use (4 and 8) are unrolled: they are the common case of every panel but the last.
 *
 * Cost: one read and one write per element of the block, plus the padding; no allocation.
 */
import type { FloatArray } from "../matrix.ts";

/** op(A)[ic:ic+mc, pc:pc+kc] into MR-tall panels at w[base…] (see the file header). */
export function packA(
  MR: number,
  transA: boolean,
  a: FloatArray,
  offA: number,
  lda: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  kcp: number,
  w: FloatArray,
  base: number,
): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = Math.min(MR, mc - ir);
    const panel = base + ir * kcp;
    if (transA) {
      // op(A)[i, p] = A[p, i]: row p of A holds the panel's column p contiguously.
      for (let p = 0; p < kc; p++) {
        const src = offA + (pc + p) * lda + ic + ir;
        const dst = panel + p * MR;
        for (let r = 0; r < mr; r++) w[dst + r] = a[src + r] as number;
        for (let r = mr; r < MR; r++) w[dst + r] = 0;
      }
    } else if (MR === 4 && mr === 4) {
      // Four rows of A read side by side, written as consecutive groups of four.
      const s0 = offA + (ic + ir) * lda + pc;
      const s1 = s0 + lda;
      const s2 = s1 + lda;
      const s3 = s2 + lda;
      let dst = panel;
      for (let p = 0; p < kc; p++) {
        w[dst] = a[s0 + p] as number;
        w[dst + 1] = a[s1 + p] as number;
        w[dst + 2] = a[s2 + p] as number;
        w[dst + 3] = a[s3 + p] as number;
        dst += 4;
      }
    } else {
      // op(A)[i, p] = A[i, p]: each row of A read contiguously, written with stride MR.
      for (let r = 0; r < MR; r++) {
        const src = offA + (ic + ir + r) * lda + pc;
        let dst = panel + r;
        if (r < mr) {
          for (let p = 0; p < kc; p++) {
            w[dst] = a[src + p] as number;
            dst += MR;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            w[dst] = 0;
            dst += MR;
          }
        }
      }
    }
    if (kcp > kc) w.fill(0, panel + kc * MR, panel + kcp * MR);
  }
}

/** op(B)[pc:pc+kc, jc:jc+nc] into NR-wide panels at w[base…] (see the file header). */
export function packB(
  NR: number,
  transB: boolean,
  b: FloatArray,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  kcp: number,
  jc: number,
  nc: number,
  w: FloatArray,
  base: number,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const panel = base + jr * kcp;
    if (transB) {
      // op(B)[p, j] = B[j, p]: each of the panel's rows of B read contiguously, written with stride NR.
      for (let j = 0; j < NR; j++) {
        const src = offB + (jc + jr + j) * ldb + pc;
        let dst = panel + j;
        if (j < nr) {
          for (let p = 0; p < kc; p++) {
            w[dst] = b[src + p] as number;
            dst += NR;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            w[dst] = 0;
            dst += NR;
          }
        }
      }
    } else {
      // op(B)[p, j] = B[p, j]: row p of B holds the panel's row p contiguously.
      for (let p = 0; p < kc; p++) {
        const src = offB + (pc + p) * ldb + jc + jr;
        const dst = panel + p * NR;
        if (nr === NR && (NR === 4 || NR === 8)) {
          w[dst] = b[src] as number;
          w[dst + 1] = b[src + 1] as number;
          w[dst + 2] = b[src + 2] as number;
          w[dst + 3] = b[src + 3] as number;
          if (NR === 8) {
            w[dst + 4] = b[src + 4] as number;
            w[dst + 5] = b[src + 5] as number;
            w[dst + 6] = b[src + 6] as number;
            w[dst + 7] = b[src + 7] as number;
          }
        } else {
          for (let j = 0; j < nr; j++) w[dst + j] = b[src + j] as number;
          for (let j = nr; j < NR; j++) w[dst + j] = 0;
        }
      }
    }
    if (kcp > kc) w.fill(0, panel + kc * NR, panel + kcp * NR);
  }
}
