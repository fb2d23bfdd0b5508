/**
 * gemm on WebAssembly SIMD, float32 (f32x4) and float64 (f64x2): C = α·op(A)·op(B) + β·C, same
 * contract as `gemmKernel` (row-major strided buffers, the caller validated every index, β = 0
 * overwrites C). Also `symv4`, the inner loop of the float64 symmetric matrix-vector product of the
 * blocked tridiagonalization, run on a matrix held in wasm memory (`reserveResident`).
 *
 * Source: the GotoBLAS / BLIS layered algorithm (Goto & van de Geijn, "Anatomy of high-performance
 * matrix multiplication", ACM TOMS 34(3), 2008, §4 and Fig. 8; Van Zee & van de Geijn, "BLIS",
 * TOMS 41(3), 2015, Fig. 2):
 *
 *   for jc in steps of NC over n        B̃ = op(B)[pc:pc+kc, jc:jc+nc]  packed in NR-wide panels (JS)
 *     for pc in steps of KC over k      Ã = op(A)[ic:ic+mc, pc:pc+kc]  packed in MR-tall panels (JS)
 *       for ic in steps of MC over m
 *         macro-kernel (WASM): for jr, ir: C̃[MR×NR tile] += α · Ã_panel · B̃_panel
 *
 * The micro-kernel keeps an MR×NR tile of C in 2·MR v128 accumulators, two per tile row: float32
 * 4×8 (f32x4), float64 4×4 (f64x2). Per k step it loads one NR-wide row of B̃ (two v128.load),
 * broadcasts each of the MR values of Ã (v128.load32_splat / load64_splat) and does 2·MR
 * multiply-adds (not unrolled, see U). Eight accumulators leave 5 of the 16 x86 vector registers for
 * the B row and the broadcast, so V8 does not spill (float32 6×8 and 8×8 measured 10–30 % slower).
 *
 * Memory: one WebAssembly.Memory, laid out per call as [resident region | C̃ | Ã | B̃]. JS typed arrays
 * cannot be seen by WASM, so the operands are copied in: packing writes straight from the caller's
 * arrays into the wasm memory (pack = copy), and C goes in once (scaled by β) and out once. The
 * resident region (empty unless `reserveResident` holds it) lets a caller keep a matrix in wasm memory
 * across many kernel calls (see internal/householder-blocked.ts); while it is held the memory must not
 * grow (that would detach the caller's view), so the caller pre-sizes for its products; a C inside
 * the region moves to and from C̃ by copyWithin (memmove). The blocked loops (`gemmColumns`) also run
 * on worker threads over a shared memory, each on a range of C's columns (see threads.ts).
 *
 * Deviations from the JS kernel: float32 products accumulate in float32 (forward error ≤
 * γ_k·|α||A||B| + rounding of β·C, Higham §3.5) where the JS kernel accumulates in double; float64
 * accumulates in double like the JS kernel (same bound with ε = 2⁻⁵³, different summation order).
 * With relaxed SIMD available the multiply-add may be fused (relaxed_madd), which only tightens the
 * bound. C̃ is padded to ⌈m/MR⌉·MR rows by ⌈n/NR⌉·NR columns and k to a multiple of U (zeros in Ã and
 * B̃), so the kernel has no edge cases. Block sizes were picked by measurement on x86-64 (V8 11,
 * Node 20): float32 KC = 256, MC = 128, NC = 2048; float64 KC = 384, MC = 32, NC = 4096 (at 1000³,
 * under load: 256/64/1024 17 GFLOP/s, 384/64/2048 18, 384/32/4096 20, 512/32 and 384/16 19.5);
 * blocks are balanced as in the JS kernel.
 * Measured (Xeon, Node 20, one core): float32 37–39 GFLOP/s at 512³ in every transpose case, at the
 * throughput limit of separate f32x4.mul + f32x4.add; 43 GFLOP/s with relaxed-SIMD FMA
 * (`--experimental-wasm-relaxed-simd` on Node 20, on by default in later V8). float64 18–20 GFLOP/s
 * at 1000³ on a machine at load ≈ 2 on 2 cores (JS kernel in the same run: 2.2 GFLOP/s).
 *
 * Cost: 2mnk flops; copies mk·⌈n/NC⌉ + kn + 2mn elements. Memory: (⌈m/MR⌉MR·⌈n/NR⌉NR + MC·KC +
 * KC·NC) elements at most, grown on demand and reused (no allocation after warm-up at a given size).
 * Module: three functions, generated at run time, < 4 KB (so browsers compile it synchronously).
 */
import type { FloatArray } from "../../matrix.ts";
import { Code, encodeModule, type FuncDef, ValType } from "./encoder.ts";
import { activeBackend, type WasmMemory, type WasmNamespace, wasmNamespace, wasmSupport } from "./runtime.ts";

