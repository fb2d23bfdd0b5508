/**
 * eigh.ts's argument checks, message by message (the package's error contract, internal/checks.ts:
 * TypeError for the wrong kind of value, RangeError for a wrong size or a bad option, naming the
 * function, the argument, what was expected and what was given). eigh delegates to eighInto, which
 * checks the options and `out`, so those messages name eighInto. Each condition of a compound check
 * (rows, columns, stride of out.vectors; null and non-object out) is refused on its own, and the
 * boundary values the contract allows (clampNegative = 0, maxIterations = 0, n = 0) are accepted.
 */
import { describe, expect, it } from "vitest";
import { type EighAlgorithm, type EighOptions, type EighOutput, EighWorkspace, eigh, eighInto } from "./eigh.ts";
import { randomSymmetric } from "./generators.ts";
import { type Matrix, view } from "./matrix.ts";
import { Rng } from "./random.ts";

const a3 = (): Matrix<Float64Array> => randomSymmetric(3, new Rng(1), "float64") as Matrix<Float64Array>;
const m64 = (rows: number, cols: number): Matrix<Float64Array> => ({ rows, cols, data: new Float64Array(rows * cols) });
const out64 = (n: number): EighOutput<Float64Array> => ({ values: new Float64Array(n), vectors: m64(n, n) });
const asOut = (x: unknown): EighOutput<Float64Array> => x as EighOutput<Float64Array>;

describe("EighWorkspace", () => {
  it("n must be a non-negative integer; n = 0 is a valid (empty) workspace", () => {
    expect(() => new EighWorkspace(-1)).toThrow(
      new RangeError("EighWorkspace: n must be a non-negative integer (got -1)"),
    );
    expect(() => new EighWorkspace(2.5)).toThrow(
      new RangeError("EighWorkspace: n must be a non-negative integer (got 2.5)"),
    );
    const ws = new EighWorkspace(0);
    expect(ws.n).toBe(0);
    expect(ws.e.length).toBe(0);
  });

  it("the documented buffer sizes: w, z n×n; d, beta, p, perm n; e n − 1", () => {
    const ws = new EighWorkspace(5);
    expect([ws.w.length, ws.z.length, ws.d.length, ws.e.length, ws.beta.length, ws.p.length, ws.perm.length]).toEqual([
      25, 25, 5, 4, 5, 5, 5,
    ]);
    expect(ws.dc).toBeNull(); // made on first use
  });

  it("eighInto refuses a workspace that is not an EighWorkspace, or is for another n", () => {
    const fake = { n: 3 } as unknown as EighWorkspace;
    expect(() => eighInto(out64(3), a3(), {}, fake)).toThrow(
      new TypeError("eighInto: workspace must be an EighWorkspace"),
    );
    expect(() => eighInto(out64(3), a3(), {}, new EighWorkspace(4))).toThrow(
      new RangeError("eighInto: workspace is for n = 4, a is 3×3"),
    );
  });
});

describe("options", () => {
  const bad = (options: EighOptions) => () => eigh(a3(), options);
  it("maxIterations must be a non-negative integer (0 is allowed)", () => {
    expect(bad({ maxIterations: -1 })).toThrow(
      new RangeError("eigh: options.maxIterations must be a non-negative integer (got -1)"),
    );
    expect(bad({ maxIterations: 0 })).not.toThrow();
  });

  it("clampNegative must be a number ≥ 0 (0 is allowed, NaN is not)", () => {
    expect(bad({ clampNegative: -1e-12 })).toThrow(
      new RangeError("eigh: options.clampNegative must be a number ≥ 0 (got -1e-12)"),
    );
    expect(bad({ clampNegative: Number.NaN })).toThrow(
      new RangeError("eigh: options.clampNegative must be a number ≥ 0 (got NaN)"),
    );
    expect(eigh(a3(), { clampNegative: 0 }).status).toBe("success");
  });

  it("algorithm must be one of the two names, as a RangeError", () => {
    expect(bad({ algorithm: "jacobi" as EighAlgorithm })).toThrow(
      new RangeError('eigh: options.algorithm must be "qr" or "divide-and-conquer" (got "jacobi")'),
    );
  });
});

describe("options: keys and flags", () => {
  it("an unknown key, a non-object or a non-boolean vectors is a TypeError naming the function", () => {
    expect(() => eigh(a3(), { maxIteration: 5 } as EighOptions)).toThrow(
      new TypeError(
        "eigh: options.maxIteration is not an option (did you mean maxIterations?); known: vectors, maxIterations, clampNegative, algorithm",
      ),
    );
    expect(() => eighInto(out64(3), a3(), { vector: false } as EighOptions)).toThrow(
      /^eighInto: options\.vector is not an option \(did you mean vectors\?\)/,
    );
    expect(() => eigh(a3(), null as unknown as EighOptions)).toThrow(
      new TypeError("eigh: options must be an object (got null)"),
    );
    expect(() => eigh(a3(), { vectors: "false" as unknown as boolean })).toThrow(
      new TypeError('eigh: options.vectors must be true or false (got "false")'),
    );
  });
});

