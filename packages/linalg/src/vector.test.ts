/**
 * The elementwise kernels of vector.ts: each against its definition entry by entry (a plain loop
 * written from the doc comment, not the kernel's own), and the wasm SIMD path against the JS path bit
 * for bit (NaN for NaN) on arrays seeded with the values that decide the branches — ±0, entries just
 * below and at the flush threshold on both signs, NaN, ±∞ — at lengths around the SIMD widths and the
 * dispatch threshold, with offsets.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { getBackendSetting, setBackend, wasmSupported } from "./backend.ts";
import type { FloatArray } from "./matrix.ts";
import { Rng } from "./random.ts";
import { ulp } from "./testing.ts";
import {
  allFinite,
  axpbyInto,
  bernoulliResidualInto,
  convertRowsInto,
  decayInto,
  flushTiny,
  foldLowerSymmetric,
  gatherColumnsInto,
  hasTiny,
  logistic32,
  quotientFlushedInto,
  quotientOuterFlushedInto,
  roundFlushedInto,
  scaleInto,
  scatterColumnsInto,
  sigmoidInto,
  squaresFlushedInto,
  VECTOR_MIN_WASM,
  vectorViewsMade,
} from "./vector.ts";

const TINY = 2 ** -63;
const initial = getBackendSetting();

/** The float32 spacing at |x|: 2^(e − 23) for 2^e ≤ |x| < 2^(e + 1), 2⁻¹⁴⁹ below the normal range. */
function ulp32(x: number): number {
  const a = Math.abs(x);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}
afterEach(() => setBackend(initial));

/** Random entries with the special values mixed in at rate `special` (none when 0). */
function sample<T extends FloatArray>(make: (n: number) => T, n: number, seed: number, special = 0.2): T {
  const rng = new Rng(seed);
  const x = make(n);
  const specials = [0, -0, TINY / 2, -TINY / 2, TINY, -TINY, 2 ** -149, Number.NaN, Infinity, -Infinity, 1e-30];
  for (let i = 0; i < n; i++) {
    x[i] =
      rng.uniform() < special
        ? (specials[Math.floor(rng.uniform() * specials.length)] as number)
        : (rng.uniform() - 0.5) * 2 ** Math.floor(rng.uniform() * 40 - 20);
  }
  return x;
}

const f32 = (n: number) => new Float32Array(n);
const f64 = (n: number) => new Float64Array(n);

/** Same bits entry by entry, any NaN equal to any NaN (payloads are not specified). */
function expectSameBits(a: FloatArray, b: FloatArray): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const u = a[i] as number;
    const v = b[i] as number;
    if (!(Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v)))) {
      expect.fail(`entry ${i}: ${u} against ${v}`);
    }
  }
}

/** Runs f on the js backend and (where supported) on wasm, returning both results. */
function bothPaths<R>(f: () => R): R[] {
  setBackend("js");
  const out = [f()];
  if (wasmSupported()) {
    setBackend("wasm");
    out.push(f());
  }
  setBackend(initial);
  return out;
}

const lengths = fc.oneof(
  fc.integer({ min: 0, max: 9 }),
  fc.integer({ min: VECTOR_MIN_WASM - 3, max: VECTOR_MIN_WASM + 9 }),
  fc.integer({ min: 1000, max: 1500 }),
);
const isTiny = (v: number): boolean => Math.abs(v) > 0 && Math.abs(v) < TINY;

