/**
 * gemm on every backend: one suite, parameterised over {js, wasm (mul + add), wasm (relaxed-SIMD
 * FMA, where the runtime has it), wasm on 2 worker threads} × {float32, float64} (tfjs-core's
 * one-suite-every-backend pattern). Each backend runs the same laws:
 * - C = α·op(A)·op(B) + β·C entry by entry within (k + 3)·ε·(|α||op(A)||op(B)| + |β·C0|) (Higham,
 *   "Accuracy and Stability of Numerical Algorithms", §3.5) against a reference summed in doubled
 *   precision, every transpose, α, β (β = 0 with NaN in C), stride and offset; NaN padding in A and B
 *   (a read outside the views would poison C); C's padding untouched;
 * - the same across the backend's block and tile edges;
 * - the dispatch sends the product where the backend says, and it agrees with the js backend;
 * - strided views intact; results deterministic bit for bit per backend (threads = one thread).
 * Then what is backend-specific: the JS kernels' special cases and workspace, the wasm module and
 * memory, backend and kernel selection, the encoder, the resident region used by eigh.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnNodeWorker } from "../../bench/src/node-threads.ts";
import {
  getBackend,
  getBackendSetting,
  getThreads,
  getWasmKernel,
  setBackend,
  setThreads,
  setWasmKernel,
  shutdownThreads,
  wasmFmaSupported,
  wasmSupported,
} from "./backend.ts";
import { eigh } from "./eigh.ts";
import { gemm, gemmProfile, gemmStrided, matmul, matmulInto, profileGemm } from "./gemm.ts";
import { randomSymmetric } from "./generators.ts";
import type { GemmArgs, GemmKernel } from "./internal/gemm-args.ts";
import {
  type GemmRoute,
  gemmDispatch,
  gemmLowerUnchecked,
  gemmRoute,
  gemmUnchecked,
  WASM_MIN_WORK,
} from "./internal/gemm-dispatch.ts";
import { gemmBlocked, gemmSmall, gemmWorkspace } from "./internal/gemm-kernel.ts";
import { buildGemmModule } from "./internal/wasm/codegen.ts";
import { gemmWasm } from "./internal/wasm/driver.ts";
import { Code, encodeModule, sleb, uleb, ValType } from "./internal/wasm/encoder.ts";
import { ensureBytes, kernels, memoryBlock, wasmGemmStats } from "./internal/wasm/instance.ts";
import { setWasmDetectorForTesting, type WasmNamespace, wasmNamespace } from "./internal/wasm/runtime.ts";
import { buildVectorModule } from "./internal/wasm/vector-codegen.ts";
import { allocate, type DType, type FloatArray, fromArray, type Matrix, view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";

const EPS: Record<DType, number> = { float32: 2 ** -23, float64: 2 ** -53 };
/** Absolute slack for underflow (each rounding may lose a subnormal). */
const ETA: Record<DType, number> = { float32: 2 ** -140, float64: 2 ** -1000 };

/** BLAS-style arguments (as `gemmUnchecked` takes them) as the kernels take them. */
function args(...p: Parameters<typeof gemmUnchecked>): GemmArgs {
  const [transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc] = p;
  return { transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc, lower: false };
}

/** A stored rows×cols matrix at offset `off`, leading dimension cols + pad, padding = `fill`. */
interface Stored {
  readonly buf: FloatArray;
  readonly off: number;
  readonly ld: number;
}

function stored(rng: Rng, dtype: DType, rows: number, cols: number, pad: number, off: number, fill: number): Stored {
  const ld = Math.max(1, cols + pad);
  const buf = allocate(off + rows * ld + 2, dtype).fill(fill);
  // float64: full 53-bit mantissas (a product of two such numbers is not a float64), so rounding happens.
  const tail = dtype === "float64" ? 1e-9 : 0;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) buf[off + i * ld + j] = 2 * rng.uniform() - 1 + tail * rng.uniform();
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
  readonly dtype: DType;
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
 * (k + 3)·ε·mag + η, mag = |α||op(A)||op(B)| + |β·C0|; C's padding untouched; β = 0 wipes NaN already
 * in C. Returns C's entries row-major, or throws with a message.
 */
