/**
 * Code generation for the elementwise kernels of ../../vector.ts: short SIMD loops over arrays copied
 * into the kernels' memory (a module of their own that imports the gemm module's memory, see
 * `buildVectorModule`), each the exact twin of a scalar JavaScript
 * loop in vector.ts — same operations on the same lanes in the same order, IEEE-754 arithmetic with
 * no fused multiply-add, so both paths give the same bits (NaN payloads aside).
 *
 * Source: the WebAssembly SIMD proposal's fixed-width operations (Core Specification 2.0, §4.4.3
 * "Vector instructions": f32x4/f64x2 arithmetic, comparisons giving all-ones lanes, v128 bitwise
 * operations, f32x4.demote_f64x2_zero and f64x2.promote_low_f32x4, which round and widen as the
 * scalar conversions do).
 *
 * Conventions: addresses are byte offsets; counts are of v128 blocks (four float32 or two float64
 * lanes) or of lane pairs where float32 and float64 arrays are read together. The caller pads: lanes
 * past the end of the data are read and written (vector.ts reserves room for them and zeroes the
 * tail of scanned inputs). "Tiny" means 0 < |x| < tiny; a comparison lane mask ANDed with the bits of
 * 1.0 is the number 1 or 0, which is how the scalar loops' `+(cond)` is written here.
 *
 * Cost: one pass over the operands, 4 (float32) or 2 (float64) lanes per instruction.
 */
import {
  EXP_LN2_HI,
  EXP_LN2_LO,
  EXP_LOG2E,
  EXP_LOWEST,
  EXP_MAGIC,
  EXP_TAYLOR,
  EXP32_LN2_HI,
  EXP32_LN2_LO,
  EXP32_LOG2E,
  EXP32_LOWEST,
  EXP32_MAGIC,
  EXP32_TAYLOR,
} from "../exp.ts";
import { Code, encodeModule, type FuncDef, funcDef, Locals, ValType } from "./encoder.ts";

const { i32, f32, f64, v128 } = ValType;

/** Emits `while (count-- > 0) body()`, skipping the body when count is 0 (count an i32 local). */
function countLoop(k: Code, count: number, body: () => void): void {
  k.block();
  k.get(count).i32Eqz().brIf(0);
  k.loop();
  body();
  k.get(count).i32Const(1).i32Sub().tee(count).brIf(0);
  k.end();
  k.end();
}

/** Pushes the f32x4 lane mask of 0 < |v| < tiny (v, tiny and zero are v128 locals; tiny splatted). */
function tinyMask32(k: Code, v: number, tiny: number, zero: number): void {
  k.get(v).f32x4Abs().get(tiny).f32x4Lt();
  k.get(v).f32x4Abs().get(zero).f32x4Gt();
  k.v128And();
}

/** `tinyMask32` for f64x2 lanes. */
function tinyMask64(k: Code, v: number, tiny: number, zero: number): void {
  k.get(v).f64x2Abs().get(tiny).f64x2Lt();
  k.get(v).f64x2Abs().get(zero).f64x2Gt();
  k.v128And();
}

/** Advances the i32 local `p` by `bytes`. */
function bump(k: Code, p: number, bytes: number): void {
  k.get(p).i32Const(bytes).i32Add().set(p);
}

/**
 * `scan32(x, blocks, tiny) → i32`: bit 0 set when some lane is NaN or ±∞ (v − v ≠ 0), bit 1 when some
 * lane is tiny. Accumulates both masks over the whole array (no early exit: the loop is load-bound).
 */
function scan32(): FuncDef {
  const [x, blocks, tiny] = [0, 1, 2];
  const L = new Locals(3);
  const [v, tv, zero, bad, small] = L.add(v128, 5);
  const k = new Code();
  k.get(tiny).f32x4Splat().set(tv);
  k.f32Const(0).f32x4Splat().tee(zero).tee(bad).set(small);
  countLoop(k, blocks, () => {
    k.get(x).v128Load().set(v);
    k.get(bad).get(v).get(v).f32x4Sub().get(zero).f32x4Ne().v128Or().set(bad);
    k.get(small);
    tinyMask32(k, v, tv, zero);
    k.v128Or().set(small);
    bump(k, x, 16);
  });
  k.get(bad).v128AnyTrue();
  k.get(small).v128AnyTrue().i32Const(1).i32Shl().i32Or();
  return { name: "scan32", params: [i32, i32, f32], results: [i32], locals: L.types, body: k };
}

