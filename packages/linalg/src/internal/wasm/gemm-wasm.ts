/**
 * float32 gemm on WebAssembly SIMD: C = α·op(A)·op(B) + β·C, same contract as `gemmKernel`
 * (row-major strided buffers, the caller validated every index, β = 0 overwrites C).
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
 * The micro-kernel keeps an MR×NR = 4×8 tile of C in 2·MR v128 accumulators (f32x4): per k step it
 * loads one 8-wide row of B̃ (two v128.load), broadcasts each of the MR values of Ã
 * (v128.load32_splat) and does 2·MR multiply-adds (not unrolled, see U). 4×8 leaves 5 of the 16
 * x86 vector registers for the B row and the broadcast, so V8 does not spill (6×8 and 8×8 measured
 * 10–30 % slower).
 *
 * Memory: one WebAssembly.Memory, laid out per call as [C̃ | Ã | B̃]. JS typed arrays cannot be seen by
 * WASM, so the operands are copied in: packing writes straight from the caller's arrays into the
 * wasm memory (pack = copy), and C goes in once (scaled by β) and out once.
 *
 * Deviations from the JS kernel: products accumulate in float32 (forward error ≤ γ_k·|α||A||B| +
 * rounding of β·C, Higham §3.5) where the JS kernel accumulates in double; with relaxed SIMD
 * available the multiply-add may be fused (f32x4.relaxed_madd), which only tightens the bound.
 * C̃ is padded to ⌈m/MR⌉·MR rows by ⌈n/NR⌉·NR columns and k to a multiple of U (zeros in Ã and B̃),
 * so the kernel has no edge cases. Block sizes KC = 256, MC = 128 (MR-multiple), NC = 2048 were
 * picked by measurement on x86-64 (V8 11, Node 20); blocks are balanced as in the JS kernel.
 * Measured (Xeon, Node 20, one core): 37–39 GFLOP/s at 512³ in every transpose case, at the
 * throughput limit of separate f32x4.mul + f32x4.add; 43 GFLOP/s with relaxed-SIMD FMA
 * (`--experimental-wasm-relaxed-simd` on Node 20, on by default in later V8).
 *
 * Cost: 2mnk flops; copies mk·⌈n/NC⌉ + kn + 2mn elements. Memory: (⌈m/MR⌉MR·⌈n/NR⌉NR + MC·KC +
 * KC·NC) floats at most, grown on demand and reused (no allocation after warm-up at a given size).
 * Module: one function, generated at run time, ~1.3 KB (< 4 KB, so browsers compile it synchronously).
 */
import type { FloatArray } from "../../matrix.ts";
import { Code, encodeModule, ValType } from "./encoder.ts";
import { activeBackend, type WasmMemory, wasmNamespace, wasmSupport } from "./runtime.ts";

export const MR = 4;
export const NR = 8;
/**
 * k-loop unroll of the micro-kernel (packed kc is padded to a multiple of it). Measured: U = 1 ran
 * 20–40 % faster than U = 2, 4 or 8 in V8 11 (the unrolled bodies made TurboFan spill accumulators).
 */
const U = 1;
const KC = 256;
const MC = 128;
const NC = 2048;
const PAGE = 65536;

