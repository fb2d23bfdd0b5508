/**
 * The float64 wasm gemm (f64x2 micro-kernel) against an exactly-summed reference and against the JS
 * kernel: per entry |C − C_ref| ≤ (k + 3)·ε·(|α||op(A)||op(B)| + |β·C0|) with ε = 2⁻⁵³ (Higham,
 * "Accuracy and Stability of Numerical Algorithms", §3.5; the reference's own rounding is removed by
 * summing in two-fold precision), every transpose, α, β (β = 0 with NaN in C), odd sizes, strided
 * views, and dispatch: float64 products go to wasm under setBackend("wasm") and stay on js under "js".
 * Also the blocked tridiagonalization's wasm route (matrix resident in wasm memory, symv4 f64x2 inner
 * loop) against its JS route, through eigh.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { setBackend, wasmSupported } from "./backend.ts";
import { eigh } from "./eigh.ts";
import { gemm } from "./gemm.ts";
import { randomSymmetric } from "./generators.ts";
import { gemmBlocked } from "./internal/gemm-kernel.ts";
import { gemmWasm, WASM_MIN_WORK, wasmGemmStats } from "./internal/wasm/gemm-wasm.ts";
import { view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";

const EPS64 = 2 ** -53;

afterEach(() => {
  setBackend("auto");
});

interface Stored {
  readonly buf: Float64Array;
  readonly off: number;
  readonly ld: number;
}

/** A rows×cols float64 matrix at offset `off`, leading dimension cols + pad, padding = `fill`. */
function stored(rng: Rng, rows: number, cols: number, pad: number, off: number, fill: number): Stored {
  const ld = Math.max(1, cols + pad);
  const buf = new Float64Array(off + rows * ld + 2).fill(fill);
  // Full 53-bit mantissas (a product of two such numbers is not a float64), so rounding happens.
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) buf[off + i * ld + j] = 2 * rng.uniform() - 1 + 1e-9 * rng.uniform();
  return { buf, off, ld };
}

const at = (s: Stored, i: number, j: number): number => s.buf[s.off + i * s.ld + j] as number;

/** Error-free transformations (Knuth TwoSum, Dekker/Veltkamp TwoProduct) for a doubled-precision reference. */
function twoSum(a: number, b: number): [number, number] {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}
const SPLIT = 134217729; // 2^27 + 1
function twoProd(a: number, b: number): [number, number] {
  const p = a * b;
  const ca = SPLIT * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = SPLIT * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return [p, al * bl - (p - ah * bh - al * bh - ah * bl)];
}

interface Case {
  readonly tA: boolean;
  readonly tB: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly alpha: number;
  readonly beta: number;
  readonly pad: number;
  readonly off: number;
  readonly seed: number;
}

/**
 * Runs one case through `kernel` and checks every entry against the doubled-precision reference within
 * (k + 3)·ε·mag, C's padding untouched and β = 0 wiping NaN. Returns C's entries row-major.
 */
function check(kernel: typeof gemmWasm, x: Case): Float64Array {
  const { tA, tB, m, n, k, alpha, beta, pad, off, seed } = x;
  const rng = new Rng(seed);
  const a = tA ? stored(rng, k, m, pad, off, Number.NaN) : stored(rng, m, k, pad, off, Number.NaN);
  const b = tB ? stored(rng, n, k, pad + 1, off, Number.NaN) : stored(rng, k, n, pad + 1, off, Number.NaN);
  const c = stored(rng, m, n, pad, off + 1, 7.25);
  if (beta === 0) for (let i = 0; i < m; i++) c.buf[c.off + i * c.ld + ((i * 7) % Math.max(n, 1))] = Number.NaN;
  const before = c.buf.slice();
  kernel(tA, tB, m, n, k, alpha, a.buf, a.off, a.ld, b.buf, b.off, b.ld, beta, c.buf, c.off, c.ld);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let hi = 0;
      let lo = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const u = tA ? at(a, p, i) : at(a, i, p);
        const v = tB ? at(b, j, p) : at(b, p, j);
        const [ph, pl] = twoProd(u, v);
        const [sh, sl] = twoSum(hi, ph);
        hi = sh;
        lo += sl + pl;
        t += Math.abs(u * v);
      }
      const c0 = beta === 0 ? 0 : beta * (before[c.off + i * c.ld + j] as number);
      const ref = alpha * hi + (alpha * lo + c0);
      const mag = Math.abs(alpha) * t + Math.abs(c0);
      const got = at(c, i, j);
      const bound = (k + 3) * EPS64 * mag + 2 ** -1000;
      if (!(Math.abs(got - ref) <= bound)) {
        throw new Error(`C[${i}, ${j}] = ${got}, reference ${ref}, |error| > ${bound} (${JSON.stringify(x)})`);
      }
      out[i * n + j] = got;
    }
  }
  for (let idx = 0; idx < c.buf.length; idx++) {
    const rel = idx - c.off;
    const i = Math.floor(rel / c.ld);
    const j = rel - i * c.ld;
    if (!(rel >= 0 && i < m && j < n) && !Object.is(c.buf[idx], before[idx])) {
      throw new Error(`C written outside its view at buffer index ${idx} (${JSON.stringify(x)})`);
    }
  }
  return out;
}

