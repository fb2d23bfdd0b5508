import { describe, expect, it } from "vitest";
import { everyOptimizer } from "../../test/optimizers.ts";
import {
  adam,
  applyUpdates,
  loadState,
  loadStateInto,
  Optimizer,
  type SavedState,
  type StateValue,
  saveState,
  sgd,
} from "../index.ts";

type FloatArray = Float32Array | Float64Array;

function bytes(a: FloatArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sameBits(a: FloatArray, b: FloatArray): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  const x = bytes(a);
  const y = bytes(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** What a checkpoint file would hold: JSON text and raw bytes, read back into fresh objects. */
function throughStorage(saved: SavedState): SavedState {
  const metaText = JSON.stringify({ format: saved.format, meta: saved.meta });
  const blobs = saved.arrays.map((a) => ({ dtype: a instanceof Float64Array ? "f64" : "f32", raw: bytes(a).slice() }));
  const parsed = JSON.parse(metaText) as Pick<SavedState, "format" | "meta">;
  const arrays = blobs.map((b) =>
    b.dtype === "f64" ? new Float64Array(b.raw.buffer) : new Float32Array(b.raw.buffer),
  );
  return { format: parsed.format, meta: parsed.meta, arrays };
}

/** A deterministic gradient stream: g_k depends on the params and the step, nonconvex. */
function gradients(params: readonly FloatArray[], step: number, out: FloatArray[]): void {
  let i = 0;
  for (let k = 0; k < params.length; k++) {
    const p = params[k] as FloatArray;
    const g = out[k] as FloatArray;
    for (let j = 0; j < p.length; j++, i++)
      g[j] = Math.sin(3 * (p[j] as number) + 0.7 * i + 0.3 * step) + 0.1 * (p[j] as number);
  }
}

function makeParams(ctor: Float32ArrayConstructor | Float64ArrayConstructor): FloatArray[] {
  return [ctor.from([0.5, -1, 2]), ctor.from([0.1, 0.2, -0.3, 0.4])];
}

describe("save → restore → continue equals the uninterrupted run bit for bit", () => {
  for (const ctor of [Float64Array, Float32Array] as const) {
    for (const [name, make] of everyOptimizer) {
      it(`${name} (${ctor.name}), through JSON text and raw bytes, into a fresh Optimizer`, () => {
        const total = 12;
        const cut = 5;
        const g = makeParams(ctor).map((p) => new ctor(p.length));

        const pA = makeParams(ctor);
        const a = new Optimizer(make(), pA);
        for (let s = 0; s < total; s++) {
          gradients(pA, s, g);
          a.step(g);
        }

        const pB = makeParams(ctor);
        const b = new Optimizer(make(), pB);
        for (let s = 0; s < cut; s++) {
          gradients(pB, s, g);
          b.step(g);
        }
        const checkpoint = throughStorage(b.state());
        const savedParams = pB.map((p) => p.slice());
        // Keep training the old instance to make sure the snapshot does not alias live buffers.
        gradients(pB, cut, g);
        b.step(g);

        const pC = savedParams.map((p) => p.slice());
        const c = new Optimizer(make(), pC);
        c.load(checkpoint);
        for (let s = cut; s < total; s++) {
          gradients(pC, s, g);
          c.step(g);
        }
        for (let k = 0; k < pA.length; k++) expect(sameBits(pC[k] as FloatArray, pA[k] as FloatArray)).toBe(true);
        const sa = a.state();
        const sc = c.state();
        expect(JSON.stringify(sc.meta)).toBe(JSON.stringify(sa.meta));
        sa.arrays.forEach((arr, i) => {
          expect(sameBits(sc.arrays[i] as FloatArray, arr)).toBe(true);
        });
      });
    }
  }

  it("loadState builds a fresh state that resumes a raw transform identically", () => {
    const t = adam(0.01);
    const run = (params: FloatArray[], state: StateValue, from: number, to: number) => {
      const g = params.map((p) => new Float64Array(p.length));
      for (let s = from; s < to; s++) {
        gradients(params, s, g);
        t.update(g, state as never, params);
        applyUpdates(params, g);
      }
    };
    const pA = makeParams(Float64Array);
    const sA = t.init(pA);
    run(pA, sA, 0, 8);
    const pB = makeParams(Float64Array);
    const sB = t.init(pB);
    run(pB, sB, 0, 3);
    const fresh = loadState(throughStorage(saveState(sB)));
    expect(fresh).not.toBe(sB);
    run(pB, fresh, 3, 8);
    for (let k = 0; k < pA.length; k++) expect(sameBits(pB[k] as FloatArray, pA[k] as FloatArray)).toBe(true);
  });
});

describe("state encoding", () => {
  it("numbers that JSON cannot hold (NaN, ±Infinity, −0) survive a JSON round trip", () => {
    const state = { a: Number.NaN, b: Number.POSITIVE_INFINITY, c: Number.NEGATIVE_INFINITY, d: -0, e: 3, f: [1.5] };
    const back = loadState<typeof state>(throughStorage(saveState(state)));
    expect(Number.isNaN(back.a)).toBe(true);
    expect(back.b).toBe(Number.POSITIVE_INFINITY);
    expect(back.c).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(back.d, -0)).toBe(true);
    expect(back.e).toBe(3);
    expect(back.f).toEqual([1.5]);
  });

  it("saveState copies arrays: later mutation does not change the snapshot", () => {
    const buf = Float64Array.from([1, 2]);
    const saved = saveState({ buf });
    buf[0] = 99;
    expect(Array.from(saved.arrays[0] as Float64Array)).toEqual([1, 2]);
  });

  it("loadStateInto keeps buffer identity", () => {
    const buf = new Float32Array(3);
    const target = { count: 0, buf };
    loadStateInto(target, saveState({ count: 7, buf: Float32Array.from([1, 2, 3]) }));
    expect(target.buf).toBe(buf);
    expect(target.count).toBe(7);
    expect(Array.from(buf)).toEqual([1, 2, 3]);
  });

  it("a structural mismatch throws before anything is written", () => {
    const buf = Float64Array.from([5, 6]);
    const target = { count: 1, list: [buf, new Float64Array(3)] };
    const wrongLength = saveState({ count: 9, list: [Float64Array.from([1, 2]), new Float64Array(4)] });
    expect(() => loadStateInto(target, wrongLength)).toThrow(RangeError);
    expect(() => loadStateInto(target, wrongLength)).toThrow(/state\.list\[1\].*float64\[3\].*float64\[4\]/);
    expect(target.count).toBe(1);
    expect(Array.from(buf)).toEqual([5, 6]);
    const wrongDtype = saveState({ count: 9, list: [new Float32Array(2), new Float64Array(3)] });
    expect(() => loadStateInto(target, wrongDtype)).toThrow(/float64\[2\].*float32\[2\]/);
    const wrongKeys = saveState({ count: 9, lst: [new Float64Array(2), new Float64Array(3)] });
    expect(() => loadStateInto(target, wrongKeys)).toThrow(/keys/);
    const wrongList = saveState({ count: 9, list: [new Float64Array(2)] });
    expect(() => loadStateInto(target, wrongList)).toThrow(/list of 2.*list of 1/);
  });

  it("Optimizer.load rejects a snapshot from a differently built optimizer", () => {
    const params = makeParams(Float64Array);
    const opt = new Optimizer(adam(0.01), params);
    const other = new Optimizer(sgd(0.01), makeParams(Float64Array));
    expect(() => opt.load(other.state())).toThrow(RangeError);
  });

  it("saveState rejects values that are not state (functions, strings, class instances, $-keys)", () => {
    expect(() => saveState({ f: (() => 0) as unknown as number })).toThrow(/state\.f is a function/);
    expect(() => saveState({ s: "x" as unknown as number })).toThrow(TypeError);
    expect(() => saveState({ d: new Date() as unknown as number })).toThrow(/Date/);
    expect(() => saveState({ $array: 1 })).toThrow(/reserved/);
  });

  it("loadState rejects a foreign format tag and dangling array references", () => {
    expect(() => loadState({ format: "other" as never, meta: 1, arrays: [] })).toThrow(TypeError);
    expect(() =>
      loadState({ format: "ekfac-ts/optim-state@1", meta: { $array: 3, dtype: "float64", length: 1 }, arrays: [] }),
    ).toThrow(/arrays\[3\]/);
  });
});
