import { frobenius } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scaleByAdam } from "./adaptive.ts";
import { sgd } from "./aliases.ts";
import { addDecayedWeights, addL2, scale, scaleByLearningRate, traceMomentum } from "./basic.ts";
import { clipByGlobalNorm, clipByValue, globalNorm } from "./clipping.ts";
import { Optimizer } from "./optimizer.ts";
import { applyUpdates, chain, identity } from "./transform.ts";

const vec = (xs: number[]) => Float64Array.from(xs);

describe("chain and applyUpdates", () => {
  it("applyUpdates: θ ← θ + u, in place, and returns θ", () => {
    const p = [vec([1, 2]), vec([3])];
    const out = applyUpdates(p, [vec([0.5, -1]), vec([2])]);
    expect(out).toBe(p);
    expect(Array.from(p[0] as Float64Array)).toEqual([1.5, 1]);
    expect(Array.from(p[1] as Float64Array)).toEqual([5]);
  });

  it("applyUpdates on float32 arrays of every length (SIMD path and JS tail) equals fround(θ + u); an update sharing the parameter's memory works too", () => {
    for (const n of [1, 7, 255, 256, 1001]) {
      const p = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
      const u = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 1e-3);
      const want = Float32Array.from(p, (v, i) => v + (u[i] as number));
      applyUpdates([p], [u]);
      expect(Array.from(p)).toEqual(Array.from(want));
    }
    // θ and u in one buffer (as a flat parameter store would hold them): the JS loop, not the kernel.
    const store = Float32Array.from({ length: 600 }, (_, i) => i);
    const theta = store.subarray(0, 300);
    const update = store.subarray(300);
    applyUpdates([theta], [update]);
    expect(theta[0]).toBe(300);
    expect(theta[299]).toBe(299 + 599);
  });

  it("chain runs left to right: clip(1) ∘ scale(10) ≠ scale(10) ∘ clip(1)", () => {
    const a = chain(scale(10), clipByValue(1));
    const b = chain(clipByValue(1), scale(10));
    const ua = [vec([0.5, -0.05])];
    const ub = [vec([0.5, -0.05])];
    a.update(ua, a.init(ua));
    b.update(ub, b.init(ub));
    expect(Array.from(ua[0] as Float64Array)).toEqual([1, -0.5]);
    expect(Array.from(ub[0] as Float64Array)).toEqual([5, -0.5]);
  });

  it("chain's state is the tuple of the inner states", () => {
    const p = [new Float64Array(2)];
    const t = chain(traceMomentum({ momentum: 0.9 }), scaleByLearningRate(0.1));
    const s = t.init(p);
    expect(s.length).toBe(2);
    expect(s[0].trace[0]?.length).toBe(2);
    expect(s[1].count).toBe(0);
    t.update([vec([1, 1])], s);
    expect(s[0].count).toBe(1);
    expect(s[1].count).toBe(1);
  });

  it("chain() of nothing and identity() leave updates unchanged", () => {
    const u = [vec([1, -2])];
    const e = chain();
    e.update(u, e.init(u));
    const i = identity();
    i.update(u, i.init(u));
    expect(Array.from(u[0] as Float64Array)).toEqual([1, -2]);
  });

  it("sgd(η) moves θ by exactly −η·g", () => {
    const p = [vec([1, 2])];
    new Optimizer(sgd(0.5), p).step([vec([4, -2])]);
    expect(Array.from(p[0] as Float64Array)).toEqual([-1, 3]);
  });

  it("Optimizer.step does not modify the caller's gradient", () => {
    const g = [vec([4, -2])];
    new Optimizer(scaleByAdamChain(), [vec([1, 2])]).step(g);
    expect(Array.from(g[0] as Float64Array)).toEqual([4, -2]);
  });
});

function scaleByAdamChain() {
  return chain(scaleByAdam(), scaleByLearningRate(0.1));
}

