import { describe, expect, it } from "vitest";
import type { CurvePoint, RunResult } from "./experiment.ts";
import { compareRuns, lossAt } from "./report.ts";

const curve = (losses: number[], secondsPerEpoch: number): CurvePoint[] =>
  losses.map((l, e) => ({ step: e * 10, epoch: e, seconds: e * secondsPerEpoch, trainLoss: l }));

const run = (optimizer: string, losses: number[], secondsPerEpoch: number): RunResult => ({
  optimizer,
  config: { name: "sgd", learningRate: 1 },
  curve: curve(losses, secondsPerEpoch),
  steps: 10 * (losses.length - 1),
  finalTrainLoss: losses[losses.length - 1] as number,
  testLoss: 0,
  wallSeconds: secondsPerEpoch * (losses.length - 1),
  msPerStep: 0,
  eigenSeconds: 0,
  basisRefreshes: 0,
  skippedSteps: 0,
  epochMeanLoss: [],
});

describe("lossAt", () => {
  it("interpolates log(loss) linearly: the midpoint of 100 and 1 is 10", () => {
    expect(lossAt(curve([100, 1], 1), "epoch", 0.5)).toBeCloseTo(10, 10);
  });
  it("is NaN outside the curve", () => {
    expect(lossAt(curve([100, 1], 1), "epoch", 2)).toBeNaN();
  });
});

describe("compareRuns", () => {
  it("a faster-per-epoch but slower-per-second EKFAC wins per epoch and loses per second", () => {
    const results = [run("sgd", [100, 90, 80], 1), run("kfac", [100, 50, 40], 1), run("ekfac", [100, 45, 35], 10)];
    const c = Object.fromEntries(compareRuns(results, 2).map((x) => [x.claim, x.holds]));
    expect(c["EKFAC < KFAC at every epoch"]).toBe(true);
    expect(c["EKFAC < KFAC at equal wall-clock"]).toBe(false);
    expect(c["KFAC < SGD+momentum at every epoch"]).toBe(true);
  });
});
