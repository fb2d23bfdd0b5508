import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomMatrix } from "../test/random-matrix.ts";
import {
  cholesky,
  choleskyInto,
  choleskySolve,
  solveTriangular,
  solveTriangularInto,
  spdInverse,
  spdSolve,
} from "./cholesky.ts";
import { randomCovariance, symmetricWithSpectrum } from "./generators.ts";
import { allocate, type DType, epsilonOf, type Matrix } from "./matrix.ts";
import { Rng } from "./random.ts";

/** A well-conditioned SPD matrix: eigenvalues in [1, 10]. */
function spd(n: number, seed: number, dtype: DType): Matrix {
  const rng = new Rng(seed);
  return symmetricWithSpectrum(
    Array.from({ length: n }, () => 1 + 9 * rng.uniform()),
    rng,
    dtype,
  );
}

/** max |(X·Y)_ij − Z_ij| / max(‖Z‖_max, 1), in float64 from the stored values. */
function productError(x: Matrix, y: Matrix, z: Matrix, transY = false): number {
  let err = 0;
  let scale = 1;
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < z.cols; j++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) {
        const ykj = transY ? (y.data[j * y.cols + k] as number) : (y.data[k * y.cols + j] as number);
        s += (x.data[i * x.cols + k] as number) * ykj;
      }
      const zij = z.data[i * z.cols + j] as number;
      err = Math.max(err, Math.abs(s - zij));
      scale = Math.max(scale, Math.abs(zij));
    }
  }
  return err / scale;
}

describe("cholesky", () => {
  for (const dtype of ["float32", "float64"] as const) {
    const eps = dtype === "float32" ? 2 ** -23 : 2 ** -52;
    it(`L·Lᵀ = A with L lower triangular and a positive diagonal (${dtype})`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 30 }), fc.nat(), (n, seed) => {
          const a = spd(n, seed, dtype);
          const r = cholesky(a);
          expect(r.status).toBe("success");
          expect(r.failedAt).toBeUndefined();
          const l = r.factor;
          for (let i = 0; i < n; i++) {
            expect(l.data[i * n + i] as number).toBeGreaterThan(0);
            for (let j = i + 1; j < n; j++) expect(l.data[i * n + j]).toBe(0);
          }
          expect(productError(l, l, a, true)).toBeLessThanOrEqual(16 * Math.max(n, 4) * eps * 10);
        }),
        { numRuns: 40 },
      );
    });

    it(`A·X = B: spdSolve, choleskySolve and triangular solves have small residuals (${dtype})`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 25 }), fc.integer({ min: 1, max: 5 }), fc.nat(), (n, k, seed) => {
          const a = spd(n, seed, dtype);
          const b = randomMatrix(new Rng(seed + 1), n, k, dtype);
          const tol = 64 * Math.max(n, 4) * eps * 10; // κ(A) ≤ 10
          expect(productError(a, spdSolve(a, b), b)).toBeLessThanOrEqual(tol);
          const l = cholesky(a).factor;
          expect(productError(a, choleskySolve(l, b), b)).toBeLessThanOrEqual(tol);
          // op(L)·X = B for the four (lower, transpose) combinations, with Lᵀ as the upper factor.
          const u = { rows: n, cols: n, data: allocate(n * n, dtype) };
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u.data[i * n + j] = l.data[j * n + i] as number;
          const lt = u;
          for (const [t, lower] of [
            [l, true],
            [u, false],
          ] as const) {
            for (const transpose of [false, true]) {
              const x = solveTriangular(t, b, { lower, transpose });
              const opT = transpose ? (lower ? lt : l) : t;
              expect(productError(opT, x, b)).toBeLessThanOrEqual(tol);
            }
          }
        }),
        { numRuns: 30 },
      );
    });
  }

  it("A·A⁻¹ = I and spdInverse is exactly symmetric", () => {
    const n = 12;
    const a = spd(n, 4, "float64");
    const inv = spdInverse(a);
    const eye = { rows: n, cols: n, data: new Float64Array(n * n) };
    for (let i = 0; i < n; i++) eye.data[i * n + i] = 1;
    expect(productError(a, inv, eye)).toBeLessThanOrEqual(1e-13);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(inv.data[i * n + j]).toBe(inv.data[j * n + i]);
  });

  it("unitDiagonal ignores the stored diagonal", () => {
    const t = { rows: 2, cols: 2, data: Float64Array.from([5, 0, 2, 7]) };
    const b = { rows: 2, cols: 1, data: Float64Array.from([1, 4]) };
    expect(Array.from(solveTriangular(t, b, { unitDiagonal: true }).data)).toEqual([1, 2]);
  });

  it("indefinite, singular and NaN inputs give status not-positive-definite with failedAt, never throw", () => {
    const indefinite = symmetricWithSpectrum([3, 2, -1, 4], new Rng(1));
    const r1 = cholesky(indefinite);
    expect(r1.status).toBe("not-positive-definite");
    expect(r1.failedAt).toBeGreaterThanOrEqual(0);
    const singular = randomCovariance(6, 2, new Rng(2)); // rank 2: pivot 2 is ≈ 0
    const r2 = cholesky(singular);
    expect(r2.status).toBe("not-positive-definite");
    expect(r2.failedAt).toBe(2);
    const nan = { rows: 2, cols: 2, data: Float64Array.from([1, 0, Number.NaN, 1]) };
    expect(cholesky(nan).status).toBe("not-positive-definite");
    const first = { rows: 2, cols: 2, data: Float64Array.from([-1, 0, 0, 1]) };
    expect(cholesky(first).failedAt).toBe(0);
    expect(() => spdSolve(indefinite, randomMatrix(new Rng(0), 4, 1, "float64"))).toThrow(
      /spdSolve: a \(4×4\) is not positive definite/,
    );
    expect(() => spdInverse(indefinite)).toThrow(RangeError);
  });

  it("choleskyInto factors in place when out is a", () => {
    const a = spd(7, 5, "float64");
    const ref = cholesky(a).factor;
    const copy = { rows: 7, cols: 7, data: a.data.slice() };
    const r = choleskyInto(copy, copy);
    expect(r.factor).toBe(copy);
    expect(Array.from(copy.data)).toEqual(Array.from(ref.data));
  });

  it("rejects bad input naming the function, the argument and the shapes", () => {
    expect(() => cholesky({ rows: 2, cols: 3, data: new Float64Array(6) })).toThrow(
      /cholesky: a must be square \(got 2×3\)/,
    );
    expect(() => cholesky({ rows: 2, cols: 2, data: [1, 0, 0, 1] as unknown as Float64Array })).toThrow(TypeError);
    const l = { rows: 3, cols: 3, data: new Float64Array(9) };
    expect(() => solveTriangular(l, { rows: 2, cols: 1, data: new Float64Array(2) })).toThrow(
      /solveTriangular: b has 2 rows, expected 3 \(t is 3×3, b is 2×1\)/,
    );
    expect(() =>
      solveTriangular(l, { rows: 3, cols: 1, data: new Float32Array(3) as unknown as Float64Array }),
    ).toThrow(TypeError);
    expect(epsilonOf(l.data)).toBe(2 ** -52);
  });
});

