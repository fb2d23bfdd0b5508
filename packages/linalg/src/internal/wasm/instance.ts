/**
 * The wasm kernels' instance and memory: compiles the module of codegen.ts once (synchronously),
 * owns its one WebAssembly.Memory and the float32/float64 views of it, grows it on demand, and
 * chooses the multiply-add variant (the relaxed-SIMD fused one or separate mul + add).
 *
 * Memory layout: [resident region | gemm workspace]. The resident region (resident.ts) is empty
 * unless a caller holds a matrix in wasm memory across many kernel calls; while it is held the memory
 * must not grow (that would detach the caller's view), so growing then is an internal error.
 *
 * Kernel variant: "auto" (the default) uses `relaxed_madd` where the runtime validates a module using
 * it (runtime.ts, `relaxedSimdSupport`), else separate mul + add; "fma" and "mul-add" force one (see
 * backend.ts, `setWasmKernel`). Switching drops the instance; the next product compiles the other
 * variant into a fresh private memory.
 *
 * Cost: one compile of a < 4 KB module on first use and after a switch; a grow copies the memory
 * (counted in `grows`), after which no allocation happens at that size.
 */
import type { FloatArray } from "../../matrix.ts";
import { buildGemmModule, type MacroKernel, type Pack4Kernel, type PackTKernel, type Symv4Kernel } from "./codegen.ts";
import { relaxedSimdSupport, type WasmMemory, type WasmNamespace, wasmNamespace, wasmSupport } from "./runtime.ts";
import { buildVectorModule, type VectorKernels, vectorKernelsOf } from "./vector-codegen.ts";

const PAGE = 65536;

export interface Instance {
  readonly memory: WasmMemory;
  readonly macro: MacroKernel;
  readonly macro64: MacroKernel;
  readonly symv4: Symv4Kernel;
  readonly axpy2: (dst: number, x: number, y: number, a: number, b: number, pairs: number) => void;
  readonly dot2: (x: number, y: number, u: number, pairs: number, out: number) => void;
  readonly packT16: PackTKernel;
  readonly packT32: PackTKernel;
  readonly pack4x16: Pack4Kernel;
  readonly pack4x32: Pack4Kernel;
  /** The elementwise kernels of ../../vector.ts (vector-codegen.ts). */
  readonly vec: VectorKernels;
  readonly fma: boolean;
  readonly moduleBytes: number;
}

/** The multiply-add of the micro-kernels: relaxed-SIMD `relaxed_madd` or separate mul + add. */
export type WasmKernel = "fma" | "mul-add";
/** The wasm kernel choice: a kernel, or "auto" (fused multiply-add where the engine has relaxed SIMD). */
export type WasmKernelSetting = WasmKernel | "auto";

let instance: Instance | null = null;
let view32 = new Float32Array(0);
let view64 = new Float64Array(0);
let grows = 0;
let calls = 0;
let kernelSetting: WasmKernelSetting = "auto";
/** Bytes at the start of the memory held by the resident region (0 when none); gemm's workspace starts there. */
let reserved = 0;

/** Instantiates the kernels, over `shared` (a shared WebAssembly.Memory of `maxPages`) when given. */
export function instantiateKernels(fma: boolean, shared: WasmMemory | null, maxPages: number): Instance {
  const ns = wasmNamespace() as WasmNamespace;
  const bytes = buildGemmModule(fma, shared === null ? 0 : maxPages);
  const inst = new ns.Instance(new ns.Module(bytes), shared === null ? {} : { env: { memory: shared } });
  const memory = shared ?? (inst.exports.memory as WasmMemory);
  // The vector kernels: a second module over the same memory (see vector-codegen.ts).
  const vecBytes = buildVectorModule(shared === null ? 0 : maxPages);
  const vec = new ns.Instance(new ns.Module(vecBytes), { env: { memory } });
  return {
    memory,
    macro: inst.exports.macro as MacroKernel,
    macro64: inst.exports.macro64 as MacroKernel,
    symv4: inst.exports.symv4 as Symv4Kernel,
    axpy2: inst.exports.axpy2 as (dst: number, x: number, y: number, a: number, b: number, pairs: number) => void,
    dot2: inst.exports.dot2 as (x: number, y: number, u: number, pairs: number, out: number) => void,
    packT16: inst.exports.packT16 as PackTKernel,
    packT32: inst.exports.packT32 as PackTKernel,
    pack4x16: inst.exports.pack4x16 as Pack4Kernel,
    pack4x32: inst.exports.pack4x32 as Pack4Kernel,
    vec: vectorKernelsOf(vec.exports),
    fma,
    moduleBytes: bytes.length + vecBytes.length,
  };
}

/** The variant products use now ("auto" resolved). */
export function wasmKernel(): WasmKernel {
  if (kernelSetting !== "auto") return kernelSetting;
  return relaxedSimdSupport().ok ? "fma" : "mul-add";
}

export function wasmKernelSetting(): WasmKernelSetting {
  return kernelSetting;
}

/** Sets the variant; the caller (backend.ts) checked support and that no worker threads run. */
export function setWasmKernelSetting(s: WasmKernelSetting): void {
  if (s === kernelSetting) return;
  kernelSetting = s;
  instance = null;
}

