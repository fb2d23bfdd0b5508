import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomMatrix } from "../test/random-matrix.ts";
import {
  add,
  addInto,
  axpy,
  copyInto,
  dot,
  fill,
  gemv,
  map,
  mapInto,
  normFrobenius,
  normMaxAbs,
  scal,
  scale,
  scaleInto,
  sub,
  subInto,
  transpose,
  transposeInto,
  zip,
  zipInto,
} from "./blas.ts";
import { type DType, epsilonOf, fromArray, type Matrix, view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";

const el = (a: Matrix, i: number, j: number): number =>
  a.data[((a as { offset?: number }).offset ?? 0) + i * ((a as { stride?: number }).stride ?? a.cols) + j] as number;

const shape = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.nat());

describe("level 1", () => {
  it("dot(x, y) = Σ x_i·y_i within (n + 1)·u·Σ|x_i·y_i|", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.nat(),
        fc.constantFrom<DType>("float32", "float64"),
        (n, seed, dt) => {
          const rng = new Rng(seed);
          const x = rng.fillUniform(dt === "float32" ? new Float32Array(n) : new Float64Array(n), -1, 1);
          const y = rng.fillUniform(dt === "float32" ? new Float32Array(n) : new Float64Array(n), -1, 1);
          let s = 0;
          let mag = 0;
          for (let i = 0; i < n; i++) {
            s += (x[i] as number) * (y[i] as number);
            mag += Math.abs((x[i] as number) * (y[i] as number));
          }
          // Both accumulate in double: only float64 rounding separates them, whatever the input type.
          expect(Math.abs(dot(x, y) - s)).toBeLessThanOrEqual((n + 1) * 2 ** -52 * mag);
        },
      ),
    );
  });

  it("axpy: y ← α·x + y; scal: x ← α·x; α = 0 in scal writes zeros (NaN vanish)", () => {
    const x = new Float64Array([1, 2, 3]);
    const y = new Float64Array([10, 20, 30]);
    expect(axpy(2, x, y)).toBe(y);
    expect(Array.from(y)).toEqual([12, 24, 36]);
    expect(Array.from(scal(0.5, y))).toEqual([6, 12, 18]);
    const z = new Float32Array([Number.NaN, 1]);
    expect(Array.from(scal(0, z))).toEqual([0, 0]);
    expect(Array.from(axpy(1, y, y))).toEqual([12, 24, 36]); // aliasing x = y is allowed: y ← 2y
  });

  it("level 1 rejects mismatched lengths, dtypes and non-typed arrays", () => {
    expect(() => dot(new Float32Array(2), new Float32Array(3))).toThrow(
      /^dot: x has length 2 but y has length 3; lengths must match$/,
    );
    expect(() => axpy(1, new Float32Array(2), new Float64Array(2) as unknown as Float32Array)).toThrow(
      /axpy: x is float32 but y is float64/,
    );
    expect(() => scal(2, [1, 2] as unknown as Float32Array)).toThrow(
      /scal: x must be a Float32Array or Float64Array \(got Array\)/,
    );
    expect(() => axpy("2" as unknown as number, new Float32Array(2), new Float32Array(2))).toThrow(TypeError);
  });
});

