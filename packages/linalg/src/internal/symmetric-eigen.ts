/**
 * Unchecked float64 kernels of the symmetric eigensolver (public wrappers: `tridiagonal.ts`, `eigh.ts`).
 *
 * 1. `tridiagonalizeKernel`: Householder reduction T = Qᵀ A Q (GVL Alg. 8.3.1), reading and overwriting
 *    the LOWER triangle of a row-major n×n buffer. Deviation from GVL: the reflectors annihilate ROWS
 *    from the bottom up (as EISPACK tred2 / LAPACK dsytrd with UPLO='U' in column-major terms), because
 *    a row of the lower triangle is contiguous in row-major storage. Step i (i = n−1 … 2) reflects
 *    x = A[i, 0:i] onto g·e_{i−1} with H_i = I − β u uᵀ, then updates the leading i×i block as
 *    p = β B u, w = p − (β uᵀp / 2) u, B ← B − u wᵀ − w uᵀ — a symmetric matrix-vector product and a
 *    symmetric rank-2 update, both on the lower triangle with contiguous inner loops. u is left in row i.
 *    Cost 4n³/3 flops.
 * 2. `accumulateQtKernel`: Qᵀ = H_2 H_3 ⋯ H_{n−1}, accumulated with the smallest reflector first
 *    ("backward accumulation", GVL §5.1.6) so that step i touches only the leading i×i block.
 *    Cost 4n³/3 flops. Qᵀ (not Q) is stored because the QR rotations then mix two contiguous ROWS.
 * 3. `tridiagonalQRKernel`: implicit symmetric QR steps with the Wilkinson shift and deflation
 *    (GVL Alg. 8.3.2 and 8.3.3) on d (diagonal) and e (off-diagonal). |e_k| is set to zero when
 *    |e_k| ≤ ε(|d_k| + |d_{k+1}|) (GVL 8.3.3's test) or below the smallest normal number. Iterations
 *    (QR sweeps) are capped by the caller (LAPACK dsteqr allows 30 per eigenvalue, 30·n in total).
 * 4. Rotations P = [c s; −s c] on rows (k, k+1) are recorded in a `RotationLog` and applied to Z in
 *    batches by column panels (`applyRotationsKernel`): the rotations depend only on (d, e), and each
 *    column of Z sees them independently, so a panel of Z stays in cache while thousands of rotations
 *    pass over it (LAPACK's dlasr applies one sweep at a time; batching many sweeps is our deviation).
 *    Cost ≈ 6n flops per rotation, about 3n² rotations ⇒ the dominant O(n³) term when vectors are wanted.
 *
 * Invariant kept by the QR kernel with Z recorded: A = Zᵀ T Z (Z starts as Qᵀ), so at convergence
 * row k of Z is the eigenvector for d[k].
 */

const EPS = 2 ** -52;
const TINY = 2 ** -1022;

function hypot2(x: number, y: number): number {
  const r = Math.sqrt(x * x + y * y);
  // Fall back to the careful (slow) hypot only when squaring under- or overflowed.
  if (r === 0 || r === Infinity || r < 1e-150) return Math.hypot(x, y);
  return r;
}

/**
 * The Householder reflector that annihilates row i of the lower triangle left of the subdiagonal
 * (GVL Alg. 5.1.1, "house", in LAPACK dlarfg's sign convention), shared by the unblocked and the
 * blocked tridiagonalization. x = w[ri … ri+i−1] is scaled to unit max-norm (so ‖x‖² cannot under- or
 * overflow) and overwritten by u = x − g·e_last; e[i−1] = scale·g is T's subdiagonal entry.
 * Returns β = 2/‖u‖², also stored in beta[i]; β = 0 means the row is already reduced (H_i = I).
 */
export function householderRow(w: Float64Array, ri: number, i: number, e: Float64Array, beta: Float64Array): number {
  const xl = w[ri + i - 1] as number;
  let scale = 0;
  for (let j = 0; j < i - 1; j++) {
    const v = Math.abs(w[ri + j] as number);
    if (v > scale) scale = v;
  }
  if (scale === 0) {
    e[i - 1] = xl;
    beta[i] = 0;
    return 0;
  }
  if (Math.abs(xl) > scale) scale = Math.abs(xl);
  let h = 0;
  for (let j = 0; j < i; j++) {
    const v = (w[ri + j] as number) / scale;
    w[ri + j] = v;
    h += v * v;
  }
  const f = w[ri + i - 1] as number;
  // g takes the sign opposite to f so that u_last = f − g involves no cancellation.
  const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
  e[i - 1] = scale * g;
  h -= f * g; // h = ‖u‖² / 2 with u = x − g·e_last
  w[ri + i - 1] = f - g;
  const bt = 1 / h;
  beta[i] = bt;
  return bt;
}

