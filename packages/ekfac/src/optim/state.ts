/**
 * Checkpointing optimizer state: `saveState` → (typed arrays + JSON metadata) → `loadState`.
 *
 * An optimizer state is data only (`StateValue`: numbers, Float32Array/Float64Array, plain arrays and
 * records of them), and schedules are pure functions of the stored step counts, so saving the arrays
 * byte for byte and the numbers exactly is enough to resume bit-identically.
 *
 * `SavedState.meta` mirrors the state's structure in JSON-safe form: a finite number stays a number,
 * a typed array becomes `{ "$array": index, "dtype": "float32" | "float64", "length": n }` pointing into
 * `SavedState.arrays`, a non-JSON number (NaN, ±Infinity, −0) becomes `{ "$number": "NaN" }` etc.
 * Store `meta` with `JSON.stringify` and the arrays as raw bytes (in order); nothing else is needed.
 *
 * `saveState` copies the arrays (the snapshot does not change when training continues).
 * `loadState` builds a fresh state; `loadStateInto` writes into an existing one (same structure, same
 * dtypes and lengths) so that buffers keep their identity — what `Optimizer.load` uses.
 *
 * `checkStateBuffers` is the array rule of the transforms' `validateState` (what `Optimizer.load` asks
 * before it writes): per-parameter buffers finite, and ≥ 0 for second moments and accumulators.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import type { StateValue } from "./transform.ts";

/** A value `JSON.stringify` round-trips exactly (the type of `SavedState.meta`). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A snapshot of an optimizer state: JSON-safe structure plus copies of its typed arrays (see the file header
 * for the format).
 */
export interface SavedState {
  /** Format tag, checked on load. */
  readonly format: "ekfac-ts/optim-state@1";
  /** The state's structure, JSON-safe (see the file header). */
  readonly meta: JsonValue;
  /** The typed arrays, in the order `meta` refers to them. */
  readonly arrays: readonly FloatArray[];
}

const FORMAT = "ekfac-ts/optim-state@1";

function isFloatArray(x: unknown): x is FloatArray {
  return x instanceof Float32Array || x instanceof Float64Array;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object") return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function encodeNumber(v: number): JsonValue {
  if (Number.isFinite(v) && !Object.is(v, -0)) return v;
  return { $number: Object.is(v, -0) ? "-0" : String(v) };
}

function decodeNumber(fn: string, path: string, meta: JsonValue): number | undefined {
  if (typeof meta === "number") return meta;
  if (meta !== null && typeof meta === "object" && !Array.isArray(meta) && "$number" in meta) {
    const s = meta.$number;
    if (s === "-0") return -0;
    if (s === "NaN") return Number.NaN;
    if (s === "Infinity") return Number.POSITIVE_INFINITY;
    if (s === "-Infinity") return Number.NEGATIVE_INFINITY;
    throw new TypeError(`${fn}: ${path} has an unknown $number encoding ${JSON.stringify(s)}`);
  }
  return undefined;
}

/** A snapshot of `state`: copies of its typed arrays plus JSON-safe structure. */
export function saveState(state: StateValue): SavedState {
  const arrays: FloatArray[] = [];
  const walk = (value: unknown, path: string): JsonValue => {
    if (typeof value === "number") return encodeNumber(value);
    if (isFloatArray(value)) {
      arrays.push(value.slice());
      return {
        $array: arrays.length - 1,
        dtype: value instanceof Float64Array ? "float64" : "float32",
        length: value.length,
      };
    }
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      for (let i = 0; i < value.length; i++) out.push(walk(value[i], `${path}[${i}]`));
      return out;
    }
    if (isPlainObject(value)) {
      const out: { [key: string]: JsonValue } = {};
      for (const key of Object.keys(value)) {
        if (key.startsWith("$")) throw new TypeError(`saveState: ${path}.${key}: keys starting with "$" are reserved`);
        out[key] = walk(value[key], `${path}.${key}`);
      }
      return out;
    }
    const kind =
      value === null ? "null" : typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
    throw new TypeError(
      `saveState: ${path} is a ${kind}; a state may hold only numbers, Float32Array/Float64Array, arrays and plain objects`,
    );
  };
  const meta = walk(state, "state");
  return { format: FORMAT, meta, arrays };
}

function checkSaved(fn: string, saved: SavedState): void {
  if (saved === null || typeof saved !== "object" || saved.format !== FORMAT) {
    throw new TypeError(
      `${fn}: saved must be a SavedState with format "${FORMAT}" (got ${saved === null ? "null" : typeof saved === "object" ? `format ${JSON.stringify(saved.format)}` : typeof saved})`,
    );
  }
  if (!Array.isArray(saved.arrays)) throw new TypeError(`${fn}: saved.arrays must be an array`);
}

function arrayRef(fn: string, path: string, meta: JsonValue, saved: SavedState): FloatArray | undefined {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta) || !("$array" in meta)) return undefined;
  const index = meta.$array;
  const src = typeof index === "number" ? saved.arrays[index] : undefined;
  if (!isFloatArray(src))
    throw new RangeError(`${fn}: ${path} refers to arrays[${String(index)}], which is not a Float32Array/Float64Array`);
  const dtype = src instanceof Float64Array ? "float64" : "float32";
  if (meta.dtype !== dtype || meta.length !== src.length) {
    throw new RangeError(
      `${fn}: ${path}: arrays[${index}] is ${dtype}[${src.length}], meta says ${String(meta.dtype)}[${String(meta.length)}]`,
    );
  }
  return src;
}