/** Register tile and cache blocks of one element type (see the file header for why these values). */
export interface Geometry {
  /** Bytes per element. */
  readonly size: 4 | 8;
  readonly MR: number;
  readonly NR: number;
  readonly KC: number;
  readonly MC: number;
  readonly NC: number;
}

const F32: Geometry = { size: 4, MR: 4, NR: 8, KC: 256, MC: 128, NC: 2048 };
const F64: Geometry = { size: 8, MR: 4, NR: 4, KC: 384, MC: 32, NC: 4096 };
/** The register tile and blocks of float64 (true) or float32 (false) products. */
export function geometryOf(f64: boolean): Geometry {
  return f64 ? F64 : F32;
}
export const MR = F32.MR;
export const NR = F32.NR;
/**
 * k-loop unroll of the micro-kernel (packed kc is padded to a multiple of it). Measured: U = 1 ran
 * 20–40 % faster than U = 2, 4 or 8 in V8 11 (the unrolled bodies made TurboFan spill accumulators).
 */
const U = 1;
const PAGE = 65536;

type Symv4Kernel = (row0: number, ld: number, u: number, p: number, r: number, out: number) => void;

export type MacroKernel = (
  mPanels: number,
  nPanels: number,
  kIter: number,
  pa: number,
  pb: number,
  c: number,
  ldcBytes: number,
  alpha: number,
  aStride: number,
  bStride: number,
) => void;

/**
 * Emits `name(mPanels, nPanels, kIter, pa, pb, c, ldcBytes, alpha, aStride, bStride)`: for each of
 * nPanels B̃ panels (outer, so one B̃ panel of kc·NR elements stays in L1) and mPanels Ã panels, a
 * MR×NR tile C̃ += α·Ã·B̃ over kIter·U steps. All counts ≥ 1; addresses are byte offsets. Both element
 * types keep each tile row in two v128 accumulators (f32: 2×4 lanes = NR 8; f64: 2×2 lanes = NR 4).
 */
function macroFunc(name: string, fma: boolean, g: Geometry): FuncDef {
  const f64 = g.size === 8;
  const [mPanels, nPanels, kIter, pa, pb, c, ldc, alpha, aStride, bStride] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  let next = 10;
  const jr = next++;
  const ir = next++;
  const p = next++;
  const aPtr = next++;
  const bPtr = next++;
  const cPtr = next++;
  const cCol = next++;
  const aPanel = next++;
  const bPanel = next++;
  const cRow = next++;
  const i32Count = next - 10;
  const alphaV = next++;
  const zero = next++;
  const b0 = next++;
  const b1 = next++;
  const av = next++;
  const acc: number[] = [];
  for (let i = 0; i < 2 * g.MR; i++) acc.push(next++);
  const v128Count = next - 10 - i32Count;
  const splat = (k: Code): Code => (f64 ? k.f64x2Splat() : k.f32x4Splat());
  const mul = (k: Code): Code => (f64 ? k.f64x2Mul() : k.f32x4Mul());
  const add = (k: Code): Code => (f64 ? k.f64x2Add() : k.f32x4Add());
  const madd = (k: Code): Code => (f64 ? k.f64x2RelaxedMadd() : k.f32x4RelaxedMadd());

  const k = new Code();
  splat(k.get(alpha)).set(alphaV);
  splat(f64 ? k.f64Const(0) : k.f32Const(0)).set(zero);
  k.get(c).set(cCol).get(pb).set(bPanel).get(nPanels).set(jr);
  k.loop(); // jr
  k.get(pa).set(aPanel).get(cCol).set(cPtr).get(mPanels).set(ir);
  k.loop(); // ir
  for (const x of acc) k.get(zero).set(x);
  k.get(aPanel).set(aPtr).get(bPanel).set(bPtr).get(kIter).set(p);
  k.loop(); // p
  for (let u = 0; u < U; u++) {
    k.get(bPtr)
      .v128Load(u * g.NR * g.size)
      .set(b0);
    k.get(bPtr)
      .v128Load(u * g.NR * g.size + 16)
      .set(b1);
    for (let r = 0; r < g.MR; r++) {
      const off = (u * g.MR + r) * g.size;
      (f64 ? k.get(aPtr).v128Load64Splat(off) : k.get(aPtr).v128Load32Splat(off)).set(av);
      for (let h = 0; h < 2; h++) {
        const x = acc[2 * r + h] as number;
        if (fma)
          madd(
            k
              .get(av)
              .get(h === 0 ? b0 : b1)
              .get(x),
          ).set(x);
        else
          add(
            mul(
              k
                .get(x)
                .get(av)
                .get(h === 0 ? b0 : b1),
            ),
          ).set(x);
      }
    }
  }
  k.get(aPtr)
    .i32Const(U * g.MR * g.size)
    .i32Add()
    .set(aPtr);
  k.get(bPtr)
    .i32Const(U * g.NR * g.size)
    .i32Add()
    .set(bPtr);
  k.get(p).i32Const(1).i32Sub().tee(p).brIf(0);
  k.end();
  // C̃ tile += α·acc, row by row.
  k.get(cPtr).set(cRow);
  for (let r = 0; r < g.MR; r++) {
    for (let h = 0; h < 2; h++) {
      add(
        mul(
          k
            .get(cRow)
            .get(cRow)
            .v128Load(16 * h)
            .get(alphaV)
            .get(acc[2 * r + h] as number),
        ),
      ).v128Store(16 * h);
    }
    if (r < g.MR - 1) k.get(cRow).get(ldc).i32Add().set(cRow);
  }
  k.get(cPtr).get(ldc).i32Const(g.MR).i32Mul().i32Add().set(cPtr);
  k.get(aPanel).get(aStride).i32Add().set(aPanel);
  k.get(ir).i32Const(1).i32Sub().tee(ir).brIf(0);
  k.end();
  k.get(cCol)
    .i32Const(g.NR * g.size)
    .i32Add()
    .set(cCol);
  k.get(bPanel).get(bStride).i32Add().set(bPanel);
  k.get(jr).i32Const(1).i32Sub().tee(jr).brIf(0);
  k.end();

  const i32 = ValType.i32;
  return {
    name,
    params: [i32, i32, i32, i32, i32, i32, i32, f64 ? ValType.f64 : ValType.f32, i32, i32],
    results: [],
    locals: [...Array<ValType>(i32Count).fill(i32), ...Array<ValType>(v128Count).fill(ValType.v128)],
    body: k,
  };
}

