/**
 * eigh's worked examples, edge cases, errors and regressions. Its laws (A·V = V·Λ, VᵀV = I, the
 * spectrum and its order, the eigenvalues-only route, the closed forms for n ≤ 2) and those of its two
 * halves (A = Q·T·Qᵀ, implicit QR on T) are properties of the proofs catalogue
 * (packages/proofs/src/laws/linalg.ts), run by `pnpm test`; the fixed sizes here (70, 100, 129, 200:
 * past the divide-and-conquer leaves and the blocked reduction's crossover) are larger than the
 * catalogue's generated ones.
 */
import { describe, expect, it } from "vitest";
import { map, normFrobenius, sub } from "./blas.ts";
import { type EighAlgorithm, type EighOptions, EighWorkspace, eigh, eighInto } from "./eigh.ts";
import { matmul } from "./gemm.ts";
import {
  gradedSymmetric,
  randomCovariance,
  randomOrthogonal,
  randomSymmetric,
  randomTridiagonal,
  symmetricWithSpectrum,
  wilkinsonMatrix,
} from "./generators.ts";
import { allocate, clone, type DType, epsilonOf, eye, fromRows, type Matrix } from "./matrix.ts";
import { Rng } from "./random.ts";
import { tridiagonalQR } from "./tridiagonal.ts";

/**
 * ‖A·V − V·Λ‖_F / ‖A‖_F and ‖VᵀV − I‖_F in float64 whatever the element type, with the library's own
 * products (gemm's laws are in the catalogue; the catalogue's independent version is eigenResiduals).
 */
function residuals(a: Matrix, values: ArrayLike<number>, v: Matrix): { res: number; orth: number } {
  const a64 = clone(a, "float64");
  const v64 = clone(v, "float64");
  const vl = map(v64, (x, _i, j) => x * (values[j] as number));
  const den = normFrobenius(a64);
  const res = normFrobenius(sub(matmul(a64, v64), vl));
  const orth = normFrobenius(sub(matmul(v64, v64, { transA: true }), eye(a.rows, "float64")));
  return { res: den > 0 ? res / den : res, orth };
}

function expectEigenLaws(a: Matrix, label = "", options: EighOptions = {}): Float64Array {
  const n = a.rows;
  const r = eigh(a, options);
  const eps = epsilonOf(a.data);
  const m = Math.max(n, 4);
  expect(r.status, label).toBe("success");
  expect(r.values).toBeInstanceOf(a.data.constructor);
  const v = r.vectors as Matrix;
  expect(v.data).toBeInstanceOf(a.data.constructor);
  const { res, orth } = residuals(a, r.values, v);
  expect(res, `${label} ‖AV − VΛ‖/‖A‖`).toBeLessThanOrEqual(8 * m * eps);
  expect(orth, `${label} ‖VᵀV − I‖`).toBeLessThanOrEqual(8 * m ** 1.5 * eps);
  for (let i = 1; i < n; i++) expect(r.values[i] as number).toBeGreaterThanOrEqual(r.values[i - 1] as number);
  return Float64Array.from(r.values);
}

type Kind = "random" | "clustered" | "repeated" | "graded" | "covariance" | "diagonal" | "tridiagonal" | "spectrum";

function build(kind: Kind, n: number, seed: number, dtype: DType): Matrix {
  const rng = new Rng(seed);
  switch (kind) {
    case "random":
      return randomSymmetric(n, rng, dtype);
    case "clustered": {
      // Eigenvalues 1 + k·1e-9: a tight cluster, plus a far one.
      const vals = Array.from({ length: n }, (_, k) => (k === 0 ? -3 : 1 + k * 1e-9));
      return symmetricWithSpectrum(vals, rng, dtype);
    }
    case "repeated": {
      const vals = Array.from({ length: n }, (_, k) => [2, 2, 2, -1, 0][k % 5] as number);
      return symmetricWithSpectrum(vals, rng, dtype);
    }
    case "graded":
      return gradedSymmetric(n, rng, 1e-6, 1e6, dtype);
    case "covariance":
      return randomCovariance(n, Math.max(1, Math.floor(n / 3)), rng, dtype);
    case "diagonal": {
      const a = allocate(n * n, dtype);
      for (let i = 0; i < n; i++) a[i * n + i] = rng.normal();
      return { rows: n, cols: n, data: a };
    }
    case "tridiagonal":
      return randomTridiagonal(n, rng, dtype);
    case "spectrum": {
      const vals = Array.from({ length: n }, () => rng.normal() * 10 ** (3 * rng.uniform()));
      return symmetricWithSpectrum(vals, rng, dtype);
    }
  }
}

