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
 *    With the wasm backend the panels run on a copy of the matrix held in wasm memory
 *    (`reserveResident`, one copy in and out, 2n² moves): the symmetric matrix-vector product's inner
 *    loop over four rows is `symv4` (f64x2, each matrix entry loaded once for the row dot product and
 *    the column axpy), the panel's rank-2 corrections (row i's update and y −= U(Wᵀu) + W(Uᵀu)) are
 *    `axpy2` / `dot2` with W held there too, and the syr2k gemms copy from and to that region.
 *    Measured at n = 1000 (load ≈ 2–3 on 2 cores): reduction 290 ms → 120–170 ms (the JS symv took
 *    170 ms of the 290, symv4 55 ms; the JS corrections ≈ 60 ms).
 * 2. `applyQKernel` — V ← Q·V (LAPACK dormtr / dormql with compact WY blocks, dlarft + dlarfb;
 *    Schreiber & Van Loan, "A storage-efficient WY representation", SIAM J. Sci. Stat. Comput. 10 (1989);
 *    GVL §5.1.7). Reflectors are grouped in blocks [b0, b1) taken in ascending order (Q applies H_2
 *    first): H_{b0} ⋯ H_{b1−1} = I − U T Uᵀ with T upper triangular (forward dlarft:
 *    T[0:q, q] = −β_q T[0:q, 0:q] Uᵀu_q), so H_{b1−1} ⋯ H_{b0} = I − U Tᵀ Uᵀ and
 *    V ← V − U (Tᵀ (Uᵀ V)): three gemms (Uᵀ V, Tᵀ X with T's zeros included, U Y), and T is built
 *    from the Gram matrix G = Ut·Utᵀ (a gemm) by the O(k³) recurrence T[0:q, q] = −β_q T[0:q, 0:q]
 *    G[0:q, q]. Cost ≈ 2n²·cols flops + 2n·k·(n + cols) for G and TᵀX, all gemm. (Building G and TᵀX
 *    in JS loops instead took 60 ms of 230 at n = 1000.) With the wasm backend V is copied into wasm
 *    memory for the whole product (`reserveResident`), so each block's C copies are memmoves there.
 *    Measured at n = 1000, V = I (load ≈ 1–2 on 2 cores): 250 ms → 160 ms.
 *    Used with V = the tridiagonal's eigenvectors this gives A's eigenvectors directly (dsyevd's
 *    dormtr step) without ever forming Q; with V = I it forms Q.
 *
 * Deviation from LAPACK: u_i is not normalised to a unit last entry (β absorbs the scale, as in the
 * unblocked kernel); the syr2k is done by gemm on block rows; dlarft's triangular products and
 * dlarfb's T·X become full gemms over the zero-padded reflectors / T (more flops, far faster kernel).
 */
import { gemmUnchecked } from "./gemm-dispatch.ts";
import {
  householderRow,
  reflectorW,
  symvRows,
  type TridiagonalBuffers,
  tridiagonalizeKernel,
} from "./symmetric-eigen.ts";
import { axpy2Wasm, dot2Wasm, gemmWasmBytes64, releaseResident, reserveResident, symv4Wasm } from "./wasm/resident.ts";

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
    // Ut (k×n) + T (k×k) + X (k×n) + G (k×k) + TᵀX (k×n)
    wy: 3 * WY_BLOCK * n + 2 * WY_BLOCK * WY_BLOCK,
  };
}

/**
 * Householder tridiagonalization of the lower triangle of `t.w` (see header and `TridiagonalBuffers`),
 * blocked. `scratch` has length ≥ householderScratchSize(n).panel.
 */
