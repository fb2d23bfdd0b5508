/**
 * The whole catalogue at CI depth: one test per law, with fast-check's global numRuns (vitest.setup.ts:
 * FC_NUM_RUNS, default 100) scaled by each law's runScale, and FC_SEED to replay.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { catalogue } from "./catalogue.ts";
import { casesFor, formatReport, runLaw } from "./runner.ts";

const config = fc.readConfigureGlobal();
const runs = config.numRuns ?? 100;
const seed = config.seed;

describe(`the catalogue of laws (${runs} runs before run scale)`, () => {
  for (const law of catalogue) {
    it(`${law.title}  [${law.id}]`, () => {
      const r = runLaw(law, { runs, ...(seed !== undefined ? { seed } : {}) });
      if (!r.ok) throw new Error(formatReport(r));
      expect(r.cases).toBe(casesFor(law, runs));
      expect(r.worstRatio).toBeLessThanOrEqual(1);
    });
  }
});

describe("the catalogue's shape", () => {
  it("ids are unique and dotted; every law states its source, generator, tolerance and why", () => {
    const ids = catalogue.map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const l of catalogue) {
      expect(l.id).toMatch(/^(linalg|autodiff|nn|ekfac|optim)\.[a-zA-Z0-9.-]+$/);
      for (const field of [l.title, l.statement, l.source, l.generator, l.tolerance, l.why]) {
        expect(field.length).toBeGreaterThan(5);
      }
      expect(l.runScale).toBeGreaterThan(0);
      expect(l.runScale).toBeLessThanOrEqual(1);
    }
  });
});