const dims = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 3, arbitrary: fc.integer({ min: 10, max: 45 }) },
);
const caseArb = fc.record({
  tA: fc.boolean(),
  tB: fc.boolean(),
  m: dims,
  n: dims,
  k: dims,
  alpha: fc.oneof(fc.constantFrom(0, 1, -1), fc.double({ min: -3, max: 3, noNaN: true })),
  beta: fc.oneof(fc.constantFrom(0, 1, -0.5), fc.double({ min: -3, max: 3, noNaN: true })),
  pad: fc.nat(3),
  off: fc.nat(5),
  seed: fc.nat(),
});

describe.runIf(wasmSupported())("wasm gemm kernel, float64 (f64x2)", () => {
  it("C = α·op(A)·op(B) + β·C within (k+3)·ε₆₄·|α||A||B| on wasm and js, every transpose, α, β, stride", () => {
    fc.assert(
      fc.property(caseArb, (x) => {
        const w = check(gemmWasm, x);
        const j = check(gemmBlocked, x);
        expect(w.length).toBe(j.length);
      }),
      { numRuns: 120 },
    );
  });

  it("C = α·op(A)·op(B) + β·C across the float64 kernel's block and tile edges (4×4 tiles, MC = 32, KC = 384)", () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [2, 9, 300],
      [5, 2, 7],
      [4, 4, 384],
      [33, 17, 385],
      [67, 5, 769],
      [3, 4099, 3],
      [0, 5, 5],
      [5, 0, 5],
      [5, 5, 0],
    ];
    for (const [m, n, k] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const x = { tA, tB, m, n, k, alpha: 0.75, beta: 0, pad: 1, off: 2, seed: m * 31 + n };
          check(gemmWasm, x);
          check(gemmWasm, { ...x, beta: -1.5, alpha: 1 });
        }
      }
    }
  });

  it("float64 gemm under setBackend('wasm') runs the wasm kernel and agrees with setBackend('js') within 2(k+3)·ε₆₄·‖|A||B|‖", () => {
    const rng = new Rng(17);
    const [m, n, k] = [40, 37, 41];
    expect(m * n * k).toBeGreaterThanOrEqual(WASM_MIN_WORK);
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = zeros(tA ? k : m, tA ? m : k, "float64");
      const b = zeros(tB ? n : k, tB ? k : n, "float64");
      rng.fillUniform(a.data, -1, 1);
      rng.fillUniform(b.data, -1, 1);
      const cw = zeros(m, n, "float64").data.fill(Number.NaN);
      const cj = zeros(m, n, "float64").data.fill(Number.NaN);
      setBackend("wasm");
      const calls = wasmGemmStats().calls;
      gemm(tA, tB, 1, a, b, 0, { rows: m, cols: n, data: cw });
      expect(wasmGemmStats().calls).toBe(calls + 1);
      setBackend("js");
      gemm(tA, tB, 1, a, b, 0, { rows: m, cols: n, data: cj });
      expect(wasmGemmStats().calls).toBe(calls + 1);
      let d2 = 0;
      for (let i = 0; i < m * n; i++) d2 += ((cw[i] as number) - (cj[i] as number)) ** 2;
      expect(Number.isFinite(d2)).toBe(true);
      expect(Math.sqrt(d2)).toBeLessThanOrEqual(2 * (k + 3) * EPS64 * k * Math.sqrt(m * n));
    }
  });

  it("strided float64 views go through the wasm path intact, and the memory outside C's view is untouched", () => {
    const rng = new Rng(23);
    const big = zeros(60, 70, "float64");
    rng.fillUniform(big.data, -1, 1);
    const a = view(big, 3, 5, 33, 40);
    const b = view(big, 10, 2, 40, 35);
    const outer = zeros(40, 50, "float64");
    outer.data.fill(3);
    const c = view(outer, 2, 4, 33, 35);
    setBackend("wasm");
    gemm(true, false, 0.5, view(big, 1, 1, 40, 33), b, 0, c);
    gemm(false, false, 1, a, b, 2, c);
    const cj = zeros(33, 35, "float64");
    setBackend("js");
    gemm(true, false, 0.5, view(big, 1, 1, 40, 33), b, 0, cj);
    gemm(false, false, 1, a, b, 2, cj);
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 50; j++) {
        const v = outer.data[i * 50 + j] as number;
        const inside = i >= 2 && i < 35 && j >= 4 && j < 39;
        if (inside) expect(Math.abs(v - (cj.data[(i - 2) * 35 + (j - 4)] as number))).toBeLessThan(1e-12);
        else expect(v).toBe(3);
      }
    }
  });

  it("float64 and float32 products share one memory: it grows once, then repeated products of either type allocate nothing", () => {
    const rng = new Rng(5);
    const run = (ctor: Float32ArrayConstructor | Float64ArrayConstructor, m: number, n: number, k: number): void => {
      const a = new ctor(m * k);
      const b = new ctor(k * n);
      rng.fillUniform(a, -1, 1);
      rng.fillUniform(b, -1, 1);
      gemmWasm(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, new ctor(m * n), 0, n);
    };
    run(Float64Array, 200, 150, 300);
    run(Float32Array, 200, 150, 300);
    const { grows, bytes } = wasmGemmStats();
    for (let r = 0; r < 3; r++) {
      run(Float64Array, 200, 150, 300);
      run(Float32Array, 64, 64, 64);
      run(Float64Array, 3, 5, 7);
    }
    expect(wasmGemmStats().grows).toBe(grows);
    expect(wasmGemmStats().bytes).toBe(bytes);
  });

  it("eigh's reduction on wasm (resident matrix, symv4) and on js: eigenvalues agree within 8·n·ε·‖A‖_F (Weyl), A·V = V·Λ on both", () => {
    const n = 203; // past the blocked crossover (160), odd so that symv4's four-row blocks leave a tail
    const a = randomSymmetric(n, new Rng(29), "float64");
    let norm = 0;
    for (let i = 0; i < n * n; i++) norm += (a.data[i] as number) ** 2;
    norm = Math.sqrt(norm);
    setBackend("wasm");
    const calls = wasmGemmStats().calls;
    const w = eigh(a);
    expect(wasmGemmStats().calls).toBeGreaterThan(calls);
    setBackend("js");
    const callsJs = wasmGemmStats().calls;
    const j = eigh(a);
    expect(wasmGemmStats().calls).toBe(callsJs);
    expect(w.status).toBe("success");
    expect(j.status).toBe("success");
    for (let i = 0; i < n; i++) {
      expect(Math.abs((w.values[i] as number) - (j.values[i] as number))).toBeLessThanOrEqual(8 * n * 2 * EPS64 * norm);
    }
    for (const r of [w, j]) {
      const v = r.vectors as { rows: number; cols: number; data: Float64Array };
      const av = zeros(n, n, "float64");
      gemm(false, false, 1, a, v, 0, av);
      let res = 0;
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < n; c++)
          res += ((av.data[i * n + c] as number) - (v.data[i * n + c] as number) * (r.values[c] as number)) ** 2;
      }
      expect(Math.sqrt(res) / norm).toBeLessThanOrEqual(8 * n * 2 * EPS64);
    }
  });

  it("the resident region is released after eigh: a following product that must grow the memory runs", () => {
    setBackend("wasm");
    eigh(randomSymmetric(170, new Rng(31), "float64"));
    const before = wasmGemmStats().bytes;
    const m = Math.ceil(Math.sqrt(before / 8)) + 8; // C̃ alone needs more than the memory holds
    const a = new Float64Array(m * 3).fill(1);
    const c = new Float64Array(m * m);
    gemmWasm(false, false, m, m, 3, 1, a, 0, 3, a, 0, m, 0, c, 0, m);
    expect(wasmGemmStats().bytes).toBeGreaterThan(before);
    expect(c[m * m - 1]).toBe(3);
  });
});
