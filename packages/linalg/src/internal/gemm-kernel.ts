/**
 * The JavaScript gemm kernels: C = α·op(A)·op(B) + β·C on raw row-major strided buffers described by
 * a `GemmArgs` (gemm-args.ts; the caller validated every index). They only compute: which of them (or
 * gemv, or wasm) runs a product is decided in gemm-dispatch.ts.
 *
 * Source: the GotoBLAS / BLIS layered algorithm (Goto & van de Geijn, "Anatomy of high-performance
 * matrix multiplication", ACM TOMS 34(3), 2008; Van Zee & van de Geijn, "BLIS", TOMS 41(3), 2015):
 *
 *   for jc in steps of NC over n            B̃ = op(B)[pc:pc+KC, jc:jc+NC]   packed in NR-wide panels
 *     for pc in steps of KC over k          Ã = op(A)[ic:ic+MC, pc:pc+KC]   packed in MR-tall panels
 *       for ic in steps of MC over m
 *         for jr, ir: C[MR×NR tile] += α · Ã_panel · B̃_panel   (micro-kernel, KC rank-1 updates)
 *
 * Packing reads op(A) and op(B) once per block in whatever order the transposes dictate and writes
 * them as contiguous panels, so all four transpose combinations run the same micro-kernel reading
 * memory strictly sequentially (the packing is shared with the wasm driver: gemm-pack.ts). The
 * micro-kernel keeps its MR×NR = 8×4 tile of C in local variables.
 *
 * Deviations: no SIMD exists in JavaScript, so the micro-kernel is scalar. Panels are packed as
 * Float64Array for both element types: JS arithmetic happens in float64 anyway, so reading doubles
 * avoids a conversion per load, keeps float64 inputs exact, and lets every product accumulate in
 * double precision (a float32 C is rounded once per KC block, when the tile is added back). Tile
 * shape 8×4 and KC = 384, MC = 64 were chosen by measurement in V8 (4×4, 4×8, 6×4, 2×8, 3×4, … were
 * within 10 %; 8×4 and 6×4 were best; KC from 128 to 512 within noise). Block sizes are balanced
 * (k = 784 runs as 2 × 392, not 384 + 384 + 16). `gemmSmall`, for small products (see SMALL_WORK), skips
 * packing: a dot-product loop in double is cheaper there and is equally accurate.
 *
 * Cost: 2mnk flops; packing moves mk·⌈n/NC⌉ + kn elements. Workspace: ⌈MC/MR⌉·MR·KC + KC·⌈NC/NR⌉·NR
 * doubles at most (≈ 0.13 MB + 4 MB), module-level, grown on demand and reused: after the first call
 * at a given size no allocation happens. β = 0 overwrites C (BLAS semantics: NaN/Inf already in C
 * vanish); α = 0 or k = 0 only scales C (A and B are not read).
 */
import type { FloatArray } from "../matrix.ts";
import type { GemmArgs } from "./gemm-args.ts";
import { packPanels } from "./gemm-pack.ts";

const MR = 8;
const NR = 4;
const KC = 384;
const MC = 64;
const NC = 4096;

let panelsA = new Float64Array(0);
let panelsB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);
let allocations = 0;

/** Internal, for the no-allocation test and the bench: the packing buffers and how often they grew. */
export function gemmWorkspace(): {
  readonly packA: Float64Array;
  readonly packB: Float64Array;
  readonly allocations: number;
} {
  return { packA: panelsA, packB: panelsB, allocations };
}

function ensureWorkspace(lenA: number, lenB: number): void {
  if (panelsA.length < lenA) {
    panelsA = new Float64Array(lenA);
    allocations++;
  }
  if (panelsB.length < lenB) {
    panelsB = new Float64Array(lenB);
    allocations++;
  }
}

/** C ← β·C, with β = 0 writing exact zeros (so NaN/Inf in C vanish). */
export function scaleC(m: number, n: number, beta: number, c: FloatArray, offC: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const ci = offC + i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else for (let j = 0; j < n; j++) c[ci + j] = beta * (c[ci + j] as number);
  }
}

