/**
 * Closeness checks shared by every package's tests and by users writing their own laws.
 *
 * One helper, per-dtype default tolerances, residuals scaled by a norm, and NaN/±Inf positions required
 * to match exactly (tfjs-core's pitfall was a closeness check that treated NaN and Infinity as equal).
 * ±0 compare equal: numerical kernels legitimately turn −0 into +0 (−0·1 + 0 = +0).
 *
 * Inputs are array-likes or the library's own `Matrix` objects (views included): matrices compare by
 * shape, then element by element. Anything else is a TypeError — a helper reading `.length` of a
 * Matrix (undefined) would compare zero elements and report every pair close.
 */
import { assertMatrix, type FloatArray, type Matrix, offsetOf, shapeOf, strideOf } from "./matrix.ts";
import { checkOptions, optionKeys } from "./options.ts";

/** What `closeness` compares: an array-like of numbers or a `Matrix` (dense or a strided view). */
export type Closeable = ArrayLike<number> | Matrix;

function isMatrix(v: unknown): v is Matrix {
  return typeof v === "object" && v !== null && "data" in v && "rows" in v && "cols" in v;
}

/** The row-major values of a matrix (a copy for views), or the array-like itself. */
function valuesOf(name: string, v: Closeable): ArrayLike<number> {
  if (isMatrix(v)) {
    assertMatrix("closeness", name, v);
    const off = offsetOf(v);
    const ld = strideOf(v);
    if (off === 0 && ld === v.cols) return v.data;
    const out = new Float64Array(v.rows * v.cols);
    for (let i = 0; i < v.rows; i++)
      for (let j = 0; j < v.cols; j++) out[i * v.cols + j] = v.data[off + i * ld + j] as number;
    return v.data instanceof Float32Array ? Float32Array.from(out) : out;
  }
  const len = (v as { length?: unknown } | null)?.length;
  if (typeof v !== "object" || v === null || typeof len !== "number" || !Number.isInteger(len) || len < 0) {
    throw new TypeError(
      `closeness: ${name} must be an array of numbers or a Matrix {rows, cols, data} (got ${v === null ? "null" : typeof v})`,
    );
  }
  return v as ArrayLike<number>;
}

/** Tolerances of {@link closeness} and {@link assertClose}: ok when residual ≤ atol + rtol·‖y‖_F. */
export interface CloseOptions {
  /** Relative tolerance on the scaled residual ‖x − y‖_F / max(‖y‖_F, tiny); default per dtype. */
  readonly rtol?: number;
  /** Absolute tolerance on ‖x − y‖_F, for references near zero; default 0. */
  readonly atol?: number;
}

const CLOSE_OPTIONS = optionKeys<CloseOptions>()(["rtol", "atol"]);

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
export function closeness(xIn: Closeable, yIn: Closeable, options: CloseOptions = {}): CloseReport {
  checkOptions("closeness", "options", options, CLOSE_OPTIONS);
  if (isMatrix(xIn) !== isMatrix(yIn)) {
    throw new TypeError("closeness: x and y must both be matrices or both be arrays");
  }
  if (isMatrix(xIn) && isMatrix(yIn) && (xIn.rows !== yIn.rows || xIn.cols !== yIn.cols)) {
    return {
      ok: false,
      residual: Infinity,
      relative: Infinity,
      message: `shapes differ: ${shapeOf(xIn)} vs ${shapeOf(yIn)}`,
    };
  }
  const x = valuesOf("x", xIn);
  const y = valuesOf("y", yIn);
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
export function assertClose(x: Closeable, y: Closeable, options: CloseOptions = {}, label = "values"): void {
  const r = closeness(x, y, options);
  if (!r.ok) throw new Error(`${label} not close: ${r.message}`);
}

/** One unit in the last place of |x|: the gap from |x| to the next double away from zero (x finite). */
export function ulp(x: number): number {
  const b = new Float64Array([Math.abs(x)]);
  const w = new BigInt64Array(b.buffer);
  w[0] = (w[0] as bigint) + 1n;
  return (b[0] as number) - Math.abs(x);
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

/**
 * For fuzz tests of "a clear error or a correct result": runs `f` and returns its result, or
 * undefined when it threw a clear error — a TypeError or RangeError whose message starts with one of
 * `names` (case-insensitive; a layer's shape errors may come from the op it calls). Any other throw
 * (an engine TypeError such as "Cannot read properties of undefined", a plain Error) is re-thrown
 * as an Error saying what was expected.
 */
export function clearErrorOr<T>(names: string | readonly string[], f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    const list = typeof names === "string" ? [names] : names;
    const msg = e instanceof Error ? e.message : String(e);
    const clear =
      (e instanceof TypeError || e instanceof RangeError) &&
      list.some((n) => msg.toLowerCase().startsWith(n.toLowerCase()));
    if (!clear) throw new Error(`expected a TypeError or RangeError naming ${list.join(" or ")}, got ${String(e)}`);
    return undefined;
  }
}
