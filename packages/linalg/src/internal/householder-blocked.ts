/**
 * Blocked Householder kernels of the symmetric eigensolver (float64, unchecked; callers: `eigh.ts`,
 * `tridiagonal.ts`). Same storage as `symmetric-eigen.ts`: the row-major LOWER triangle of an n×n buffer
 * `w`, rows reduced from the bottom up; on return row i holds u_i in columns 0..i−1 and beta[i] its β,
 * H_i = I − β_i u_i u_iᵀ, and T = Qᵀ A Q with Q = H_{n−1} ⋯ H_2.
 *
 * 1. `tridiagonalizeBlockedKernel` — LAPACK dsytrd with dlatrd panels (UPLO = 'U' in column-major terms,
 *    which is our row-major lower triangle); Dongarra, Sorensen & Hammarling, "Block reduction of
 *    matrices to condensed forms for eigenvalue computations", J. Comput. Appl. Math. 27 (1989); GVL
 *    §8.3.1 + §5.1.7. A panel of nb rows i = hi−1 … lo is reduced with the rank-2 updates DEFERRED: with
 *    U = [u_i] and W = [w_i] (w_i = y_i − (β_i u_iᵀy_i / 2) u_i, y_i = β_i A_i u_i), the current matrix is
 *    A_i = A_stored − U Wᵀ − W Uᵀ, so row i is updated explicitly before its reflector is formed and the
 *    matrix-vector product y_i = β_i (A_stored u_i − U (Wᵀu_i) − W (Uᵀu_i)) reads the un-updated block.
 *    After the panel the leading lo×lo block gets A ← A − U Wᵀ − W Uᵀ as one gemm with k = 2·nb per block
 *    row of the lower triangle (a syr2k built from gemm; the diagonal blocks' upper halves are computed
 *    and ignored). The last leading block below the crossover is reduced by the unblocked kernel.
 *    Cost: 4n³/3 flops as unblocked, but only half (the symmetric matrix-vector products, 2n³/3,
 *    memory-bound) remains level-2; the other 2n³/3 are gemm.
 * 2. `applyQKernel` — V ← Q·V (LAPACK dormtr / dormql with compact WY blocks, dlarft + dlarfb;
 *    Schreiber & Van Loan, "A storage-efficient WY representation", SIAM J. Sci. Stat. Comput. 10 (1989);
 *    GVL §5.1.7). Reflectors are grouped in blocks [b0, b1) taken in ascending order (Q applies H_2
 *    first): H_{b0} ⋯ H_{b1−1} = I − U T Uᵀ with T upper triangular (forward dlarft:
 *    T[0:q, q] = −β_q T[0:q, 0:q] Uᵀu_q), so H_{b1−1} ⋯ H_{b0} = I − U Tᵀ Uᵀ and
 *    V ← V − U (Tᵀ (Uᵀ V)): two gemms and a k×k triangular product. Cost ≈ 2n²·cols flops.
 *    Used with V = the tridiagonal's eigenvectors this gives A's eigenvectors directly (dsyevd's
 *    dormtr step) without ever forming Q; with V = I it forms Q.
 *
 * Deviation from LAPACK: u_i is not normalised to a unit last entry (β absorbs the scale, as in the
 * unblocked kernel); the syr2k is done by gemm on block rows.
 */
import { gemmKernel } from "./gemm-kernel.ts";
import { tridiagonalizeKernel } from "./symmetric-eigen.ts";

/** Rows per panel (nb) and the size below which the unblocked kernel finishes (LAPACK's nx). */
export const TRD_BLOCK = 32;
const TRD_CROSSOVER = 128;
/** Block rows of the trailing syr2k. */
const SYR2K_ROWS = 96;
/** Reflectors per compact-WY block in `applyQKernel`. */
export const WY_BLOCK = 48;

/** Scratch for the blocked kernels at size n: sizes in doubles. */
export function householderScratchSize(n: number): { panel: number; wy: number } {
  return {
    // panel W (nb×n) + [U; W; U] (3nb×n)
    panel: 4 * TRD_BLOCK * n,
    // Ut (k×n) + T (k×k) + X (k×n)
    wy: 2 * WY_BLOCK * n + WY_BLOCK * WY_BLOCK,
  };
}

/**
 * Householder tridiagonalization of the lower triangle of `w` (see header), blocked. `p` is scratch of
 * length ≥ n, `scratch` of length ≥ householderScratchSize(n).panel.
 */
