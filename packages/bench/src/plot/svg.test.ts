import { describe, expect, it } from "vitest";
import { linearTicks, linePlot, logTicks } from "./svg.ts";

describe("axis ticks", () => {
  it("log ticks over several decades are the decades inside the range", () => {
    expect(logTicks(0.5, 2000)).toEqual([1, 10, 100, 1000]);
  });
  it("log ticks within one decade fall back to 1, 2, 5 or every mantissa, all inside the range", () => {
    const t = logTicks(55, 230);
    expect(t.length).toBeGreaterThanOrEqual(3);
    for (const v of t) expect(v >= 55 && v <= 230).toBe(true);
    expect(t).toEqual([60, 70, 80, 90, 100, 200]);
  });
  it("linear ticks are evenly spaced multiples of 1, 2 or 5 × 10^k covering the range", () => {
    const t = linearTicks(0, 7.3);
    expect(t[0]).toBe(0);
    const step = (t[1] as number) - (t[0] as number);
    expect([1, 2, 5]).toContain(step);
    expect(t[t.length - 1] as number).toBeLessThanOrEqual(7.3);
  });
});

describe("linePlot", () => {
  it("draws one polyline per series and skips y ≤ 0 and non-finite points on a log axis", () => {
    const svg = linePlot({
      title: "t <&>",
      xLabel: "x",
      yLabel: "y",
      logY: true,
      series: [
        {
          name: "a",
          points: [
            [0, 100],
            [1, 10],
            [2, 0],
            [3, Number.NaN],
          ],
        },
        {
          name: "b",
          points: [
            [0, 50],
            [1, 5],
          ],
        },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)?.length).toBe(2);
    // Series a keeps its two valid points only.
    const first = /<polyline points="([^"]*)"/.exec(svg)?.[1] ?? "";
    expect(first.split(" ").length).toBe(2);
    expect(svg).toContain("t &lt;&amp;&gt;");
    expect(svg).not.toContain("NaN");
  });
});
