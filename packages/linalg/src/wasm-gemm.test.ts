/**
 * The wasm backend: the run-time module encoder, the SIMD float32 gemm against the JS kernel and a
 * float64 reference (forward-error bound of Higham §3.5: |C − Ĉ| ≤ γ_{k+2}·(|α||A||B| + |β||C0|)),
 * backend selection, and the no-allocation-after-warm-up property of its memory.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { getBackend, getBackendSetting, setBackend, wasmSupported } from "./backend.ts";
import { gemm } from "./gemm.ts";
import { gemmBlocked } from "./internal/gemm-kernel.ts";
import { Code, encodeModule, sleb, uleb, ValType } from "./internal/wasm/encoder.ts";
import { buildGemmModule, gemmWasm, WASM_MIN_WORK, wasmGemmStats } from "./internal/wasm/gemm-wasm.ts";
import { setWasmDetectorForTesting, type WasmNamespace, wasmNamespace } from "./internal/wasm/runtime.ts";
import { view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";

const EPS32 = 2 ** -23;
/** The runtime's WebAssembly through the library's own minimal typing (Node's types declare no value). */
const WA = wasmNamespace() as WasmNamespace;

afterEach(() => {
  setWasmDetectorForTesting(null);
  setBackend("auto");
});

/** A stored rows×cols float32 matrix at offset `off` with leading dimension cols + pad; padding = `fill`. */
interface Stored {
  readonly buf: Float32Array;
  readonly off: number;
  readonly ld: number;
}

function stored(rng: Rng, rows: number, cols: number, pad: number, off: number, fill: number): Stored {
  const ld = Math.max(1, cols + pad);
  const buf = new Float32Array(off + rows * ld + 2).fill(fill);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) buf[off + i * ld + j] = 2 * rng.uniform() - 1;
  return { buf, off, ld };
}

