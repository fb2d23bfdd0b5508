import { describe, expect, it } from "vitest";
import { setThreads } from "./backend.ts";
import { solveTriangular } from "./cholesky.ts";
import { eigh } from "./eigh.ts";
import { matmul, matmulInto } from "./gemm.ts";
import { gramEigh } from "./gram-eigh.ts";
import type { Matrix } from "./matrix.ts";
import { checkFlag, checkOptions, checkRequiredOptions, optionKeys } from "./options.ts";
import { syrk } from "./syrk.ts";
import { closeness } from "./testing.ts";
import { tridiagonalQR } from "./tridiagonal.ts";

const KNOWN = ["learningRate", "momentum", "damping", "factorDecay"] as const;

describe("checkOptions", () => {
  it("accepts undefined, an empty object and known keys (whatever their values)", () => {
    expect(() => checkOptions("f", "options", undefined, KNOWN)).not.toThrow();
    expect(() => checkOptions("f", "options", {}, KNOWN)).not.toThrow();
    expect(() => checkOptions("f", "options", { learningRate: 0.1, damping: undefined }, KNOWN)).not.toThrow();
    // Inherited keys are not the caller's options.
    expect(() => checkOptions("f", "options", Object.create({ bogus: 1 }), KNOWN)).not.toThrow();
  });

  it("rejects an unknown key, naming the function, the key, the closest name and the list", () => {
    expect(() => checkOptions("ekfac", "options", { learningrate: 0.1 }, KNOWN)).toThrow(
      new TypeError(
        "ekfac: options.learningrate is not an option (did you mean learningRate?); known: learningRate, momentum, damping, factorDecay",
      ),
    );
    // A transposition and a dropped letter are within two edits.
    expect(() => checkOptions("f", "options", { momentun: 0.9 }, KNOWN)).toThrow(/did you mean momentum\?/);
    expect(() => checkOptions("f", "options", { dampnig: 1 }, KNOWN)).toThrow(/did you mean damping\?/);
    expect(() => checkOptions("f", "options", { factorDcay: 1 }, KNOWN)).toThrow(/did you mean factorDecay\?/);
    // Far from every name: no suggestion, still an error — also for an undefined value.
    expect(() => checkOptions("f", "options.inner", { weight_decay: undefined }, KNOWN)).toThrow(
      new TypeError(
        "f: options.inner.weight_decay is not an option; known: learningRate, momentum, damping, factorDecay",
      ),
    );
    expect(() => checkOptions("f", "options", { x: 1 }, [])).toThrow(/known: none/);
  });

  it("rejects null, arrays and primitives as the options object", () => {
    expect(() => checkOptions("sgd", "options", null, KNOWN)).toThrow(
      new TypeError("sgd: options must be an object (got null)"),
    );
    expect(() => checkOptions("sgd", "options", [], KNOWN)).toThrow(/must be an object \(got Array\)/);
    expect(() => checkOptions("sgd", "options", 5, KNOWN)).toThrow(/must be an object \(got number\)/);
    expect(() => checkOptions("sgd", "options", "x", KNOWN)).toThrow(/must be an object \(got string\)/);
  });
});

describe("checkRequiredOptions", () => {
  it("refuses undefined too, listing the names; otherwise checks keys as checkOptions does", () => {
    expect(() => checkRequiredOptions("stepDecay", "options", undefined, ["init", "gamma"])).toThrow(
      new TypeError("stepDecay: options must be an object { init, gamma } (got undefined)"),
    );
    expect(() => checkRequiredOptions("f", "options", null, ["a"])).toThrow(/must be an object \{ a \} \(got null\)/);
    expect(() => checkRequiredOptions("f", "options", [1], ["a"])).toThrow(/\(got Array\)/);
    expect(() => checkRequiredOptions("f", "options", { b: 1 }, ["a"])).toThrow(/^f: options\.b is not an option/);
    expect(() => checkRequiredOptions("f", "options", { a: 1 }, ["a"])).not.toThrow();
  });
});

describe("checkFlag", () => {
  it("accepts booleans and undefined, rejects strings and numbers by name", () => {
    expect(() => checkFlag("f", "options.shuffle", true)).not.toThrow();
    expect(() => checkFlag("f", "options.shuffle", false)).not.toThrow();
    expect(() => checkFlag("f", "options.shuffle", undefined)).not.toThrow();
    expect(() => checkFlag("f", "options.shuffle", "false")).toThrow(
      new TypeError('f: options.shuffle must be true or false (got "false")'),
    );
    expect(() => checkFlag("f", "options.bias", 0)).toThrow(/must be true or false \(got 0\)/);
    expect(() => checkFlag("f", "options.bias", null)).toThrow(/must be true or false \(got null\)/);
  });
});

describe("optionKeys", () => {
  interface Two {
    readonly a?: number;
    readonly b?: boolean;
  }
  it("returns the list as given; a missing or an unknown name does not compile (tsc checks this file)", () => {
    expect(optionKeys<Two>()(["a", "b"])).toEqual(["a", "b"]);
    // @ts-expect-error: "b" is not listed
    optionKeys<Two>()(["a"]);
    // @ts-expect-error: "c" is not a key of Two
    optionKeys<Two>()(["a", "b", "c"]);
  });
});

describe("linalg's entry points check their options", () => {
  const m = (rows: number, cols: number): Matrix<Float64Array> => ({ rows, cols, data: new Float64Array(rows * cols) });
  const spd = (): Matrix<Float64Array> => ({ rows: 2, cols: 2, data: Float64Array.of(2, 0, 0, 2) });
  const bad = { bogus: 1 } as object;
  const cases: [string, () => unknown][] = [
    ["syrk", () => syrk(1, m(3, 2), 0, m(2, 2), bad)],
    ["gramEighInto", () => gramEigh(m(3, 2), bad)],
    ["solveTriangularInto", () => solveTriangular(spd(), m(2, 1), bad)],
    ["closeness", () => closeness(new Float64Array(1), new Float64Array(1), bad)],
    ["tridiagonalQR", () => tridiagonalQR(new Float64Array(2), new Float64Array(1), null, bad)],
    ["matmul", () => matmul(m(2, 2), m(2, 2), bad)],
    ["matmulInto", () => matmulInto(m(2, 2), m(2, 2), m(2, 2), bad)],
    ["eigh", () => eigh(spd(), bad)],
  ];
  it.each(cases)("%s: an unknown key is a TypeError naming the function", (fn, call) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(new RegExp(`^${fn}: options\\.bogus is not an option`));
  });

  it("flags must be booleans: syrk's trans, the triangular solve's, matmul's", () => {
    expect(() => syrk(1, m(3, 2), 0, m(2, 2), { trans: "false" as unknown as boolean })).toThrow(
      new TypeError('syrk: options.trans must be true or false (got "false")'),
    );
    expect(() => solveTriangular(spd(), m(2, 1), { lower: 0 as unknown as boolean })).toThrow(
      new TypeError("solveTriangularInto: options.lower must be true or false (got 0)"),
    );
    expect(() => matmul(m(2, 2), m(2, 2), { transB: 1 as unknown as boolean })).toThrow(
      new TypeError("matmul: options.transB must be true or false (got 1)"),
    );
  });

  it("setThreads: an unknown key is rejected before any thread starts", async () => {
    await expect(setThreads(1, { spawn: () => null, workers: 2 } as never)).rejects.toThrow(
      /^setThreads: options\.workers is not an option; known: spawn$/,
    );
  });
});
