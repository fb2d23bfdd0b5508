import { describe, expect, it } from "vitest";
import { fill } from "../../test/deterministic.ts";
import { BasisRotation } from "./basis-rotation.ts";
import {
  chooseRotatedGradientSource,
  chooseScalingStrategy,
  rotatedGradientCost,
  type ScalingStrategy,
  SHARED_ROWS_PROBES,
  scalingCost,
  scalingInto,
  scalingRowsSize,
  sharedRowsCheck,
  sharedRowsCheckCost,
} from "./scaling.ts";

const STRATEGIES: readonly ScalingStrategy[] = ["gram", "rotate-rows", "rotate-gradients"];

describe("the S* cost model (multiply-adds of the file header)", () => {
  it("pins each strategy's cost for N = 3, T = 2, a = 4, g = 5, with and without rotations", () => {
    // R = 6 rows; rotations R(a² + g²) = 6·41 = 246; pairs N·T(T+1)/2 = 9.
    expect(scalingCost("gram", 3, 2, 4, 5, false)).toBe(246 + 9 * 20);
    expect(scalingCost("gram", 3, 2, 4, 5, true)).toBe(9 * 20);
    expect(scalingCost("rotate-rows", 3, 2, 4, 5, false)).toBe(246 + 6 * 20);
    expect(scalingCost("rotate-rows", 3, 2, 4, 5, true)).toBe(6 * 20);
    // R·g·a + N(g²a + g a²) = 120 + 3·(100 + 80).
    expect(scalingCost("rotate-gradients", 3, 2, 4, 5, false)).toBe(120 + 3 * 180);
    expect(scalingCost("rotate-gradients", 3, 2, 4, 5, true)).toBe(120);
  });

  it("the cost formulas are asymmetric in a and g only where the header says (a² and g² terms swap)", () => {
    for (const s of STRATEGIES) {
      for (const id of [true, false]) expect(scalingCost(s, 2, 3, 7, 2, id)).toBe(scalingCost(s, 2, 3, 2, 7, id));
    }
  });

  it("gram wins for T = 1 (dense layers), with or without a basis", () => {
    for (const [n, a, g] of [
      [1, 1, 1],
      [32, 785, 10],
      [128, 65, 64],
    ] as const) {
      expect(chooseScalingStrategy(n, 1, a, g, false)).toBe("gram");
      expect(chooseScalingStrategy(n, 1, a, g, true)).toBe("gram");
    }
  });

  it("rotate-gradients wins for many positions T with a basis, rotate-rows for a few (T ≥ 2)", () => {
    // N = 8, T = 64, a = 27, g = 16 (a 3×3 convolution): gram 7 692 800, rotate-rows 725 504,
    // rotate-gradients 369 792 multiply-adds.
    expect(scalingCost("gram", 8, 64, 27, 16, false)).toBe(7_692_800);
    expect(scalingCost("rotate-rows", 8, 64, 27, 16, false)).toBe(725_504);
    expect(scalingCost("rotate-gradients", 8, 64, 27, 16, false)).toBe(369_792);
    expect(chooseScalingStrategy(8, 64, 27, 16, false)).toBe("rotate-gradients");
    // Identity basis: rotate-rows and rotate-gradients both cost R·g·a (a tie, kept by the earlier one).
    expect(chooseScalingStrategy(8, 64, 27, 16, true)).toBe("rotate-rows");
    // N = 64, T = 2, a = g = 64: rotating 128 rows beats rotating 64 gradients → rotate-rows.
    expect(scalingCost("rotate-rows", 64, 2, 64, 64, false)).toBe(1_572_864);
    expect(scalingCost("rotate-gradients", 64, 2, 64, 64, false)).toBe(34_078_720);
    expect(chooseScalingStrategy(64, 2, 64, 64, false)).toBe("rotate-rows");
  });

  it("the choice is the arg-min of scalingCost (first in the order gram, rotate-rows, rotate-gradients on ties)", () => {
    for (const n of [1, 2, 7])
      for (const t of [1, 2, 3, 9])
        for (const a of [1, 3, 20])
          for (const g of [1, 4, 33])
            for (const id of [true, false]) {
              const costs = STRATEGIES.map((s) => scalingCost(s, n, t, a, g, id));
              const min = Math.min(...costs);
              expect(chooseScalingStrategy(n, t, a, g, id)).toBe(STRATEGIES[costs.indexOf(min)]);
            }
    // A tie: T = 1 with the identity basis costs N·g·a for gram and for rotate-rows → gram.
    expect(scalingCost("gram", 5, 1, 3, 4, true)).toBe(scalingCost("rotate-rows", 5, 1, 3, 4, true));
    expect(chooseScalingStrategy(5, 1, 3, 4, true)).toBe("gram");
    // A tie between rotate-rows and rotate-gradients (T = 2, identity): 2·N·g·a each, gram 3·N·g·a → rows.
    expect(scalingCost("rotate-rows", 5, 2, 3, 4, true)).toBe(scalingCost("rotate-gradients", 5, 2, 3, 4, true));
    expect(chooseScalingStrategy(5, 2, 3, 4, true)).toBe("rotate-rows");
  });

  it("the check of the shared rows is exact on small layers and probed (8 directions) on large ones", () => {
    expect(SHARED_ROWS_PROBES).toBe(8);
    // a = g = 64: exact 4096R + 4096, probes 8·(128R + 4096) = 1024R + 32 768 — R = 9 exact, R = 10 probes.
    expect(sharedRowsCheck(9, 64, 64)).toBe("exact");
    expect(sharedRowsCheckCost(9, 64, 64)).toBe(9 * 4096 + 4096);
    expect(sharedRowsCheck(10, 64, 64)).toBe("probes");
    expect(sharedRowsCheckCost(10, 64, 64)).toBe(8 * (10 * 128 + 4096));
    // The demo autoencoder's first layer at batch 250: 3.7 M for the probes against 50.4 M.
    expect(sharedRowsCheck(250, 785, 256)).toBe("probes");
    expect(sharedRowsCheckCost(250, 785, 256)).toBe(3_689_680);
    // A tie is exact: R = 9, a = g = 72 → 8·(648 + 648 + 5184) = 9·5184 + 5184 = 51 840.
    expect(sharedRowsCheckCost(9, 72, 72)).toBe(51_840);
    expect(sharedRowsCheck(9, 72, 72)).toBe("exact");
    // The rule on other shapes: whichever is cheaper.
    for (const [r, a, g] of [
      [1, 1, 7],
      [3, 4, 5],
      [12, 40, 30],
      [250, 1001, 500],
    ] as const) {
      const probes = 8 * (r * a + r * g + g * a);
      const exact = r * g * a + g * a;
      expect(sharedRowsCheck(r, a, g)).toBe(probes < exact ? "probes" : "exact");
      expect(sharedRowsCheckCost(r, a, g)).toBe(Math.min(probes, exact));
    }
  });

  it("the rotated gradient's sources cost g·a·(g + a), R·g·a plus the check, and R·g² more for the loss's rows", () => {
    expect(rotatedGradientCost("rotate", 3, 2, 4, 5)).toBe(20 * 9);
    // R = 6, exact check (6·20 + 20 < 8·(24 + 30 + 20)).
    expect(rotatedGradientCost("from-rows", 3, 2, 4, 5)).toBe(2 * 6 * 20 + 20);
    expect(rotatedGradientCost("from-loss-rows", 3, 2, 4, 5)).toBe(6 * 25 + 2 * 6 * 20 + 20);
    // R = 6 ⇒ from-rows 260 > rotate 180 → rotate; a = g = 64, R = 2: 12 288 < 524 288 → from-rows.
    expect(chooseRotatedGradientSource("gram", 3, 2, 4, 5)).toBe("rotate");
    expect(chooseRotatedGradientSource("gram", 2, 1, 64, 64)).toBe("from-rows");
    expect(chooseRotatedGradientSource("rotate-rows", 2, 1, 64, 64)).toBe("from-rows");
    // rotate-gradients builds no rows, so it always rotates.
    expect(chooseRotatedGradientSource("rotate-gradients", 2, 1, 64, 64)).toBe("rotate");
    // A tie keeps "rotate": R = 2, a = 2, g = 3 → rotate 6·5 = 30, from-rows 2·2·6 + 6 = 30.
    expect(rotatedGradientCost("rotate", 2, 1, 2, 3)).toBe(rotatedGradientCost("from-rows", 2, 1, 2, 3));
    expect(chooseRotatedGradientSource("gram", 2, 1, 2, 3)).toBe("rotate");
    // Either side of the break-even, strictly, with the exact check:
    // a = g = 8: rotate 1024, from-rows 128R + 64 → R = 7: 960 (<) from-rows, R = 8: 1088 (>) rotate.
    expect(chooseRotatedGradientSource("gram", 7, 1, 8, 8)).toBe("from-rows");
    expect(chooseRotatedGradientSource("gram", 8, 1, 8, 8)).toBe("rotate");
    // …and with the probed one: a = g = 64, rotate 524 288, from-rows 5120R + 32 768 for R ≥ 10 —
    // R = 95 below, R = 96 a tie, which rotates.
    expect(rotatedGradientCost("from-rows", 96, 1, 64, 64)).toBe(rotatedGradientCost("rotate", 96, 1, 64, 64));
    expect(chooseRotatedGradientSource("gram", 95, 1, 64, 64)).toBe("from-rows");
    expect(chooseRotatedGradientSource("gram", 96, 1, 64, 64)).toBe("rotate");
  });

  it("deflated bases: rotations cost the squares of the sizes they work in; the full sizes are the default", () => {
    // N = 3, T = 2 (R = 6), a = 4, g = 5 rotating in a' = 3, g' = 2.
    expect(scalingCost("gram", 3, 2, 4, 5, false, 3, 2)).toBe(6 * (9 + 4) + 9 * 20);
    expect(scalingCost("rotate-rows", 3, 2, 4, 5, false, 3, 2)).toBe(6 * (9 + 4) + 6 * 20);
    expect(scalingCost("rotate-gradients", 3, 2, 4, 5, false, 3, 2)).toBe(6 * 20 + 3 * (4 * 4 + 5 * 9));
    expect(scalingCost("rotate-gradients", 3, 2, 4, 5, true, 3, 2)).toBe(6 * 20); // identity: no rotation at all
    expect(rotatedGradientCost("rotate", 3, 2, 4, 5, 3, 2)).toBe(4 * 4 + 5 * 9);
    expect(rotatedGradientCost("from-loss-rows", 3, 2, 4, 5, 3, 2)).toBe(6 * 4 + 2 * 6 * 20 + 20);
    for (const s of STRATEGIES) {
      for (const id of [true, false]) expect(scalingCost(s, 4, 3, 7, 5, id, 7, 5)).toBe(scalingCost(s, 4, 3, 7, 5, id));
    }
    // A flip: the demo autoencoder's first layer (N = 250, a = 785, g = 256, the loss's rows beside a
    // sampled Fisher) takes S*'s rows at the full basis and at a' = 544 (the batch's 241 zero pixels),
    // but rotates ∇ once a' ≤ 100: g·a'² no longer outweighs R·g² + R·g·a + the probed check.
    expect(chooseRotatedGradientSource("gram", 250, 1, 785, 256, "loss")).toBe("from-loss-rows");
    expect(chooseRotatedGradientSource("gram", 250, 1, 785, 256, "loss", 544, 256)).toBe("from-loss-rows");
    expect(chooseRotatedGradientSource("gram", 250, 1, 785, 256, "loss", 100, 256)).toBe("rotate");
    // …and S*'s strategy: T = 20 positions, a = 27, g = 16, N = 8 rotates the per-example gradients at
    // the full sizes (rows 226 720 against 217 728 multiply-adds) but the rows once U_A rotates in
    // a' = 10 (126 080 against 137 216): the rows' cost falls with a'², the gradients' only as g·a'².
    expect(chooseScalingStrategy(8, 20, 27, 16, false)).toBe("rotate-gradients");
    expect(scalingCost("rotate-rows", 8, 20, 27, 16, false, 10, 16)).toBe(126_080);
    expect(scalingCost("rotate-gradients", 8, 20, 27, 16, false, 10, 16)).toBe(137_216);
    expect(chooseScalingStrategy(8, 20, 27, 16, false, 10, 16)).toBe("rotate-rows");
  });

  it("workspace rows: gram holds the rotated rows and the pair rows, rotate-rows the rotated rows, rotate-gradients none", () => {
    // R = 6, a + g = 9, pairs = 9.
    expect(scalingRowsSize("gram", 3, 2, 4, 5)).toBe(6 * 9 + 9 * 9);
    expect(scalingRowsSize("rotate-rows", 3, 2, 4, 5)).toBe(6 * 9);
    expect(scalingRowsSize("rotate-gradients", 3, 2, 4, 5)).toBe(0);
  });
});

