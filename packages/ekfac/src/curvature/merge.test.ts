import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import { DenseEigenCorrected } from "./kronecker-block.ts";
import { contributionMeans, layerContribution, mergeBatches, mergeContributions } from "./merge.ts";

function relDist(x: Float64Array, y: Float64Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    d += ((x[i] as number) - (y[i] as number)) ** 2;
    n += (y[i] as number) ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), Number.MIN_VALUE);
}

describe("exact merge of statistics", () => {
  it("merge of two disjoint batches' contributions = the union's A, G, S* (all-reduce law)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 5 }), (seed, n2) => {
        const c1 = randomCase(seed, "dense", 3, 4, true, 4);
        const c2 = randomCase(seed + 1, "dense", 3, 4, true, n2);
        const union = mergeBatches(c1.shape, c1.stats, c2.stats);
        const whole = new DenseEigenCorrected(c1.shape, { factorDecay: 0, scalingDecay: 0 });
        whole.updateFactors(union);
        whole.updateBasis();
        whole.updateScaling(union);
        const basis = { uA: whole.uA, uG: whole.uG };
        const m = contributionMeans(
          mergeContributions(
            layerContribution(c1.shape, c1.stats, basis),
            layerContribution(c2.shape, c2.stats, basis),
          ),
        );
        expect(relDist(m.A as Float64Array, whole.A)).toBeLessThan(1e-13);
        expect(relDist(m.G as Float64Array, whole.G)).toBeLessThan(1e-13);
        expect(relDist(m.S as Float64Array, whole.S)).toBeLessThan(1e-12);
      }),
      { numRuns: 30 },
    );
  });

  it("contributions of different layers or kinds do not merge", () => {
    const c = randomCase(1, "dense", 3, 4, true, 4);
    const d = randomCase(2, "dense", 2, 4, true, 4);
    expect(() => mergeContributions(layerContribution(c.shape, c.stats), layerContribution(d.shape, d.stats))).toThrow(
      /sums\.G have lengths 9 and 4/,
    );
    const basis = { uA: new Float64Array(25), uG: new Float64Array(9) };
    expect(() =>
      mergeContributions(layerContribution(c.shape, c.stats), layerContribution(c.shape, c.stats, basis)),
    ).toThrow(/hold \{A, G\} and \{A, G, S\}/);
  });
});
