import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { randomMatrix } from "../test/random-matrix.ts";
import { kron, kronMatVec, kronMatVecInto } from "./kron.ts";
import { Rng } from "./random.ts";

const dim = fc.integer({ min: 0, max: 6 });

describe("kron", () => {
  it("(B ⊗ A)[i·n + k, j·q + l] = B[i, j]·A[k, l]", () => {
    const b = { rows: 1, cols: 2, data: Float64Array.from([2, 3]) };
    const a = { rows: 2, cols: 1, data: Float64Array.from([5, 7]) };
    const k = kron(b, a);
    expect([k.rows, k.cols]).toEqual([2, 2]);
    expect(Array.from(k.data)).toEqual([10, 15, 14, 21]);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`(B ⊗ A)·vec(X) = vec(B·X·Aᵀ) with row-major vec, and kronMatVec matches the explicit product (${dtype})`, () => {
      fc.assert(
        fc.property(dim, dim, dim, dim, fc.nat(), (m, p, n, q, seed) => {
          const rng = new Rng(seed);
          const b = randomMatrix(rng, m, p, dtype);
          const a = randomMatrix(rng, n, q, dtype);
          const x = randomMatrix(rng, p, q, dtype);
          const y = kronMatVec(b, a, x.data);
          const big = kron(b, a);
          let err = 0;
          let scale = 1;
          for (let r = 0; r < m * n; r++) {
            // explicit (B ⊗ A)·x
            let s = 0;
            for (let c = 0; c < p * q; c++) s += (big.data[r * p * q + c] as number) * (x.data[c] as number);
            // vec(B X Aᵀ)[i·n + k]
            const i = Math.floor(r / n);
            const k = r % n;
            let t = 0;
            for (let j = 0; j < p; j++) {
              for (let l = 0; l < q; l++) {
                t += (b.data[i * p + j] as number) * (x.data[j * q + l] as number) * (a.data[k * q + l] as number);
              }
            }
            err = Math.max(err, Math.abs((y[r] as number) - s), Math.abs(s - t));
            scale = Math.max(scale, Math.abs(t));
          }
          const eps = dtype === "float32" ? 2 ** -23 : 2 ** -52;
          expect(err / scale).toBeLessThanOrEqual(64 * (p * q + 1) * eps);
        }),
        { numRuns: 60 },
      );
    });
  }

  it("kronMatVecInto writes into out with a caller's scratch and returns out", () => {
    const rng = new Rng(3);
    const b = randomMatrix(rng, 3, 4, "float64");
    const a = randomMatrix(rng, 2, 5, "float64");
    const x = randomMatrix(rng, 4, 5, "float64").data;
    const out = new Float64Array(6);
    expect(kronMatVecInto(out, b, a, x, new Float64Array(8))).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(kronMatVec(b, a, x)));
  });

  it("rejects wrong lengths naming the function, the argument and the shapes", () => {
    const b = { rows: 3, cols: 4, data: new Float64Array(12) };
    const a = { rows: 2, cols: 5, data: new Float64Array(10) };
    expect(() => kronMatVec(b, a, new Float64Array(19))).toThrow(
      /kronMatVecInto: x has length 19, expected b\.cols·a\.cols = 4·5 = 20 \(b is 3×4, a is 2×5\)/,
    );
    expect(() => kronMatVecInto(new Float64Array(5), b, a, new Float64Array(20))).toThrow(/out has length 5, expected/);
    expect(() => kronMatVec(b, a, new Float32Array(20) as unknown as Float64Array)).toThrow(TypeError);
  });
});

describe("kronMatVecInto aliasing (issue 19: scratch = x or out returned wrong values)", () => {
  const rng = new Rng(11);
  const b = randomMatrix(rng, 3, 3, "float64");
  const a = randomMatrix(rng, 3, 3, "float64");
  it("scratch equal to x or to out is a RangeError", () => {
    const x = new Float64Array(9).fill(1);
    const out = new Float64Array(9);
    expect(() => kronMatVecInto(out, b, a, x, x)).toThrow(/scratch and x/);
    expect(() => kronMatVecInto(out, b, a, x, out)).toThrow(/scratch and out/);
  });
  it("out partly overlapping x (a subarray of the same buffer) is a RangeError", () => {
    const buf = new Float64Array(12).fill(1);
    expect(() => kronMatVecInto(buf.subarray(3, 12), b, a, buf.subarray(0, 9))).toThrow(/out and x/);
  });
  it("disjoint subarrays of one buffer are accepted and give the allocating result", () => {
    const buf = new Float64Array(27);
    const x = buf.subarray(0, 9);
    rng.fillNormal(x);
    const got = kronMatVecInto(buf.subarray(9, 18), b, a, x, buf.subarray(18, 27));
    expect(Array.from(got)).toEqual(Array.from(kronMatVec(b, a, Float64Array.from(x))));
  });
});