/** Unpacked kernel for small products: each C[i, j] is one dot product accumulated in double. */
export function gemmSmall(g: Readonly<GemmArgs>): void {
  const { transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc } = g;
  if (alpha === 0 || k === 0) {
    scaleC(m, n, beta, c, offC, ldc);
    return;
  }
  // op(A)[i, p] = a[offA + i·sai + p·sap]; op(B)[p, j] = b[offB + p·sbp + j·sbj]
  const sai = transA ? 1 : lda;
  const sap = transA ? lda : 1;
  const sbp = transB ? 1 : ldb;
  const sbj = transB ? ldb : 1;
  for (let i = 0; i < m; i++) {
    const ai = offA + i * sai;
    const ci = offC + i * ldc;
    for (let j = 0; j < n; j++) {
      let s = 0;
      let ia = ai;
      let ib = offB + j * sbj;
      for (let p = 0; p < k; p++) {
        s += (a[ia] as number) * (b[ib] as number);
        ia += sap;
        ib += sbp;
      }
      const cij = beta === 0 ? 0 : beta * (c[ci + j] as number);
      c[ci + j] = alpha * s + cij;
    }
  }
}

/** The packed, cache-blocked kernel (see the file header). */
export function gemmBlocked(g: Readonly<GemmArgs>): void {
  const { transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, beta, c, offC, ldc, lower } = g;
  scaleC(m, n, beta, c, offC, ldc);
  if (alpha === 0 || k === 0 || m === 0 || n === 0) return;
  // Balanced blocks: k = 784 runs as 2 × 392 rather than 384 + 384 + 16, whose thin last block would
  // pay the packing and C-update overhead for little work. Same for m (kept a multiple of MR).
  const kStep = Math.ceil(k / Math.ceil(k / KC));
  const mStep = Math.ceil(Math.ceil(m / Math.ceil(m / MC)) / MR) * MR;
  ensureWorkspace(Math.ceil(Math.min(MC, m) / MR) * MR * kStep, Math.ceil(Math.min(NC, n) / NR) * NR * kStep);
  const pa = panelsA;
  const pb = panelsB;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kStep) {
      const kc = Math.min(kStep, k - pc);
      packPanels(NR, !transB, b, offB, ldb, jc, nc, pc, kc, kc, pb, 0); // B̃ = panels of op(B)ᵀ
      for (let ic = 0; ic < m; ic += mStep) {
        const mc = Math.min(mStep, m - ic);
        // Lower triangle only: skip what lies wholly above the diagonal (blocks, then tiles).
        if (lower && jc > ic + mc - 1) continue;
        packPanels(MR, transA, a, offA, lda, ic, mc, pc, kc, kc, pa, 0);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const cj = offC + jc + jr;
          for (let ir = 0; ir < mc; ir += MR) {
            if (lower && jc + jr > ic + ir + MR - 1) continue;
            microKernel(kc, pa, ir * kc, pb, jr * kc, c, cj + (ic + ir) * ldc, ldc, alpha, Math.min(MR, mc - ir), nr);
          }
        }
      }
    }
  }
}

/**
 * C[tile] += α · Ã_panel · B̃_panel for one MR×NR tile: kc rank-1 updates accumulated in 32 local
 * doubles, then added to C once. Edge tiles (mr < MR or nr < NR) compute the full padded tile and
 * store only the valid part through `edgeTile`.
 */
