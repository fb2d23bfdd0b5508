/**
 * Fuzz suite over autodiff's public entry points (issue 19): random shapes including zero sizes and
 * broadcasting, NaN/±Inf, wrong kinds of argument, in-place changes between forward and backward.
 * Every call ends in a clear TypeError/RangeError naming the op, or a correct result (values against
 * a scalar reference, gradient shapes, finiteness from finite input). Depth: FC_NUM_RUNS.
 */
import { clearErrorOr, Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as ad from "./index.ts";

const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 3 });
const finite = fc.double({ min: -3, max: 3, noNaN: true });
const special = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0);
const value = fc.oneof({ weight: 8, arbitrary: finite }, { weight: 1, arbitrary: special });

const tensorArb = (valueArb = value) =>
  shapeArb.chain((shape) => {
    const n = shape.reduce((p, q) => p * q, 1);
    return fc
      .array(valueArb, { minLength: n, maxLength: n })
      .map((v) => ad.tensor(v, shape, { dtype: "float64", requiresGrad: true }));
  });

/** Element of `t` at the broadcast position of output index `idx` (numpy rules, aligned right). */
function at(t: ad.Tensor, outShape: readonly number[], idx: readonly number[]): number {
  let flat = 0;
  const off = outShape.length - t.ndim;
  for (let d = 0; d < t.ndim; d++) {
    const size = t.shape[d] as number;
    flat = flat * size + (size === 1 ? 0 : (idx[d + off] as number));
  }
  return t.data[flat] as number;
}

function* indices(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((p, q) => p * q, 1);
  for (let f = 0; f < n; f++) {
    const idx: number[] = [];
    let r = f;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx.unshift(r % (shape[d] as number));
      r = Math.floor(r / (shape[d] as number));
    }
    yield idx;
  }
}

const binary: [string, (a: ad.Tensor, b: ad.Tensor) => ad.Tensor, (x: number, y: number) => number][] = [
  ["add", ad.add, (x, y) => x + y],
  ["sub", ad.sub, (x, y) => x - y],
  ["mul", ad.mul, (x, y) => x * y],
  ["div", ad.div, (x, y) => x / y],
  ["maximum", ad.maximum, (x, y) => (x >= y || Number.isNaN(x) ? x : y)],
];

const allFinite = (x: ArrayLike<number>): boolean => Array.prototype.every.call(x, Number.isFinite);

