import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import { DiagonalFisher } from "./diagonal.ts";
import { exactFisher } from "./exact-fisher.ts";

const diagOf = (f: Float64Array, p: number) => Array.from({ length: p }, (_, i) => f[i * p + i] as number);

describe("DiagonalFisher: D = diag(F), Δ = ∇ ⊘ (D + ε)", () => {
  it("D = diag(F) of the exact Fisher, for a dense layer and a grouped conv with T > 1", () => {
    for (const c of [randomCase(1, "dense", 3, 4, true, 5), randomCase(2, "conv2d", 4, 2, true, 3, 3, 2)]) {
      const b = new DiagonalFisher(c.shape, { decay: 0 });
      b.update(c.stats);
      const p = b.size;
      const want = diagOf(exactFisher(c.shape, c.stats), p);
      for (let i = 0; i < p; i++) expect(b.D[i]).toBeCloseTo(want[i] as number, 13);
      expect(b.updates).toBe(1);
    }
  });

  it("float32 statistics give the same D as their float64 copies (converted, not misread)", () => {
    const c = randomCase(3, "conv2d", 2, 3, false, 2, 2, 1);
    const b64 = new DiagonalFisher(c.shape, { decay: 0 });
    b64.update({
      ...c.stats,
      a: Float64Array.from(Float32Array.from(c.stats.a)),
      g: Float64Array.from(Float32Array.from(c.stats.g)),
    });
    const b32 = new DiagonalFisher(c.shape, { decay: 0 });
    b32.updateStatistics({ ...c.stats, a: Float32Array.from(c.stats.a), g: Float32Array.from(c.stats.g) });
    for (let i = 0; i < b32.size; i++) expect(b32.D[i]).toBeCloseTo(b64.D[i] as number, 13);
  });

  it("the first update takes the batch; later ones are ρ D + (1 − ρ) D_batch", () => {
    const c1 = randomCase(4, "dense", 2, 3, true, 4);
    const c2 = randomCase(5, "dense", 2, 3, true, 4);
    const b = new DiagonalFisher(c1.shape, { decay: 0.7 });
    expect(b.decay).toBe(0.7);
    b.update(c1.stats);
    b.update(c2.stats);
    expect(b.updates).toBe(2);
    const p = b.size;
    const d1 = diagOf(exactFisher(c1.shape, c1.stats), p);
    const d2 = diagOf(exactFisher(c2.shape, c2.stats), p);
    for (let i = 0; i < p; i++) expect(b.D[i]).toBeCloseTo(0.7 * (d1[i] as number) + 0.3 * (d2[i] as number), 13);
  });

  it("precondition: out = ∇ ⊘ (D + ε), out may alias grad; F̂ = diag(D); no basis, no scaling", () => {
    const c = randomCase(6, "dense", 2, 1, false, 3);
    const b = new DiagonalFisher(c.shape, { decay: 0 });
    expect(b.kind).toBe("Diagonal");
    b.updateStatistics(c.stats);
    const d = Array.from(b.D);
    const g = new Float64Array([1, -2]);
    expect(Array.from(b.precondition(g, new Float64Array(2), 0.5))).toEqual([
      1 / ((d[0] as number) + 0.5),
      -2 / ((d[1] as number) + 0.5),
    ]);
    expect(b.precondition(g, g, 0.5)).toBe(g);
    expect(Array.from(b.denseApproximation())).toEqual([d[0], 0, 0, d[1]]);
    expect(b.refreshBasis()).toEqual({ succeeded: 0, failed: 0 });
    b.updateScaling(c.stats);
    b.updateScalingFromGradient(new Float64Array(2), 3);
    expect(Array.from(b.D)).toEqual(d);
    expect(b.updates).toBe(1);
  });

  it("guards name the function, the argument and the value", () => {
    const c = randomCase(7, "dense", 2, 2, true, 3);
    expect(new DiagonalFisher(c.shape).decay).toBe(0.95);
    for (const decay of [1, -0.1, Number.NaN]) {
      expect(() => new DiagonalFisher(c.shape, { decay })).toThrow(
        new RangeError(`DiagonalFisher: options.decay must be in [0, 1) (got ${String(decay)})`),
      );
    }
    expect(() => new DiagonalFisher(c.shape, { decay: "0.1" as unknown as number })).toThrow(
      new TypeError("DiagonalFisher: options.decay must be a number (got string)"),
    );
    expect(() => new DiagonalFisher({ ...c.shape, inDim: 0 })).toThrow(/DiagonalFisher: shape.inDim/);
    const b = new DiagonalFisher(c.shape);
    expect(() => b.precondition(new Float64Array(5), new Float64Array(6), 1)).toThrow(
      new RangeError("DiagonalFisher.precondition: grad and out must have outDim·aDim = 6 elements (got 5, 6)"),
    );
    expect(() => b.precondition(new Float64Array(6), new Float64Array(7), 1)).toThrow(/\(got 6, 7\)/);
    expect(() => b.precondition(new Float64Array(6), new Float64Array(6), 0)).toThrow(
      /DiagonalFisher.precondition: damping/,
    );
    expect(() => b.update({ ...c.stats, g: c.stats.g.subarray(1) })).toThrow(/DiagonalFisher.update: statistics.g/);
    expect(() => b.checkStatistics("f", { ...c.stats, a: c.stats.a.subarray(1) })).toThrow(/f: statistics.a/);
    expect(b.updates).toBe(0);
  });

  it("the shape is a copy; state is adopted without a copy and checked", () => {
    const c = randomCase(8, "dense", 1, 1, false, 2);
    const shape = { ...c.shape };
    const b = new DiagonalFisher(shape);
    (shape as { outDim: number }).outDim = 9;
    expect(b.shape).toEqual(c.shape);
    b.bindState("f", b.state);
    const other = { D: new Float64Array([3]), updates: 2 };
    b.bindState("f", other);
    expect(b.state).toBe(other);
    expect(b.D).toBe(other.D);
    expect(b.updates).toBe(2);
    expect(() => b.bindState("f", { D: new Float64Array(2), updates: 0 })).toThrow(/f: state.D/);
    expect(() => b.checkState("g", { D: new Float64Array(1), updates: -2 })).toThrow(/g: state.updates/);
    expect(b.initState()).toEqual({ D: new Float64Array(1), updates: 0 });
  });
});
