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
 * case in k and edge tiles compute on zero padding. The full-height panels for the tile sizes in use
 * (4 and 8) are the common case of every panel but the last and have their own unrolled loops
 * (`packFull`): op(X) = Xᵀ is read row by row, each row of X scattered R values at a time over all
 * panels (reads sequential; panel by panel, each R-wide read would start a new row of X, measured
 * 1.2–1.3× slower), and op(X) = X with R = 4 reads four rows side by side. The last partial panel, and
 * R = 8 on X itself (the JS kernel's Ã), go through the plain loops of `packRest`.
 *
 * Why two copies of `packFull` (a departure from one home per kernel, on purpose): V8 specialises an
 * element access to the one typed-array type it has seen, and the float32 path (wasm's f32 kernel, fed
 * by ekfac's float32 rotations) shares these loops with the float64 ones (the JS kernel, wasm's f64
 * kernel); seeing both made each access polymorphic and the loop 2.3× slower (in one process,
 * interleaved, 785 × 785 operand: 5.9 against 2.6 ns per element, Node 20, 2026-12-03). `packFull32`
 * is `packFull` with Float32Array types and is chosen when both arrays are Float32Array; keep the two
 * identical (gemm.test.ts compares every path against a naive product).
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
  const full = R === 4 || (R === 8 && trans) ? rows - (rows % R) : 0;
  if (full > 0) {
    if (x instanceof Float32Array && w instanceof Float32Array)
      packFull32(R, trans, x, offX, ldx, i0, full, p0, kc, kcp, w, base);
    else packFull(R, trans, x, offX, ldx, i0, full, p0, kc, kcp, w, base);
  }
  packRest(R, trans, x, offX, ldx, i0 + full, rows - full, p0, kc, kcp, w, base + full * kcp);
  if (kcp > kc) for (let ir = 0; ir < rows; ir += R) w.fill(0, base + ir * kcp + kc * R, base + (ir + R) * kcp);
}

/** Full panels (rows a multiple of R; R ∈ {4, 8} for op(X) = Xᵀ, R = 4 for X): see the file header. */
function packFull(
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
  if (trans) {
    const step = R * kcp;
    for (let p = 0; p < kc; p++) {
      let src = offX + (p0 + p) * ldx + i0;
      for (let dst = base + p * R, end = dst + (rows / R) * step; dst < end; dst += step, src += R) {
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
      }
    }
    return;
  }
  for (let ir = 0; ir < rows; ir += 4) {
    const s0 = offX + (i0 + ir) * ldx + p0;
    const s1 = s0 + ldx;
    const s2 = s1 + ldx;
    const s3 = s2 + ldx;
    let dst = base + ir * kcp;
    for (let p = 0; p < kc; p++, dst += 4) {
      w[dst] = x[s0 + p] as number;
      w[dst + 1] = x[s1 + p] as number;
      w[dst + 2] = x[s2 + p] as number;
      w[dst + 3] = x[s3 + p] as number;
    }
  }
}

/** `packFull` for Float32Array operand and panels (the file header says why it is a copy). */
function packFull32(
  R: number,
  trans: boolean,
  x: Float32Array,
  offX: number,
  ldx: number,
  i0: number,
  rows: number,
  p0: number,
  kc: number,
  kcp: number,
  w: Float32Array,
  base: number,
): void {
  if (trans) {
    const step = R * kcp;
    for (let p = 0; p < kc; p++) {
      let src = offX + (p0 + p) * ldx + i0;
      for (let dst = base + p * R, end = dst + (rows / R) * step; dst < end; dst += step, src += R) {
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
      }
    }
    return;
  }
  for (let ir = 0; ir < rows; ir += 4) {
    const s0 = offX + (i0 + ir) * ldx + p0;
    const s1 = s0 + ldx;
    const s2 = s1 + ldx;
    const s3 = s2 + ldx;
    let dst = base + ir * kcp;
    for (let p = 0; p < kc; p++, dst += 4) {
      w[dst] = x[s0 + p] as number;
      w[dst + 1] = x[s1 + p] as number;
      w[dst + 2] = x[s2 + p] as number;
      w[dst + 3] = x[s3 + p] as number;
    }
  }
}

/** Any panels, one row of op(X) at a time, rows past `rows` zero (the last partial panel, R = 8 on X). */
function packRest(
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
    for (let r = 0; r < R; r++) {
      let dst = panel + r;
      if (r >= r1) {
        for (let p = 0; p < kc; p++, dst += R) w[dst] = 0;
      } else if (trans) {
        // op(X)[i, p] = X[p, i]: column i of X, stride ldx.
        for (let p = 0, src = offX + p0 * ldx + i0 + ir + r; p < kc; p++, dst += R, src += ldx)
          w[dst] = x[src] as number;
      } else {
        for (let p = 0, src = offX + (i0 + ir + r) * ldx + p0; p < kc; p++, dst += R) w[dst] = x[src + p] as number;
      }
    }
  }
}
