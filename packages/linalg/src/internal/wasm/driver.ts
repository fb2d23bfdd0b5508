/**
 * The wasm gemm driver: C = α·op(A)·op(B) + β·C (a `GemmArgs`, see ../gemm-args.ts) with the blocked
 * loops in JavaScript, the packing by SIMD kernels in WebAssembly where the operand is in the wasm
 * memory (else by the JS loops shared with the JS kernel, ../gemm-pack.ts), and the macro-kernel in
 * WebAssembly (codegen.ts).
 *
 * Source: the GotoBLAS / BLIS layered algorithm (Goto & van de Geijn, "Anatomy of high-performance
 * matrix multiplication", ACM TOMS 34(3), 2008, §4 and Fig. 8; Van Zee & van de Geijn, "BLIS",
 * TOMS 41(3), 2015, Fig. 2):
 *
 *   for jc in steps of NC over n        B̃ = op(B)[pc:pc+kc, jc:jc+nc]  packed in NR-wide panels
 *     for pc in steps of KC over k      Ã = op(A)[ic:ic+mc, pc:pc+kc]  packed in MR-tall panels
 *       for ic in steps of MC over m
 *         macro-kernel (WASM): for jr, ir: C̃[MR×NR tile] += α · Ã_panel · B̃_panel
 *
 * Memory (instance.ts): one WebAssembly.Memory, laid out per call as
 * [resident region | C̃ | Ã | B̃ | copy of A | copy of B]. JS typed arrays cannot be seen by WASM, so
 * the operands are copied in: the span an operand of C's element type reads is copied with one
 * native `set` (≈ 0.2 ns per float32; the whole array when the span is all of it, else a cached view
 * of the range) and its panels are packed inside the memory by the module's kernels
 * (`packInMemory`); an operand of the other type is packed straight from the caller's array into the
 * memory (JS loops, 1–2 ns per element, with the conversion). Packing in the memory against packing
 * from the array, measured in one process (Node 20, 2026-12-04, under load):
 * 250 × 784 × 784 NN 1.10× faster, 256 × 544 × 544 NT 1.22×, 250 × 256 × 784 NT 1.25× (NT's
 * 8-row B̃ panels had only the slow general JS loop), 1000 × 785 × 1000 NN 1.04×. C goes in once
 * (scaled by β) and out once, by native copies where it is contiguous (`loadC`, `storeC`). A C inside
 * the resident region (resident.ts) moves to and from C̃ by copyWithin (memmove). The blocked loops
 * (`gemmColumns`) also run on worker threads over a shared memory, each on a range of C's columns
 * (see threads.ts), which copies the operands in first and so packs in the memory too.
 *
 * Deviations from the JS kernel: float32 products accumulate in float32 (forward error ≤
 * γ_k·|α||A||B| + rounding of β·C, Higham, "Accuracy and Stability of Numerical Algorithms", §3.5)
 * where the JS kernel accumulates in double; float64 accumulates in double like the JS kernel (same
 * bound with ε = 2⁻⁵³, different summation order). With the fused kernel variant the multiply-add
 * rounds once instead of twice, which only tightens the bound. C̃ is padded to ⌈m/MR⌉·MR rows by
 * ⌈n/NR⌉·NR columns and k to a multiple of U (zeros in Ã and B̃), so the kernel has no edge cases.
 * Blocks are balanced as in the JS kernel.
 *
 * Cost: 2mnk flops; copies mk·⌈n/NC⌉ + kn + 2mn elements, plus the copied operands (whole arrays or spans).
 * Memory: (⌈m/MR⌉MR·⌈n/NR⌉NR + MC·KC + KC·NC) elements, plus the copied operands' lengths, at most,
 * grown on demand and reused (no allocation after warm-up at a given size).
 */
import type { FloatArray } from "../../matrix.ts";
import { type GemmArgs, newGemmArgs } from "../gemm-args.ts";
import { scaleC } from "../gemm-kernel.ts";
import { packPanels } from "../gemm-pack.ts";
import { type Geometry, geometryOf, U } from "./codegen.ts";
import {
  countCall,
  ensureBytes,
  type Instance,
  kernels,
  memoryBlock,
  memoryView,
  rangeView,
  reservedBytes,
} from "./instance.ts";

/** Splits `len` into ⌈len/max⌉ near-equal blocks, each rounded up to a multiple of `unit`. */
function balanced(len: number, max: number, unit: number): number {
  return Math.ceil(Math.ceil(len / Math.ceil(len / max)) / unit) * unit;
}

/**
 * An array that is both operands is copied whole into the memory (one native `set`, ≈ 0.2 ns per
 * float32, serving both) when at most this many times the span the product reads; else each operand's
 * span is copied (see `stageLength`).
 */
const STAGE_SLACK = 4;

/**
 * Rows per macro-kernel call in a lower-triangle product (GemmArgs `lower`, syrk): each call runs up
 * to its last row's column, so the work above the diagonal is at most a LOWER_ROWS-wide band. A
 * multiple of both geometries' MR.
 */
