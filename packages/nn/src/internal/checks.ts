/**
 * The argument checks nn's public functions share ("nothing silent"): a TypeError for the wrong kind
 * of value, a RangeError for a wrong value, each naming the function (`fn`), the argument (`name`),
 * what was expected and what was given. Option objects are checked with linalg's `checkOptions` and
 * `checkFlag` (one home for every package); the checks here are the ones nn adds. A check that passes
 * allocates nothing: messages are built only on failure.
 */
import { type DType, Rng } from "@ekfac-ts/linalg";

/** What a value is, for messages: `null`, `undefined`, its constructor's name (`Array`, `Tensor`) or its typeof. */
export function kindOf(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object" || typeof x === "function") {
    return (x as { constructor?: { name?: string } }).constructor?.name ?? typeof x;
  }
  return typeof x;
}

/** The element types nn's layers and models build their parameters in. */
const DTYPES: readonly DType[] = ["float32", "float64"];

/** `value` (default float32) if it is "float32" or "float64"; a TypeError otherwise (never a silent float32). */
export function checkDtype(fn: string, name: string, value: unknown): DType {
  if (value === undefined) return "float32";
  if (!DTYPES.includes(value as DType)) {
    throw new TypeError(`${fn}: ${name} must be "float32" or "float64" (got ${String(value)})`);
  }
  return value as DType;
}

/** Whether `x` is a plain array or a typed array of numbers (not a DataView, not a bigint array). */
export function isNumberArray(x: unknown): x is ArrayLike<number> {
  return (
    Array.isArray(x) ||
    (ArrayBuffer.isView(x) && !(x instanceof DataView || x instanceof BigInt64Array || x instanceof BigUint64Array))
  );
}

/** Throws a TypeError unless `x` is a plain array or a typed array of numbers. */
export function assertNumberArray(fn: string, name: string, x: unknown): asserts x is ArrayLike<number> {
  if (!isNumberArray(x)) throw new TypeError(`${fn}: ${name} must be an array or a typed array (got ${kindOf(x)})`);
}

/** Throws unless `v` is a finite number: a TypeError for another kind, a RangeError for NaN or ±∞. */
export function assertFinite(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number (got ${kindOf(v)})`);
  if (!Number.isFinite(v)) throw new RangeError(`${fn}: ${name} must be a finite number (got ${v})`);
}

/**
 * A generator from a seed (default 0) or the generator itself; `fn` and `name` name the argument in the
 * error for anything else (a TypeError for another kind, a RangeError for a NaN or infinite seed).
 */
export function rngOf(r: unknown, fn: string, name: string): Rng {
  if (r instanceof Rng) return r;
  if (r === undefined) return new Rng(0);
  if (typeof r !== "number") throw new TypeError(`${fn}: ${name} must be an Rng or a seed number (got ${kindOf(r)})`);
  if (!Number.isFinite(r)) throw new RangeError(`${fn}: ${name} must be a finite seed (got ${r})`);
  return new Rng(r);
}
