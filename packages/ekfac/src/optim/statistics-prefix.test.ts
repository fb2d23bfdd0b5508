/**
 * `statisticsFraction` (optim/statistics-prefix.ts): the curvature side of a step sees the first ⌈f·N⌉
 * examples, the gradient all N. Pinned here: the prefix views against the captured layouts (dense,
 * grouped conv, scale-shift), that an optimizer with f < 1 takes exactly the steps of an optimizer with
 * f = 1 fed the prefix statistics by hand (fixed and adaptive step control, KFAC and EKFAC), and the
 * option's refusals.
 */
import { describe, expect, it } from "vitest";
import { blobs, TinyMlp } from "../../test/tiny-mlp.ts";
import type { CurvatureLayer, CurvatureModel, LayerStatistics, ScaleShiftStatistics } from "../capture.ts";
import { ekfac, kfac, Optimizer } from "../index.ts";
import { prefixCount, StatisticsPrefix } from "./statistics-prefix.ts";

const dense = { kind: "dense", outDim: 2, inDim: 2, hasBias: true, groups: 1 } as const;

function layerStats(
  n: number,
  t: number,
  aWidth: number,
  gWidth: number,
  groups: number,
  pass: number,
): LayerStatistics {
  const a = Float64Array.from({ length: groups * n * t * aWidth }, (_, i) => i);
  const g = Float64Array.from({ length: groups * n * t * gWidth }, (_, i) => -i);
  return { batchSize: n, positions: t, a, g, fisher: "true", pass };
}

describe("StatisticsPrefix: the first ⌈f·N⌉ examples of each layout", () => {
  it("prefixCount is ⌈f·N⌉ within [1, N]", () => {
    expect(prefixCount(0.25, 100)).toBe(25);
    expect(prefixCount(0.3, 10)).toBe(3);
    expect(prefixCount(0.31, 10)).toBe(4);
    expect(prefixCount(0.01, 10)).toBe(1);
    expect(prefixCount(1, 7)).toBe(7);
  });

  it("dense / ungrouped conv: views of the first m·T rows, made once while the buffers stay the same", () => {
    const p = new StatisticsPrefix(0.5, [dense]);
    const s = layerStats(6, 2, 3, 2, 1, 1);
    const v = p.of(0, s) as LayerStatistics;
    expect(v.batchSize).toBe(3);
    expect(v.positions).toBe(2);
    expect([...v.a]).toEqual([...s.a.subarray(0, 3 * 2 * 3)]);
    expect([...v.g]).toEqual([...s.g.subarray(0, 3 * 2 * 2)]);
    expect(v.a.buffer).toBe(s.a.buffer);
    const again = p.of(0, { ...s, pass: 2 }) as LayerStatistics;
    expect(again.a).toBe(v.a);
    expect(again.pass).toBe(2);
  });

  it("grouped conv: each group's first m·T rows, copied, and re-copied for every new pass", () => {
    const shape = { kind: "conv2d", outDim: 4, inDim: 3, hasBias: false, groups: 2 } as const;
    const p = new StatisticsPrefix(0.25, [shape]);
    const n = 4;
    const t = 3;
    const s = layerStats(n, t, 3, 2, 2, 1);
    const v = p.of(0, s) as LayerStatistics;
    expect(v.batchSize).toBe(1);
    const rows = n * t;
    const want = (x: Float64Array, w: number) => [...x.subarray(0, t * w), ...x.subarray(rows * w, rows * w + t * w)];
    expect([...v.a]).toEqual(want(s.a as Float64Array, 3));
    expect([...v.g]).toEqual(want(s.g as Float64Array, 2));
    (s.a as Float64Array)[0] = 99;
    expect((p.of(0, s) as LayerStatistics).a[0]).toBe(0); // same pass: not copied again
    expect((p.of(0, { ...s, pass: 2 }) as LayerStatistics).a[0]).toBe(99);
  });

  it("scale-shift statistics keep the first m·T rows of x̂ and g; f = 1 or N = 1 returns the object itself", () => {
    const p = new StatisticsPrefix(0.5, [null]);
    const s: ScaleShiftStatistics = {
      batchSize: 4,
      positions: 2,
      xhat: Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => i),
      g: Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => 2 * i),
      fisher: "curvature-prop",
      pass: 5,
    };
    const v = p.of(0, s) as ScaleShiftStatistics;
    expect(v.batchSize).toBe(2);
    expect(v.fisher).toBe("curvature-prop");
    expect([...v.xhat]).toEqual([...s.xhat.subarray(0, 12)]);
    expect([...v.g]).toEqual([...s.g.subarray(0, 12)]);
    expect(new StatisticsPrefix(1, [null]).of(0, s)).toBe(s);
    expect(p.of(0, { ...s, batchSize: 1, xhat: s.xhat.subarray(0, 6), g: s.g.subarray(0, 6) }).batchSize).toBe(1);
  });
});

