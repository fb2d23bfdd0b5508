/**
 * Argument validation of parameter lists shared by the optimizer transforms (not exported from the package).
 *
 * Every check loops with indices and builds its message only when it throws, so calling them from
 * `update` costs O(number of arrays) and allocates nothing on the success path.
 */
import { type FloatArray, overlapOf } from "@ekfac-ts/linalg";
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

/**
 * Throws a RangeError when two parameters share memory — the same array twice (`[a, a]`), a layer used
 * twice in a model, or overlapping views of one buffer (linalg's `overlapOf`) — since every update
 * would reach the shared values twice (the Optimizer adds each update to them, a curvature transform
 * would give them two blocks). `names[k]` names parameter k in the message (or `params[k]` when null).
 * Arrays are grouped by buffer first, so parameters that are disjoint views of one store cost one pass
 * plus the pairs within that store. At construction only: allocates its grouping map.
 */
export function checkDisjointParams(fn: string, params: readonly FloatArray[], names: readonly string[] | null): void {
  const byBuffer = new Map<ArrayBufferLike, number[]>();
  for (let k = 0; k < params.length; k++) {
    const p = params[k] as FloatArray;
    const same = byBuffer.get(p.buffer);
    if (same === undefined) {
      byBuffer.set(p.buffer, [k]);
      continue;
    }
    for (const j of same) {
      const overlap = overlapOf(params[j] as FloatArray, p);
      if (overlap === "none") continue;
      const name = (i: number) => (names === null ? `params[${i}]` : `parameter ${names[i]} (position ${i})`);
      throw new RangeError(
        `${fn}: ${name(j)} and ${name(k)} ${overlap === "identical" ? "are the same array" : "overlap in memory"}: each step would add its update to the shared values twice (pass each parameter once; a model that reuses a layer must list its parameters once)`,
      );
    }
    same.push(k);
  }
}