const kinds: Kind[] = [
  "random",
  "clustered",
  "repeated",
  "graded",
  "covariance",
  "diagonal",
  "tridiagonal",
  "spectrum",
];

describe("eigh", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`A·V = V·Λ at n = 100: random, covariance with N < n, graded (${dtype})`, () => {
      expectEigenLaws(build("random", 100, 1, dtype), "random");
      expectEigenLaws(build("covariance", 100, 2, dtype), "covariance");
      expectEigenLaws(build("graded", 100, 3, dtype), "graded");
    });

    it(`the zero matrix has λ = 0 and V = I (${dtype})`, () => {
      const n = 5;
      const r = eigh({ rows: n, cols: n, data: allocate(n * n, dtype) });
      expect(r.status).toBe("success");
      for (let i = 0; i < n; i++) expect(r.values[i]).toBe(0);
      const { orth } = residuals({ rows: n, cols: n, data: allocate(n * n, dtype) }, r.values, r.vectors as Matrix);
      expect(orth).toBe(0);
    });

    it(`Wilkinson W⁺₂₁ (regression): laws hold and its top pair agrees to 1e-13 (${dtype})`, () => {
      const a = wilkinsonMatrix(21, dtype);
      expectEigenLaws(a, "W21+");
      const r = eigh(a);
      const top = r.values[20] as number;
      const next = r.values[19] as number;
      const tol = dtype === "float64" ? 1e-12 : 1e-4;
      expect(Math.abs(top - 10.746194182903393)).toBeLessThanOrEqual(tol * 10.75);
      expect(Math.abs(next - 10.746194182903322)).toBeLessThanOrEqual(tol * 10.75);
      expect(Math.abs((r.values[0] as number) + 1.1254415221199847)).toBeLessThanOrEqual(tol * 10.75);
    });
  }

  it("1×1: λ = a₀₀, V = [1]", () => {
    const r = eigh(fromRows([[-3.5]], "float64"));
    expect(r.values[0]).toBe(-3.5);
    expect(Math.abs(r.vectors?.data[0] as number)).toBe(1);
  });

  it("reads only the lower triangle", () => {
    const a = fromRows(
      [
        [2, 999],
        [1, 3],
      ],
      "float64",
    );
    const b = fromRows(
      [
        [2, 1],
        [1, 3],
      ],
      "float64",
    );
    expect(Array.from(eigh(a).values)).toEqual(Array.from(eigh(b).values));
  });

  it("NaN or ±Inf input returns no-convergence at once with NaN outputs", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const a = randomSymmetric(50, new Rng(1));
      (a.data as Float64Array)[7 * 50 + 3] = bad;
      const r = eigh(a);
      expect(r.status).toBe("no-convergence");
      expect(r.iterations).toBe(0);
      expect(Number.isNaN(r.values[0] as number)).toBe(true);
      expect(Number.isNaN(r.vectors?.data[0] as number)).toBe(true);
    }
  });

  it("the sweep cap is honoured: maxIterations = 0 on a non-diagonal matrix gives no-convergence", () => {
    const r = eigh(randomSymmetric(6, new Rng(2)), { maxIterations: 0 });
    expect(r.status).toBe("no-convergence");
    expect(r.iterations).toBe(0);
    expect(eigh(randomSymmetric(6, new Rng(2)), { maxIterations: 3 }).iterations).toBeLessThanOrEqual(3);
  });

  it("clampNegative zeroes the tiny negative eigenvalues of a rank-deficient covariance, and only those", () => {
    const a = randomCovariance(30, 5, new Rng(3));
    const raw = eigh(a);
    const tol = 1e-12;
    const clamped = eigh(a, { clampNegative: tol });
    for (let i = 0; i < 30; i++) {
      const v = raw.values[i] as number;
      const c = clamped.values[i] as number;
      if (v < 0 && v >= -tol) expect(c).toBe(0);
      else expect(c).toBe(v);
      expect(c).toBeGreaterThanOrEqual(0);
    }
    expect(Array.from(raw.values).filter((v) => Math.abs(v) < 1e-12).length).toBe(25); // rank 5
  });

  it("eighInto reuses a workspace and writes into out (same results as eigh, repeatedly)", () => {
    const n = 12;
    const ws = new EighWorkspace(n);
    const out = { values: new Float32Array(n), vectors: { rows: n, cols: n, data: new Float32Array(n * n) } };
    for (let seed = 0; seed < 3; seed++) {
      const a = randomSymmetric(n, new Rng(seed), "float32");
      const r = eighInto(out, a, {}, ws);
      expect(r.values).toBe(out.values);
      expect(r.vectors).toBe(out.vectors);
      const ref = eigh(a);
      expect(Array.from(out.values)).toEqual(Array.from(ref.values));
      expect(Array.from(out.vectors.data)).toEqual(Array.from((ref.vectors as Matrix).data));
    }
  });

  it("rejects bad input with messages naming the function, the argument and the shapes", () => {
    expect(() => eigh({ rows: 2, cols: 3, data: new Float64Array(6) })).toThrow(RangeError);
    expect(() => eigh({ rows: 2, cols: 3, data: new Float64Array(6) })).toThrow(/eigh: a must be square \(got 2×3\)/);
    expect(() => eigh({ rows: 2, cols: 2, data: [1, 2, 3, 4] as unknown as Float64Array })).toThrow(TypeError);
    expect(() => eigh({ rows: 2, cols: 2, data: new Float64Array(3) })).toThrow(/eigh: a\.data has length 3/);
    const ws = new EighWorkspace(3);
    const out = { values: new Float64Array(2), vectors: { rows: 2, cols: 2, data: new Float64Array(4) } };
    expect(() => eighInto(out, randomSymmetric(2, new Rng(0)), {}, ws)).toThrow(
      /eighInto: workspace is for n = 3, a is 2×2/,
    );
    const out3 = { values: new Float64Array(3), vectors: { rows: 3, cols: 3, data: new Float64Array(9) } };
    expect(() => eighInto(out3, randomSymmetric(2, new Rng(0)))).toThrow(
      /eighInto: out.values has length 3, expected 2/,
    );
    expect(() => eighInto(out, randomSymmetric(2, new Rng(0), "float32"))).toThrow(TypeError);
    expect(() => eigh(randomSymmetric(2, new Rng(0)), { maxIterations: -1 })).toThrow(RangeError);
  });
});

