import { describe, expect, it } from "vitest";
import { ParameterDiagonalFisher } from "./parameter-diagonal.ts";

describe("ParameterDiagonalFisher: D ← ρ D + (1 − ρ)·N·ḡ², Δ = ∇ ⊘ (D + ε)", () => {
  it("the first update takes the batch, D = N·ḡ²; later ones average with ρ", () => {
    const b = new ParameterDiagonalFisher(3, { decay: 0.9 });
    expect(b.kind).toBe("ParameterDiagonal");
    expect(b.size).toBe(3);
    expect(b.decay).toBe(0.9);
    expect(Array.from(b.state.D)).toEqual([0, 0, 0]);
    expect(b.state.updates).toBe(0);
    b.updateStatistics({ grad: new Float64Array([1, -2, 0.5]), batchSize: 4 });
    expect(Array.from(b.state.D)).toEqual([4, 16, 1]);
    expect(b.state.updates).toBe(1);
    b.updateStatistics({ grad: new Float64Array([3, 0, -1]), batchSize: 2 });
    // 0.9·D + 0.1·2·ḡ²
    const want = [0.9 * 4 + 0.2 * 9, 0.9 * 16, 0.9 * 1 + 0.2 * 1];
    for (let i = 0; i < 3; i++) expect(b.state.D[i]).toBeCloseTo(want[i] as number, 14);
    expect(b.state.updates).toBe(2);
  });

  it("the default decay is 0.95 and decay 0 keeps only the last batch", () => {
    expect(new ParameterDiagonalFisher(1).decay).toBe(0.95);
    const b = new ParameterDiagonalFisher(2, { decay: 0 });
    b.updateStatistics({ grad: new Float64Array([1, 1]), batchSize: 3 });
    b.updateStatistics({ grad: new Float64Array([2, 0]), batchSize: 5 });
    expect(Array.from(b.state.D)).toEqual([20, 0]);
  });

  it("precondition: out_i = ∇_i / (D_i + ε), and out may alias grad", () => {
    const b = new ParameterDiagonalFisher(2, { decay: 0 });
    b.updateStatistics({ grad: new Float64Array([1, 2]), batchSize: 1 }); // D = [1, 4]
    const g = new Float64Array([3, 5]);
    const out = new Float64Array(2);
    expect(b.precondition(g, out, 0.5)).toBe(out);
    expect(Array.from(out)).toEqual([3 / 1.5, 5 / 4.5]);
    expect(b.precondition(g, g, 1)).toBe(g);
    expect(Array.from(g)).toEqual([3 / 2, 5 / 5]);
  });

  it("F̂ is diag(D) as a dense size × size matrix; there is no basis and no scaling", () => {
    const b = new ParameterDiagonalFisher(2, { decay: 0 });
    b.updateStatistics({ grad: new Float64Array([2, 3]), batchSize: 1 });
    expect(Array.from(b.denseApproximation())).toEqual([4, 0, 0, 9]);
    expect(b.refreshBasis()).toEqual({ succeeded: 0, failed: 0 });
    b.updateScaling({ grad: new Float64Array([7, 7]), batchSize: 9 });
    b.updateScalingFromGradient(new Float64Array([7, 7]), 9);
    expect(Array.from(b.state.D)).toEqual([4, 9]);
    expect(b.state.updates).toBe(1);
  });

  it("constructor guards name the argument and the value", () => {
    for (const size of [0, -1, 1.5, Number.NaN, "3" as unknown as number]) {
      expect(() => new ParameterDiagonalFisher(size)).toThrow(
        new RangeError(`ParameterDiagonalFisher: size must be a positive integer (got ${size})`),
      );
    }
    for (const decay of [1, -0.1, Number.NaN]) {
      expect(() => new ParameterDiagonalFisher(2, { decay })).toThrow(
        new RangeError(`ParameterDiagonalFisher: options.decay must be in [0, 1) (got ${String(decay)})`),
      );
    }
    expect(() => new ParameterDiagonalFisher(2, { decay: "0.5" as unknown as number })).toThrow(
      new TypeError("ParameterDiagonalFisher: options.decay must be a number (got string)"),
    );
    expect(new ParameterDiagonalFisher(1, { decay: 0 }).decay).toBe(0);
  });

  it("precondition guards: lengths of grad and out, and a damping that is not finite and > 0", () => {
    const b = new ParameterDiagonalFisher(2);
    expect(() => b.precondition(new Float64Array(3), new Float64Array(2), 1)).toThrow(
      "ParameterDiagonalFisher.precondition: grad and out must have 2 elements (got 3, 2)",
    );
    expect(() => b.precondition(new Float64Array(2), new Float64Array(1), 1)).toThrow(
      "ParameterDiagonalFisher.precondition: grad and out must have 2 elements (got 2, 1)",
    );
    expect(() => b.precondition(new Float64Array(2), new Float64Array(2), 0)).toThrow(
      /ParameterDiagonalFisher.precondition: damping must be a finite number > 0 \(got 0\)/,
    );
  });

  it("state: bindState adopts a valid record (no copy), refuses an invalid one, and accepts its own", () => {
    const b = new ParameterDiagonalFisher(2);
    const own = b.state;
    b.bindState("f", own);
    expect(b.state).toBe(own);
    const other = { D: new Float64Array([1, 2]), updates: 3 };
    b.bindState("f", other);
    expect(b.state).toBe(other);
    expect(Array.from(b.precondition(new Float64Array([1, 1]), new Float64Array(2), 1))).toEqual([0.5, 1 / 3]);
    expect(() => b.bindState("f", { D: new Float64Array(3), updates: 0 })).toThrow(/f: state.D/);
    expect(() => b.bindState("f", { D: new Float64Array(2), updates: -1 })).toThrow(/f: state.updates/);
    expect(() => b.checkState("g", { D: new Float64Array(2) })).toThrow(/g: state has keys/);
    expect(b.state).toBe(other);
    const fresh = b.initState();
    expect(fresh).not.toBe(b.state);
    expect(fresh).toEqual({ D: new Float64Array(2), updates: 0 });
  });
});
