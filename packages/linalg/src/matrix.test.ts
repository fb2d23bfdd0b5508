import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocate,
  assertMatrix,
  clone,
  type DType,
  dtypeOf,
  epsilonOf,
  eye,
  fromArray,
  fromRows,
  get,
  type Matrix,
  type MatrixView,
  offsetOf,
  shapeOf,
  strideOf,
  view,
  zeros,
} from "./matrix.ts";

describe("matrix constructors", () => {
  it("zeros, eye and fromArray build row-major matrices of the requested dtype", () => {
    const z = zeros(2, 3, "float64");
    expect(z.data).toBeInstanceOf(Float64Array);
    expect(z.data.length).toBe(6);
    expect(zeros(1, 1).data).toBeInstanceOf(Float32Array);
    expect(Array.from(eye(3).data)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const a = fromArray(2, 2, [1, 2, 3, 4]);
    expect(get(a, 1, 0)).toBe(3);
    expect(
      Array.from(
        fromRows([
          [1, 2],
          [3, 4],
        ]).data,
      ),
    ).toEqual([1, 2, 3, 4]);
    expect(fromRows([]).rows).toBe(0);
  });

  it("values are never truncated or padded: wrong lengths and ragged rows throw RangeError", () => {
    expect(() => fromArray(2, 2, [1, 2, 3])).toThrow(/^fromArray: values has length 3, expected rows·cols = 2·2 = 4$/);
    expect(() => fromRows([[1, 2], [3]])).toThrow(/fromRows: row 1 has length 1, expected 2/);
    expect(() => zeros(-1, 2)).toThrow(/zeros: rows must be a non-negative integer \(got -1\)/);
    expect(() => eye(1.5)).toThrow(RangeError);
  });

  it("clone copies (and converts) without sharing the buffer", () => {
    const a = fromArray(1, 3, [0.1, 0.2, 0.3], "float64");
    const b = clone(a, "float32");
    expect(b.data).toBeInstanceOf(Float32Array);
    expect(b.data[0]).toBe(Math.fround(0.1));
    const c = clone(a);
    c.data[0] = 9;
    expect(a.data[0]).toBe(0.1);
  });

  it("epsilonOf and dtypeOf follow the element type", () => {
    expect(epsilonOf(new Float32Array(1))).toBe(2 ** -23);
    expect(epsilonOf(new Float64Array(1))).toBe(Number.EPSILON);
    expect(dtypeOf(new Float64Array(0))).toBe("float64");
    expect(shapeOf(zeros(3, 4))).toBe("3×4");
  });

  it("get is bounds-checked", () => {
    expect(() => get(zeros(2, 2), 2, 0)).toThrow(/^get: index \(2, 0\) is outside a 2×2 matrix$/);
  });
});

describe("views", () => {
  it("view(a, i0, j0, r, c)[i, j] = a[i0 + i, j0 + j], and views of views compose", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.nat(), (rows, cols, seed) => {
        const a = fromArray(
          rows,
          cols,
          Array.from({ length: rows * cols }, (_, t) => t + seed),
        );
        const i0 = seed % rows;
        const j0 = (seed >> 3) % cols;
        const v = view(a, i0, j0, rows - i0, cols - j0);
        const w = view(v, Math.min(1, v.rows), 0, v.rows - Math.min(1, v.rows), v.cols);
        for (let i = 0; i < w.rows; i++) {
          for (let j = 0; j < w.cols; j++) {
            expect(w.data[offsetOf(w) + i * strideOf(w) + j]).toBe(get(a, i0 + Math.min(1, v.rows) + i, j0 + j));
          }
        }
      }),
    );
  });

  it("a view that does not fit throws a RangeError naming view", () => {
    expect(() => view(zeros(3, 3), 2, 0, 2, 1)).toThrow(
      /^view: block \(2, 0\) of size 2×1 does not fit in a 3×3 matrix$/,
    );
  });
});

describe("assertMatrix", () => {
  it("accepts valid matrices and views", () => {
    expect(() => assertMatrix("f", "a", zeros(2, 3))).not.toThrow();
    expect(() => assertMatrix("f", "a", view(zeros(4, 4), 1, 1, 2, 2))).not.toThrow();
    expect(() => assertMatrix("f", "a", zeros(0, 5))).not.toThrow();
  });

  it("rejects wrong kinds with TypeError and wrong sizes with RangeError, naming function and argument", () => {
    expect(() => assertMatrix("f", "a", null as unknown as Matrix)).toThrow(
      /^f: a must be a matrix \{rows, cols, data\} \(got null\)$/,
    );
    expect(() => assertMatrix("f", "a", { rows: 1, cols: 1, data: [1] } as unknown as Matrix)).toThrow(TypeError);
    expect(() => assertMatrix("f", "a", { rows: 1, cols: 1, data: new Int32Array(1) } as unknown as Matrix)).toThrow(
      /f: a.data must be a Float32Array or Float64Array \(got Int32Array\)/,
    );
    expect(() => assertMatrix("f", "b", { rows: 2, cols: 2, data: new Float32Array(5) })).toThrow(
      /f: b.data has length 5, expected rows·cols = 2·2 = 4/,
    );
    expect(() => assertMatrix("f", "a", { rows: 1.5, cols: 2, data: new Float32Array(3) })).toThrow(
      /f: a has invalid shape/,
    );
    const bad = { rows: 2, cols: 2, data: new Float32Array(4), offset: 1, stride: 2 };
    expect(() => assertMatrix("f", "v", bad)).toThrow(
      /f: v view \(2×2, offset 1, stride 2\) needs 5 elements, data has 4/,
    );
    const narrow: MatrixView = { rows: 2, cols: 3, data: new Float32Array(9), offset: 0, stride: 2 };
    expect(() => assertMatrix("f", "v", narrow)).toThrow(/invalid view offset 0 \/ stride 2 for 3 columns/);
  });
});

describe("get and sizes (issue 19)", () => {
  it("get(m, 0.5, 0) is a RangeError, not element (0, 1)", () => {
    const m = fromArray(2, 2, [1, 2, 3, 4], "float64");
    expect(() => get(m, 0.5, 0)).toThrow(RangeError);
    expect(() => get(m, 0, Number.NaN)).toThrow(RangeError);
    expect(get(m, 1, 0)).toBe(3);
  });
  it("get reads a strided view's own element", () => {
    const m = fromArray(2, 3, [1, 2, 3, 4, 5, 6], "float64");
    expect(get(view(m, 0, 1, 2, 2), 1, 1)).toBe(6);
  });
  it("a huge size names the function and the size, not the engine's 'Invalid typed array length'", () => {
    expect(() => zeros(1e6, 1e6)).toThrow(/zeros: cannot allocate 1000000000000 float32 elements/);
    expect(() => eye(1e7, "float64")).toThrow(/eye: cannot allocate/);
  });

  it("an unknown dtype is a TypeError naming the caller, never a silent float32", () => {
    expect(() => allocate(2, "float16" as DType)).toThrow(
      new TypeError('allocate: dtype must be "float32" or "float64" (got float16)'),
    );
    expect(() => allocate(2, "Float64" as DType, "Linear")).toThrow(/^Linear: dtype must be/);
    expect(allocate(2, "float64")).toBeInstanceOf(Float64Array);
    expect(allocate(2)).toBeInstanceOf(Float32Array);
  });
});
