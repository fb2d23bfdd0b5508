import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normal, rngOf, seedArb } from "../test/support.ts";
import * as ad from "./index.ts";

describe("tape: accumulation and release", () => {
  it("a tensor used twice accumulates both contributions: d(x·x + 3x)/dx = 2x + 3", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const x = normal(rngOf(seed), [5]);
        const y = ad.sum(ad.add(ad.mul(x, x), ad.mul(x, 3)));
        y.backward();
        const g = x.grad?.data as Float64Array;
        for (let i = 0; i < 5; i++) expect(g[i]).toBeCloseTo(2 * (x.data[i] as number) + 3, 12);
      }),
    );
  });

  it("leaf gradients accumulate across backward calls until zeroGrad", () => {
    const x = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    ad.sum(ad.mul(x, 2)).backward();
    ad.sum(ad.mul(x, 2)).backward();
    expect(x.grad?.toArray()).toEqual([4, 4]);
    const buf = x.grad?.data;
    x.zeroGrad();
    ad.sum(ad.mul(x, 5)).backward();
    expect(x.grad?.toArray()).toEqual([5, 5]);
    expect(x.grad?.data).toBe(buf); // the gradient buffer is kept
  });

  it("a second backward over a released graph is a clear error; retainGraph allows it", () => {
    const x = ad.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = ad.sum(ad.exp(x));
    y.backward();
    expect(() => y.backward()).toThrow(/released by an earlier backward; pass \{ retainGraph: true \}/);
    const z = ad.sum(ad.mul(x, x));
    x.grad = null;
    z.backward(undefined, { retainGraph: true });
    z.backward();
    expect((x.grad as ad.Tensor | null)?.toArray()).toEqual([4, 8, 12]);
  });

  it("backward on a non-scalar without a seed names the shape; with a seed it is a vector-Jacobian product", () => {
    const x = ad.tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: "float64", requiresGrad: true });
    const y = ad.mul(x, x);
    expect(() => y.backward()).toThrow(
      "backward: the output has shape [2,3] (6 elements); a non-scalar output needs a seed gradient of that shape",
    );
    expect(() => y.backward([1, 2])).toThrow(RangeError);
    y.backward([1, 1, 1, 0, 0, 0]);
    expect(x.grad?.toArray()).toEqual([2, 4, 6, 0, 0, 0]);
  });

  it("a typed-array seed (copied natively) gives the gradient an element-by-element copy gives, bit for bit", () => {
    const values = [0.1, 1 / 3, -1e-40, 2 ** -150, 1.5 * 3.4e38, -0, Number.NaN, 7];
    for (const dtype of ["float32", "float64"] as const) {
      const run = (seed: ArrayLike<number>): number[] => {
        const x = ad.tensor([1, 2, 3, 4, 5, 6, 7, 8], [8], { dtype, requiresGrad: true });
        ad.mul(x, 1).backward(seed);
        return Array.from(x.grad?.data ?? []);
      };
      const plain = run(values);
      for (const typed of [Float64Array.from(values), Float32Array.from(values)]) {
        const want = typed instanceof Float32Array ? run(Array.from(typed)) : plain;
        const got = run(typed);
        expect(got.every((v, i) => Object.is(v, want[i]))).toBe(true); // NaN and −0 included
      }
    }
    const x = ad.tensor([1, 2], [2], { requiresGrad: true });
    expect(() => ad.mul(x, 1).backward(new Float64Array(3))).toThrow(RangeError);
  });

  it("backward on a tensor that requires no grad is a clear error", () => {
    const x = ad.tensor([1, 2], [2]);
    expect(() => ad.sum(x).backward()).toThrow(/does not require grad/);
  });

  it("ops on tensors of different element types are a TypeError naming both", () => {
    const a = ad.zeros([2], { dtype: "float32" });
    const b = ad.zeros([2], { dtype: "float64" });
    expect(() => ad.add(a, b)).toThrow(
      new TypeError("add: a is float32 but b is float64; operands must share one element type"),
    );
    expect(() => ad.matmul(ad.zeros([2, 2]), ad.zeros([2, 2], { dtype: "float64" }))).toThrow(TypeError);
    expect(() => ad.concat([a, b])).toThrow(TypeError);
  });

  it("matmul with mismatched inner dimensions names both shapes", () => {
    expect(() => ad.matmul(ad.zeros([3, 4]), ad.zeros([5, 2]))).toThrow(
      "matmul: inner dimensions differ (a is 3×4, b is 5×2)",
    );
    expect(() => ad.matmul(ad.zeros([3, 4]), ad.zeros([5, 2]), { transA: true })).toThrow(
      "matmul: inner dimensions differ (aᵀ is 4×3, b is 5×2)",
    );
  });

  it("other shape errors name the op", () => {
    expect(() => ad.reshape(ad.zeros([2, 3]), [4])).toThrow("reshape: cannot reshape [2,3] (6 elements) to [4]");
    expect(() => ad.slice(ad.zeros([2, 3]), [0, 1], [2, 4])).toThrow(/slice: axis 1 range \[1, 4\)/);
    expect(() => ad.concat([ad.zeros([2, 3]), ad.zeros([3, 3])], 1)).toThrow(/concat: tensors\[1\] has shape \[3,3\]/);
    expect(() => ad.gather(ad.zeros([2, 3]), 1, [0, 3])).toThrow(/gather: index\[1\] = 3 is outside \[0, 3\)/);
    expect(() => ad.conv2d(ad.zeros([1, 2, 5, 5]), ad.zeros([4, 3, 3, 3]))).toThrow(
      /conv2d: w has shape \[4,3,3,3\], expected \[C_out, 2, 3, 3\]/,
    );
    expect(() => ad.sum(ad.zeros([2, 3]), 2)).toThrow("sum: axis 2 is out of range for a tensor of rank 2");
    expect(() => ad.add(ad.zeros([2]), "x" as unknown as ad.Tensor)).toThrow(TypeError);
  });
});

