import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomMatrix } from "../test/random-matrix.ts";
import { gemm } from "./gemm.ts";
import { gemmWorkspace } from "./internal/gemm-kernel.ts";
import { type DType, epsilonOf, type Matrix, view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";
import { syrk, syrkStrided } from "./syrk.ts";

/** A symmetric matrix (so that β·C has the same meaning for syrk, which reads one triangle, and gemm). */
function randomSymmetric(rng: Rng, d: number, dtype: DType): Matrix {
  const c = zeros(d, d, dtype);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = 2 * rng.uniform() - 1;
      c.data[i * d + j] = v;
      c.data[j * d + i] = v;
    }
  }
  return c;
}

/** Entrywise |α|·|X|ᵀ|X| + |β|·|C0|, the magnitude that bounds the rounding error of both products. */
function magnitude(x: Matrix, trans: boolean, alpha: number, beta: number, c0: Matrix): Float64Array {
  const d = c0.rows;
  const k = trans ? x.rows : x.cols;
  const out = new Float64Array(d * d);
  const xe = (p: number, i: number): number => (trans ? x.data[p * x.cols + i] : x.data[i * x.cols + p]) as number;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let t = 0;
      for (let p = 0; p < k; p++) t += Math.abs(xe(p, i) * xe(p, j));
      out[i * d + j] = Math.abs(alpha) * t + Math.abs(beta * (c0.data[i * d + j] as number));
    }
  }
  return out;
}

const isExactlySymmetric = (c: Matrix): boolean => {
  for (let i = 0; i < c.rows; i++)
    for (let j = 0; j < i; j++) if (!Object.is(c.data[i * c.cols + j], c.data[j * c.cols + i])) return false;
  return true;
};