// A random orthogonal k×k basis (Gram–Schmidt on random columns), eigenvectors as columns, row-major.
function orthogonal(k: number, seed: number): Float64Array {
  const m = fill(k * k, seed);
  for (let j = 0; j < k; j++) {
    for (let p = 0; p < j; p++) {
      let d = 0;
      for (let i = 0; i < k; i++) d += (m[i * k + j] as number) * (m[i * k + p] as number);
      for (let i = 0; i < k; i++) m[i * k + j] = (m[i * k + j] as number) - d * (m[i * k + p] as number);
    }
    let nrm = 0;
    for (let i = 0; i < k; i++) nrm += (m[i * k + j] as number) ** 2;
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < k; i++) m[i * k + j] = (m[i * k + j] as number) / nrm;
  }
  return m;
}

// S*[i,j] = (1/N) Σ_n ((U_Gᵀ ∇_n U_A)[i,j])², ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ, by the definition.
function reference(
  a: Float64Array,
  g: Float64Array,
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  uA: Float64Array | null,
  uG: Float64Array | null,
): Float64Array {
  const s = new Float64Array(gDim * aDim);
  for (let e = 0; e < n; e++) {
    const grad = new Float64Array(gDim * aDim);
    for (let p = 0; p < t; p++)
      for (let i = 0; i < gDim; i++)
        for (let j = 0; j < aDim; j++)
          grad[i * aDim + j] =
            (grad[i * aDim + j] as number) +
            (g[(e * t + p) * gDim + i] as number) * (a[(e * t + p) * aDim + j] as number);
    for (let i = 0; i < gDim; i++)
      for (let j = 0; j < aDim; j++) {
        let m = 0;
        for (let k = 0; k < gDim; k++)
          for (let l = 0; l < aDim; l++)
            m +=
              (uG === null ? (k === i ? 1 : 0) : (uG[k * gDim + i] as number)) *
              (grad[k * aDim + l] as number) *
              (uA === null ? (l === j ? 1 : 0) : (uA[l * aDim + j] as number));
        s[i * aDim + j] = (s[i * aDim + j] as number) + (m * m) / n;
      }
  }
  return s;
}