export function tridiagonalizeBlockedKernel(t: TridiagonalBuffers, scratch: Float64Array): void {
  const { n, w, d, e, beta, p } = t;
  let hi = n;
  const nn = n * n;
  // With the wasm backend the matrix moves into wasm memory for the panels (symv4 reads it there):
  // [A (n·n) | p (n) | symv4's / dot2's lane pairs (8) | W (nb·n)], plus room for the syr2k products.
  const res =
    n - TRD_BLOCK >= TRD_CROSSOVER
      ? reserveResident(nn + n + 8 + TRD_BLOCK * n, gemmWasmBytes64(SYR2K_ROWS, n, 2 * TRD_BLOCK))
      : null;
  if (res === null) hi = reducePanels(n, w, d, e, beta, p, scratch, -1, scratch, -1);
  else {
    try {
      // set() copies natively (memcpy); whole arrays, so no view objects when w is exactly n·n.
      res.set(w.length === nn ? w : w.subarray(0, nn));
      const wOff = nn + n + 8;
      const wp = res.subarray(wOff, wOff + TRD_BLOCK * n);
      hi = reducePanels(n, res, d, e, beta, res.subarray(nn, nn + n), wp, wOff, scratch, nn);
      w.set(res.length === nn ? res : res.subarray(0, nn));
    } finally {
      releaseResident();
    }
  }
  tridiagonalizeKernel(t, hi);
}

/**
 * The panels of `tridiagonalizeBlockedKernel` down to the crossover; returns the size of the leading
 * block left for the unblocked kernel. `pOff` ≥ 0: `w` is the resident wasm region and `p` its view at
 * element offset pOff (symv on wasm); −1: plain arrays (symv in JS).
 */
function reducePanels(
  n: number,
  w: Float64Array,
  d: Float64Array,
  e: Float64Array,
  beta: Float64Array,
  p: Float64Array,
  wp: Float64Array,
  wOff: number,
  scratch: Float64Array,
  pOff: number,
): number {
  const nb = TRD_BLOCK;
  // wp = W: row (i − lo) holds w_i in columns 0..i−1 (at element offset wOff of the resident region)
  const onWasm = pOff >= 0;
  const out = pOff + n;
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
        if (onWasm) {
          axpy2Wasm(w, ri, wOff + wq, uq, a1, a2, i + 1);
          continue;
        }
        for (let c = 0; c <= i; c++) {
          w[ri + c] = (w[ri + c] as number) - a1 * (wp[wq + c] as number) - a2 * (w[uq + c] as number);
        }
      }
      const wr = (i - lo) * n;
      d[i] = w[ri + i] as number;
      const bt = householderRow(w, ri, i, e, beta);
      if (bt === 0) {
        wp.fill(0, wr, wr + i); // H_i = I, w_i = 0
        continue;
      }

      if (pOff < 0) symvLower(n, w, ri, i, p);
      else symvLowerWasm(n, w, ri, i, p, pOff);
      // y −= U (Wᵀu) + W (Uᵀu) for the panel's earlier reflectors.
      for (let q = i + 1; q < hi; q++) {
        const uq = q * n;
        const wq = (q - lo) * n;
        if (onWasm) {
          dot2Wasm(w, wOff + wq, uq, ri, i, out);
          axpy2Wasm(w, pOff, uq, wOff + wq, w[out] as number, w[out + 1] as number, i);
          continue;
        }
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
      reflectorW(w, ri, i, bt, p, wp, wr);
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
      gemmUnchecked(
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
  return hi;
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
    symvDiagonal4(n, w, ri, r, p, a0, a1, a2, a3);
  }
  symvRows(n, w, ri, r, i, p); // the < 4 rows left
}

/**
 * `symvLower` with the four-row inner loop on wasm (`symv4`, f64x2) over the resident region `w`;
 * p is the region's view at element offset pOff, and symv4 leaves its lane pairs after p.
 */
function symvLowerWasm(n: number, w: Float64Array, ri: number, i: number, p: Float64Array, pOff: number): void {
  const out = pOff + n;
  for (let r = 0; r < i; r++) p[r] = 0;
  let r = 0;
  for (; r + 3 < i; r += 4) {
    symv4Wasm(r * n, n, ri, pOff, r, out);
    symvDiagonal4(
      n,
      w,
      ri,
      r,
      p,
      (w[out] as number) + (w[out + 1] as number),
      (w[out + 2] as number) + (w[out + 3] as number),
      (w[out + 4] as number) + (w[out + 5] as number),
      (w[out + 6] as number) + (w[out + 7] as number),
    );
  }
  symvRows(n, w, ri, r, i, p); // the < 4 rows left
}