const at = (s: Stored, i: number, j: number): number => s.buf[s.off + i * s.ld + j] as number;

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
 * Runs one case through `kernel` and checks, entry by entry, |C − C_ref| ≤ (k + 3)·ε·mag where C_ref
 * and mag = |α||op(A)||op(B)| + |β·C0| are float64; also that C's padding is untouched and that β = 0
 * wipes NaN already in C. Returns C (the view's entries, row-major) or throws with a message.
 */
function check(kernel: typeof gemmWasm, x: Case): Float64Array {
  const { tA, tB, m, n, k, alpha, beta, pad, off, seed } = x;
  const rng = new Rng(seed);
  // NaN padding in A and B: a read outside the views would poison C.
  const a = tA ? stored(rng, k, m, pad, off, Number.NaN) : stored(rng, m, k, pad, off, Number.NaN);
  const b = tB ? stored(rng, n, k, pad + 1, off, Number.NaN) : stored(rng, k, n, pad + 1, off, Number.NaN);
  const c = stored(rng, m, n, pad, off + 1, 7.25);
  if (beta === 0) for (let i = 0; i < m; i++) c.buf[c.off + i * c.ld + ((i * 7) % Math.max(n, 1))] = Number.NaN;
  const before = c.buf.slice();
  kernel(tA, tB, m, n, k, alpha, a.buf, a.off, a.ld, b.buf, b.off, b.ld, beta, c.buf, c.off, c.ld);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const u = tA ? at(a, p, i) : at(a, i, p);
        const v = tB ? at(b, j, p) : at(b, p, j);
        s += u * v;
        t += Math.abs(u * v);
      }
      const c0 = beta === 0 ? 0 : beta * (before[c.off + i * c.ld + j] as number);
      const ref = alpha * s + c0;
      const mag = Math.abs(alpha) * t + Math.abs(c0);
      const got = at(c, i, j);
      const bound = (k + 3) * EPS32 * mag + 2 ** -140;
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

describe.runIf(wasmSupported())("wasm gemm kernel", () => {
  it("the run-time encoder's module passes WebAssembly.validate and stays under 4 KB (sync compile in browsers)", () => {
    const bytes = buildGemmModule(false);
    expect(WA.validate(bytes)).toBe(true);
    expect(bytes.length).toBeLessThan(4096);
    expect(buildGemmModule(true).length).toBeLessThan(4096);
  });

  it("C = α·op(A)·op(B) + β·C within (k+3)·ε·|α||A||B| on wasm and js, and the two agree, every transpose, α, β, stride", () => {
    fc.assert(
      fc.property(caseArb, (x) => {
        const w = check(gemmWasm, x);
        const j = check(gemmBlocked, x);
        // Both within the bound of the reference, so within twice the bound of each other; the check
        // above already enforced that per entry. Here: identical shapes and no NaN where C was NaN.
        expect(w.length).toBe(j.length);
      }),
      { numRuns: 120 },
    );
  });

  it("C = α·op(A)·op(B) + β·C across the wasm kernel's block and tile edges (4×8 tiles, MC = 128, KC = 256, NC = 2048)", () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 9, 300],
      [5, 1, 7],
      [4, 8, 256],
      [129, 17, 257],
      [131, 9, 513],
      [3, 2057, 3],
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

  it("gemm under setBackend('wasm') runs the wasm kernel and matches setBackend('js') within 2(k+3)·ε·‖|A||B|‖", () => {
    const rng = new Rng(7);
    const [m, n, k] = [40, 37, 41];
    expect(m * n * k).toBeGreaterThanOrEqual(WASM_MIN_WORK);
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = zeros(tA ? k : m, tA ? m : k, "float32");
      const b = zeros(tB ? n : k, tB ? k : n, "float32");
      rng.fillUniform(a.data, -1, 1);
      rng.fillUniform(b.data, -1, 1);
      const cw = zeros(m, n, "float32").data.fill(Number.NaN);
      const cj = zeros(m, n, "float32").data.fill(Number.NaN);
      setBackend("wasm");
      expect(getBackend()).toBe("wasm");
      const calls = wasmGemmStats().calls;
      gemm(tA, tB, 1, a, b, 0, { rows: m, cols: n, data: cw });
      expect(wasmGemmStats().calls).toBe(calls + 1);
      setBackend("js");
      expect(getBackend()).toBe("js");
      gemm(tA, tB, 1, a, b, 0, { rows: m, cols: n, data: cj });
      expect(wasmGemmStats().calls).toBe(calls + 1);
      // |A||B| ≤ k entrywise for entries in [−1, 1], so ‖|A||B|‖_F ≤ k·√(mn).
      let d2 = 0;
      for (let i = 0; i < m * n; i++) d2 += ((cw[i] as number) - (cj[i] as number)) ** 2;
      expect(Math.sqrt(d2)).toBeLessThanOrEqual(2 * (k + 3) * EPS32 * k * Math.sqrt(m * n));
    }
  });

  it("strided views go through the wasm path intact: C's view of a larger matrix, A and B views", () => {
    const rng = new Rng(11);
    const big = zeros(60, 70, "float32");
    rng.fillUniform(big.data, -1, 1);
    const a = view(big, 3, 5, 33, 40);
    const b = view(big, 10, 2, 40, 35);
    const outer = zeros(40, 50, "float32");
    outer.data.fill(3);
    const c = view(outer, 2, 4, 33, 35);
    setBackend("wasm");
    gemm(false, false, 1, a, b, 0, c);
    const cj = zeros(33, 35, "float32");
    setBackend("js");
    gemm(false, false, 1, a, b, 0, cj);
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 50; j++) {
        const v = outer.data[i * 50 + j] as number;
        const inside = i >= 2 && i < 35 && j >= 4 && j < 39;
        if (inside) expect(Math.abs(v - (cj.data[(i - 2) * 35 + (j - 4)] as number))).toBeLessThan(1e-4);
        else expect(v).toBe(3);
      }
    }
  });

  it("the wasm memory grows once, then repeated and smaller products allocate nothing", () => {
    const rng = new Rng(3);
    const run = (m: number, n: number, k: number): void => {
      const a = new Float32Array(m * k);
      const b = new Float32Array(k * n);
      rng.fillUniform(a, -1, 1);
      rng.fillUniform(b, -1, 1);
      gemmWasm(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, new Float32Array(m * n), 0, n);
    };
    run(200, 150, 300);
    const { grows, bytes } = wasmGemmStats();
    for (let r = 0; r < 3; r++) {
      run(200, 150, 300);
      run(64, 64, 64);
      run(3, 5, 7);
    }
    expect(wasmGemmStats().grows).toBe(grows);
    expect(wasmGemmStats().bytes).toBe(bytes);
  });
});

