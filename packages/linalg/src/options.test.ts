import { describe, expect, it } from "vitest";
import { checkFlag, checkOptions, optionKeys } from "./options.ts";

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
