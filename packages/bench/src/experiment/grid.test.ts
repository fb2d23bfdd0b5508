import { describe, expect, it } from "vitest";
import { searchGrid, searchProfiles } from "./grid.ts";

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

describe("searchProfiles", () => {
  // Two basins: a small ε that only trains with η far below the grid (best 0.04 at η = 1/900), and a
  // large ε that is best inside it (0.13 at η = 0.1, ε = 0.1); small ε diverge (+∞) for η > 0.002.
  const surface = (p: { eps: number; eta: number }) => {
    if (p.eps < 5e-3) {
      return p.eta > 0.002
        ? Number.POSITIVE_INFINITY
        : 0.04 + Math.log(p.eta * 900) ** 2 + Math.log10(p.eps / 1e-3) ** 2;
    }
    return 0.13 + Math.log(p.eta / 0.1) ** 2 + Math.log10(p.eps / 0.1) ** 2;
  };
  it("finds a basin that a joint sweep of the same grid misses", () => {
    const joint = searchGrid({ eps: [1e-3, 1e-2, 1e-1], eta: [0.03, 0.1, 0.3] }, { eps: 10, eta: 3 }, 5, surface);
    expect(joint.best).toEqual({ eps: 0.1, eta: 0.1 });
    const r = searchProfiles(
      { name: "eps", values: [1e-3, 1e-2, 1e-1], factor: 10 },
      { name: "eta", values: [0.03, 0.1, 0.3], factor: 3 },
      5,
      surface,
    );
    // ε = 1e-3: every η of the start diverges, so its profile extends downwards (ties keep the
    // smallest) until η = 0.03 / 27 = 1/900 is inside.
    expect(r.best.eps).toBe(1e-3);
    expect(r.best.eta).toBeCloseTo(1 / 900, 12);
    expect(r.loss).toBeCloseTo(0.04, 12);
    // ε = 1e-3 was the outer axis's lower edge: extended once to 1e-4, worse, so 1e-3 is inside now.
    expect(r.edge).toEqual([]);
    // Every point listed once with its outer value; ε = 1e-4 is tried (the extension).
    expect(new Set(r.tried.map((t) => `${t.point.eps}|${t.point.eta}`)).size).toBe(r.tried.length);
    expect(r.tried.some((t) => t.point.eps === 1e-4)).toBe(true);
  });
  it("stops extending the outer axis once the best profile is inside it, and reads known points back", () => {
    const trained: string[] = [];
    const f = (p: { eps: number; eta: number }) => {
      trained.push(`${p.eps}|${p.eta}`);
      return Math.log10(p.eps / 0.01) ** 2 + Math.log(p.eta / 0.1) ** 2;
    };
    const outer = { name: "eps" as const, values: [1e-3, 1e-2, 1e-1], factor: 10 };
    const known = [{ point: { eps: 0.01, eta: 0.1 }, loss: 0 }];
    const r = searchProfiles(outer, { name: "eta", values: [0.03, 0.1, 0.3], factor: 3 }, 5, f, known);
    expect(r.best).toEqual({ eps: 0.01, eta: 0.1 });
    expect(outer.values).toEqual([1e-3, 1e-2, 1e-1]);
    expect(r.edge).toEqual([]);
    expect(trained).not.toContain("0.01|0.1");
    expect(trained.length).toBe(8);
  });
});