describe("aliasing (issue 19: only identical buffers were checked)", () => {
  it("choleskyInto in place (out = a) equals the out-of-place factor", () => {
    const a = spd(5, 3, "float64");
    const ref = cholesky(a).factor;
    const inPlace = { rows: 5, cols: 5, data: Float64Array.from(a.data) };
    expect(choleskyInto(inPlace, inPlace).status).toBe("success");
    expect(Array.from(inPlace.data)).toEqual(Array.from(ref.data));
  });
  it("choleskyInto with an out that partly overlaps a is a RangeError", () => {
    const a = spd(3, 4, "float64");
    const buf = new Float64Array(12);
    buf.set(a.data, 0);
    const aView = { rows: 3, cols: 3, data: buf.subarray(0, 9) };
    const out = { rows: 3, cols: 3, data: buf.subarray(3, 12) };
    expect(() => choleskyInto(out, aView)).toThrow(/choleskyInto: out and a partly overlap/);
  });
  it("solveTriangularInto with an out that partly overlaps b, or overlaps t, is a RangeError", () => {
    const l = cholesky(spd(3, 5, "float64")).factor;
    const buf = new Float64Array(9);
    buf.set([1, 2, 3, 4, 5, 6], 0);
    const b = { rows: 3, cols: 2, data: buf.subarray(0, 6) };
    const out = { rows: 3, cols: 2, data: buf.subarray(2, 8) };
    expect(() => solveTriangularInto(out, l, b)).toThrow(/out and b partly overlap/);
    const tBuf = new Float64Array(15);
    tBuf.set(l.data);
    const t = { rows: 3, cols: 3, data: tBuf.subarray(0, 9) };
    const outOnT = { rows: 3, cols: 2, data: tBuf.subarray(9, 15) };
    expect(() => solveTriangularInto(outOnT, t, b)).not.toThrow();
    const outInT = { rows: 3, cols: 2, data: tBuf.subarray(5, 11) };
    expect(() => solveTriangularInto(outInT, t, b)).toThrow(/out and t/);
  });
  it("solveTriangularInto in place (out = b) equals the out-of-place solution", () => {
    const l = cholesky(spd(4, 6, "float64")).factor;
    const b = randomMatrix(new Rng(7), 4, 3, "float64");
    const ref = solveTriangular(l, b);
    const inPlace = { rows: 4, cols: 3, data: Float64Array.from(b.data) };
    solveTriangularInto(inPlace, l, inPlace);
    expect(Array.from(inPlace.data)).toEqual(Array.from(ref.data));
  });
});