describe("vector kernels: definitions, and wasm = js bit for bit", () => {
  it("allFinite and hasTiny are the definitions' answers", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.constantFrom(0, 0.002, 0.3), (n, seed, special) => {
        const x = sample(f32, n, seed, special);
        const finite = Array.from(x).every(Number.isFinite);
        const tiny = Array.from(x).some(isTiny);
        for (const r of bothPaths(() => [allFinite(x), hasTiny(x, n, TINY)])) expect(r).toEqual([finite, tiny]);
        const y = Float64Array.from(x);
        expect(allFinite(y)).toBe(finite);
      }),
      { numRuns: 60 },
    );
  });

  it("flushTiny zeroes exactly the tiny entries (+0), in the first n only", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), (n, seed) => {
        const x = sample(f32, n + 5, seed);
        const want = Float32Array.from(x, (v, i) => (i < n && isTiny(v) ? 0 : v));
        const got = bothPaths(() => {
          const y = x.slice();
          flushTiny(y, n, TINY);
          return y;
        });
        for (const y of got) expectSameBits(y, want);
      }),
      { numRuns: 60 },
    );
  });

  it("roundFlushedInto rounds to float32 and zeroes what is tiny in float64", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.nat(3), fc.nat(3), (n, seed, so, dof) => {
        const src = sample(f64, n + so + 1, seed);
        const want = new Float32Array(n + dof).fill(7);
        for (let i = 0; i < n; i++) {
          const v = src[so + i] as number;
          want[dof + i] = isTiny(v) ? 0 : Math.fround(v);
        }
        const got = bothPaths(() => {
          const dst = new Float32Array(n + dof).fill(7);
          roundFlushedInto(src, so, dst, dof, n, TINY);
          return dst;
        });
        for (const d of got) expectSameBits(d, want);
      }),
      { numRuns: 60 },
    );
  });

  it("squaresFlushedInto: squares below tiny are 0, NaN stays; flushX zeroes x's tiny entries with their sign", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.boolean(), fc.nat(5), (n, seed, flushX, xo) => {
        // x and out in one array (as the curvature blocks call it): x at xo, out after it.
        const base = sample(f32, xo + 2 * n + 3, seed);
        const want = base.slice();
        const outOff = xo + n + 1;
        for (let i = 0; i < n; i++) {
          const v = base[xo + i] as number;
          const s = Math.fround(v * v);
          want[outOff + i] = Number.isNaN(s) ? s : s >= TINY ? s : 0;
          if (flushX && isTiny(v)) want[xo + i] = v < 0 ? -0 : 0;
        }
        const got = bothPaths(() => {
          const y = base.slice();
          squaresFlushedInto(y, xo, y, outOff, n, TINY, flushX);
          return y;
        });
        for (const y of got) expectSameBits(y, want);
      }),
      { numRuns: 60 },
    );
  });

  it("decayInto is rho·x + (1 − rho)·y in float64 (float32 and float64 y)", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.constantFrom(0, 0.95, 0.5), fc.nat(3), (n, seed, rho, off) => {
        const x0 = sample(f64, n + off, seed, 0.05);
        for (const y of [sample(f32, n + off, seed + 1, 0.05), sample(f64, n + off, seed + 1, 0.05)]) {
          const want = x0.slice();
          // rho = 0 restarts: x's old values (here NaN and ±Inf among them) take no part.
          for (let i = 0; i < n; i++)
            want[off + i] =
              rho === 0
                ? 0 + (y[off + i] as number)
                : rho * (x0[off + i] as number) + (1 - rho) * (y[off + i] as number);
          const got = bothPaths(() => {
            const x = x0.slice();
            decayInto(x, off, y, off, n, rho);
            return x;
          });
          for (const x of got) expectSameBits(x, want);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("rho = 0 restarts a running average: decayInto and foldLowerSymmetric overwrite NaN and ±Inf", () => {
    // 0·NaN is NaN: by the formula alone a poisoned average would stay NaN through every restart.
    for (const n of [3, 300]) {
      const y = sample(f32, n, 7, 0);
      const got = bothPaths(() => {
        const x = new Float64Array(n).fill(Number.NaN);
        x[1] = Number.POSITIVE_INFINITY;
        decayInto(x, 0, y, 0, n, 0);
        return x;
      });
      for (const x of got) expectSameBits(x, Float64Array.from(y));
    }
    for (const d of [2, 20]) {
      const f = sample(f32, d * d, 9, 0);
      const want = new Float64Array(d * d);
      for (let i = 0; i < d; i++)
        for (let j = 0; j <= i; j++) want[i * d + j] = want[j * d + i] = f[i * d + j] as number;
      const got = bothPaths(() => {
        const x = new Float64Array(d * d).fill(Number.NaN);
        foldLowerSymmetric(x, 0, f, d, 0);
        return x;
      });
      for (const x of got) expectSameBits(x, want);
    }
  });

  it("quotientFlushedInto is r / (s + damping) rounded, tiny quotients +0, in place too", () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.constantFrom(1e-3, 1, 0), (n, seed, damping) => {
        const r = sample(f32, n, seed);
        const s = sample(f64, n, seed + 1, 0.05).map(Math.abs);
        const want = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const q = (r[i] as number) / ((s[i] as number) + damping);
          want[i] = isTiny(q) ? 0 : q;
        }
        const got = bothPaths(() => {
          const out = new Float32Array(n);
          quotientFlushedInto(r, 0, s, 0, damping, out, 0, n, TINY);
          const inPlace = r.slice();
          quotientFlushedInto(inPlace, 0, s, 0, damping, inPlace, 0, n, TINY);
          expectSameBits(inPlace, out);
          return out;
        });
        for (const o of got) expectSameBits(o, want);
      }),
      { numRuns: 40 },
    );
  });

  it("quotientOuterFlushedInto divides by (λ_G,i + c_G)(λ_A,j + c_A) + add, odd and even widths", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 41 }),
        fc.nat(),
        fc.constantFrom([0.1, 0.2, 0], [0, 0, 1e-2]),
        (rows, cols, seed, [cG, cA, add]) => {
          const r = sample(f32, rows * cols + 8, seed);
          const lamG = sample(f64, rows + 1, seed + 1, 0).map(Math.abs);
          const lamA = sample(f64, cols + 2, seed + 2, 0).map(Math.abs);
          const want = new Float32Array(rows * cols);
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < cols; j++) {
              const q =
                (r[3 + i * cols + j] as number) /
                (((lamG[1 + i] as number) + (cG as number)) * ((lamA[2 + j] as number) + (cA as number)) +
                  (add as number));
              want[i * cols + j] = isTiny(q) ? 0 : q;
            }
          const got = bothPaths(() => {
            const out = new Float32Array(rows * cols);
            quotientOuterFlushedInto(
              r,
              3,
              lamG,
              1,
              lamA,
              2,
              out,
              0,
              rows,
              cols,
              cG as number,
              cA as number,
              add as number,
              TINY,
            );
            return out;
          });
          for (const o of got) expectSameBits(o, want);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("foldLowerSymmetric averages the lower triangle into both triangles", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70 }),
        fc.nat(),
        fc.constantFrom(0, 0.95),
        fc.nat(3),
        (d, seed, rho, off) => {
          const x0 = sample(f64, off + d * d, seed, 0);
          // f's matrix starts at fOff (a group of a grouped layer's Gram matrices).
          const fOff = 2 * off;
          const f = sample(f32, fOff + d * d, seed + 1, 0);
          const want = x0.slice();
          for (let i = 0; i < d; i++)
            for (let j = 0; j <= i; j++) {
              const v = rho * (x0[off + i * d + j] as number) + (1 - rho) * (f[fOff + i * d + j] as number);
              want[off + i * d + j] = v;
              want[off + j * d + i] = v;
            }
          const got = bothPaths(() => {
            const x = x0.slice();
            foldLowerSymmetric(x, off, f, d, rho, fOff);
            return x;
          });
          for (const x of got) expectSameBits(x, want);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("convertRowsInto copies scale·src row by row into dst's type, the gaps between rows untouched", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 60, max: 90 })),
        fc.nat(),
        fc.nat(3),
        fc.nat(2),
        fc.constantFrom(1, -0.5, 3e-7),
        fc.constantFrom("widen", "narrow", "single", "double"),
        (rows, cols, seed, gapS, gapD, scale, kind) => {
          const make: (n: number) => FloatArray = kind === "widen" || kind === "single" ? f32 : f64;
          const into: (n: number) => FloatArray = kind === "narrow" || kind === "single" ? f32 : f64;
          const sStride = cols + gapS;
          const dStride = cols + gapD;
          const src = sample(make, 2 + rows * sStride, seed, 0.05);
          const dst0 = sample(into, 1 + rows * dStride, seed + 1, 0);
          const want = dst0.slice();
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < cols; j++) want[1 + r * dStride + j] = scale * (src[2 + r * sStride + j] as number);
          const got = bothPaths(() => {
            const dst = dst0.slice();
            convertRowsInto(src, 2, sStride, dst, 1, dStride, rows, cols, scale);
            // keepGaps false: the rows' entries are the same; what is between them is unspecified.
            const loose = dst0.slice();
            convertRowsInto(src, 2, sStride, loose, 1, dStride, rows, cols, scale, false);
            for (let r = 0; r < rows; r++)
              for (let j = 0; j < cols; j++) {
                const i = 1 + r * dStride + j;
                expect(Object.is(loose[i], dst[i]) || (Number.isNaN(loose[i]) && Number.isNaN(dst[i]))).toBe(true);
              }
            return dst;
          });
          for (const d of got) expectSameBits(d, want);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("scaleInto is s·x in float64 stored in x's type, in place, the rest untouched", () => {
    fc.assert(
      fc.property(
        lengths,
        fc.nat(),
        fc.constantFrom(-0.01, 0.5, -1, 3e-39),
        fc.boolean(),
        fc.nat(3),
        (n, seed, sc, single, off) => {
          const make: (n: number) => FloatArray = single ? f32 : f64;
          const x0 = sample(make, off + n + 2, seed, 0.1);
          const want = x0.slice();
          for (let i = 0; i < n; i++) want[off + i] = sc * (x0[off + i] as number);
          const got = bothPaths(() => {
            const x = x0.slice();
            scaleInto(x, off, n, sc);
            return x;
          });
          for (const x of got) expectSameBits(x, want);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("axpbyInto is a·y + b·x in float64 stored in y's type; copyBack sets x to the stored y", () => {
    fc.assert(
      fc.property(
        lengths,
        fc.nat(),
        fc.constantFrom([0, 1], [0.9, 1], [0.9, 0.5]),
        fc.boolean(),
        fc.boolean(),
        (n, seed, [a, b], copyBack, single) => {
          const make: (n: number) => FloatArray = single ? f32 : f64;
          const y0 = sample(make, n + 1, seed, 0.05);
          const x0 = sample(make, n + 2, seed + 1, 0.05);
          const wantY = y0.slice();
          const wantX = x0.slice();
          for (let i = 0; i < n; i++) {
            wantY[1 + i] = (a as number) * (y0[1 + i] as number) + (b as number) * (x0[2 + i] as number);
            if (copyBack) wantX[2 + i] = wantY[1 + i] as number;
          }
          const got = bothPaths(() => {
            const y = y0.slice();
            const x = x0.slice();
            axpbyInto(y, 1, x, 2, n, a as number, b as number, copyBack);
            return [y, x] as const;
          });
          for (const [y, x] of got) {
            expectSameBits(y, wantY);
            expectSameBits(x, wantX);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gatherColumnsInto and scatterColumnsInto place the chosen columns row by row, the rest untouched", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 90 }),
        fc.nat(),
        fc.boolean(),
        fc.nat(3),
        (rows, n, seed, single, pad) => {
          const rng = new Rng(seed);
          // a random subset of [0, n) in random order: the columns a deflated basis keeps
          const all = Array.from({ length: n }, (_, i) => i).sort(() => rng.uniform() - 0.5);
          const m = Math.floor(rng.uniform() * (n + 1));
          const cols = Int32Array.from(all.slice(0, m));
          const make: (k: number) => FloatArray = single ? f32 : f64;
          const x = sample(make, 1 + rows * (n + pad), seed + 1, 0.1);
          const out0 = sample(make, 2 + rows * (m + pad), seed + 2, 0);
          const wantG = out0.slice();
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < m; j++)
              wantG[2 + r * (m + pad) + j] = x[1 + r * (n + pad) + (cols[j] as number)] as number;
          const back0 = sample(make, rows * n, seed + 3, 0);
          const wantS = back0.slice();
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < m; j++) wantS[r * n + (cols[j] as number)] = wantG[2 + r * (m + pad) + j] as number;
          const got = bothPaths(() => {
            const out = out0.slice();
            gatherColumnsInto(x, 1, n + pad, rows, cols, m, out, 2, m + pad);
            const back = back0.slice();
            scatterColumnsInto(out, 2, m + pad, rows, cols, m, back, 0, n);
            // keepOthers false: the scattered entries are the same, the others unspecified.
            const loose = back0.slice();
            scatterColumnsInto(out, 2, m + pad, rows, cols, m, loose, 0, n, false);
            for (let r = 0; r < rows; r++)
              for (let j = 0; j < m; j++) {
                const i = r * n + (cols[j] as number);
                expect(Object.is(loose[i], back[i]) || (Number.isNaN(loose[i]) && Number.isNaN(back[i]))).toBe(true);
              }
            return [out, back] as const;
          });
          for (const [g, b] of got) {
            expectSameBits(g, wantG);
            expectSameBits(b, wantS);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it.runIf(wasmSupported())(
    "after one call per shape, the wasm path makes no more views (no allocation per step)",
    () => {
      setBackend("wasm");
      const n = 3000;
      const x = sample(f32, 2 * n, 1, 0.05);
      const y = sample(f32, n, 2, 0.05);
      const w = sample(f64, n, 3, 0.05);
      const s = sample(f64, n, 4, 0).map(Math.abs);
      const out32 = new Float32Array(2 * n);
      const out64 = new Float64Array(n);
      const cols = Int32Array.from({ length: 40 }, (_, j) => 2 * j);
      const fold = new Float64Array(60 * 60);
      const f = sample(f32, 60 * 60, 5, 0);
      const round = (): void => {
        allFinite(x);
        hasTiny(x, n, TINY);
        flushTiny(y, n, TINY);
        squaresFlushedInto(x, n, out32, 0, n, TINY, true);
        roundFlushedInto(w, 0, out32, 0, n, TINY);
        decayInto(out64, 0, y, 0, n, 0.9);
        quotientFlushedInto(y, 0, s, 0, 1e-3, out32, 0, n, TINY);
        quotientOuterFlushedInto(y, 0, s, 0, s, 0, out32, 0, 30, 100, 0, 0, 1e-3, TINY);
        convertRowsInto(y, 0, 100, out64, 0, 100, 30, 100);
        convertRowsInto(w, 0, 100, out32, 0, 101, 29, 100, 0.5);
        axpbyInto(out32, 0, y, 0, n, 0.9, 1, true);
        gatherColumnsInto(x, 0, 80, 30, cols, 40, out32, 0, 40);
        scatterColumnsInto(out32, 0, 40, 30, cols, 40, y, 0, 80);
        foldLowerSymmetric(fold, 0, f, 60, 0.9);
      };
      round();
      const made = vectorViewsMade();
      for (let k = 0; k < 20; k++) round();
      expect(vectorViewsMade()).toBe(made);
    },
  );

  it("sigmoidInto: within 3 ulps of σ written with Math.exp, exact at the special values, wasm = js", () => {
    const reference = (v: number): number => {
      const e = Math.exp(-Math.abs(v));
      return v < 0 ? e / (1 + e) : 1 / (1 + e);
    };
    fc.assert(
      fc.property(lengths, fc.nat(), fc.nat(3), fc.nat(3), fc.boolean(), (n, seed, xo, oo, single) => {
        const rng = new Rng(seed);
        const make = single ? f32 : f64;
        const specials = [0, -0, Infinity, -Infinity, Number.NaN, 707.9, -707.9, 708, -708, 708.5, -708.5, 745, -800];
        const x = make(xo + n);
        for (let i = 0; i < x.length; i++) {
          const u = rng.uniform();
          x[i] =
            u < 0.1 ? (specials[rng.int(specials.length)] as number) : (rng.uniform() - 0.5) * (u < 0.5 ? 12 : 1500);
        }
        const got = bothPaths(() => {
          const out = new Float64Array(oo + n + 1).fill(7);
          sigmoidInto(x, xo, out, oo, n);
          return out;
        });
        for (const out of got) {
          expect(out[oo + n]).toBe(7);
          for (let i = 0; i < oo; i++) expect(out[i]).toBe(7);
          for (let i = 0; i < n; i++) {
            const v = x[xo + i] as number;
            const s = out[oo + i] as number;
            if (Number.isNaN(v)) expect(s).toBeNaN();
            else if (v < -708)
              expect(Object.is(s, 0)).toBe(true); // e^(−|v|) below −708 is +0
            else if (v === 0) expect(s).toBe(0.5);
            else {
              const want = reference(v);
              if (Math.abs(s - want) > 3 * ulp(want)) expect.fail(`σ(${v}) = ${s}, want ${want}`);
            }
          }
        }
        if (got.length === 2) expectSameBits(got[0] as Float64Array, got[1] as Float64Array);
      }),
      { numRuns: 60 },
    );
    const out = new Float64Array(5);
    sigmoidInto(Float64Array.of(Infinity, -Infinity, 1000, -1e300, 36.7), 0, out, 0, 5);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 0, 1, 0]);
    expect(out[4]).toBeLessThan(1); // e^(−36.7) ≈ 1.1e-16 is still seen beside 1
  });

  it("logistic32 is σ in float32 within 3 float32 ulps, exact at its special values", () => {
    fc.assert(
      fc.property(
        fc.float({ noNaN: true, noDefaultInfinity: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        (big, mid) => {
          for (const v of [Math.fround(big), Math.fround(mid), Math.fround(mid / 10)]) {
            const got = logistic32(v);
            expect(got).toBe(Math.fround(got)); // a float32 value
            const e = Math.exp(-Math.abs(v));
            const want = v < 0 ? e / (1 + e) : 1 / (1 + e);
            if (v < -87) expect(got).toBe(0);
            else expect(Math.abs(got - want)).toBeLessThanOrEqual(3 * ulp32(want));
          }
        },
      ),
      { numRuns: 300 },
    );
    expect([0, -0, Infinity, -Infinity, 88, -88].map(logistic32)).toEqual([0.5, 0.5, 1, 0, 1, 0]);
    expect(logistic32(Number.NaN)).toBeNaN();
  });

  it("bernoulliResidualInto: (σ(x) − [u < σ(x)]) / d with σ in x's precision, the NaN flag, wasm = js", () => {
    fc.assert(
      fc.property(
        lengths,
        fc.nat(),
        fc.nat(3),
        fc.nat(3),
        fc.boolean(),
        fc.boolean(),
        (n, seed, xo, oo, single, nan) => {
          const rng = new Rng(seed);
          const x = (single ? f32 : f64)(xo + n);
          for (let i = 0; i < x.length; i++) x[i] = (rng.uniform() - 0.5) * (rng.uniform() < 0.2 ? 2000 : 12);
          if (nan && n > 0) x[xo + rng.int(n)] = Number.NaN;
          const u = rng.fillUniform(new Float64Array(n));
          const d = 1 + rng.int(300);
          const p = new Float64Array(n);
          // σ as sigmoidInto computes it for float64 x, in float32 arithmetic (logistic32) for float32 x.
          if (single) for (let i = 0; i < n; i++) p[i] = logistic32(x[xo + i] as number);
          else sigmoidInto(x, xo, p, 0, n);
          const flags: boolean[] = [];
          const got = bothPaths(() => {
            const out = new Float64Array(oo + n + 1).fill(7);
            flags.push(bernoulliResidualInto(x, xo, u, out, oo, n, d));
            return out;
          });
          const want = Array.from(p, (q, i) => (q - +((u[i] as number) < q)) / d);
          for (const out of got) {
            expect(out[oo + n]).toBe(7);
            for (let i = 0; i < oo; i++) expect(out[i]).toBe(7);
            expectSameBits(out.subarray(oo, oo + n), Float64Array.from(want));
          }
          for (const f of flags) expect(f).toBe(!(nan && n > 0));
        },
      ),
      { numRuns: 60 },
    );
    expect(() =>
      bernoulliResidualInto(new Float32Array(4), 0, new Float64Array(4), new Float64Array(4), 0, 4, 0),
    ).toThrow(/bernoulliResidualInto: divisor must be a finite nonzero number \(got 0\)/);
    const shared = new Float64Array(8);
    expect(() => bernoulliResidualInto(new Float32Array(4), 0, shared.subarray(0, 4), shared, 2, 4, 1)).toThrow(
      /bernoulliResidualInto: out overlaps x or u/,
    );
    expect(() =>
      bernoulliResidualInto(new Float32Array(4), 0, new Float32Array(4) as never, new Float64Array(4), 0, 4, 1),
    ).toThrow(/bernoulliResidualInto: u must be a Float64Array/);
  });

  it("bad arguments are named", () => {
    const x = new Float32Array(8);
    expect(() => flushTiny([] as unknown as Float32Array, 0, TINY)).toThrow(
      /flushTiny: x must be a Float32Array or Float64Array/,
    );
    expect(() => flushTiny(x, 9, TINY)).toThrow(/flushTiny: x has 8 entries, fewer than offset 0 \+ n 9/);
    expect(() => roundFlushedInto(new Float64Array(4), 0, new Float64Array(4) as never, 0, 4, TINY)).toThrow(
      /roundFlushedInto: dst must be a Float32Array/,
    );
    expect(() => squaresFlushedInto(x, 0, x, 2, 4, TINY, false)).toThrow(
      /squaresFlushedInto: x \[0, 4\) and out \[2, 6\) overlap/,
    );
    expect(() => decayInto(new Float64Array(4), -1, x, 0, 2, 0.5)).toThrow(
      /decayInto: x offset must be a non-negative integer/,
    );
    expect(() => convertRowsInto(x, 0, 2, new Float64Array(8), 0, 4, 2, 3)).toThrow(
      /convertRowsInto: src stride 2 is less than cols 3/,
    );
    expect(() => convertRowsInto(x, 0, 4, new Float64Array(6), 0, 4, 2, 3)).toThrow(
      /convertRowsInto: dst has 6 entries, fewer than the 2 × 3 block ending at 7/,
    );
    const shared = new Float32Array(16);
    expect(() => axpbyInto(shared.subarray(0, 8), 0, shared.subarray(4), 0, 5, 1, 1)).toThrow(
      /axpbyInto: x and y overlap/,
    );
    const y = shared.subarray(0, 8);
    const xs = shared.subarray(8);
    xs.fill(2);
    axpbyInto(y, 0, xs, 0, 8, 1, 0.5); // disjoint views of one buffer: allowed
    expect(Array.from(y)).toEqual(new Array(8).fill(1));
    expect(() => sigmoidInto(x, 0, new Float32Array(8) as never, 0, 8)).toThrow(
      /sigmoidInto: out must be a Float64Array \(got Float32Array\)/,
    );
    expect(() => sigmoidInto(x, 4, new Float64Array(8), 0, 5)).toThrow(
      /sigmoidInto: x has 8 entries, fewer than offset 4 \+ n 5/,
    );
    expect(() => gatherColumnsInto(x, 0, 4, 2, Int32Array.of(0, 4), 2, new Float32Array(4), 0, 2)).toThrow(
      /gatherColumnsInto: cols\[1\] = 4 is outside \[0, 4\)/,
    );
    expect(() => foldLowerSymmetric(new Float64Array(4), 0, new Float32Array(3), 2, 0.5)).toThrow(
      /foldLowerSymmetric: f has 3 entries/,
    );
  });
});