describe("autodiff fuzz", () => {
  it("binary ops on random shapes: a RangeError when not broadcastable, else the broadcast values and input-shaped gradients", () => {
    fc.assert(
      fc.property(tensorArb(), tensorArb(), fc.integer({ min: 0, max: binary.length - 1 }), (a, b, k) => {
        const [name, op, ref] = binary[k] as (typeof binary)[number];
        const y = clearErrorOr(`${name}:`, () => op(a, b));
        if (y === undefined) {
          expect(() => ad.broadcastShapes("test", a.shape, b.shape)).toThrow(RangeError);
          return;
        }
        expect(y.shape).toEqual(ad.broadcastShapes("test", a.shape, b.shape));
        let i = 0;
        for (const idx of indices(y.shape)) expect(y.data[i++]).toBe(ref(at(a, y.shape, idx), at(b, y.shape, idx)));
        ad.sum(y).backward();
        expect(a.grad?.shape ?? a.shape).toEqual(a.shape);
        expect(b.grad?.shape ?? b.shape).toEqual(b.shape);
        if (name !== "div" && allFinite(a.data) && allFinite(b.data)) {
          expect(allFinite(y.data)).toBe(true);
          expect(allFinite(a.grad?.data ?? [])).toBe(true);
          expect(allFinite(b.grad?.data ?? [])).toBe(true);
        }
      }),
    );
  });

  it("total unary ops and softmax-family on finite input give finite values and finite gradients", () => {
    const unary: [string, (x: ad.Tensor) => ad.Tensor][] = [
      ["tanh", ad.tanh],
      ["sigmoid", ad.sigmoid],
      ["relu", ad.relu],
      ["softplus", ad.softplus],
      ["abs", ad.abs],
      ["exp", ad.exp],
      ["gelu", (x) => ad.gelu(x)],
      ["square", ad.square],
      ["logSoftmax", (x) => ad.logSoftmax(x)],
      ["softmax", (x) => ad.softmax(x)],
      ["logsumexp", (x) => ad.logsumexp(x)],
    ];
    fc.assert(
      fc.property(tensorArb(finite), fc.integer({ min: 0, max: unary.length - 1 }), (x, k) => {
        const [name, op] = unary[k] as (typeof unary)[number];
        const y = clearErrorOr(`${name}:`, () => op(x));
        if (y === undefined) return; // e.g. softmax of a scalar: no axis
        if (!allFinite(y.data)) {
          // logsumexp over an empty axis is −∞ (log 0), the exact value; nothing else may be non-finite.
          expect(name).toBe("logsumexp");
          expect(x.size).toBe(0);
          return;
        }
        ad.sum(y).backward();
        expect(allFinite(x.grad?.data ?? [])).toBe(true);
      }),
    );
  });

  it("matmul on random shapes: a RangeError naming matmul, or the naive product with finite gradients", () => {
    const d = fc.integer({ min: 0, max: 4 });
    fc.assert(
      fc.property(fc.tuple(d, d, d, d), fc.boolean(), fc.boolean(), ([m, k, k2, n], ta, tb) => {
        const opts = { dtype: "float64" as const, requiresGrad: true };
        const a = ad.randn(ta ? [k, m] : [m, k], new Rng(m + 7 * k), opts);
        const b = ad.randn(tb ? [n, k2] : [k2, n], new Rng(n + 11 * k2), opts);
        const c = clearErrorOr("matmul:", () => ad.matmul(a, b, { transA: ta, transB: tb }));
        if (c === undefined) {
          expect(k).not.toBe(k2);
          return;
        }
        expect(c.shape).toEqual([m, n]);
        const A = (i: number, p: number) => (ta ? a.data[p * m + i] : a.data[i * k + p]) as number;
        const B = (p: number, j: number) => (tb ? b.data[j * k + p] : b.data[p * n + j]) as number;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += A(i, p) * B(p, j);
            expect(Math.abs((c.data[i * n + j] as number) - s)).toBeLessThanOrEqual(
              1e-12 * (1 + Math.abs(s)) * (k + 1),
            );
          }
        ad.sum(c).backward();
        expect(allFinite(a.grad?.data ?? [])).toBe(true);
        expect(allFinite(b.grad?.data ?? [])).toBe(true);
      }),
    );
  });

  it("reductions and shape ops with random axes: a RangeError naming the op, or the right shape and total", () => {
    const axisArb = fc.oneof(fc.integer({ min: -4, max: 4 }), fc.constantFrom(0.5, Number.NaN));
    fc.assert(
      fc.property(tensorArb(finite), fc.array(axisArb, { maxLength: 3 }), fc.boolean(), (x, axes, keep) => {
        const s = clearErrorOr("sum:", () => ad.sum(x, axes, keep));
        if (s !== undefined) {
          // An empty list reduces no axis (numpy's axis=()); the total is kept whatever the axes.
          const reduced = new Set(axes.map((a) => (a < 0 ? a + x.ndim : a))).size;
          expect(s.ndim).toBe(keep ? x.ndim : x.ndim - reduced);
          const total = Array.from(x.data).reduce((p, q) => p + q, 0);
          const got = Array.from(s.data).reduce((p, q) => p + q, 0);
          expect(Math.abs(got - total)).toBeLessThanOrEqual(1e-9 * (1 + x.size));
        }
        const m = clearErrorOr("max:", () => ad.max(x, axes, keep));
        if (m !== undefined) expect(allFinite(m.data)).toBe(true);
        const r = clearErrorOr("reshape:", () =>
          ad.reshape(
            x,
            axes.map((a) => Math.abs(a)),
          ),
        );
        if (r !== undefined) expect(r.size).toBe(x.size);
        const p = clearErrorOr("permute:", () => ad.permute(x, axes));
        if (p !== undefined) expect(p.size).toBe(x.size);
      }),
    );
  });

  it("wrong kinds of argument are TypeErrors or RangeErrors naming the op", () => {
    const junk = fc.constantFrom<unknown>(null, undefined, "x", {}, [1, 2], new Float32Array(2), Symbol("s"));
    const t = ad.ones([2, 2]);
    fc.assert(
      fc.property(junk, (j) => {
        const v = j as ad.Tensor;
        for (const [fn, f] of [
          ["add", () => ad.add(v, t)],
          ["mul", () => ad.mul(t, v)],
          ["matmul", () => ad.matmul(v, t)],
          ["exp", () => ad.exp(v)],
          ["sum", () => ad.sum(v)],
          ["reshape", () => ad.reshape(v, [4])],
          ["backward", () => ad.backward(v)],
        ] as const)
          expect(clearErrorOr(`${fn}:`, f as () => unknown), fn).toBeUndefined();
        // tensor() accepts array-likes (the Float32Array, the number list); everything else is a TypeError.
        const made = clearErrorOr("tensor:", () => ad.tensor(j as number[]));
        if (made !== undefined) expect(made.size).toBe((j as ArrayLike<number>).length);
      }),
    );
  });

  it("a random in-place change between forward and backward is refused; without one the gradient equals the formula", () => {
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 5 }), fc.integer({ min: -1, max: 2 }), (vals, which) => {
        const n = vals.length;
        const w = ad.tensor(vals, [n], { dtype: "float64", requiresGrad: true });
        const c = ad.full([n], 0.5, { dtype: "float64" });
        const h = ad.tanh(ad.mul(w, c));
        const y = ad.sum(ad.mul(h, h));
        const touched = [w, c, h][which];
        if (touched !== undefined) {
          touched.markModified();
          expect(() => y.backward()).toThrow(/modified in place/);
          expect(w.grad).toBeNull();
          return;
        }
        y.backward();
        for (let i = 0; i < n; i++) {
          const t = Math.tanh(0.5 * (vals[i] as number));
          expect(w.grad?.data[i]).toBeCloseTo(2 * t * (1 - t * t) * 0.5, 12);
        }
      }),
    );
  });
});
