/**
 * Divide and conquer for the symmetric tridiagonal eigenproblem T = Y·diag(λ)·Yᵀ (float64, unchecked;
 * caller: `eigh.ts`).
 *
 * Equation (Cuppen's tearing): with β = e[m−1] between the halves,
 *   T = diag(T₁, T₂) + |β|·v·vᵀ,  v = e_m + sign(β)·e_{m+1},  T₁'s last and T₂'s first diagonal reduced by |β|.
 * With Tᵢ = Qᵢ Dᵢ Qᵢᵀ solved recursively, T = Q (D + ρ z zᵀ) Qᵀ, Q = diag(Q₁, Q₂), z = Qᵀv/√2, ρ = 2|β|.
 * The eigenvalues of D + ρzzᵀ are the roots of the secular equation f(λ) = 1 + ρ Σ z_j²/(d_j − λ) = 0,
 * one in each (d_j, d_{j+1}) and the last in (d_K, d_K + ρ‖z‖²); eigenvector i is (D − λ_i)⁻¹ẑ.
 *
 * Sources: Cuppen, "A divide and conquer method for the symmetric tridiagonal eigenproblem", Numer.
 * Math. 36 (1981); GVL §8.4.4 (Alg. 8.4.x, "divide and conquer"); LAPACK dstedc/dlaed0–dlaed4.
 * - Deflation as LAPACK dlaed2: tol = 8ε·max(max|d|, max|z|); a component with ρ|z_j| ≤ tol is
 *   deflated (eigenpair (d_j, q_j) kept as is); two neighbours (in sorted order) with
 *   |(d_j − d_p)·c·s| ≤ tol are rotated so that z_p = 0 and the rotated p is deflated.
 * - Columns are grouped by their zero pattern (only top half nonzero / mixed / only bottom half) so the
 *   eigenvector update Q·U is two gemms of n₁×(k₁+k₂)·K and n₂×(k₂+k₃)·K (dlaed2's COLTYP / dlaed3).
 * - Eigenvectors via the Löwner formula (Gu & Eisenstat, "A divide-and-conquer algorithm for the
 *   symmetric tridiagonal eigenproblem", SIAM J. Matrix Anal. Appl. 16 (1995)): ẑ_j² ∝
 *   Π_i (λ_i − d_j) / Π_{i≠j} (d_i − d_j), computed from the differences d_j − λ_i that the secular
 *   solver returns, so the eigenvectors are numerically orthogonal however close the roots are.
 * - Secular equation: each root is found in shifted coordinates λ = d_o + τ around the nearer pole
 *   d_o (chosen by the sign of f at the interval's midpoint, as dlaed4), so d_o − λ = −τ exactly.
 *   Iteration: Li's "middle way" (R.-C. Li, LAPACK Working Note 89, 1994, used by dlaed4): ψ (poles
 *   j ≤ i) and φ (poles j > i) are each interpolated by a + s/(δ − η) matching value and slope, and the
 *   resulting quadratic is solved for η. Deviation: instead of dlaed4's case analysis, every step is
 *   safeguarded by a bracket kept from the sign of f, with bisection when the step leaves it; the
 *   iteration is capped (MAX_SECULAR) and a failure to converge (or a non-finite value) is reported.
 * - Leaves of at most LEAF rows are solved by the implicit QR kernel (symmetric-eigen.ts).
 * Deviations from dstedc: no pre-splitting at tiny e (a zero β simply skips the merge); the merged
 * eigenvalues are not kept sorted between levels (each merge sorts its input, O(N log N)).
 *
 * Cost: O(n²) per level for the secular equations and Löwner formula; the eigenvector updates are gemm,
 * ≈ 4n³/3 flops in total without deflation, much less with it (e.g. low-rank covariance matrices).
 * Memory: three n×n float64 buffers plus O(n).
 */
import { gemmUnchecked } from "./gemm-dispatch.ts";
import { RotationLog, tridiagonalQRKernel } from "./symmetric-eigen.ts";

const EPS = 2 ** -52;
/** Subproblems of at most this many rows are solved by implicit QR (LAPACK's SMLSIZ is 25). */
export const LEAF = 32;
const MAX_SECULAR = 200;

