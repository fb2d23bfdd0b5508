/**
 * Fuzz suite over linalg's public entry points (issue 19): random shapes including zero sizes,
 * NaN/±Inf entries, aliasing between arguments and wrong kinds of argument. Every call must end in a
 * clear TypeError/RangeError naming the function, or a correct result (checked against a naive
 * reference or an identity), or a status; never a hang and never NaN from finite input without a
 * status. Depth: FC_NUM_RUNS (vitest.setup.ts); the default keeps the suite to about a second.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cholesky, choleskyInto, solveTriangular, solveTriangularInto } from "./cholesky.ts";
import { eigh } from "./eigh.ts";
import { matmul } from "./gemm.ts";
import * as la from "./index.ts";
import { kronMatVec, kronMatVecInto } from "./kron.ts";
import { fromArray, get, type Matrix, zeros } from "./matrix.ts";
import { clearErrorOr } from "./testing.ts";

const dim = fc.integer({ min: 0, max: 5 });
const finite = fc.double({ min: -4, max: 4, noNaN: true });
const special = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e300);
const entry = fc.oneof({ weight: 6, arbitrary: finite }, { weight: 1, arbitrary: special });
const dtype = fc.constantFrom("float32" as const, "float64" as const);
const junk = fc.constantFrom<unknown>(
  null,
  undefined,
  3,
  "m",
  {},
  [],
  { rows: 1, cols: 1, data: [1] },
  {
    rows: 2,
    cols: 2,
    data: new Float64Array(3),
  },
);

const matrixArb = (rows: number, cols: number, value = entry) =>
  fc
    .tuple(fc.array(value, { minLength: rows * cols, maxLength: rows * cols }), dtype)
    .map(([v, d]) => fromArray(rows, cols, v, d));

/** A symmetric matrix: the lower triangle mirrored (entries may be NaN/±Inf). */
const symmetricArb = dim.chain((n) =>
  matrixArb(n, n).map((a) => {
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a.data[j * n + i] = a.data[i * n + j] as number;
    return a;
  }),
);

function naiveProduct(a: Matrix, b: Matrix): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let k = 0; k < a.cols; k++) s += (a.data[i * a.cols + k] as number) * (b.data[k * b.cols + j] as number);
      out.push(s);
    }
  return out;
}

const allFinite = (x: ArrayLike<number>): boolean => Array.prototype.every.call(x, Number.isFinite);
const maxAbs = (x: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] as number));
  return m;
};

