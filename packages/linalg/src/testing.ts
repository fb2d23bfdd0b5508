/**
 * Closeness checks shared by every package's tests and by users writing their own laws.
 *
 * One helper, per-dtype default tolerances, residuals scaled by a norm, and NaN/±Inf positions required
 * to match exactly (tfjs-core's pitfall was a closeness check that treated NaN and Infinity as equal).
 * ±0 compare equal: numerical kernels legitimately turn −0 into +0 (−0·1 + 0 = +0).
 */
import type { FloatArray } from "./matrix.ts";

/** Tolerances of {@link closeness} and {@link assertClose}: ok when residual ≤ atol + rtol·‖y‖_F. */
export interface CloseOptions {
  /** Relative tolerance on the scaled residual ‖x − y‖_F / max(‖y‖_F, tiny); default per dtype. */
  readonly rtol?: number;
  /** Absolute tolerance on ‖x − y‖_F, for references near zero; default 0. */
  readonly atol?: number;
}

/** The verdict of {@link closeness}, with the numbers behind it. */
export interface CloseReport {
  /** Whether x and y agree within the tolerances and in their non-finite positions. */
  readonly ok: boolean;
  /** ‖x − y‖_F over the finite positions. */
  readonly residual: number;
  /** residual / ‖y‖_F (or residual when ‖y‖_F = 0). */
  readonly relative: number;
  /** Human-readable reason when not ok. */
  readonly message: string;
}

/** Default relative tolerances: about 1000 ulps of the coarser element type. */
export function defaultRtol(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const f32 = x instanceof Float32Array || y instanceof Float32Array;
  return f32 ? 1e-4 : 1e-10;
}

/** Compares two arrays as vectors: non-finite values must match in position and kind. */
export function closeness(x: ArrayLike<number>, y: ArrayLike<number>, options: CloseOptions = {}): CloseReport {
  if (x.length !== y.length) {
    return { ok: false, residual: Infinity, relative: Infinity, message: `lengths differ: ${x.length} vs ${y.length}` };
  }
  const rtol = options.rtol ?? defaultRtol(x, y);
  const atol = options.atol ?? 0;
  // Two passes so that the sums of squares are scaled (no overflow for values near 1e300).
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i] as number;
    const b = y[i] as number;
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) {
        return {
          ok: false,
          residual: Infinity,
          relative: Infinity,
          message: `index ${i}: ${a} vs ${b} (non-finite values must match exactly)`,
        };
      }
      continue;
    }
    scale = Math.max(scale, Math.abs(a), Math.abs(b));
  }
  let diff2 = 0;
  let ref2 = 0;
  if (scale > 0) {
    for (let i = 0; i < x.length; i++) {
      const a = (x[i] as number) / scale;
      const b = (y[i] as number) / scale;
      if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
      diff2 += (a - b) * (a - b);
      ref2 += b * b;
    }
  }
  const residual = scale * Math.sqrt(diff2);
  const refNorm = scale * Math.sqrt(ref2);
  const relative = refNorm > 0 ? residual / refNorm : residual;
  const ok = residual <= atol + rtol * refNorm;
  return {
    ok,
    residual,
    relative,
    message: ok
      ? ""
      : `‖x − y‖ = ${residual.toExponential(3)} > atol + rtol·‖y‖ = ${atol} + ${rtol}·${refNorm.toExponential(3)}`,
  };
}

/** Throws an Error with the report's message unless `x` is close to `y`. */
export function assertClose(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  options: CloseOptions = {},
  label = "values",
): void {
  const r = closeness(x, y, options);
  if (!r.ok) throw new Error(`${label} not close: ${r.message}`);
}

/** Frobenius norm of an array, with scaling against overflow for float64 extremes. */
export function frobenius(x: ArrayLike<number> | FloatArray): number {
  let scale = 0;
  for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i] as number));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = (x[i] as number) / scale;
    s += v * v;
  }
  return scale * Math.sqrt(s);
}
