/**
 * The wasm gemm driver: C = α·op(A)·op(B) + β·C (a `GemmArgs`, see ../gemm-args.ts) with the blocked
 * loops and packing in JavaScript (packing shared with the JS kernel: ../gemm-pack.ts) and the
 * macro-kernel in WebAssembly (codegen.ts).
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
 * Memory (instance.ts): one WebAssembly.Memory, laid out per call as [resident region | C̃ | Ã | B̃].
 * JS typed arrays cannot be seen by WASM, so the operands are copied in: packing writes straight from
 * the caller's arrays into the wasm memory (pack = copy), and C goes in once (scaled by β) and out
 * once. A C inside the resident region (resident.ts) moves to and from C̃ by copyWithin (memmove).
 * The blocked loops (`gemmColumns`) also run on worker threads over a shared memory, each on a range
 * of C's columns (see threads.ts).
 *
 * Deviations from the JS kernel: float32 products accumulate in float32 (forward error ≤
 * γ_k·|α||A||B| + rounding of β·C, Higham, "Accuracy and Stability of Numerical Algorithms", §3.5)
 * where the JS kernel accumulates in double; float64 accumulates in double like the JS kernel (same
 * bound with ε = 2⁻⁵³, different summation order). With the fused kernel variant the multiply-add
 * rounds once instead of twice, which only tightens the bound. C̃ is padded to ⌈m/MR⌉·MR rows by
 * ⌈n/NR⌉·NR columns and k to a multiple of U (zeros in Ã and B̃), so the kernel has no edge cases.
 * Blocks are balanced as in the JS kernel.
 *
 * Cost: 2mnk flops; copies mk·⌈n/NC⌉ + kn + 2mn elements. Memory: (⌈m/MR⌉MR·⌈n/NR⌉NR + MC·KC +
 * KC·NC) elements at most, grown on demand and reused (no allocation after warm-up at a given size).
 */
import type { FloatArray } from "../../matrix.ts";
import type { GemmArgs } from "../gemm-args.ts";
import { scaleC } from "../gemm-kernel.ts";
import { packPanels } from "../gemm-pack.ts";
import { type Geometry, geometryOf, type MacroKernel, U } from "./codegen.ts";
import { countCall, ensureBytes, kernels, memoryBlock, memoryView, reservedBytes } from "./instance.ts";

/** Splits `len` into ⌈len/max⌉ near-equal blocks, each rounded up to a multiple of `unit`. */
function balanced(len: number, max: number, unit: number): number {
  return Math.ceil(Math.ceil(len / Math.ceil(len / max)) / unit) * unit;
}

/**
 * C = α·op(A)·op(B) + β·C on the wasm kernel (see the file header): the float64 kernel when C is a
 * Float64Array, else the float32 one. A and B may be either type (packing converts to C's type).
 */
export function gemmWasm(g: Readonly<GemmArgs>): void {
  const { m, n, k, alpha, beta, c, offC, ldc } = g;
  const inst = kernels();
  countCall();
  if (m === 0 || n === 0) return;
  if (alpha === 0 || k === 0) {
    scaleC(m, n, beta, c, offC, ldc);
    return;
  }
  const geom = geometryOf(c instanceof Float64Array);
  const { MR: mr, NR: nr, size } = geom;
  const mp = Math.ceil(m / mr) * mr;
  const ldw = Math.ceil(n / nr) * nr;
  const kStep = Math.ceil(k / Math.ceil(k / geom.KC));
  const kPad = Math.ceil(kStep / U) * U;
  const mStep = balanced(m, geom.MC, mr);
  const nStep = Math.min(balanced(n, geom.NC, nr), ldw);
  const cOff = reservedBytes() / size;
  const aOff = cOff + mp * ldw;
  const bOff = aOff + mStep * kPad;
  ensureBytes(inst, (bOff + nStep * kPad) * size);
  const w = memoryView(size);
  const macro = size === 8 ? inst.macro64 : inst.macro;
  // C in wasm memory already (a resident region): rows move by copyWithin (memmove, no allocation).
  const cIn = c.buffer === w.buffer && c.BYTES_PER_ELEMENT === size ? c.byteOffset / size + offC : -1;
  loadC(g, mp, w, cOff, ldw, cIn);
  gemmColumns(geom, macro, g, 0, n, w, cOff, ldw, aOff, bOff);
  storeC(g, w, cOff, ldw, cIn);
}

/**
 * C̃ = β·C into w[cOff…] (leading dimension ldw ≥ n, mp ≥ m rows), padding zeroed (never read back,
 * but keeps denormal/NaN junk out of the arithmetic). `cIn` ≥ 0: C itself lives in `w` at that
 * element offset (the resident region). Shared by `gemmWasm` and the threaded driver.
 *
 * Copies between JS arrays and the memory go through native `set` and `copyWithin` (memcpy /
 * memmove) where C is the whole of its array (β = 1) or contiguous (ldc = n, the store), else plain
 * loops, which cost ≈ 10× more per element (1.5–2.2 against 0.19 ns, Node 20, 250 × 785 float32,
 * 2026-12-04). The whole-block views come from `memoryBlock` (cached, so none is made per call once a
 * shape has been seen); rows move between stride n and stride ldw inside the memory by `copyWithin`.
 */