/**
 * Emits `symv4(row0, ld, u, p, r, out)`, the inner loop of a lower-triangle symmetric matrix-vector
 * product over four rows r..r+3 of a row-major float64 matrix (row r at byte `row0`, rows `ld` bytes
 * apart) and the r columns left of the diagonal (r even): for c < r,
 *   acc_q += A[r+q, c]·u[c]   (q = 0..3; the row-times-u dot products)
 *   p[c]  += Σ_q A[r+q, c]·u[r+q]   (the same entries read as column c of the upper triangle),
 * two columns per f64x2 lane pair, so every matrix entry is loaded once for both uses. The four
 * accumulators are stored as v128 pairs at `out` (the caller adds the two lanes). `u`, `p`, `out` are
 * byte addresses of float64 arrays. Unfused multiply-add: the loop is bound by loading A, not by flops.
 */
function symv4Func(): FuncDef {
  const [row0, ld, u, p, r, out] = [0, 1, 2, 3, 4, 5];
  let next = 6;
  const row1 = next++;
  const row2 = next++;
  const row3 = next++;
  const off = next++;
  const end = next++;
  const i32Count = next - 6;
  const us = [next++, next++, next++, next++];
  const acc = [next++, next++, next++, next++];
  const uc = next++;
  const b = [next++, next++, next++, next++];
  const v128Count = next - 6 - i32Count;
  const k = new Code();
  k.get(row0).get(ld).i32Add().tee(row1).get(ld).i32Add().tee(row2).get(ld).i32Add().set(row3);
  k.get(r).i32Const(8).i32Mul().set(end);
  for (let q = 0; q < 4; q++) {
    k.get(u)
      .get(end)
      .i32Add()
      .v128Load64Splat(8 * q)
      .set(us[q] as number);
  }
  for (const a of acc) k.f64Const(0).f64x2Splat().set(a);
  k.i32Const(0).set(off);
  k.block();
  k.get(end).i32Eqz().brIf(0);
  k.loop();
  k.get(u).get(off).i32Add().v128Load().set(uc);
  const rows = [row0, row1, row2, row3];
  for (let q = 0; q < 4; q++) {
    const bq = b[q] as number;
    const aq = acc[q] as number;
    k.get(rows[q] as number)
      .get(off)
      .i32Add()
      .v128Load()
      .set(bq);
    k.get(aq).get(bq).get(uc).f64x2Mul().f64x2Add().set(aq);
  }
  // p[c:c+2] += b0·u_r + b1·u_{r+1} + b2·u_{r+2} + b3·u_{r+3}
  k.get(p).get(off).i32Add();
  k.get(p).get(off).i32Add().v128Load();
  for (let q = 0; q < 4; q++) {
    k.get(b[q] as number)
      .get(us[q] as number)
      .f64x2Mul()
      .f64x2Add();
  }
  k.v128Store();
  k.get(off).i32Const(16).i32Add().tee(off).get(end).i32LtU().brIf(0);
  k.end();
  k.end();
  for (let q = 0; q < 4; q++) {
    k.get(out)
      .get(acc[q] as number)
      .v128Store(16 * q);
  }
  const i32 = ValType.i32;
  return {
    name: "symv4",
    params: [i32, i32, i32, i32, i32, i32],
    results: [],
    locals: [...Array<ValType>(i32Count).fill(i32), ...Array<ValType>(v128Count).fill(ValType.v128)],
    body: k,
  };
}

