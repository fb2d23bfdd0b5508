/**
 * cholesky.ts's argument checks, message by message: every public entry point names ITSELF (not the
 * routine it delegates to), the argument at fault, what was expected and what was given, as the
 * package's contract for errors says (internal/checks.ts: TypeError for the wrong kind of value,
 * RangeError for a wrong size or a strided view where a dense matrix is needed). The entry points call
 * one another (solveTriangular → solveTriangularInto, spdSolve → choleskySolve → solveTriangular,
 * spdInverse → cholesky), so a check dropped from the outer one would still throw, from the inner one,
 * under the wrong name: only the full message pins who checked.
 */
import { describe, expect, it } from "vitest";
import {
  cholesky,
  choleskyInto,
  choleskySolve,
  solveTriangular,
  solveTriangularInto,
  spdInverse,
  spdSolve,
} from "./cholesky.ts";
import { type Matrix, view } from "./matrix.ts";

const m64 = (rows: number, cols: number): Matrix<Float64Array> => ({ rows, cols, data: new Float64Array(rows * cols) });
const m32 = (rows: number, cols: number): Matrix<Float64Array> =>
  ({ rows, cols, data: new Float32Array(rows * cols) }) as unknown as Matrix<Float64Array>;
/** The leading 3×3 block of a 4×4 matrix: a strided view (stride 4), square, of the identity. */
function stridedEye3(): Matrix<Float64Array> {
  const big = m64(4, 4);
  for (let i = 0; i < 4; i++) big.data[i * 4 + i] = 1;
  return view(big, 0, 0, 3, 3) as Matrix<Float64Array>;
}
const notAMatrix = null as unknown as Matrix<Float64Array>;

describe("cholesky and choleskyInto name themselves and the argument", () => {
  it("cholesky refuses a strided view of a", () => {
    expect(() => cholesky(stridedEye3())).toThrow(
      new RangeError("cholesky: a must be a dense matrix, not a strided view"),
    );
  });

  it("choleskyInto: a non-square, strided, or of another type than out; out not a matrix, strided or mis-sized", () => {
    expect(() => choleskyInto(m64(2, 3), m64(2, 3))).toThrow(
      new RangeError("choleskyInto: a must be square (got 2×3)"),
    );
    expect(() => choleskyInto(m64(3, 3), stridedEye3())).toThrow(
      new RangeError("choleskyInto: a must be a dense matrix, not a strided view"),
    );
    expect(() => choleskyInto(notAMatrix, m64(3, 3))).toThrow(
      new TypeError("choleskyInto: out must be a matrix {rows, cols, data} (got null)"),
    );
    expect(() => choleskyInto(stridedEye3(), m64(3, 3))).toThrow(
      new RangeError("choleskyInto: out must be a dense matrix, not a strided view"),
    );
    expect(() => choleskyInto(m32(3, 3), m64(3, 3))).toThrow(
      new TypeError("choleskyInto: a is float64 but out is float32; operands must share one element type"),
    );
    // Wrong rows, wrong columns, wrong both: each alone is refused (out must be n×n like a).
    expect(() => choleskyInto(m64(2, 3), m64(3, 3))).toThrow(
      new RangeError("choleskyInto: out is 2×3, expected 3×3 (a is 3×3)"),
    );
    expect(() => choleskyInto(m64(3, 2), m64(3, 3))).toThrow(
      new RangeError("choleskyInto: out is 3×2, expected 3×3 (a is 3×3)"),
    );
    expect(() => choleskyInto(m64(2, 2), m64(3, 3))).toThrow(
      new RangeError("choleskyInto: out is 2×2, expected 3×3 (a is 3×3)"),
    );
  });
});