describe("gemv", () => {
  it("y = α·op(A)·x + β·y within (n + 2)·ε·(|α||op(A)||x| + |β||y|), views included", () => {
    fc.assert(
      fc.property(
        shape,
        fc.boolean(),
        fc.constantFrom(0, 1, -0.5),
        fc.constantFrom(0, 1, 2),
        fc.constantFrom<DType>("float32", "float64"),
        ([r, c, seed], trans, alpha, beta, dt) => {
          const rng = new Rng(seed);
          const big = randomMatrix(rng, r + 2, c + 3, dt, "uniform");
          const a = view(big, 1, 2, r, c);
          const m = trans ? c : r;
          const n = trans ? r : c;
          const x = rng.fillUniform(dt === "float32" ? new Float32Array(n) : new Float64Array(n), -1, 1);
          const y = rng.fillUniform(dt === "float32" ? new Float32Array(m) : new Float64Array(m), -1, 1);
          if (beta === 0 && m > 0) y[0] = Number.NaN;
          const y0 = Float64Array.from(y);
          gemv(trans, alpha, a, x, beta, y);
          for (let i = 0; i < m; i++) {
            let s = 0;
            let mag = 0;
            for (let j = 0; j < n; j++) {
              const aij = trans ? el(a, j, i) : el(a, i, j);
              s += aij * (x[j] as number);
              mag += Math.abs(aij * (x[j] as number));
            }
            const by = beta === 0 ? 0 : beta * (y0[i] as number);
            const ref = alpha * s + by;
            const bound = (n + 2) * epsilonOf(y) * (Math.abs(alpha) * mag + Math.abs(by));
            if (!(Math.abs((y[i] as number) - ref) <= bound)) throw new Error(`y[${i}] = ${y[i]}, ref ${ref}`);
          }
        },
      ),
    );
  });

  it("gemv validates shapes and aliasing", () => {
    const a = zeros(3, 4);
    expect(() => gemv(false, 1, a, new Float32Array(3), 0, new Float32Array(3))).toThrow(
      /^gemv: x has length 3, expected 4 \(a is 3×4\)$/,
    );
    expect(() => gemv(true, 1, a, new Float32Array(3), 0, new Float32Array(3))).toThrow(
      /gemv: y has length 3, expected 4 \(aᵀ is 4×3\)/,
    );
    const sq = zeros(2, 2);
    expect(() => gemv(false, 1, sq, new Float32Array(2), 0, sq.data.subarray(0, 2))).toThrow(
      /gemv: y must not share its buffer/,
    );
    expect(() => gemv(false, 1, sq, new Float64Array(2), 0, new Float64Array(2))).toThrow(TypeError);
  });
});

describe("norms", () => {
  it("‖A‖_F² = Σ a_ij² and ‖A‖_max = max |a_ij| (views included)", () => {
    fc.assert(
      fc.property(shape, ([r, c, seed]) => {
        const rng = new Rng(seed);
        const big = randomMatrix(rng, r + 1, c + 2, "float64", "uniform");
        const a = view(big, 1, 1, r, c);
        let s = 0;
        let mx = 0;
        for (let i = 0; i < r; i++) {
          for (let j = 0; j < c; j++) {
            s += el(a, i, j) ** 2;
            mx = Math.max(mx, Math.abs(el(a, i, j)));
          }
        }
        expect(Math.abs(normFrobenius(a) - Math.sqrt(s))).toBeLessThanOrEqual(
          4 * (r * c + 1) * 2 ** -52 * Math.sqrt(s),
        );
        expect(normMaxAbs(a)).toBe(mx);
      }),
    );
  });

  it("‖·‖_F neither overflows nor underflows: ‖[3s, 4s]‖ = 5s for s = 1e300 and 1e-300", () => {
    for (const s of [1e300, 1e-300, 1e-320, 1, 2 ** 600]) {
      const v = new Float64Array([3 * s, 4 * s]);
      expect(Math.abs(normFrobenius(v) - 5 * s)).toBeLessThanOrEqual(5 * s * 4 * 2 ** -52 + 2 ** -1070);
    }
    expect(normFrobenius(new Float32Array([3e30, 4e30]))).toBeCloseTo(5e30, -24);
  });

  it("norms propagate NaN, report Inf, and are 0 for an empty input", () => {
    expect(normFrobenius(new Float64Array([1, Number.NaN, 1e300]))).toBeNaN();
    expect(normMaxAbs(new Float64Array([Number.NaN, 2]))).toBeNaN();
    expect(normMaxAbs(new Float64Array([2, Number.NaN]))).toBeNaN();
    expect(normFrobenius(new Float64Array([1, Number.NEGATIVE_INFINITY]))).toBe(Number.POSITIVE_INFINITY);
    expect(normFrobenius(zeros(0, 3))).toBe(0);
    expect(normMaxAbs(new Float32Array(0))).toBe(0);
  });
});