/** `flush32(x, blocks, tiny)`: x ← +0 in the tiny lanes, in place (NaN kept). */
function flush32(): FuncDef {
  const [x, blocks, tiny] = [0, 1, 2];
  const L = new Locals(3);
  const [v, tv, zero] = L.add(v128, 3);
  const k = new Code();
  k.get(tiny).f32x4Splat().set(tv);
  k.f32Const(0).f32x4Splat().set(zero);
  countLoop(k, blocks, () => {
    k.get(x).v128Load().set(v);
    k.get(x).get(v);
    tinyMask32(k, v, tv, zero);
    k.v128AndNot().v128Store();
    bump(k, x, 16);
  });
  return funcDef("flush32", [i32, i32, f32], L, k);
}

/**
 * `squares32(x, out, blocks, tiny, flushX)`: out = s·[s ≥ tiny] with s = x² (so a NaN stays NaN, as
 * in the scalar loop); with flushX ≠ 0 also x ← x·(1 − [tiny lane]) in place (±0, NaN kept).
 */
function squares32(): FuncDef {
  const [x, out, blocks, tiny, flushX] = [0, 1, 2, 3, 4];
  const L = new Locals(5);
  const [v, s, tv, zero, one] = L.add(v128, 5);
  const k = new Code();
  k.get(tiny).f32x4Splat().set(tv);
  k.f32Const(0).f32x4Splat().set(zero);
  k.f32Const(1).f32x4Splat().set(one);
  countLoop(k, blocks, () => {
    k.get(x).v128Load().set(v);
    k.get(v).get(v).f32x4Mul().set(s);
    k.get(out).get(s);
    k.get(s).get(tv).f32x4Ge().get(one).v128And();
    k.f32x4Mul().v128Store();
    k.get(flushX).if();
    k.get(x).get(v).get(one);
    tinyMask32(k, v, tv, zero);
    k.get(one).v128And().f32x4Sub().f32x4Mul().v128Store();
    k.end();
    bump(k, x, 16);
    bump(k, out, 16);
  });
  return funcDef("squares32", [i32, i32, i32, f32, i32], L, k);
}

/** `round64to32(src, dst, pairs, tiny)`: dst (float32) = src (float64) rounded, +0 in the tiny lanes. */
function round64to32(): FuncDef {
  const [src, dst, pairs, tiny] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [v, tv, zero] = L.add(v128, 3);
  const k = new Code();
  k.get(tiny).f64x2Splat().set(tv);
  k.f64Const(0).f64x2Splat().set(zero);
  countLoop(k, pairs, () => {
    k.get(src).v128Load().set(v);
    k.get(dst).get(v);
    tinyMask64(k, v, tv, zero);
    k.v128AndNot().f32x4DemoteF64x2Zero().v128Store64Low();
    bump(k, src, 16);
    bump(k, dst, 8);
  });
  return funcDef("round64to32", [i32, i32, i32, f64], L, k);
}

/** `decay64of32(x, y, pairs, rho, w)`: x (float64) ← rho·x + w·y, y float32 widened (the scalar order). */
function decay64of32(): FuncDef {
  const [x, y, pairs, rho, w] = [0, 1, 2, 3, 4];
  const L = new Locals(5);
  const [rv, wv] = L.add(v128, 2);
  const k = new Code();
  k.get(rho).f64x2Splat().set(rv);
  k.get(w).f64x2Splat().set(wv);
  countLoop(k, pairs, () => {
    k.get(x);
    k.get(rv).get(x).v128Load().f64x2Mul();
    k.get(wv).get(y).v128Load64Zero().f64x2PromoteLowF32x4().f64x2Mul();
    k.f64x2Add().v128Store();
    bump(k, x, 16);
    bump(k, y, 8);
  });
  return funcDef("decay64of32", [i32, i32, i32, f64, f64], L, k);
}

/**
 * `quotient32(r, s, out, pairs, damping, tiny)`: out (float32) = q rounded, +0 where q is tiny, with
 * q = r / (s + damping) in float64 (r float32 widened, s float64).
 */