/**
 * p[0:i] += rows r0..i−1 of B·u, B the symmetric leading i×i block read from the row-major lower
 * triangle of `w` (row r: columns 0..r) and u in w[ri .. ri+i): row r adds its dot product with u to
 * p[r] and u[r]·(its row) to p[0:r]. The unblocked kernel runs it over all rows; the blocked one
 * (householder-blocked.ts) over the < 4 rows its four-row loop leaves.
 */
export function symvRows(n: number, w: Float64Array, ri: number, r0: number, i: number, p: Float64Array): void {
  for (let r = r0; r < i; r++) {
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
 * The vector of the rank-2 update A ← A − u·wᵀ − w·uᵀ (GVL Alg. 8.3.1; LAPACK dsytd2's
 * w = τ·A·u − (τ²/2)(uᵀA·u)·u): with p = A·u on entry, p ← β·p and out[outOff + r] = p[r] − (β/2)(uᵀp)·u[r]
 * for r < i, u in w[ri .. ri+i). `out` may be `p` (outOff 0).
 */
export function reflectorW(
  w: Float64Array,
  ri: number,
  i: number,
  bt: number,
  p: Float64Array,
  out: Float64Array,
  outOff: number,
): void {
  let upb = 0;
  for (let r = 0; r < i; r++) {
    const v = (p[r] as number) * bt;
    p[r] = v;
    upb += (w[ri + r] as number) * v;
  }
  const kk = (bt * upb) / 2;
  for (let r = 0; r < i; r++) out[outOff + r] = (p[r] as number) - kk * (w[ri + r] as number);
}

/**
 * The arrays a tridiagonalization works in (`EighWorkspace` is one): `w` row-major n×n float64, the
 * matrix, overwritten; `d` (length n) and `e` (length max(n−1, 0)) receive T; `beta` (length n) the
 * reflectors' β; `p` (length ≥ n) is scratch.
 */
export interface TridiagonalBuffers {
  readonly n: number;
  readonly w: Float64Array;
  readonly d: Float64Array;
  readonly e: Float64Array;
  readonly beta: Float64Array;
  readonly p: Float64Array;
}

/**
 * Householder tridiagonalization of the lower triangle of `t.w` (see `TridiagonalBuffers`). On return
 * row i of `w` holds u_i in columns 0..i−1 and beta[i] its β (beta[i] = 0 means H_i = I). `top`
 * (default n): reduce only rows top−1 … 2 (the blocked kernel hands over its last small leading block
 * this way).
 */
export function tridiagonalizeKernel(t: TridiagonalBuffers, top = t.n): void {
  const { n, w, d, e, beta, p } = t;
  // With top < n, rows top..n−1 were reduced already (by the blocked kernel) and only the leading
  // top×top block, already updated, remains.
  for (let i = top - 1; i >= 2; i--) {
    const ri = i * n;
    const bt = householderRow(w, ri, i, e, beta);
    if (bt === 0) {
      d[i] = w[ri + i] as number;
      continue;
    }

    // p = B·u over the lower triangle of the leading i×i block B (row r: columns 0..r), then w in p.
    for (let r = 0; r < i; r++) p[r] = 0;
    symvRows(n, w, ri, 0, i, p);
    reflectorW(w, ri, i, bt, p, p, 0);
    // B ← B − u wᵀ − w uᵀ (lower triangle), w held in p.
    for (let r = 0; r < i; r++) {
      const rr = r * n;
      const ur = w[ri + r] as number;
      const pr = p[r] as number;
      for (let c = 0; c <= r; c++) {
        w[rr + c] = (w[rr + c] as number) - ur * (p[c] as number) - pr * (w[ri + c] as number);
      }
    }
    d[i] = w[ri + i] as number;
  }
  if (n >= 2) {
    d[1] = w[n + 1] as number;
    e[0] = w[n] as number;
    beta[1] = 0;
  }
  if (n >= 1) {
    d[0] = w[0] as number;
    beta[0] = 0;
  }
}

/**
 * Qᵀ = H_2 H_3 ⋯ H_{n−1} into `m` (row-major n×n), from the reflectors left in `w` by the kernel above.
 * Reflectors are applied two at a time (M ← M·H_i·H_{i+1} in one pass over the rows, a compact-WY block
 * of width 2), which halves the passes over M.
 */
export function accumulateQtKernel(n: number, w: Float64Array, beta: Float64Array, m: Float64Array): void {
  m.fill(0, 0, n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  let i = 2;
  for (; i + 1 < n; i += 2) {
    // Before H_i only the leading i×i block of M differs from the identity (rows ≥ i are e_r there).
    const b1 = beta[i] as number;
    const b2 = beta[i + 1] as number;
    const r1 = i * n;
    const r2 = r1 + n;
    const u2i = w[r2 + i] as number; // u_{i+1} has i+1 entries; u_i has i (its column i is 0)
    let gamma = 0;
    for (let c = 0; c < i; c++) gamma += (w[r1 + c] as number) * (w[r2 + c] as number);
    for (let r = 0; r <= i; r++) {
      const rr = r * n;
      let dot1 = 0;
      let dot2 = 0;
      for (let c = 0; c < i; c++) {
        const v = m[rr + c] as number;
        dot1 += v * (w[r1 + c] as number);
        dot2 += v * (w[r2 + c] as number);
      }
      const t1 = b1 * dot1;
      const t2 = b2 * (dot2 + (m[rr + i] as number) * u2i - t1 * gamma);
      if (t1 === 0 && t2 === 0) continue;
      for (let c = 0; c < i; c++) {
        m[rr + c] = (m[rr + c] as number) - t1 * (w[r1 + c] as number) - t2 * (w[r2 + c] as number);
      }
      m[rr + i] = (m[rr + i] as number) - t2 * u2i;
    }
  }
  for (; i < n; i++) {
    const bt = beta[i] as number;
    if (bt === 0) continue;
    const ri = i * n;
    for (let r = 0; r < i; r++) {
      const rr = r * n;
      let t = 0;
      for (let c = 0; c < i; c++) t += (m[rr + c] as number) * (w[ri + c] as number);
      t *= bt;
      if (t === 0) continue;
      for (let c = 0; c < i; c++) m[rr + c] = (m[rr + c] as number) - t * (w[ri + c] as number);
    }
  }
}

/** A bounded buffer of plane rotations (k, c, s) on rows (k, k+1), flushed into Z in batches. */
export class RotationLog {
  readonly k: Int32Array;
  readonly cs: Float64Array;
  count = 0;
  constructor(capacity: number) {
    this.k = new Int32Array(capacity);
    this.cs = new Float64Array(2 * capacity);
  }
  get capacity(): number {
    return this.k.length;
  }
}

/** Panel width (columns of Z) kept in cache while a batch of rotations passes over it. */
const PANEL = 48;

/**
 * Applies the logged rotations, in order, to the rows of `z` (row-major, `rows × cols`): for each
 * rotation, (z_k, z_{k+1}) ← (c z_k + s z_{k+1}, −s z_k + c z_{k+1}). Empties the log.
 */
export function applyRotationsKernel(z: Float64Array, cols: number, log: RotationLog): void {
  const count = log.count;
  const ks = log.k;
  const cs = log.cs;
  for (let j0 = 0; j0 < cols; j0 += PANEL) {
    const jn = Math.min(PANEL, cols - j0);
    let t = 0;
    while (t < count) {
      const k = ks[t] as number;
      const o0 = k * cols + j0;
      // A QR sweep logs rotations on rows (k, k+1), (k+1, k+2), …: chaining four of them keeps the
      // shared rows in registers (5 loads and 5 stores per column instead of 8 and 8).
      if (t + 3 < count && ks[t + 1] === k + 1 && ks[t + 2] === k + 2 && ks[t + 3] === k + 3) {
        const c1 = cs[2 * t] as number;
        const s1 = cs[2 * t + 1] as number;
        const c2 = cs[2 * t + 2] as number;
        const s2 = cs[2 * t + 3] as number;
        const c3 = cs[2 * t + 4] as number;
        const s3 = cs[2 * t + 5] as number;
        const c4 = cs[2 * t + 6] as number;
        const s4 = cs[2 * t + 7] as number;
        const o1 = o0 + cols;
        const o2 = o1 + cols;
        const o3 = o2 + cols;
        const o4 = o3 + cols;
        for (let j = 0; j < jn; j++) {
          const x0 = z[o0 + j] as number;
          let x1 = z[o1 + j] as number;
          z[o0 + j] = c1 * x0 + s1 * x1;
          x1 = c1 * x1 - s1 * x0;
          let x2 = z[o2 + j] as number;
          z[o1 + j] = c2 * x1 + s2 * x2;
          x2 = c2 * x2 - s2 * x1;
          let x3 = z[o3 + j] as number;
          z[o2 + j] = c3 * x2 + s3 * x3;
          x3 = c3 * x3 - s3 * x2;
          const x4 = z[o4 + j] as number;
          z[o3 + j] = c4 * x3 + s4 * x4;
          z[o4 + j] = c4 * x4 - s4 * x3;
        }
        t += 4;
      } else {
        const c = cs[2 * t] as number;
        const s = cs[2 * t + 1] as number;
        const o1 = o0 + cols;
        for (let j = 0; j < jn; j++) {
          const a = z[o0 + j] as number;
          const b = z[o1 + j] as number;
          z[o0 + j] = c * a + s * b;
          z[o1 + j] = c * b - s * a;
        }
        t += 1;
      }
    }
  }
  log.count = 0;
}

/**
 * Implicit symmetric QR with Wilkinson shift on (d, e), in place. When `z` is given, the rotations are
 * applied to its rows (`z` is n × zCols row-major) through `log`. Returns the number of QR sweeps done,
 * or −(sweeps) − 1 when `maxSweeps` was reached before every off-diagonal was deflated. Both exits
 * apply the rotations still in `log` to `z` (the log is empty on return).
 */
export function tridiagonalQRKernel(
  n: number,
  d: Float64Array,
  e: Float64Array,
  z: Float64Array | null,
  zCols: number,
  log: RotationLog | null,
  maxSweeps: number,
): number {
  let sweeps = 0;
  let hi = n - 1;
  const record = z !== null && log !== null;
  while (hi > 0) {
    const eh = Math.abs(e[hi - 1] as number);
    if (eh <= EPS * (Math.abs(d[hi - 1] as number) + Math.abs(d[hi] as number)) || eh < TINY) {
      e[hi - 1] = 0;
      hi--;
      continue;
    }
    let lo = hi - 1;
    while (lo > 0) {
      const el = Math.abs(e[lo - 1] as number);
      if (el <= EPS * (Math.abs(d[lo - 1] as number) + Math.abs(d[lo] as number)) || el < TINY) {
        e[lo - 1] = 0;
        break;
      }
      lo--;
    }
    if (sweeps >= maxSweeps) {
      if (record) applyRotationsKernel(z, zCols, log);
      return -sweeps - 1;
    }
    sweeps++;

    // Wilkinson shift: the eigenvalue of the trailing 2×2 block closer to d[hi] (GVL 8.3.2).
    const bb = e[hi - 1] as number;
    const dd = ((d[hi - 1] as number) - (d[hi] as number)) / 2;
    const rr = hypot2(dd, bb);
    const mu = (d[hi] as number) - (bb / (dd + (dd >= 0 ? rr : -rr))) * bb;

    let x = (d[lo] as number) - mu;
    let zb = e[lo] as number;
    for (let k = lo; k < hi; k++) {
      const r = hypot2(x, zb);
      let c = 1;
      let s = 0;
      if (r !== 0) {
        c = x / r;
        s = zb / r;
      }
      if (k > lo) e[k - 1] = r;
      const a = d[k] as number;
      const b = e[k] as number;
      const cc = d[k + 1] as number;
      const c2 = c * c;
      const s2 = s * s;
      const csb = 2 * c * s * b;
      d[k] = c2 * a + csb + s2 * cc;
      d[k + 1] = s2 * a - csb + c2 * cc;
      const bn = c * s * (cc - a) + (c2 - s2) * b;
      e[k] = bn;
      if (k < hi - 1) {
        const en = e[k + 1] as number;
        zb = s * en;
        e[k + 1] = c * en;
        x = bn;
      }
      if (record) {
        let t = log.count;
        if (t === log.capacity) {
          applyRotationsKernel(z, zCols, log);
          t = 0;
        }
        log.k[t] = k;
        log.cs[2 * t] = c;
        log.cs[2 * t + 1] = s;
        log.count = t + 1;
      }
    }
  }
  if (record) applyRotationsKernel(z, zCols, log);
  return sweeps;
}