/**
 * Emits `axpy2(dst, x, y, a, b, pairs)`: dst[c] = (dst[c] − a·x[c]) − b·y[c] for c < 2·pairs (float64,
 * byte addresses; the caller finishes an odd length), the rank-2 corrections of the dlatrd panel.
 */
function axpy2Func(): FuncDef {
  const [dst, x, y, a, b, pairs] = [0, 1, 2, 3, 4, 5];
  const off = 6;
  const end = 7;
  const av = 8;
  const bv = 9;
  const k = new Code();
  k.get(a).f64x2Splat().set(av);
  k.get(b).f64x2Splat().set(bv);
  k.get(pairs).i32Const(16).i32Mul().set(end);
  k.i32Const(0).set(off);
  k.block();
  k.get(end).i32Eqz().brIf(0);
  k.loop();
  k.get(dst).get(off).i32Add();
  k.get(dst).get(off).i32Add().v128Load();
  k.get(av).get(x).get(off).i32Add().v128Load().f64x2Mul().f64x2Sub();
  k.get(bv).get(y).get(off).i32Add().v128Load().f64x2Mul().f64x2Sub();
  k.v128Store();
  k.get(off).i32Const(16).i32Add().tee(off).get(end).i32LtU().brIf(0);
  k.end();
  k.end();
  const i32 = ValType.i32;
  return {
    name: "axpy2",
    params: [i32, i32, i32, ValType.f64, ValType.f64, i32],
    results: [],
    locals: [i32, i32, ValType.v128, ValType.v128],
    body: k,
  };
}

/**
 * Emits `dot2(x, y, u, pairs, out)`: the lane pairs of Σ x[c]·u[c] and Σ y[c]·u[c] over c < 2·pairs
 * (float64, byte addresses) stored at out and out + 16; the caller adds the lanes and any odd tail.
 */
function dot2Func(): FuncDef {
  const [x, y, u, pairs, out] = [0, 1, 2, 3, 4];
  const off = 5;
  const end = 6;
  const s1 = 7;
  const s2 = 8;
  const uc = 9;
  const k = new Code();
  k.f64Const(0).f64x2Splat().tee(s1).set(s2);
  k.get(pairs).i32Const(16).i32Mul().set(end);
  k.i32Const(0).set(off);
  k.block();
  k.get(end).i32Eqz().brIf(0);
  k.loop();
  k.get(u).get(off).i32Add().v128Load().set(uc);
  k.get(s1).get(x).get(off).i32Add().v128Load().get(uc).f64x2Mul().f64x2Add().set(s1);
  k.get(s2).get(y).get(off).i32Add().v128Load().get(uc).f64x2Mul().f64x2Add().set(s2);
  k.get(off).i32Const(16).i32Add().tee(off).get(end).i32LtU().brIf(0);
  k.end();
  k.end();
  k.get(out).get(s1).v128Store(0);
  k.get(out).get(s2).v128Store(16);
  const i32 = ValType.i32;
  return {
    name: "dot2",
    params: [i32, i32, i32, i32, i32],
    results: [],
    locals: [i32, i32, ValType.v128, ValType.v128, ValType.v128],
    body: k,
  };
}

/**
 * The kernel module over one exported memory: `macro` (float32 gemm, f32x4), `macro64` (float64
 * gemm, f64x2), and for the float64 tridiagonalization's panels `symv4` (symmetric matrix-vector
 * inner loop), `axpy2` and `dot2` (its rank-2 corrections), all f64x2.
 */
export function buildGemmModule(fma: boolean, sharedMaxPages = 0): Uint8Array {
  const memory =
    sharedMaxPages > 0
      ? { import: { module: "env", name: "memory" }, minPages: 1, maxPages: sharedMaxPages, shared: true }
      : { minPages: 1, export: "memory" };
  return encodeModule(memory, [
    macroFunc("macro", fma, F32),
    macroFunc("macro64", fma, F64),
    symv4Func(),
    axpy2Func(),
    dot2Func(),
  ]);
}

