/**
 * `examplePreconditionedNorms`: each example's own gradient ∇ℓ_n = Σ_t g_{n,t} ā_{n,t}ᵀ in the metric of
 * the block's preconditioner, ∇ℓ_nᵀ (F̂ + εI)⁻¹ ∇ℓ_n — what adaptive step control's gradient-noise
 * estimate reads (optim/curvature.ts, MATH.md §11). Pinned against a dense solve with the block's own
 * F̂ (float64) for dense and grouped conv layers, KFAC and EKFAC, float32 and float64 rows; the sum over
 * examples adds to what `out` held; malformed input is refused by name.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addIdentity, denseSolve, layerSizesArb, randomCase } from "../../test/dense-reference.ts";
import { perExampleGradients } from "./exact-fisher.ts";
import {
  Conv2dEigenCorrected,
  Conv2dKroneckerFactored,
  DenseEigenCorrected,
  DenseKroneckerFactored,
  type KroneckerBlock,
} from "./kronecker-block.ts";

const sizesArb = layerSizesArb({ outPerGroup: 3, inDim: 5, n: 5, t: 3 }, "dense or conv2d");

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

describe("examplePreconditionedNorms: ‖∇ℓ_n‖² in the metric (F̂ + εI)⁻¹ of the block", () => {
  for (const approximation of ["kfac", "ekfac"] as const) {
    it(`${approximation}: equals a dense solve with the block's F̂ for every example (dense and grouped conv, float64 and float32 rows)`, () => {
      fc.assert(
        fc.property(sizesArb, fc.boolean(), ({ seed, conv, groups, outPerGroup, inDim, hasBias, n, t }, f32) => {
          const kind = conv ? "conv2d" : "dense";
          const tt = conv ? t : 1;
          const gr = conv ? groups : 1;
          const c = randomCase(seed, kind, outPerGroup * gr, inDim, hasBias, n, tt, gr);
          const shape = { outDim: outPerGroup * gr, inDim, hasBias, groups: gr };
          const opts = { factorDecay: 0, scalingDecay: 0 };
          const block: KroneckerBlock =
            kind === "dense"
              ? approximation === "kfac"
                ? new DenseKroneckerFactored(shape, opts)
                : new DenseEigenCorrected(shape, opts)
              : approximation === "kfac"
                ? new Conv2dKroneckerFactored(shape, opts)
                : new Conv2dEigenCorrected(shape, opts);
          block.updateFactors(c.stats);
          block.updateBasis();
          block.updateScaling(c.stats);
          const eps = 0.1;
          const a = f32 ? Float32Array.from(c.stats.a) : c.stats.a;
          const g = f32 ? Float32Array.from(c.stats.g) : c.stats.g;
          const out = new Float64Array(n + 1).fill(1); // one extra entry: must stay untouched
          block.examplePreconditionedNorms(a, g, n, tt, eps, out);
          // Reference: the per-example gradients of the (rounded) rows, solved densely group by group.
          const rounded = { ...c.stats, a: Float64Array.from(a), g: Float64Array.from(g) };
          const perExample = perExampleGradients(c.shape, rounded);
          const size = block.size;
          const damped = addIdentity(block.denseApproximation(), eps);
          for (let e = 0; e < n; e++) {
            const v = perExample.slice(e * size, (e + 1) * size);
            const want = dot(v, denseSolve(damped, v));
            expect(Math.abs((out[e] as number) - 1 - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, want));
          }
          expect(out[n]).toBe(1);
        }),
        { numRuns: 40 },
      );
    });
  }

  it("refuses malformed input by name, before writing anything", () => {
    const c = randomCase(3, "dense", 3, 4, true, 2);
    const block = new DenseEigenCorrected({ outDim: 3, inDim: 4, hasBias: true });
    block.updateFactors(c.stats);
    block.updateBasis();
    block.updateScaling(c.stats);
    const out = new Float64Array(2);
    const call = (over: Partial<{ a: unknown; g: unknown; n: number; t: number; eps: number; out: unknown }>) => () =>
      block.examplePreconditionedNorms(
        (over.a ?? c.stats.a) as Float64Array,
        (over.g ?? c.stats.g) as Float64Array,
        over.n ?? 2,
        over.t ?? 1,
        over.eps ?? 0.1,
        (over.out ?? out) as Float64Array,
      );
    expect(call({ n: 0 })).toThrow(/examplePreconditionedNorms: batchSize must be a positive integer \(got 0\)/);
    expect(call({ t: 1.5 })).toThrow(/positions must be a positive integer/);
    expect(call({ eps: 0 })).toThrow(/damping/);
    expect(call({ a: [1, 2] })).toThrow(TypeError);
    expect(call({ g: new Float64Array(5) })).toThrow(/g must hold 6 values \(got 5\)/);
    expect(call({ a: new Float64Array(3) })).toThrow(/a must hold 10 values \(got 3\)/);
    expect(call({ out: new Float64Array(1) })).toThrow(/out must be a Float64Array of length ≥ 2/);
    expect(out).toEqual(new Float64Array(2));
  });
});
