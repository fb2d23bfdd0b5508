/**
 * Shared rows with groups and positions (kronecker-block.ts header, "Shared rows"): for a grouped conv
 * with T > 1, EKFAC's S* rows give each group's U_Gᵀ ∇_k U_A = (1/N) G̃ᵀÃ, and the next `precondition`
 * uses them, group by group, exactly when that group's gradient is the statistics' own within
 * ‖∇_k − (1/N) gᵀā‖_F ≤ 1e-4 ‖∇_k‖_F. Pinned: the direction equals the plainly rotated one (float64 to
 * rounding, float32 within the float32 budget), float32 and float64 statistics alike, the per-group
 * acceptance (`sharedRotations` counts groups), the 1e-4 threshold from both sides, and that a strategy
 * that forms no rows ("rotate-gradients") or a block without the option never shares. These small
 * layers form (1/N) gᵀā for the check; the last block pins the probed check of large layers.
 */
import { assertClose, Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { countTypedArrayConstructions } from "../../test/allocation-spy.ts";
import { randomCase } from "../../test/dense-reference.ts";
import { meanGradient } from "./exact-fisher.ts";
import { Conv2dEigenCorrected, DenseEigenCorrected, type KroneckerBlockOptions } from "./kronecker-block.ts";
import { chooseRotatedGradientSource, type ScalingStrategy, sharedRowsCheck } from "./scaling.ts";

// gDim = 4, aDim = 6, R = N·T = 4: 2R + 1 < a + g, so the rows are the cheaper source.
const shape = { outDim: 8, inDim: 5, hasBias: true, groups: 2 };
const [n, t] = [2, 2];

function pair(seed: number, options: KroneckerBlockOptions, f32Stats = false) {
  const c = randomCase(seed, "conv2d", 8, 5, true, n, t, 2);
  const stats = f32Stats ? { ...c.stats, a: Float32Array.from(c.stats.a), g: Float32Array.from(c.stats.g) } : c.stats;
  const opts = { factorDecay: 0, scalingDecay: 0, ...options };
  const plain = new Conv2dEigenCorrected(shape, opts);
  const shared = new Conv2dEigenCorrected(shape, { ...opts, gradientFromStatistics: true });
  for (const b of [plain, shared]) {
    b.updateFactors(stats);
    b.updateBasis();
    b.updateScaling(stats);
  }
  const ref = f32Stats ? { ...c.stats, a: Float64Array.from(stats.a), g: Float64Array.from(stats.g) } : c.stats;
  return { plain, shared, stats, grad: meanGradient(c.shape, ref) };
}

describe("shared rows, per group, with T > 1", () => {
  for (const precision of ["float64", "float32"] as const) {
    for (const strategy of ["gram", "rotate-rows"] as const satisfies readonly ScalingStrategy[]) {
      for (const f32Stats of [false, true]) {
        it(`both groups share and give the rotated direction (${precision}, ${strategy}, ${f32Stats ? "float32" : "float64"} statistics)`, () => {
          const { plain, shared, stats, grad } = pair(40, { precision, scalingStrategy: strategy }, f32Stats);
          const eps = Math.max(...plain.eigenScaling()) / 10;
          const want = plain.precondition(grad, new Float64Array(plain.size), eps);
          const got = shared.precondition(grad, new Float64Array(shared.size), eps);
          expect(shared.sharedRotations).toBe(2);
          expect(plain.sharedRotations).toBe(0);
          assertClose(got, want, { rtol: precision === "float64" ? 1e-12 : 1e-4 });
          // The next statistics, larger (the workspaces grow), share again.
          const c2 = randomCase(41, "conv2d", 8, 5, true, n + 1, t, 2);
          const s2 = f32Stats
            ? { ...c2.stats, a: Float32Array.from(c2.stats.a), g: Float32Array.from(c2.stats.g) }
            : c2.stats;
          expect(stats.a.constructor).toBe(s2.a.constructor);
          plain.updateScaling(s2);
          shared.updateScaling(s2);
          const ref2 = { ...c2.stats, a: Float64Array.from(s2.a), g: Float64Array.from(s2.g) };
          const g2 = meanGradient(c2.shape, ref2);
          const got2 = shared.precondition(g2, new Float64Array(shared.size), eps);
          // n = 3: 2R + 1 = 13 > a + g, so the rows are not cheaper any more: rotated as usual.
          expect(shared.sharedRotations).toBe(2);
          expect(got2).toEqual(plain.precondition(g2, new Float64Array(plain.size), eps));
          expect(shared.S).toEqual(plain.S);
        });
      }
    }
  }

  it("each group is checked on its own gradient, against 1e-4 ‖∇_k‖ from both sides", () => {
    for (const precision of ["float64", "float32"] as const) {
      const { plain, shared, stats, grad } = pair(42, { precision });
      const eps = Math.max(...plain.eigenScaling()) / 10;
      const half = grad.length / 2;
      const norm = (k: number) => Math.hypot(...grad.subarray(k * half, (k + 1) * half));
      /** grad with group k moved by a relative `rel` along one coordinate. */
      const moved = (k: number, rel: number) => {
        const x = grad.slice();
        x[k * half + 3] = (x[k * half + 3] as number) + rel * norm(k);
        return x;
      };
      const tight = { rtol: precision === "float64" ? 1e-12 : 1e-4 };
      const unmoved = plain.precondition(grad, new Float64Array(plain.size), eps);
      let count = 0;
      for (const k of [0, 1]) {
        // 3e-4: group k is not the statistics' (rotated as usual), the other group still shares.
        shared.updateScaling(stats);
        const far = moved(k, 3e-4);
        assertClose(
          shared.precondition(far, new Float64Array(shared.size), eps),
          plain.precondition(far, new Float64Array(plain.size), eps),
          tight,
        );
        count += 1;
        expect(shared.sharedRotations).toBe(count);
        // 3e-5: within the threshold, both groups share: the direction of the statistics' own gradient.
        shared.updateScaling(stats);
        const near = moved(k, 3e-5);
        assertClose(shared.precondition(near, new Float64Array(shared.size), eps), unmoved, tight);
        count += 2;
        expect(shared.sharedRotations).toBe(count);
      }
      // A NaN gradient is never the statistics': rotated as usual, NaN out.
      shared.updateScaling(stats);
      const bad = grad.slice();
      bad[0] = Number.NaN;
      const out = shared.precondition(bad, new Float64Array(shared.size), eps);
      expect(shared.sharedRotations).toBe(count + 1);
      expect(Number.isNaN(out[0])).toBe(true);
    }
  });

  it("statistics that form no shared rows leave none from earlier statistics (a new basis in between)", () => {
    // Dense, a = 6, g = 4: N = 4 shares (2R + 1 < a + g), N = 8 does not. The N = 8 statistics are the
    // N = 4 ones twice, so their mean gradient is the same: only a stale shared rotation could match it.
    const d = randomCase(44, "dense", 4, 5, true, 4);
    const twice = (x: Float64Array) => {
      const y = new Float64Array(2 * x.length);
      y.set(x);
      y.set(x, x.length);
      return y;
    };
    const doubled = {
      ...d.stats,
      batchSize: 8,
      a: twice(d.stats.a as Float64Array),
      g: twice(d.stats.g as Float64Array),
    };
    const other = randomCase(45, "dense", 4, 5, true, 4).stats;
    const dShape = { kind: "dense", outDim: 4, inDim: 5, hasBias: true, groups: 1 } as const;
    const grad = meanGradient(dShape, d.stats);
    const opts = { factorDecay: 0, scalingDecay: 0 } as const;
    const blocks = [
      new Conv2dEigenCorrected({ ...shape, outDim: 4, groups: 1 }, { ...opts, gradientFromStatistics: true }),
      new Conv2dEigenCorrected({ ...shape, outDim: 4, groups: 1 }, opts),
    ];
    for (const b of blocks) {
      b.updateFactors(d.stats);
      b.updateBasis();
      b.updateScaling(d.stats);
      b.updateFactors(other); // a different basis…
      b.updateBasis();
      b.updateScaling(doubled); // …and statistics that share nothing
    }
    const [shared, plain] = blocks as [Conv2dEigenCorrected, Conv2dEigenCorrected];
    expect(shared.sharedRotations).toBe(0);
    const got = shared.precondition(grad, new Float64Array(shared.size), 0.1);
    expect(shared.sharedRotations).toBe(0);
    expect(got).toEqual(plain.precondition(grad, new Float64Array(plain.size), 0.1));
  });

  it("the bound is inclusive: a zero gradient from zero output gradients is the statistics' own", () => {
    // Zero g make G = 0, whose basis is all unit vectors (deflated): rotating then costs only g·a'², so
    // this layer is wider (a = 30) for the rows to stay the cheaper source (1,080 against 3,600).
    const wide = { ...shape, inDim: 29 };
    const c = randomCase(46, "conv2d", 8, 29, true, n, t, 2);
    const stats = { ...c.stats, g: new Float64Array(c.stats.g.length) };
    const b = new Conv2dEigenCorrected(wide, { gradientFromStatistics: true });
    b.updateFactors(stats);
    b.updateBasis();
    b.updateScaling(stats);
    const out = b.precondition(new Float64Array(b.size), new Float64Array(b.size).fill(1), 0.1);
    expect(b.sharedRotations).toBe(2);
    expect(out).toEqual(new Float64Array(b.size));
  });

  it('"rotate-gradients" forms no rows and never shares', () => {
    const { shared, grad } = pair(43, { scalingStrategy: "rotate-gradients" });
    shared.precondition(grad, new Float64Array(shared.size), 0.1);
    expect(shared.sharedRotations).toBe(0);
  });
});

describe("the probed check on a large layer (scaling.ts, sharedRowsCheck)", () => {
  // Dense a = g = 64, N = 16: the probes (49 152 multiply-adds) beat forming (1/N) gᵀā (69 632), and
  // the rows (114 688 in all) beat the rotation (524 288).
  const dense = { outDim: 64, inDim: 63, hasBias: true };
  const n16 = 16;

  function densePair(seed: number, precision: "float64" | "float32") {
    const c = randomCase(seed, "dense", dense.outDim, dense.inDim, true, n16);
    const opts = { factorDecay: 0, scalingDecay: 0, precision };
    const plain = new DenseEigenCorrected(dense, opts);
    const shared = new DenseEigenCorrected(dense, { ...opts, gradientFromStatistics: true });
    for (const b of [plain, shared]) {
      b.updateFactors(c.stats);
      b.updateBasis();
      b.updateScaling(c.stats);
    }
    return { plain, shared, stats: c.stats, grad: meanGradient(c.shape, c.stats) };
  }

  it("the shapes are the probed case", () => {
    expect(sharedRowsCheck(n16, 64, 64)).toBe("probes");
    expect(chooseRotatedGradientSource("gram", n16, 1, 64, 64)).toBe("from-rows");
  });

  for (const precision of ["float64", "float32"] as const) {
    it(`the statistics' own gradient shares and gives the rotated direction; a changed one is rotated (${precision})`, () => {
      const { plain, shared, stats, grad } = densePair(47, precision);
      const eps = Math.max(...plain.eigenScaling()) / 10;
      const tight = { rtol: precision === "float64" ? 1e-12 : 1e-4 };
      const unmoved = plain.precondition(grad, new Float64Array(plain.size), eps);
      assertClose(shared.precondition(grad, new Float64Array(shared.size), eps), unmoved, tight);
      expect(shared.sharedRotations).toBe(1);
      const norm = Math.hypot(...grad);
      const rng = new Rng(48);
      const theta = rng.fillNormal(new Float64Array(grad.length));
      const thetaNorm = Math.hypot(...theta);
      const changes: [string, (x: Float64Array) => void, boolean][] = [
        ["one entry by 1e-2 ‖∇‖", (x) => (x[100] = (x[100] as number) + 1e-2 * norm), false],
        ["one entry by 1e-3 ‖∇‖", (x) => (x[2000] = (x[2000] as number) + 1e-3 * norm), false],
        // weight decay: ∇ + c·θ with ‖c·θ‖ = 1e-3 ‖∇‖ (a full-rank difference)
        [
          "weight decay 1e-3 ‖∇‖",
          (x) => {
            for (let i = 0; i < x.length; i++)
              x[i] = (x[i] as number) + ((1e-3 * norm) / thetaNorm) * (theta[i] as number);
          },
          false,
        ],
        ["one entry by 1e-6 ‖∇‖ (inside the bound)", (x) => (x[7] = (x[7] as number) + 1e-6 * norm), true],
      ];
      let count = 1;
      for (const [, change, shares] of changes) {
        shared.updateScaling(stats);
        const x = grad.slice();
        change(x);
        const got = shared.precondition(x, new Float64Array(shared.size), eps);
        if (shares) count += 1;
        expect(shared.sharedRotations).toBe(count);
        assertClose(got, shares ? unmoved : plain.precondition(x, new Float64Array(plain.size), eps), tight);
      }
      // Non-finite gradients are never the statistics': rotated as usual, non-finite out.
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        shared.updateScaling(stats);
        const x = grad.slice();
        x[5] = bad;
        const out = shared.precondition(x, new Float64Array(shared.size), eps);
        expect(shared.sharedRotations).toBe(count);
        expect(out.every(Number.isFinite)).toBe(false);
      }
    });
  }

  it("after its first step the probed path creates no typed array (both precisions)", () => {
    for (const precision of ["float64", "float32"] as const) {
      const { shared, stats, grad } = densePair(50, precision);
      const out = new Float64Array(shared.size);
      shared.precondition(grad, out, 0.1);
      const created = countTypedArrayConstructions(() => {
        for (let s = 0; s < 5; s++) {
          shared.updateScaling(stats);
          shared.precondition(grad, out, 0.1);
        }
      });
      expect(created).toBe(0);
      expect(shared.sharedRotations).toBe(6);
    }
  });

  it("the bound is inclusive: a zero gradient from zero output gradients shares", () => {
    const c = randomCase(49, "dense", dense.outDim, dense.inDim, true, n16);
    const stats = { ...c.stats, g: new Float64Array(c.stats.g.length) };
    const b = new DenseEigenCorrected(dense, { gradientFromStatistics: true });
    b.updateFactors(stats);
    b.updateBasis();
    b.updateScaling(stats);
    const out = b.precondition(new Float64Array(b.size), new Float64Array(b.size).fill(1), 0.1);
    expect(b.sharedRotations).toBe(1);
    expect(out).toEqual(new Float64Array(b.size));
  });
});