const LOWER_ROWS = 32;

/** The memory size up to which operands are copied in (beyond it they are packed from their arrays). */
const STAGE_MAX_BYTES = 1 << 28;

/** The product with its operands as the blocked loops read them (see `gemmWasm`); refilled per call. */
const placed: GemmArgs = newGemmArgs();

/**
 * C = α·op(A)·op(B) + β·C on the wasm kernel (see the file header): the float64 kernel when C is a
 * Float64Array, else the float32 one. A and B may be either type (packing converts to C's type).
 * An operand of C's type is read in the memory: where it lives there already (a resident region) or
 * copied in first (the span it reads; see `stageLength`), so that its panels are packed by the
 * module's kernels instead of JS loops.
 */
export function gemmWasm(g: Readonly<GemmArgs>): void {
  const { transA, transB, m, n, k, alpha, beta, a, offA, lda, b, offB, ldb, c, offC, ldc } = g;
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
  const same = b === a;
  let lenA = stageLength(a, offA, transA ? k : m, transA ? m : k, lda, size, same);
  let lenB = stageLength(b, offB, transB ? n : k, transB ? k : n, ldb, size, same);
  // B the same array as A (syrk's XᵀX, X·Xᵀ, or two blocks of one workspace): one copy of the whole
  // array serves both, made when either operand alone would be copied.
  if (same) {
    lenA = Math.max(lenA, lenB);
    lenB = 0;
  }
  const sA = bOff + nStep * kPad;
  // Copies are an optimisation: never the reason for a memory past STAGE_MAX_BYTES (grow could fail).
  if ((sA + lenA + lenB) * size > STAGE_MAX_BYTES) lenA = lenB = 0;
  const sB = sA + lenA;
  ensureBytes(inst, (sB + lenB) * size);
  const w = memoryView(size);
  // C in wasm memory already (a resident region): rows move by copyWithin (memmove, no allocation).
  const cIn = inMemory(c, w) ? c.byteOffset / size + offC : -1;
  const p = placed;
  Object.assign(p, g);
  // A whole array goes in at sA (its offsets unchanged); a range [offA, offA + lenA) goes in at sA.
  const wholeA = lenA === a.length;
  const wholeB = lenB === b.length;
  if (lenA > 0) w.set(wholeA ? a : rangeView(a, offA, lenA), sA);
  if (lenA > 0 || inMemory(a, w)) {
    p.a = w;
    p.offA = lenA > 0 ? sA + (wholeA ? offA : 0) : a.byteOffset / size + offA;
  }
  if (lenB > 0) w.set(wholeB ? b : rangeView(b, offB, lenB), sB);
  if (b === a && lenA > 0) {
    p.b = w;
    p.offB = sA + offB;
  } else if (lenB > 0 || inMemory(b, w)) {
    p.b = w;
    p.offB = lenB > 0 ? sB + (wholeB ? offB : 0) : b.byteOffset / size + offB;
  }
  loadC(g, mp, w, cOff, ldw, cIn);
  gemmColumns(geom, inst, p, 0, n, w, cOff, ldw, aOff, bOff);
  p.a = p.b = p.c = w; // drop the caller's arrays
  storeC(g, w, cOff, ldw, cIn);
}

/** Whether x is a view of the memory `w` with w's element type. */
function inMemory(x: FloatArray, w: FloatArray): boolean {
  return x.buffer === w.buffer && sameType(x, w);
}

/**
 * Elements of x to copy into the memory before packing, or 0 (x is not of the kernel's element type,
 * is in the memory already, or a resident region is held): the span of the rows × cols operand the
 * product reads from `off` — all of x when that is all of it (one `set`, no view), else the range
 * through a view cached per range by `rangeView` (e.g. S*'s products read 250 × 257 rows of a
 * 520,500-entry workspace: copying the whole of it, or packing it from the array by the JS loops, cost
 * 0.5–1 ms per demo autoencoder step). `whole` (B the same array as A, read at two offsets): all of x
 * when it is at most STAGE_SLACK times the span, one copy serving both operands.
 */
function stageLength(
  x: FloatArray,
  off: number,
  rows: number,
  cols: number,
  ld: number,
  size: 4 | 8,
  whole: boolean,
): number {
  if (x.BYTES_PER_ELEMENT !== size || reservedBytes() > 0 || x.buffer === memoryView(size).buffer) return 0;
  const span = (rows - 1) * ld + cols;
  if (whole) return x.length <= STAGE_SLACK * span ? x.length : 0;
  return off === 0 && span === x.length ? x.length : span;
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
 * `gemmWasm`): B̃ packed at w[bOff], Ã at w[aOff], the macro-kernel of `geom`'s element type on each
 * block. Reads op(A), op(B), m, k and α from `g` (not C); an operand that is `w` itself is packed by
 * the module (`packInMemory`). Shared by `gemmWasm` and the threaded driver, whose threads each take
 * a range of NR-panels (j0 a multiple of NR).
 */
