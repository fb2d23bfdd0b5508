/**
 * Code generation for the wasm kernels: the bytes of one module, built by TypeScript at run time
 * (encoder.ts), holding `macro` (float32 gemm macro-kernel, f32x4), `macro64` (float64, f64x2), and
 * the float64 level-2 loops of the blocked tridiagonalization (`symv4`, `axpy2`, `dot2`).
 *
 * Source: the GotoBLAS / BLIS macro- and micro-kernel (Goto & van de Geijn, "Anatomy of
 * high-performance matrix multiplication", ACM TOMS 34(3), 2008, §4 and Fig. 8; Van Zee & van de
 * Geijn, "BLIS", TOMS 41(3), 2015, Fig. 2): for jr, ir: C̃[MR×NR tile] += α · Ã_panel · B̃_panel.
 *
 * The micro-kernel keeps an MR×NR tile of C in 2·MR v128 accumulators, two per tile row: float32
 * 4×8 (f32x4), float64 4×4 (f64x2). Per k step it loads one NR-wide row of B̃ (two v128.load),
 * broadcasts each of the MR values of Ã (v128.load32_splat / load64_splat) and does 2·MR
 * multiply-adds (not unrolled, see U). Eight accumulators leave 5 of the 16 x86 vector registers for
 * the B row and the broadcast, so V8 does not spill (float32 6×8 and 8×8 measured 10–30 % slower).
 *
 * Two variants of the multiply-add, chosen when the module is built (see instance.ts): separate
 * `mul` then `add` (two roundings, the same result on every machine), or relaxed-SIMD `relaxed_madd`
 * (a·b + c, which the engine may fuse into one rounding — on x86 with FMA3 and on ARM it does). Each
 * variant is deterministic on a given machine; only the fused one may differ between machines.
 * Block sizes were picked by measurement on x86-64 (V8 11, Node 20): float32 KC = 256, MC = 128,
 * NC = 2048; float64 KC = 384, MC = 32, NC = 4096 (at 1000³, under load: 256/64/1024 17 GFLOP/s,
 * 384/64/2048 18, 384/32/4096 20, 512/32 and 384/16 19.5).
 * Measured (Xeon, Node 20, one core): float32 37–39 GFLOP/s at 512³ in every transpose case, at the
 * throughput limit of separate f32x4.mul + f32x4.add; 43 GFLOP/s with relaxed-SIMD FMA
 * (`--experimental-wasm-relaxed-simd` on Node 20, on by default in later V8). float64 18–20 GFLOP/s
 * at 1000³ on a machine at load ≈ 2 on 2 cores (JS kernel in the same run: 2.2 GFLOP/s).
 *
 * Cost: building the module is linear in its size, < 4 KB (so browsers compile it synchronously).
 */
import { Code, encodeModule, type FuncDef, funcDef, Locals, ValType } from "./encoder.ts";

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
/**
 * k-loop unroll of the micro-kernel (packed kc is padded to a multiple of it). Measured: U = 1 ran
 * 20–40 % faster than U = 2, 4 or 8 in V8 11 (the unrolled bodies made TurboFan spill accumulators).
 */
export const U = 1;

export type Symv4Kernel = (row0: number, ld: number, u: number, p: number, r: number, out: number) => void;
/** `packT16` / `packT32` (see `packTFunc`): byte addresses and strides. */
export type PackTKernel = (src: number, ld: number, dst: number, kc: number, panels: number, step: number) => void;
/** `pack4x16` / `pack4x32` (see `pack4Func`): byte addresses. */
export type Pack4Kernel = (src: number, ld: number, dst: number, groups: number) => void;

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
  const L = new Locals(10);
  const [jr, ir, p, aPtr, bPtr, cPtr, cCol, aPanel, bPanel, cRow] = L.add(ValType.i32, 10);
  const [alphaV, zero, b0, b1, av] = L.add(ValType.v128, 5);
  const acc = L.list(ValType.v128, 2 * g.MR);
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
  return funcDef(name, [i32, i32, i32, i32, i32, i32, i32, f64 ? ValType.f64 : ValType.f32, i32, i32], L, k);
}

/**
 * Emits `for (off = 0; off < end; off += 16) body()` (16 bytes: one v128) as block/loop, skipping the
 * body when end = 0; `off` and `end` are i32 locals.
 */
