import { describe, expect, it } from "vitest";
import {
  adam,
  applyUpdates,
  type GradientTransformation,
  momentum,
  Optimizer,
  type Params,
  rmsprop,
  type SkipState,
  type StateValue,
  saveState,
  skipNonFinite,
} from "../index.ts";

/** Bitwise equality of float arrays (distinguishes −0 from +0 and NaN payloads). */
function sameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.every((v, i) => v === y[i]);
}

function sameSnapshot(s: StateValue, t: StateValue): boolean {
  const a = saveState(s);
  const b = saveState(t);
  return (
    JSON.stringify(a.meta) === JSON.stringify(b.meta) &&
    a.arrays.every((x, i) => sameBits(x, b.arrays[i] as Float64Array))
  );
}

const grads = [
  [0.3, -1.2, 0.5, 2],
  [1, 0.25, -0.75, 0.1],
  [-0.4, 0.9, 0.2, -1.5],
];

function makeParams(): Float64Array[] {
  return [Float64Array.from([1, -2]), Float64Array.from([0.5, 3])];
}

function split(g: number[]): Params {
  return [Float64Array.from(g.slice(0, 2)), Float64Array.from(g.slice(2))];
}

describe("skipNonFinite", () => {
  for (const [label, bad] of [
    ["NaN", Number.NaN],
    ["+Inf", Number.POSITIVE_INFINITY],
    ["−Inf", Number.NEGATIVE_INFINITY],
  ] as const) {
    it(`a ${label} gradient leaves params and inner state unchanged, zeroes the updates and counts the skip`, () => {
      const t = skipNonFinite(adam(0.1));
      const params = makeParams();
      const state = t.init(params);
      const u = split(grads[0] as number[]);
      t.update(u, state, params);
      applyUpdates(params, u);

      const paramsBefore = params.map((p) => p.slice());
      const innerBefore = saveState(state.inner);
      const poisoned = split([0.1, bad, 0.2, bad]);
      t.update(poisoned, state, params);
      applyUpdates(params, poisoned);

      for (const p of poisoned) expect(Array.from(p)).toEqual([0, 0]);
      for (let k = 0; k < params.length; k++)
        expect(sameBits(params[k] as Float64Array, paramsBefore[k] as Float64Array)).toBe(true);
      const innerAfter = saveState(state.inner);
      expect(JSON.stringify(innerAfter.meta)).toBe(JSON.stringify(innerBefore.meta));
      expect(innerAfter.arrays.length).toBe(innerBefore.arrays.length);
      innerAfter.arrays.forEach((a, i) => {
        expect(sameBits(a, innerBefore.arrays[i] as Float64Array)).toBe(true);
      });
      expect(state.skipped).toBe(1);
      expect(state.consecutive).toBe(1);
      expect(state.nonFinite).toBe(2);
    });
  }

  for (const [name, make] of [
    ["adam", () => adam(0.1)],
    ["momentum", () => momentum(0.05, 0.9)],
    ["rmsprop centered + momentum", () => rmsprop(0.01, { centered: true, momentum: 0.5 })],
  ] as const) {
    it(`${name}: after a skipped step the run continues bit-for-bit as if the bad step never happened`, () => {
      const run = (withBad: boolean) => {
        const t: GradientTransformation<SkipState<StateValue>> = skipNonFinite(make());
        const params = makeParams();
        const state = t.init(params);
        const seq = withBad
          ? [grads[0], [Number.NaN, 0, 0, 0], [0, 0, Number.POSITIVE_INFINITY, 1], grads[1], grads[2]]
          : [grads[0], grads[1], grads[2]];
        for (const g of seq) {
          const u = split(g as number[]);
          t.update(u, state, params);
          applyUpdates(params, u);
        }
        return { params, state };
      };
      const clean = run(false);
      const dirty = run(true);
      for (let k = 0; k < 2; k++)
        expect(sameBits(dirty.params[k] as Float64Array, clean.params[k] as Float64Array)).toBe(true);
      expect(sameSnapshot(dirty.state.inner, clean.state.inner)).toBe(true);
      expect(dirty.state.skipped).toBe(2);
      expect(dirty.state.consecutive).toBe(0);
      expect(dirty.state.nonFinite).toBe(2);
      expect(clean.state.skipped).toBe(0);
    });
  }

  it("consecutive counts the current run of skipped steps and resets on a finite step", () => {
    const t = skipNonFinite(adam(0.1));
    const params = makeParams();
    const state = t.init(params);
    const nan = [Number.NaN, Number.NaN, Number.NaN, 0];
    const seq = [nan, nan, grads[0], nan];
    const seen: number[] = [];
    for (const g of seq) {
      t.update(split(g as number[]), state, params);
      seen.push(state.consecutive);
    }
    expect(seen).toEqual([1, 2, 0, 1]);
    expect(state.skipped).toBe(3);
    expect(state.nonFinite).toBe(9);
  });

  it("the Optimizer class wraps by default: step returns false and leaves params unchanged", () => {
    const params = makeParams();
    const opt = new Optimizer(adam(0.1), params);
    expect(opt.step(split(grads[0] as number[])).skipped).toBe(false);
    const before = params.map((p) => p.slice());
    expect(opt.step(split([0, Number.NaN, 0, 0]))).toEqual({
      skipped: true,
      reason: "non-finite gradient",
      curvature: null,
    });
    for (let k = 0; k < 2; k++) expect(sameBits(params[k] as Float64Array, before[k] as Float64Array)).toBe(true);
    expect(opt.stepsSkipped).toBe(1);
    expect(opt.stepsApplied).toBe(1);
  });

  it("without the wrapper (skipNonFinite: false) the final update check still keeps NaN out of the parameters", () => {
    const params = makeParams();
    const before = params.map((p) => p.slice());
    const opt = new Optimizer(adam(0.1), params, { skipNonFinite: false });
    expect(opt.step(split([0, Number.NaN, 0, 0]))).toMatchObject({ skipped: true, reason: "non-finite update" });
    for (let k = 0; k < 2; k++) expect(sameBits(params[k] as Float64Array, before[k] as Float64Array)).toBe(true);
  });
  it("a transform that rejects its measured update (observeLoss → true) gets the parameters back bit for bit, wrapped or not", () => {
    // A toy transform: update = the gradient; measured on odd steps; rejects when the loss rose.
    const rejecting: GradientTransformation<{ count: number }> = {
      name: "rejecting",
      init: () => ({ count: 0 }),
      update(_u, state) {
        state.count++;
      },
      needsLoss: true,
      wantsLoss: (state) => state.count % 2 === 1,
      observeLoss: (_state, before, after) => !(after <= before),
    };
    for (const wrap of [true, false]) {
      // float32 parameters: θ + δ − δ would not round back to θ, so only a copy restores them.
      const params = [Float32Array.of(0.1, 0.2, 0.3), Float32Array.of(1 / 3)];
      const opt = new Optimizer(rejecting, params, { skipNonFinite: wrap });
      const g = () => [Float32Array.of(1e-8, 0.7, 1 / 7), Float32Array.of(0.123456789)];
      let loss = 1;
      const closure = () => loss;
      expect(opt.step(g(), closure).skipped).toBe(false); // count 0: not measured, applied
      const kept = params.map((p) => p.slice());
      let calls = 0;
      const rising = () => (calls++ === 0 ? loss : loss + 1);
      expect(opt.step(g(), rising)).toEqual({ skipped: true, reason: "loss increased", curvature: null });
      expect(calls).toBe(2);
      for (let k = 0; k < 2; k++) expect(sameBits(params[k] as Float32Array, kept[k] as Float32Array)).toBe(true);
      loss = 0.5;
      expect(opt.step(g(), closure).skipped).toBe(false); // count 2: not measured
      expect(params[1]?.[0]).not.toBe(kept[1]?.[0]);
      expect(opt.stepsSkipped).toBe(1);
      expect(opt.stepsApplied).toBe(2);
    }
  });
});