function quotient32(): FuncDef {
  const [r, s, out, pairs, damping, tiny] = [0, 1, 2, 3, 4, 5];
  const L = new Locals(6);
  const [q, dv, tv, zero] = L.add(v128, 4);
  const k = new Code();
  k.get(damping).f64x2Splat().set(dv);
  k.get(tiny).f64x2Splat().set(tv);
  k.f64Const(0).f64x2Splat().set(zero);
  countLoop(k, pairs, () => {
    k.get(r).v128Load64Zero().f64x2PromoteLowF32x4();
    k.get(s).v128Load().get(dv).f64x2Add();
    k.f64x2Div().set(q);
    k.get(out).get(q);
    tinyMask64(k, q, tv, zero);
    k.v128AndNot().f32x4DemoteF64x2Zero().v128Store64Low();
    bump(k, r, 8);
    bump(k, s, 16);
    bump(k, out, 8);
  });
  return funcDef("quotient32", [i32, i32, i32, i32, f64, f64], L, k);
}

/**
 * `quotientOuter32(r, lamG, lamA, out, rows, pairs, cG, cA, add, tiny)`: for each row i of a
 * rows × cols float32 matrix (cols = 2·pairs or 2·pairs − 1; rows one after another, ascending, so a
 * row's padding lane is overwritten by the next row), out[i, j] = q rounded (+0 where tiny) with
 * q = r[i, j] / ((lamG[i] + cG)·(lamA[j] + cA) + add) in float64 (lamG, lamA float64).
 * `rowBytes` is the byte length of a float32 row (4·cols).
 */
function quotientOuter32(): FuncDef {
  const [r, lamG, lamA, out, rows, pairs, rowBytes, cG, cA, add, tiny] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const L = new Locals(11);
  const [n, rp, op, ap] = L.add(i32, 4);
  const [q, gv, cv, av, tv, zero] = L.add(v128, 6);
  const k = new Code();
  k.get(cA).f64x2Splat().set(cv);
  k.get(add).f64x2Splat().set(av);
  k.get(tiny).f64x2Splat().set(tv);
  k.f64Const(0).f64x2Splat().set(zero);
  countLoop(k, rows, () => {
    k.get(lamG).f64Load().get(cG).f64Add().f64x2Splat().set(gv);
    k.get(r).set(rp).get(out).set(op).get(lamA).set(ap).get(pairs).set(n);
    countLoop(k, n, () => {
      k.get(rp).v128Load64Zero().f64x2PromoteLowF32x4();
      k.get(gv).get(ap).v128Load().get(cv).f64x2Add().f64x2Mul().get(av).f64x2Add();
      k.f64x2Div().set(q);
      k.get(op).get(q);
      tinyMask64(k, q, tv, zero);
      k.v128AndNot().f32x4DemoteF64x2Zero().v128Store64Low();
      bump(k, rp, 8);
      bump(k, op, 8);
      bump(k, ap, 16);
    });
    k.get(r).get(rowBytes).i32Add().set(r);
    k.get(out).get(rowBytes).i32Add().set(out);
    bump(k, lamG, 8);
  });
  return funcDef("quotientOuter32", [i32, i32, i32, i32, i32, i32, i32, f64, f64, f64, f64], L, k);
}

/**
 * `foldLower64(x, f, d, rho, w)`: the lower triangle with the diagonal of the d × d float64 matrix x
 * (row-major) ← rho·x + w·f (f float32, same layout, read only there), row by row in lane pairs; a
 * row's odd padding lane lands in the upper triangle (or, after the last row, in the caller's
 * padding), which the caller overwrites by mirroring.
 */
function foldLower64(): FuncDef {
  const [x, f, d, rho, w] = [0, 1, 2, 3, 4];
  const L = new Locals(5);
  const [i, n, xp, fp] = L.add(i32, 4);
  const [rv, wv] = L.add(v128, 2);
  const k = new Code();
  k.get(rho).f64x2Splat().set(rv);
  k.get(w).f64x2Splat().set(wv);
  k.i32Const(0).set(i);
  k.block();
  k.get(d).i32Eqz().brIf(0);
  k.loop();
  // row i: (i + 2) >> 1 pairs cover columns 0..i
  k.get(i).i32Const(2).i32Add().i32Const(1).i32ShrU().set(n);
  k.get(x).get(i).get(d).i32Mul().i32Const(8).i32Mul().i32Add().set(xp);
  k.get(f).get(i).get(d).i32Mul().i32Const(4).i32Mul().i32Add().set(fp);
  countLoop(k, n, () => {
    k.get(xp);
    k.get(rv).get(xp).v128Load().f64x2Mul();
    k.get(wv).get(fp).v128Load64Zero().f64x2PromoteLowF32x4().f64x2Mul();
    k.f64x2Add().v128Store();
    bump(k, xp, 16);
    bump(k, fp, 8);
  });
  k.get(i).i32Const(1).i32Add().tee(i).get(d).i32LtU().brIf(0);
  k.end();
  k.end();
  return funcDef("foldLower64", [i32, i32, i32, f64, f64], L, k);
}