describe("weight decay", () => {
  it("addDecayedWeights: u ← u + λθ; the mask exempts arrays", () => {
    const p = [vec([2, -4]), vec([10])];
    const u = [vec([1, 1]), vec([1])];
    const t = addDecayedWeights(0.5, { mask: [true, false] });
    t.update(u, t.init(p), p);
    expect(Array.from(u[0] as Float64Array)).toEqual([2, -1]);
    expect(Array.from(u[1] as Float64Array)).toEqual([1]);
  });

  for (const [name, make] of [
    ["addL2", addL2],
    ["addDecayedWeights", addDecayedWeights],
  ] as const) {
    it(`${name}: u ← u + λθ on the masked-in arrays, masked-out updates and all parameters untouched`, () => {
      const arrays = fc.array(fc.float64Array({ minLength: 1, maxLength: 5, min: -1e3, max: 1e3, noNaN: true }), {
        minLength: 1,
        maxLength: 4,
      });
      fc.assert(
        fc.property(
          arrays,
          fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
          fc.double({ min: 0, max: 10, noNaN: true }),
          fc.integer({ min: 1, max: 1000 }),
          (params, maskBits, wd, seed) => {
            const mask = params.map((_, k) => maskBits[k] as boolean);
            const u0 = params.map((p, k) => Float64Array.from(p, (x, i) => Math.sin(seed + 7 * k + i) * 10 - x / 3));
            const p0 = params.map((p) => p.slice());
            const u = u0.map((x) => x.slice());
            const t = make(wd, { mask });
            t.update(u, t.init(params), params);
            return params.every((p, k) => {
              const want = Float64Array.from(u0[k] as Float64Array, (x, i) =>
                mask[k] ? x + wd * (p[i] as number) : x,
              );
              return (
                (u[k] as Float64Array).every((x, i) => Object.is(x, want[i])) &&
                p.every((x, i) => Object.is(x, p0[k]?.[i]))
              );
            });
          },
        ),
      );
    });
  }

  it("placement: chain(addL2(λ), scaleByAdam()) (coupled) ≠ chain(scaleByAdam(), addDecayedWeights(λ)) (decoupled), each its own first step", () => {
    // Adam's first step (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) on g: m = (1−β₁)g, v = (1−β₂)g², d = m̂/(√v̂ + ε) with
    // m̂ = m/(1−β₁), v̂ = v/(1−β₂).
    const adam1 = (g: number) => ((1 - 0.9) * g) / (1 - 0.9) / (Math.sqrt(((1 - 0.999) * g * g) / (1 - 0.999)) + 1e-8);
    const lambda = 0.5;
    const theta = [vec([2, -4, 0.5]), vec([3])];
    const grad = [vec([0.1, 1, -0.3]), vec([-2])];
    const mask = [true, false];
    const coupled = chain(addL2(lambda, { mask }), scaleByAdam());
    const decoupled = chain(scaleByAdam(), addDecayedWeights(lambda, { mask }));
    const uc = grad.map((g) => g.slice());
    const ud = grad.map((g) => g.slice());
    coupled.update(uc, coupled.init(theta), theta);
    decoupled.update(ud, decoupled.init(theta), theta);
    for (let k = 0; k < theta.length; k++) {
      for (let i = 0; i < (theta[k] as Float64Array).length; i++) {
        const g = grad[k]?.[i] as number;
        const th = mask[k] ? (theta[k]?.[i] as number) : 0;
        // Coupled: the decay passes through Adam's normalisation, d = adam(g + λθ).
        expect(uc[k]?.[i]).toBeCloseTo(adam1(g + lambda * th), 12);
        // Decoupled: it is added after it, d = adam(g) + λθ.
        expect(ud[k]?.[i]).toBeCloseTo(adam1(g) + lambda * th, 12);
      }
    }
    // Where they part: θ = 2, g = 0.1 gives adam(1.1) ≈ 1 against adam(0.1) + 1 ≈ 2; θ = 0.5, g = −0.3 gives
    // adam(−0.05) ≈ −1 against −1 + 0.25. The masked-out array gets plain Adam from both.
    expect(Math.abs((uc[0]?.[0] as number) - (ud[0]?.[0] as number))).toBeGreaterThan(0.5);
    expect(Math.abs((uc[0]?.[2] as number) - (ud[0]?.[2] as number))).toBeGreaterThan(0.1);
    expect(uc[1]?.[0]).toBe(ud[1]?.[0]);
  });
});

