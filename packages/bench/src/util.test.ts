import { afterEach, describe, expect, it, vi } from "vitest";
import { timeInterleaved } from "./util.ts";

describe("timeInterleaved (a clock stubbed so that the arithmetic, not the host, is tested)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("calls every function once per round, in order, and pairs the ratios per round", () => {
    // Durations per round: the host slows 4× in round 2, for both functions alike.
    const durations = [
      [10, 30],
      [40, 120],
      [10, 30],
    ];
    let clock = 0;
    let round = 0;
    vi.spyOn(performance, "now").mockImplementation(() => clock);
    const calls: string[] = [];
    const fn = (name: string, i: number) => () => {
      calls.push(name);
      clock += durations[round]?.[i] ?? 1e9; // past the last planned round, the budget is spent
      if (i === 1) round++;
    };
    const [a, b] = timeInterleaved([fn("a", 0), fn("b", 1)], { timeMs: 50, minRuns: 3, maxRuns: 10, warmup: 0 });
    expect(calls).toEqual(["a", "b", "a", "b", "a", "b"]);
    expect(a?.runs).toBe(3);
    expect(a?.medianMs).toBe(10);
    expect(b?.medianMs).toBe(30);
    expect(b?.minMs).toBe(30);
    // 30/10, 120/40, 30/10: every round says 3, whatever the host did in round 2.
    expect(b?.medianRatioToFirst).toBe(3);
    expect(a?.medianRatioToFirst).toBe(1);
  });

  it("warm-up calls run every function but are not timed; at least minRuns rounds", () => {
    let clock = 0;
    vi.spyOn(performance, "now").mockImplementation(() => clock);
    let n = 0;
    const f = () => {
      n++;
      clock += 1000;
    };
    const [t] = timeInterleaved([f], { timeMs: 1, minRuns: 4, maxRuns: 10, warmup: 2 });
    expect(n).toBe(6);
    expect(t?.runs).toBe(4);
    expect(t?.medianMs).toBe(1000);
  });
});
