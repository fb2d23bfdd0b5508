/**
 * cholesky.ts at its edges: a pivot that is exactly zero (the factorisation needs > 0, not ≥ 0); the
 * partial factor left by a failed factorisation, which follows LAPACK dpotf2 (rows before the failing
 * one are complete, the failing row holds its L entries and the non-positive pivot on its diagonal, its
 * strict upper part is zeroed, rows after it are not touched, so in place they still hold A); triangular
 * solves whose T has structural zeros, which must not spread a non-finite entry of B into rows that do
 * not depend on it (X = B for T = I, ±Inf included); the default `lower: true` when only `transpose`
 * is given; and spdInverse on a matrix whose inverse is huge but representable (its symmetrisation must
 * not overflow). Exact small-integer inputs, so the expected values are exact.
 */
import { describe, expect, it } from "vitest";
import { cholesky, choleskyInto, solveTriangular, spdInverse } from "./cholesky.ts";
import { eye, fromRows, type Matrix } from "./matrix.ts";

/** Lower triangle: a PD leading 2×2 block (L = [[2, 0], [1, 2]]), then pivot 2 = 0.5 − 1 − 0 = −0.5. */
const INDEFINITE = [
  [4, 2, 2, 1],
  [2, 5, 1, 2],
  [2, 1, 0.5, 3],
  [1, 2, 3, 9],
];
const rowsOf = (m: Matrix): number[][] =>
  Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));

describe("cholesky: non-positive pivots", () => {
  it("a pivot that is exactly 0 fails (positive definite needs > 0): [[0]], the singular [[1, 1], [1, 1]]", () => {
    const zero = cholesky(fromRows([[0]], "float64"));
    expect(zero.status).toBe("not-positive-definite");
    expect(zero.failedAt).toBe(0);
    const singular = cholesky(
      fromRows(
        [
          [1, 1],
          [1, 1],
        ],
        "float64",
      ),
    );
    expect(singular.status).toBe("not-positive-definite");
    expect(singular.failedAt).toBe(1);
    expect(rowsOf(singular.factor)).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });

  it("the partial factor is LAPACK dpotf2's: complete rows, then the failing row with its pivot", () => {
    const r = cholesky(fromRows(INDEFINITE, "float64"));
    expect(r.status).toBe("not-positive-definite");
    expect(r.failedAt).toBe(2);
    expect(rowsOf(r.factor)).toEqual([
      [2, 0, 0, 0],
      [1, 2, 0, 0],
      [1, 0, -0.5, 0],
      [0, 0, 0, 0], // never written: the fresh output's zeros
    ]);
  });

  it("in place, the failing row's upper part is zeroed and the rows after it still hold A", () => {
    const a = fromRows(INDEFINITE, "float64");
    const r = choleskyInto(a, a);
    expect(r.status).toBe("not-positive-definite");
    expect(r.factor).toBe(a);
    expect(rowsOf(a)).toEqual([[2, 0, 0, 0], [1, 2, 0, 0], [1, 0, -0.5, 0], INDEFINITE[3]]);
  });

  it("into an output holding garbage, the failing row's strict upper part is zeroed too", () => {
    const a = fromRows(INDEFINITE, "float64");
    const out = fromRows(
      Array.from({ length: 4 }, () => [7, 7, 7, 7]),
      "float64",
    );
    choleskyInto(out, a);
    expect(rowsOf(out).slice(0, 3)).toEqual([
      [2, 0, 0, 0],
      [1, 2, 0, 0],
      [1, 0, -0.5, 0],
    ]);
  });
});

describe("solveTriangular: structure and defaults", () => {
  it("T = I gives X = B exactly, ±Inf included, for all four (lower, transpose) combinations", () => {
    const b = fromRows(
      [
        [Infinity, 1],
        [1, 2],
        [3, -Infinity],
      ],
      "float64",
    );
    for (const lower of [true, false]) {
      for (const transpose of [false, true]) {
        const x = solveTriangular(eye(3, "float64"), b, { lower, transpose });
        expect(rowsOf(x), `lower ${lower} transpose ${transpose}`).toEqual(rowsOf(b));
      }
    }
  });

  it("transpose alone keeps the default lower: solves Lᵀ·x = b with L's lower triangle", () => {
    const l = fromRows(
      [
        [2, 0],
        [1, 1],
      ],
      "float64",
    );
    const b = fromRows([[3], [1]], "float64"); // Lᵀ = [[2, 1], [0, 1]]: x = [1, 1]
    expect(Array.from(solveTriangular(l, b, { transpose: true }).data)).toEqual([1, 1]);
    expect(Array.from(solveTriangular(l, b, { lower: true, transpose: true }).data)).toEqual([1, 1]);
  });
});

describe("spdInverse near the top of the range", () => {
  it("diag(1e-308, 2)⁻¹ = diag(1e308, 0.5): finite, the symmetrisation does not overflow", () => {
    const inv = spdInverse(
      fromRows(
        [
          [1e-308, 0],
          [0, 2],
        ],
        "float64",
      ),
    );
    const x00 = inv.data[0] as number;
    expect(Number.isFinite(x00)).toBe(true);
    expect(Math.abs(x00 - 1e308) / 1e308).toBeLessThanOrEqual(4 * 2 ** -52);
    expect(inv.data[1]).toBe(0);
    expect(inv.data[2]).toBe(0);
    expect(Math.abs((inv.data[3] as number) - 0.5)).toBeLessThanOrEqual(2 ** -52);
  });
});
