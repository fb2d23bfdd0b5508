/**
 * Deterministic generators of test matrices with controlled spectra (no fast-check dependency, so
 * property tests in any package and the benchmarks can share them; each takes an `Rng`).
 *
 * - `randomOrthogonal`: Q = H_1 H_2 ⋯ H_n, H_k = I − 2 v vᵀ/‖v‖² with v Gaussian on coordinates k…n−1
 *   (the Householder-QR-of-a-Gaussian construction, Stewart 1980, without the sign correction that
 *   would make it exactly Haar — random enough for tests). O(n³).
 * - `symmetricWithSpectrum`: A = Q·diag(λ)·Qᵀ with that Q: exact eigenvalues λ up to rounding of A.
 * - `randomSymmetric`: symmetric with N(0, 1) entries (GOE-like).
 * - `randomCovariance`: XᵀX/N for an N×n Gaussian X: PSD, rank min(N, n) (rank-deficient when N < n).
 * - `gradedSymmetric`: D·B·D with B random symmetric and D = diag(d_i) geometric from √lo to √hi, so
 *   entries range over [lo, hi] in magnitude.
 * - `wilkinsonMatrix`: W⁺_n, tridiagonal with diagonal |m − i| (m = (n−1)/2) and unit off-diagonal; its
 *   largest eigenvalues come in pairs agreeing to many digits (Wilkinson 1965), a classic hard case.
 * - `randomTridiagonal`: symmetric tridiagonal with N(0, 1) diagonal and off-diagonal: input that is
 *   already reduced, so every Householder reflection of the tridiagonalization is the identity.
 * Everything is built in float64 and rounded once to the requested element type.
 */

import { allocate, type DType, type Matrix } from "./matrix.ts";
import type { Rng } from "./random.ts";

function checkN(fn: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${fn}: n must be a non-negative integer (got ${n})`);
}

function toMatrix(n: number, m: number, data: Float64Array, dtype: DType): Matrix {
  const out = allocate(n * m, dtype);
  out.set(data);
  return { rows: n, cols: m, data: out };
}

function orthogonal64(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const v = new Float64Array(n);
  for (let k = 0; k < n - 1; k++) {
    let norm2 = 0;
    for (let i = k; i < n; i++) {
      const x = rng.normal();
      v[i] = x;
      norm2 += x * x;
    }
    if (norm2 === 0) continue;
    // Q ← Q·H_k: row r of Q loses (2/‖v‖²)(Q[r, k:]·v) v.
    for (let r = 0; r < n; r++) {
      let t = 0;
      for (let i = k; i < n; i++) t += (q[r * n + i] as number) * (v[i] as number);
      t *= 2 / norm2;
      for (let i = k; i < n; i++) q[r * n + i] = (q[r * n + i] as number) - t * (v[i] as number);
    }
  }
  return q;
}

/** A random n×n orthogonal matrix (see the file header). */
export function randomOrthogonal(n: number, rng: Rng, dtype: DType = "float64"): Matrix {
  checkN("randomOrthogonal", n);
  return toMatrix(n, n, orthogonal64(n, rng), dtype);
}

/** A = Q·diag(values)·Qᵀ for a random orthogonal Q: a symmetric matrix with the given eigenvalues. */
export function symmetricWithSpectrum(values: ArrayLike<number>, rng: Rng, dtype: DType = "float64"): Matrix {
  const n = values.length;
  const q = orthogonal64(n, rng);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (q[i * n + k] as number) * (values[k] as number) * (q[j * n + k] as number);
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return toMatrix(n, n, a, dtype);
}

/** A symmetric matrix with independent N(0, 1) entries on and below the diagonal. */
export function randomSymmetric(n: number, rng: Rng, dtype: DType = "float64"): Matrix {
  checkN("randomSymmetric", n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const x = rng.normal();
      a[i * n + j] = x;
      a[j * n + i] = x;
    }
  }
  return toMatrix(n, n, a, dtype);
}

/** XᵀX/N for an N×n matrix X of N(0, 1) entries (`samples` = N): PSD with rank min(N, n). */
export function randomCovariance(n: number, samples: number, rng: Rng, dtype: DType = "float64"): Matrix {
  checkN("randomCovariance", n);
  checkN("randomCovariance", samples);
  const x = new Float64Array(samples * n);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const a = new Float64Array(n * n);
  for (let s = 0; s < samples; s++) {
    const row = s * n;
    for (let i = 0; i < n; i++) {
      const xi = (x[row + i] as number) / Math.max(samples, 1);
      for (let j = 0; j <= i; j++) a[i * n + j] = (a[i * n + j] as number) + xi * (x[row + j] as number);
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j] as number;
  return toMatrix(n, n, a, dtype);
}

/** D·B·D with B random symmetric and D geometric so that |entries| span about [lo, hi]. */
export function gradedSymmetric(n: number, rng: Rng, lo = 1e-6, hi = 1e6, dtype: DType = "float64"): Matrix {
  checkN("gradedSymmetric", n);
  const b = randomSymmetric(n, rng, "float64").data;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sqrt(lo) * (hi / lo) ** (n > 1 ? i / (2 * (n - 1)) : 0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) b[i * n + j] = (d[i] as number) * (b[i * n + j] as number) * (d[j] as number);
  return toMatrix(n, n, b as Float64Array, dtype);
}

/** Wilkinson's W⁺_n: diagonal |(n−1)/2 − i|, off-diagonals 1. */
export function wilkinsonMatrix(n: number, dtype: DType = "float64"): Matrix {
  checkN("wilkinsonMatrix", n);
  const a = new Float64Array(n * n);
  const m = (n - 1) / 2;
  for (let i = 0; i < n; i++) {
    a[i * n + i] = Math.abs(m - i);
    if (i + 1 < n) {
      a[i * n + i + 1] = 1;
      a[(i + 1) * n + i] = 1;
    }
  }
  return toMatrix(n, n, a, dtype);
}

/** Symmetric tridiagonal with N(0, 1) diagonal and off-diagonal entries (drawn row by row). */
export function randomTridiagonal(n: number, rng: Rng, dtype: DType = "float64"): Matrix {
  checkN("randomTridiagonal", n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = rng.normal();
    if (i + 1 < n) {
      const x = rng.normal();
      a[i * n + i + 1] = x;
      a[(i + 1) * n + i] = x;
    }
  }
  return toMatrix(n, n, a, dtype);
}