export class DivideConquerWorkspace {
  readonly n: number;
  /** Eigenvectors of T as COLUMNS (row-major n×n) on return. */
  readonly y: Float64Array;
  /** Gathered columns of Q (N×N per merge). */
  readonly s: Float64Array;
  /** The secular differences d_j − λ_i, then the merge's eigenvector matrix U (K×K). */
  readonly u: Float64Array;
  readonly z: Float64Array;
  readonly ndD: Float64Array;
  readonly ndZ: Float64Array;
  readonly lam: Float64Array;
  readonly dfVal: Float64Array;
  readonly colNorm: Float64Array;
  readonly idx: Int32Array;
  readonly tmp: Int32Array;
  readonly ndCol: Int32Array;
  readonly ndType: Int8Array;
  readonly rowPos: Int32Array;
  readonly dfCol: Int32Array;
  readonly type: Int8Array;
  readonly leafD: Float64Array;
  readonly leafE: Float64Array;
  readonly leafZ: Float64Array;
  readonly log: RotationLog;
  /** Copies of T's (d, e) kept by `eigh` for its fallback. */
  readonly d0: Float64Array;
  readonly e0: Float64Array;
  /** QR sweeps spent in the leaves by the last call. */
  sweeps = 0;
  /** Whether the last call stopped at the sweep cap. */
  capped = false;
  constructor(n: number) {
    this.n = n;
    this.y = new Float64Array(n * n);
    this.s = new Float64Array(n * n);
    this.u = new Float64Array(n * n);
    this.z = new Float64Array(n);
    this.ndD = new Float64Array(n);
    this.ndZ = new Float64Array(n);
    this.lam = new Float64Array(n);
    this.dfVal = new Float64Array(n);
    this.colNorm = new Float64Array(n);
    this.idx = new Int32Array(n);
    this.tmp = new Int32Array(n);
    this.ndCol = new Int32Array(n);
    this.ndType = new Int8Array(n);
    this.rowPos = new Int32Array(n);
    this.dfCol = new Int32Array(n);
    this.type = new Int8Array(n);
    const l = Math.min(n, LEAF);
    this.leafD = new Float64Array(l);
    this.leafE = new Float64Array(l);
    this.leafZ = new Float64Array(l * l);
    this.log = new RotationLog(Math.max(1024, 16 * l));
    this.d0 = new Float64Array(n);
    this.e0 = new Float64Array(Math.max(n - 1, 0));
  }
}

/** Outcome of `divideConquerKernel`. */
export type DivideConquerOutcome = "success" | "sweep-cap" | "secular-failure";

/**
 * Eigen-decomposition of the tridiagonal (d, e) of order n (entries O(1): the caller scales). On
 * return d holds the eigenvalues (UNSORTED) and ws.y the eigenvectors as columns. Returns "success",
 * "sweep-cap" when the leaves' QR exceeded the sweep budget, or "secular-failure" when a secular
 * equation did not converge or a non-finite value appeared (d, e and ws.y are then garbage).
 */
export function divideConquerKernel(
  n: number,
  d: Float64Array,
  e: Float64Array,
  ws: DivideConquerWorkspace,
  maxSweeps: number,
): DivideConquerOutcome {
  ws.y.fill(0, 0, n * n);
  ws.sweeps = 0;
  ws.capped = false;
  if (n === 0) return "success";
  if (!solve(0, n, d, e, ws, maxSweeps)) return ws.capped ? "sweep-cap" : "secular-failure";
  // Never hand back non-finite results as a success.
  for (let i = 0; i < n; i++) if (!Number.isFinite(d[i] as number)) return "secular-failure";
  return "success";
}

function solve(
  lo: number,
  size: number,
  d: Float64Array,
  e: Float64Array,
  ws: DivideConquerWorkspace,
  maxSweeps: number,
): boolean {
  if (size <= LEAF) return leaf(lo, size, d, e, ws, maxSweeps);
  const n1 = size >> 1;
  const b = e[lo + n1 - 1] as number;
  const ab = Math.abs(b);
  d[lo + n1 - 1] = (d[lo + n1 - 1] as number) - ab;
  d[lo + n1] = (d[lo + n1] as number) - ab;
  if (!solve(lo, n1, d, e, ws, maxSweeps)) return false;
  if (!solve(lo + n1, size - n1, d, e, ws, maxSweeps)) return false;
  if (b === 0) return true; // decoupled: the block-diagonal Y is already the answer
  return merge(lo, n1, size - n1, b, d, ws);
}

