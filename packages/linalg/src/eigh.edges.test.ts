/**
 * eigh.ts's driver at its edges, which the laws at generic sizes (eigh.test.ts, the proofs catalogue)
 * do not reach: n = 0; the eigenvalues-only route (`vectors: false`, null vectors, the same spectrum);
 * strided views — `a` read through its offset and stride, `out.vectors` written at its offset and
 * nowhere else (also when the run fails and fills it with NaN); the zero matrix's exact V = I (the sort
 * is stable, so tied eigenvalues keep the order of their eigenvectors); the default algorithm being
 * divide and conquer; the QR route's iteration count on hitting the cap; clampNegative's closed
 * interval [−c, 0); a subnormal scale; and the workspace actually used (its documented `d` holds the
 * eigenvalues of A/s). Each expectation is a documented contract or exact arithmetic.
 */
import { describe, expect, it } from "vitest";
import { type EighAlgorithm, EighWorkspace, eigh, eighInto } from "./eigh.ts";
import { randomSymmetric } from "./generators.ts";
import { allocate, type DType, fromRows, type Matrix, view } from "./matrix.ts";
import { Rng } from "./random.ts";

const algorithms: EighAlgorithm[] = ["divide-and-conquer", "qr"];

/** `a` (n×n) copied into rows 1..n, columns 2..n+1 of an (n+3)×(n+4) matrix of 7s: a view, stride n + 4. */
function embedded(a: Matrix): Matrix {
  const n = a.rows;
  const big = { rows: n + 3, cols: n + 4, data: allocate((n + 3) * (n + 4), "float64").fill(7) };
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) big.data[(i + 1) * (n + 4) + j + 2] = a.data[i * n + j] as number;
  return view(big, 1, 2, n, n);
}

/** An n×n output at offset 2n of a (n+4)×n buffer of 7s: two sentinel rows before and two after. */
function offsetOutput(n: number): Matrix<Float64Array> {
  const buf = { rows: n + 4, cols: n, data: new Float64Array((n + 4) * n).fill(7) };
  return view(buf, 2, 0, n, n) as Matrix<Float64Array>;
}
const sentinels = (v: Matrix): number[] => {
  const n = v.cols;
  return [...v.data.subarray(0, 2 * n), ...v.data.subarray((n + 2) * n)];
};

describe("eigh: sizes and routes", () => {
  it("n = 0: success, empty values and vectors, no iterations, for both algorithms and with vectors: false", () => {
    for (const algorithm of algorithms) {
      for (const vectors of [true, false]) {
        const r = eigh({ rows: 0, cols: 0, data: new Float64Array(0) }, { algorithm, vectors });
        expect(r.status).toBe("success");
        expect(r.values.length).toBe(0);
        expect(r.iterations).toBe(0);
        if (vectors) expect(r.vectors).toEqual({ rows: 0, cols: 0, data: new Float64Array(0) });
        else expect(r.vectors).toBeNull();
      }
    }
  });

  it("vectors: false gives null vectors and the QR route's eigenvalues", () => {
    const a = randomSymmetric(40, new Rng(3));
    const only = eigh(a, { vectors: false });
    expect(only.status).toBe("success");
    expect(only.vectors).toBeNull();
    expect(only.iterations).toBeGreaterThan(0);
    const withQr = eigh(a, { algorithm: "qr" });
    // Both run the same QR on the same T; only the rotations' application to Qᵀ differs.
    expect(Array.from(only.values)).toEqual(Array.from(withQr.values));
    expect(only.iterations).toBe(withQr.iterations);
  });

  it("the default algorithm is divide and conquer (identical results to asking for it)", () => {
    const a = randomSymmetric(70, new Rng(8));
    const byDefault = eigh(a);
    const dc = eigh(a, { algorithm: "divide-and-conquer" });
    const qr = eigh(a, { algorithm: "qr" });
    expect(Array.from(byDefault.values)).toEqual(Array.from(dc.values));
    expect(Array.from((byDefault.vectors as Matrix).data)).toEqual(Array.from((dc.vectors as Matrix).data));
    expect(byDefault.iterations).toBe(dc.iterations);
    expect(Array.from((byDefault.vectors as Matrix).data)).not.toEqual(Array.from((qr.vectors as Matrix).data));
  });

  it("the QR route reports the sweeps it did when it hits the cap: iterations = maxIterations", () => {
    const a = randomSymmetric(8, new Rng(2));
    for (const options of [{ algorithm: "qr" as const }, { vectors: false }]) {
      const r = eigh(a, { ...options, maxIterations: 2 });
      expect(r.status).toBe("no-convergence");
      expect(r.iterations).toBe(2);
    }
  });

  it("non-finite input with vectors: false: no-convergence, NaN values, null vectors", () => {
    const a = randomSymmetric(4, new Rng(1));
    a.data[2 * 4 + 1] = Number.POSITIVE_INFINITY;
    const r = eigh(a, { vectors: false });
    expect(r.status).toBe("no-convergence");
    expect(r.iterations).toBe(0);
    expect(r.vectors).toBeNull();
    for (const v of r.values) expect(v).toBeNaN();
  });
});