/** What `rowsFunc` emits: float32 → float64 (exact), float64 → float32, or float32 → float32, scaled. */
type RowsKind = "widenRows" | "narrowRows" | "scaleRows32";

/**
 * `widenRows` / `narrowRows` / `scaleRows32(src, dst, rows, cols, srcStride, dstStride, scale)`: row r's
 * cols entries at src + r·srcStride (bytes) go to dst + r·dstStride as scale·src, the product in
 * float64 and stored in dst's type (widenRows: float32 → float64, scale ignored, exact; narrowRows:
 * float64 → float32; scaleRows32: float32 → float32). Lane pairs, then the odd last entry by itself:
 * nothing is written past a row (the gaps between rows are the caller's).
 */
function rowsFunc(kind: RowsKind): FuncDef {
  const [src, dst, rows, cols, srcStride, dstStride, scale] = [0, 1, 2, 3, 4, 5, 6];
  const L = new Locals(7);
  const [n, sp, dp] = L.add(i32, 3);
  const [sv] = L.add(v128, 1);
  const srcBytes = kind === "narrowRows" ? 8 : 4;
  const dstBytes = kind === "widenRows" ? 8 : 4;
  const k = new Code();
  k.get(scale).f64x2Splat().set(sv);
  countLoop(k, rows, () => {
    k.get(src).set(sp).get(dst).set(dp).get(cols).i32Const(1).i32ShrU().set(n);
    countLoop(k, n, () => {
      k.get(dp);
      if (kind === "widenRows") k.get(sp).v128Load64Zero().f64x2PromoteLowF32x4().v128Store();
      else {
        k.get(sv).get(sp);
        if (kind === "narrowRows") k.v128Load();
        else k.v128Load64Zero().f64x2PromoteLowF32x4();
        k.f64x2Mul().f32x4DemoteF64x2Zero().v128Store64Low();
      }
      bump(k, sp, 2 * srcBytes);
      bump(k, dp, 2 * dstBytes);
    });
    k.get(cols).i32Const(1).i32And().if();
    k.get(dp);
    if (kind === "widenRows") k.get(sp).f32Load().f64PromoteF32().f64Store();
    else {
      k.get(scale).get(sp);
      if (kind === "narrowRows") k.f64Load();
      else k.f32Load().f64PromoteF32();
      k.f64Mul().f32DemoteF64().f32Store();
    }
    k.end();
    k.get(src).get(srcStride).i32Add().set(src);
    k.get(dst).get(dstStride).i32Add().set(dst);
  });
  return funcDef(kind, [i32, i32, i32, i32, i32, i32, f64], L, k);
}

/**
 * `axpby32(y, x, pairs, a, b, copyBack)`: y (float32) ← a·y + b·x computed in float64 (x float32)
 * and rounded, lane pairs; with copyBack ≠ 0 also x ← the stored y.
 */
function axpby32(): FuncDef {
  const [y, x, pairs, a, b, copyBack] = [0, 1, 2, 3, 4, 5];
  const L = new Locals(6);
  const [av, bv, v] = L.add(v128, 3);
  const k = new Code();
  k.get(a).f64x2Splat().set(av);
  k.get(b).f64x2Splat().set(bv);
  countLoop(k, pairs, () => {
    k.get(av).get(y).v128Load64Zero().f64x2PromoteLowF32x4().f64x2Mul();
    k.get(bv).get(x).v128Load64Zero().f64x2PromoteLowF32x4().f64x2Mul();
    k.f64x2Add().f32x4DemoteF64x2Zero().set(v);
    k.get(y).get(v).v128Store64Low();
    k.get(copyBack).if();
    k.get(x).get(v).v128Store64Low();
    k.end();
    bump(k, y, 8);
    bump(k, x, 8);
  });
  return funcDef("axpby32", [i32, i32, i32, f64, f64, i32], L, k);
}

