import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import { layerContribution, mergeContributions } from "./merge.ts";

// That merged contributions of two disjoint batches equal the whole batch's A, G, S* is law
// ekfac.merge.union (packages/proofs/src/laws/ekfac.ts: dense and conv layers, any split). Here: errors.
describe("exact merge of statistics", () => {
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