/** A fresh state from a snapshot (the arrays are copied). */
export function loadState<S extends StateValue = StateValue>(saved: SavedState): S {
  const fn = "loadState";
  checkSaved(fn, saved);
  const walk = (meta: JsonValue, path: string): StateValue => {
    const n = decodeNumber(fn, path, meta);
    if (n !== undefined) return n;
    const src = arrayRef(fn, path, meta, saved);
    if (src !== undefined) return src.slice();
    if (Array.isArray(meta)) {
      const out: StateValue[] = [];
      for (let i = 0; i < meta.length; i++) out.push(walk(meta[i] as JsonValue, `${path}[${i}]`));
      return out;
    }
    if (meta !== null && typeof meta === "object") {
      const out: { [key: string]: StateValue } = {};
      for (const key of Object.keys(meta)) out[key] = walk(meta[key] as JsonValue, `${path}.${key}`);
      return out;
    }
    throw new TypeError(`${fn}: ${path} is ${JSON.stringify(meta)}, not a number, array reference, list or record`);
  };
  return walk(saved.meta, "state") as S;
}

/**
 * Writes a snapshot into an existing state of the same structure (same keys, list lengths, dtypes and
 * array lengths), keeping every buffer's identity. Throws before writing anything when they differ.
 */
export function loadStateInto<S extends StateValue>(target: S, saved: SavedState): S {
  const fn = "loadStateInto";
  checkSaved(fn, saved);
  // Two passes: validate everything, then write, so a mismatch never leaves a half-loaded state.
  for (const write of [false, true]) {
    const walk = (value: unknown, meta: JsonValue, path: string, assign: (v: number) => void): void => {
      if (typeof value === "number") {
        const n = decodeNumber(fn, path, meta);
        if (n === undefined) throw new RangeError(`${fn}: ${path} is a number in the state but not in the snapshot`);
        if (write) assign(n);
        return;
      }
      if (isFloatArray(value)) {
        const src = arrayRef(fn, path, meta, saved);
        if (src === undefined)
          throw new RangeError(`${fn}: ${path} is a typed array in the state but not in the snapshot`);
        const dtype = value instanceof Float64Array ? "float64" : "float32";
        const srcType = src instanceof Float64Array ? "float64" : "float32";
        if (dtype !== srcType || value.length !== src.length) {
          throw new RangeError(
            `${fn}: ${path} is ${dtype}[${value.length}] in the state, ${srcType}[${src.length}] in the snapshot`,
          );
        }
        if (write) value.set(src);
        return;
      }
      if (Array.isArray(value)) {
        if (!Array.isArray(meta) || meta.length !== value.length) {
          throw new RangeError(
            `${fn}: ${path} is a list of ${value.length} in the state, ${Array.isArray(meta) ? `a list of ${meta.length}` : "not a list"} in the snapshot`,
          );
        }
        for (let i = 0; i < value.length; i++) {
          walk(value[i], meta[i] as JsonValue, `${path}[${i}]`, (v) => {
            value[i] = v;
          });
        }
        return;
      }
      if (isPlainObject(value)) {
        if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
          throw new RangeError(`${fn}: ${path} is a record in the state but not in the snapshot`);
        }
        const keys = Object.keys(value);
        const metaKeys = Object.keys(meta);
        if (keys.length !== metaKeys.length || keys.some((k) => !(k in meta))) {
          throw new RangeError(
            `${fn}: ${path} has keys {${keys.join(", ")}} in the state, {${metaKeys.join(", ")}} in the snapshot`,
          );
        }
        for (const key of keys) {
          walk(value[key], meta[key] as JsonValue, `${path}.${key}`, (v) => {
            value[key] = v;
          });
        }
        return;
      }
      throw new TypeError(`${fn}: ${path} in the target state is not a number, typed array, list or record`);
    };
    walk(target, saved.meta, "state", () => {
      throw new TypeError(`${fn}: the target state is a bare number; use loadState instead`);
    });
  }
  return target;
}

/**
 * For a transform's `validateState` (not exported from the package): `list` — the state's buffers, one
 * per parameter array, called `name` in messages (`scaleByAdam state.nu`) — must be Float32Array/
 * Float64Array buffers, as many and as long as `like`'s when given, every entry finite, and ≥ 0 where
 * `nonNegative` (second moments, accumulators: their square roots divide). Throws a TypeError/RangeError
 * naming `fn`, the entry and its value; allocates nothing on the success path.
 */
export function checkStateBuffers(
  fn: string,
  name: string,
  list: unknown,
  nonNegative: boolean,
  like?: readonly FloatArray[],
): asserts list is readonly FloatArray[] {
  if (!Array.isArray(list)) throw new TypeError(`${fn}: ${name} must be a list of Float32Array/Float64Array`);
  if (like !== undefined && list.length !== like.length) {
    throw new RangeError(`${fn}: ${name} holds ${list.length} arrays, expected ${like.length}`);
  }
  for (let k = 0; k < list.length; k++) {
    const a = list[k];
    if (!isFloatArray(a)) throw new TypeError(`${fn}: ${name}[${k}] must be a Float32Array or Float64Array`);
    const expected = like?.[k]?.length;
    if (expected !== undefined && a.length !== expected) {
      throw new RangeError(`${fn}: ${name}[${k}] has length ${a.length}, expected ${expected}`);
    }
    for (let i = 0; i < a.length; i++) {
      const x = a[i] as number;
      // x − x is 0 exactly for finite x; NaN fails both tests.
      if (x - x !== 0 || (nonNegative && !(x >= 0))) {
        throw new RangeError(
          `${fn}: ${name}[${k}][${i}] must be a finite number${nonNegative ? " ≥ 0" : ""} (got ${x})`,
        );
      }
    }
  }
}
