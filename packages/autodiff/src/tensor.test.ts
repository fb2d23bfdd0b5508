import { fromArray, Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import * as ad from "./index.ts";

describe("tensor creation", () => {
  it("tensor infers nested shapes and copies values", () => {
    const src = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const t = ad.tensor(src);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ad.tensor(7).shape).toEqual([]);
    expect(ad.tensor(7).item()).toBe(7);
    expect(ad.tensor([1, 2, 3, 4], [2, 2], { dtype: "float64" }).data).toBeInstanceOf(Float64Array);
  });

  it("never truncates or pads: a count mismatch or ragged array is an error", () => {
    expect(() => ad.tensor([1, 2, 3], [2, 2])).toThrow("tensor: 3 values cannot fill shape [2,2] (4 elements)");
    expect(() => ad.tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => ad.zeros([2, -1])).toThrow(RangeError);
    expect(() => ad.tensor([1], [1], { dtype: "int8" as "float32" })).toThrow(TypeError);
    expect(() => ad.tensor([1, 2]).item()).toThrow("item: tensor has shape [2] (2 elements), expected 1");
  });

  it("zeros, ones, full, randn, rand, scalar, oneHot", () => {
    expect(ad.zeros([2, 2]).toArray()).toEqual([0, 0, 0, 0]);
    expect(ad.ones([3]).toArray()).toEqual([1, 1, 1]);
    expect(ad.full([2], 2.5, { dtype: "float64" }).toArray()).toEqual([2.5, 2.5]);
    const a = ad.randn([100], new Rng(1));
    const b = ad.randn([100], new Rng(1));
    expect(a.toArray()).toEqual(b.toArray());
    const u = ad.rand([100], new Rng(2), { lo: -1, hi: 1 });
    expect(u.toArray().every((v) => v >= -1 && v < 1)).toBe(true);
    // [lo, hi) as stored in float32: a one-ulp interval holds lo only (half the draws round to hi).
    expect(
      ad
        .rand([64], new Rng(3), { lo: 1, hi: 1 + 2 ** -23 })
        .toArray()
        .every((v) => v === 1),
    ).toBe(true);
    expect(() => ad.rand([2], new Rng(2), { lo: 1, hi: 0 })).toThrow(
      "rand: options.lo and options.hi must be finite with lo ≤ hi (got 1, 0)",
    );
    expect(ad.scalar(3, { requiresGrad: true }).requiresGrad).toBe(true);
    expect(ad.oneHot([2, 0], 3).toArray()).toEqual([0, 0, 1, 1, 0, 0]);
    expect(() => ad.oneHot([3], 3)).toThrow("oneHot: indices[0] = 3 is outside [0, 3)");
  });

  it("wrap adopts the buffer; fromMatrix copies a (strided) linalg matrix; toMatrix shares", () => {
    const buf = new Float32Array([1, 2, 3, 4]);
    const t = ad.wrap(buf, [2, 2], { requiresGrad: true });
    expect(t.data).toBe(buf);
    const m = fromArray(2, 3, [1, 2, 3, 4, 5, 6], "float64");
    const v = { rows: 2, cols: 2, data: m.data, offset: 1, stride: 3 };
    expect(ad.fromMatrix(v).toArray()).toEqual([2, 3, 5, 6]);
    expect(ad.fromMatrix(m).dtype).toBe("float64");
    expect(ad.toMatrix(t).data).toBe(buf);
  });
});

describe("shape ops", () => {
  it("reshape with −1, flatten, transpose, slice, concat, gather give the expected values", () => {
    const x = ad.tensor([0, 1, 2, 3, 4, 5], [2, 3]);
    expect(ad.reshape(x, [3, -1]).shape).toEqual([3, 2]);
    expect(ad.flatten(ad.zeros([2, 3, 4])).shape).toEqual([2, 12]);
    expect(ad.transpose(x).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(ad.slice(x, [0, 1], [2, 3]).toArray()).toEqual([1, 2, 4, 5]);
    expect(ad.concat([x, x], 1).toArray()).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
    expect(ad.gather(x, 1, [2, 0]).toArray()).toEqual([2, 3]);
    expect(ad.sum(x, 1, true).shape).toEqual([2, 1]);
    expect(ad.mean(x).item()).toBe(2.5);
    expect(ad.max(x, 0).toArray()).toEqual([3, 4, 5]);
    expect(ad.min(x, 1).toArray()).toEqual([0, 3]);
  });

  it("softmax sums to one and logsumexp is stable for large inputs", () => {
    const x = ad.tensor([1000, 1001, 1002, -1000, 0, 1000], [2, 3], { dtype: "float64" });
    const s = ad.softmax(x, 1); // y = x − lse rounds at ulp(1000) ≈ 1e-13, hence the 1e-12
    expect(
      ad
        .sum(s, 1)
        .toArray()
        .every((v) => Math.abs(v - 1) < 1e-12),
    ).toBe(true);
    const l = ad.logsumexp(x, 1);
    expect(Math.abs((l.data[0] as number) - (1002 + Math.log(1 + Math.exp(-1) + Math.exp(-2))))).toBeLessThan(1e-12);
    expect(l.data[1]).toBe(1000);
    expect(ad.logsumexp(ad.tensor([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY])).item()).toBe(
      Number.NEGATIVE_INFINITY,
    );
  });

  it("dropout is reproducible from its seed, scales survivors by 1/(1 − p), and is the identity in evaluation", () => {
    const x = ad.ones([1000], { dtype: "float64" });
    const a = ad.dropout(x, 0.25, new Rng(9));
    const b = ad.dropout(x, 0.25, new Rng(9));
    expect(a.toArray()).toEqual(b.toArray());
    const kept = a.toArray().filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 4 / 3) < 1e-15)).toBe(true);
    expect(kept.length).toBeGreaterThan(650);
    expect(kept.length).toBeLessThan(850);
    expect(ad.dropout(x, 0.25, new Rng(9), { training: false })).toBe(x);
  });
});
