/**
 * Argument validation of parameter lists shared by the optimizer transforms (not exported from the package).
 *
 * Every check loops with indices and builds its message only when it throws, so calling them from
 * `update` costs O(number of arrays) and allocates nothing on the success path.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { kind } from "../internal/checks.ts";

// The scalar checks live in internal/checks.ts (one home for the package, shared with the curvature
// blocks and influence); re-exported so that each optimizer module imports all its checks from here.
export {
  checkCount,
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkPositive,
} from "../internal/checks.ts";

function isFloatArray(x: unknown): x is FloatArray {
  return x instanceof Float32Array || x instanceof Float64Array;
}

/** `list` must be an array of Float32Array/Float64Array. */
export function checkParamList(fn: string, name: string, list: unknown): asserts list is readonly FloatArray[] {
  if (!Array.isArray(list)) {
    throw new TypeError(`${fn}: ${name} must be an array of Float32Array/Float64Array (got ${kind(list)})`);
  }
  for (let k = 0; k < list.length; k++) {
    if (!isFloatArray(list[k])) {
      throw new TypeError(`${fn}: ${name}[${k}] must be a Float32Array or Float64Array (got ${kind(list[k])})`);
    }
  }
}

/** `a` must be a list of float arrays with the same count and lengths as `b` (already checked). */
export function checkSameShapes(
  fn: string,
  aName: string,
  a: unknown,
  bName: string,
  b: readonly FloatArray[],
): asserts a is readonly FloatArray[] {
  checkParamList(fn, aName, a);
  if (a.length !== b.length) {
    throw new RangeError(`${fn}: ${aName} has ${a.length} arrays, expected ${b.length} (as ${bName})`);
  }
  for (let k = 0; k < a.length; k++) {
    const la = (a[k] as FloatArray).length;
    const lb = (b[k] as FloatArray).length;
    if (la !== lb) {
      throw new RangeError(`${fn}: ${aName}[${k}] has length ${la}, expected ${lb} (as ${bName}[${k}])`);
    }
  }
}

/** `params` is required (weight decay): a TypeError naming the transform when it is missing. */
export function requireParams(fn: string, params: unknown): asserts params is readonly FloatArray[] {
  if (params === undefined) {
    throw new TypeError(`${fn}: update needs the current params (third argument) but got undefined`);
  }
}

/** Zero-filled buffers with the dtypes and lengths of `params`. */
export function zerosLike(params: readonly FloatArray[], fill = 0): FloatArray[] {
  const out: FloatArray[] = [];
  for (let k = 0; k < params.length; k++) {
    const p = params[k] as FloatArray;
    const z = p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length);
    if (fill !== 0) z.fill(fill);
    out.push(z);
  }
  return out;
}