function byteLoop(k: Code, off: number, end: number, body: () => void): void {
  k.i32Const(0).set(off);
  k.block();
  k.get(end).i32Eqz().brIf(0);
  k.loop();
  body();
  k.get(off).i32Const(16).i32Add().tee(off).get(end).i32LtU().brIf(0);
  k.end();
  k.end();
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
  const L = new Locals(6);
  const [row1, row2, row3, off, end] = L.add(ValType.i32, 5);
  const us = L.add(ValType.v128, 4);
  const acc = L.add(ValType.v128, 4);
  const [uc] = L.add(ValType.v128, 1);
  const b = L.add(ValType.v128, 4);
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
  byteLoop(k, off, end, () => {
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
  });
  for (let q = 0; q < 4; q++) {
    k.get(out)
      .get(acc[q] as number)
      .v128Store(16 * q);
  }
  const i32 = ValType.i32;
  return funcDef("symv4", [i32, i32, i32, i32, i32, i32], L, k);
}

/**
 * Emits `axpy2(dst, x, y, a, b, pairs)`: dst[c] = (dst[c] − a·x[c]) − b·y[c] for c < 2·pairs (float64,
 * byte addresses; the caller finishes an odd length), the rank-2 corrections of the dlatrd panel.
 */
function axpy2Func(): FuncDef {
  const [dst, x, y, a, b, pairs] = [0, 1, 2, 3, 4, 5];
  const L = new Locals(6);
  const [off, end] = L.add(ValType.i32, 2);
  const [av, bv] = L.add(ValType.v128, 2);
  const k = new Code();
  k.get(a).f64x2Splat().set(av);
  k.get(b).f64x2Splat().set(bv);
  k.get(pairs).i32Const(16).i32Mul().set(end);
  byteLoop(k, off, end, () => {
    k.get(dst).get(off).i32Add();
    k.get(dst).get(off).i32Add().v128Load();
    k.get(av).get(x).get(off).i32Add().v128Load().f64x2Mul().f64x2Sub();
    k.get(bv).get(y).get(off).i32Add().v128Load().f64x2Mul().f64x2Sub();
    k.v128Store();
  });
  const i32 = ValType.i32;
  return funcDef("axpy2", [i32, i32, i32, ValType.f64, ValType.f64, i32], L, k);
}

/**
 * Emits `dot2(x, y, u, pairs, out)`: the lane pairs of Σ x[c]·u[c] and Σ y[c]·u[c] over c < 2·pairs
 * (float64, byte addresses) stored at out and out + 16; the caller adds the lanes and any odd tail.
 */
function dot2Func(): FuncDef {
  const [x, y, u, pairs, out] = [0, 1, 2, 3, 4];
  const L = new Locals(5);
  const [off, end] = L.add(ValType.i32, 2);
  const [s1, s2, uc] = L.add(ValType.v128, 3);
  const k = new Code();
  k.f64Const(0).f64x2Splat().tee(s1).set(s2);
  k.get(pairs).i32Const(16).i32Mul().set(end);
  byteLoop(k, off, end, () => {
    k.get(u).get(off).i32Add().v128Load().set(uc);
    k.get(s1).get(x).get(off).i32Add().v128Load().get(uc).f64x2Mul().f64x2Add().set(s1);
    k.get(s2).get(y).get(off).i32Add().v128Load().get(uc).f64x2Mul().f64x2Add().set(s2);
  });
  k.get(out).get(s1).v128Store(0);
  k.get(out).get(s2).v128Store(16);
  const i32 = ValType.i32;
  return funcDef("dot2", [i32, i32, i32, i32, i32], L, k);
}

/**
 * Emits `packT16` / `packT32(src, ld, dst, kc, panels, step)`: for p < kc and q < panels, the `chunk`
 * (16 or 32) bytes at src + p·ld + q·chunk go to dst + p·chunk + q·step (byte addresses; kc, panels
 * ≥ 1). This is gemm-pack.ts's full panels of op(X) = Xᵀ — each R-wide piece of a row of X becomes
 * one panel row — with chunk = R·(element size): float32 R = 4 (16 bytes) or 8, float64 R = 4 (32).
 * A copy: one or two v128 loads and stores per piece, whatever the element type.
 */