/**
 * `gather32(x, ldx, rows, idx, m, out, ldo)` (scatter = 0) or `scatter32` (scatter = 1): for each of
 * rows rows, out[r·ldo + j] = x[r·ldx + idx[j]] (gather) or out[r·ldo + idx[j]] = x[r·ldx + j]
 * (scatter), j < m; float32 entries, idx an i32 array, ldx and ldo in bytes. Scalar loads and stores.
 */
function gatherFunc(name: string, scatter: boolean): FuncDef {
  const [x, ldx, rows, idx, m, out, ldo] = [0, 1, 2, 3, 4, 5, 6];
  const L = new Locals(7);
  const [n, ip, xp, op] = L.add(i32, 4);
  const k = new Code();
  countLoop(k, rows, () => {
    k.get(idx).set(ip).get(x).set(xp).get(out).set(op).get(m).set(n);
    countLoop(k, n, () => {
      if (scatter) {
        // out[idx[j]] = x[j]
        k.get(out).get(ip).i32Load().i32Const(2).i32Shl().i32Add();
        k.get(xp).f32Load().f32Store();
        bump(k, xp, 4);
      } else {
        // out[j] = x[idx[j]]
        k.get(op);
        k.get(x).get(ip).i32Load().i32Const(2).i32Shl().i32Add().f32Load();
        k.f32Store();
        bump(k, op, 4);
      }
      bump(k, ip, 4);
    });
    k.get(x).get(ldx).i32Add().set(x);
    k.get(out).get(ldo).i32Add().set(out);
  });
  return funcDef(name, [i32, i32, i32, i32, i32, i32, i32], L, k);
}

/** Pushes min(a, b) of two i32 locals (unsigned). */
function minU(k: Code, a: number, b: number): void {
  k.get(a).get(b).get(a).get(b).i32LtU().select();
}

/**
 * `mirror64(x, d, tile)`: x[j, i] ← x[i, j] for j < i of the d × d float64 matrix at x (row-major),
 * in tile × tile blocks (a block's column writes stay in cache): for each block row i0 and block
 * column j0 ≤ i0, rows i of the block copy their columns j < min(j0 + tile, i).
 */
function mirror64(): FuncDef {
  const [x, d, tile] = [0, 1, 2];
  const L = new Locals(3);
  const [i0, j0, i1, j1, i, j, end, src, dst, rowBytes] = L.add(i32, 10);
  const k = new Code();
  k.get(d).i32Const(8).i32Mul().set(rowBytes);
  k.i32Const(0).set(i0);
  k.block();
  k.loop(); // block rows
  k.get(i0).get(d).i32GeU().brIf(1);
  k.get(i0).get(tile).i32Add().set(i1);
  minU(k, i1, d);
  k.set(i1);
  k.i32Const(0).set(j0);
  k.block();
  k.loop(); // block columns j0 ≤ i0
  k.get(j0).get(i0).i32LeU().i32Eqz().brIf(1);
  k.get(j0).get(tile).i32Add().set(j1);
  k.get(i0).set(i);
  k.block();
  k.loop(); // rows of the block
  k.get(i).get(i1).i32GeU().brIf(1);
  minU(k, j1, i);
  k.set(end);
  k.get(j0).set(j);
  // src = x + (i·d + j)·8, dst = x + (j·d + i)·8
  k.get(x).get(i).get(d).i32Mul().get(j).i32Add().i32Const(8).i32Mul().i32Add().set(src);
  k.get(x).get(j).get(d).i32Mul().get(i).i32Add().i32Const(8).i32Mul().i32Add().set(dst);
  k.block();
  k.loop(); // columns
  k.get(j).get(end).i32GeU().brIf(1);
  k.get(dst).get(src).f64Load().f64Store();
  bump(k, src, 8);
  k.get(dst).get(rowBytes).i32Add().set(dst);
  k.get(j).i32Const(1).i32Add().set(j);
  k.br(0);
  k.end();
  k.end();
  k.get(i).i32Const(1).i32Add().set(i);
  k.br(0);
  k.end();
  k.end();
  k.get(j0).get(tile).i32Add().set(j0);
  k.br(0);
  k.end();
  k.end();
  k.get(i0).get(tile).i32Add().set(i0);
  k.br(0);
  k.end();
  k.end();
  return funcDef("mirror64", [i32, i32, i32], L, k);
}

