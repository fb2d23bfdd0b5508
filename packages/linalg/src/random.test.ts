import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detLog, Rng } from "./random.ts";
import { ulp } from "./testing.ts";

describe("Rng", () => {
  it("the same seed gives the same stream; different seeds give different streams", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = new Rng(seed);
        const b = new Rng(seed);
        for (let i = 0; i < 20; i++) {
          expect(a.nextUint32()).toBe(b.nextUint32());
          expect(a.uniform()).toBe(b.uniform());
          expect(a.normal()).toBe(b.normal());
        }
        const c = new Rng(seed + 1);
        const d = new Rng(seed);
        const xs = Array.from({ length: 4 }, () => c.nextUint32());
        const ys = Array.from({ length: 4 }, () => d.nextUint32());
        expect(xs).not.toEqual(ys);
      }),
      { numRuns: 50 },
    );
  });

  it("the stream is xoshiro128** seeded by SplitMix32: first words match an independent implementation", () => {
    // Reference words from a separate Python implementation of SplitMix32 seeding and xoshiro128**
    // (Blackman & Vigna's reference algorithm, 32-bit arithmetic masked explicitly).
    const first = (seed: number) => {
      const r = new Rng(seed);
      return [r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()];
    };
    expect(first(0)).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    expect(first(42)).toEqual([2837322924, 544945897, 479756282, 3500138142]);
  });

  it("fillUniform draws the stream of uniform() calls (float32 and float64, any lo/hi) and leaves the state where they would", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 0, max: 300 }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        fc.double({ min: 1e-3, max: 10, noNaN: true }),
        fc.boolean(),
        (seed, n, lo, width, f32) => {
          const bulk = new Rng(seed);
          const calls = new Rng(seed);
          bulk.uniform(); // start mid-stream
          calls.uniform();
          const out = f32 ? new Float32Array(n) : new Float64Array(n);
          const want = f32 ? new Float32Array(n) : new Float64Array(n);
          const hi = lo + width;
          bulk.fillUniform(out, lo, hi);
          for (let i = 0; i < n; i++) want[i] = lo + (hi - lo) * calls.uniform();
          // The formula's value as stored, except where that fell outside [lo, hi) (then the nearest inside).
          for (let i = 0; i < n; i++) {
            const w = want[i] as number;
            if (w >= lo && w < hi) expect(out[i]).toBe(w);
            else expect((out[i] as number) >= lo && (out[i] as number) < hi).toBe(true);
          }
          expect(bulk.state()).toEqual(calls.state());
        },
      ),
      { numRuns: 60 },
    );
  });

  it("fillUniform keeps [lo, hi) as stored: a value rounded to hi or below lo becomes the nearest one inside", () => {
    // Intervals one ulp wide: lo + (hi − lo)·u rounds to hi for about half the draws.
    const f64 = new Rng(3).fillUniform(new Float64Array(2000), 1, 1 + 2 ** -52);
    expect(f64.every((v) => v === 1)).toBe(true);
    const f32 = new Rng(3).fillUniform(new Float32Array(2000), 1, 1 + 2 ** -23);
    expect(f32.every((v) => v === 1)).toBe(true);
    // 0.7 is not a float32 (fround(0.7) < 0.7): values rounding below lo become the next float32 up.
    const low = new Rng(4).fillUniform(new Float32Array(2000), 0.7, 0.7 + 1e-6);
    expect(low.every((v) => v >= 0.7 && v < 0.7 + 1e-6)).toBe(true);
    expect(low.some((v) => v === Math.fround(0.70000005))).toBe(true);
    // The stream is the same as without the correction: the state after equals that many uniform() calls.
    const a = new Rng(9);
    const b = new Rng(9);
    a.fillUniform(new Float32Array(500), 1, 1 + 2 ** -23);
    for (let i = 0; i < 500; i++) b.uniform();
    expect(a.state()).toEqual(b.state());
  });

  it("fillUniform(lo, lo) fills with lo and advances the stream as many draws", () => {
    const a = new Rng(2);
    const b = new Rng(2);
    expect(Array.from(a.fillUniform(new Float32Array(4), 0, 0))).toEqual([0, 0, 0, 0]);
    expect(Array.from(a.fillUniform(new Float64Array(3), 0.1, 0.1))).toEqual([0.1, 0.1, 0.1]);
    for (let i = 0; i < 7; i++) b.uniform();
    expect(a.state()).toEqual(b.state());
  });

  it("fillUniform refuses an inverted or non-finite interval, and one holding no value of out's type", () => {
    const r = new Rng(1);
    expect(() => r.fillUniform(new Float64Array(3), 2, 1)).toThrow(
      /Rng\.fillUniform: lo and hi must be finite with lo ≤ hi \(got 2, 1\)/,
    );
    expect(() => r.fillUniform(new Float64Array(3), 0, Number.NaN)).toThrow(/got 0, NaN/);
    expect(() => r.fillUniform(new Float64Array(3), 0, Infinity)).toThrow(/finite/);
    expect(() => r.fillUniform(new Float32Array(3), 0.1, 0.1 + 1e-9)).toThrow(
      /Rng\.fillUniform: no float32 value lies in \[0\.1, 0\.100000001\)/,
    );
  });

  it("uniform() ∈ [0, 1) and fillUniform(lo, hi) ∈ [lo, hi), with mean (lo + hi)/2 within 5 standard errors", () => {
    const r = new Rng(7);
    const n = 20000;
    const x = r.fillUniform(new Float64Array(n), -3, 5);
    let s = 0;
    for (const v of x) {
      expect(v >= -3 && v < 5).toBe(true);
      s += v;
    }
    // Var of U(lo, hi) is (hi − lo)²/12.
    expect(Math.abs(s / n - 1)).toBeLessThan((5 * 8) / Math.sqrt(12 * n));
    for (let i = 0; i < 1000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });

  it("normal(): sample mean within 5/√N of 0 and sample variance within 5·√(2/N) of 1", () => {
    const r = new Rng(123);
    const n = 40000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const y = r.fillNormal(new Float32Array(n), 10, 0.5);
    let t = 0;
    for (const v of y) t += v;
    expect(Math.abs(t / n - 10)).toBeLessThan((5 * 0.5) / Math.sqrt(n));
  });

  it("int(n) ∈ [0, n) and hits every value; bad n throws a RangeError naming Rng.int", () => {
    const r = new Rng(9);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(7);
      expect(Number.isInteger(v) && v >= 0 && v < 7).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(7);
    expect(() => r.int(0)).toThrow(/^Rng\.int: n must be an integer in \[1, 2³²\] \(got 0\)$/);
    expect(() => r.int(2.5)).toThrow(RangeError);
  });

  it("permutation(n) is a permutation of 0 … n−1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.nat(), (n, seed) => {
        const p = Array.from(new Rng(seed).permutation(n)).sort((a, b) => a - b);
        expect(p).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
    expect(() => new Rng(1).permutation(3, new Uint32Array(2))).toThrow(
      /Rng\.permutation: out has length 2, expected 3/,
    );
  });

  it("Rng.fromState(r.state()) continues the same stream, including a cached normal", () => {
    const r = new Rng(5);
    r.normal(); // leaves a spare
    const copy = Rng.fromState(r.state());
    for (let i = 0; i < 10; i++) {
      expect(copy.normal()).toBe(r.normal());
      expect(copy.nextUint32()).toBe(r.nextUint32());
    }
    const json = JSON.parse(JSON.stringify(r.state()));
    const revived = Rng.fromState(json);
    expect(revived.uniform()).toBe(r.uniform());
  });

  it("a non-finite seed throws a TypeError naming Rng", () => {
    expect(() => new Rng(Number.NaN)).toThrow(/^Rng: seed must be a finite number \(got NaN\)$/);
    expect(() => new Rng("1" as unknown as number)).toThrow(TypeError);
  });
});

