/** Issue 19: the version counter (in-place changes between forward and backward), pow at 0, clear errors. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as ad from "./index.ts";

describe("version counter (issue 19: in-place changes silently changed the gradient)", () => {
  // Every input counts, not only those a rule reads (add's rule reads none): stricter than PyTorch,
  // never silent.
  it("modifying an input of add, whose rule reads no values, is refused too", () => {
    const w = ad.tensor([1], [1], { dtype: "float64", requiresGrad: true });
    const x = ad.tensor([4], [1], { dtype: "float64" });
    const y = ad.sum(ad.add(w, x));
    x.markModified();
    expect(() => y.backward()).toThrow(/"add"/);
  });

  it("modifying a saved input after the op and before backward throws naming the op", () => {
    const w = ad.tensor([1, 2, 3], [3], { dtype: "float64", requiresGrad: true });
    const x = ad.tensor([4, 5, 6], [3], { dtype: "float64" });
    const y = ad.sum(ad.mul(w, x));
    x.data[0] = 100;
    x.markModified();
    expect(() => y.backward()).toThrow(/"mul" was modified in place/);
  });

  it("modifying a parameter (a leaf requiring grad) is caught the same way", () => {
    const w = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    const y = ad.sum(ad.exp(ad.mul(w, w)));
    w.markModified();
    expect(() => y.backward()).toThrow(/modified in place/);
  });

  it("modifying an op's output that its rule reads (exp uses y) is caught", () => {
    const x = ad.tensor([0.5], [1], { dtype: "float64", requiresGrad: true });
    const e = ad.exp(x);
    e.markModified();
    expect(() => e.backward([1])).toThrow(/"exp"/);
  });

  it("a refused backward leaves the gradients and the graph untouched: after restoring, nothing accumulated", () => {
    const w = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    const c = ad.tensor([3, 4], [2], { dtype: "float64" });
    const y = ad.sum(ad.mul(w, c));
    c.markModified();
    expect(() => y.backward()).toThrow();
    expect(w.grad).toBeNull();
  });

  it("changes before the op runs, or after backward, are fine: the gradient equals the new values' gradient", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 6 }), (vals) => {
        const w = ad.tensor(vals, [vals.length], { dtype: "float64", requiresGrad: true });
        const x = ad.ones([vals.length], { dtype: "float64" });
        x.data.fill(2);
        x.markModified();
        const y = ad.sum(ad.mul(w, x));
        y.backward();
        x.markModified();
        for (const g of w.grad?.data ?? []) expect(g).toBe(2);
      }),
    );
  });

  it("version starts at 0 and markModified increments it", () => {
    const t = ad.zeros([2]);
    expect(t.version).toBe(0);
    expect(t.markModified().markModified().version).toBe(2);
  });
});

describe("pow at base 0 (issue 19: NaN where PyTorch returns 0)", () => {
  it("∂(aᵇ)/∂a at a = 0, b = 0 is 0 and ∂(aᵇ)/∂b at a = 0, b ≥ 0 is 0", () => {
    const a = ad.tensor([0, 0, 0], [3], { dtype: "float64", requiresGrad: true });
    const b = ad.tensor([0, 1, 2], [3], { dtype: "float64", requiresGrad: true });
    ad.sum(ad.pow(a, b)).backward();
    expect(Array.from(a.grad?.data ?? [])).toEqual([0, 1, 0]);
    expect(Array.from(b.grad?.data ?? [])).toEqual([0, 0, 0]);
  });
  it("away from 0 the rule is unchanged: ∂(aᵇ)/∂a = b·a^(b−1), ∂(aᵇ)/∂b = aᵇ ln a", () => {
    const a = ad.tensor([2], [1], { dtype: "float64", requiresGrad: true });
    const b = ad.tensor([3], [1], { dtype: "float64", requiresGrad: true });
    ad.sum(ad.pow(a, b)).backward();
    expect(a.grad?.data[0]).toBeCloseTo(12, 12);
    expect(b.grad?.data[0]).toBeCloseTo(8 * Math.log(2), 12);
  });
});

describe("clear errors (issue 19)", () => {
  it("tensor(undefined) and tensor(null) are TypeErrors naming tensor", () => {
    expect(() => ad.tensor(undefined as unknown as number)).toThrow(/^tensor: values must be/);
    expect(() => ad.tensor(null as unknown as number)).toThrow(TypeError);
    expect(() => ad.tensor({} as unknown as number[])).toThrow(TypeError);
  });
  it("a huge size names the function and the size", () => {
    expect(() => ad.zeros([1e6, 1e6])).toThrow(/zeros: cannot allocate 1000000000000 float32 elements/);
  });
});

describe("shared buffers share one version counter", () => {
  it("modifying a constant whose reshape (sharing its buffer) was saved is refused", () => {
    const w = ad.tensor([1, 2], [1, 2], { dtype: "float64", requiresGrad: true });
    const x = ad.tensor([3, 4], [2], { dtype: "float64" });
    const y = ad.sum(ad.matmul(w, ad.reshape(x, [2, 1])));
    x.data[0] = 30;
    x.markModified();
    expect(() => y.backward()).toThrow(/"matmul" was modified in place/);
  });
  it("marking a detached view marks its source", () => {
    const w = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    const y = ad.sum(ad.mul(w, w));
    w.detach().markModified();
    expect(w.version).toBe(1);
    expect(() => y.backward()).toThrow(/modified in place/);
  });
});