describe("scalingInto", () => {
  const shapes = [
    { n: 3, t: 1, aDim: 4, gDim: 3 },
    { n: 2, t: 3, aDim: 3, gDim: 2 },
    { n: 1, t: 4, aDim: 2, gDim: 5 },
  ];
  for (const { n, t, aDim, gDim } of shapes) {
    for (const basis of [true, false]) {
      for (const strategy of STRATEGIES) {
        it(`S* by "${strategy}" equals the definition (N = ${n}, T = ${t}, a = ${aDim}, g = ${gDim}, ${basis ? "eigenbasis" : "identity"}), at offsets`, () => {
          const r = n * t;
          const aOff = 3;
          const gOff = 5;
          const outOff = 2;
          const a = fill(aOff + r * aDim, 11 + n);
          const g = fill(gOff + r * gDim, 23 + t);
          const uA = basis ? orthogonal(aDim, 7) : null;
          const uG = basis ? orthogonal(gDim, 9) : null;
          const uAb = uA === null ? null : Float64Array.from([0, ...uA]);
          const uGb = uG === null ? null : Float64Array.from([0, 0, ...uG]);
          const out = new Float64Array(outOff + gDim * aDim + 2).fill(99);
          const ws = {
            rows: new Float64Array(scalingRowsSize(strategy, n, t, aDim, gDim)).fill(Number.NaN),
            m1: new Float64Array(gDim * aDim).fill(Number.NaN),
            m2: new Float64Array(gDim * aDim).fill(Number.NaN),
          };
          const rA = uAb === null ? null : new BasisRotation(uAb).reset(uAb, 1, aDim);
          const rG = uGb === null ? null : new BasisRotation(uGb).reset(uGb, 2, gDim);
          const res = scalingInto(out, outOff, a, aOff, g, gOff, n, t, aDim, gDim, rA, rG, strategy, ws);
          expect(res).toBe(out);
          const ref = reference(a.subarray(aOff), g.subarray(gOff), n, t, aDim, gDim, uA, uG);
          for (let k = 0; k < gDim * aDim; k++) expect(out[outOff + k]).toBeCloseTo(ref[k] as number, 13);
          // Nothing outside [outOff, outOff + g·a) is written.
          expect([out[0], out[1], out[outOff + gDim * aDim], out[outOff + gDim * aDim + 1]]).toEqual([99, 99, 99, 99]);
        });
      }
    }
  }
});

