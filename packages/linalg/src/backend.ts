/**
 * Kernel backend selection: "wasm" (WebAssembly SIMD kernels generated at run time by this package:
 * float32 and float64 gemm and everything built on it, e.g. syrk, matmul and eigh), "js" (the
 * portable pure-JavaScript kernels), or "auto" (the default: wasm where the runtime validates and
 * compiles a SIMD module from bytes, else js, silently). Within wasm, `setWasmKernel` chooses the
 * micro-kernels' multiply-add (relaxed-SIMD fused, or separate mul + add); `setThreads` opts in to
 * worker threads. Which path a product takes is decided in internal/gemm-dispatch.ts.
 *
 * Both backends compute the same BLAS contract; they differ in rounding only: the wasm gemm
 * accumulates float32 products in float32 (forward error ≤ γ_k·|α||A||B| per entry, Higham,
 * "Accuracy and Stability of Numerical Algorithms", §3.5), the js kernel in double; float64 products
 * accumulate in double on both (f64x2 on wasm), as does eigh's float64 reduction (its symmetric
 * matrix-vector products run on wasm too). The fused kernel rounds each multiply-add once where the
 * hardware fuses, which keeps the bound but changes the bits, so it is reproducible per machine type,
 * the unfused one everywhere. Small products (see internal/gemm-dispatch.ts) stay on js, where the
 * copy into WebAssembly memory would cost more than it saves.
 */

import { assertOneOf } from "./internal/checks.ts";
import {
  setWasmKernelSetting,
  type WasmKernel,
  type WasmKernelSetting,
  wasmGemmStats,
  wasmKernel,
  wasmKernelSetting,
} from "./internal/wasm/instance.ts";
import {
  activeBackend,
  type BackendName,
  type BackendSetting,
  backendSetting,
  relaxedSimdSupport,
  setBackendSetting,
  wasmSupport,
} from "./internal/wasm/runtime.ts";
import {
  type SpawnWorker,
  startThreads,
  stopThreads,
  type ThreadWorker,
  threadCount,
} from "./internal/wasm/threads.ts";
import { checkOptions, optionKeys } from "./options.ts";

export type { BackendName, BackendSetting, WasmKernel, WasmKernelSetting };

/** Throws an Error naming `what` and the runtime's reason when `support` says it cannot run here. */
function assertSupported(fn: string, what: string, support: { ok: boolean; reason?: string }): void {
  if (!support.ok) throw new Error(`${fn}: ${what} is not available in this runtime: ${support.reason}`);
}

/**
 * Chooses the kernel backend. "wasm" throws an Error naming the reason when the runtime cannot run it
 * (no WebAssembly, no SIMD, or run-time compilation forbidden, as on some edge runtimes or under a
 * CSP without 'wasm-unsafe-eval'); "auto" never throws.
 */
export function setBackend(backend: BackendSetting): void {
  assertOneOf("setBackend", "backend", backend, ["wasm", "js", "auto"]);
  if (backend === "wasm") assertSupported("setBackend", 'the "wasm" backend', wasmSupport());
  setBackendSetting(backend);
}

/** The backend kernels use now ("auto" resolved). */
export function getBackend(): BackendName {
  return activeBackend();
}

/** The setting last passed to `setBackend` ("auto" unless changed). */
export function getBackendSetting(): BackendSetting {
  return backendSetting();
}

/** True when this runtime can run the wasm backend (SIMD validated and a module compiled from bytes). */
export function wasmSupported(): boolean {
  return wasmSupport().ok;
}

/** True when this runtime can run the fused multiply-add kernels (relaxed SIMD, `f32x4.relaxed_madd`). */
export function wasmFmaSupported(): boolean {
  return relaxedSimdSupport().ok;
}

