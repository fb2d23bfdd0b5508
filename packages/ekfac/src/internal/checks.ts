/**
 * Scalar argument checks shared by every part of the package (optimizer transforms, curvature blocks,
 * influence): one home, so a rule such as "a decay is in [0, 1)" reads the same everywhere. Not exported
 * from the package. Messages name the function, the argument, what was expected and what was given;
 * a wrong kind is a TypeError, a wrong value a RangeError. Nothing is allocated on the success path.
 */

/** A short name of a value's kind, for messages: "null", "Float32Array", "string". */
export function kind(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  return typeof x;
}

export function checkNumber(fn: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${fn}: ${name} must be a number (got ${kind(value)})`);
}

/** Finite and > 0 (learning rates, clipping thresholds). */
export function checkPositive(fn: string, name: string, value: unknown): asserts value is number {
  checkNumber(fn, name, value);
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${fn}: ${name} must be a finite number > 0 (got ${value})`);
  }
}

/** Finite and ≥ 0 (ε, weight decay, initial accumulators). */
export function checkNonNegative(fn: string, name: string, value: unknown): asserts value is number {
  checkNumber(fn, name, value);
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new RangeError(`${fn}: ${name} must be a finite number ≥ 0 (got ${value})`);
  }
}

/** In [0, 1) (decay rates β, ρ, α, μ). */
export function checkDecay(fn: string, name: string, value: unknown): asserts value is number {
  checkNumber(fn, name, value);
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`${fn}: ${name} must be in [0, 1) (got ${value})`);
  }
}

/** Any finite number (scale factors). */
export function checkFinite(fn: string, name: string, value: unknown): asserts value is number {
  checkNumber(fn, name, value);
  if (!Number.isFinite(value)) throw new RangeError(`${fn}: ${name} must be finite (got ${value})`);
}

/** A non-negative integer (step counts, schedule lengths). */
export function checkCount(fn: string, name: string, value: unknown): asserts value is number {
  checkNumber(fn, name, value);
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer (got ${value})`);
  }
}

/**
 * `value`, or `fallback` when undefined, which must be one of `allowed` (a string option such as
 * `options.fisher`): a TypeError listing the choices otherwise.
 */
export function checkChoice<T extends string>(
  fn: string,
  name: string,
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = value ?? fallback;
  if (!allowed.includes(v)) {
    const quoted = allowed.map((a) => `"${a}"`);
    const list = quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted[0];
    throw new TypeError(`${fn}: ${name} must be ${list} (got ${String(v)})`);
  }
  return v;
}
