/**
 * Adaptive step control on @ekfac-ts/nn's real layers (a devDependency): a small CNN with BatchNorm
 * (conv blocks, scale-and-shift blocks, a dense head) trains from the library defaults with each of
 * the three Fisher estimates — the statistics of every kind of block reach the quadratic model, the
 * damping adapts, and no step is skipped.
 */
import { backward, noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import {
  BatchNorm2d,
  Conv2d,
  Flatten,
  GlobalAvgPool2d,
  Linear,
  ReLU,
  Sequential,
  softmaxCrossEntropy,
} from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { ekfac, kfac, Optimizer } from "../index.ts";

const N = 24;

function data(): { x: Float32Array; labels: Int32Array } {
  const rng = new Rng(5);
  const x = rng.fillNormal(new Float32Array(N * 1 * 6 * 6));
  // Label: which quadrant of the image has the largest mean (a task a small CNN can learn).
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = -Infinity;
    for (let q = 0; q < 3; q++) {
      let s = 0;
      for (let i = 0; i < 12; i++) s += x[n * 36 + q * 12 + i] as number;
      if (s > best) {
        best = s;
        labels[n] = q;
      }
    }
  }
  return { x, labels };
}

function cnn(): Sequential {
  return new Sequential(
    new Conv2d(1, 4, 3, { padding: 1, rng: 1 }),
    new BatchNorm2d(4),
    new ReLU(),
    new Conv2d(4, 6, 3, { padding: 1, rng: 2 }),
    new BatchNorm2d(6),
    new ReLU(),
    new GlobalAvgPool2d(),
    new Flatten(),
    new Linear(6, 3, { rng: 3 }),
  );
}

describe("adaptive step control on nn's CNN with BatchNorm", () => {
  for (const fisher of ["true", "curvature-prop", "empirical", "exact"] as const) {
    for (const [name, make] of [
      ["ekfac", ekfac],
      ["kfac", kfac],
    ] as const) {
      it(`${name}, ${fisher} Fisher: trains from the defaults; λ adapts; μ stays in [0, 0.9]`, () => {
        const { x, labels } = data();
        const model = cnn();
        const input = wrap(x, [N, 1, 6, 6]);
        const lossNow = () => noGrad(() => softmaxCrossEntropy(model.forward(input), labels).item());
        const opt = new Optimizer(make(model, { fisher }), model);
        const first = lossNow();
        const dampings = new Set<number>();
        let withdrawn = 0;
        for (let k = 0; k < 40; k++) {
          model.zeroGrad();
          backward(softmaxCrossEntropy(model.forward(input), labels));
          const report = opt.step(lossNow);
          // The only skip allowed: a measured step that raised the loss, withdrawn by the step control.
          if (report.skipped) {
            expect(report.reason).toBe("loss increased");
            withdrawn++;
          }
          const r = report.curvature;
          expect(r).not.toBeNull();
          dampings.add(r?.damping as number);
          if (k >= 5) {
            expect(["joint", "alpha-only"]).toContain(r?.stepControl);
            expect(r?.momentum).toBeGreaterThanOrEqual(0);
            expect(r?.momentum).toBeLessThanOrEqual(0.9);
          } else expect(r?.stepControl).toBe("burn-in");
        }
        expect(opt.stepsSkipped).toBe(withdrawn);
        expect(withdrawn).toBeLessThan(5);
        expect(dampings.size).toBeGreaterThan(1);
        expect(lossNow()).toBeLessThan(0.7 * first);
      });
    }
  }
});