describe("eigh: exact cases", () => {
  for (const dtype of ["float32", "float64"] as DType[]) {
    it(`the zero matrix: λ = 0 and V = I exactly, for both algorithms (${dtype})`, () => {
      const n = 6;
      for (const algorithm of algorithms) {
        const r = eigh({ rows: n, cols: n, data: allocate(n * n, dtype) }, { algorithm });
        expect(Array.from(r.values)).toEqual(new Array(n).fill(0));
        const v = r.vectors as Matrix;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) expect(v.data[i * n + j], `${algorithm} V[${i}, ${j}]`).toBe(i === j ? 1 : 0);
        }
      }
    });
  }

  it("clampNegative sets [−c, 0) to +0: the closed end −c included, c = 0 clamps nothing", () => {
    const a = fromRows([[-0.5]], "float64");
    expect(eigh(a, { clampNegative: 0.5 }).values[0]).toBe(0);
    expect(eigh(a, { clampNegative: 0.25 }).values[0]).toBe(-0.5);
    expect(eigh(a, { clampNegative: 0 }).values[0]).toBe(-0.5);
    expect(eigh(a).values[0]).toBe(-0.5);
  });

  it("a subnormal scale: [[2, 1], [1, 2]]·1e-310 has eigenvalues 1e-310 and 3e-310", () => {
    const a = fromRows(
      [
        [2e-310, 1e-310],
        [1e-310, 2e-310],
      ],
      "float64",
    );
    for (const algorithm of algorithms) {
      const r = eigh(a, { algorithm });
      expect(r.status).toBe("success");
      expect(Math.abs((r.values[0] as number) - 1e-310)).toBeLessThanOrEqual(1e-322);
      expect(Math.abs((r.values[1] as number) - 3e-310)).toBeLessThanOrEqual(1e-322);
    }
  });
});

describe("eigh and eighInto: strided views", () => {
  it("a strided view of a gives the results of its dense copy, bitwise", () => {
    for (const n of [5, 40]) {
      const a = randomSymmetric(n, new Rng(n));
      const v = embedded(a);
      for (const algorithm of algorithms) {
        const dense = eigh(a, { algorithm });
        const strided = eigh(v, { algorithm });
        expect(Array.from(strided.values)).toEqual(Array.from(dense.values));
        expect(Array.from((strided.vectors as Matrix).data)).toEqual(Array.from((dense.vectors as Matrix).data));
      }
    }
  });

  it("out.vectors at an offset receives V there and nothing around it", () => {
    for (const n of [5, 40]) {
      const a = randomSymmetric(n, new Rng(n + 1));
      for (const algorithm of algorithms) {
        const ref = eigh(a, { algorithm });
        const vectors = offsetOutput(n);
        const r = eighInto({ values: new Float64Array(n), vectors }, a, { algorithm });
        expect(r.vectors).toBe(vectors);
        expect(Array.from(vectors.data.subarray(2 * n, (n + 2) * n))).toEqual(Array.from((ref.vectors as Matrix).data));
        expect(sentinels(vectors)).toEqual(new Array(4 * n).fill(7));
      }
    }
  });

  it("on non-finite input the NaN fill covers out.vectors' block and nothing around it", () => {
    const n = 5;
    const a = randomSymmetric(n, new Rng(4));
    a.data[3 * n + 1] = Number.NaN;
    const vectors = offsetOutput(n);
    const r = eighInto({ values: new Float64Array(n), vectors }, a);
    expect(r.status).toBe("no-convergence");
    for (const x of vectors.data.subarray(2 * n, (n + 2) * n)) expect(x).toBeNaN();
    expect(sentinels(vectors)).toEqual(new Array(4 * n).fill(7));
  });
});

describe("eighInto: the workspace", () => {
  it("the divide-and-conquer buffers are made on first use and then reused, not remade", () => {
    const n = 40;
    const ws = new EighWorkspace(n);
    const out = { values: new Float64Array(n), vectors: { rows: n, cols: n, data: new Float64Array(n * n) } };
    eighInto(out, randomSymmetric(n, new Rng(1)), {}, ws);
    const dc = ws.dc;
    expect(dc).not.toBeNull();
    eighInto(out, randomSymmetric(n, new Rng(2)), {}, ws);
    expect(ws.dc).toBe(dc);
  });

  it("the given workspace is the one used: its d holds the eigenvalues of A/s (s = max|a_ij|), unsorted", () => {
    const n = 9;
    const a = randomSymmetric(n, new Rng(6));
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) s = Math.max(s, Math.abs(a.data[i * n + j] as number));
    for (const algorithm of algorithms) {
      const ws = new EighWorkspace(n);
      const r = eighInto(
        { values: new Float64Array(n), vectors: { rows: n, cols: n, data: new Float64Array(n * n) } },
        a,
        { algorithm },
        ws,
      );
      const fromWs = Array.from(ws.d)
        .sort((x, y) => x - y)
        .map((x) => x * s);
      expect(fromWs).toEqual(Array.from(r.values));
    }
  });
});

describe("eigenvalues beyond the output type's range", () => {
  it.each(["qr", "divide-and-conquer"] as const)(
    "%s: ±Infinity after unscaling, status success (documented)",
    (algorithm) => {
      // [[c, c], [c, c]] has eigenvalues 0 and 2c: 2e308 overflows float64, 6e38 float32.
      const r64 = eigh({ rows: 2, cols: 2, data: Float64Array.of(1e308, 1e308, 1e308, 1e308) }, { algorithm });
      expect(r64.status).toBe("success");
      expect(Array.from(r64.values)).toEqual([0, Number.POSITIVE_INFINITY]);
      const r32 = eigh({ rows: 2, cols: 2, data: Float32Array.of(3e38, 3e38, 3e38, 3e38) }, { algorithm });
      expect(r32.status).toBe("success");
      expect(r32.values[1]).toBe(Number.POSITIVE_INFINITY);
      expect(Math.abs(r32.values[0] as number)).toBeLessThan(1e32);
    },
  );
});