function leaf(
  lo: number,
  size: number,
  d: Float64Array,
  e: Float64Array,
  ws: DivideConquerWorkspace,
  maxSweeps: number,
): boolean {
  const { leafD, leafE, leafZ, y, n } = ws;
  for (let i = 0; i < size; i++) leafD[i] = d[lo + i] as number;
  for (let i = 0; i + 1 < size; i++) leafE[i] = e[lo + i] as number;
  leafZ.fill(0, 0, size * size);
  for (let i = 0; i < size; i++) leafZ[i * size + i] = 1;
  const r = tridiagonalQRKernel(size, leafD, leafE, leafZ, size, ws.log, Math.max(0, maxSweeps - ws.sweeps));
  if (r < 0) {
    ws.sweeps += -r - 1;
    ws.capped = true;
    return false;
  }
  ws.sweeps += r;
  // Row c of leafZ is the eigenvector for leafD[c]; it becomes column lo + c of Y.
  for (let c = 0; c < size; c++) {
    d[lo + c] = leafD[c] as number;
    for (let r2 = 0; r2 < size; r2++) y[(lo + r2) * n + lo + c] = leafZ[c * size + r2] as number;
  }
  return true;
}

/** Indices 0..N−1 sorted by key[off + i] ascending (bottom-up merge sort into `idx`, `tmp` scratch). */
function sortIndices(key: Float64Array, off: number, count: number, idx: Int32Array, tmp: Int32Array): void {
  for (let i = 0; i < count; i++) idx[i] = i;
  let src = idx;
  let dst = tmp;
  for (let width = 1; width < count; width *= 2) {
    for (let a = 0; a < count; a += 2 * width) {
      const mid = Math.min(a + width, count);
      const end = Math.min(a + 2 * width, count);
      let i = a;
      let j = mid;
      let k = a;
      while (i < mid && j < end) {
        const si = src[i] as number;
        const sj = src[j] as number;
        if ((key[off + sj] as number) < (key[off + si] as number)) {
          dst[k++] = sj;
          j++;
        } else {
          dst[k++] = si;
          i++;
        }
      }
      while (i < mid) dst[k++] = src[i++] as number;
      while (j < end) dst[k++] = src[j++] as number;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== idx) idx.set(src.subarray(0, count));
}

function merge(lo: number, n1: number, n2: number, b: number, d: Float64Array, ws: DivideConquerWorkspace): boolean {
  const { n, y, s, u, z, ndD, ndZ, lam, dfVal, colNorm, idx, tmp, ndCol, ndType, rowPos, dfCol, type } = ws;
  const N = n1 + n2;
  const base = lo * n + lo;
  const rho = 2 * Math.abs(b);
  const r2 = Math.SQRT1_2;
  const sg = b > 0 ? r2 : -r2;
  // z = Qᵀv/√2: the last row of Q₁ and ±the first row of Q₂.
  let dmax = 0;
  let zmax = 0;
  for (let j = 0; j < N; j++) {
    const zj = j < n1 ? (y[base + (n1 - 1) * n + j] as number) * r2 : (y[base + n1 * n + j] as number) * sg;
    z[j] = zj;
    type[j] = j < n1 ? 1 : 3;
    dmax = Math.max(dmax, Math.abs(d[lo + j] as number));
    zmax = Math.max(zmax, Math.abs(zj));
  }
  sortIndices(d, lo, N, idx, tmp);
  const tol = 8 * EPS * Math.max(dmax, zmax);

  // Deflation (dlaed2): walk the poles in ascending order keeping one pending non-deflated candidate.
  let K = 0;
  let M = 0;
  let p = -1;
  for (let t = 0; t < N; t++) {
    const j = idx[t] as number;
    if (rho * Math.abs(z[j] as number) <= tol) {
      dfVal[M] = d[lo + j] as number;
      dfCol[M++] = j;
      continue;
    }
    if (p >= 0) {
      const sp = z[p] as number;
      const cj = z[j] as number;
      const tau = Math.hypot(cj, sp);
      const dp = d[lo + p] as number;
      const dj = d[lo + j] as number;
      const c = cj / tau;
      const sn = -sp / tau;
      if (Math.abs((dj - dp) * c * sn) <= tol) {
        z[j] = tau;
        z[p] = 0;
        // (q_p, q_j) ← (c q_p + s q_j, c q_j − s q_p) over all N rows.
        for (let r = 0; r < N; r++) {
          const o = base + r * n;
          const x = y[o + p] as number;
          const w = y[o + j] as number;
          y[o + p] = c * x + sn * w;
          y[o + j] = c * w - sn * x;
        }
        d[lo + p] = dp * c * c + dj * sn * sn;
        d[lo + j] = dp * sn * sn + dj * c * c;
        if (type[p] !== type[j]) type[j] = 2;
        dfVal[M] = d[lo + p] as number;
        dfCol[M++] = p;
        p = j;
        continue;
      }
      ndCol[K] = p;
      ndD[K] = d[lo + p] as number;
      ndZ[K] = z[p] as number;
      ndType[K++] = type[p] as number;
    }
    p = j;
  }
  if (p >= 0) {
    ndCol[K] = p;
    ndD[K] = d[lo + p] as number;
    ndZ[K] = z[p] as number;
    ndType[K++] = type[p] as number;
  }

  // Column order for the gemms: type 1 (top only), 2 (mixed), 3 (bottom only).
  let k1 = 0;
  let k2 = 0;
  for (let k = 0; k < K; k++) {
    if (ndType[k] === 1) k1++;
    else if (ndType[k] === 2) k2++;
  }
  {
    let a1 = 0;
    let a2 = k1;
    let a3 = k1 + k2;
    for (let k = 0; k < K; k++) {
      const ty = ndType[k];
      rowPos[k] = ty === 1 ? a1++ : ty === 2 ? a2++ : a3++;
    }
  }
  // Gather: s[:, rowPos[k]] = q_{ndCol[k]}, s[:, K + m] = q_{dfCol[m]} (all N rows, leading dim N).
  for (let r = 0; r < N; r++) {
    const o = base + r * n;
    const so = r * N;
    for (let k = 0; k < K; k++) s[so + (rowPos[k] as number)] = y[o + (ndCol[k] as number)] as number;
    for (let m = 0; m < M; m++) s[so + K + m] = y[o + (dfCol[m] as number)] as number;
  }

  if (K > 0) {
    let zn = 0;
    for (let k = 0; k < K; k++) zn += (ndZ[k] as number) ** 2;
    const rhoEff = rho * zn;
    const inv = 1 / Math.sqrt(zn);
    for (let k = 0; k < K; k++) ndZ[k] = (ndZ[k] as number) * inv;
    // u[rowPos[j]·K + i] = d_j − λ_i.
    for (let i = 0; i < K; i++) {
      const l = secularRoot(K, i, ndD, ndZ, rhoEff, u, rowPos, K);
      if (!Number.isFinite(l)) return false;
      lam[i] = l;
    }
    // Löwner: ẑ_j² ∝ Π_i (λ_i − d_j) / Π_{i≠j} (d_i − d_j); every factor is positive by interlacing.
    for (let i = 0; i < K; i++) colNorm[i] = 0;
    for (let j = 0; j < K; j++) {
      const row = (rowPos[j] as number) * K;
      const dj = ndD[j] as number;
      let prod = -(u[row + j] as number);
      for (let i = 0; i < K; i++) {
        if (i !== j) prod *= -(u[row + i] as number) / ((ndD[i] as number) - dj);
      }
      const zh = (ndZ[j] as number) >= 0 ? Math.sqrt(Math.abs(prod)) : -Math.sqrt(Math.abs(prod));
      for (let i = 0; i < K; i++) {
        const v = zh / (u[row + i] as number);
        u[row + i] = v;
        colNorm[i] = (colNorm[i] as number) + v * v;
      }
    }
    for (let i = 0; i < K; i++) colNorm[i] = 1 / Math.sqrt(colNorm[i] as number);
    for (let r = 0; r < K; r++) {
      const row = r * K;
      for (let i = 0; i < K; i++) u[row + i] = (u[row + i] as number) * (colNorm[i] as number);
    }
    // New eigenvectors: top rows from columns of types 1–2, bottom rows from types 2–3.
    const k12 = k1 + k2;
    const k23 = K - k1;
    gemmUnchecked(false, false, n1, K, k12, 1, s, 0, N, u, 0, K, 0, y, base, n);
    gemmUnchecked(false, false, n2, K, k23, 1, s, n1 * N + k1, N, u, k1 * K, K, 0, y, base + n1 * n, n);
  }
  for (let r = 0; r < N; r++) {
    const o = base + r * n;
    const so = r * N;
    for (let m = 0; m < M; m++) y[o + K + m] = s[so + K + m] as number;
  }
  for (let i = 0; i < K; i++) d[lo + i] = lam[i] as number;
  for (let m = 0; m < M; m++) d[lo + K + m] = dfVal[m] as number;
  return true;
}

/**
 * Root i (0-based) of 1 + ρ Σ_j z_j²/(d_j − λ) = 0 with d strictly increasing, ‖z‖ = 1, ρ > 0 (see the
 * header). Writes out[rowPos[j]·ld + i] = d_j − λ_i for every j and returns λ_i, or NaN on failure.
 */
function secularRoot(
  K: number,
  i: number,
  d: Float64Array,
  z: Float64Array,
  rho: number,
  out: Float64Array,
  rowPos: Int32Array,
  ld: number,
): number {
  const last = i === K - 1;
  let o: number;
  let lo: number;
  let hi: number;
  if (last) {
    o = i;
    lo = 0;
    hi = rho;
  } else {
    const di = d[i] as number;
    const mid = ((d[i + 1] as number) - di) / 2;
    let f = 1;
    for (let j = 0; j < K; j++) f += (rho * (z[j] as number) ** 2) / ((d[j] as number) - di - mid);
    if (f >= 0) {
      o = i;
      lo = 0;
      hi = mid;
    } else {
      o = i + 1;
      lo = -mid;
      hi = 0;
    }
  }
  const dOrig = d[o] as number;
  // Poles of the two model terms, relative to the origin.
  const p1 = (d[i] as number) - dOrig;
  const p2 = last ? 0 : (d[i + 1] as number) - dOrig;
  let x = (lo + hi) / 2;
  let converged = false;
  for (let it = 0; it < MAX_SECULAR; it++) {
    let psi = 0;
    let dpsi = 0;
    let phi = 0;
    let dphi = 0;
    for (let j = 0; j <= i; j++) {
      const w = rho * (z[j] as number) ** 2;
      const t = 1 / ((d[j] as number) - dOrig - x);
      psi += w * t;
      dpsi += w * t * t;
    }
    for (let j = i + 1; j < K; j++) {
      const w = rho * (z[j] as number) ** 2;
      const t = 1 / ((d[j] as number) - dOrig - x);
      phi += w * t;
      dphi += w * t * t;
    }
    const f = 1 + psi + phi;
    if (!Number.isFinite(f)) return Number.NaN;
    const err = EPS * (8 * (1 - psi + phi) + 3 * Math.abs(x) * (dpsi + dphi));
    if (Math.abs(f) <= err) {
      converged = true;
      break;
    }
    if (f > 0) hi = x;
    else lo = x;
    if (hi - lo <= 2 * EPS * Math.max(Math.abs(lo), Math.abs(hi))) {
      converged = true;
      break;
    }
    // Middle way: ψ ≈ a + s/(δ1 − η), φ ≈ b + S/(δ2 − η) matching value and slope at x.
    const d1 = p1 - x;
    const sPsi = d1 * d1 * dpsi;
    let xn: number;
    if (last) {
      // Only ψ has a pole: c + s/(δ1 − η) = 0 with c = f − s/δ1.
      const c = f - sPsi / d1;
      xn = c > 0 ? x + d1 + sPsi / c : Number.NaN;
    } else {
      const d2 = p2 - x;
      const sPhi = d2 * d2 * dphi;
      const c = f - sPsi / d1 - sPhi / d2;
      const bq = c * (d1 + d2) + sPsi + sPhi;
      const cq = d1 * d2 * f;
      // c η² − bq η + cq = 0, roots computed without cancellation.
      let eta: number;
      if (c === 0) eta = cq / bq;
      else {
        const disc = Math.sqrt(Math.abs(bq * bq - 4 * c * cq));
        const q = bq >= 0 ? (bq + disc) / 2 : (bq - disc) / 2;
        const r1 = q / c;
        const r2 = cq / q;
        const x1 = x + r1;
        eta = x1 > lo && x1 < hi ? r1 : r2;
      }
      xn = x + eta;
    }
    if (!(xn > lo && xn < hi)) xn = (lo + hi) / 2;
    if (xn === x) {
      converged = true;
      break;
    }
    x = xn;
  }
  for (let j = 0; j < K; j++) out[(rowPos[j] as number) * ld + i] = (d[j] as number) - dOrig - x;
  if (!converged) return Number.NaN;
  return dOrig + x;
}