function check(kernel: GemmKernel, x: Case): Float64Array {
  const { dtype, tA, tB, m, n, k, alpha, beta, pad, off, seed } = x;
  const rng = new Rng(seed);
  const nan = Number.NaN;
  const a = tA ? stored(rng, dtype, k, m, pad, off, nan) : stored(rng, dtype, m, k, pad, off, nan);
  const b = tB ? stored(rng, dtype, n, k, pad + 1, off, nan) : stored(rng, dtype, k, n, pad + 1, off, nan);
  const c = stored(rng, dtype, m, n, pad, off + 1, 7.25);
  if (beta === 0) for (let i = 0; i < m; i++) c.buf[c.off + i * c.ld + ((i * 7) % Math.max(n, 1))] = nan;
  const before = c.buf.slice();
  kernel(args(tA, tB, m, n, k, alpha, a.buf, a.off, a.ld, b.buf, b.off, b.ld, beta, c.buf, c.off, c.ld));
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
      const bound = (k + 3) * EPS[dtype] * mag + ETA[dtype];
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
const scalar = fc.oneof(fc.constantFrom(0, 1, -1, 0.5, -0.5), fc.double({ min: -3, max: 3, noNaN: true }));

type Shape = readonly [number, number, number];

/** One backend of the parameterised suite. */
interface Backend {
  readonly name: string;
  readonly available: () => boolean;
  readonly setup: () => Promise<void>;
  /** Kernels the property runs: the dispatch, plus the backend's kernels called directly. */
  readonly kernels: Readonly<Record<string, GemmKernel>>;
  /** The route the dispatch must take for a big product. */
  readonly route: GemmRoute;
  /** Shapes at the backend's block and tile edges, per element type. */
  readonly edges: (dtype: DType) => readonly Shape[];
}

const JS_EDGES: readonly Shape[] = [
  [65, 7, 385],
  [129, 33, 769],
  [200, 3, 1000],
  [8, 4, 256],
  [9, 5, 1],
  [3, 4101, 2],
  [1, 300, 70],
  [1, 70, 300],
  [90, 1, 200],
  [1, 1, 5000],
];
/** float32 4×8 tiles, MC = 128, KC = 256, NC = 2048; float64 4×4 tiles, MC = 32, KC = 384, NC = 4096. */
const WASM_EDGES: Record<DType, readonly Shape[]> = {
  float32: [
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
  ],
  float64: [
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
  ],
};
/** Past THREAD_MIN_WORK (128³) with enough column panels for 2 threads; odd sizes leave a tail panel. */
const THREAD_EDGES: readonly Shape[] = [
  [150, 141, 133],
  [131, 260, 129],
  [257, 65, 300],
];

/** The single-thread wasm backend with one kernel variant: the driver and the dispatch, wasm edge shapes. */
function wasmBackend(name: string, available: () => boolean, kernel: "fma" | "mul-add"): Backend {
  const setup = async (): Promise<void> => {
    setBackend("wasm");
    setWasmKernel(kernel);
  };
  return {
    name,
    available,
    setup,
    kernels: { dispatch: gemmDispatch, driver: gemmWasm },
    route: "wasm",
    edges: (dtype) => WASM_EDGES[dtype],
  };
}

const BACKENDS: readonly Backend[] = [
  {
    name: "js",
    available: () => true,
    setup: async () => setBackend("js"),
    kernels: { dispatch: gemmDispatch, small: gemmSmall, blocked: gemmBlocked },
    route: "blocked",
    edges: () => JS_EDGES,
  },
  wasmBackend("wasm (mul + add)", wasmSupported, "mul-add"),
  wasmBackend("wasm (relaxed-SIMD FMA)", wasmFmaSupported, "fma"),
  {
    name: "wasm on 2 threads",
    available: wasmSupported,
    setup: async () => {
      setBackend("wasm");
      await setThreads(2, { spawn: spawnNodeWorker });
    },
    kernels: { dispatch: gemmDispatch },
    route: "threads",
    edges: () => THREAD_EDGES,
  },
];

/** Inputs of a big product (through the public API), for the route, agreement and determinism laws. */
function bigCase(dtype: DType, tA: boolean, tB: boolean, seed: number) {
  const [m, n, k] = [150, 141, 133];
  const rng = new Rng(seed);
  const a = zeros(tA ? k : m, tA ? m : k, dtype);
  const b = zeros(tB ? n : k, tB ? k : n, dtype);
  const c0 = zeros(m + 3, n + 5, dtype);
  rng.fillUniform(a.data, -1, 1);
  rng.fillUniform(b.data, -1, 1);
  rng.fillUniform(c0.data, -1, 1);
  return { m, n, k, a, b, c0 };
}

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

for (const backend of BACKENDS) {
  for (const dtype of ["float32", "float64"] as const) {
    describe.runIf(backend.available())(`gemm on ${backend.name}, ${dtype}`, () => {
      beforeAll(backend.setup);
      afterAll(async () => {
        await shutdownThreads();
        setWasmKernel("auto");
        setBackend("auto");
      });

      it("C = α·op(A)·op(B) + β·C within (k+3)·ε·(|α||op(A)||op(B)| + |β·C0|), every transpose, α, β, stride and kernel", () => {
        const names = Object.keys(backend.kernels);
        fc.assert(
          fc.property(
            fc.record({
              kernel: fc.constantFrom(...names),
              tA: fc.boolean(),
              tB: fc.boolean(),
              m: dims,
              n: dims,
              k: dims,
              alpha: scalar,
              beta: scalar,
              pad: fc.nat(3),
              off: fc.nat(5),
              seed: fc.nat(),
            }),
            ({ kernel, ...x }) => {
              check(backend.kernels[kernel] as GemmKernel, { ...x, dtype });
            },
          ),
          { numRuns: 120 },
        );
      });

      it("lower (syrk's request): the lower triangle is the full product's bit for bit; above it, the product or β·C, and whole blocks skipped", () => {
        for (const d of [37, 150, 300]) {
          for (const [tA, tB] of TRANSPOSES) {
            for (const beta of [0, 0.5]) {
              const rng = new Rng(d * 7 + (tA ? 2 : 0) + (tB ? 1 : 0));
              const a = allocate(d * 40, dtype);
              const b = allocate(d * 40, dtype);
              const c0 = allocate(d * d, dtype);
              rng.fillUniform(a, -1, 1);
              rng.fillUniform(b, -1, 1);
              rng.fillUniform(c0, -1, 1);
              const full = c0.slice();
              const low = c0.slice();
              const lda = tA ? d : 40;
              const ldb = tB ? 40 : d;
              gemmUnchecked(tA, tB, d, d, 40, 0.75, a, 0, lda, b, 0, ldb, beta, full, 0, d);
              gemmLowerUnchecked(tA, tB, d, d, 40, 0.75, a, 0, lda, b, 0, ldb, beta, low, 0, d);
              const round = dtype === "float32" ? Math.fround : (v: number) => v;
              let skipped = 0;
              for (let i = 0; i < d; i++) {
                for (let j = 0; j < d; j++) {
                  const v = low[i * d + j] as number;
                  if (j <= i) expect(v).toBe(full[i * d + j]);
                  else if (v !== full[i * d + j]) {
                    expect(v).toBe(beta === 0 ? 0 : round(beta * (c0[i * d + j] as number))); // β = 0 writes +0
                    skipped++;
                  }
                }
              }
              // The kernels with blocks skip some (threads too: each worker's columns); 37 is one block.
              if (d >= 150 && backend.route !== "threads") expect(skipped).toBeGreaterThan(0);
            }
          }
        }
      });

      it("C = α·op(A)·op(B) + β·C across the backend's block and tile edges", () => {
        for (const [m, n, k] of backend.edges(dtype)) {
          for (const [tA, tB] of TRANSPOSES) {
            const x = { dtype, tA, tB, m, n, k, alpha: 0.75, beta: 0, pad: 1, off: 2, seed: m * 31 + n };
            check(gemmDispatch, x);
            check(gemmDispatch, { ...x, beta: -1.5, alpha: 1.25 });
          }
        }
      });

      it("a big product takes the backend's route, and agrees with the JS kernel within 2(k+3)·ε·‖|A||B|‖_F", () => {
        for (const [tA, tB] of TRANSPOSES) {
          const { m, n, k, a, b } = bigCase(dtype, tA, tB, 7);
          expect(m * n * k).toBeGreaterThanOrEqual(WASM_MIN_WORK);
          const c = zeros(m, n, dtype);
          const g = args(tA, tB, m, n, k, 1, a.data, 0, a.cols, b.data, 0, b.cols, 0, c.data, 0, n);
          expect(gemmRoute(g)).toBe(backend.route);
          const calls = wasmGemmStats().calls;
          c.data.fill(Number.NaN);
          gemm(tA, tB, 1, a, b, 0, c);
          expect(wasmGemmStats().calls).toBe(calls + (backend.route === "blocked" ? 0 : 1));
          const cj = zeros(m, n, dtype).data.fill(Number.NaN);
          gemmBlocked({ ...g, c: cj });
          // |A||B| ≤ k entrywise for entries in [−1, 1], so ‖|A||B|‖_F ≤ k·√(mn).
          let d2 = 0;
          for (let i = 0; i < m * n; i++) d2 += ((c.data[i] as number) - (cj[i] as number)) ** 2;
          expect(Number.isFinite(d2)).toBe(true);
          expect(Math.sqrt(d2)).toBeLessThanOrEqual(2 * (k + 3) * EPS[dtype] * k * Math.sqrt(m * n));
        }
      });

      it("strided views go through intact, and memory outside C's view is untouched", () => {
        const rng = new Rng(23);
        const big = zeros(60, 70, dtype);
        rng.fillUniform(big.data, -1, 1);
        const a = view(big, 3, 5, 33, 40);
        const b = view(big, 10, 2, 40, 35);
        const outer = zeros(40, 50, dtype);
        outer.data.fill(3);
        const c = view(outer, 2, 4, 33, 35);
        gemm(true, false, 0.5, view(big, 1, 1, 40, 33), b, 0, c);
        gemm(false, false, 1, a, b, 2, c);
        const cj = zeros(33, 35, dtype);
        const setting = getBackendSetting();
        setBackend("js");
        gemm(true, false, 0.5, view(big, 1, 1, 40, 33), b, 0, cj);
        gemm(false, false, 1, a, b, 2, cj);
        setBackend(setting);
        const tol = dtype === "float32" ? 1e-4 : 1e-12;
        for (let i = 0; i < 40; i++) {
          for (let j = 0; j < 50; j++) {
            const v = outer.data[i * 50 + j] as number;
            const inside = i >= 2 && i < 35 && j >= 4 && j < 39;
            if (inside) expect(Math.abs(v - (cj.data[(i - 2) * 35 + (j - 4)] as number))).toBeLessThan(tol);
            else expect(v).toBe(3);
          }
        }
      });

      it("deterministic: the same product twice is equal bit for bit (threads: equal to one thread)", async () => {
        for (const [tA, tB] of TRANSPOSES) {
          const { m, n, k, a, b, c0 } = bigCase(dtype, tA, tB, 9);
          const run = (kernel: GemmKernel): FloatArray => {
            const c = c0.data.slice();
            const ldc = c0.cols;
            kernel(args(tA, tB, m, n, k, 0.75, a.data, 0, a.cols, b.data, 0, b.cols, -0.5, c, 2 * ldc + 3, ldc));
            return c;
          };
          const first = run(gemmDispatch);
          const second = run(gemmDispatch);
          expect(second.every((v, i) => Object.is(v, first[i]))).toBe(true);
          if (backend.route === "threads") {
            expect(getThreads()).toBe(2);
            const single = run(gemmWasm);
            expect(
              single.every((v, i) => Object.is(v, first[i])),
              `${tA} ${tB}`,
            ).toBe(true);
            if (tA && tB) {
              // After shutdown gemm runs on one thread again, on a private memory, with the same result.
              await shutdownThreads();
              expect(getThreads()).toBe(1);
              const after = run(gemmDispatch);
              expect(after.every((v, i) => Object.is(v, first[i]))).toBe(true);
              await setThreads(2, { spawn: spawnNodeWorker });
            }
          }
        }
      });
    });
  }
}

describe("the JS kernels' special cases", () => {
  it("β = 0 overwrites C: NaN and Inf already in C vanish (small and blocked kernels)", () => {
    for (const kernel of [gemmSmall, gemmBlocked]) {
      const a = new Float32Array(20 * 20).fill(1);
      const c = new Float32Array(20 * 20).fill(Number.NaN);
      c[3] = Number.POSITIVE_INFINITY;
      kernel(args(false, false, 20, 20, 20, 2, a, 0, 20, a, 0, 20, 0, c, 0, 20));
      expect(c.every((v) => v === 40)).toBe(true);
    }
  });

  it("α = 0 only scales C: A and B are not read (NaN in A does not propagate)", () => {
    for (const kernel of [gemmSmall, gemmBlocked]) {
      const a = new Float64Array(30 * 30).fill(Number.NaN);
      const c = new Float64Array(30 * 30).map((_, i) => i);
      kernel(args(true, false, 30, 30, 30, 0, a, 0, 30, a, 0, 30, -2, c, 0, 30));
      expect(c.every((v, i) => v === -2 * i)).toBe(true);
      kernel(args(false, true, 30, 30, 30, 0, a, 0, 30, a, 0, 30, 0, c, 0, 30));
      expect(c.every((v) => v === 0)).toBe(true);
    }
  });

  it("k = 0 gives C = β·C; m = 0 or n = 0 touches nothing", () => {
    const c = new Float32Array([1, 2, 3, 4]);
    const empty = new Float32Array(0);
    gemmBlocked(args(false, false, 2, 2, 0, 1, empty, 0, 1, empty, 0, 2, 3, c, 0, 2));
    expect(Array.from(c)).toEqual([3, 6, 9, 12]);
    gemmBlocked(args(false, false, 0, 2, 5, 1, empty, 0, 5, new Float32Array(10), 0, 2, 0, c, 0, 2));
    expect(Array.from(c)).toEqual([3, 6, 9, 12]);
  });

  it("the dispatch routes one-row and one-column products to gemv and tiny ones to the small kernel", () => {
    setBackend("js");
    const x = new Float64Array(5000);
    const route = (m: number, n: number, k: number): GemmRoute =>
      gemmRoute(args(false, false, m, n, k, 1, x, 0, Math.max(1, k), x, 0, Math.max(1, n), 0, x, 0, Math.max(1, n)));
    expect(route(1, 300, 70)).toBe("gemv-row");
    expect(route(90, 1, 200)).toBe("gemv-column");
    expect(route(3, 4, 5)).toBe("small");
    expect(route(40, 40, 40)).toBe("blocked");
    setBackend("auto");
  });

  it("no allocation after the first call at a given size: packing buffers are reused", () => {
    const a = new Float32Array(300 * 300).fill(0.5);
    const c = new Float32Array(300 * 300);
    gemmBlocked(args(false, true, 300, 300, 300, 1, a, 0, 300, a, 0, 300, 0, c, 0, 300));
    const first = gemmWorkspace();
    for (const [tA, tB] of [
      [false, false],
      [true, true],
      [true, false],
    ] as const) {
      gemmBlocked(args(tA, tB, 300, 300, 300, 1, a, 0, 300, a, 0, 300, 0, c, 0, 300));
      gemmBlocked(args(tA, tB, 100, 50, 70, 1, a, 0, 300, a, 0, 300, 1, c, 0, 300));
    }
    const after = gemmWorkspace();
    expect(after.packA).toBe(first.packA);
    expect(after.packB).toBe(first.packB);
    expect(after.allocations).toBe(first.allocations);
  });
});

/** The runtime's WebAssembly through the library's own minimal typing (Node's types declare no value). */
const WA = wasmNamespace() as WasmNamespace;

describe.runIf(wasmSupported())("the wasm module and memory", () => {
  afterEach(() => {
    setWasmKernel("auto");
    setBackend("auto");
  });

  it("the run-time encoder's modules pass WebAssembly.validate and stay under 4 KB (sync compile in browsers)", () => {
    const bytes = buildGemmModule(false);
    expect(WA.validate(bytes)).toBe(true);
    expect(bytes.length).toBeLessThan(4096);
    expect(buildGemmModule(true).length).toBeLessThan(4096);
    const vec = buildVectorModule();
    expect(WA.validate(vec)).toBe(true);
    expect(vec.length).toBeLessThan(4096);
    expect(buildVectorModule(1024).length).toBeLessThan(4096);
  });

  it("the wasm memory grows once, then repeated and smaller products of either type allocate nothing", () => {
    const rng = new Rng(5);
    const run = (ctor: Float32ArrayConstructor | Float64ArrayConstructor, m: number, n: number, k: number): void => {
      const a = new ctor(m * k);
      const b = new ctor(k * n);
      rng.fillUniform(a, -1, 1);
      rng.fillUniform(b, -1, 1);
      gemmWasm(args(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, new ctor(m * n), 0, n));
    };
    run(Float64Array, 200, 150, 300);
    run(Float32Array, 200, 150, 300);
    const { grows, bytes } = wasmGemmStats();
    for (let r = 0; r < 3; r++) {
      run(Float64Array, 200, 150, 300);
      run(Float32Array, 200, 150, 300);
      run(Float32Array, 64, 64, 64);
      run(Float64Array, 3, 5, 7);
    }
    expect(wasmGemmStats().grows).toBe(grows);
    expect(wasmGemmStats().bytes).toBe(bytes);
  });

  it("C moves in and out by native copies: whole-array β = 1 and contiguous C at an offset, padded widths, both types", () => {
    // driver.ts's loadC/storeC fast paths (one `set` + row moves inside the memory) against the
    // reference, with guard entries around C that must stay untouched; n = 13 and 785 pad C̃'s rows.
    for (const dtype of ["float32", "float64"] as const) {
      for (const [m, n, k] of [
        [1, 13, 9],
        [5, 8, 7],
        [9, 13, 20],
        [40, 785, 33],
      ] as const) {
        for (const beta of [0, 1, -0.5]) {
          check(gemmWasm, { dtype, tA: false, tB: true, m, n, k, alpha: 0.75, beta, pad: 0, off: 0, seed: m + n });
          check(gemmWasm, { dtype, tA: true, tB: false, m, n, k, alpha: 1, beta, pad: 0, off: 3, seed: k });
        }
        // C as its whole array (offset 0, no guard): the β = 1 load copies it in with one set.
        const rng = new Rng(m * n);
        const ctor = dtype === "float32" ? Float32Array : Float64Array;
        const a = rng.fillUniform(new ctor(m * k), -1, 1);
        const b = rng.fillUniform(new ctor(k * n), -1, 1);
        const c = rng.fillUniform(new ctor(m * n), -1, 1);
        const want = Float64Array.from(c);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++)
            for (let p = 0; p < k; p++)
              want[i * n + j] = (want[i * n + j] as number) + (a[i * k + p] as number) * (b[p * n + j] as number);
        gemmWasm(args(false, false, m, n, k, 1, a, 0, k, b, 0, n, 1, c, 0, n));
        const tol = dtype === "float32" ? 1e-5 * k : 1e-13 * k;
        for (let i = 0; i < m * n; i++)
          expect(Math.abs((c[i] as number) - (want[i] as number))).toBeLessThanOrEqual(tol);
      }
    }
  });

  it("operands copied in whole, copied by the span they read, and packed from the caller's array (another type) agree", () => {
    // driver.ts copies an operand of C's type into the memory whole when it is at most 4× the span the
    // product reads, else just that span, and packs it there (packInMemory); one of the other type is
    // packed from where it is (gemm-pack.ts). Every transpose, R = 4 and 8 panels with partial ones,
    // k not a multiple of 4: the same C from all three routes, and the reference.
    const rng = new Rng(17);
    for (const [m, n, k] of [
      [13, 21, 30],
      [8, 16, 4],
      [37, 9, 7],
    ] as const) {
      for (const [tA, tB] of TRANSPOSES) {
        const [ra, ca] = tA ? [k, m] : [m, k];
        const [rb, cb] = tB ? [n, k] : [k, n];
        const a = rng.fillUniform(new Float32Array(ra * ca), -1, 1);
        const b = rng.fillUniform(new Float32Array(rb * cb), -1, 1);
        // The same values inside arrays 6× longer (NaN around them), at an offset: only the span goes in.
        const aLong = new Float32Array(6 * a.length).fill(Number.NaN);
        const bLong = new Float32Array(6 * b.length).fill(Number.NaN);
        aLong.set(a, 5);
        bLong.set(b, 3);
        const inMemory = new Float32Array(m * n);
        const fromArray = new Float32Array(m * n);
        const mixed = new Float32Array(m * n);
        gemmWasm(args(tA, tB, m, n, k, 1, a, 0, ca, b, 0, cb, 0, inMemory, 0, n));
        gemmWasm(args(tA, tB, m, n, k, 1, aLong, 5, ca, bLong, 3, cb, 0, fromArray, 0, n));
        gemmWasm(args(tA, tB, m, n, k, 1, Float64Array.from(a), 0, ca, b, 0, cb, 0, mixed, 0, n));
        expect(fromArray).toEqual(inMemory);
        expect(mixed).toEqual(inMemory);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let ref = 0;
            for (let p = 0; p < k; p++) {
              const x = (tA ? a[p * ca + i] : a[i * ca + p]) as number;
              const y = (tB ? b[j * cb + p] : b[p * cb + j]) as number;
              ref += x * y;
            }
            expect(Math.abs((inMemory[i * n + j] as number) - ref)).toBeLessThanOrEqual(1e-5 * k);
          }
        }
      }
    }
  });

  it("memoryBlock: one view per (start, length) while the memory stays, a fresh one after it grows", () => {
    setBackend("wasm");
    const c = new Float32Array(12 * 13);
    gemmWasm(args(false, false, 12, 13, 4, 1, new Float32Array(48), 0, 4, new Float32Array(52), 0, 13, 0, c, 0, 13));
    const v = memoryBlock(4, 16, 100);
    expect(memoryBlock(4, 16, 100)).toBe(v);
    expect(memoryBlock(4, 16, 99)).not.toBe(v);
    expect(memoryBlock(8, 16, 100)).toBeInstanceOf(Float64Array);
    const bytes = wasmGemmStats().bytes;
    ensureBytes(kernels(), bytes + 65536);
    const w = memoryBlock(4, 16, 100);
    expect(w === v).toBe(false); // v's buffer is detached now (not printable)
    expect(w.buffer.byteLength).toBeGreaterThan(bytes);
  });

  it("the kernel variant: 'auto' is FMA exactly where relaxed SIMD validates, the instance reports what ran", () => {
    setBackend("wasm");
    setWasmKernel("auto");
    expect(getWasmKernel()).toBe(wasmFmaSupported() ? "fma" : "mul-add");
    // CI runs this suite once with and once without --experimental-wasm-relaxed-simd and says which to expect.
    const expected = process.env.LINALG_EXPECT_WASM_KERNEL;
    if (expected !== undefined) expect(getWasmKernel()).toBe(expected);
    const a = zeros(40, 40, "float32").data.fill(1);
    gemmWasm(args(false, false, 40, 40, 40, 1, a, 0, 40, a, 0, 40, 0, new Float32Array(1600), 0, 40));
    expect(wasmGemmStats().fma).toBe(getWasmKernel() === "fma");
    setWasmKernel("mul-add");
    gemmWasm(args(false, false, 40, 40, 40, 1, a, 0, 40, a, 0, 40, 0, new Float32Array(1600), 0, 40));
    expect(wasmGemmStats().fma).toBe(false);
  });

  it("setWasmKernel: bad names are a TypeError; 'fma' where relaxed SIMD is missing throws and says why", () => {
    expect(() => setWasmKernel("avx" as "fma")).toThrow(TypeError);
    setWasmDetectorForTesting(() => ({ ok: false, reason: "stubbed: no SIMD" }));
    expect(wasmFmaSupported()).toBe(false);
    expect(() => setWasmKernel("fma")).toThrow(/"fma" kernel is not available.*stubbed: no SIMD/);
    setWasmDetectorForTesting(null);
  });

  it.runIf(wasmFmaSupported())(
    "the fused and the unfused kernel each agree with the reference (both paths tested here)",
    () => {
      for (const kernel of ["fma", "mul-add"] as const) {
        setBackend("wasm");
        setWasmKernel(kernel);
        check(gemmDispatch, {
          dtype: "float32",
          tA: false,
          tB: true,
          m: 37,
          n: 45,
          k: 300,
          alpha: 1,
          beta: 0.5,
          pad: 1,
          off: 1,
          seed: 3,
        });
        expect(wasmGemmStats().fma).toBe(kernel === "fma");
      }
    },
  );
});

