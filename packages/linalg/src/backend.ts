/**
 * Kernel backend selection: "wasm" (WebAssembly SIMD kernels generated at run time by this package,
 * float32 gemm and everything built on it, e.g. syrk and matmul), "js" (the portable pure-JavaScript
 * kernels), or "auto" (the default: wasm where the runtime validates and compiles a SIMD module from
 * bytes, else js, silently).
 *
 * Both backends compute the same BLAS contract; they differ in rounding only: the wasm gemm
 * accumulates float32 products in float32 (forward error ≤ γ_k·|α||A||B| per entry, Higham,
 * "Accuracy and Stability of Numerical Algorithms", §3.5), the js kernel in double. float64 always
 * runs on js. Small products (see `internal/gemm-kernel.ts`) also stay on js, where the copy into
 * WebAssembly memory would cost more than it saves.
 */

import { wasmGemmStats } from "./internal/wasm/gemm-wasm.ts";
import {
  activeBackend,
  type BackendName,
  type BackendSetting,
  backendSetting,
  setBackendSetting,
  wasmSupport,
} from "./internal/wasm/runtime.ts";

export type { BackendName, BackendSetting };

/**
 * Chooses the kernel backend. "wasm" throws an Error naming the reason when the runtime cannot run it
 * (no WebAssembly, no SIMD, or run-time compilation forbidden, as on some edge runtimes or under a
 * CSP without 'wasm-unsafe-eval'); "auto" never throws.
 */
export function setBackend(backend: BackendSetting): void {
  if (backend !== "wasm" && backend !== "js" && backend !== "auto") {
    throw new TypeError(`setBackend: backend must be "wasm", "js" or "auto" (got ${JSON.stringify(backend)})`);
  }
  if (backend === "wasm") {
    const s = wasmSupport();
    if (!s.ok) throw new Error(`setBackend: the "wasm" backend is not available in this runtime: ${s.reason}`);
  }
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

export function wasmWorkspaceStats(): WasmWorkspaceStats {
  const s = wasmGemmStats();
  return { allocations: s.grows, bytes: s.bytes, calls: s.calls, fma: s.fma };
}
