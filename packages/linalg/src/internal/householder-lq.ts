/**
 * Blocked Householder LQ factorisation of a wide matrix and the explicit orthogonal factor (float64,
 * row-major, unchecked; caller: gram-eigh.ts).
 *
 * 1. `lqKernel` — X = [L 0]·Qᵀ for X k × d (k ≤ d) in place: LAPACK dgelqf/dgelq2 (the LQ form of
 *    GVL Alg. 5.2.1, Householder QR, applied to Xᵀ: rows are contiguous in row-major storage, so the
 *    reflectors work along rows). Row i's reflector H_i = I − τ_i u_i u_iᵀ (LAPACK dlarfg: u_i[i] = 1,
 *    u_i zero before i, β = −sign(α)·‖x‖, τ = (β − α)/β) maps row i's tail onto β·e_i; on return row i
 *    holds L[i, 0..i] (L[i][i] = β) and u_i's entries after i, and X·H_0 ⋯ H_{k−1} = [L 0]. Panels of
 *    LQ_BLOCK rows are reduced by the unblocked loop; the trailing rows then take the whole panel at
 *    once, Xₜ ← Xₜ − (Xₜ Uᵀ) T U (LAPACK dlarfb; compact WY, Schreiber & Van Loan 1989, GVL §5.1.7;
 *    T from `wyTriangle`), three gemms. Cost 2k²d − 2k³/3 flops, all but the panels' k·d·LQ_BLOCK in gemm.
 * 2. `basisFromLQKernel` — Q = H_0 ⋯ H_{k−1} (d × d) as I − Uᵀ T U with U the k × d matrix of all
 *    reflectors and T their k × k triangle, applied to a permuted block-diagonal P = [[0, W], [I, 0]]:
 *    out = Q·P = P − Uᵀ(T(U·P)) (gemms). X = [L 0]·Qᵀ, so Q's first k columns span X's row space and
 *    the other d − k its orthogonal complement; with W the eigenvectors of LᵀL, Q·P holds XᵀX's.
 *
 * Deviation from LAPACK: T for Q is built over all k reflectors at once (one k × k triangle, its
 * O(k³) recurrence in JS) rather than block by block as dorglq does — k is the row count of a
 * minibatch (a few hundred), and the three products then run as three large gemms. The norm in
 * dlarfg is a plain sum of squares (no dnrm2 scaling): X comes from float32 or moderate float64
 * data, whose squares cannot overflow float64.
 * Backward stability: the computed factors are exact for X + E with ‖E‖_F ≤ c·k·d·ε·‖X‖_F, and Q is
 * orthogonal to O(k·ε) (Higham 2002, Thm. 19.4 and Lemma 19.3).
 */
import { gemmUnchecked } from "./gemm-dispatch.ts";
import { wyTriangle } from "./householder-blocked.ts";

/** Rows per panel of the blocked LQ. */
export const LQ_BLOCK = 16;

/**
 * Scratch doubles `lqKernel` needs for X k × d: a panel's reflectors (LQ_BLOCK × d), its Gram matrix
 * and triangle (2·LQ_BLOCK²), and the trailing rows' products (2·k·LQ_BLOCK).
 */
export function lqScratchSize(k: number, d: number): number {
  const nb = LQ_BLOCK;
  return nb * d + 2 * nb * nb + 2 * k * nb;
}

/** In-place LQ of the k × d row-major x (k ≤ d) with τ into `tau` (length k); see the header. */
export function lqKernel(x: Float64Array, k: number, d: number, tau: Float64Array, scratch: Float64Array): void {
  const nb = LQ_BLOCK;
  for (let i0 = 0; i0 < k; i0 += nb) {
    const i1 = Math.min(k, i0 + nb);
    for (let i = i0; i < i1; i++) {
      reflectRow(x, i, d, tau);
      applyToRows(x, i, d, tau[i] as number, i + 1, i1);
    }
    if (i1 < k) applyPanel(x, k, d, i0, i1, tau, scratch);
  }
}

/** dlarfg on row i's entries i..d−1: τ_i, u_i's tail (scaled into place) and β at x[i][i]. */
function reflectRow(x: Float64Array, i: number, d: number, tau: Float64Array): void {
  const row = i * d;
  const alpha = x[row + i] as number;
  let ss = 0;
  for (let j = i + 1; j < d; j++) ss += (x[row + j] as number) ** 2;
  if (ss === 0) {
    tau[i] = 0; // the tail is zero already: H_i = I
    return;
  }
  const norm = Math.sqrt(alpha * alpha + ss);
  const beta = alpha >= 0 ? -norm : norm;
  tau[i] = (beta - alpha) / beta;
  const s = 1 / (alpha - beta);
  for (let j = i + 1; j < d; j++) x[row + j] = (x[row + j] as number) * s;
  x[row + i] = beta;
}

