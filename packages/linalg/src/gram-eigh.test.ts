/**
 * gramEigh: s·XᵀX = U·diag(λ)·Uᵀ from X's rows. Each test checks a property the file header states:
 * the residual and orthogonality bounds of a backward-stable route, the spectrum against `eigh` of the
 * formed product (Weyl), the exact zeros of the complement and their place (first, ascending), both
 * routes (k < d by LQ, k ≥ d by the formed product), rank deficiency, views, float32 input and output,
 * non-finite input and the argument errors.
 */
import { describe, expect, it } from "vitest";
import { eigh } from "./eigh.ts";
import { gramEigh, gramEighInto } from "./gram-eigh.ts";
import { allocate, type DType, type Matrix, offsetOf, strideOf, view } from "./matrix.ts";
import { Rng } from "./random.ts";

/** k × d Gaussian rows with column scales 1 … 1 + d/10 (a spread spectrum). */
function rowsOf(k: number, d: number, rng: Rng, dtype: DType = "float64"): Matrix {
  const data = allocate(k * d, dtype);
  for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) data[i * d + j] = rng.normal() * (1 + j / 10);
  return { rows: k, cols: d, data };
}

/** s·XᵀX formed in float64 (the reference the laws compare with). */
function product(x: Matrix, s: number): Float64Array {
  const { rows: k, cols: d } = x;
  const ld = strideOf(x);
  const off = offsetOf(x);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let t = 0;
      for (let r = 0; r < k; r++) t += (x.data[off + r * ld + i] as number) * (x.data[off + r * ld + j] as number);
      a[i * d + j] = s * t;
    }
  return a;
}

/** ‖A U − U Λ‖_F / ‖A‖_F and ‖UᵀU − I‖_F. */
function residuals(
  a: Float64Array,
  u: ArrayLike<number>,
  lam: ArrayLike<number>,
  d: number,
): { res: number; orth: number } {
  let res = 0;
  let na = 0;
  let orth = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      na += (a[i * d + j] as number) ** 2;
      let au = 0;
      let utu = 0;
      for (let c = 0; c < d; c++) {
        au += (a[i * d + c] as number) * (u[c * d + j] as number);
        utu += (u[c * d + i] as number) * (u[c * d + j] as number);
      }
      res += (au - (u[i * d + j] as number) * (lam[j] as number)) ** 2;
      orth += (utu - (i === j ? 1 : 0)) ** 2;
    }
  }
  return { res: na > 0 ? Math.sqrt(res / na) : Math.sqrt(res), orth: Math.sqrt(orth) };
}

const EPS = 2 ** -52;