describe("eigh algorithms: divide and conquer and QR", () => {
  const algorithms: EighAlgorithm[] = ["divide-and-conquer", "qr"];
  /** max |λ_dc − λ_qr| ≤ 8·m·ε·max|λ|: both are backward stable, so they agree to O(ε‖A‖). */
  function expectSameValues(x: Float64Array, y: Float64Array, eps: number, label: string): void {
    const m = Math.max(x.length, 4);
    let scale = 0;
    for (const v of x) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < x.length; i++) {
      expect(Math.abs((x[i] as number) - (y[i] as number)), `${label} λ${i}`).toBeLessThanOrEqual(8 * m * eps * scale);
    }
  }

  for (const dtype of ["float32", "float64"] as const) {
    // Sizes past the D&C leaf (32), the blocked reduction's crossover (160) and odd splits.
    it(`A·V = V·Λ, VᵀV = I for both algorithms, and their eigenvalues agree, at n = 70, 129, 200 (${dtype})`, () => {
      const eps = dtype === "float32" ? 2 ** -23 : 2 ** -52;
      for (const n of [70, 129, 200]) {
        for (const kind of kinds) {
          if (n === 200 && kind !== "random" && kind !== "covariance" && kind !== "clustered") continue;
          const a = build(kind, n, 7 * n, dtype);
          const [dc, qr] = algorithms.map((algorithm) =>
            expectEigenLaws(a, `${kind} n=${n} ${algorithm}`, { algorithm }),
          ) as [Float64Array, Float64Array];
          expectSameValues(dc, qr, eps, `${kind} n=${n}`);
        }
      }
    });
  }

  it("Wilkinson W⁺₁₀₁ (pairs closer than ε‖A‖: deflation by rotation): laws hold, both algorithms agree", () => {
    const a = wilkinsonMatrix(101, "float64");
    const dc = expectEigenLaws(a, "W101+ dc", { algorithm: "divide-and-conquer" });
    const qr = expectEigenLaws(a, "W101+ qr", { algorithm: "qr" });
    expectSameValues(dc, qr, 2 ** -52, "W101+");
  });

  it("a tridiagonal with zero and tiny couplings at the split points (decoupled and fully deflated merges)", () => {
    const n = 150;
    const rng = new Rng(11);
    const a = allocate(n * n, "float64");
    for (let i = 0; i < n; i++) {
      a[i * n + i] = i % 3 === 0 ? 1 : rng.normal();
      if (i + 1 < n) {
        const x = i % 37 === 36 ? 0 : i % 19 === 18 ? 1e-30 : rng.normal();
        a[i * n + i + 1] = x;
        a[(i + 1) * n + i] = x;
      }
    }
    const m = { rows: n, cols: n, data: a };
    expectSameValues(
      expectEigenLaws(m, "dc", { algorithm: "divide-and-conquer" }),
      expectEigenLaws(m, "qr", { algorithm: "qr" }),
      2 ** -52,
      "split tridiagonal",
    );
  });

  it("a rank-1 matrix n = 100 (everything deflates but one eigenvalue) and the zero matrix n = 100", () => {
    const n = 100;
    const rng = new Rng(5);
    const x = Array.from({ length: n }, () => rng.normal());
    const a = allocate(n * n, "float64");
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (x[i] as number) * (x[j] as number);
    const vals = expectEigenLaws({ rows: n, cols: n, data: a }, "rank 1");
    const norm2 = x.reduce((s, v) => s + v * v, 0);
    expect(Math.abs((vals[n - 1] as number) - norm2)).toBeLessThanOrEqual(8 * n * 2 ** -52 * norm2);
    const zero = eigh({ rows: n, cols: n, data: allocate(n * n, "float64") });
    expect(zero.status).toBe("success");
    const { orth } = residuals(
      { rows: n, cols: n, data: allocate(n * n, "float64") },
      zero.values,
      zero.vectors as Matrix,
    );
    expect(orth).toBe(0);
  });

  it("divide and conquer honours the sweep cap of its leaves: no-convergence with NaN outputs", () => {
    const r = eigh(randomSymmetric(100, new Rng(2)), { maxIterations: 0 });
    expect(r.status).toBe("no-convergence");
    expect(Number.isNaN(r.values[0] as number)).toBe(true);
    expect(Number.isNaN(r.vectors?.data[0] as number)).toBe(true);
  });

  it("eighInto with a reused workspace gives identical D&C results on repeated calls (n = 90)", () => {
    const n = 90;
    const ws = new EighWorkspace(n);
    const a = randomSymmetric(n, new Rng(4));
    const out = { values: new Float64Array(n), vectors: { rows: n, cols: n, data: new Float64Array(n * n) } };
    eighInto(out, a, {}, ws);
    const v1 = out.vectors.data.slice();
    const l1 = out.values.slice();
    eighInto(out, randomSymmetric(n, new Rng(5)), { algorithm: "qr" }, ws);
    eighInto(out, a, {}, ws);
    expect(Array.from(out.values)).toEqual(Array.from(l1));
    expect(Array.from(out.vectors.data)).toEqual(Array.from(v1));
  });

  it("rejects an unknown algorithm naming the option", () => {
    expect(() => eigh(randomSymmetric(3, new Rng(0)), { algorithm: "jacobi" as EighAlgorithm })).toThrow(
      /eigh: options.algorithm must be "qr" or "divide-and-conquer" \(got "jacobi"\)/,
    );
  });
});

