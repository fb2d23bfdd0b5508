import { describe, expect, it } from "vitest";
import { fill } from "../../test/deterministic.ts";
import { ScaleShiftBlock } from "./scale-shift.ts";

// F_c = (1/E) Σ_e v v ᵀ with v = (Σ_t g·x̂, Σ_t g), by the definition; returns [F_γγ, F_γβ, F_ββ] per channel.
function fisher(xhat: Float64Array, g: Float64Array, e: number, t: number, c: number): number[][] {
  const out: number[][] = [];
  for (let ch = 0; ch < c; ch++) {
    let gg = 0;
    let gb = 0;
    let bb = 0;
    for (let n = 0; n < e; n++) {
      let vg = 0;
      let vb = 0;
      for (let p = 0; p < t; p++) {
        const i = n * t * c + p * c + ch;
        vg += (g[i] as number) * (xhat[i] as number);
        vb += g[i] as number;
      }
      gg += (vg * vg) / e;
      gb += (vg * vb) / e;
      bb += (vb * vb) / e;
    }
    out.push([gg, gb, bb]);
  }
  return out;
}

describe("ScaleShiftBlock: exact per-channel 2×2 Fisher of (γ_c, β_c)", () => {
  const e = 3;
  const t = 2;
  const c = 2;
  const x1 = fill(e * t * c, 1);
  const g1 = fill(e * t * c, 2);
  const x2 = fill(e * t * c, 3);
  const g2 = fill(e * t * c, 4);

  it("F_c = (1/E) Σ_e v vᵀ on the first batch, then ρ F + (1 − ρ) F_batch; layout [γ…, β…]", () => {
    const b = new ScaleShiftBlock(c, true, { decay: 0.8 });
    expect([b.kind, b.channels, b.hasShift, b.size, b.decay]).toEqual(["ScaleAndShift", 2, true, 4, 0.8]);
    b.updateStatistics({ batchSize: e, positions: t, xhat: x1, g: g1 });
    const f1 = fisher(x1, g1, e, t, c);
    for (let ch = 0; ch < c; ch++) {
      const [gg, gb, bb] = f1[ch] as number[];
      const got = Array.from(b.state.F.subarray(4 * ch, 4 * ch + 4));
      for (const [i, w] of [gg, gb, gb, bb].entries()) expect(got[i]).toBeCloseTo(w as number, 14);
    }
    b.updateStatistics({ batchSize: e, positions: t, xhat: x2, g: g2 });
    expect(b.state.updates).toBe(2);
    const f2 = fisher(x2, g2, e, t, c);
    for (let ch = 0; ch < c; ch++) {
      const a = f1[ch] as number[];
      const z = f2[ch] as number[];
      const want = [0, 1, 1, 2].map((k) => 0.8 * (a[k] as number) + 0.2 * (z[k] as number));
      const got = Array.from(b.state.F.subarray(4 * ch, 4 * ch + 4));
      for (const [i, w] of want.entries()) expect(got[i]).toBeCloseTo(w, 14);
    }
    // dense F̂: (γ_c, β_c) couple through F_γβ at rows/columns c and C + c, channels do not couple.
    const d = b.denseApproximation();
    const f = b.state.F;
    const p = 4;
    expect(Array.from(d)).toEqual(
      [f[0], 0, f[1], 0, 0, f[4], 0, f[5], f[2], 0, f[3], 0, 0, f[6], 0, f[7]].map((v) => v as number),
    );
    expect(d.length).toBe(p * p);
  });

  it("Δ_c = (F_c + εI)⁻¹ ∇_c: (F_c + εI)·Δ_c = ∇_c, and out may alias grad", () => {
    const b = new ScaleShiftBlock(c, true, { decay: 0 });
    b.updateStatistics({ batchSize: e, positions: t, xhat: x1, g: g1 });
    const grad = new Float64Array([0.3, -1.2, 0.7, 2]);
    const eps = 0.05;
    const out = b.precondition(grad, new Float64Array(4), eps);
    const f = b.state.F;
    for (let ch = 0; ch < c; ch++) {
      const o = 4 * ch;
      const dg = out[ch] as number;
      const db = out[c + ch] as number;
      expect(((f[o] as number) + eps) * dg + (f[o + 1] as number) * db).toBeCloseTo(grad[ch] as number, 12);
      expect((f[o + 2] as number) * dg + ((f[o + 3] as number) + eps) * db).toBeCloseTo(grad[c + ch] as number, 12);
    }
    const alias = Float64Array.from(grad);
    expect(b.precondition(alias, alias, eps)).toBe(alias);
    expect(Array.from(alias)).toEqual(Array.from(out));
  });

  it("without a shift the block is 1×1 per channel: F_c = (1/E) Σ_e (Σ_t g·x̂)², Δ = ∇/(F + ε)", () => {
    const b = new ScaleShiftBlock(c, false, { decay: 0.5 });
    expect(b.size).toBe(c);
    b.updateStatistics({ batchSize: e, positions: t, xhat: x1, g: g1 });
    b.updateStatistics({ batchSize: e, positions: t, xhat: x2, g: g2 });
    const f1 = fisher(x1, g1, e, t, c);
    const f2 = fisher(x2, g2, e, t, c);
    for (let ch = 0; ch < c; ch++) {
      const want = 0.5 * ((f1[ch] as number[])[0] as number) + 0.5 * ((f2[ch] as number[])[0] as number);
      expect(b.state.F[ch]).toBeCloseTo(want, 14);
    }
    const f = b.state.F;
    expect(Array.from(b.precondition(new Float64Array([1, 2]), new Float64Array(2), 0.1))).toEqual([
      1 / ((f[0] as number) + 0.1),
      2 / ((f[1] as number) + 0.1),
    ]);
    expect(Array.from(b.denseApproximation())).toEqual([f[0], 0, 0, f[1]].map((v) => v as number));
  });

  it("no basis, no scaling: refreshBasis is { 0, 0 } and the scaling hooks change nothing", () => {
    const b = new ScaleShiftBlock(1, true, { decay: 0 });
    b.updateStatistics({ batchSize: 1, positions: 1, xhat: new Float64Array([2]), g: new Float64Array([3]) });
    expect(Array.from(b.state.F)).toEqual([36, 18, 18, 9]);
    expect(b.refreshBasis()).toEqual({ succeeded: 0, failed: 0 });
    b.updateScaling({ batchSize: 1, positions: 1, xhat: new Float64Array([5]), g: new Float64Array([5]) });
    b.updateScalingFromGradient(new Float64Array([1, 1]), 4);
    expect(Array.from(b.state.F)).toEqual([36, 18, 18, 9]);
  });

  it("guards name the function, the argument and the value", () => {
    expect(() => new ScaleShiftBlock(0, true)).toThrow(
      new RangeError("ScaleShiftBlock: channels must be a positive integer (got 0)"),
    );
    expect(() => new ScaleShiftBlock(1.5, true)).toThrow(/channels must be a positive integer \(got 1.5\)/);
    expect(() => new ScaleShiftBlock(2, 1 as unknown as boolean)).toThrow(
      new TypeError("ScaleShiftBlock: hasShift must be a boolean"),
    );
    for (const decay of [1, -0.5, Number.NaN]) {
      expect(() => new ScaleShiftBlock(2, true, { decay })).toThrow(
        new RangeError(`ScaleShiftBlock: options.decay must be in [0, 1) (got ${String(decay)})`),
      );
    }
    expect(() => new ScaleShiftBlock(2, true, { decay: "0.5" as unknown as number })).toThrow(
      new TypeError("ScaleShiftBlock: options.decay must be a number (got string)"),
    );
    expect(new ScaleShiftBlock(2, true).decay).toBe(0.95);
    expect(new ScaleShiftBlock(2, true, { decay: 0 }).decay).toBe(0);
    const b = new ScaleShiftBlock(2, true);
    const fn = "ScaleShiftBlock.updateStatistics";
    const ok = { batchSize: 2, positions: 3, xhat: new Float64Array(12), g: new Float32Array(12) };
    expect(b.checkStatistics("f", ok)).toBe(6);
    expect(() => b.updateStatistics(null as never)).toThrow(new TypeError(`${fn}: statistics must be an object`));
    expect(() => b.updateStatistics({ ...ok, batchSize: 0 })).toThrow(
      new RangeError(`${fn}: statistics.batchSize must be a positive integer (got 0)`),
    );
    expect(() => b.updateStatistics({ ...ok, positions: 2.5 })).toThrow(
      new RangeError(`${fn}: statistics.positions must be a positive integer (got 2.5)`),
    );
    expect(() => b.updateStatistics({ ...ok, xhat: [0] as never })).toThrow(
      new TypeError(`${fn}: statistics.xhat must be a Float32Array or Float64Array`),
    );
    expect(() => b.updateStatistics({ ...ok, g: new Float64Array(11) })).toThrow(
      new RangeError(`${fn}: statistics.g has length 11, expected E·T·C = 2·3·2 = 12`),
    );
    expect(() => b.updateStatistics({ ...ok, xhat: new Float64Array(13) })).toThrow(/statistics.xhat has length 13/);
    expect(b.state.updates).toBe(0);
    expect(() => b.precondition(new Float64Array(3), new Float64Array(4), 1)).toThrow(
      new RangeError("ScaleShiftBlock.precondition: grad and out must have 4 elements (got 3, 4)"),
    );
    expect(() => b.precondition(new Float64Array(4), new Float64Array(5), 1)).toThrow(/\(got 4, 5\)/);
    expect(() => b.precondition(new Float64Array(4), new Float64Array(4), -1)).toThrow(/damping/);
  });

  it("state: bindState adopts a valid record without copying and refuses an invalid one", () => {
    const b = new ScaleShiftBlock(1, true);
    b.bindState("f", b.state);
    const other = { F: new Float64Array([1, 0, 0, 1]), updates: 1 };
    b.bindState("f", other);
    expect(b.state).toBe(other);
    expect(Array.from(b.precondition(new Float64Array([2, 4]), new Float64Array(2), 1))).toEqual([1, 2]);
    expect(() => b.bindState("f", { F: new Float64Array(3), updates: 0 })).toThrow(/f: state.F/);
    expect(() => b.checkState("g", { F: new Float64Array(4), updates: 0.5 })).toThrow(/g: state.updates/);
    expect(b.initState()).toEqual({ F: new Float64Array(4), updates: 0 });
  });
});
