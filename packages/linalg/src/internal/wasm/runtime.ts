/**
 * The WebAssembly runtime seen by the library: a minimal local typing of `globalThis.WebAssembly`
 * (only what the kernels use), feature detection, and the backend choice shared by every kernel.
 *
 * Why local types: the library compiles with lib ES2022 and `types: []` (no DOM, no Node), where
 * `WebAssembly` is not declared. Declaring it globally would leak into consumers' types, so the
 * namespace is read from `globalThis` through the interfaces below and nothing global is declared.
 *
 * Detection (once, cached): `WebAssembly.validate` on a tiny module using v128 and f32x4 ops, then a
 * synchronous `new WebAssembly.Module(bytes)` of that module, since runtimes that forbid run-time
 * compilation (CSP without 'wasm-unsafe-eval', some edge workers) throw there, not in `validate`.
 * Relaxed SIMD (the fused multiply-add kernels) is detected separately and the same way, on a module
 * using `f32x4.relaxed_madd` (`relaxedSimdSupport`): on by default in current V8 (Chromium, Deno 2,
 * Node ≥ 22), behind `--experimental-wasm-relaxed-simd` on Node 20.
 * Cost: one validation and one compile of a ~60-byte module on first use (each).
 */
import { Code, encodeModule, ValType } from "./encoder.ts";

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmNamespace {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

export function wasmNamespace(): WasmNamespace | undefined {
  const ns = (globalThis as { WebAssembly?: unknown }).WebAssembly;
  return typeof ns === "object" && ns !== null ? (ns as WasmNamespace) : undefined;
}

export interface WasmSupport {
  readonly ok: boolean;
  /** Why not, when `ok` is false. */
  readonly reason: string;
}

/** A module of one function `probe(i32)` with the given body over an exported memory. */
function probeModule(body: Code): Uint8Array {
  return encodeModule({ minPages: 1, export: "memory" }, [
    { name: "probe", params: [ValType.i32], results: [], locals: [], body },
  ]);
}

/** Validates `bytes` (else `unsupported`) and compiles them synchronously (else the compile error). */
function probe(ns: WasmNamespace, bytes: Uint8Array, unsupported: string): WasmSupport {
  try {
    if (!ns.validate(bytes)) return { ok: false, reason: unsupported };
    new ns.Module(bytes);
  } catch (e) {
    return { ok: false, reason: `compiling WebAssembly from bytes failed (${e instanceof Error ? e.message : e})` };
  }
  return { ok: true, reason: "" };
}

/** SIMD: (v128.store (local.get 0) (f32x4.add (f32x4.mul (v128.load …) (f32x4.splat 1.0)) (v128.load32_splat …))) */
function detect(): WasmSupport {
  const ns = wasmNamespace();
  if (!ns) return { ok: false, reason: "globalThis.WebAssembly is not defined" };
  const body = new Code().get(0).get(0).v128Load().f32Const(1).f32x4Splat().f32x4Mul();
  body.get(0).v128Load32Splat(16).f32x4Add().v128Store();
  return probe(ns, probeModule(body), "WebAssembly SIMD (v128, f32x4) is not supported");
}

/** Relaxed SIMD: (v128.store (local.get 0) (f32x4.relaxed_madd (v128.load …) (v128.load …) (v128.load …))) */
function detectRelaxed(): WasmSupport {
  const base = wasmSupport();
  if (!base.ok) return base;
  const body = new Code().get(0).get(0).v128Load().get(0).v128Load(16).get(0).v128Load(32);
  body.f32x4RelaxedMadd().v128Store();
  return probe(
    wasmNamespace() as WasmNamespace,
    probeModule(body),
    "relaxed SIMD (f32x4.relaxed_madd) is not supported (Node 20: --experimental-wasm-relaxed-simd)",
  );
}

let relaxed: WasmSupport | null = null;

/** Whether the fused multiply-add kernels can run here (implies `wasmSupport().ok`). */
export function relaxedSimdSupport(): WasmSupport {
  if (relaxed === null) relaxed = detectRelaxed();
  return relaxed;
}

let detector: () => WasmSupport = detect;
let support: WasmSupport | null = null;

export function wasmSupport(): WasmSupport {
  if (support === null) support = detector();
  return support;
}

/** Tests only: replace the detection (e.g. to simulate a runtime without SIMD); `null` restores it. */
export function setWasmDetectorForTesting(fn: (() => WasmSupport) | null): void {
  detector = fn ?? detect;
  support = null;
  relaxed = null;
}

/** A gemm backend: WebAssembly SIMD kernels, or the portable JavaScript kernels. */
export type BackendName = "wasm" | "js";
/** The backend choice: one of {@link BackendName}, or "auto" (WebAssembly when the runtime supports it). */
export type BackendSetting = BackendName | "auto";

let setting: BackendSetting = "auto";

export function backendSetting(): BackendSetting {
  return setting;
}

export function setBackendSetting(s: BackendSetting): void {
  setting = s;
}

/** The backend kernels use now: "auto" resolves to "wasm" when supported. */
export function activeBackend(): BackendName {
  if (setting === "js") return "js";
  if (setting === "wasm") return "wasm";
  return wasmSupport().ok ? "wasm" : "js";
}