export interface Instance {
  readonly memory: WasmMemory;
  readonly macro: MacroKernel;
  readonly macro64: MacroKernel;
  readonly symv4: Symv4Kernel;
  readonly axpy2: (dst: number, x: number, y: number, a: number, b: number, pairs: number) => void;
  readonly dot2: (x: number, y: number, u: number, pairs: number, out: number) => void;
  readonly fma: boolean;
  readonly moduleBytes: number;
}

let instance: Instance | null = null;
let view32 = new Float32Array(0);
let view64 = new Float64Array(0);
let grows = 0;
let calls = 0;

/** Instantiates the kernels, over `shared` (a shared WebAssembly.Memory of `maxPages`) when given. */
export function instantiateKernels(fma: boolean, shared: WasmMemory | null, maxPages: number): Instance {
  const ns = wasmNamespace() as WasmNamespace;
  const bytes = buildGemmModule(fma, shared === null ? 0 : maxPages);
  const inst = new ns.Instance(new ns.Module(bytes), shared === null ? {} : { env: { memory: shared } });
  return {
    memory: shared ?? (inst.exports.memory as WasmMemory),
    macro: inst.exports.macro as MacroKernel,
    macro64: inst.exports.macro64 as MacroKernel,
    symv4: inst.exports.symv4 as Symv4Kernel,
    axpy2: inst.exports.axpy2 as (dst: number, x: number, y: number, a: number, b: number, pairs: number) => void,
    dot2: inst.exports.dot2 as (x: number, y: number, u: number, pairs: number, out: number) => void,
    fma,
    moduleBytes: bytes.length,
  };
}

/** Compiles (synchronously) and instantiates the kernel module; relaxed-SIMD FMA when the runtime validates it. */
function getInstance(): Instance {
  if (instance) return instance;
  const support = wasmSupport();
  const ns = wasmNamespace();
  if (!support.ok || !ns) throw new Error(`ekfac-ts linalg: the wasm backend is unavailable: ${support.reason}`);
  instance = instantiateKernels(ns.validate(buildGemmModule(true)), null, 0);
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
  const fma = getInstance().fma;
  instance = instantiateKernels(fma, memory, maxPages);
  return instance;
}

/** Threaded products (installed by `threads.ts` while worker threads run): returns false to decline. */
export type ThreadedGemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  beta: number,
  c: FloatArray,
  offC: number,
  ldc: number,
) => boolean;
let threaded: ThreadedGemm | null = null;
export function setThreadedGemm(fn: ThreadedGemm | null): void {
  threaded = fn;
}

/**
 * The memory as a `size`-byte-element view holding at least `elements`, grown when needed (never while a
 * resident region is held); for the threaded driver. Also returns the kernels.
 */