export function loadC(g: Readonly<GemmArgs>, mp: number, w: FloatArray, cOff: number, ldw: number, cIn: number): void {
  const { m, n, beta, c, offC, ldc } = g;
  if (beta === 1 && cIn < 0 && offC === 0 && ldc === n && c.length === m * n && sameType(c, w)) {
    // All of C at once, then each row moved out to stride ldw, last row first (a row's target
    // [i·ldw, i·ldw + n) only overlaps rows after it, already moved), and the padding zeroed.
    w.set(c, cOff);
    if (ldw > n) {
      for (let i = m - 1; i > 0; i--) w.copyWithin(cOff + i * ldw, cOff + i * n, cOff + i * n + n);
      for (let i = 0; i < m; i++) w.fill(0, cOff + i * ldw + n, cOff + (i + 1) * ldw);
    }
  } else {
    for (let i = 0; i < m; i++) {
      const src = offC + i * ldc;
      const dst = cOff + i * ldw;
      if (beta === 0) w.fill(0, dst, dst + n);
      else if (beta === 1 && cIn >= 0) w.copyWithin(dst, cIn + i * ldc, cIn + i * ldc + n);
      else if (beta === 1) for (let j = 0; j < n; j++) w[dst + j] = c[src + j] as number;
      else for (let j = 0; j < n; j++) w[dst + j] = beta * (c[src + j] as number);
      if (ldw > n) w.fill(0, dst + n, dst + ldw);
    }
  }
  if (mp > m) w.fill(0, cOff + m * ldw, cOff + mp * ldw);
}

/**
 * C = C̃ (the m×n part of w[cOff…]). Contiguous C of w's type (ldc = n): the rows are packed to stride
 * n inside the memory (`copyWithin`, first row first — targets lie before their sources) and copied
 * out with one `set` (see `loadC`); C̃ is not read again. Otherwise plain loops, not set(subarray):
 * no per-row view objects. The float32 → float32 loop is its own function (`copy32`) for the reason
 * gemm-pack.ts gives for `packFull32`: one loop fed both element types runs ≈ 2× slower per element.
 */
export function storeC(g: Readonly<GemmArgs>, w: FloatArray, cOff: number, ldw: number, cIn: number): void {
  const { m, n, c, offC, ldc } = g;
  if (cIn < 0 && (ldc === n || m === 1) && sameType(c, w)) {
    if (ldw > n) for (let i = 1; i < m; i++) w.copyWithin(cOff + i * n, cOff + i * ldw, cOff + i * ldw + n);
    c.set(memoryBlock(w.BYTES_PER_ELEMENT as 4 | 8, cOff, m * n), offC);
    return;
  }
  const both32 = c instanceof Float32Array && w instanceof Float32Array;
  for (let i = 0; i < m; i++) {
    const src = cOff + i * ldw;
    const dst = offC + i * ldc;
    if (cIn >= 0) w.copyWithin(cIn + i * ldc, src, src + n);
    else if (both32) copy32(c, dst, w, src, n);
    else for (let j = 0; j < n; j++) c[dst + j] = w[src + j] as number;
  }
}

/** Whether x and y hold the same element type (a native `set` between them is a memcpy). */
function sameType(x: FloatArray, y: FloatArray): boolean {
  return x.BYTES_PER_ELEMENT === y.BYTES_PER_ELEMENT;
}

/** to[dst … dst+n) = from[src … src+n) (see `storeC`). */
function copy32(to: Float32Array, dst: number, from: Float32Array, src: number, n: number): void {
  for (let j = 0; j < n; j++) to[dst + j] = from[src + j] as number;
}

/**
 * The blocked loops over columns [j0, j1) of C̃ (at w[cOff], leading dimension ldw, padded as in
 * `gemmWasm`): B̃ packed at w[bOff], Ã at w[aOff], `macro` on each block. Reads op(A), op(B), m, k and
 * α from `g` (not C). Shared by `gemmWasm` and the threaded driver, whose threads each take a range of
 * NR-panels (j0 a multiple of NR).
 */
export function gemmColumns(
  geom: Geometry,
  macro: MacroKernel,
  g: Readonly<GemmArgs>,
  j0: number,
  j1: number,
  w: FloatArray,
  cOff: number,
  ldw: number,
  aOff: number,
  bOff: number,
): void {
  const { transA, transB, m, k, alpha, a, offA, lda, b, offB, ldb } = g;
  const { MR: mr, NR: nr, size } = geom;
  const kStep = Math.ceil(k / Math.ceil(k / geom.KC));
  const mStep = balanced(m, geom.MC, mr);
  const nStep = balanced(j1 - j0, geom.NC, nr);
  for (let jc = j0; jc < j1; jc += nStep) {
    const nc = Math.min(nStep, j1 - jc);
    const nPanels = Math.ceil(nc / nr);
    for (let pc = 0; pc < k; pc += kStep) {
      const kc = Math.min(kStep, k - pc);
      const kcp = Math.ceil(kc / U) * U;
      packPanels(nr, !transB, b, offB, ldb, jc, nc, pc, kc, kcp, w, bOff); // B̃ = panels of op(B)ᵀ
      for (let ic = 0; ic < m; ic += mStep) {
        const mc = Math.min(mStep, m - ic);
        packPanels(mr, transA, a, offA, lda, ic, mc, pc, kc, kcp, w, aOff);
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