export function gemmColumns(
  geom: Geometry,
  inst: Instance,
  g: Readonly<GemmArgs>,
  j0: number,
  j1: number,
  w: FloatArray,
  cOff: number,
  ldw: number,
  aOff: number,
  bOff: number,
): void {
  const { transA, transB, m, k, alpha, a, offA, lda, b, offB, ldb, lower } = g;
  const { MR: mr, NR: nr, size } = geom;
  const macro = size === 8 ? inst.macro64 : inst.macro;
  const kStep = Math.ceil(k / Math.ceil(k / geom.KC));
  const mStep = balanced(m, geom.MC, mr);
  const nStep = balanced(j1 - j0, geom.NC, nr);
  for (let jc = j0; jc < j1; jc += nStep) {
    const nc = Math.min(nStep, j1 - jc);
    const nPanels = Math.ceil(nc / nr);
    for (let pc = 0; pc < k; pc += kStep) {
      const kc = Math.min(kStep, k - pc);
      const kcp = Math.ceil(kc / U) * U;
      // B̃ = panels of op(B)ᵀ
      if (b === w) packInMemory(inst, nr, !transB, offB, ldb, jc, nc, pc, kc, kcp, w, bOff);
      else packPanels(nr, !transB, b, offB, ldb, jc, nc, pc, kc, kcp, w, bOff);
      for (let ic = 0; ic < m; ic += mStep) {
        const mc = Math.min(mStep, m - ic);
        // Lower triangle only: a block whose rows all lie above this column block is skipped.
        if (lower && jc > ic + mc - 1) continue;
        if (a === w) packInMemory(inst, mr, transA, offA, lda, ic, mc, pc, kc, kcp, w, aOff);
        else packPanels(mr, transA, a, offA, lda, ic, mc, pc, kc, kcp, w, aOff);
        // The whole block at once, or (lower) LOWER_ROWS rows at a time, each up to its last row's column.
        const step = lower ? LOWER_ROWS : mc;
        for (let r0 = 0; r0 < mc; r0 += step) {
          const rows = Math.min(step, mc - r0);
          const panels = lower ? Math.min(nPanels, Math.ceil((ic + r0 + rows - jc) / nr)) : nPanels;
          if (panels <= 0) continue;
          macro(
            Math.ceil(rows / mr),
            panels,
            kcp / U,
            (aOff + r0 * kcp) * size,
            bOff * size,
            (cOff + (ic + r0) * ldw + jc) * size,
            ldw * size,
            alpha,
            kcp * mr * size,
            kcp * nr * size,
          );
        }
      }
    }
  }
}

/**
 * `packPanels` (gemm-pack.ts: op(X)[i0:i0+rows, p0:p0+kc] in R-tall panels at w[base…]) for X in the
 * memory at w[offX…]: the full panels by the module's kernels — op(X) = Xᵀ as R-value pieces of X's
 * rows (`packT16`/`packT32`, any element type with R·size = 16 or 32 bytes), op(X) = X in float32 as
 * four rows interleaved at a time (`pack4x16` for R = 4; `pack4x32` twice for R = 8), k's last kc mod 4
 * columns of those in JS — and the rest (a last partial panel, float64 X, padding) by `packPanels`
 * itself, reading the memory. Same layout and values as `packPanels`; the gemm tests run both.
 */
function packInMemory(
  inst: Instance,
  R: number,
  trans: boolean,
  offX: number,
  ldx: number,
  i0: number,
  rows: number,
  p0: number,
  kc: number,
  kcp: number,
  w: FloatArray,
  base: number,
): void {
  const size = w.BYTES_PER_ELEMENT;
  const chunk = R * size;
  let full = 0;
  if (trans && (chunk === 16 || chunk === 32)) {
    full = rows - (rows % R);
    if (full > 0 && kc > 0) {
      const pack = chunk === 16 ? inst.packT16 : inst.packT32;
      pack((offX + p0 * ldx + i0) * size, ldx * size, base * size, kc, full / R, R * kcp * size);
    }
  } else if (!trans && size === 4 && (R === 4 || R === 8)) {
    full = rows - (rows % R);
    const groups = kc >> 2;
    const pack = R === 4 ? inst.pack4x16 : inst.pack4x32;
    for (let q = 0; q < full; q += R) {
      const panel = base + q * kcp;
      for (let h = 0; h < R; h += 4) {
        const src = offX + (i0 + q + h) * ldx + p0;
        if (groups > 0) pack(src * 4, ldx * 4, (panel + h) * 4, groups);
        for (let p = 4 * groups; p < kc; p++) {
          for (let r = 0; r < 4; r++) w[panel + p * R + h + r] = w[src + r * ldx + p] as number;
        }
      }
    }
  }
  if (kcp > kc) for (let ir = 0; ir < full; ir += R) w.fill(0, base + ir * kcp + kc * R, base + (ir + R) * kcp);
  packPanels(R, trans, w, offX, ldx, i0 + full, rows - full, p0, kc, kcp, w, base + full * kcp);
}