/**
 * Chooses the multiply-add of the wasm micro-kernels. "auto" (the default): fused (relaxed SIMD
 * `relaxed_madd`) where the runtime supports it, else separate mul + add. "mul-add": always separate,
 * the same rounding on every machine — use it for results reproducible bit for bit across machines
 * (`relaxed_madd` rounds once where the hardware fuses and twice where it does not, so a fused run
 * is reproducible on one machine but not across machine types). "fma": always fused; throws an Error
 * naming the reason where relaxed SIMD is unavailable (Node 20 needs
 * `--experimental-wasm-relaxed-simd`). Throws while worker threads run (`setThreads(1)` first: the
 * workers compiled the current variant). Takes effect at the next product.
 */
export function setWasmKernel(kernel: WasmKernelSetting): void {
  assertOneOf("setWasmKernel", "kernel", kernel, ["auto", "fma", "mul-add"]);
  if (kernel === "fma") assertSupported("setWasmKernel", 'the "fma" kernel', relaxedSimdSupport());
  if (threadCount() > 1 && kernel !== wasmKernelSetting()) {
    throw new Error("setWasmKernel: worker threads are running; call setThreads(1) before changing the kernel");
  }
  setWasmKernelSetting(kernel);
}

/** The multiply-add the wasm kernels use now ("auto" resolved); see `setWasmKernel`. */
export function getWasmKernel(): WasmKernel {
  return wasmKernel();
}

/** Diagnostics of the wasm backend's memory (for benchmarks' no-allocation checks). */
export interface WasmWorkspaceStats {
  /** How many times the WebAssembly.Memory grew since the module loaded. */
  readonly allocations: number;
  /** Bytes of WebAssembly memory held (0 before the first wasm product). */
  readonly bytes: number;
  /** Products run on wasm so far. */
  readonly calls: number;
  /** Whether the kernel uses relaxed-SIMD fused multiply-add (f32x4.relaxed_madd). */
  readonly fma: boolean;
}

/** The wasm backend's memory diagnostics now: growths, bytes held, products run, FMA use. */
export function wasmWorkspaceStats(): WasmWorkspaceStats {
  const s = wasmGemmStats();
  return { allocations: s.grows, bytes: s.bytes, calls: s.calls, fma: s.fma };
}

export type { SpawnWorker, ThreadWorker };

/** Options of `setThreads`: how to create a worker running an ES module given its URL. */
export interface ThreadOptions {
  /**
   * Browsers, Deno, Bun: `(url) => new Worker(url, { type: "module" })`. Node: an adapter over
   * worker_threads that installs web-style `postMessage`/`addEventListener` in the worker.
   */
  readonly spawn: SpawnWorker;
}

const THREAD_OPTIONS = optionKeys<ThreadOptions>()(["spawn"]);

/**
 * Opt-in multi-threading of large wasm gemm products (≥ 128³ multiply-adds): `n` threads in all, the
 * calling thread and n − 1 workers made by `options.spawn`, sharing one WebAssembly memory; each takes
 * a range of C's columns (results equal the single-threaded ones bit for bit). `setThreads(1)` stops
 * them. Rejects with an Error naming the reason where it cannot work: no wasm, no SharedArrayBuffer
 * (browsers need cross-origin isolation), or a thread that may not block (a browser's main thread).
 * Call `shutdownThreads()` before exit so the workers do not keep the process alive.
 */
export async function setThreads(n: number, options?: ThreadOptions): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: n must be an integer ≥ 1 (got ${n})`);
  checkOptions("setThreads", "options", options, THREAD_OPTIONS);
  if (n > 1 && typeof options?.spawn !== "function") {
    throw new TypeError("setThreads: options.spawn (a worker factory) is required for n > 1");
  }
  if (n === 1) await stopThreads();
  else await startThreads(n, (options as ThreadOptions).spawn);
}

/** Terminates the worker threads (if any); gemm runs on the calling thread afterwards. */
export async function shutdownThreads(): Promise<void> {
  await stopThreads();
}

/** Threads gemm uses now (1 unless `setThreads` started workers). */
export function getThreads(): number {
  return threadCount();
}