function microKernel(
  kc: number,
  pa: Float64Array,
  ia: number,
  pb: Float64Array,
  ib: number,
  c: FloatArray,
  ic: number,
  ldc: number,
  alpha: number,
  mr: number,
  nr: number,
): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  let c40 = 0,
    c41 = 0,
    c42 = 0,
    c43 = 0;
  let c50 = 0,
    c51 = 0,
    c52 = 0,
    c53 = 0;
  let c60 = 0,
    c61 = 0,
    c62 = 0,
    c63 = 0;
  let c70 = 0,
    c71 = 0,
    c72 = 0,
    c73 = 0;
  for (let p = 0; p < kc; p++) {
    const b0 = pb[ib + 0] as number;
    const b1 = pb[ib + 1] as number;
    const b2 = pb[ib + 2] as number;
    const b3 = pb[ib + 3] as number;
    const a0 = pa[ia + 0] as number;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    const a1 = pa[ia + 1] as number;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    const a2 = pa[ia + 2] as number;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    const a3 = pa[ia + 3] as number;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
    const a4 = pa[ia + 4] as number;
    c40 += a4 * b0;
    c41 += a4 * b1;
    c42 += a4 * b2;
    c43 += a4 * b3;
    const a5 = pa[ia + 5] as number;
    c50 += a5 * b0;
    c51 += a5 * b1;
    c52 += a5 * b2;
    c53 += a5 * b3;
    const a6 = pa[ia + 6] as number;
    c60 += a6 * b0;
    c61 += a6 * b1;
    c62 += a6 * b2;
    c63 += a6 * b3;
    const a7 = pa[ia + 7] as number;
    c70 += a7 * b0;
    c71 += a7 * b1;
    c72 += a7 * b2;
    c73 += a7 * b3;
    ia += 8;
    ib += 4;
  }
  if (mr === MR && nr === NR) {
    let o = ic;
    c[o] = (c[o] as number) + alpha * c00;
    c[o + 1] = (c[o + 1] as number) + alpha * c01;
    c[o + 2] = (c[o + 2] as number) + alpha * c02;
    c[o + 3] = (c[o + 3] as number) + alpha * c03;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c10;
    c[o + 1] = (c[o + 1] as number) + alpha * c11;
    c[o + 2] = (c[o + 2] as number) + alpha * c12;
    c[o + 3] = (c[o + 3] as number) + alpha * c13;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c20;
    c[o + 1] = (c[o + 1] as number) + alpha * c21;
    c[o + 2] = (c[o + 2] as number) + alpha * c22;
    c[o + 3] = (c[o + 3] as number) + alpha * c23;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c30;
    c[o + 1] = (c[o + 1] as number) + alpha * c31;
    c[o + 2] = (c[o + 2] as number) + alpha * c32;
    c[o + 3] = (c[o + 3] as number) + alpha * c33;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c40;
    c[o + 1] = (c[o + 1] as number) + alpha * c41;
    c[o + 2] = (c[o + 2] as number) + alpha * c42;
    c[o + 3] = (c[o + 3] as number) + alpha * c43;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c50;
    c[o + 1] = (c[o + 1] as number) + alpha * c51;
    c[o + 2] = (c[o + 2] as number) + alpha * c52;
    c[o + 3] = (c[o + 3] as number) + alpha * c53;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c60;
    c[o + 1] = (c[o + 1] as number) + alpha * c61;
    c[o + 2] = (c[o + 2] as number) + alpha * c62;
    c[o + 3] = (c[o + 3] as number) + alpha * c63;
    o += ldc;
    c[o] = (c[o] as number) + alpha * c70;
    c[o + 1] = (c[o + 1] as number) + alpha * c71;
    c[o + 2] = (c[o + 2] as number) + alpha * c72;
    c[o + 3] = (c[o + 3] as number) + alpha * c73;
    return;
  }
  const t = edgeTile;
  t[0] = c00;
  t[1] = c01;
  t[2] = c02;
  t[3] = c03;
  t[4] = c10;
  t[5] = c11;
  t[6] = c12;
  t[7] = c13;
  t[8] = c20;
  t[9] = c21;
  t[10] = c22;
  t[11] = c23;
  t[12] = c30;
  t[13] = c31;
  t[14] = c32;
  t[15] = c33;
  t[16] = c40;
  t[17] = c41;
  t[18] = c42;
  t[19] = c43;
  t[20] = c50;
  t[21] = c51;
  t[22] = c52;
  t[23] = c53;
  t[24] = c60;
  t[25] = c61;
  t[26] = c62;
  t[27] = c63;
  t[28] = c70;
  t[29] = c71;
  t[30] = c72;
  t[31] = c73;
  for (let r = 0; r < mr; r++) {
    const o = ic + r * ldc;
    for (let j = 0; j < nr; j++) c[o + j] = (c[o + j] as number) + alpha * (t[r * NR + j] as number);
  }
}
