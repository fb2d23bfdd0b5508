import { describe, expect, it } from "vitest";
import { bracketFinalists, searchGrid, searchProfiles } from "./grid.ts";

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

describe("bracketFinalists", () => {
  type P = Record<"eps" | "eta" | "kl", number | null>;
  const axes = [
    { name: "eta" as const, factor: 3, along: ["eps", "kl"] as const },
    { name: "eps" as const, factor: 10, along: ["kl"] as const },
  ];
  const bowl = (p: P) => Math.log((p.eta as number) / 0.1) ** 2 + Math.log10((p.eps as number) / 0.01) ** 2;
  const grid = (f: (p: P) => number, kl: number | null = null) => {
    const tried: { point: P; loss: number }[] = [];
    for (const eps of [1e-3, 1e-2, 1e-1]) {
      for (const eta of [0.03, 0.1, 0.3]) tried.push({ point: { eps, eta, kl }, loss: f({ eps, eta, kl }) });
    }
    return tried;
  };
  const bracketed = (tried: { point: P; loss: number }[], p: P) =>
    axes.every((a) => {
      const line = tried.filter((t) => a.along.every((k) => t.point[k] === p[k]));
      const v = p[a.name] as number;
      return line.some((t) => (t.point[a.name] as number) < v) && line.some((t) => (t.point[a.name] as number) > v);
    });

  it("evaluates beyond a finalist on an edge until every finalist is bracketed on every axis", () => {
    // Best at the centre (interior); with 4 finalists the four next-best are edge midpoints.
    const tried = grid(bowl);
    const evaluated: P[] = [];
    const { added } = bracketFinalists(tried, axes, 4, 100, (p) => {
      evaluated.push(p);
      return bowl(p);
    });
    expect(added).toBe(evaluated.length);
    expect(added).toBeGreaterThan(0);
    const finalists = [...tried].sort((x, y) => x.loss - y.loss).slice(0, 4);
    for (const f of finalists) expect(bracketed(tried, f.point)).toBe(true);
    // The new points lie one factor beyond the old edges: η ∈ {0.01, 0.9} or ε ∈ {1e-4, 1}.
    for (const p of evaluated) {
      const etaNew = p.eta === 0.01 || p.eta === 0.9;
      const epsNew = p.eps === 1e-4 || p.eps === 1;
      expect(etaNew || epsNew).toBe(true);
    }
  });

  it("follows a finalist off the grid: a minimum beyond the edge is reached step by step", () => {
    // The minimum at η = 0.03/27 lies three factors below the grid; the best point walks down to it.
    const f = (p: P) => Math.log((p.eta as number) / (0.03 / 27)) ** 2 + Math.log10((p.eps as number) / 0.01) ** 2;
    const tried = grid(f);
    bracketFinalists(tried, axes, 1, 100, f);
    const best = [...tried].sort((x, y) => x.loss - y.loss)[0] as { point: P; loss: number };
    expect(best.point.eta).toBeCloseTo(0.03 / 27, 12);
    expect(best.point.eps).toBe(0.01);
    expect(bracketed(tried, best.point)).toBe(true);
  });

  it("leaves a search whose finalists are bracketed unchanged, and stops at maxNew", () => {
    const inside = grid(bowl);
    expect(bracketFinalists(inside, axes, 1, 100, bowl).added).toBe(0);
    expect(inside).toHaveLength(9);
    const capped = grid(bowl);
    expect(bracketFinalists(capped, axes, 9, 2, bowl).added).toBe(2);
    expect(capped).toHaveLength(11);
  });

  it("returns every point that was a finalist at some round, best first, even once pushed out", () => {
    // 1-D, one finalist: 0.03 starts best (an edge), 0.01 beyond it is better still, 1/300 is worse.
    const f = (p: P) => Math.abs(Math.log((p.eta as number) / 0.01));
    const tried: { point: P; loss: number }[] = [0.03, 0.1, 0.3].map((eta) => ({
      point: { eps: 0.01, eta, kl: null },
      loss: f({ eps: 0.01, eta, kl: null }),
    }));
    const r = bracketFinalists(tried, [{ name: "eta", factor: 3, along: ["eps", "kl"] }], 1, 100, f);
    expect(r.finalists.map((t) => t.point.eta)).toEqual([0.01, 0.03]);
    expect(r.finalists.every((t) => tried.includes(t))).toBe(true);
    // With no evaluation allowed the finalists are the first ranking's.
    const fresh = tried.slice(0, 3);
    expect(
      bracketFinalists(fresh, [{ name: "eta", factor: 3, along: ["eps", "kl"] }], 2, 0, f).finalists.map(
        (t) => t.point.eta,
      ),
    ).toEqual([0.03, 0.1]);
  });

  it("counts a diverged neighbour (+∞) as bracketing, and matches null coordinates only to null", () => {
    // Everything above η = 0.3 diverges: the finalist at the upper edge is bracketed by a +∞ point.
    const f = (p: P) => ((p.eta as number) > 0.31 ? Number.NaN : 0.3 - (p.eta as number));
    const tried = grid(f, null);
    // A κ = 1e-3 copy of the grid must not bracket the κ-off points.
    for (const t of grid(f, null)) tried.push({ point: { ...t.point, kl: 1e-3 }, loss: t.loss + 10 });
    bracketFinalists(tried, axes, 1, 100, f);
    const above = tried.filter((t) => t.point.kl === null && t.point.eta === 0.9);
    expect(above.length).toBeGreaterThan(0);
    for (const t of above) expect(t.loss).toBe(Number.POSITIVE_INFINITY);
    const best = [...tried].sort((x, y) => x.loss - y.loss)[0] as { point: P; loss: number };
    expect(best.point.kl).toBeNull();
    expect(best.point.eta).toBe(0.3);
    expect(bracketed(tried, best.point)).toBe(true);
  });
});