export function tridiagonalizeBlockedKernel(
  n: number,
  w: Float64Array,
  d: Float64Array,
  e: Float64Array,
  beta: Float64Array,
  p: Float64Array,
  scratch: Float64Array,
): void {
  const nb = TRD_BLOCK;
  const wp = scratch; // W: row (i − lo) holds w_i in columns 0..i−1
  const zoff = nb * n; // [U; W; U], each nb × lo with leading dimension lo
  let hi = n;
  while (hi - nb >= TRD_CROSSOVER) {
    const lo = hi - nb;
    for (let i = hi - 1; i >= lo; i--) {
      const ri = i * n;
      // Row i of the current matrix: A_stored[i, 0..i] − Σ_q (u_q[i] w_q + w_q[i] u_q), q earlier in the panel.
      for (let q = i + 1; q < hi; q++) {
        const uq = q * n;
        const wq = (q - lo) * n;
        const a1 = w[uq + i] as number;
        const a2 = wp[wq + i] as number;
        for (let c = 0; c <= i; c++) {
          w[ri + c] = (w[ri + c] as number) - a1 * (wp[wq + c] as number) - a2 * (w[uq + c] as number);
        }
      }
      const wr = (i - lo) * n;
      d[i] = w[ri + i] as number;
      const xl = w[ri + i - 1] as number;
      let scale = 0;
      for (let j = 0; j < i - 1; j++) {
        const v = Math.abs(w[ri + j] as number);
        if (v > scale) scale = v;
      }
      if (scale === 0) {
        // Row already reduced: H_i = I, w_i = 0.
        e[i - 1] = xl;
        beta[i] = 0;
        wp.fill(0, wr, wr + i);
        continue;
      }
      if (Math.abs(xl) > scale) scale = Math.abs(xl);
      let h = 0;
      for (let j = 0; j < i; j++) {
        const v = (w[ri + j] as number) / scale;
        w[ri + j] = v;
        h += v * v;
      }
      const f = w[ri + i - 1] as number;
      const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i - 1] = scale * g;
      h -= f * g;
      w[ri + i - 1] = f - g;
      const bt = 1 / h;
      beta[i] = bt;

      symvLower(n, w, ri, i, p);
      // y −= U (Wᵀu) + W (Uᵀu) for the panel's earlier reflectors.
      for (let q = i + 1; q < hi; q++) {
        const uq = q * n;
        const wq = (q - lo) * n;
        let wu = 0;
        let uu = 0;
        for (let c = 0; c < i; c++) {
          const uc = w[ri + c] as number;
          wu += (wp[wq + c] as number) * uc;
          uu += (w[uq + c] as number) * uc;
        }
        for (let c = 0; c < i; c++) {
          p[c] = (p[c] as number) - (w[uq + c] as number) * wu - (wp[wq + c] as number) * uu;
        }
      }
      let upb = 0;
      for (let r = 0; r < i; r++) {
        const v = (p[r] as number) * bt;
        p[r] = v;
        upb += (w[ri + r] as number) * v;
      }
      const kk = (bt * upb) / 2;
      for (let r = 0; r < i; r++) wp[wr + r] = (p[r] as number) - kk * (w[ri + r] as number);
    }

    // Trailing update of the leading lo×lo block: A ← A − U Wᵀ − W Uᵀ with Z = [U; W; U] (rows = vectors).
    const ld = lo;
    for (let q = 0; q < nb; q++) {
      const src = (lo + q) * n;
      const wsrc = q * n;
      const d1 = zoff + q * ld;
      const d2 = zoff + (nb + q) * ld;
      const d3 = zoff + (2 * nb + q) * ld;
      for (let c = 0; c < lo; c++) {
        const u = w[src + c] as number;
        scratch[d1 + c] = u;
        scratch[d2 + c] = wp[wsrc + c] as number;
        scratch[d3 + c] = u;
      }
    }
    for (let r0 = 0; r0 < lo; r0 += SYR2K_ROWS) {
      const r1 = Math.min(lo, r0 + SYR2K_ROWS);
      // C[r0:r1, 0:r1] −= [U;W][:, r0:r1]ᵀ · [W;U][:, 0:r1]
      gemmKernel(
        true,
        false,
        r1 - r0,
        r1,
        2 * nb,
        -1,
        scratch,
        zoff + r0,
        ld,
        scratch,
        zoff + nb * ld,
        ld,
        1,
        w,
        r0 * n,
        n,
      );
    }
    hi = lo;
  }
  tridiagonalizeKernel(n, w, d, e, beta, p, hi);
}

/**
 * p[0:i] = A[0:i, 0:i]·u with A symmetric, read from the row-major lower triangle of `w`, and u in
 * w[ri .. ri+i). Rows are taken four at a time so that each u[c] and p[c] load serves four matrix
 * entries (the loop is memory-bound: 2i² flops on i²/2 matrix entries).
 */
