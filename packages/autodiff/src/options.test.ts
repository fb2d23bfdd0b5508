/** Every autodiff function that takes an options object rejects keys it does not read and non-boolean flags. */
import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import * as ad from "./index.ts";

const bad = { bogus: 1 } as never;

describe("options objects", () => {
  const x = () => ad.tensor([1, 2, 3, 4], [2, 2], { dtype: "float64", requiresGrad: true });
  const cases: [string, () => unknown][] = [
    ["tensor", () => ad.tensor([1], [1], bad)],
    ["scalar", () => ad.scalar(1, bad)],
    ["full", () => ad.full([2], 1, bad)],
    ["zeros", () => ad.zeros([2], bad)],
    ["ones", () => ad.ones([2], bad)],
    ["randn", () => ad.randn([2], new Rng(1), bad)],
    ["rand", () => ad.rand([2], new Rng(1), bad)],
    ["fromMatrix", () => ad.fromMatrix({ rows: 1, cols: 1, data: new Float64Array(1) }, bad)],
    ["oneHot", () => ad.oneHot([0], 2, bad)],
    ["matmul", () => ad.matmul(x(), x(), bad)],
    ["gelu", () => ad.gelu(x(), bad)],
    ["dropout", () => ad.dropout(x(), 0.5, new Rng(1), bad)],
    ["gradcheck", () => ad.gradcheck((t) => ad.sum(t), [x()], bad)],
    ["backward", () => ad.sum(x()).backward(undefined, bad)],
  ];
  it.each(cases)("%s: an unknown key is a TypeError naming the function and the key", (fn, call) => {
    expect(call).toThrow(new RegExp(`^${fn}: options\\.bogus is not an option; known: `));
    expect(call).toThrow(TypeError);
  });

  it("a misspelling gets the closest name; the distributions' own keys are known to them only", () => {
    expect(() => ad.zeros([2], { dtpye: "float64" } as never)).toThrow(
      new TypeError("zeros: options.dtpye is not an option (did you mean dtype?); known: dtype, requiresGrad"),
    );
    expect(() => ad.randn([2], new Rng(1), { mean: 1, std: 2 })).not.toThrow();
    expect(() => ad.zeros([2], { mean: 1 } as never)).toThrow(/^zeros: options\.mean is not an option/);
    expect(() => ad.rand([2], new Rng(1), { lo: 0, hi: 2 })).not.toThrow();
    expect(() => ad.randn([2], new Rng(1), { lo: 0 } as never)).toThrow(/^randn: options\.lo is not an option/);
  });

  it("flags must be booleans: a string 'false' would be truthy", () => {
    expect(() => ad.zeros([2], { requiresGrad: "false" } as never)).toThrow(
      new TypeError('zeros: options.requiresGrad must be true or false (got "false")'),
    );
    expect(() => ad.matmul(x(), x(), { transA: 1 } as never)).toThrow(/^matmul: options\.transA must be true or false/);
    expect(() => ad.dropout(x(), 0.5, new Rng(1), { training: "no" } as never)).toThrow(
      /^dropout: options\.training must be true or false/,
    );
    expect(() => ad.sum(x()).backward(undefined, { retainGraph: "yes" } as never)).toThrow(
      /^backward: options\.retainGraph must be true or false/,
    );
    expect(() => ad.fromMatrix({ rows: 1, cols: 1, data: new Float64Array(1) }, { dtype: "float16" } as never)).toThrow(
      new TypeError('fromMatrix: dtype must be "float32" or "float64" (got float16)'),
    );
  });
});
