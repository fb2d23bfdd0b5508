/**
 * Shared rows from the loss's own signals (kronecker-block.ts header, "Shared rows"): with a sampled
 * Fisher the captured g are not the loss's, but statistics carrying g_L (`lossG`) let EKFAC form the
 * step's rotated gradient as (1/N) (g_L U_G)ᵀ Ã from S*'s Ã. Pinned: the direction equals the plainly
 * rotated one (float64 to rounding, float32 within the float32 budget) for dense and grouped conv
 * layers with float32 and float64 signals; S* is unchanged; a gradient that is not (1/N) g_Lᵀ ā is
 * rotated as usual; the cost model decides; malformed `lossG` is refused by name.
 */
import { assertClose, Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import type { LayerBatch } from "../capture.ts";
import { meanGradient } from "./exact-fisher.ts";
import { Conv2dEigenCorrected, DenseEigenCorrected, type KroneckerBlockOptions } from "./kronecker-block.ts";
import { chooseRotatedGradientSource, rotatedGradientCost } from "./scaling.ts";

/** Two cases where the loss rows cost fewer multiply-adds than rotating ∇ (checked below by the cost model). */
const CASES = [
  { name: "dense 20 → 6, N = 3", kind: "dense", outDim: 6, inDim: 20, n: 3, t: 1, groups: 1 },
  { name: "conv, 2 groups, N = 1, T = 2", kind: "conv2d", outDim: 8, inDim: 20, n: 1, t: 2, groups: 2 },
] as const;

type Case = (typeof CASES)[number];

function setup(c: Case, seed: number, options: KroneckerBlockOptions, f32Signals: boolean) {
  const base = randomCase(seed, c.kind, c.outDim, c.inDim, true, c.n, c.t, c.groups);
  const lossG64 = new Rng(seed + 100).fillNormal(new Float64Array(base.stats.g.length));
  const lossG = f32Signals ? Float32Array.from(lossG64) : lossG64;
  const stats: LayerBatch = { ...base.stats, lossG };
  const shape = { outDim: c.outDim, inDim: c.inDim, hasBias: true, groups: c.groups };
  const opts = { factorDecay: 0, scalingDecay: 0, ...options };
  const make = () =>
    c.kind === "dense" ? new DenseEigenCorrected(shape, opts) : new Conv2dEigenCorrected(shape, opts);
  const plain = make();
  const shared = make();
  for (const [b, s] of [
    [plain, base.stats],
    [shared, stats],
  ] as const) {
    b.updateFactors(s);
    b.updateBasis();
    b.updateScaling(s);
  }
  // The gradient the loss's signals make (rounded as the producer's were).
  const grad = meanGradient(base.shape, { ...base.stats, g: Float64Array.from(lossG) });
  const eps = Math.max(...plain.eigenScaling()) / 10;
  return { base, stats, plain, shared, grad, eps };
}

describe("shared rows from the loss's signals (lossG)", () => {
  it("the cost model takes them where they have fewer multiply-adds than the rotation: these shapes, the demo's first layer", () => {
    for (const c of CASES) {
      const [a, g] = [c.inDim + 1, c.outDim / c.groups];
      expect(chooseRotatedGradientSource("gram", c.n, c.t, a, g, "loss")).toBe("from-loss-rows");
      expect(chooseRotatedGradientSource("gram", c.n, c.t, a, g, "none")).toBe("rotate");
    }
    // Demo autoencoder, batch 250: 785 → 256 has fewer multiply-adds (70 M < 209 M), and up to batch
    // ≈ 730; at batch 32 far fewer (10 M); its mirror 257 → 784 by a hair at 250 (207.7 M < 209.7 M),
    // not at 256 (212.7 M).
    expect(rotatedGradientCost("from-loss-rows", 250, 1, 785, 256)).toBe(70_313_680);
    expect(rotatedGradientCost("rotate", 250, 1, 785, 256)).toBe(209_199_360);
    expect(chooseRotatedGradientSource("gram", 250, 1, 785, 256, "loss")).toBe("from-loss-rows");
    expect(chooseRotatedGradientSource("gram", 800, 1, 785, 256, "loss")).toBe("rotate"); // 221 M > 209 M
    expect(rotatedGradientCost("from-loss-rows", 32, 1, 785, 256)).toBe(10_402_048);
    expect(chooseRotatedGradientSource("gram", 32, 1, 785, 256, "loss")).toBe("from-loss-rows");
    // The empirical Fisher's rows (G̃ already formed for S*) keep the plain comparison.
    expect(chooseRotatedGradientSource("gram", 250, 1, 785, 256, "statistics")).toBe("from-rows");
    expect(rotatedGradientCost("from-loss-rows", 250, 1, 257, 784)).toBe(207_729_904);
    expect(rotatedGradientCost("rotate", 250, 1, 257, 784)).toBe(209_749_008);
    expect(chooseRotatedGradientSource("gram", 250, 1, 257, 784, "loss")).toBe("from-loss-rows");
    expect(chooseRotatedGradientSource("gram", 256, 1, 257, 784, "loss")).toBe("rotate");
    expect(chooseRotatedGradientSource("rotate-gradients", 1, 1, 785, 256, "loss")).toBe("rotate");
  });

  for (const c of CASES) {
    for (const precision of ["float64", "float32"] as const) {
      for (const f32Signals of [false, true]) {
        it(`${c.name}: every group shares and gives the rotated direction (${precision}, ${f32Signals ? "float32" : "float64"} lossG)`, () => {
          const { plain, shared, grad, eps } = setup(c, 50, { precision }, f32Signals);
          expect(shared.S).toEqual(plain.S); // S* reads g, never lossG
          const want = plain.precondition(grad, new Float64Array(plain.size), eps);
          const got = shared.precondition(grad, new Float64Array(shared.size), eps);
          expect(plain.sharedRotations).toBe(0);
          expect(shared.sharedRotations).toBe(c.groups);
          assertClose(got, want, { rtol: precision === "float64" ? 1e-12 : 1e-4 });
        });
      }
    }
  }

  it("a gradient that is not (1/N) g_Lᵀ ā (here the sampled g's) is rotated as usual", () => {
    for (const c of CASES) {
      const { base, plain, shared, eps } = setup(c, 51, {}, false);
      const other = meanGradient(base.shape, base.stats);
      const got = shared.precondition(other, new Float64Array(shared.size), eps);
      expect(shared.sharedRotations).toBe(0);
      expect(got).toEqual(plain.precondition(other, new Float64Array(plain.size), eps));
    }
  });

  it("lossG null or absent shares nothing; the empirical option shares the statistics' own rows instead", () => {
    const c = CASES[0];
    const { base, grad, eps } = setup(c, 52, {}, false);
    const shape = { outDim: c.outDim, inDim: c.inDim, hasBias: true, groups: 1 };
    const b = new DenseEigenCorrected(shape, { factorDecay: 0, scalingDecay: 0 });
    b.updateFactors(base.stats);
    b.updateBasis();
    b.updateScaling({ ...base.stats, lossG: null });
    b.precondition(grad, new Float64Array(b.size), eps);
    expect(b.sharedRotations).toBe(0);
    // gradientFromStatistics: the g are declared the loss's, so lossG is not read; ∇ from lossG ≠ (1/N) gᵀā.
    const e = new DenseEigenCorrected(shape, { factorDecay: 0, scalingDecay: 0, gradientFromStatistics: true });
    e.updateFactors(base.stats);
    e.updateBasis();
    e.updateScaling({ ...base.stats, lossG: Float64Array.from(base.stats.g) });
    e.precondition(meanGradient(base.shape, base.stats), new Float64Array(e.size), eps);
    expect(e.sharedRotations).toBe(1);
  });

  it("a malformed lossG is refused by name, before any state changes", () => {
    const c = CASES[1];
    const { stats, shared } = setup(c, 53, {}, false);
    const S = shared.S.slice();
    const g = stats.g.length;
    expect(() => shared.updateScaling({ ...stats, lossG: new Float64Array(g + 1) })).toThrow(
      new RangeError(
        `Conv2dEigenCorrected.updateScaling: statistics.lossG has length ${g + 1}, expected the length of statistics.g, groups·N·T·gDim = ${g}`,
      ),
    );
    expect(() => shared.updateScaling({ ...stats, lossG: [1, 2] as unknown as Float64Array })).toThrow(
      new TypeError(
        "Conv2dEigenCorrected.updateScaling: statistics.lossG must be a Float32Array, a Float64Array or null",
      ),
    );
    expect(shared.S).toEqual(S);
  });
});