describe("detLog", () => {
  it("|detLog(x) − log x| ≤ 2 ulp over every binade, subnormals included", () => {
    const r = new Rng(2024);
    let worst = 0;
    for (let e = -1074; e <= 1023; e++) {
      for (let s = 0; s < 8; s++) {
        const x = (1 + r.uniform()) * 2 ** e;
        if (!(x > 0 && Number.isFinite(x))) continue;
        const want = Math.log(x);
        const err = Math.abs(detLog(x) - want) / ulp(want);
        worst = Math.max(worst, err);
      }
    }
    // Values near 1, where log x → 0 and relative accuracy is hardest.
    for (let i = 0; i < 2000; i++) {
      const x = 1 + (r.uniform() - 0.5) * 2 ** -(i % 50);
      worst = Math.max(worst, Math.abs(detLog(x) - Math.log(x)) / ulp(Math.log(x)));
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it("detLog at the edges: log 1 = 0, log 0 = −∞, log ∞ = ∞, negative or NaN → NaN", () => {
    expect(detLog(1)).toBe(0);
    expect(detLog(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(detLog(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(detLog(-1)).toBeNaN();
    expect(detLog(Number.NaN)).toBeNaN();
    expect(detLog(Math.E)).toBeCloseTo(1, 15);
  });
});