function packTFunc(name: string, chunk: 16 | 32): FuncDef {
  const [src, ld, dst, kc, panels, step] = [0, 1, 2, 3, 4, 5];
  const L = new Locals(6);
  const [s, d, q, p] = L.add(ValType.i32, 4);
  const k = new Code();
  k.get(kc).set(p);
  k.loop(); // p
  k.get(src).set(s).get(dst).set(d).get(panels).set(q);
  k.loop(); // q
  for (let h = 0; h < chunk; h += 16) {
    k.get(d).get(s).v128Load(h).v128Store(h);
  }
  k.get(s).i32Const(chunk).i32Add().set(s);
  k.get(d).get(step).i32Add().set(d);
  k.get(q).i32Const(1).i32Sub().tee(q).brIf(0);
  k.end();
  k.get(src).get(ld).i32Add().set(src);
  k.get(dst).i32Const(chunk).i32Add().set(dst);
  k.get(p).i32Const(1).i32Sub().tee(p).brIf(0);
  k.end();
  const i32 = ValType.i32;
  return funcDef(name, [i32, i32, i32, i32, i32, i32], L, k);
}

/** The 16 byte indices of an i8x16.shuffle that picks the four float32 lanes `f` (0–3 a, 4–7 b). */
function f32Lanes(f: readonly [number, number, number, number]): number[] {
  return f.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/**
 * Emits `pack4x16` / `pack4x32(src, ld, dst, groups)`: four float32 rows of X (row r at src + r·ld)
 * interleaved column by column, for the first 4·groups columns (groups ≥ 1): column p's four values
 * (X[0, p], X[1, p], X[2, p], X[3, p]) go to dst + p·stride, stride 16 or 32 bytes. This is
 * gemm-pack.ts's full panels of op(X) = X: an R = 4 panel (stride 16), or one half of an R = 8 panel
 * (stride 32; the caller passes dst + 16 for rows 4–7). Four columns at a time: four v128 loads, a
 * 4 × 4 transpose in eight shuffles, four v128 stores.
 */
function pack4Func(name: string, stride: 16 | 32): FuncDef {
  const [src, ld, dst, groups] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [r1, r2, r3, off, d, g] = L.add(ValType.i32, 6);
  const v = L.add(ValType.v128, 4);
  const t = L.add(ValType.v128, 4);
  const k = new Code();
  k.get(src).get(ld).i32Add().tee(r1).get(ld).i32Add().tee(r2).get(ld).i32Add().set(r3);
  k.i32Const(0).set(off).get(dst).set(d).get(groups).set(g);
  k.loop();
  const rows = [src, r1, r2, r3];
  for (let r = 0; r < 4; r++) {
    k.get(rows[r] as number)
      .get(off)
      .i32Add()
      .v128Load()
      .set(v[r] as number);
  }
  // t0 = (v0[0], v1[0], v0[1], v1[1]), t1 = (v2[0], v3[0], v2[1], v3[1]), t2, t3 the same for lanes 2, 3;
  // column j is then (t[0|2][2j' ..], t[1|3][2j' ..]).
  const [v0, v1, v2, v3] = v as [number, number, number, number];
  const [t0, t1, t2, t3] = t as [number, number, number, number];
  k.get(v0)
    .get(v1)
    .i8x16Shuffle(f32Lanes([0, 4, 1, 5]))
    .set(t0);
  k.get(v2)
    .get(v3)
    .i8x16Shuffle(f32Lanes([0, 4, 1, 5]))
    .set(t1);
  k.get(v0)
    .get(v1)
    .i8x16Shuffle(f32Lanes([2, 6, 3, 7]))
    .set(t2);
  k.get(v2)
    .get(v3)
    .i8x16Shuffle(f32Lanes([2, 6, 3, 7]))
    .set(t3);
  const cols: [number, number, readonly [number, number, number, number]][] = [
    [t0, t1, [0, 1, 4, 5]],
    [t0, t1, [2, 3, 6, 7]],
    [t2, t3, [0, 1, 4, 5]],
    [t2, t3, [2, 3, 6, 7]],
  ];
  cols.forEach(([x, y, lanes], j) => {
    k.get(d)
      .get(x)
      .get(y)
      .i8x16Shuffle(f32Lanes(lanes))
      .v128Store(j * stride);
  });
  k.get(off).i32Const(16).i32Add().set(off);
  k.get(d)
    .i32Const(4 * stride)
    .i32Add()
    .set(d);
  k.get(g).i32Const(1).i32Sub().tee(g).brIf(0);
  k.end();
  const i32 = ValType.i32;
  return funcDef(name, [i32, i32, i32, i32], L, k);
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
    packTFunc("packT16", 16),
    packTFunc("packT32", 32),
    pack4Func("pack4x16", 16),
    pack4Func("pack4x32", 32),
  ]);
}