describe("backend selection", () => {
  afterEach(() => {
    setWasmDetectorForTesting(null);
    setBackend("auto");
  });

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

describe.runIf(wasmSupported())("the wasm resident region (eigh's blocked reduction)", () => {
  afterEach(() => setBackend("auto"));

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
      expect(Math.abs((w.values[i] as number) - (j.values[i] as number))).toBeLessThanOrEqual(
        8 * n * 2 * EPS.float64 * norm,
      );
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
      expect(Math.sqrt(res) / norm).toBeLessThanOrEqual(8 * n * 2 * EPS.float64);
    }
  });

  it("the resident region is released after eigh: a following product that must grow the memory runs", () => {
    setBackend("wasm");
    eigh(randomSymmetric(170, new Rng(31), "float64"));
    const before = wasmGemmStats().bytes;
    const m = Math.ceil(Math.sqrt(before / 8)) + 8; // C̃ alone needs more than the memory holds
    const a = new Float64Array(m * 3).fill(1);
    const c = new Float64Array(m * m);
    gemmWasm(args(false, false, m, m, 3, 1, a, 0, 3, a, 0, m, 0, c, 0, m));
    expect(wasmGemmStats().bytes).toBeGreaterThan(before);
    expect(c[m * m - 1]).toBe(3);
  });
});