describe("no-grad, detach and capture hooks", () => {
  it("noGrad records nothing and restores the previous mode", () => {
    const x = ad.tensor([1, 2], [2], { requiresGrad: true });
    const y = ad.noGrad(() => ad.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.isLeaf).toBe(true);
    expect(ad.isGradEnabled()).toBe(true);
    expect(() =>
      ad.noGrad(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(ad.isGradEnabled()).toBe(true);
  });

  it("detach shares data and stops the gradient: d(x·detach(x))/dx = x", () => {
    const x = ad.tensor([1, 2, 3], [3], { dtype: "float64", requiresGrad: true });
    const d = x.detach();
    expect(d.data).toBe(x.data);
    ad.sum(ad.mul(x, d)).backward();
    expect(x.grad?.toArray()).toEqual([1, 2, 3]);
  });

  it("retained pre-activation gradients equal finite differences of the loss in the pre-activation", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const rng = rngOf(seed);
        const x = normal(rng, [4, 3], false);
        const w = normal(rng, [5, 3]);
        const s0 = ad.matmul(x, w, { transB: true }); // the pre-activation, a leaf-free intermediate
        const loss = (s: ad.Tensor) => ad.sum(ad.mul(ad.tanh(s), ad.tanh(s)));
        const sLeaf = ad.tensor(s0.data.slice(), s0.shape, { dtype: "float64", requiresGrad: true });
        const s = s0.retainGrad();
        let hooked: number[] = [];
        s.registerHook((g) => {
          hooked = g.toArray();
        });
        loss(s).backward();
        const report = ad.gradcheck(loss, [sLeaf]);
        expect(report.ok).toBe(true);
        const fd = report.inputs[0]?.numeric as Float64Array;
        const got = s.grad?.data as Float64Array;
        for (let i = 0; i < fd.length; i++) {
          expect(Math.abs((got[i] as number) - (fd[i] as number))).toBeLessThanOrEqual(
            1e-6 * Math.max(1, Math.abs(fd[i] as number)),
          );
          expect(hooked[i]).toBe(got[i]);
        }
        expect(w.grad?.shape).toEqual([5, 3]);
      }),
      { numRuns: 30 },
    );
  });

  it("a hook sees the complete gradient once, before it flows back, and can be removed", () => {
    const x = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    const h = ad.mul(x, 1);
    const calls: number[][] = [];
    const remove = h.registerHook((g) => calls.push(g.toArray()));
    ad.sum(ad.add(ad.mul(h, 2), ad.mul(h, 3))).backward();
    expect(calls).toEqual([[5, 5]]);
    remove();
    const h2 = ad.mul(x, 1);
    ad.sum(h2).backward();
    expect(calls.length).toBe(1);
  });

  it("leaf hooks see this backward's contribution", () => {
    const x = ad.tensor([1, 2], [2], { dtype: "float64", requiresGrad: true });
    const seen: number[][] = [];
    x.registerHook((g) => seen.push(g.toArray()));
    ad.sum(ad.mul(x, 2)).backward();
    ad.sum(ad.mul(x, 3)).backward();
    expect(seen).toEqual([
      [2, 2],
      [3, 3],
    ]);
    expect(x.grad?.toArray()).toEqual([5, 5]);
  });

  it("conv2d's onPatches hook hands out the im2col matrix (rows (n, t), columns (c, kh, kw))", () => {
    const rng = new Rng(3);
    const x = ad.randn([2, 4, 5, 6], rng, { dtype: "float64" });
    const w = ad.randn([6, 2, 3, 2], rng, { dtype: "float64", requiresGrad: true });
    const opts = { stride: [2, 1] as const, padding: 1, groups: 2 };
    let captured: Float64Array | null = null;
    ad.conv2d(x, w, null, {
      ...opts,
      onPatches: (p) => {
        captured = Float64Array.from(p);
      },
    });
    const g = ad.conv2dGeometry(x.shape, [3, 2], opts);
    expect(captured).not.toBeNull();
    expect(Array.from(captured as unknown as Float64Array)).toEqual(Array.from(ad.im2col(x.data, g)));
    expect((captured as unknown as Float64Array).length).toBe(2 * 2 * g.positions * 2 * 3 * 2);
  });
});

