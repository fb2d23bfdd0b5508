import { describe, expect, it } from "vitest";
import type { BudgetRun } from "../experiment/train.ts";
import type { CurvePoint } from "./experiment.ts";
import { demoClaims } from "./report.ts";

/** A run whose curve has one point per epoch (`losses[e]` at epoch e, `secondsPerEpoch` apart). */
const run = (losses: number[], secondsPerEpoch: number, seed = 1): BudgetRun => {
  const curve: CurvePoint[] = losses.map((l, e) => ({
    step: e * 10,
    epoch: e,
    seconds: e * secondsPerEpoch,
    trainLoss: l,
  }));
  return {
    seed,
    curve,
    steps: 10 * (losses.length - 1),
    epochs: losses.length - 1,
    seconds: secondsPerEpoch * (losses.length - 1),
    finalTrainLoss: losses[losses.length - 1] as number,
    testLoss: 0,
    testAccuracy: null,
    msPerStep: 0,
    eigenShare: 0,
    basisRefreshes: 0,
    skipped: 0,
  };
};

const claim = (claims: ReturnType<typeof demoClaims>, start: string) =>
  claims.find((c) => c.claim.startsWith(start))?.result.verdict;

describe("demoClaims", () => {
  // Equal time (10 s each): EKFAC gets through 2 epochs, KFAC through 4.
  const results = {
    sgd: [run([100, 90, 80, 75, 72], 2.5)],
    kfac: [run([100, 50, 40, 35, 30], 2.5)],
    ekfac: [run([100, 45, 36], 5)],
  };
  it("an EKFAC ahead per epoch but behind at equal time wins at equal epochs and loses at equal wall-clock", () => {
    const c = demoClaims(results, () => null);
    expect(claim(c, "EKFAC < KFAC at equal epochs (epoch 2)")).toBe("WIN");
    expect(claim(c, "EKFAC < KFAC at equal wall-clock")).toBe("LOSS");
    expect(claim(c, "KFAC < SGD + momentum at equal wall-clock")).toBe("WIN");
  });
  it("a recorded seed spread larger than the difference makes it a TIE", () => {
    // Differences: 6 at equal time (36 vs 30), 4 at epoch 2 (36 vs 40).
    const c5 = demoClaims(results, (name) => (name === "sgd" ? null : 5));
    expect(claim(c5, "EKFAC < KFAC at equal wall-clock")).toBe("LOSS");
    expect(claim(c5, "EKFAC < KFAC at equal epochs")).toBe("TIE");
    const c7 = demoClaims(results, (name) => (name === "sgd" ? null : 7));
    expect(claim(c7, "EKFAC < KFAC at equal wall-clock")).toBe("TIE");
    expect(c7[0]?.detail).toMatch(/recorded/);
  });
  it("with one seed and no recorded spread it says a TIE cannot show", () => {
    expect(demoClaims(results, () => null)[0]?.detail).toMatch(/a TIE cannot show/);
  });
});
