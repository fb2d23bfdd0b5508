/**
 * Packing for the blocked gemm kernels, shared by the JavaScript kernel (gemm-kernel.ts: MR×NR = 8×4,
 * Float64Array panels) and the wasm driver (wasm/driver.ts: 4×8 for float32, 4×4 for float64, panels
 * in wasm memory of C's type).
 *
 * Source: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3),
 * 2008, §4 (packing Ã and B̃ into contiguous micro-panels); Van Zee & van de Geijn, "BLIS", TOMS
 * 41(3), 2015, Fig. 2. One routine packs both operands, as in BLIS: `packPanels(R, trans, x, …)` writes
 * op(X)[i0:i0+rows, p0:p0+kc] as R-tall panels, panel q (rows i0+q·R …) from base + q·R·kcp, holding
 * kcp groups of R values (column p of the panel). Ã is op(A)[ic:ic+mc, pc:pc+kc] in MR-tall panels;
 * B̃'s NR-wide panels, row p holding op(B)[pc+p, jc+q·NR …], are the R-tall panels of op(B)ᵀ, which is
 * B read with the opposite transpose flag.
 *
 * Rows past `rows` and groups past kc, up to kcp ≥ kc, are zero, so a micro-kernel never has an edge
 * case in k and edge tiles compute on zero padding. Packing reads op(X) in whatever order the
 * transpose dictates and always writes sequentially. The full-height copies for the tile sizes in use
 * (4 and 8) are unrolled: they are the common case of every panel but the last.
 *
 * Cost: one read and one write per element of the block, plus the padding; no allocation.
 */
import type { FloatArray } from "../matrix.ts";

/** op(X)[i0:i0+rows, p0:p0+kc] into R-tall panels at w[base…] (see the file header). */
export function packPanels(
  R: number,
  trans: boolean,
  x: FloatArray,
  offX: number,
  ldx: number,
  i0: number,
  rows: number,
  p0: number,
  kc: number,
  kcp: number,
  w: FloatArray,
  base: number,
): void {
  for (let ir = 0; ir < rows; ir += R) {
    const r1 = Math.min(R, rows - ir);
    const panel = base + ir * kcp;
    if (trans) {
      // op(X)[i, p] = X[p, i]: row p of X holds the panel's column p contiguously.
      const full = r1 === R && (R === 4 || R === 8);
      for (let p = 0; p < kc; p++) {
        const src = offX + (p0 + p) * ldx + i0 + ir;
        const dst = panel + p * R;
        if (full) {
          w[dst] = x[src] as number;
          w[dst + 1] = x[src + 1] as number;
          w[dst + 2] = x[src + 2] as number;
          w[dst + 3] = x[src + 3] as number;
          if (R === 8) {
            w[dst + 4] = x[src + 4] as number;
            w[dst + 5] = x[src + 5] as number;
            w[dst + 6] = x[src + 6] as number;
            w[dst + 7] = x[src + 7] as number;
          }
        } else {
          for (let r = 0; r < r1; r++) w[dst + r] = x[src + r] as number;
          for (let r = r1; r < R; r++) w[dst + r] = 0;
        }
      }
    } else if (R === 4 && r1 === 4) {
      // Four rows of X read side by side, written as consecutive groups of four.
      const s0 = offX + (i0 + ir) * ldx + p0;
      const s1 = s0 + ldx;
      const s2 = s1 + ldx;
      const s3 = s2 + ldx;
      let dst = panel;
      for (let p = 0; p < kc; p++) {
        w[dst] = x[s0 + p] as number;
        w[dst + 1] = x[s1 + p] as number;
        w[dst + 2] = x[s2 + p] as number;
        w[dst + 3] = x[s3 + p] as number;
        dst += 4;
      }
    } else {
      // op(X)[i, p] = X[i, p]: each row of X read contiguously, written with stride R; padding rows zero.
      for (let r = 0; r < R; r++) {
        const src = offX + (i0 + ir + r) * ldx + p0;
        let dst = panel + r;
        if (r < r1) {
          for (let p = 0; p < kc; p++) {
            w[dst] = x[src + p] as number;
            dst += R;
          }
        } else {
          for (let p = 0; p < kc; p++) {
            w[dst] = 0;
            dst += R;
          }
        }
      }
    }
    if (kcp > kc) w.fill(0, panel + kc * R, panel + kcp * R);
  }
}
