import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import {
  exactFisher,
  frobeniusDistance,
  kroneckerDense,
  meanGradient,
  perExampleGradients,
  perExampleGradientsInto,
  traceOf,
} from "./exact-fisher.ts";

// ∇_n[k·g + i, j] = Σ_t g[k, n, t, i] · ā[k, n, t, j] (group k fills its own rows), by the definition.
function gradients(c: ReturnType<typeof randomCase>, aDim: number, gDim: number, groups: number): number[][] {
  const { batchSize: n, positions: t, a, g } = c.stats;
  const rows = n * t;
  const p = groups * gDim * aDim;
  const out: number[][] = [];
  for (let e = 0; e < n; e++) {
    const v = new Array<number>(p).fill(0);
    for (let k = 0; k < groups; k++)
      for (let s = 0; s < t; s++)
        for (let i = 0; i < gDim; i++)
          for (let j = 0; j < aDim; j++) {
            const r = k * rows + e * t + s;
            v[(k * gDim + i) * aDim + j] =
              (v[(k * gDim + i) * aDim + j] as number) + (g[r * gDim + i] as number) * (a[r * aDim + j] as number);
          }
    out.push(v);
  }
  return out;
}

describe("the exact Fisher block F = (1/N) Σ_n vec(∇_n) vec(∇_n)ᵀ", () => {
  // A grouped conv: 2 groups of 2 output channels, 3 inputs + bias per group, N = 3, T = 2.
  const c = randomCase(5, "conv2d", 4, 3, true, 3, 2, 2);
  // Zero gradients in some rows exercise the skip of zero terms.
  c.stats.g[0] = 0;
  c.stats.g[5] = 0;
  const aDim = 4;
  const gDim = 2;
  const groups = 2;
  const p = groups * gDim * aDim;
  const v = gradients(c, aDim, gDim, groups);

  it("perExampleGradients: row n is vec(∇_n), group k in rows k·g … of ∇_n", () => {
    const got = perExampleGradients(c.shape, c.stats);
    expect(got.length).toBe(3 * p);
    for (let e = 0; e < 3; e++)
      for (let i = 0; i < p; i++) expect(got[e * p + i]).toBeCloseTo((v[e] as number[])[i] as number, 14);
  });

  it("perExampleGradientsInto writes at a row stride and column offset and touches nothing else", () => {
    const stride = p + 5;
    const col = 2;
    const out = new Float64Array(3 * stride).fill(7);
    perExampleGradientsInto(out, stride, col, { aDim, gDim, groups, size: p } as never, c.stats);
    for (let e = 0; e < 3; e++) {
      for (let i = 0; i < stride; i++) {
        const inside = i >= col && i < col + p;
        if (inside) expect(out[e * stride + i]).toBeCloseTo((v[e] as number[])[i - col] as number, 14);
        else expect(out[e * stride + i]).toBe(7);
      }
    }
  });

  it("exactFisher is (1/N) Σ_n v_n v_nᵀ (cross-group blocks included), symmetric", () => {
    const f = exactFisher(c.shape, c.stats);
    expect(f.length).toBe(p * p);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (const vn of v) s += ((vn[i] as number) * (vn[j] as number)) / 3;
        expect(f[i * p + j]).toBeCloseTo(s, 13);
      }
    // A cross-group entry is not zero in general.
    expect(Math.abs(f[0 * p + (gDim * aDim + 1)] as number)).toBeGreaterThan(0);
  });

  it("meanGradient is (1/N) Σ_n vec(∇_n)", () => {
    const m = meanGradient(c.shape, c.stats);
    expect(m.length).toBe(p);
    for (let i = 0; i < p; i++) {
      const s = v.reduce((acc, vn) => acc + (vn[i] as number), 0) / 3;
      expect(m[i]).toBeCloseTo(s, 14);
    }
  });

  it("perExampleGradients rejects a bad shape or mismatched statistics, naming itself", () => {
    expect(() => perExampleGradients({ ...c.shape, outDim: 0 }, c.stats)).toThrow(/perExampleGradients/);
    expect(() => perExampleGradients(c.shape, { ...c.stats, a: c.stats.a.subarray(1) })).toThrow(
      /perExampleGradients: statistics.a/,
    );
  });
});

describe("helpers", () => {
  it("frobeniusDistance = sqrt(Σ (x − y)²); lengths must agree", () => {
    expect(frobeniusDistance([1, 2, 3], [1, 0, 0])).toBe(Math.sqrt(4 + 9));
    expect(frobeniusDistance([3, -4], [0, 0])).toBe(5);
    expect(frobeniusDistance([], [])).toBe(0);
    expect(() => frobeniusDistance([1, 2], [1])).toThrow(new RangeError("frobeniusDistance: lengths differ (2 vs 1)"));
  });

  it("traceOf sums the diagonal of a square row-major matrix; a non-square length is a RangeError", () => {
    expect(traceOf([1, 2, 3, 4])).toBe(5);
    expect(traceOf([1, 9, 9, 9, 2, 9, 9, 9, 3])).toBe(6);
    expect(traceOf([7])).toBe(7);
    expect(() => traceOf([1, 2, 3])).toThrow(new RangeError("traceOf: length 3 is not a square"));
  });

  it("kroneckerDense: (G ⊗ A)[(i,j),(k,l)] = G[i,k]·A[j,l]", () => {
    const gm = [1, 2, 3, 4];
    const am = [5, 6, 7, 8, 9, 10, 11, 12, 13];
    const k = kroneckerDense(gm, 2, am, 3);
    expect(k.length).toBe(36);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let kk = 0; kk < 2; kk++)
          for (let l = 0; l < 3; l++)
            expect(k[(i * 3 + j) * 6 + kk * 3 + l]).toBe((gm[i * 2 + kk] as number) * (am[j * 3 + l] as number));
  });
});