describe("gramEigh: the eigendecomposition of s·XᵀX", () => {
  it("k < d (LQ route) and k ≥ d (formed product): residual, orthogonality, spectrum of eigh(s·XᵀX)", () => {
    const rng = new Rng(3);
    for (const [k, d] of [
      [1, 5],
      [3, 7],
      [13, 40],
      [40, 97],
      [20, 20],
      [30, 12],
    ] as const) {
      const x = rowsOf(k, d, rng);
      const s = 1 / k;
      const a = product(x, s);
      const r = gramEigh(x, { scale: s });
      expect(r.status).toBe("success");
      const u = (r.vectors as Matrix).data;
      const { res, orth } = residuals(a, u, r.values, d);
      expect(res).toBeLessThanOrEqual(8 * Math.max(d, 4) * EPS);
      expect(orth).toBeLessThanOrEqual(8 * Math.max(d, 4) ** 1.5 * EPS);
      const ref = eigh({ rows: d, cols: d, data: a }, { vectors: false }).values;
      let top = 0;
      for (let i = 0; i < d; i++) top = Math.max(top, Math.abs(ref[i] as number));
      for (let i = 0; i < d; i++) {
        expect(Math.abs((r.values[i] as number) - Math.max(0, ref[i] as number))).toBeLessThanOrEqual(
          16 * d * EPS * top,
        );
        if (i > 0) expect(r.values[i] as number).toBeGreaterThanOrEqual(r.values[i - 1] as number);
      }
      // The complement of the row space has eigenvalue exactly 0, and comes first.
      for (let i = 0; i < d - k; i++) expect(r.values[i]).toBe(0);
    }
  });

  it("rank-deficient rows (repeated and zero rows): the rank-r part is exact, the rest exactly 0", () => {
    const rng = new Rng(5);
    const d = 30;
    const base = rowsOf(4, d, rng);
    // 10 rows: the 4 base rows, their copies and sums, two zero rows — rank 4.
    const data = new Float64Array(10 * d);
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < 4; i++) data[i * d + j] = base.data[i * d + j] as number;
      for (let i = 0; i < 3; i++)
        data[(4 + i) * d + j] = (base.data[i * d + j] as number) + (base.data[(i + 1) * d + j] as number);
      data[7 * d + j] = base.data[j] as number;
    }
    const x = { rows: 10, cols: d, data };
    const a = product(x, 0.1);
    const r = gramEigh(x, { scale: 0.1 });
    expect(r.status).toBe("success");
    const { res, orth } = residuals(a, (r.vectors as Matrix).data, r.values, d);
    expect(res).toBeLessThanOrEqual(8 * d * EPS);
    expect(orth).toBeLessThanOrEqual(8 * d ** 1.5 * EPS);
    const top = r.values[d - 1] as number;
    for (let i = 0; i < d - 4; i++) expect(r.values[i] as number).toBeLessThanOrEqual(16 * d * EPS * top);
    expect(r.values[d - 4] as number).toBeGreaterThan(1e-6 * top);
  });

  it("reads X through a view and writes float32 outputs, rounded from the float64 result", () => {
    const rng = new Rng(9);
    const k = 6;
    const d = 19;
    const big = rowsOf(k + 3, d + 5, rng, "float32");
    const x = view(big, 2, 3, k, d);
    const dense = { rows: k, cols: d, data: new Float64Array(k * d) };
    for (let i = 0; i < k; i++)
      for (let j = 0; j < d; j++) dense.data[i * d + j] = big.data[(i + 2) * (d + 5) + j + 3] as number;
    const r64 = gramEigh(dense, { scale: 0.5 });
    const out = { values: new Float32Array(d), vectors: { rows: d, cols: d, data: new Float32Array(d * d) } };
    const r32 = gramEighInto(out, x, { scale: 0.5 });
    expect(r32.status).toBe("success");
    expect(r32.values).toBe(out.values);
    expect(Array.from(out.values)).toEqual(Array.from(r64.values, Math.fround));
    expect(Array.from(out.vectors.data)).toEqual(Array.from((r64.vectors as Matrix).data, Math.fround));
  });

  it("no rows: U = I and λ = 0; scale 0: the zero matrix", () => {
    const r = gramEigh({ rows: 0, cols: 4, data: new Float64Array(0) });
    expect(r.status).toBe("success");
    expect(Array.from((r.vectors as Matrix).data)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(Array.from(r.values)).toEqual([0, 0, 0, 0]);
    const z = gramEigh(rowsOf(2, 5, new Rng(1)), { scale: 0 });
    expect(Array.from(z.values)).toEqual([0, 0, 0, 0, 0]);
  });

  it('NaN or ±Inf in X: status "no-convergence" and NaN outputs', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const [k, d] of [
        [2, 6],
        [6, 3],
      ] as const) {
        const x = rowsOf(k, d, new Rng(2));
        x.data[d + 1] = bad;
        const r = gramEigh(x);
        expect(r.status).toBe("no-convergence");
        expect(Array.from(r.values).every(Number.isNaN)).toBe(true);
        expect(Array.from((r.vectors as Matrix).data).every(Number.isNaN)).toBe(true);
      }
    }
  });

  it("argument errors name the function, the argument, expected and actual", () => {
    const x = rowsOf(2, 4, new Rng(1));
    expect(() => gramEigh(null as unknown as Matrix)).toThrow(TypeError);
    expect(() => gramEigh(x, { scale: -1 })).toThrow(
      /gramEighInto: options\.scale must be a finite number ≥ 0 \(got -1\)/,
    );
    expect(() => gramEigh(x, { scale: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => gramEigh(x, { maxIterations: -2 })).toThrow(RangeError);
    const wrongValues = { values: new Float64Array(3), vectors: { rows: 4, cols: 4, data: new Float64Array(16) } };
    expect(() => gramEighInto(wrongValues, x)).toThrow(/out\.values.*3.*4/);
    const wrongVectors = { values: new Float64Array(4), vectors: { rows: 4, cols: 3, data: new Float64Array(12) } };
    expect(() => gramEighInto(wrongVectors, x)).toThrow(RangeError);
    const mixed = { values: new Float32Array(4), vectors: { rows: 4, cols: 4, data: new Float64Array(16) } };
    expect(() => gramEighInto(mixed as unknown as Parameters<typeof gramEighInto>[0], x)).toThrow(/one element type/);
  });
});