/**
 * `sigmoid64(x, out, pairs, f32in, u, divisor) → i32`: out (float64) = σ(x) lane by lane, as
 * internal/exp.ts's `logistic` computes it (x float32 widened when f32in ≠ 0, else float64); with a
 * byte address u ≠ 0 of float64 uniforms, out = (σ(x) − [u < σ(x)]) / divisor instead (a sampled
 * Bernoulli target's residual). Returns 1 when some output is NaN. 2^k is built from the bits of
 * k + 1023 + EXP_MAGIC (whose low bits are k + 1023) shifted into the exponent field.
 */
function sigmoid64(): FuncDef {
  const [x, out, pairs, f32in, u, divisor] = [0, 1, 2, 3, 4, 5];
  const L = new Locals(6);
  const [v, a, c, kf, r, p, e, neg, r2, r4] = L.add(v128, 10);
  const [zero, one, lowest, log2e, magic, bias, hi, lo, dv, nan] = L.add(v128, 10);
  const [out0, pairs0] = L.add(i32, 2);
  const coef = L.list(v128, 12); // 1/13! … 1/2!
  const k = new Code();
  const splat = (value: number, local: number): void => {
    k.f64Const(value).f64x2Splat().set(local);
  };
  splat(0, zero);
  splat(1, one);
  splat(EXP_LOWEST, lowest);
  splat(EXP_LOG2E, log2e);
  splat(EXP_MAGIC, magic);
  splat(EXP_MAGIC + 1023, bias);
  splat(EXP_LN2_HI, hi);
  splat(EXP_LN2_LO, lo);
  for (let j = 0; j < 12; j++) splat(EXP_TAYLOR[j] as number, coef[j] as number);
  k.get(divisor).f64x2Splat().set(dv);
  k.get(zero).set(nan);
  k.get(out).set(out0);
  k.get(pairs).set(pairs0);
  const body = (): void => {
    k.get(zero).get(v).f64x2Abs().f64x2Sub().set(a); // a = 0 − |v|
    k.get(a).get(lowest).f64x2Max().set(c);
    k.get(c).get(log2e).f64x2Mul().get(magic).f64x2Add().get(magic).f64x2Sub().set(kf);
    k.get(c).get(kf).get(hi).f64x2Mul().f64x2Sub().get(kf).get(lo).f64x2Mul().f64x2Sub().set(r);
    // As exp.ts: r⁴ … r¹³ by Estrin's scheme, then Horner's for the leading terms; coef[j] is 1/(13 − j)!.
    const cf = (j: number): number => coef[13 - j] as number;
    const pair = (lo: number, hi: number): void => {
      k.get(cf(lo)).get(cf(hi)).get(r).f64x2Mul().f64x2Add();
    };
    k.get(r).get(r).f64x2Mul().set(r2);
    k.get(r2).get(r2).f64x2Mul().set(r4);
    pair(4, 5);
    pair(6, 7);
    k.get(r2).f64x2Mul().f64x2Add();
    pair(8, 9);
    pair(10, 11);
    k.get(r2).f64x2Mul().f64x2Add();
    k.get(r4).f64x2Mul().f64x2Add();
    pair(12, 13);
    k.get(r4).get(r4).f64x2Mul().f64x2Mul().f64x2Add();
    k.get(r).f64x2Mul().get(cf(3)).f64x2Add();
    k.get(r).f64x2Mul().get(cf(2)).f64x2Add();
    k.get(r).f64x2Mul().get(one).f64x2Add();
    k.get(r).f64x2Mul().get(one).f64x2Add().set(p);
    // e = (p · 2^k) · [a ≥ −708]
    k.get(p).get(kf).get(bias).f64x2Add().i32Const(52).i64x2Shl().f64x2Mul();
    k.get(a).get(lowest).f64x2Ge().get(one).v128And().f64x2Mul().set(e);
    k.get(v).get(zero).f64x2Lt().get(one).v128And().set(neg);
    k.get(e).get(neg).f64x2Mul().get(one).get(neg).f64x2Sub().f64x2Add();
    k.get(one).get(e).f64x2Add().f64x2Div().set(p);
    k.get(out).get(p).v128Store();
    bump(k, out, 16);
  };
  k.get(f32in).if();
  countLoop(k, pairs, () => {
    k.get(x).v128Load64Zero().f64x2PromoteLowF32x4().set(v);
    body();
    bump(k, x, 8);
  });
  k.else();
  countLoop(k, pairs, () => {
    k.get(x).v128Load().set(v);
    body();
    bump(k, x, 16);
  });
  k.end();
  // Sampling, a second pass over the outputs just written (in cache; the σ loop stays branch-free):
  // out ← (p − [u < p]) / divisor, and the NaN flag.
  k.get(u).if();
  k.get(out0).set(out);
  k.get(pairs0).set(pairs);
  countLoop(k, pairs, () => {
    k.get(out).v128Load().set(p);
    k.get(p).get(u).v128Load().get(p).f64x2Lt().get(one).v128And().f64x2Sub().get(dv).f64x2Div().set(p);
    k.get(nan).get(p).get(p).f64x2Ne().v128Or().set(nan);
    k.get(out).get(p).v128Store();
    bump(k, out, 16);
    bump(k, u, 16);
  });
  k.end();
  k.get(nan).v128AnyTrue();
  return { ...funcDef("sigmoid64", [i32, i32, i32, i32, i32, f64], L, k), results: [i32] };
}