describe("clipping", () => {
  const arrays = fc.array(fc.float64Array({ minLength: 0, maxLength: 5, min: -1e3, max: 1e3, noNaN: true }), {
    minLength: 1,
    maxLength: 4,
  });

  it("clipByGlobalNorm: ‖clip(u)‖ ≤ c and clip(u) = s·u with s ∈ (0, 1]", () => {
    fc.assert(
      fc.property(arrays, fc.double({ min: 1e-3, max: 100, noNaN: true }), (us, c) => {
        const orig = us.map((u) => u.slice());
        clipByGlobalNorm(c).update(us, {});
        const n = globalNorm(us);
        if (n > c * (1 + 1e-12)) return false;
        const n0 = globalNorm(orig);
        const s = n0 > c ? c / n0 : 1;
        return us.every((u, k) =>
          u.every((x, i) => Math.abs(x - s * (orig[k]?.[i] as number)) <= 1e-12 * Math.abs(x) + 1e-300),
        );
      }),
    );
  });

  it("clipByGlobalNorm leaves updates with ‖u‖ ≤ c bit-for-bit unchanged", () => {
    const u = [vec([0.3, -0.4])]; // norm 0.5
    clipByGlobalNorm(0.5).update(u, {});
    expect(Array.from(u[0] as Float64Array)).toEqual([0.3, -0.4]);
  });

  it("clipByGlobalNorm leaves non-finite updates untouched (for skipNonFinite to see)", () => {
    const u = [vec([1e3, Number.NaN]), vec([Number.POSITIVE_INFINITY])];
    clipByGlobalNorm(1).update(u, {});
    expect(u[0]?.[0]).toBe(1e3);
    expect(Number.isNaN(u[0]?.[1])).toBe(true);
    expect(u[1]?.[0]).toBe(Number.POSITIVE_INFINITY);
  });

  it("globalNorm does not overflow for entries near 1e200 and equals the Frobenius norm of the concatenation", () => {
    const u = [vec([3e200]), vec([4e200])];
    expect(globalNorm(u)).toBeCloseTo(5e200, -190);
    const parts = [vec([1, 2, 3]), vec([]), vec([-4])];
    expect(globalNorm(parts)).toBeCloseTo(frobenius(vec([1, 2, 3, -4])), 14);
    expect(Number.isNaN(globalNorm([vec([Number.NaN, 1])]))).toBe(true);
    expect(globalNorm([vec([Number.NEGATIVE_INFINITY, 1])])).toBe(Number.POSITIVE_INFINITY);
  });

  it("clipByValue clamps to [−c, c] and keeps NaN", () => {
    const u = [vec([5, -5, 0.5, Number.NaN, -0])];
    clipByValue(1).update(u, {});
    const r = Array.from(u[0] as Float64Array);
    expect(r.slice(0, 3)).toEqual([1, -1, 0.5]);
    expect(Number.isNaN(r[3])).toBe(true);
    expect(Object.is(r[4], -0)).toBe(true);
  });
});

describe("scale and learning rate", () => {
  it("scale(s): u ← s·u; scaleByLearningRate(η): u ← −η·u; flipSign: false gives +η·u", () => {
    const u = [vec([2, -1])];
    scale(3).update(u, {});
    expect(Array.from(u[0] as Float64Array)).toEqual([6, -3]);
    const lr = scaleByLearningRate(0.5);
    lr.update(u, lr.init(u));
    expect(Array.from(u[0] as Float64Array)).toEqual([-3, 1.5]);
    const up = scaleByLearningRate(2, { flipSign: false });
    up.update(u, up.init(u));
    expect(Array.from(u[0] as Float64Array)).toEqual([-6, 3]);
  });

  it("momentum with a constant direction converges to g/(1 − μ) (heavy-ball fixed point)", () => {
    const t = traceMomentum({ momentum: 0.5 });
    const s = t.init([new Float64Array(1)]);
    const u = [vec([1])];
    for (let k = 0; k < 60; k++) {
      u[0]?.fill(1);
      t.update(u, s);
    }
    expect(u[0]?.[0]).toBeCloseTo(2, 14);
  });
});
