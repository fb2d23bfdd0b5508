import { describe, expect, it } from "vitest";
import type { CurvePoint } from "../demo/experiment.ts";
import { band, commonEpoch, lossAt, meanStd, truncateCurve, verdict } from "./stats.ts";

const pt = (seconds: number, trainLoss: number): CurvePoint => ({
  step: seconds * 10,
  epoch: seconds / 2,
  seconds,
  trainLoss,
});

describe("meanStd", () => {
  it("is the mean and the sample (n − 1) standard deviation", () => {
    const s = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
  it("gives std 0 for one value", () => {
    expect(meanStd([3])).toEqual({ mean: 3, std: 0 });
  });
});

describe("verdict (a lower than b)", () => {
  it("is a WIN when the means differ by more than the larger std", () => {
    expect(verdict([1, 1.1, 0.9], [2, 2.2, 1.8]).verdict).toBe("WIN");
  });
  it("is a LOSS the other way round", () => {
    expect(verdict([2, 2.2, 1.8], [1, 1.1, 0.9]).verdict).toBe("LOSS");
  });
  it("is a TIE when the difference of means is inside the seed spread (issue 15: seeds −1.96/−1.56/+1.95)", () => {
    // a lower on average by 0.52, but the seeds scatter by ~2.
    const r = verdict([70.3, 70.5, 74.0], [72.26, 72.06, 72.05]);
    expect(r.verdict).toBe("TIE");
    expect(r.spread).toBeCloseTo(meanStd([70.3, 70.5, 74.0]).std, 12);
  });
  it("measures against the larger std of the two samples", () => {
    // d = 1; std(a) = 0, std(b) = 1.2 > d: TIE. With b's scatter at 0.5 < d: WIN.
    expect(verdict([1, 1, 1], [0.8, 2, 3.2]).verdict).toBe("TIE");
    expect(verdict([1, 1, 1], [1.5, 2, 2.5]).verdict).toBe("WIN");
  });
  it("a recorded spread (floor) turns a one-seed difference smaller than it into a TIE", () => {
    expect(verdict([70], [72]).verdict).toBe("WIN");
    expect(verdict([70], [72], 2.5).verdict).toBe("TIE");
    expect(verdict([70], [72], 2.5).spread).toBe(2.5);
  });
  it("a diverged (non-finite) side loses against a finite one; two diverged sides tie", () => {
    expect(verdict([1, 2], [Number.NaN, 1]).verdict).toBe("WIN");
    expect(verdict([Number.POSITIVE_INFINITY], [3]).verdict).toBe("LOSS");
    expect(verdict([Number.NaN], [Number.NaN]).verdict).toBe("TIE");
  });
  it("refuses an empty sample", () => {
    expect(() => verdict([], [1])).toThrow(/verdict: both samples need a value/);
  });
});

describe("truncateCurve (equal time)", () => {
  const curve = [pt(0, 100), pt(4, 10), pt(8, 1), pt(12, 0.5)];
  it("keeps the points up to the budget and ends exactly at it, interpolating log-loss", () => {
    const t = truncateCurve(curve, "seconds", 6);
    expect(t.map((p) => p.seconds)).toEqual([0, 4, 6]);
    const last = t[2] as CurvePoint;
    expect(last.trainLoss).toBeCloseTo(Math.sqrt(10), 10); // midway in log between 10 and 1
    expect(last.epoch).toBeCloseTo(3, 12);
    expect(last.step).toBeCloseTo(60, 12);
  });
  it("adds no point when a point sits on the budget", () => {
    expect(truncateCurve(curve, "seconds", 8).map((p) => p.seconds)).toEqual([0, 4, 8]);
  });
  it("returns a curve that ends before the budget whole", () => {
    expect(truncateCurve(curve, "seconds", 20)).toEqual(curve);
  });
  it("cuts by epochs as well", () => {
    expect(truncateCurve(curve, "epoch", 1).map((p) => p.epoch)).toEqual([0, 1]);
  });
});

describe("band", () => {
  it("is the mean ± std across seeds at each x, leaving out an x some curve does not reach", () => {
    const a = [pt(0, 4), pt(2, 4)];
    const b = [pt(0, 2), pt(1, 2)];
    const out = band([a, b], "seconds", [0, 1, 2]);
    expect(out.map((p) => p.x)).toEqual([0, 1]);
    expect(out[0]?.mean).toBe(3);
    expect(out[0]?.std).toBeCloseTo(Math.SQRT2, 12);
  });
});

describe("lossAt", () => {
  const curve = [pt(0, 100), pt(2, 1)];
  it("interpolates log(loss) linearly: the midpoint of 100 and 1 is 10", () => {
    expect(lossAt(curve, "seconds", 1)).toBeCloseTo(10, 10);
  });
  it("is NaN outside the curve", () => {
    expect(lossAt(curve, "seconds", 3)).toBeNaN();
  });
});

describe("commonEpoch (equal epochs)", () => {
  it("is the fewest epochs any run reached, whole when ≥ 1, ignoring diverged runs", () => {
    const a = [{ curve: [pt(0, 1), pt(7, 1)] }]; // 3.5 epochs
    const b = [{ curve: [pt(0, 1), pt(5, 1)] }, { curve: [pt(0, 1)], error: "diverged" }]; // 2.5
    expect(commonEpoch(a, b)).toBe(2);
    expect(commonEpoch([{ curve: [pt(0, 1), pt(1, 1)] }], a)).toBe(0.5);
  });
});