describe("tape: hooks-only backward ({ accumulate: false })", () => {
  it("hooks see the same gradient as a normal backward; no leaf or retained grad changes; the graph stays", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const rng = rngOf(seed);
        const x = normal(rng, [4, 3]);
        const w = ad.randn([2, 3], rng, { dtype: "float64", requiresGrad: true });
        const s = ad.matmul(x, w, { transB: true }).retainGrad();
        const y = ad.tanh(s);
        const seen: number[][] = [];
        s.registerHook((g) => {
          seen.push(g.toArray());
        });
        const v = rng.fillNormal(new Float64Array(8));
        y.backward(v, { retainGraph: true, accumulate: false });
        expect(w.grad).toBeNull();
        expect(s.grad).toBeNull();
        y.backward(v); // the graph was kept
        expect(seen.length).toBe(2);
        expect(seen[0]).toEqual(seen[1]); // bit-identical ∂/∂s both times
        expect(s.grad?.toArray()).toEqual(seen[1]);
      }),
    );
  });

  it("matmul's weight product is skipped: a hooks-only pass leaves an existing gradient bit-unchanged", () => {
    const rng = new Rng(4);
    const w = ad.randn([3, 2], rng, { dtype: "float64", requiresGrad: true });
    const x = ad.randn([5, 3], rng, { dtype: "float64", requiresGrad: true });
    const h = ad.matmul(x, w);
    const z = ad.sum(ad.mul(h, h));
    z.backward(undefined, { retainGraph: true });
    const before = [...(w.grad?.data ?? [])];
    const beforeX = [...(x.grad?.data ?? [])];
    z.backward(undefined, { accumulate: false });
    expect([...(w.grad?.data ?? [])]).toEqual(before);
    expect([...(x.grad?.data ?? [])]).toEqual(beforeX);
  });

  it("a hooks-only pass from a leaf returns its seed to the pool and writes nothing", () => {
    const x = ad.tensor([1, 2], [2], { requiresGrad: true });
    x.backward([1, 1], { accumulate: false });
    expect(x.grad).toBeNull();
  });
});