/** The kernels, compiled (synchronously) on first use with the variant of `wasmKernel()`. */
export function kernels(): Instance {
  if (instance) return instance;
  const support = wasmSupport();
  if (!support.ok || !wasmNamespace()) {
    throw new Error(`ekfac-ts linalg: the wasm backend is unavailable: ${support.reason}`);
  }
  instance = instantiateKernels(wasmKernel() === "fma", null, 0);
  return instance;
}

/**
 * Moves the kernels onto a shared memory (for the worker threads, see `threads.ts`) or, with null,
 * back onto a private one at next use. Called between products only.
 */
export function useSharedMemory(memory: WasmMemory | null, maxPages: number): Instance | null {
  if (memory === null) {
    instance = null;
    return null;
  }
  const fma = kernels().fma;
  instance = instantiateKernels(fma, memory, maxPages);
  return instance;
}

/**
 * Grows the memory to at least `bytes`; a grow detaches the old buffer, so the views are rebuilt only
 * then. While a resident region is held its owner keeps a view of the memory: growing would detach
 * it, so that is an internal error (`reserveResident` pre-sizes for the products its owner runs).
 */
export function ensureBytes(inst: Instance, bytes: number): void {
  const have = inst.memory.buffer.byteLength;
  if (bytes > have) {
    if (reserved > 0) {
      throw new Error(
        `ekfac-ts linalg internal error: wasm memory must grow to ${bytes} bytes while a resident region is held`,
      );
    }
    inst.memory.grow(Math.ceil((bytes - have) / PAGE));
    grows++;
  }
  if (view32.buffer !== inst.memory.buffer) {
    view32 = new Float32Array(inst.memory.buffer);
    view64 = new Float64Array(inst.memory.buffer);
  }
}

/** The memory as elements of `size` bytes (valid until the next `ensureBytes` that grows). */
export function memoryView(size: 4 | 8): FloatArray {
  return size === 8 ? view64 : view32;
}

/** Distinct block lengths `memoryBlock` keeps views of before it starts over (bounds the cache). */
const MAX_BLOCK_VIEWS = 256;
let blockBuffer: unknown = null;
let blockStart = -1;
const blocks32 = new Map<number, Float32Array>();
const blocks64 = new Map<number, Float64Array>();

/**
 * A view of elements [start, start + len) of the memory (elements of `size` bytes), for copying a
 * whole block in or out with one native `set` (driver.ts, `loadC`/`storeC`). Views are cached per
 * length while the buffer and `start` stay the same (gemm's C̃ always starts at the same offset), so
 * a training loop, which repeats its shapes, creates none after its first step; at most
 * MAX_BLOCK_VIEWS lengths are kept. Valid until the next `ensureBytes` that grows.
 */
export function memoryBlock(size: 4 | 8, start: number, len: number): FloatArray {
  const view = memoryView(size);
  if (blockBuffer !== view.buffer || blockStart !== start) {
    blocks32.clear();
    blocks64.clear();
    blockBuffer = view.buffer;
    blockStart = start;
  }
  const cache: Map<number, FloatArray> = size === 8 ? blocks64 : blocks32;
  let block = cache.get(len);
  if (block === undefined) {
    if (cache.size >= MAX_BLOCK_VIEWS) cache.clear();
    block = view.subarray(start, start + len);
    cache.set(len, block);
  }
  return block;
}

/** Views of callers' array ranges, made once per (array, offset, length) (see `rangeView`). */
const ranges = new WeakMap<FloatArray, Map<number, FloatArray>>();
/** Range views `rangeView` has made so far (constant in a steady loop; read by the tests). */
let rangeViews = 0;

/**
 * x[off…off + len) as a view, for copying a range into the memory with one native `set` (the vector
 * kernels' rows of a workspace, gemm's operand inside a larger array). Kept per array (weakly) and
 * range, at most 64 ranges per array, so a training loop, which repeats them, makes none after its
 * first step.
 */
export function rangeView(x: FloatArray, off: number, len: number): FloatArray {
  let byRange = ranges.get(x);
  if (byRange === undefined) {
    byRange = new Map();
    ranges.set(x, byRange);
  }
  const key = off + len * 2 ** 31;
  let v = byRange.get(key);
  if (v === undefined) {
    v = x.subarray(off, off + len);
    rangeViews++;
    if (byRange.size < 64) byRange.set(key, v);
  }
  return v;
}

/** How many views `rangeView` has made (for tests: constant once a loop's ranges have been seen). */
export function rangeViewsMade(): number {
  return rangeViews;
}

/** Bytes held by the resident region: gemm's workspace starts there. */
export function reservedBytes(): number {
  return reserved;
}

export function setReservedBytes(bytes: number): void {
  reserved = bytes;
}

/** Counts one product run on wasm (single- or multi-threaded), for `wasmGemmStats`. */
export function countCall(): void {
  calls++;
}

/**
 * Internal, for tests and the bench: memory size, how often it grew, calls so far, whether FMA is
 * used. Before the first wasm product (or where wasm is unsupported) everything is zero/false.
 */
export function wasmGemmStats(): { bytes: number; grows: number; calls: number; fma: boolean; moduleBytes: number } {
  const inst = instance;
  if (!inst) return { bytes: 0, grows, calls, fma: false, moduleBytes: 0 };
  return { bytes: inst.memory.buffer.byteLength, grows, calls, fma: inst.fma, moduleBytes: inst.moduleBytes };
}