describe("syrk", () => {
  it("syrk(α, X, β, C) = gemm(α, Xᵀ, X, β, C) within the forward-error bound, and is exactly symmetric", () => {
    const dim = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 9, max: 150 }));
    fc.assert(
      fc.property(
        fc.record({
          d: dim,
          k: fc.integer({ min: 0, max: 40 }),
          trans: fc.boolean(),
          dtype: fc.constantFrom<DType>("float32", "float64"),
          alpha: fc.constantFrom(1, -0.5, 1 / 64, 0),
          beta: fc.constantFrom(0, 1, 0.25),
          seed: fc.nat(),
        }),
        ({ d, k, trans, dtype, alpha, beta, seed }) => {
          const rng = new Rng(seed);
          const x = trans ? randomMatrix(rng, k, d, dtype, "uniform") : randomMatrix(rng, d, k, dtype, "uniform");
          const c0 = randomSymmetric(rng, d, dtype);
          const c = { rows: d, cols: d, data: c0.data.slice() };
          const ref = { rows: d, cols: d, data: c0.data.slice() };
          syrk(alpha, x, beta, c, { trans });
          gemm(trans, !trans, alpha, x, x, beta, ref);
          if (!isExactlySymmetric(c)) throw new Error("not exactly symmetric");
          const mag = magnitude(x, trans, alpha, beta, c0);
          let err2 = 0;
          let mag2 = 0;
          for (let i = 0; i < d * d; i++) {
            err2 += ((c.data[i] as number) - (ref.data[i] as number)) ** 2;
            mag2 += (mag[i] as number) ** 2;
          }
          // Both results are within (k + 2)·u·mag of the exact one.
          const bound = (k + 2) * epsilonOf(c.data) * Math.sqrt(mag2);
          if (Math.sqrt(err2) > bound) throw new Error(`‖syrk − gemm‖_F = ${Math.sqrt(err2)} > ${bound}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("the default is C = α·XᵀX + β·C (the KFAC factor āᵀā / N); trans: false gives X·Xᵀ", () => {
    const x = { rows: 2, cols: 3, data: new Float64Array([1, 2, 3, 4, 5, 6]) };
    const c = zeros(3, 3, "float64");
    syrk(0.5, x, 0, c);
    expect(Array.from(c.data)).toEqual([8.5, 11, 13.5, 11, 14.5, 18, 13.5, 18, 22.5]);
    const g = zeros(2, 2, "float64");
    syrk(1, x, 0, g, { trans: false });
    expect(Array.from(g.data)).toEqual([14, 32, 32, 77]);
  });

  it("β = 0 overwrites C and only the lower triangle of the old C is read", () => {
    const x = { rows: 1, cols: 2, data: new Float32Array([1, 2]) };
    const c = { rows: 2, cols: 2, data: new Float32Array([Number.NaN, Number.NaN, Number.NaN, Number.NaN]) };
    syrk(1, x, 0, c);
    expect(Array.from(c.data)).toEqual([1, 2, 2, 4]);
    const c2 = { rows: 2, cols: 2, data: new Float32Array([10, Number.NaN, 20, 30]) }; // upper NaN is ignored
    syrk(1, x, 1, c2);
    expect(Array.from(c2.data)).toEqual([11, 22, 22, 34]);
  });

  it("works on strided views of X and C and leaves the rest of C's buffer alone", () => {
    const rng = new Rng(3);
    const big = randomMatrix(rng, 90, 80, "float64", "uniform");
    const x = view(big, 3, 5, 70, 66);
    const cBig = zeros(70, 70, "float64").data.fill(9);
    const cMat = { rows: 70, cols: 70, data: cBig };
    const c = view(cMat, 2, 1, 66, 66);
    syrk(1, x, 0, c);
    const ref = zeros(66, 66, "float64");
    gemm(true, false, 1, x, x, 0, ref);
    for (let i = 0; i < 66; i++) {
      for (let j = 0; j < 66; j++) {
        expect(Math.abs((cBig[(2 + i) * 70 + 1 + j] as number) - (ref.data[i * 66 + j] as number))).toBeLessThan(1e-12);
      }
    }
    expect(cBig[0]).toBe(9);
    expect(cBig[2 * 70]).toBe(9);
    expect(cBig[69 * 70 + 69]).toBe(9);
  });

  it("syrkStrided on raw buffers equals syrk on the same views bit for bit, both orientations", () => {
    const rng = new Rng(7);
    for (const dtype of ["float32", "float64"] as const) {
      for (const trans of [true, false]) {
        const big = randomMatrix(rng, 90, 80, dtype, "uniform");
        const x = view(big, 3, 5, trans ? 70 : 66, trans ? 66 : 70); // d = 66, k = 70
        const viaView = view({ rows: 70, cols: 70, data: zeros(70, 70, dtype).data.fill(0.5) }, 2, 1, 66, 66);
        syrk(0.25, x, 0.5, viaView, { trans });
        const raw = zeros(70, 70, dtype).data.fill(0.5);
        const out = syrkStrided(trans, 66, 70, 0.25, big.data, 3 * 80 + 5, 80, 0.5, raw, 2 * 70 + 1, 70);
        expect(out).toBe(raw);
        expect(Array.from(raw)).toEqual(Array.from(viaView.data));
      }
    }
  });

  it("syrkStrided refuses bad input, naming itself and the argument, before writing anything", () => {
    const x = new Float32Array(15);
    const c = new Float32Array(9).fill(7);
    expect(() => syrkStrided(true, 3, 5, 1, x, 0, 3, 0, new Float32Array(8), 0, 3)).toThrow(
      /^syrkStrided: c \(stored 3×3, offset 0, ld 3\) needs 9 elements, has 8$/,
    );
    expect(() => syrkStrided(true, 3, 6, 1, x, 0, 3, 0, c, 0, 3)).toThrow(/syrkStrided: x \(stored 6×3/);
    expect(() => syrkStrided(true, 3, 5, 1, x, 0, 2, 0, c, 0, 3)).toThrow(/syrkStrided: ldx = 2 must be ≥ max\(1, 3\)/);
    expect(() => syrkStrided(true, -1, 5, 1, x, 0, 3, 0, c, 0, 3)).toThrow(/syrkStrided: d must be a non-negative/);
    expect(() => syrkStrided(true, 3, 5, 1, x, 0, 3, 0, new Float64Array(9), 0, 3)).toThrow(TypeError);
    expect(() => syrkStrided(true, 3, 3, 1, c, 0, 3, 0, c, 0, 3)).toThrow(/syrkStrided: c must not share its buffer/);
    expect(() => syrkStrided(true, 3, 5, 1, x, 0, 3, 0, c, 0, 3, 1 as unknown as boolean)).toThrow(
      /^syrkStrided: mirror must be a boolean \(got 1\)$/,
    );
    expect(Array.from(c)).toEqual(new Array(9).fill(7));
  });

  it("mirror: false writes the same lower triangle and diagonal, and leaves the upper one unmirrored", () => {
    // d = 150 spans two row blocks of the kernels: above the diagonal the skipped blocks keep β·C
    // (β = 1: 7), the rest the product wrote.
    const rng = new Rng(11);
    const x = randomMatrix(rng, 40, 150, "float32", "uniform");
    const full = new Float32Array(150 * 150).fill(7);
    const lower = new Float32Array(150 * 150).fill(7);
    syrkStrided(true, 150, 40, 0.5, x.data, 0, 150, 1, full, 0, 150);
    syrkStrided(true, 150, 40, 0.5, x.data, 0, 150, 1, lower, 0, 150, false);
    let untouched = 0;
    for (let i = 0; i < 150; i++) {
      for (let j = 0; j < 150; j++) {
        if (j <= i) expect(lower[i * 150 + j]).toBe(full[i * 150 + j]);
        else if (lower[i * 150 + j] === 7) untouched++;
      }
    }
    expect(untouched).toBeGreaterThan(0); // the mirror did not run
  });

  it("allocates nothing after warm-up (shares the gemm packing buffers)", () => {
    const rng = new Rng(1);
    const x = randomMatrix(rng, 64, 200, "float32", "uniform");
    const c = zeros(200, 200);
    syrk(1, x, 0, c);
    const before = gemmWorkspace();
    syrk(1 / 64, x, 0.5, c);
    const after = gemmWorkspace();
    expect(after.allocations).toBe(before.allocations);
    expect(after.packA).toBe(before.packA);
  });

  it("bad input throws TypeError/RangeError naming syrk, the argument and the shapes", () => {
    const x = zeros(5, 3);
    expect(() => syrk(1, x, 0, zeros(5, 5))).toThrow(/^syrk: c is 5×5, expected 3×3 for xᵀx with x 5×3$/);
    expect(() => syrk(1, x, 0, zeros(3, 3), { trans: false })).toThrow(
      /syrk: c is 3×3, expected 5×5 for x·xᵀ with x 5×3/,
    );
    expect(() => syrk(1, x, 0, zeros(3, 3, "float64"))).toThrow(TypeError);
    expect(() => syrk(1, { rows: 3, cols: 3, data: [0] } as unknown as Matrix, 0, zeros(3, 3))).toThrow(
      /syrk: x.data must be a Float32Array/,
    );
    const sq = zeros(3, 3);
    expect(() => syrk(1, sq, 0, sq)).toThrow(/syrk: c must not share its buffer with x/);
    expect(() => syrk(null as unknown as number, x, 0, zeros(3, 3))).toThrow(/syrk: alpha must be a number/);
  });
});