function symvLower(n: number, w: Float64Array, ri: number, i: number, p: Float64Array): void {
  for (let r = 0; r < i; r++) p[r] = 0;
  let r = 0;
  for (; r + 3 < i; r += 4) {
    const o0 = r * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    const u0 = w[ri + r] as number;
    const u1 = w[ri + r + 1] as number;
    const u2 = w[ri + r + 2] as number;
    const u3 = w[ri + r + 3] as number;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let c = 0; c < r; c++) {
      const uc = w[ri + c] as number;
      const b0 = w[o0 + c] as number;
      const b1 = w[o1 + c] as number;
      const b2 = w[o2 + c] as number;
      const b3 = w[o3 + c] as number;
      a0 += b0 * uc;
      a1 += b1 * uc;
      a2 += b2 * uc;
      a3 += b3 * uc;
      p[c] = (p[c] as number) + b0 * u0 + b1 * u1 + b2 * u2 + b3 * u3;
    }
    // The 4×4 diagonal block (lower triangle: rows r..r+3, columns r..row).
    const b10 = w[o1 + r] as number;
    const b20 = w[o2 + r] as number;
    const b21 = w[o2 + r + 1] as number;
    const b30 = w[o3 + r] as number;
    const b31 = w[o3 + r + 1] as number;
    const b32 = w[o3 + r + 2] as number;
    p[r] = (p[r] as number) + a0 + (w[o0 + r] as number) * u0 + b10 * u1 + b20 * u2 + b30 * u3;
    p[r + 1] = (p[r + 1] as number) + a1 + b10 * u0 + (w[o1 + r + 1] as number) * u1 + b21 * u2 + b31 * u3;
    p[r + 2] = (p[r + 2] as number) + a2 + b20 * u0 + b21 * u1 + (w[o2 + r + 2] as number) * u2 + b32 * u3;
    p[r + 3] = (p[r + 3] as number) + a3 + b30 * u0 + b31 * u1 + b32 * u2 + (w[o3 + r + 3] as number) * u3;
  }
  for (; r < i; r++) {
    const rr = r * n;
    const ur = w[ri + r] as number;
    let acc = 0;
    for (let c = 0; c < r; c++) {
      const b = w[rr + c] as number;
      acc += b * (w[ri + c] as number);
      p[c] = (p[c] as number) + b * ur;
    }
    p[r] = (p[r] as number) + acc + (w[rr + r] as number) * ur;
  }
}

/**
 * V ← Q·V with Q = H_{n−1} ⋯ H_2 from the reflectors in `w`/`beta` (see header). `v` is row-major with n
 * rows and `cols` columns (leading dimension `ldv`); `scratch` has length ≥ householderScratchSize(n).wy.
 */
export function applyQKernel(
  n: number,
  w: Float64Array,
  beta: Float64Array,
  v: Float64Array,
  cols: number,
  ldv: number,
  scratch: Float64Array,
): void {
  const kb = WY_BLOCK;
  const utOff = 0;
  const tOff = kb * n;
  const xOff = tOff + kb * kb;
  for (let b0 = 2; b0 < n; b0 += kb) {
    const b1 = Math.min(n, b0 + kb);
    const k = b1 - b0;
    const len = b1 - 1; // u_{b1−1} has entries 0..b1−2
    // Ut (k × len): row q = u_{b0+q}, zero beyond its support.
    for (let q = 0; q < k; q++) {
      const j = b0 + q;
      const dst = utOff + q * len;
      const src = j * n;
      for (let c = 0; c < j; c++) scratch[dst + c] = w[src + c] as number;
      for (let c = j; c < len; c++) scratch[dst + c] = 0;
    }
    // T (k × k, upper): T[q][q] = β_q, T[0:q, q] = −β_q T[0:q, 0:q] (Uᵀ u_q)[0:q].
    for (let q = 0; q < k; q++) {
      const bq = beta[b0 + q] as number;
      const uq = utOff + q * len;
      const lq = b0 + q; // support of u_q
      for (let r = 0; r < q; r++) {
        const ur = utOff + r * len;
        const lr = Math.min(b0 + r, lq);
        let s = 0;
        for (let c = 0; c < lr; c++) s += (scratch[ur + c] as number) * (scratch[uq + c] as number);
        scratch[xOff + r] = s; // temporary: Uᵀu_q
      }
      for (let r = 0; r < q; r++) {
        let s = 0;
        for (let t = r; t < q; t++) s += (scratch[tOff + r * kb + t] as number) * (scratch[xOff + t] as number);
        scratch[tOff + r * kb + q] = -bq * s;
      }
      scratch[tOff + q * kb + q] = bq;
      for (let r = q + 1; r < k; r++) scratch[tOff + r * kb + q] = 0;
    }
    // X = Uᵀ V[0:len, :]   (k × cols)
    gemmKernel(false, false, k, cols, len, 1, scratch, utOff, len, v, 0, ldv, 0, scratch, xOff, cols);
    // X ← Tᵀ X, bottom row first so that the rows still needed are unchanged.
    for (let q = k - 1; q >= 0; q--) {
      const xq = xOff + q * cols;
      const tqq = scratch[tOff + q * kb + q] as number;
      for (let c = 0; c < cols; c++) scratch[xq + c] = tqq * (scratch[xq + c] as number);
      for (let r = 0; r < q; r++) {
        const trq = scratch[tOff + r * kb + q] as number;
        if (trq === 0) continue;
        const xr = xOff + r * cols;
        for (let c = 0; c < cols; c++)
          scratch[xq + c] = (scratch[xq + c] as number) + trq * (scratch[xr + c] as number);
      }
    }
    // V[0:len, :] −= U X
    gemmKernel(true, false, len, cols, k, -1, scratch, utOff, len, scratch, xOff, cols, 1, v, 0, ldv);
  }
}
