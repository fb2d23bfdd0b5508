/**
 * The resident region: a float64 matrix held at the start of the wasm memory across many kernel calls
 * (the blocked tridiagonalization of internal/householder-blocked.ts keeps its trailing matrix there),
 * so that its level-2 loops (`symv4`, `axpy2`, `dot2`, see codegen.ts) run on it in place and gemm
 * copies C from and to it by memmove (see driver.ts) instead of through JavaScript.
 *
 * Source: LAPACK dsytrd/dlatrd's level-2 part (the symmetric matrix-vector product and the rank-2
 * corrections of the panel), with the matrix kept where the SIMD loops can read it.
 * Deviations: while the region is held the memory must not grow (the caller's view would detach), so
 * `reserveResident` grows it once for the products the caller will run (`gemmWasmBytes64`).
 * Cost: one grow at reservation; the loops cost what their JS twins do, with f64x2 arithmetic.
 */
import { geometryOf, U } from "./codegen.ts";
import { ensureBytes, kernels, reservedBytes, setReservedBytes } from "./instance.ts";
import { activeBackend } from "./runtime.ts";

/**
 * Bytes of wasm memory (beyond any resident region) enough for every float64 product of at most
 * m×n×k (see `gemmWasm`'s layout in driver.ts: C̃, one Ã block, one B̃ block).
 */
export function gemmWasmBytes64(m: number, n: number, k: number): number {
  const g = geometryOf(true);
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
  if (activeBackend() !== "wasm" || reservedBytes() > 0) return null;
  const inst = kernels();
  const bytes = Math.ceil((doubles * 8) / 64) * 64;
  ensureBytes(inst, bytes + gemmBytes);
  setReservedBytes(bytes);
  return new Float64Array(inst.memory.buffer, 0, doubles);
}

export function releaseResident(): void {
  setReservedBytes(0);
}

/**
 * `symv4` on the resident region, with element offsets into it (row0 = offset of A[r, 0], ld in
 * elements, u, p and out as offsets), r even; see `symv4Func` in codegen.ts.
 */
export function symv4Wasm(row0: number, ld: number, u: number, p: number, r: number, out: number): void {
  kernels().symv4(row0 * 8, ld * 8, u * 8, p * 8, r, out * 8);
}

/**
 * `axpy2` on the resident region (element offsets): dst[c] = (dst[c] − a·x[c]) − b·y[c], c < len; the
 * odd last element in JS with the same rounding order.
 */
export function axpy2Wasm(v: Float64Array, dst: number, x: number, y: number, a: number, b: number, len: number): void {
  kernels().axpy2(dst * 8, x * 8, y * 8, a, b, len >> 1);
  if (len & 1) {
    const c = len - 1;
    v[dst + c] = (v[dst + c] as number) - a * (v[x + c] as number) - b * (v[y + c] as number);
  }
}

/** `dot2` on the resident region (element offsets): [Σ x·u, Σ y·u] over c < len, into v[out], v[out + 1]. */
export function dot2Wasm(v: Float64Array, x: number, y: number, u: number, len: number, out: number): void {
  kernels().dot2(x * 8, y * 8, u * 8, len >> 1, out * 8);
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
