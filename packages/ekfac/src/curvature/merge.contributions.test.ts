import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import {
  contributionMeans,
  layerContribution,
  mergeBatches,
  mergeContributions,
  scaleShiftContribution,
} from "./merge.ts";
import { ScaleShiftBlock } from "./scale-shift.ts";

describe("merge: the parts the all-reduce law does not reach", () => {
  it("scale-shift: merged contributions of two batches give the union's F_c (examples counted)", () => {
    const x1 = new Float64Array([0.5, -1, 2, 0.25, 1, -0.5]); // E = 3, T = 1, C = 2
    const g1 = new Float64Array([1, 2, -1, 0.5, 3, 1]);
    const x2 = new Float64Array([1, 1, -2, 0.5]); // E = 2
    const g2 = new Float64Array([0.5, -1, 2, 2]);
    const c1 = scaleShiftContribution(2, true, { batchSize: 3, positions: 1, xhat: x1, g: g1 });
    const c2 = scaleShiftContribution(2, true, { batchSize: 2, positions: 1, xhat: x2, g: g2 });
    expect(c1.examples).toBe(3);
    const merged = mergeContributions(c1, c2);
    expect(merged.examples).toBe(5);
    const union = new ScaleShiftBlock(2, true, { decay: 0 });
    union.updateStatistics({
      batchSize: 5,
      positions: 1,
      xhat: Float64Array.from([...x1, ...x2]),
      g: Float64Array.from([...g1, ...g2]),
    });
    const f = contributionMeans(merged).F as Float64Array;
    expect(f.length).toBe(8);
    for (let i = 0; i < 8; i++) expect(f[i]).toBeCloseTo(union.state.F[i] as number, 14);
    // Without a shift: 1×1 per channel.
    expect(scaleShiftContribution(2, false, { batchSize: 3, positions: 1, xhat: x1, g: g1 }).sums.F?.length).toBe(2);
  });

  it("sums are the means times the count: Σ = E·mean, and contributionMeans divides by E", () => {
    const c = randomCase(3, "dense", 2, 2, false, 4);
    const k = layerContribution(c.shape, c.stats);
    const again = contributionMeans({ examples: 2, sums: { X: new Float64Array([4, -6]) } });
    expect(Array.from(again.X as Float64Array)).toEqual([2, -3]);
    // One example is the smallest valid count: its mean is the sum itself.
    const one = contributionMeans({ examples: 1, sums: { X: new Float64Array([4, -6]) } });
    expect(Array.from(one.X as Float64Array)).toEqual([4, -6]);
    const m = contributionMeans(k);
    for (let i = 0; i < (m.A as Float64Array).length; i++)
      expect(((k.sums.A as Float64Array)[i] as number) / 4).toBeCloseTo((m.A as Float64Array)[i] as number, 15);
    for (const examples of [0, 1.5, Number.NaN]) {
      expect(() => contributionMeans({ examples, sums: {} })).toThrow(
        new RangeError(`contributionMeans: examples must be a positive integer (got ${examples})`),
      );
    }
  });

  it("mergeContributions refuses different keys even when the counts of keys agree", () => {
    const a = { examples: 1, sums: { A: new Float64Array(1), G: new Float64Array(1) } };
    const b = { examples: 1, sums: { A: new Float64Array(1), S: new Float64Array(1) } };
    expect(() => mergeContributions(a, b)).toThrow(
      new RangeError("mergeContributions: the contributions hold {A, G} and {A, S}"),
    );
    expect(
      mergeContributions(a, { examples: 2, sums: { G: new Float64Array([1]), A: new Float64Array([2]) } }),
    ).toEqual({
      examples: 3,
      sums: { A: new Float64Array([2]), G: new Float64Array([1]) },
    });
  });

  it("layerContribution refuses a basis of the wrong size, naming both lengths", () => {
    const c = randomCase(4, "dense", 2, 3, true, 3); // a = 4, g = 2
    expect(() => layerContribution(c.shape, c.stats, { uA: new Float64Array(16), uG: new Float64Array(3) })).toThrow(
      new RangeError("layerContribution: basis.uA and basis.uG must have 16 and 4 entries (got 16, 3)"),
    );
    expect(() => layerContribution(c.shape, c.stats, { uA: new Float64Array(15), uG: new Float64Array(4) })).toThrow(
      /\(got 15, 4\)/,
    );
    expect(() => layerContribution(c.shape, { ...c.stats, a: c.stats.a.subarray(1) })).toThrow(
      /layerContribution: statistics.a/,
    );
  });

  it("mergeBatches concatenates rows per group (a grouped conv with T = 2) and keeps T", () => {
    const x = randomCase(5, "conv2d", 4, 2, true, 2, 2, 2); // a = 3, g = 2, rows 4 per group
    const y = randomCase(6, "conv2d", 4, 2, true, 1, 2, 2); // rows 2 per group
    const u = mergeBatches(x.shape, x.stats, y.stats);
    expect([u.batchSize, u.positions]).toEqual([3, 2]);
    const expectRows = (got: ArrayLike<number>, p: ArrayLike<number>, q: ArrayLike<number>, w: number) => {
      const want: number[] = [];
      for (let k = 0; k < 2; k++) {
        for (let i = 0; i < 4 * w; i++) want.push(p[k * 4 * w + i] as number);
        for (let i = 0; i < 2 * w; i++) want.push(q[k * 2 * w + i] as number);
      }
      expect(Array.from(got)).toEqual(want);
    };
    expectRows(u.a, x.stats.a, y.stats.a, 3);
    expectRows(u.g, x.stats.g, y.stats.g, 2);
    const z = randomCase(7, "conv2d", 4, 2, true, 1, 3, 2);
    expect(() => mergeBatches(x.shape, x.stats, z.stats)).toThrow(
      new RangeError("mergeBatches: the batches have 2 and 3 positions per example"),
    );
    expect(() => mergeBatches(x.shape, x.stats, { ...y.stats, g: y.stats.g.subarray(1) })).toThrow(
      /mergeBatches: statistics.g/,
    );
  });
});
