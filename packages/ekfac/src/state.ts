/**
 * Save and restore a curvature optimizer's state as typed arrays plus JSON, so that training resumes
 * bit-identically (the parameters themselves are the model's to checkpoint).
 *
 * Saved: the step counters and stats, every block's factors, eigenbases, eigenvalues, scalings and
 * counters, and the first-order chain's state (numbers to JSON, typed arrays by path). Workspaces are
 * not state. JSON numbers round-trip doubles exactly (ECMAScript's shortest round-trip formatting), and
 * typed arrays are copied bit for bit.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import type { CurvatureOptimizer } from "./kfac.ts";
import type { StateValue } from "./optim/transform.ts";

export interface SavedCurvatureState {
  /** JSON-serialisable description: counters, stats, the chain state's numbers and structure. */
  readonly json: {
    readonly format: "ekfac-ts/curvature-optimizer@1";
    readonly approximation: string;
    readonly stats: Record<string, number>;
    readonly layers: readonly { readonly name: string; readonly counters: Record<string, number | boolean> }[];
    readonly firstOrder: unknown;
  };
  /** Typed arrays by path ("layer/0/A", "firstOrder/0/trace/1", …). */
  readonly arrays: Record<string, FloatArray>;
}

function isTyped(x: unknown): x is FloatArray {
  return x instanceof Float32Array || x instanceof Float64Array;
}

function saveValue(v: StateValue, path: string, arrays: Record<string, FloatArray>): unknown {
  if (typeof v === "number") return v;
  if (isTyped(v)) {
    arrays[path] = v.slice();
    return { $array: path };
  }
  if (Array.isArray(v)) return v.map((x, i) => saveValue(x as StateValue, `${path}/${i}`, arrays));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, StateValue>)) out[k] = saveValue(x, `${path}/${k}`, arrays);
  return out;
}

/** Copies saved values into the live state object `target` in place (structure must match). */
function restoreValue(
  fn: string,
  target: StateValue,
  saved: unknown,
  arrays: Record<string, FloatArray>,
  path: string,
): StateValue {
  if (typeof target === "number") {
    if (typeof saved !== "number") throw new TypeError(`${fn}: ${path} must be a number (got ${typeof saved})`);
    return saved;
  }
  if (isTyped(target)) {
    const ref = (saved as { $array?: unknown } | null)?.$array;
    const src = typeof ref === "string" ? arrays[ref] : undefined;
    if (src === undefined || src.length !== target.length || src.constructor !== target.constructor) {
      throw new RangeError(
        `${fn}: array ${path} missing or of the wrong type/length (expected ${target.constructor.name}(${target.length}))`,
      );
    }
    target.set(src);
    return target;
  }
  if (saved === null || typeof saved !== "object") throw new TypeError(`${fn}: ${path} must be an object or array`);
  const t = target as Record<string, StateValue>;
  const s = saved as Record<string, unknown>;
  for (const k of Object.keys(t)) t[k] = restoreValue(fn, t[k] as StateValue, s[k], arrays, `${path}/${k}`);
  return target;
}

/** A snapshot of the optimizer (copies; later steps do not change it). */
export function saveCurvatureState(opt: CurvatureOptimizer): SavedCurvatureState {
  const arrays: Record<string, FloatArray> = {};
  const layers = opt.adapter.layers.map((l, i) => {
    const b = l.block;
    if (b instanceof DiagonalFisher) {
      arrays[`layer/${i}/D`] = b.D.slice();
      return { name: l.layer.name, counters: { updates: b.updates } };
    }
    const s = b.exportState();
    for (const [k, v] of Object.entries(s.arrays)) arrays[`layer/${i}/${k}`] = v;
    return { name: l.layer.name, counters: s.json };
  });
  return {
    json: {
      format: "ekfac-ts/curvature-optimizer@1",
      approximation: opt.approximation,
      stats: { ...opt.stats },
      layers,
      firstOrder: saveValue(opt.firstOrderState, "firstOrder", arrays),
    },
    arrays,
  };
}

/**
 * Restores a snapshot into an optimizer built with the same model structure and options. Throws a
 * TypeError/RangeError naming the mismatch (format, approximation, layer names, array sizes).
 */
export function restoreCurvatureState(opt: CurvatureOptimizer, saved: SavedCurvatureState): void {
  const fn = "restoreCurvatureState";
  const j = saved?.json;
  if (j?.format !== "ekfac-ts/curvature-optimizer@1") throw new TypeError(`${fn}: unknown format ${String(j?.format)}`);
  if (j.approximation !== opt.approximation) {
    throw new TypeError(`${fn}: saved approximation ${j.approximation}, optimizer is ${opt.approximation}`);
  }
  const layers = opt.adapter.layers;
  if (j.layers.length !== layers.length)
    throw new RangeError(`${fn}: saved ${j.layers.length} layers, optimizer has ${layers.length}`);
  layers.forEach((l, i) => {
    const sl = j.layers[i];
    if (sl?.name !== l.layer.name)
      throw new RangeError(`${fn}: layer ${i} is ${l.layer.name}, saved ${String(sl?.name)}`);
    const b = l.block;
    if (b instanceof DiagonalFisher) {
      const src = saved.arrays[`layer/${i}/D`];
      if (!(src instanceof Float64Array) || src.length !== b.D.length)
        throw new RangeError(`${fn}: array layer/${i}/D missing or mis-sized`);
      b.D.set(src);
      const u = sl.counters.updates;
      if (typeof u !== "number") throw new TypeError(`${fn}: layer ${i} counter updates must be a number`);
      b.updates = u;
      return;
    }
    const arrays: Record<string, Float64Array | undefined> = {};
    for (const k of ["A", "G", "uA", "uG", "lambdaA", "lambdaG", "S"]) {
      const v = saved.arrays[`layer/${i}/${k}`];
      arrays[k] = v instanceof Float64Array ? v : undefined;
    }
    b.importState(`${fn} (layer ${l.layer.name})`, arrays, sl.counters);
  });
  restoreValue(fn, opt.firstOrderState, j.firstOrder, saved.arrays, "firstOrder");
  for (const k of ["steps", "skippedSteps", "basisRefreshes", "basisFailures", "lastKlScale"] as const) {
    const v = j.stats[k];
    if (typeof v !== "number") throw new TypeError(`${fn}: stats.${k} must be a number`);
    opt.stats[k] = v;
  }
}