describe("solveTriangular and solveTriangularInto name themselves and the argument", () => {
  it("solveTriangular: t strided, b not a matrix or strided, b of another type than t", () => {
    expect(() => solveTriangular(stridedEye3(), m64(3, 1))).toThrow(
      new RangeError("solveTriangular: t must be a dense matrix, not a strided view"),
    );
    expect(() => solveTriangular(m64(3, 3), notAMatrix)).toThrow(
      new TypeError("solveTriangular: b must be a matrix {rows, cols, data} (got null)"),
    );
    expect(() => solveTriangular(m64(3, 3), stridedEye3())).toThrow(
      new RangeError("solveTriangular: b must be a dense matrix, not a strided view"),
    );
    expect(() => solveTriangular(m64(3, 3), m32(3, 1))).toThrow(
      new TypeError("solveTriangular: t is float64 but b is float32; operands must share one element type"),
    );
  });

  it("solveTriangularInto: its own checks of t and b, then out not a matrix, strided, of another type or mis-sized", () => {
    expect(() => solveTriangularInto(m64(3, 1), m64(2, 3), m64(2, 1))).toThrow(
      new RangeError("solveTriangularInto: t must be square (got 2×3)"),
    );
    expect(() => solveTriangularInto(m64(3, 1), m64(3, 3), m64(2, 1))).toThrow(
      new RangeError("solveTriangularInto: b has 2 rows, expected 3 (t is 3×3, b is 2×1)"),
    );
    expect(() => solveTriangularInto(notAMatrix, m64(3, 3), m64(3, 1))).toThrow(
      new TypeError("solveTriangularInto: out must be a matrix {rows, cols, data} (got null)"),
    );
    expect(() => solveTriangularInto(stridedEye3(), m64(3, 3), m64(3, 3))).toThrow(
      new RangeError("solveTriangularInto: out must be a dense matrix, not a strided view"),
    );
    expect(() => solveTriangularInto(m32(3, 1), m64(3, 3), m64(3, 1))).toThrow(
      new TypeError("solveTriangularInto: b is float64 but out is float32; operands must share one element type"),
    );
    // Wrong rows, wrong columns, wrong both: out must have b's shape.
    expect(() => solveTriangularInto(m64(2, 2), m64(3, 3), m64(3, 2))).toThrow(
      new RangeError("solveTriangularInto: out is 2×2, expected 3×2"),
    );
    expect(() => solveTriangularInto(m64(3, 1), m64(3, 3), m64(3, 2))).toThrow(
      new RangeError("solveTriangularInto: out is 3×1, expected 3×2"),
    );
    expect(() => solveTriangularInto(m64(2, 1), m64(3, 3), m64(3, 2))).toThrow(
      new RangeError("solveTriangularInto: out is 2×1, expected 3×2"),
    );
  });
});

describe("choleskySolve, spdSolve and spdInverse name themselves and the argument", () => {
  it("choleskySolve checks l and b before delegating", () => {
    expect(() => choleskySolve(m64(3, 3), m64(2, 1))).toThrow(
      new RangeError("choleskySolve: b has 2 rows, expected 3 (t is 3×3, b is 2×1)"),
    );
  });

  it("spdSolve calls its matrix a", () => {
    expect(() => spdSolve(m64(3, 3), m64(2, 1))).toThrow(
      new RangeError("spdSolve: b has 2 rows, expected 3 (a is 3×3, b is 2×1)"),
    );
    expect(() => spdSolve(m64(2, 3), m64(2, 1))).toThrow(new RangeError("spdSolve: a must be square (got 2×3)"));
  });

  it("spdInverse: a non-square, strided, or not positive definite (naming the failing pivot)", () => {
    expect(() => spdInverse(m64(2, 3))).toThrow(new RangeError("spdInverse: a must be square (got 2×3)"));
    expect(() => spdInverse(stridedEye3())).toThrow(
      new RangeError("spdInverse: a must be a dense matrix, not a strided view"),
    );
    const a = { rows: 3, cols: 3, data: Float64Array.from([4, 0, 0, 2, 1, 0, 0, 0, 1]) }; // pivot 1 is 1 − 1 = 0
    expect(() => spdInverse(a)).toThrow(
      new RangeError("spdInverse: a (3×3) is not positive definite (Cholesky pivot 1 is not > 0)"),
    );
    expect(() => spdSolve(a, m64(3, 1))).toThrow(
      new RangeError("spdSolve: a (3×3) is not positive definite (Cholesky pivot 1 is not > 0)"),
    );
  });
});
