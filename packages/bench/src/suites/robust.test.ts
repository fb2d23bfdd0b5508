import { describe, expect, it } from "vitest";
import { gridLoss, methodsFrom, seedsFrom } from "./robust.ts";

describe("robust suite knobs", () => {
  it("ROBUST_SEEDS: a count S is seeds 1…S, a range a-b is seeds a…b, unset is 1…fallback", () => {
    expect(seedsFrom(undefined, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(seedsFrom("", 2)).toEqual([1, 2]);
    expect(seedsFrom("3", 5)).toEqual([1, 2, 3]);
    expect(seedsFrom("6-10", 5)).toEqual([6, 7, 8, 9, 10]);
    expect(seedsFrom("4-4", 5)).toEqual([4]);
  });

  it("ROBUST_SEEDS: anything else is a RangeError naming the variable", () => {
    for (const bad of ["0", "5-3", "0-2", "a", "1,2", "-3", "2-"]) {
      expect(() => seedsFrom(bad, 5)).toThrow(/ROBUST_SEEDS.*"a-b"/);
    }
  });

  it("ROBUST_METHODS: a comma list of kfac and ekfac, both when unset", () => {
    expect(methodsFrom(undefined)).toEqual(["kfac", "ekfac"]);
    expect(methodsFrom("ekfac")).toEqual(["ekfac"]);
    expect(methodsFrom("ekfac, kfac,ekfac")).toEqual(["ekfac", "kfac"]);
    expect(() => methodsFrom("adam")).toThrow(RangeError);
  });

  it("a grid point that ended at or above its initial loss, or not finite, ranks as +∞", () => {
    expect(gridLoss({ initialLoss: 2.3, finalLoss: 0.05 })).toBe(0.05);
    for (const finalLoss of [2.3, 12.07, 6.7e25, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(gridLoss({ initialLoss: 2.3, finalLoss })).toBe(Number.POSITIVE_INFINITY);
    }
    // A run that threw has no initial loss (NaN): diverged too.
    expect(gridLoss({ initialLoss: Number.NaN, finalLoss: Number.POSITIVE_INFINITY })).toBe(Number.POSITIVE_INFINITY);
  });
});