/** Adds rows r..r+3's dot products a0..a3 and their 4×4 diagonal block (lower triangle) into p. */
function symvDiagonal4(
  n: number,
  w: Float64Array,
  ri: number,
  r: number,
  p: Float64Array,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
): void {
  const o0 = r * n;
  const o1 = o0 + n;
  const o2 = o1 + n;
  const o3 = o2 + n;
  const u0 = w[ri + r] as number;
  const u1 = w[ri + r + 1] as number;
  const u2 = w[ri + r + 2] as number;
  const u3 = w[ri + r + 3] as number;
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
  // With the wasm backend V moves into wasm memory for the duration, so that the products' C copies
  // are memmoves inside it.
  const size = (n - 1) * ldv + cols;
  const res = n > WY_BLOCK && cols > 1 ? reserveResident(size, gemmWasmBytes64(n, cols, n)) : null;
  if (res === null) {
    applyQBlocks(n, w, beta, v, cols, ldv, scratch);
    return;
  }
  try {
    res.set(v.length === size ? v : v.subarray(0, size));
    applyQBlocks(n, w, beta, res, cols, ldv, scratch);
    v.set(res);
  } finally {
    releaseResident();
  }
}

function applyQBlocks(
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
  const gOff = xOff + kb * n;
  const yOff = gOff + kb * kb;
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
    // G = Uᵀ U (k × k, inner len) as a gemm: the Gram matrix of the reflectors (zeros past each support).
    gemmUnchecked(false, true, k, k, len, 1, scratch, utOff, len, scratch, utOff, len, 0, scratch, gOff, kb);
    wyTriangle(k, beta, b0, scratch, gOff, scratch, tOff, kb);
    // X = Uᵀ V[0:len, :]   (k × cols)
    gemmUnchecked(false, false, k, cols, len, 1, scratch, utOff, len, v, 0, ldv, 0, scratch, xOff, cols);
    // Y = Tᵀ X (a gemm over the full k × k T, zeros below its diagonal: 2k²·cols flops, on the fast kernel).
    gemmUnchecked(true, false, k, cols, k, 1, scratch, tOff, kb, scratch, xOff, cols, 0, scratch, yOff, cols);
    // V[0:len, :] −= U X
    gemmUnchecked(true, false, len, cols, k, -1, scratch, utOff, len, scratch, yOff, cols, 1, v, 0, ldv);
  }
}

/**
 * The triangular factor of a compact-WY block (forward dlarft from the reflectors' Gram matrix):
 * H_0 ⋯ H_{k−1} = I − U T Uᵀ with H_q = I − β_q u_q u_qᵀ and T upper triangular,
 * T[q][q] = β_q, T[0:q, q] = −β_q T[0:q, 0:q] G[0:q, q], where G = UᵀU (k × k, at g[gOff…], leading
 * dimension ld) holds the reflectors' inner products. Writes the full k × k T (zeros below the
 * diagonal) at t[tOff…] with leading dimension ld; β_q = beta[b0 + q]. O(k³/6), JS loops (k ≤ a block,
 * or a few hundred for a whole factorisation's Q).
 */
export function wyTriangle(
  k: number,
  beta: Float64Array,
  b0: number,
  g: Float64Array,
  gOff: number,
  t: Float64Array,
  tOff: number,
  ld: number,
): void {
  for (let q = 0; q < k; q++) {
    const bq = beta[b0 + q] as number;
    for (let r = 0; r < q; r++) {
      let s = 0;
      for (let c = r; c < q; c++) s += (t[tOff + r * ld + c] as number) * (g[gOff + c * ld + q] as number);
      t[tOff + r * ld + q] = -bq * s;
    }
    t[tOff + q * ld + q] = bq;
    for (let r = q + 1; r < k; r++) t[tOff + r * ld + q] = 0;
  }
}