describe("backend selection", () => {
  it("setBackend('wasm') throws a clear error where SIMD is unsupported; 'auto' falls back to js silently", () => {
    setWasmDetectorForTesting(() => ({ ok: false, reason: "stubbed: no SIMD" }));
    expect(wasmSupported()).toBe(false);
    expect(() => setBackend("wasm")).toThrow(/"wasm" backend is not available.*stubbed: no SIMD/);
    setBackend("auto");
    expect(getBackendSetting()).toBe("auto");
    expect(getBackend()).toBe("js");
    // gemm still works, on js.
    const a = zeros(40, 40, "float32");
    a.data.fill(1);
    const c = zeros(40, 40, "float32");
    gemm(false, false, 1, a, a, 0, c);
    expect(c.data[0]).toBe(40);
  });

  it("a runtime that validates SIMD but forbids compiling from bytes is unsupported", () => {
    const ns = WA;
    const Module = ns.Module;
    setWasmDetectorForTesting(null);
    try {
      (ns as { Module: unknown }).Module = function Forbidden() {
        throw new Error("Wasm code generation disallowed by embedder");
      };
      setWasmDetectorForTesting(null);
      expect(wasmSupported()).toBe(false);
      expect(() => setBackend("wasm")).toThrow(/code generation disallowed/);
    } finally {
      (ns as { Module: unknown }).Module = Module;
      setWasmDetectorForTesting(null);
    }
  });

  it("auto resolves to wasm exactly when wasmSupported(); bad names are a TypeError", () => {
    setBackend("auto");
    expect(getBackend()).toBe(wasmSupported() ? "wasm" : "js");
    expect(() => setBackend("gpu" as "js")).toThrow(TypeError);
  });
});

describe("wasm binary encoder", () => {
  it("LEB128 matches the spec's examples (624485 → e5 8e 26, −123456 → c0 bb 78)", () => {
    const u: number[] = [];
    uleb(u, 624485);
    expect(u).toEqual([0xe5, 0x8e, 0x26]);
    const s: number[] = [];
    sleb(s, -123456);
    expect(s).toEqual([0xc0, 0xbb, 0x78]);
    const z: number[] = [];
    uleb(z, 0);
    sleb(z, -1);
    sleb(z, 64);
    expect(z).toEqual([0x00, 0x7f, 0xc0, 0x00]);
  });

  it("an encoded module that adds two i32 runs and returns their sum", () => {
    const body = new Code().get(0).get(1).i32Add();
    const bytes = encodeModule({ minPages: 1, export: "mem" }, [
      { name: "add", params: [ValType.i32, ValType.i32], results: [ValType.i32], locals: [], body },
    ]);
    expect(WA.validate(bytes)).toBe(true);
    const inst = new WA.Instance(new WA.Module(bytes));
    expect((inst.exports.add as (x: number, y: number) => number)(40, 2)).toBe(42);
    expect(inst.exports.mem).toBeInstanceOf(WA.Memory as unknown as new () => unknown);
  });

  it("an imported shared memory is accepted (the layout multi-threaded kernels need)", () => {
    const body = new Code().i32Const(0).f32Const(1.5).f32Store();
    const bytes = encodeModule({ import: { module: "env", name: "memory" }, minPages: 1, maxPages: 2, shared: true }, [
      { name: "w", params: [], results: [], locals: [], body },
    ]);
    expect(WA.validate(bytes)).toBe(true);
  });
});