/** `model` whose layers report only the first m examples of their statistics (copies), same parameters. */
function prefixedByHand(model: TinyMlp, m: number): CurvatureModel {
  const layers = model.curvatureLayers().map(
    (l): CurvatureLayer =>
      Object.create(l, {
        statistics: {
          get() {
            const s = l.statistics;
            if (s === null || s.batchSize <= m) return s;
            const rows = s.a.length / s.batchSize;
            const gRows = s.g.length / s.batchSize;
            // The loss's signals cover all N examples (the gradient's batch), not the prefix: dropped,
            // as optim/statistics-prefix.ts's views do.
            return { ...s, batchSize: m, a: s.a.slice(0, m * rows), g: s.g.slice(0, m * gRows), lossG: null };
          },
        },
      }),
  );
  return {
    curvatureLayers: () => layers,
    parameters: () => model.parameters(),
    setCapture: (on, request) => model.setCapture(on, request),
  };
}

describe("an optimizer with statisticsFraction f steps as one with f = 1 fed the prefix statistics", () => {
  for (const [name, make, options] of [
    ["kfac, fixed", kfac, { learningRate: 0.05, basisEvery: 3 }],
    ["ekfac, fixed", ekfac, { learningRate: 0.05, basisEvery: 3 }],
    ["ekfac, adaptive", ekfac, { basisEvery: 3, burnIn: 1 }],
    ["kfac, adaptive", kfac, { basisEvery: 3, burnIn: 1 }],
  ] as const) {
    it(`${name}: parameters bit-identical after 8 steps (N = 12, f = 0.25 → 3 examples)`, () => {
      const { x, y } = blobs(5, 12, 4);
      const a = new TinyMlp([4, 6, 3], 9, "softmax-ce");
      const b = new TinyMlp([4, 6, 3], 9, "softmax-ce");
      const optA = new Optimizer(make(a, { ...options, statisticsFraction: 0.25 }), a);
      const optB = new Optimizer(make(prefixedByHand(b, 3), options), prefixedByHand(b, 3));
      for (let k = 0; k < 8; k++) {
        const la = a.forwardBackward(x, y, 12);
        const lb = b.forwardBackward(x, y, 12);
        expect(lb).toBe(la);
        optA.step(() => a.forwardBackward(x, y, 12));
        optB.step(() => b.forwardBackward(x, y, 12));
      }
      const pa = a.parameters().map((p) => [...p.value]);
      expect(b.parameters().map((p) => [...p.value])).toEqual(pa);
      // …and the steps did use fewer examples: f = 1 on the same model ends elsewhere.
      const c = new TinyMlp([4, 6, 3], 9, "softmax-ce");
      const optC = new Optimizer(make(c, options), c);
      for (let k = 0; k < 8; k++) {
        c.forwardBackward(x, y, 12);
        optC.step(() => c.forwardBackward(x, y, 12));
      }
      expect(c.parameters().map((p) => [...p.value])).not.toEqual(pa);
    });
  }

  it("refusals: f outside (0, 1] is a RangeError naming the option, not a number a TypeError; f < 1 with the exact Fisher too", () => {
    const model = new TinyMlp([4, 6, 3], 9, "softmax-ce");
    for (const bad of [0, -0.5, 1.5, Number.NaN, "0.5"]) {
      const call = () => ekfac(model, { statisticsFraction: bad as number });
      expect(call).toThrow(/options\.statisticsFraction must be a number in \(0, 1\]/);
      expect(call).toThrow(typeof bad === "number" ? RangeError : TypeError);
    }
    expect(() => ekfac(model, { basisEvery: "20" as unknown as number })).toThrow(
      new TypeError('ekfac: options.basisEvery (T_kfe) must be an integer ≥ 1 (got "20")'),
    );
    expect(() => ekfac(model, { basisEvery: 2.5 })).toThrow(RangeError);
    expect(() => kfac(model, { statisticsFraction: 0.5, fisher: "exact", otherParameters: "first-order" })).toThrow(
      /statisticsFraction < 1 cannot be combined with fisher: "exact"/,
    );
    expect(() => kfac(model, { statisticsFraction: 1, fisher: "exact", otherParameters: "first-order" })).not.toThrow();
  });
});
