/** Naive float64 references used by the laws: written for clarity, independent of the library kernels. */
import type { Matrix } from "@ekfac-ts/linalg";

/** Entry (i, j) of a (possibly strided) matrix, as a number. */
export function at(m: Matrix, i: number, j: number): number {
  return m.data[i * m.cols + j] as number;
}

/** Entry (i, j) of op(M) = M or Mᵀ. */
export function atOp(m: Matrix, trans: boolean, i: number, j: number): number {
  return trans ? at(m, j, i) : at(m, i, j);
}

/**
 * C = α·op(A)·op(B) + β·C0 in float64, and the magnitude |α|·|op(A)|·|op(B)| + |β|·|C0| that bounds its
 * rounding error entrywise (Higham, Accuracy and Stability of Numerical Algorithms, §3.5).
 */
export function naiveGemm(
  tA: boolean,
  tB: boolean,
  alpha: number,
  a: Matrix,
  b: Matrix,
  beta: number,
  c0: Matrix,
): { readonly ref: Float64Array; readonly mag: Float64Array } {
  const m = tA ? a.cols : a.rows;
  const k = tA ? a.rows : a.cols;
  const n = tB ? b.rows : b.cols;
  const ref = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const x = atOp(a, tA, i, p) * atOp(b, tB, p, j);
        s += x;
        t += Math.abs(x);
      }
      const cij = beta === 0 ? 0 : beta * at(c0, i, j);
      ref[i * n + j] = alpha * s + cij;
      mag[i * n + j] = Math.abs(alpha) * t + Math.abs(cij);
    }
  }
  return { ref, mag };
}

/**
 * max_i |x_i − y_i| / (mag_i + floor) (a zero difference counts 0 even where the denominator is 0; a NaN
 * difference is NaN). `floor` = η/ε (smallest subnormal over machine epsilon) turns a relative bound
 * c·ε·mag into c·(ε·mag + η), the gradual-underflow term of the standard model fl(x) = x(1 + δ) + η′.
 */
export function maxEntrywise(x: ArrayLike<number>, y: ArrayLike<number>, mag: ArrayLike<number>, floor = 0): number {
  if (x.length !== y.length || x.length !== mag.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] as number) - (y[i] as number));
    if (Number.isNaN(d)) return Number.NaN;
    if (d === 0) continue;
    const r = d / ((mag[i] as number) + floor);
    if (r > worst) worst = r;
  }
  return worst;
}

export function frob(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s);
}

export function distance(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return Number.POSITIVE_INFINITY;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += ((x[i] as number) - (y[i] as number)) ** 2;
  return Math.sqrt(s);
}

/** y = M·x for a p×p row-major M. */
export function matVec(m: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const p = x.length;
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += (m[i * p + j] as number) * (x[j] as number);
    y[i] = s;
  }
  return y;
}

export function trace(m: ArrayLike<number>, p: number): number {
  let s = 0;
  for (let i = 0; i < p; i++) s += m[i * p + i] as number;
  return s;
}