describe("gemm (matrix API)", () => {
  const rand = (rng: Rng, r: number, c: number, dtype: DType = "float64"): Matrix => {
    const m = zeros(r, c, dtype);
    rng.fillUniform(m.data, -1, 1);
    return m;
  };

  it("gemm on strided views equals gemm on the copied blocks", () => {
    const rng = new Rng(5);
    const big = rand(rng, 20, 30);
    const a = view(big, 2, 3, 7, 9); // 7×9
    const b = view(big, 10, 1, 9, 6); // 9×6
    const cBig = zeros(12, 12, "float64");
    const c = view(cBig, 1, 2, 7, 6);
    gemm(false, false, 1, a, b, 0, c);
    const aCopy = fromArray(
      7,
      9,
      Array.from({ length: 63 }, (_, t) => big.data[(2 + Math.floor(t / 9)) * 30 + 3 + (t % 9)] as number),
      "float64",
    );
    const bCopy = fromArray(
      9,
      6,
      Array.from({ length: 54 }, (_, t) => big.data[(10 + Math.floor(t / 6)) * 30 + 1 + (t % 6)] as number),
      "float64",
    );
    const ref = matmul(aCopy, bCopy);
    for (let i = 0; i < 7; i++)
      for (let j = 0; j < 6; j++)
        expect(cBig.data[(1 + i) * 12 + 2 + j]).toBeCloseTo(ref.data[i * 6 + j] as number, 12);
    expect(cBig.data[0]).toBe(0); // outside the view
  });

  it("matmul of a 1×1 by a 1×1 is the product; an empty product is zero", () => {
    expect(matmul(fromArray(1, 1, [3]), fromArray(1, 1, [-2])).data[0]).toBe(-6);
    const z = matmul(zeros(2, 0), zeros(0, 3));
    expect(z.rows).toBe(2);
    expect(z.cols).toBe(3);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("matmulInto overwrites out (β = 0): NaN in out vanish", () => {
    const out = fromArray(2, 2, [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    matmulInto(out, fromArray(2, 2, [1, 2, 3, 4]), fromArray(2, 2, [1, 0, 0, 1]));
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4]);
  });

  it("bad input throws TypeError/RangeError naming the function, the argument and the shapes", () => {
    const a = zeros(3, 4);
    const b = zeros(5, 2);
    expect(() => gemm(false, false, 1, a, b, 0, zeros(3, 2))).toThrow(
      /^gemm: inner dimensions differ \(a is 3×4, b is 5×2\)$/,
    );
    expect(() => gemm(true, false, 1, a, b, 0, zeros(4, 2))).toThrow(
      /gemm: inner dimensions differ \(aᵀ is 4×3, b is 5×2\)/,
    );
    expect(() => gemm(false, true, 1, a, zeros(2, 4), 0, zeros(3, 3))).toThrow(/gemm: c is 3×3, expected 3×2/);
    expect(() => gemm(false, false, 1, a, zeros(4, 2, "float64"), 0, zeros(3, 2))).toThrow(TypeError);
    expect(() => gemm(false, false, 1, a, zeros(4, 2, "float64"), 0, zeros(3, 2))).toThrow(
      /gemm: a is float32 but b is float64/,
    );
    const bad = { rows: 2, cols: 2, data: [1, 2, 3, 4] } as unknown as Matrix;
    expect(() => gemm(false, false, 1, bad, bad, 0, zeros(2, 2))).toThrow(
      /gemm: a.data must be a Float32Array or Float64Array \(got Array\)/,
    );
    expect(() =>
      gemm(false, false, 1, { rows: 2, cols: 2, data: new Float32Array(3) }, zeros(2, 2), 0, zeros(2, 2)),
    ).toThrow(/gemm: a.data has length 3, expected rows·cols = 2·2 = 4/);
    const sq = zeros(3, 3);
    expect(() => gemm(false, false, 1, sq, zeros(3, 3), 0, sq)).toThrow(RangeError);
    expect(() => gemm(false, false, 1, sq, zeros(3, 3), 0, sq)).toThrow(
      /gemm: c must not share its buffer with a or b/,
    );
    const shared = new Float32Array(18);
    const sub = { rows: 3, cols: 3, data: shared.subarray(9) };
    expect(() => gemm(false, false, 1, { rows: 3, cols: 3, data: shared.subarray(0, 9) }, sq, 0, sub)).not.toThrow();
    expect(() => gemm(false, false, 1, { rows: 3, cols: 3, data: shared.subarray(5, 14) }, sq, 0, sub)).toThrow(
      /gemm: c must not share/,
    );
    expect(() => gemm(false, false, "1" as unknown as number, sq, sq, 0, zeros(3, 3))).toThrow(
      /gemm: alpha must be a number/,
    );
    const f = new Float32Array(12);
    expect(() =>
      gemmStrided(false, false, 3, 4, 2, 1, f, 0, 1, f.slice(), 0, 4, 0, new Float32Array(12), 0, 4),
    ).toThrow(/gemmStrided: lda = 1 must be ≥ max\(1, 2\)/);
    expect(() =>
      gemmStrided(false, false, 3, 4, 4, 1, f, 0, 4, f.slice(), 0, 4, 0, new Float32Array(12), 0, 4),
    ).toThrow(/gemmStrided: b \(stored 4×4, offset 0, ld 4\) needs 16 elements, has 12/);
    expect(() => gemmStrided(false, false, -1, 4, 4, 1, f, 0, 4, f, 0, 4, 0, f, 0, 4)).toThrow(
      /gemmStrided: m must be a non-negative integer/,
    );
    expect(() => gemmStrided(false, false, 1, 1, 1, 1, f, 0, 1, f.slice(), 0, 1, 0, f, 0, 1)).toThrow(
      /gemmStrided: c must not share/,
    );
  });
});

describe("the product profiler (profileGemm, gemmProfile)", () => {
  afterEach(() => profileGemm(null));

  it("counts every product with its m·n·k and the clock's time inside it; off counts nothing; a start resets", () => {
    // A clock that advances 1.5 ms per read: each product reads it twice, so it adds exactly 1.5 ms.
    let now = 0;
    const clock = (): number => (now += 1.5);
    const a = fromArray(2, 3, [1, 2, 3, 4, 5, 6], "float32"); // 2×3
    const b = fromArray(3, 2, [1, 0, 0, 1, 1, 1], "float32"); // 3×2
    matmul(a, b); // not profiled yet
    expect(gemmProfile()).toEqual({ calls: 0, multiplyAdds: 0, ms: 0 });
    profileGemm(clock);
    const c = matmul(a, b); // 2·2·3
    matmulInto(zeros(3, 3, "float32"), a, a, { transA: true }); // 3·3·2
    const big = new Float64Array(40 * 50);
    gemmStrided(false, true, 40, 40, 50, 1, big, 0, 50, big.slice(), 0, 50, 0, new Float64Array(1600), 0, 40); // wasm or JS
    expect(Array.from(c.data)).toEqual([4, 5, 10, 11]); // profiling changes no result
    expect(gemmProfile()).toEqual({ calls: 3, multiplyAdds: 12 + 18 + 40 * 40 * 50, ms: 4.5 });
    profileGemm(null);
    matmul(a, b);
    expect(gemmProfile().calls).toBe(3); // stopped: totals kept, nothing added
    profileGemm(clock);
    expect(gemmProfile()).toEqual({ calls: 0, multiplyAdds: 0, ms: 0 });
  });

  it("a clock that is not a function is a TypeError naming profileGemm", () => {
    expect(() => profileGemm(42 as unknown as () => number)).toThrow(/profileGemm: clock must be a function/);
  });
});
