import { describe, expect, it } from "vitest";
import { searchGrid } from "./grid.ts";

describe("searchGrid", () => {
  it("extends an axis whose best value is on its edge until the best is inside", () => {
    // Loss minimal at η = 2.7 (log-quadratic): the grid {0.1, 0.3, 1} must grow upwards to 3 and 9.
    const axes = { eta: [0.1, 0.3, 1], eps: [1e-3, 1e-2, 1e-1] };
    const r = searchGrid(
      axes,
      { eta: 3, eps: 10 },
      2,
      (p) => Math.log(p.eta / 2.7) ** 2 + Math.log10(p.eps / 1e-2) ** 2,
    );
    expect(r.best).toEqual({ eta: 3, eps: 1e-2 });
    expect(axes.eta).toEqual([0.1, 0.3, 1, 3, 9]);
    expect(axes.eps).toEqual([1e-3, 1e-2, 1e-1]);
    expect(r.edge).toEqual([]);
    // Every point trained once (memoised): 3 × 5.
    expect(r.tried.length).toBe(15);
  });
  it("stops after `extensions` and reports the axis still on its edge", () => {
    const axes = { eta: [1, 2, 4] };
    const r = searchGrid(axes, { eta: 2 }, 1, (p) => -p.eta);
    expect(axes.eta).toEqual([1, 2, 4, 8]);
    expect(r.best.eta).toBe(8);
    expect(r.edge).toEqual(["eta"]);
  });
  it("extends downwards too, and counts a diverged (non-finite) point as +∞", () => {
    const axes = { eta: [1, 3, 9] };
    const r = searchGrid(axes, { eta: 3 }, 2, (p) => (p.eta > 5 ? Number.NaN : p.eta));
    expect(axes.eta[0]).toBeCloseTo(1 / 9, 12);
    expect(r.tried.find((t) => t.point.eta === 9)?.loss).toBe(Number.POSITIVE_INFINITY);
    expect(r.edge).toEqual(["eta"]);
  });
  it("sorts an axis given in descending order, so its edges are its smallest and largest values", () => {
    // Best at the smallest value, listed last: extension goes below it (0.03 / 3 = 0.01), not above.
    const axes = { gap: [0.3, 0.1, 0.03] };
    const r = searchGrid(axes, { gap: 3 }, 1, (p) => p.gap);
    expect(axes.gap).toEqual([0.01, 0.03, 0.1, 0.3]);
    expect(r.best.gap).toBe(0.01);
  });
  it("rounds an extension to 12 digits (0.1 × 3 is 0.3)", () => {
    const axes = { eta: [0.01, 0.03, 0.1] };
    searchGrid(axes, { eta: 3 }, 1, (p) => -p.eta);
    expect(axes.eta).toEqual([0.01, 0.03, 0.1, 0.3]);
  });
  it("reads known points back instead of training them (matched to 12 digits) and lists them with the rest", () => {
    const axes = { eta: [0.01, 0.03, 0.1] };
    const trained: number[] = [];
    // 0.01/3 as JSON holds it, and a diverged point stored as null (JSON's +∞).
    const known = [
      { point: { eta: 0.01 / 3 }, loss: 0 },
      { point: { eta: 0.03 }, loss: null as unknown as number },
    ];
    const r = searchGrid(
      axes,
      { eta: 3 },
      2,
      (p) => {
        trained.push(p.eta);
        return 10 * p.eta;
      },
      known,
    );
    expect(trained).toEqual([0.01, 0.1, 0.00111111111111]); // 0.00333… and 0.03 were known
    expect(r.best.eta).toBe(0.00333333333333);
    expect(r.loss).toBe(0);
    expect(r.tried.find((t) => t.point.eta === 0.03)?.loss).toBe(Number.POSITIVE_INFINITY);
    expect(r.tried.length).toBe(5);
    expect(r.edge).toEqual([]);
  });
  it("never extends a categorical axis (factor 1)", () => {
    const axes = { clip: [0, 1] };
    const r = searchGrid(axes, { clip: 1 }, 2, (p) => p.clip);
    expect(axes.clip).toEqual([0, 1]);
    expect(r.edge).toEqual([]);
  });
});