export function kernelWorkspace(size: 4 | 8, elements: number): { w: FloatArray; inst: Instance } {
  const inst = getInstance();
  ensureBytes(inst, elements * size);
  return { w: size === 8 ? view64 : view32, inst };
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

/** Bytes at the start of the memory held by `reserveResident` (0 when none); gemm's workspace starts there. */
let reserved = 0;

/**
 * Grows the memory to `bytes`; a grow detaches the old buffer, so the views are rebuilt only then.
 * While a resident region is held, its owner keeps a view of the memory: growing would detach it, so
 * that is an internal error (`reserveResident` pre-sizes for the products its owner runs).
 */
function ensureBytes(inst: Instance, bytes: number): void {
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

/**
 * Bytes of wasm memory (beyond any resident region) enough for every float64 product of at most
 * m×n×k (see `gemmWasm`'s layout: C̃, one Ã block, one B̃ block).
 */
export function gemmWasmBytes64(m: number, n: number, k: number): number {
  const g = F64;
  const kPad = Math.ceil(Math.min(k, g.KC) / U) * U;
  const mp = Math.ceil(m / g.MR) * g.MR;
  const ldw = Math.ceil(n / g.NR) * g.NR;
  return (mp * ldw + Math.min(mp, Math.ceil(g.MC / g.MR) * g.MR) * kPad + Math.min(ldw, g.NC) * kPad) * 8;
}

/**
 * Holds the first `doubles` float64 of the wasm memory for a caller that works on a matrix in place
 * (the blocked tridiagonalization: `symv4Wasm` reads it there, gemm copies from and to it), growing the
 * memory once so that float64 products needing up to `gemmBytes` run without growing it again.
 * Returns a Float64Array view of the region, or null when the backend is not wasm (the caller keeps
 * its JS path). Release with `releaseResident()`. Not re-entrant.
 */
export function reserveResident(doubles: number, gemmBytes: number): Float64Array | null {
  if (activeBackend() !== "wasm" || reserved > 0) return null;
  const inst = getInstance();
  const bytes = Math.ceil((doubles * 8) / 64) * 64;
  ensureBytes(inst, bytes + gemmBytes);
  reserved = bytes;
  return new Float64Array(inst.memory.buffer, 0, doubles);
}

export function releaseResident(): void {
  reserved = 0;
}

/**
 * `symv4` on the resident region, with element offsets into it (row0 = offset of A[r, 0], ld in
 * elements, u, p and out as offsets), r even; see `symv4Func`.
 */
export function symv4Wasm(row0: number, ld: number, u: number, p: number, r: number, out: number): void {
  (instance as Instance).symv4(row0 * 8, ld * 8, u * 8, p * 8, r, out * 8);
}

/**
 * `axpy2` on the resident region (element offsets): dst[c] = (dst[c] − a·x[c]) − b·y[c], c < len; the
 * odd last element in JS with the same rounding order.
 */
export function axpy2Wasm(v: Float64Array, dst: number, x: number, y: number, a: number, b: number, len: number): void {
  (instance as Instance).axpy2(dst * 8, x * 8, y * 8, a, b, len >> 1);
  if (len & 1) {
    const c = len - 1;
    v[dst + c] = (v[dst + c] as number) - a * (v[x + c] as number) - b * (v[y + c] as number);
  }
}

/** `dot2` on the resident region (element offsets): [Σ x·u, Σ y·u] over c < len, into v[out], v[out + 1]. */
export function dot2Wasm(v: Float64Array, x: number, y: number, u: number, len: number, out: number): void {
  (instance as Instance).dot2(x * 8, y * 8, u * 8, len >> 1, out * 8);
  let s1 = (v[out] as number) + (v[out + 1] as number);
  let s2 = (v[out + 2] as number) + (v[out + 3] as number);
  if (len & 1) {
    const c = len - 1;
    s1 += (v[x + c] as number) * (v[u + c] as number);
    s2 += (v[y + c] as number) * (v[u + c] as number);
  }
  v[out] = s1;
  v[out + 1] = s2;
}

/**
 * Below this many multiply-adds the copies into and out of wasm memory cost more than SIMD saves
 * (measured against the JS kernels, square n³: equal at 8³, wasm 2.3× faster at 12³, 3× at 32³).
 */
export const WASM_MIN_WORK = 16 * 16 * 16;
/** C̃ lives whole in wasm memory; past 256 MiB stay on JS rather than risk a failed grow. */
const MAX_C_BYTES = 1 << 28;

/**
 * The dispatch hook called first thing in `gemmKernel`: runs the product on wasm and returns true
 * when the backend is wasm, C is float32 or float64 (A and B are read as C's type), and the product is
 * big enough (one row or one column, α = 0 and k = 0 stay on the JS path's gemv and scaling code).
 */
export function tryGemmWasm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  beta: number,
  c: FloatArray,
  offC: number,
  ldc: number,
): boolean {
  if (m < 2 || n < 2 || alpha === 0 || m * n * k < WASM_MIN_WORK) return false;
  if (m * n * c.BYTES_PER_ELEMENT > MAX_C_BYTES) return false;
  if (activeBackend() !== "wasm") return false;
  if (threaded !== null && reserved === 0) {
    calls++;
    if (threaded(transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc)) return true;
    calls--;
  }
  gemmWasm(transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc);
  return true;
}

/** Splits `len` into ⌈len/max⌉ near-equal blocks, each rounded up to a multiple of `unit`. */
function balanced(len: number, max: number, unit: number): number {
  return Math.ceil(Math.ceil(len / Math.ceil(len / max)) / unit) * unit;
}

/**
 * C = α·op(A)·op(B) + β·C on the wasm kernel (see the file header): the float64 kernel when C is a
 * Float64Array, else the float32 one. A and B may be either type (packing converts to C's type).
 */
export function gemmWasm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  beta: number,
  c: FloatArray,
  offC: number,
  ldc: number,
): void {
  const inst = getInstance();
  calls++;
  if (m === 0 || n === 0) return;
  if (alpha === 0 || k === 0) {
    scaleC(m, n, beta, c, offC, ldc);
    return;
  }
  const g = c instanceof Float64Array ? F64 : F32;
  const { MR: mr, NR: nr, size } = g;
  const mp = Math.ceil(m / mr) * mr;
  const ldw = Math.ceil(n / nr) * nr;
  const kStep = Math.ceil(k / Math.ceil(k / g.KC));
  const kPad = Math.ceil(kStep / U) * U;
  const mStep = balanced(m, g.MC, mr);
  const nStep = Math.min(balanced(n, g.NC, nr), ldw);
  const cOff = reserved / size;
  const aOff = cOff + mp * ldw;
  const bOff = aOff + mStep * kPad;
  ensureBytes(inst, (bOff + nStep * kPad) * size);
  const w: FloatArray = size === 8 ? view64 : view32;
  const macro = size === 8 ? inst.macro64 : inst.macro;

  // C in wasm memory already (a resident region): rows move by copyWithin (memmove, no allocation).
  const cIn = c.buffer === w.buffer && c.BYTES_PER_ELEMENT === size ? c.byteOffset / size + offC : -1;
  // C̃ = β·C, padding zeroed (never read back, but keeps denormal/NaN junk out of the arithmetic).
  for (let i = 0; i < m; i++) {
    const src = offC + i * ldc;
    const dst = cOff + i * ldw;
    if (beta === 0) w.fill(0, dst, dst + n);
    else if (beta === 1 && cIn >= 0) w.copyWithin(dst, cIn + i * ldc, cIn + i * ldc + n);
    else if (beta === 1) for (let j = 0; j < n; j++) w[dst + j] = c[src + j] as number;
    else for (let j = 0; j < n; j++) w[dst + j] = beta * (c[src + j] as number);
    if (ldw > n) w.fill(0, dst + n, dst + ldw);
  }
  if (mp > m) w.fill(0, cOff + m * ldw, cOff + mp * ldw);

  gemmColumns(g, macro, transA, transB, m, 0, n, k, alpha, a, offA, lda, b, offB, ldb, w, cOff, ldw, aOff, bOff);
  // Plain loops, not set(subarray): no per-row view objects.
  for (let i = 0; i < m; i++) {
    const src = cOff + i * ldw;
    const dst = offC + i * ldc;
    if (cIn >= 0) w.copyWithin(cIn + i * ldc, src, src + n);
    else for (let j = 0; j < n; j++) c[dst + j] = w[src + j] as number;
  }
}