describe("deferred gradients: Tensor.deferGrad and matmul's gradB", () => {
  /** The reference: W̄ of y = Σ (x·Wᵀ)² + Σ W, formed by the rule. */
  const setup = (seed: number) => {
    const rng = rngOf(seed);
    const x = normal(rng, [4, 3]);
    const w = normal(rng, [2, 3], true);
    return { x, w };
  };
  const loss = (x: ad.Tensor, w: ad.Tensor, gradB?: (c: Float64Array | Float32Array) => void) => {
    const s = ad.matmul(x, w, gradB ? { transB: true, gradB } : { transB: true });
    return ad.add(ad.sum(ad.square(s)), ad.sum(w));
  };

  it("gradB receives C̄ instead of the product; a deferred W̄ += C̄ᵀx completes the gradient on the first read", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const { x, w } = setup(seed);
        loss(x, w).backward();
        const want = Array.from(w.grad?.data ?? []);
        const d = setup(seed);
        let calls = 0;
        loss(d.x, d.w, (cot) => {
          calls++;
          const c = Float64Array.from(cot); // valid only during the call
          d.w.deferGrad((into) => {
            for (let o = 0; o < 2; o++)
              for (let i = 0; i < 3; i++)
                for (let n = 0; n < 4; n++)
                  into[o * 3 + i] =
                    (into[o * 3 + i] as number) + (c[n * 2 + o] as number) * (d.x.data[n * 3 + i] as number);
          });
        }).backward();
        expect(calls).toBe(1);
        // Only Σ W's ones so far: not the deferred part alone.
        expect(d.w.gradDeferredOnly).toBe(false);
        const got = Array.from(d.w.grad?.data ?? []);
        for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i] as number, 12);
        expect(d.w.gradDeferredOnly).toBe(false);
      }),
    );
  });

  it("gradDeferredOnly, zeroGrad and assignment: a pending contribution is the whole gradient until read, and discarded by both", () => {
    const w = ad.tensor([1, 2, 3], [3], { dtype: "float64", requiresGrad: true });
    const add1 = (into: Float64Array | Float32Array) => {
      for (let i = 0; i < into.length; i++) into[i] = (into[i] as number) + 1;
    };
    expect(w.gradDeferredOnly).toBe(false);
    w.deferGrad(add1);
    expect(w.gradDeferredOnly).toBe(true);
    expect(Array.from(w.grad?.data ?? [])).toEqual([1, 1, 1]);
    expect(w.gradDeferredOnly).toBe(false);
    w.zeroGrad();
    w.deferGrad(add1);
    expect(w.gradDeferredOnly).toBe(true); // a zero gradient holds nothing else
    w.zeroGrad();
    expect(w.gradDeferredOnly).toBe(false);
    expect(Array.from(w.grad?.data ?? [])).toEqual([0, 0, 0]);
    w.deferGrad(add1);
    w.deferGrad(add1); // the first is formed before the second is kept
    expect(Array.from(w.grad?.data ?? [])).toEqual([2, 2, 2]);
    w.deferGrad(add1);
    w.grad = null;
    expect(w.grad).toBeNull();
    expect(() => w.deferGrad(3 as unknown as () => void)).toThrow(TypeError);
  });

  it("a hooks-only backward never calls gradB; gradB on a computed b is refused", () => {
    const { x, w } = setup(4);
    let calls = 0;
    const y = loss(x, w, () => calls++);
    y.backward(undefined, { accumulate: false, retainGraph: true });
    expect(calls).toBe(0);
    y.backward();
    expect(calls).toBe(1);
    expect(() => ad.matmul(x, ad.mul(w, 2), { transB: true, gradB: () => {} })).toThrow(
      /matmul: options.gradB needs b to be a leaf tensor \(b was computed by mul\)/,
    );
    expect(() => ad.matmul(x, w, { transB: true, gradB: 1 as unknown as () => void })).toThrow(TypeError);
  });
});
