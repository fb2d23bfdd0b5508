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

describe("linePlot polish", () => {
  const series = (name: string) => ({
    name,
    points: [
      [0, 10],
      [5, 2],
    ] as const,
  });
  it("draws a spread band as one filled polygon under the lines, its points in the same frame", () => {
    const svg = linePlot({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      logY: true,
      series: [
        {
          ...series("a"),
          band: [
            [0, 8, 12],
            [5, -1, 3], // lower edge below 0 on a log axis: drawn at the frame's bottom
          ],
        },
      ],
    });
    const polygon = /<polygon points="([^"]*)" fill="#0072B2" fill-opacity="0.18"/.exec(svg);
    expect(polygon).not.toBeNull();
    expect(polygon?.[1]?.split(" ").length).toBe(4);
    expect(svg.indexOf("<polygon")).toBeLessThan(svg.indexOf("<polyline"));
    expect(svg).not.toContain("NaN");
  });
  it("fixes the x-range to xMin…xMax, so a curve ending at the budget reaches the frame's right edge", () => {
    const svg = linePlot({ title: "t", xLabel: "x", yLabel: "y", series: [series("a")], xMin: 0, xMax: 5 });
    const right = /<rect x="72" y="40" width="(\d+)"/.exec(svg)?.[1];
    const last = (/<polyline points="([^"]*)"/.exec(svg)?.[1] ?? "").split(" ").pop()?.split(",")[0];
    expect(Number(last)).toBeCloseTo(72 + Number(right), 6);
  });
  it("labels the y-axis ticks with their values and marks them", () => {
    const svg = linePlot({ title: "t", xLabel: "x", yLabel: "y", series: [series("a")] });
    expect(svg).toMatch(/<line x1="68" x2="72"/);
    expect(svg).toMatch(/text-anchor="end" dominant-baseline="middle">10</);
  });
  it("makes room for every legend entry and for the longest label", () => {
    const many = Array.from({ length: 30 }, (_, i) => series(`series ${i}`));
    const long = "EKFAC T_kfe=100 with a rather long description (2 diverged)";
    const svg = linePlot({ title: "t", xLabel: "x", yLabel: "y", series: [...many, series(long)] });
    const width = Number(/width="(\d+)"/.exec(svg)?.[1]);
    const height = Number(/height="(\d+)"/.exec(svg)?.[1]);
    const lastY = Math.max(
      ...[...svg.matchAll(/<text x="\d+" y="(\d+)" dominant-baseline="middle">/g)].map((m) => Number(m[1])),
    );
    expect(lastY + 10).toBeLessThanOrEqual(height);
    const legendX = Number(
      new RegExp(`<text x="(\\d+)" y="\\d+" dominant-baseline="middle">${long.replace(/[()]/g, "\\$&")}`).exec(
        svg,
      )?.[1],
    );
    expect(legendX + 7.2 * long.length).toBeLessThanOrEqual(width);
  });
});