/**
 * The blocked loops over columns [j0, j1) of C̃ (at w[cOff], leading dimension ldw, padded as in
 * `gemmWasm`): B̃ packed at w[bOff], Ã at w[aOff], `macro` on each block. Shared by `gemmWasm` and
 * the threaded driver, whose threads each take a range of NR-panels (j0 a multiple of NR).
 */
export function gemmColumns(
  g: Geometry,
  macro: MacroKernel,
  transA: boolean,
  transB: boolean,
  m: number,
  j0: number,
  j1: number,
  k: number,
  alpha: number,
  a: FloatArray,
  offA: number,
  lda: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  w: FloatArray,
  cOff: number,
  ldw: number,
  aOff: number,
  bOff: number,
): void {
  const { MR: mr, NR: nr, size } = g;
  const kStep = Math.ceil(k / Math.ceil(k / g.KC));
  const mStep = balanced(m, g.MC, mr);
  const nStep = balanced(j1 - j0, g.NC, nr);
  for (let jc = j0; jc < j1; jc += nStep) {
    const nc = Math.min(nStep, j1 - jc);
    const nPanels = Math.ceil(nc / nr);
    for (let pc = 0; pc < k; pc += kStep) {
      const kc = Math.min(kStep, k - pc);
      const kcp = Math.ceil(kc / U) * U;
      if (nr === 8) packB8(transB, b, offB, ldb, pc, kc, kcp, jc, nc, w, bOff);
      else packB4(transB, b, offB, ldb, pc, kc, kcp, jc, nc, w, bOff);
      for (let ic = 0; ic < m; ic += mStep) {
        const mc = Math.min(mStep, m - ic);
        packA(transA, a, offA, lda, ic, mc, pc, kc, kcp, w, aOff);
        macro(
          Math.ceil(mc / mr),
          nPanels,
          kcp / U,
          aOff * size,
          bOff * size,
          (cOff + ic * ldw + jc) * size,
          ldw * size,
          alpha,
          kcp * mr * size,
          kcp * nr * size,
        );
      }
    }
  }
}

function scaleC(m: number, n: number, beta: number, c: FloatArray, offC: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const ci = offC + i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else for (let j = 0; j < n; j++) c[ci + j] = beta * (c[ci + j] as number);
  }
}

/**
 * op(A)[ic:ic+mc, pc:pc+kc] → MR-tall panels at w[base…]: panel q holds kcp groups of MR values
 * (column p of the panel); rows past mc and columns past kc are zero. MR = 4 for both element types.
 */