type MacroKernel = (
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
 * Emits `macro(mPanels, nPanels, kIter, pa, pb, c, ldcBytes, alpha, aStride, bStride)`: for each of
 * nPanels B̃ panels (outer, so one B̃ panel of kc·NR floats stays in L1) and mPanels Ã panels, a
 * MR×NR tile C̃ += α·Ã·B̃ over kIter·U steps. All counts ≥ 1; addresses are byte offsets.
 */
export function buildGemmModule(fma: boolean): Uint8Array {
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
  for (let i = 0; i < 2 * MR; i++) acc.push(next++);
  const v128Count = next - 10 - i32Count;

  const k = new Code();
  k.get(alpha).f32x4Splat().set(alphaV);
  k.f32Const(0).f32x4Splat().set(zero);
  k.get(c).set(cCol).get(pb).set(bPanel).get(nPanels).set(jr);
  k.loop(); // jr
  k.get(pa).set(aPanel).get(cCol).set(cPtr).get(mPanels).set(ir);
  k.loop(); // ir
  for (const x of acc) k.get(zero).set(x);
  k.get(aPanel).set(aPtr).get(bPanel).set(bPtr).get(kIter).set(p);
  k.loop(); // p
  for (let u = 0; u < U; u++) {
    k.get(bPtr)
      .v128Load(u * NR * 4)
      .set(b0);
    k.get(bPtr)
      .v128Load(u * NR * 4 + 16)
      .set(b1);
    for (let r = 0; r < MR; r++) {
      k.get(aPtr)
        .v128Load32Splat((u * MR + r) * 4)
        .set(av);
      for (let h = 0; h < 2; h++) {
        const x = acc[2 * r + h] as number;
        if (fma)
          k.get(av)
            .get(h === 0 ? b0 : b1)
            .get(x)
            .f32x4RelaxedMadd()
            .set(x);
        else
          k.get(x)
            .get(av)
            .get(h === 0 ? b0 : b1)
            .f32x4Mul()
            .f32x4Add()
            .set(x);
      }
    }
  }
  k.get(aPtr)
    .i32Const(U * MR * 4)
    .i32Add()
    .set(aPtr);
  k.get(bPtr)
    .i32Const(U * NR * 4)
    .i32Add()
    .set(bPtr);
  k.get(p).i32Const(1).i32Sub().tee(p).brIf(0);
  k.end();
  // C̃ tile += α·acc, row by row.
  k.get(cPtr).set(cRow);
  for (let r = 0; r < MR; r++) {
    for (let h = 0; h < 2; h++) {
      k.get(cRow)
        .get(cRow)
        .v128Load(16 * h)
        .get(alphaV)
        .get(acc[2 * r + h] as number)
        .f32x4Mul()
        .f32x4Add()
        .v128Store(16 * h);
    }
    if (r < MR - 1) k.get(cRow).get(ldc).i32Add().set(cRow);
  }
  k.get(cPtr).get(ldc).i32Const(MR).i32Mul().i32Add().set(cPtr);
  k.get(aPanel).get(aStride).i32Add().set(aPanel);
  k.get(ir).i32Const(1).i32Sub().tee(ir).brIf(0);
  k.end();
  k.get(cCol)
    .i32Const(NR * 4)
    .i32Add()
    .set(cCol);
  k.get(bPanel).get(bStride).i32Add().set(bPanel);
  k.get(jr).i32Const(1).i32Sub().tee(jr).brIf(0);
  k.end();

  const i32 = ValType.i32;
  return encodeModule({ minPages: 1, export: "memory" }, [
    {
      name: "macro",
      params: [i32, i32, i32, i32, i32, i32, i32, ValType.f32, i32, i32],
      results: [],
      locals: [...Array<ValType>(i32Count).fill(i32), ...Array<ValType>(v128Count).fill(ValType.v128)],
      body: k,
    },
  ]);
}

interface Instance {
  readonly memory: WasmMemory;
  readonly macro: MacroKernel;
  readonly fma: boolean;
  readonly moduleBytes: number;
}

let instance: Instance | null = null;
let view = new Float32Array(0);
let grows = 0;
let calls = 0;

/** Compiles (synchronously) and instantiates the kernel module; relaxed-SIMD FMA when the runtime validates it. */
function getInstance(): Instance {
  if (instance) return instance;
  const support = wasmSupport();
  const ns = wasmNamespace();
  if (!support.ok || !ns) throw new Error(`ekfac-ts linalg: the wasm backend is unavailable: ${support.reason}`);
  let bytes = buildGemmModule(true);
  let fma = true;
  if (!ns.validate(bytes)) {
    bytes = buildGemmModule(false);
    fma = false;
  }
  const inst = new ns.Instance(new ns.Module(bytes));
  instance = {
    memory: inst.exports.memory as WasmMemory,
    macro: inst.exports.macro as MacroKernel,
    fma,
    moduleBytes: bytes.length,
  };
  view = new Float32Array(instance.memory.buffer);
  return instance;
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

function ensureFloats(inst: Instance, floats: number): Float32Array {
  const bytes = floats * 4;
  const have = inst.memory.buffer.byteLength;
  if (bytes > have) {
    inst.memory.grow(Math.ceil((bytes - have) / PAGE));
    grows++;
  }
  // A grow detaches the old ArrayBuffer; rebuild the view only then.
  if (view.buffer !== inst.memory.buffer) view = new Float32Array(inst.memory.buffer);
  return view;
}

/**
 * Below this many multiply-adds the copies into and out of wasm memory cost more than SIMD saves
 * (measured against the JS kernels, square n³: equal at 8³, wasm 2.3× faster at 12³, 3× at 32³).
 */
export const WASM_MIN_WORK = 16 * 16 * 16;
const MAX_C_FLOATS = 1 << 26;

/**
 * The dispatch hook called first thing in `gemmKernel`: runs the product on wasm and returns true
 * when the backend is wasm, the operands are float32, and the product is big enough (one row or one
 * column, α = 0 and k = 0 stay on the JS path's gemv and scaling code).
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
  if (!(c instanceof Float32Array) || m < 2 || n < 2 || alpha === 0 || m * n * k < WASM_MIN_WORK) return false;
  // C̃ lives whole in wasm memory; past MAX_C_FLOATS (256 MiB) stay on JS rather than risk a failed grow.
  if (m * n > MAX_C_FLOATS) return false;
  if (activeBackend() !== "wasm") return false;
  gemmWasm(
    transA,
    transB,
    m,
    n,
    k,
    alpha,
    a as Float32Array,
    offA,
    lda,
    b as Float32Array,
    offB,
    ldb,
    beta,
    c,
    offC,
    ldc,
  );
  return true;
}

/** Splits `len` into ⌈len/max⌉ near-equal blocks, each rounded up to a multiple of `unit`. */
function balanced(len: number, max: number, unit: number): number {
  return Math.ceil(Math.ceil(len / Math.ceil(len / max)) / unit) * unit;
}

/** C = α·op(A)·op(B) + β·C for float32 operands, on the wasm kernel (see the file header). */
export function gemmWasm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  offA: number,
  lda: number,
  b: Float32Array,
  offB: number,
  ldb: number,
  beta: number,
  c: Float32Array,
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
  const mp = Math.ceil(m / MR) * MR;
  const ldw = Math.ceil(n / NR) * NR;
  const kStep = Math.ceil(k / Math.ceil(k / KC));
  const kPad = Math.ceil(kStep / U) * U;
  const mStep = balanced(m, MC, MR);
  const nStep = Math.min(balanced(n, NC, NR), ldw);
  const cOff = 0;
  const aOff = mp * ldw;
  const bOff = aOff + mStep * kPad;
  const w = ensureFloats(inst, bOff + nStep * kPad);

  // C̃ = β·C, padding zeroed (never read back, but keeps denormal/NaN junk out of the arithmetic).
  for (let i = 0; i < m; i++) {
    const src = offC + i * ldc;
    const dst = cOff + i * ldw;
    if (beta === 0) w.fill(0, dst, dst + n);
    else if (beta === 1) for (let j = 0; j < n; j++) w[dst + j] = c[src + j] as number;
    else for (let j = 0; j < n; j++) w[dst + j] = beta * (c[src + j] as number);
    if (ldw > n) w.fill(0, dst + n, dst + ldw);
  }
  if (mp > m) w.fill(0, cOff + m * ldw, cOff + mp * ldw);

  const macro = inst.macro;
  for (let jc = 0; jc < n; jc += nStep) {
    const nc = Math.min(nStep, n - jc);
    const nPanels = Math.ceil(nc / NR);
    for (let pc = 0; pc < k; pc += kStep) {
      const kc = Math.min(kStep, k - pc);
      const kcp = Math.ceil(kc / U) * U;
      packB(transB, b, offB, ldb, pc, kc, kcp, jc, nc, w, bOff);
      for (let ic = 0; ic < m; ic += mStep) {
        const mc = Math.min(mStep, m - ic);
        packA(transA, a, offA, lda, ic, mc, pc, kc, kcp, w, aOff);
        macro(
          Math.ceil(mc / MR),
          nPanels,
          kcp / U,
          aOff * 4,
          bOff * 4,
          (cOff + ic * ldw + jc) * 4,
          ldw * 4,
          alpha,
          kcp * MR * 4,
          kcp * NR * 4,
        );
      }
    }
  }
  // Plain loops, not set(subarray): no per-row view objects.
  for (let i = 0; i < m; i++) {
    const src = cOff + i * ldw;
    const dst = offC + i * ldc;
    for (let j = 0; j < n; j++) c[dst + j] = w[src + j] as number;
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
 * (column p of the panel); rows past mc and columns past kc are zero.
 */
function packA(
  transA: boolean,
  a: Float32Array,
  offA: number,
  lda: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  kcp: number,
  w: Float32Array,
  base: number,
): void {
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
 * op(B)[pc:pc+kc, jc:jc+nc] → NR-wide panels at w[base…]: panel q holds kcp groups of NR values
 * (row p of the panel); columns past nc and rows past kc are zero.
 */
function packB(
  transB: boolean,
  b: Float32Array,
  offB: number,
  ldb: number,
  pc: number,
  kc: number,
  kcp: number,
  jc: number,
  nc: number,
  w: Float32Array,
  base: number,
): void {
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
    } else {
      // op(B)[p, j] = B[j, p]: read each row of B contiguously, write with stride NR.
      for (let j = 0; j < NR; j++) {
        const src = offB + (jc + jr + j) * ldb + pc;
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
    if (kcp > kc) w.fill(0, panel + kc * NR, panel + kcp * NR);
  }
}
