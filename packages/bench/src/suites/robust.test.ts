import { describe, expect, it } from "vitest";
import { methodsFrom, seedsFrom } from "./robust.ts";

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
});