describe("tridiagonalQR", () => {
  it("without z it gives the same eigenvalues as with z", () => {
    const rng = new Rng(9);
    const n = 25;
    const d1 = Float64Array.from({ length: n }, () => rng.normal());
    const e1 = Float64Array.from({ length: n - 1 }, () => rng.normal());
    const d2 = d1.slice();
    const e2 = e1.slice();
    tridiagonalQR(d1, e1, null);
    tridiagonalQR(d2, e2, randomOrthogonal(n, new Rng(1)));
    expect(Array.from(d1)).toEqual(Array.from(d2));
  });

  it("non-finite input returns no-convergence promptly; bad lengths throw naming the argument", () => {
    const d = Float64Array.from([1, Number.NaN, 2]);
    const e = Float64Array.from([1, 1]);
    expect(tridiagonalQR(d, e).status).toBe("no-convergence");
    expect(() => tridiagonalQR(new Float64Array(3), new Float64Array(3))).toThrow(
      /tridiagonalQR: e has length 3, expected n − 1 = 2/,
    );
    expect(() =>
      tridiagonalQR(new Float64Array(3), new Float64Array(2), { rows: 2, cols: 2, data: new Float64Array(4) }),
    ).toThrow(/tridiagonalQR: z is 2×2/);
  });
});
