/**
 * The self-tuning laws are not vacuous: each FAILS on a plausible bug injected through the law's
 * `Implementation` argument (as in mutations.test.ts), and passes with the real library at the same seed.
 */
import { QuadraticModelWorkspace, type QuadraticTerms, solveQuadraticStep } from "@ekfac-ts/ekfac";
import { describe, expect, it } from "vitest";
import { lawById } from "./catalogue.ts";
import { defaultImplementation, withImplementation } from "./impl.ts";
import { runLaw } from "./runner.ts";

/** The arguments of `QuadraticModelWorkspace.addLayer` (shape, stats, direction, previous, gradient). */
type AddLayerArgs = Parameters<QuadraticModelWorkspace["addLayer"]>;

/** Squares the directional derivatives per layer: F block-diagonal over layers (KFAC's structure). */
class BlockDiagonalWorkspace extends QuadraticModelWorkspace {
  private readonly inner = new QuadraticModelWorkspace();
  private examples = 0;
  private c11 = 0;
  private c12 = 0;
  private c22 = 0;

  override begin(batchSize: number): this {
    this.examples = batchSize;
    this.c11 = this.c12 = this.c22 = 0;
    return super.begin(batchSize);
  }

  override addLayer(...args: AddLayerArgs): this {
    const [shape, stats, direction, previous, gradient] = args;
    const t = this.inner.begin(this.examples).addLayer(shape, stats, direction, previous, gradient).terms();
    this.c11 += t.curvature11;
    this.c12 += t.curvature12;
    this.c22 += t.curvature22;
    return this.addParameter(direction, previous, gradient);
  }

  override terms(): QuadraticTerms {
    return { ...super.terms(), curvature11: this.c11, curvature12: this.c12, curvature22: this.c22 };
  }
}

/** Reads g as the producer's raw ∂L/∂s = g/N (the factor N of capture.ts forgotten). */
class UnscaledGradientWorkspace extends QuadraticModelWorkspace {
  override addLayer(...args: AddLayerArgs): this {
    const [shape, stats, direction, previous, gradient] = args;
    const g = stats.g.map((x) => x / stats.batchSize);
    return super.addLayer(shape, { ...stats, g }, direction, previous, gradient);
  }
}

/** The 2×2 solve with the sign of the off-diagonal Fisher term flipped. */
const flippedCross: typeof solveQuadraticStep = (terms, damping, options, out) =>
  solveQuadraticStep({ ...terms, curvature12: -terms.curvature12, inner12: -terms.inner12 }, damping, options, out);

const mutations = [
  {
    name: "cross-layer terms dropped (per-example derivatives squared per layer)",
    law: "ekfac.quadratic-model.dense",
    impl: withImplementation({ ekfac: { QuadraticModelWorkspace: BlockDiagonalWorkspace } }),
  },
  {
    name: "g read without the factor N",
    law: "ekfac.quadratic-model.dense",
    impl: withImplementation({ ekfac: { QuadraticModelWorkspace: UnscaledGradientWorkspace } }),
  },
  {
    name: "2×2 solve with the off-diagonal sign flipped",
    law: "ekfac.quadratic-step.stationary",
    impl: withImplementation({ ekfac: { solveQuadraticStep: flippedCross } }),
  },
];

const SEED = 20150301; // fixed: a mutation test must not depend on luck
const RUNS = 200;

describe("mutations of the self-tuning step", () => {
  for (const m of mutations) {
    it(`${m.law} catches: ${m.name}`, () => {
      const law = lawById(m.law);
      const broken = runLaw(law, { runs: RUNS, seed: SEED, impl: m.impl });
      expect(broken.ok, `${m.law} did not notice "${m.name}"`).toBe(false);
      expect(runLaw(law, { runs: RUNS, seed: SEED, impl: defaultImplementation }).ok).toBe(true);
    });
  }
});