describe("eigh and eighInto: a", () => {
  it("eigh and eighInto each name themselves for a non-square or non-matrix a", () => {
    expect(() => eigh(m64(2, 3))).toThrow(new RangeError("eigh: a must be square (got 2×3)"));
    expect(() => eighInto(out64(2), m64(2, 3))).toThrow(new RangeError("eighInto: a must be square (got 2×3)"));
    expect(() => eighInto(out64(2), null as unknown as Matrix<Float64Array>)).toThrow(
      new TypeError("eighInto: a must be a matrix {rows, cols, data} (got null)"),
    );
  });
});

describe("eighInto: out", () => {
  it("out must be an object", () => {
    expect(() => eighInto(asOut(null), a3())).toThrow(new TypeError("eighInto: out must be {values, vectors}"));
    expect(() => eighInto(asOut(5), a3())).toThrow(new TypeError("eighInto: out must be {values, vectors}"));
  });

  it("out.values must be a float array of a's type and length n", () => {
    const vectors = m64(3, 3);
    expect(() => eighInto(asOut({ values: [0, 0, 0], vectors }), a3())).toThrow(
      new TypeError("eighInto: out.values must be a Float64Array like a"),
    );
    expect(() => eighInto(asOut({ values: new Float32Array(3), vectors }), a3())).toThrow(
      new TypeError("eighInto: out.values must be a Float64Array like a"),
    );
    const a32 = randomSymmetric(3, new Rng(1), "float32");
    expect(() => eighInto(asOut({ values: new Float64Array(3), vectors: null }), a32, { vectors: false })).toThrow(
      new TypeError("eighInto: out.values must be a Float32Array like a"),
    );
    // A plain array is refused for a float32 a too (it is not a Float32Array, whatever dtypeOf says of it).
    expect(() => eighInto(asOut({ values: [0, 0, 0], vectors: null }), a32, { vectors: false })).toThrow(
      new TypeError("eighInto: out.values must be a Float32Array like a"),
    );
    expect(() => eighInto(asOut({ values: new Float64Array(4), vectors }), a3())).toThrow(
      new RangeError("eighInto: out.values has length 4, expected 3 (a is 3×3)"),
    );
  });

  it("out.vectors must be given when vectors are wanted, and may be null when they are not", () => {
    expect(() => eighInto({ values: new Float64Array(3), vectors: null }, a3())).toThrow(
      new TypeError("eighInto: out.vectors is null but options.vectors is true"),
    );
    const r = eighInto({ values: new Float64Array(3), vectors: null }, a3(), { vectors: false });
    expect(r.status).toBe("success");
    expect(r.vectors).toBeNull();
  });

  it("out.vectors must be a matrix of a's type, dense n×n (an offset is allowed, another stride is not)", () => {
    const values = new Float64Array(3);
    expect(() => eighInto(asOut({ values, vectors: { rows: 3, cols: 3, data: [] } }), a3())).toThrow(
      new TypeError("eighInto: out.vectors.data must be a Float32Array or Float64Array (got Array)"),
    );
    const v32 = { rows: 3, cols: 3, data: new Float32Array(9) };
    expect(() => eighInto(asOut({ values, vectors: v32 }), a3())).toThrow(
      new TypeError("eighInto: out.vectors is float32 but a is float64"),
    );
    for (const [rows, cols] of [
      [2, 3],
      [3, 2],
      [2, 2],
    ] as const) {
      expect(() => eighInto({ values, vectors: m64(rows, cols) }, a3())).toThrow(
        new RangeError(`eighInto: out.vectors is ${rows}×${cols}, expected a dense 3×3 (a is 3×3)`),
      );
    }
    // n columns is checked on its own: a 3×2 view with stride 3 has the right stride but not the columns.
    const narrow = view(m64(3, 3), 0, 0, 3, 2) as Matrix<Float64Array>;
    expect(() => eighInto({ values, vectors: narrow }, a3())).toThrow(
      new RangeError("eighInto: out.vectors is 3×2, expected a dense 3×3 (a is 3×3)"),
    );
    const strided = view(m64(4, 4), 0, 0, 3, 3) as Matrix<Float64Array>;
    expect(() => eighInto({ values, vectors: strided }, a3())).toThrow(
      new RangeError("eighInto: out.vectors is 3×3, expected a dense 3×3 (a is 3×3)"),
    );
  });
});