describe("scalingInto in float32: no subnormal operands for the gram product", () => {
  it("pair-row entries below 2⁻⁶³ are stored as 0, and S* moves by at most τ·(λ_G[i] + λ_A[j]) beyond float32 rounding", () => {
    // T = 1, identity basis: the rows are the pair rows' square roots. Some entries are tiny
    // (1e-22 … 1e-30: their squares are below float32's smallest normal number), as rotated rows of a
    // factor with a near-null space are.
    const n = 6;
    const aDim = 5;
    const gDim = 4;
    const a = fill(n * aDim, 3);
    const g = fill(n * gDim, 4);
    for (const [i, v] of [
      [1, 1e-22],
      [7, -3e-25],
      [12, 1e-30],
    ] as const)
      a[i] = v;
    g[5] = 2e-23;
    const tau = 2 ** -63;
    const ws32 = {
      rows: new Float32Array(scalingRowsSize("gram", n, 1, aDim, gDim)),
      m1: new Float32Array(gDim * aDim),
      m2: new Float32Array(gDim * aDim),
    };
    const out32 = scalingInto(
      new Float32Array(gDim * aDim),
      0,
      Float32Array.from(a),
      0,
      Float32Array.from(g),
      0,
      n,
      1,
      aDim,
      gDim,
      null,
      null,
      "gram",
      ws32,
    );
    const pairRows = ws32.rows.subarray(n * (aDim + gDim));
    expect(pairRows.every((v) => v === 0 || Math.abs(v) >= tau)).toBe(true);
    expect(pairRows.some((v) => v === 0)).toBe(true); // the tiny squares were flushed, not kept
    const ref = reference(a, g, n, 1, aDim, gDim, null, null);
    // λ_A[j], λ_G[i] with the identity basis: the mean squares of the columns.
    const meanSq = (x: Float64Array, dim: number, j: number): number => {
      let s = 0;
      for (let e = 0; e < n; e++) s += (x[e * dim + j] as number) ** 2;
      return s / n;
    };
    for (let i = 0; i < gDim; i++) {
      for (let j = 0; j < aDim; j++) {
        const want = ref[i * aDim + j] as number;
        const bound = tau * (meanSq(g, gDim, i) + meanSq(a, aDim, j)) + 4 * 2 ** -24 * Math.abs(want);
        expect(Math.abs((out32[i * aDim + j] as number) - want)).toBeLessThanOrEqual(bound);
      }
    }
  });
});