/**
 * `bernoulli32(x, out, quads, u, divisor) → i32`: out (float64) = (σ(x) − [u < σ(x)]) / divisor with σ
 * in float32 arithmetic as internal/exp.ts's `logistic32` computes it, four lanes at a time (x float32,
 * u float64, the residual in float64 on the widened σ, two lanes at a time); returns 1 when some output
 * is NaN. 2^k is built from the bits of k + 127 + EXP32_MAGIC shifted into the exponent field.
 */
function bernoulli32(): FuncDef {
  const [x, out, quads, u, divisor] = [0, 1, 2, 3, 4];
  const L = new Locals(5);
  const [v, a, c, kf, r, p, e, neg, s, lo, hi] = L.add(v128, 11);
  const [zero, one, lowest, log2e, magic, bias, ln2hi, ln2lo, one64, dv, nan] = L.add(v128, 11);
  const coef = L.list(v128, 6); // 1/7! … 1/2!
  const k = new Code();
  const splat = (value: number, local: number): void => {
    k.f32Const(value).f32x4Splat().set(local);
  };
  splat(0, zero);
  splat(1, one);
  splat(EXP32_LOWEST, lowest);
  splat(EXP32_LOG2E, log2e);
  splat(EXP32_MAGIC, magic);
  splat(EXP32_MAGIC + 127, bias);
  splat(EXP32_LN2_HI, ln2hi);
  splat(EXP32_LN2_LO, ln2lo);
  for (let j = 0; j < 6; j++) splat(EXP32_TAYLOR[j] as number, coef[j] as number);
  k.f64Const(1).f64x2Splat().set(one64);
  k.get(divisor).f64x2Splat().set(dv);
  k.get(zero).set(nan);
  // The residual of one widened pair of σ, against the uniforms at u + offset, stored at out + offset.
  const residual = (pair: number, offset: number): void => {
    k.get(out).get(pair).get(u).v128Load(offset).get(pair).f64x2Lt().get(one64).v128And().f64x2Sub();
    k.get(dv).f64x2Div().set(pair);
    k.get(nan).get(pair).get(pair).f64x2Ne().v128Or().set(nan);
    k.get(pair).v128Store(offset);
  };
  countLoop(k, quads, () => {
    k.get(x).v128Load().set(v);
    k.get(zero).get(v).f32x4Abs().f32x4Sub().set(a); // a = 0 − |v|
    k.get(a).get(lowest).f32x4Max().set(c);
    k.get(c).get(log2e).f32x4Mul().get(magic).f32x4Add().get(magic).f32x4Sub().set(kf);
    k.get(c).get(kf).get(ln2hi).f32x4Mul().f32x4Sub().get(kf).get(ln2lo).f32x4Mul().f32x4Sub().set(r);
    // Horner from 1/7!: p = ((((((c7·r + c6)·r + c5)·r + c4)·r + c3)·r + c2)·r + 1)·r + 1.
    k.get(coef[0] as number)
      .get(r)
      .f32x4Mul()
      .get(coef[1] as number)
      .f32x4Add();
    for (let j = 2; j < 6; j++)
      k.get(r)
        .f32x4Mul()
        .get(coef[j] as number)
        .f32x4Add();
    k.get(r).f32x4Mul().get(one).f32x4Add();
    k.get(r).f32x4Mul().get(one).f32x4Add().set(p);
    // e = (p · 2^k) · [a ≥ −87]
    k.get(p).get(kf).get(bias).f32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
    k.get(a).get(lowest).f32x4Ge().get(one).v128And().f32x4Mul().set(e);
    k.get(v).get(zero).f32x4Lt().get(one).v128And().set(neg);
    k.get(e).get(neg).f32x4Mul().get(one).get(neg).f32x4Sub().f32x4Add();
    k.get(one).get(e).f32x4Add().f32x4Div().set(s);
    k.get(s).f64x2PromoteLowF32x4().set(lo);
    k.get(s).get(s).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2PromoteLowF32x4().set(hi);
    residual(lo, 0);
    residual(hi, 16);
    bump(k, x, 16);
    bump(k, u, 32);
    bump(k, out, 32);
  });
  k.get(nan).v128AnyTrue();
  return { ...funcDef("bernoulli32", [i32, i32, i32, i32, f64], L, k), results: [i32] };
}