function packA(
  transA: boolean,
  a: FloatArray,
  offA: number,
  lda: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  kcp: number,
  w: FloatArray,
  base: number,
): void {
  const MR = 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = Math.min(MR, mc - ir);
    const panel = base + ir * kcp;
    if (transA) {
      // op(A)[i, p] = A[p, i]: row p of A holds the panel's column p contiguously.
      for (let p = 0; p < kc; p++) {
        const src = offA + (pc + p) * lda + ic + ir;
        const dst = panel + p * MR;
        if (mr === MR) {
          w[dst] = a[src] as number;
          w[dst + 1] = a[src + 1] as number;
          w[dst + 2] = a[src + 2] as number;
          w[dst + 3] = a[src + 3] as number;
        } else {
          for (let r = 0; r < mr; r++) w[dst + r] = a[src + r] as number;
          for (let r = mr; r < MR; r++) w[dst + r] = 0;
        }
      }
    } else if (mr === MR) {
      // Four rows of A read side by side, written as consecutive groups of four.
      const s0 = offA + (ic + ir) * lda + pc;
      const s1 = s0 + lda;
      const s2 = s1 + lda;
      const s3 = s2 + lda;
      let dst = panel;
      for (let p = 0; p < kc; p++) {
        w[dst] = a[s0 + p] as number;
        w[dst + 1] = a[s1 + p] as number;
        w[dst + 2] = a[s2 + p] as number;
        w[dst + 3] = a[s3 + p] as number;
        dst += MR;
      }
    } else {
      for (let r = 0; r < MR; r++) {
        const src = offA + (ic + ir + r) * lda + pc;
        let dst = panel + r;
        for (let p = 0; p < kc; p++) {
          w[dst] = r < mr ? (a[src + p] as number) : 0;
          dst += MR;
        }
      }
    }
    if (kcp > kc) w.fill(0, panel + kc * MR, panel + kcp * MR);
  }
}

/**
 * op(B)[pc:pc+kc, jc:jc+nc] → NR-wide panels at w[base…] (NR = 8, float32): panel q holds kcp groups
 * of NR values (row p of the panel); columns past nc and rows past kc are zero.
 */
function packB8(
  transB: boolean,
  b: FloatArray,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  kcp: number,
  jc: number,
  nc: number,
  w: FloatArray,
  base: number,
): void {
  const NR = 8;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const panel = base + jr * kcp;
    if (!transB) {
      for (let p = 0; p < kc; p++) {
        const src = offB + (pc + p) * ldb + jc + jr;
        const dst = panel + p * NR;
        if (nr === NR) {
          w[dst] = b[src] as number;
          w[dst + 1] = b[src + 1] as number;
          w[dst + 2] = b[src + 2] as number;
          w[dst + 3] = b[src + 3] as number;
          w[dst + 4] = b[src + 4] as number;
          w[dst + 5] = b[src + 5] as number;
          w[dst + 6] = b[src + 6] as number;
          w[dst + 7] = b[src + 7] as number;
        } else {
          for (let j = 0; j < nr; j++) w[dst + j] = b[src + j] as number;
          for (let j = nr; j < NR; j++) w[dst + j] = 0;
        }
      }
    } else packBTransposed(NR, nr, b, offB, ldb, pc, kc, jc + jr, w, panel);
    if (kcp > kc) w.fill(0, panel + kc * NR, panel + kcp * NR);
  }
}

/** As `packB8` with NR = 4 (float64). */
function packB4(
  transB: boolean,
  b: FloatArray,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  kcp: number,
  jc: number,
  nc: number,
  w: FloatArray,
  base: number,
): void {
  const NR = 4;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const panel = base + jr * kcp;
    if (!transB) {
      for (let p = 0; p < kc; p++) {
        const src = offB + (pc + p) * ldb + jc + jr;
        const dst = panel + p * NR;
        if (nr === NR) {
          w[dst] = b[src] as number;
          w[dst + 1] = b[src + 1] as number;
          w[dst + 2] = b[src + 2] as number;
          w[dst + 3] = b[src + 3] as number;
        } else {
          for (let j = 0; j < nr; j++) w[dst + j] = b[src + j] as number;
          for (let j = nr; j < NR; j++) w[dst + j] = 0;
        }
      }
    } else packBTransposed(NR, nr, b, offB, ldb, pc, kc, jc + jr, w, panel);
    if (kcp > kc) w.fill(0, panel + kc * NR, panel + kcp * NR);
  }
}

/** op(B)[p, j] = B[j, p]: reads each of the panel's nr rows of B contiguously, writes with stride NR. */
function packBTransposed(
  NR: number,
  nr: number,
  b: FloatArray,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  j0: number,
  w: FloatArray,
  panel: number,
): void {
  for (let j = 0; j < NR; j++) {
    const src = offB + (j0 + j) * ldb + pc;
    let dst = panel + j;
    if (j < nr) {
      for (let p = 0; p < kc; p++) {
        w[dst] = b[src + p] as number;
        dst += NR;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        w[dst] = 0;
        dst += NR;
      }
    }
  }
}