describe("transpose", () => {
  it("(Aᵀ)ᵀ = A and Aᵀ[j, i] = A[i, j], views included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 }), fc.nat(), (r, c, seed) => {
        const rng = new Rng(seed);
        const big = randomMatrix(rng, r + 2, c + 1, "float32", "uniform");
        const a = view(big, 2, 1, r, c);
        const t = transpose(a);
        for (let i = 0; i < r; i++)
          for (let j = 0; j < c; j++) if (t.data[j * r + i] !== el(a, i, j)) throw new Error(`(${i}, ${j})`);
        const back = transposeInto(zeros(r, c), t);
        for (let i = 0; i < r; i++)
          for (let j = 0; j < c; j++) if (back.data[i * c + j] !== el(a, i, j)) throw new Error("involution");
      }),
    );
  });

  it("transposeInto rejects a wrong out shape and an out overlapping a", () => {
    const a = zeros(2, 3);
    expect(() => transposeInto(zeros(2, 3), a)).toThrow(/^transposeInto: out is 2×3, expected 3×2 \(a is 2×3\)$/);
    const sq = zeros(3, 3);
    expect(() => transposeInto(sq, sq)).toThrow(/transposeInto: out must not overlap a/);
  });
});

describe("elementwise", () => {
  const a = fromArray(2, 2, [1, 2, 3, 4], "float64");
  const b = fromArray(2, 2, [10, 20, 30, 40], "float64");

  it("add, sub, scale, map and zip compute elementwise", () => {
    expect(Array.from(add(a, b).data)).toEqual([11, 22, 33, 44]);
    expect(Array.from(sub(b, a).data)).toEqual([9, 18, 27, 36]);
    expect(Array.from(scale(-2, a).data)).toEqual([-2, -4, -6, -8]);
    expect(Array.from(map(a, (v, i, j) => v + 10 * i + 100 * j).data)).toEqual([1, 102, 13, 114]);
    expect(Array.from(zip(a, b, (x, y) => x * y).data)).toEqual([10, 40, 90, 160]);
  });

  it("a + b − b = a exactly for integers, and out may alias an input", () => {
    fc.assert(
      fc.property(shape, ([r, c, seed]) => {
        const rng = new Rng(seed);
        const x = zeros(r, c, "float64");
        const y = zeros(r, c, "float64");
        for (let i = 0; i < r * c; i++) {
          x.data[i] = rng.int(1000) - 500;
          y.data[i] = rng.int(1000) - 500;
        }
        const x0 = x.data.slice();
        addInto(x, x, y); // out = a
        subInto(x, x, y);
        expect(x.data.every((v, i) => v === x0[i])).toBe(true);
        scaleInto(x, 2, x);
        zipInto(y, x, y, (p, q) => p - q); // out = b
        mapInto(x, x, (v) => v / 2);
        expect(x.data.every((v, i) => v === x0[i])).toBe(true);
      }),
    );
  });

  it("fill and copyInto write exactly the view and nothing else", () => {
    const big = zeros(4, 5, "float64");
    fill(view(big, 1, 1, 2, 3), 7);
    expect(Array.from(big.data)).toEqual([0, 0, 0, 0, 0, 0, 7, 7, 7, 0, 0, 7, 7, 7, 0, 0, 0, 0, 0, 0]);
    const dst = zeros(4, 5, "float64");
    copyInto(view(dst, 2, 2, 2, 3), view(big, 1, 1, 2, 3));
    expect(Array.from(dst.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 0, 0, 7, 7, 7]);
  });

  it("elementwise ops reject mismatched shapes, dtypes and partial overlaps", () => {
    expect(() => add(a, zeros(2, 3, "float64"))).toThrow(/^addInto: a is 2×2 but b is 2×3; shapes must match$/);
    expect(() => subInto(zeros(3, 2, "float64"), a, b)).toThrow(/subInto: a is 2×2 but out is 3×2/);
    expect(() => add(a, zeros(2, 2, "float32"))).toThrow(TypeError);
    expect(() => map(a, 3 as unknown as (v: number) => number)).toThrow(/mapInto: f must be a function/);
    const big = zeros(3, 3, "float64");
    expect(() => copyInto(view(big, 0, 0, 2, 2), view(big, 1, 1, 2, 2))).toThrow(
      /copyInto: out overlaps a in the same buffer/,
    );
    expect(() => fill(a, "x" as unknown as number)).toThrow(/fill: value must be a number/);
    expect(() => scaleInto(a, 2, { rows: 2, cols: 2, data: new Float64Array(3) })).toThrow(
      /scaleInto: a.data has length 3/,
    );
  });
});