/**
 * The elementwise kernels' module: its own (each module stays under the 4 KB that browsers compile
 * synchronously), over the gemm module's memory, imported as env.memory — shared with `maxPages`
 * when the kernels run on a shared memory (threads.ts), else any size.
 */
export function buildVectorModule(sharedMaxPages = 0): Uint8Array {
  const memory =
    sharedMaxPages > 0
      ? { import: { module: "env", name: "memory" }, minPages: 1, maxPages: sharedMaxPages, shared: true }
      : { import: { module: "env", name: "memory" }, minPages: 1 };
  return encodeModule(memory, vectorFuncs());
}

/** The elementwise kernels (exported by name; instance.ts reads them from the exports). */
function vectorFuncs(): FuncDef[] {
  return [
    scan32(),
    flush32(),
    squares32(),
    round64to32(),
    decay64of32(),
    quotient32(),
    quotientOuter32(),
    foldLower64(),
    rowsFunc("widenRows"),
    rowsFunc("narrowRows"),
    rowsFunc("scaleRows32"),
    axpby32(),
    mirror64(),
    gatherFunc("gather32", false),
    gatherFunc("scatter32", true),
    sigmoid64(),
    bernoulli32(),
  ];
}

/** A `rowsFunc` kernel (byte addresses and strides). */
type RowsKernel = (
  src: number,
  dst: number,
  rows: number,
  cols: number,
  srcStride: number,
  dstStride: number,
  scale: number,
) => void;

export interface VectorKernels {
  readonly scan32: (x: number, blocks: number, tiny: number) => number;
  readonly flush32: (x: number, blocks: number, tiny: number) => void;
  readonly squares32: (x: number, out: number, blocks: number, tiny: number, flushX: number) => void;
  readonly round64to32: (src: number, dst: number, pairs: number, tiny: number) => void;
  readonly decay64of32: (x: number, y: number, pairs: number, rho: number, w: number) => void;
  readonly quotient32: (r: number, s: number, out: number, pairs: number, damping: number, tiny: number) => void;
  readonly quotientOuter32: (
    r: number,
    lamG: number,
    lamA: number,
    out: number,
    rows: number,
    pairs: number,
    rowBytes: number,
    cG: number,
    cA: number,
    add: number,
    tiny: number,
  ) => void;
  readonly foldLower64: (x: number, f: number, d: number, rho: number, w: number) => void;
  readonly gather32: (x: number, ldx: number, rows: number, idx: number, m: number, out: number, ldo: number) => void;
  readonly scatter32: (x: number, ldx: number, rows: number, idx: number, m: number, out: number, ldo: number) => void;
  readonly mirror64: (x: number, d: number, tile: number) => void;
  readonly axpby32: (y: number, x: number, pairs: number, a: number, b: number, copyBack: number) => void;
  readonly sigmoid64: (x: number, out: number, pairs: number, f32in: number, u: number, divisor: number) => number;
  readonly bernoulli32: (x: number, out: number, quads: number, u: number, divisor: number) => number;
  readonly widenRows: RowsKernel;
  readonly scaleRows32: RowsKernel;
  readonly narrowRows: RowsKernel;
}

/** The kernels' exports of an instance of the module (names as in `vectorFuncs`). */
export function vectorKernelsOf(exports: Record<string, unknown>): VectorKernels {
  return exports as unknown as VectorKernels;
}