/** Rows r0..r1−1 of x (entries i..d−1) ← row·H_i, u_i read from row i (u_i[i] = 1). */
function applyToRows(x: Float64Array, i: number, d: number, t: number, r0: number, r1: number): void {
  if (t === 0) return;
  const u = i * d;
  for (let r = r0; r < r1; r++) {
    const row = r * d;
    let s = x[row + i] as number;
    for (let j = i + 1; j < d; j++) s += (x[row + j] as number) * (x[u + j] as number);
    s *= t;
    x[row + i] = (x[row + i] as number) - s;
    for (let j = i + 1; j < d; j++) x[row + j] = (x[row + j] as number) - s * (x[u + j] as number);
  }
}

/**
 * Copies reflectors i0..i1−1 out of x as the rows of U (q × (d − c0), columns c0..d−1 of the full
 * reflectors: 0 before the reflector's index, 1 at it, its stored tail after it) at u[uOff…].
 */
function gatherReflectors(
  x: Float64Array,
  d: number,
  i0: number,
  i1: number,
  c0: number,
  u: Float64Array,
  uOff: number,
): void {
  const len = d - c0;
  for (let q = 0; q < i1 - i0; q++) {
    const i = i0 + q;
    const dst = uOff + q * len;
    const src = i * d;
    for (let c = c0; c < i; c++) u[dst + c - c0] = 0;
    u[dst + i - c0] = 1;
    for (let c = i + 1; c < d; c++) u[dst + c - c0] = x[src + c] as number;
  }
}

/** Trailing rows i1..k−1 (columns i0..d−1) ← Xₜ·H_{i0} ⋯ H_{i1−1} = Xₜ − (Xₜ Uᵀ) T U. */
function applyPanel(
  x: Float64Array,
  k: number,
  d: number,
  i0: number,
  i1: number,
  tau: Float64Array,
  scratch: Float64Array,
): void {
  const nb = LQ_BLOCK;
  const q = i1 - i0;
  const len = d - i0;
  const rows = k - i1;
  const uOff = 0;
  const gOff = nb * d;
  const tOff = gOff + nb * nb;
  const zOff = tOff + nb * nb;
  const yOff = zOff + k * nb;
  gatherReflectors(x, d, i0, i1, i0, scratch, uOff);
  gemmUnchecked(false, true, q, q, len, 1, scratch, uOff, len, scratch, uOff, len, 0, scratch, gOff, nb);
  wyTriangle(q, tau, i0, scratch, gOff, scratch, tOff, nb);
  // Z = Xₜ Uᵀ (rows × q), Y = Z T, Xₜ −= Y U.
  gemmUnchecked(false, true, rows, q, len, 1, x, i1 * d + i0, d, scratch, uOff, len, 0, scratch, zOff, nb);
  gemmUnchecked(false, false, rows, q, q, 1, scratch, zOff, nb, scratch, tOff, nb, 0, scratch, yOff, nb);
  gemmUnchecked(false, false, rows, len, q, -1, scratch, yOff, nb, scratch, uOff, len, 1, x, i1 * d + i0, d);
}

/**
 * out = Q·P (d × d, row-major) for Q = H_0 ⋯ H_{k−1} from `lqKernel`'s x and τ and the permuted
 * block-diagonal P = [[0, W], [I, 0]] (W k × k at w[0…], I of order d − k): out = [Q₂ | Q₁·W], Q's last
 * d − k columns followed by its first k times W. Computed as P − Uᵀ·(T·(U·P)) with U the k × d
 * reflectors (Q = I − Uᵀ T U) and U·P = [U₂ | U₁·W]: k³ + k²d (G = U Uᵀ) + k²d + kd² multiply-adds,
 * all gemm — W is applied to k rows instead of Q's d. `scratch` holds 3·k·d + 2·k² doubles.
 */
export function basisFromLQKernel(
  x: Float64Array,
  k: number,
  d: number,
  tau: Float64Array,
  w: Float64Array,
  out: Float64Array,
  scratch: Float64Array,
): void {
  const z = d - k;
  const uOff = 0;
  const pOff = k * d;
  const yOff = 2 * k * d;
  const gOff = 3 * k * d;
  const tOff = gOff + k * k;
  out.fill(0, 0, d * d);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) out[i * d + z + j] = w[i * k + j] as number;
  for (let i = 0; i < z; i++) out[(k + i) * d + i] = 1;
  if (k === 0) return;
  gatherReflectors(x, d, 0, k, 0, scratch, uOff);
  gemmUnchecked(false, true, k, k, d, 1, scratch, uOff, d, scratch, uOff, d, 0, scratch, gOff, k);
  wyTriangle(k, tau, 0, scratch, gOff, scratch, tOff, k);
  for (let i = 0; i < k; i++) {
    for (let c = 0; c < z; c++) scratch[pOff + i * d + c] = scratch[uOff + i * d + k + c] as number;
  }
  gemmUnchecked(false, false, k, k, k, 1, scratch, uOff, d, w, 0, k, 0, scratch, pOff + z, d);
  gemmUnchecked(false, false, k, d, k, 1, scratch, tOff, k, scratch, pOff, d, 0, scratch, yOff, d);
  gemmUnchecked(true, false, d, d, k, -1, scratch, uOff, d, scratch, yOff, d, 1, out, 0, d);
}