describe("linalg fuzz", () => {
  it("matmul: a clear error for mismatched shapes or types, else the naive product (NaN only from NaN/Inf input)", () => {
    fc.assert(
      fc.property(
        fc.tuple(dim, dim, dim, dim).chain(([m, k, k2, n]) => fc.tuple(matrixArb(m, k), matrixArb(k2, n))),
        ([a, b]) => {
          // matmul's shape errors come from gemm, the routine it calls.
          const c = clearErrorOr(["matmul:", "gemm:"], () => matmul(a, b));
          if (c === undefined) {
            expect(a.cols !== b.rows || a.data.constructor !== b.data.constructor).toBe(true);
            return;
          }
          expect([c.rows, c.cols]).toEqual([a.rows, b.cols]);
          const ref = naiveProduct(a, b);
          // Finite input with no possible overflow (every partial sum is bounded by k·max|a|·max|b|, in
          // any summation order): the product must be finite and match. Past that bound IEEE overflow to
          // ±Inf is the correct result, as in BLAS (a fuzz finding: 1e300 · 1e300).
          const bound = a.cols * maxAbs(a.data) * maxAbs(b.data);
          if (allFinite(a.data) && allFinite(b.data) && bound < 1e300) {
            expect(allFinite(c.data)).toBe(true);
            const tol = (c.data instanceof Float32Array ? 1e-4 : 1e-12) * 16 * (a.cols + 1);
            for (let i = 0; i < ref.length; i++)
              expect(Math.abs((c.data[i] as number) - (ref[i] as number))).toBeLessThanOrEqual(
                tol * (1 + Math.abs(ref[i] as number)),
              );
          }
        },
      ),
    );
  });

  it("wrong kinds of argument are TypeErrors or RangeErrors naming the function", () => {
    const ok = fromArray(2, 2, [1, 0, 0, 1], "float64");
    fc.assert(
      fc.property(junk, (j) => {
        const m = j as Matrix;
        for (const [fn, f] of [
          ["matmul", () => matmul(m, ok)],
          ["cholesky", () => cholesky(m)],
          ["solveTriangular", () => solveTriangular(ok, m)],
          ["eigh", () => eigh(m)],
          ["kronMatVecInto", () => kronMatVecInto(j as Float64Array, ok, ok, new Float64Array(4))],
          ["clone", () => la.clone(m)],
          ["get", () => get(m, 0, 0)],
        ] as const)
          expect(clearErrorOr(`${fn}:`, f as () => unknown), fn).toBeUndefined();
      }),
    );
  });

  it("cholesky on symmetric input (random, and SPD XᵀX + δI up to 12 × 12): success with L·Lᵀ = A and a lower-triangular finite factor with a positive diagonal, or the not-positive-definite status; SPD input always succeeds", () => {
    /**
     * SPD: A = XᵀX + δI (X m × n, δ ∈ [0.5, 2], so λ_min(A) ≥ δ, far above the rounding of A to
     * float32), with special values (NaN, ±Inf, 1e300) injected into a minority, mirrored to keep A
     * symmetric.
     */
    const spdArb = fc
      .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 14 }), dtype)
      .chain(([n, m, d]) =>
        fc.record({
          n: fc.constant(n),
          d: fc.constant(d),
          x: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: m * n, maxLength: m * n }),
          delta: fc.double({ min: 0.5, max: 2, noNaN: true }),
          specials: fc.oneof(
            { weight: 5, arbitrary: fc.constant<[number, number, number][]>([]) },
            { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.nat(), special), { minLength: 1, maxLength: 2 }) },
          ),
        }),
      )
      .map(({ n, d, x, delta, specials }) => {
        const m = x.length / n;
        const v = new Array<number>(n * n).fill(0);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = i === j ? delta : 0;
            for (let k = 0; k < m; k++) s += (x[k * n + i] as number) * (x[k * n + j] as number);
            v[i * n + j] = s;
          }
        for (const [i, j, value] of specials) v[(i % n) * n + (j % n)] = v[(j % n) * n + (i % n)] = value;
        return { a: fromArray(n, n, v, d), spd: specials.length === 0 };
      });
    const arb = fc.oneof(
      { weight: 1, arbitrary: symmetricArb.map((a) => ({ a, spd: false })) },
      { weight: 3, arbitrary: spdArb },
    );
    let runs = 0;
    let checkedLarge = 0;
    fc.assert(
      fc.property(arb, ({ a, spd }) => {
        runs++;
        const n = a.rows;
        const r = cholesky(a);
        if (spd) expect(r.status, `XᵀX + δI (${n} × ${n}) is positive definite`).toBe("success");
        if (r.status !== "success") {
          expect(r.status).toBe("not-positive-definite");
          expect(r.failedAt).toBeGreaterThanOrEqual(0);
          expect(r.failedAt).toBeLessThan(n);
          return;
        }
        expect(allFinite(r.factor.data) || !allFinite(a.data)).toBe(true);
        if (!allFinite(a.data)) return;
        const l = r.factor;
        for (let i = 0; i < n; i++) {
          expect(l.data[i * n + i] as number).toBeGreaterThan(0);
          for (let j = i + 1; j < n; j++) expect(l.data[i * n + j]).toBe(0);
        }
        const llt = naiveProduct(l, la.transpose(l));
        // Backward error of Cholesky: |L·Lᵀ − A| ≤ c·n·eps·|L|·|Lᵀ|, and (|L|·|Lᵀ|)_ij ≤ √(a_ii a_jj) ≤ max|a|;
        // a float32 factor adds one rounding of each entry of L.
        const scale = Math.max(1, ...Array.from(a.data, Math.abs));
        const tol = (a.data instanceof Float32Array ? 2 ** -24 : 2 ** -53) * 16 * scale * (n + 1);
        for (let i = 0; i < n * n; i++)
          expect(Math.abs((llt[i] as number) - (a.data[i] as number))).toBeLessThanOrEqual(tol);
        if (n >= 3) checkedLarge++;
      }),
      { numRuns: Math.max(200, fc.readConfigureGlobal().numRuns ?? 100) },
    );
    // L·Lᵀ = A must be checked on real (n ≥ 3) matrices in a substantial fraction of the runs.
    expect(checkedLarge / runs).toBeGreaterThanOrEqual(0.3);
  });

  it("aliasing: choleskyInto / solveTriangularInto / kronMatVecInto with overlapping out, scratch or input: RangeError or the non-aliased result", () => {
    const shift = fc.integer({ min: -3, max: 3 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), shift, fc.integer({ min: 1, max: 3 }), (n, s, k) => {
        // SPD input: diagonally dominant.
        const a = zeros(n, n, "float64");
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) a.data[i * n + j] = a.data[j * n + i] = i === j ? n + 1 : 0.5;
        const ref = cholesky(a).factor.data;
        const base = 4;
        const buf = new Float64Array(n * n + 8);
        buf.set(a.data, base);
        const aView = { rows: n, cols: n, data: buf.subarray(base, base + n * n) };
        const outView = { rows: n, cols: n, data: buf.subarray(base + s, base + s + n * n) };
        const r = clearErrorOr("choleskyInto:", () => choleskyInto(outView, aView));
        if (r !== undefined) expect(Array.from(r.factor.data)).toEqual(Array.from(ref));
        else expect(s).not.toBe(0);

        const l = cholesky(a).factor;
        const bVals = Array.from({ length: n * k }, (_, i) => i - 1.5);
        const want = solveTriangular(l, fromArray(n, k, bVals, "float64")).data;
        const bb = new Float64Array(n * k + 8);
        bb.set(bVals, base);
        const b = { rows: n, cols: k, data: bb.subarray(base, base + n * k) };
        const out = { rows: n, cols: k, data: bb.subarray(base + s, base + s + n * k) };
        const x = clearErrorOr("solveTriangularInto:", () => solveTriangularInto(out, l, b));
        if (x !== undefined) expect(Array.from(x.data)).toEqual(Array.from(want));
        else expect(s).not.toBe(0);

        const xv = new Float64Array(n * n).map((_, i) => i + 1);
        const kref = kronMatVec(a, a, xv);
        const kb = new Float64Array(3 * n * n + 8);
        kb.set(xv, base);
        const xs = kb.subarray(base, base + n * n);
        const os = kb.subarray(base + s + n * n, base + s + 2 * n * n);
        const sc = kb.subarray(base + 2 * s, base + 2 * s + n * n);
        const got = clearErrorOr("kronMatVecInto:", () => kronMatVecInto(os, a, a, xs, sc));
        if (got !== undefined) expect(Array.from(got)).toEqual(Array.from(kref));
      }),
    );
  });

  it("eigh on symmetric input: success with finite eigenpairs, or a status; never NaN from finite input with success", () => {
    fc.assert(
      fc.property(symmetricArb, (a) => {
        const n = a.rows;
        const r = clearErrorOr("eigh:", () => eigh(a));
        if (r === undefined || r.status !== "success" || !allFinite(a.data)) return;
        expect(allFinite(r.values)).toBe(true);
        let trace = 0;
        for (let i = 0; i < n; i++) trace += a.data[i * n + i] as number;
        const sum = Array.from(r.values).reduce((p, q) => p + q, 0);
        // Backward stable: the eigenvalue sum matches the trace to eps·‖A‖, not eps·|trace|.
        const norm = Math.max(1, ...Array.from(a.data, Math.abs));
        const tol = (a.data instanceof Float32Array ? 1e-4 : 1e-10) * norm * 16 * (n + 1);
        expect(Math.abs(sum - trace)).toBeLessThanOrEqual(tol);
      }),
    );
  });

  it("sizes and indices: non-integer, negative or huge give a RangeError naming the function, else the element", () => {
    const num = fc.oneof(
      fc.integer({ min: -2, max: 4 }),
      fc.double({ noNaN: false }),
      fc.constantFrom(1e13, 2 ** 53, Number.NaN, 0.5),
    );
    fc.assert(
      fc.property(num, num, (r, c) => {
        // Skip sizes that are legal but large (the suite must stay cheap); every other case runs.
        if (Number.isInteger(r * c) && r * c > 4096 && r * c < 2 ** 31) return;
        const m = clearErrorOr("zeros:", () => zeros(r, c, "float64"));
        if (m !== undefined) expect(m.data.length === r * c).toBe(true);
        const e = fromArray(2, 3, [0, 1, 2, 3, 4, 5], "float64");
        const v = clearErrorOr("get:", () => get(e, r, c));
        if (v !== undefined) expect(v === r * 3 + c).toBe(true); // ±0 indices read the same element
        if (Number.isInteger(r) && r > 64 && r < 2 ** 16) return;
        const id = clearErrorOr("eye:", () => la.eye(r));
        if (id !== undefined) expect(id.rows).toBe(r);
      }),
    );
  });
});
