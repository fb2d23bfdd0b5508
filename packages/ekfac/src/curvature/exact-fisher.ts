/**
 * The exact Fisher block of one layer, formed explicitly: the reference every approximation is tested
 * against, and a diagnostic for small layers.
 *
 *   v_n = vec(∇_n),  ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ  (outDim × aDim, row-major vec: v[i·aDim + j] = ∇[i, j])
 *   F = (1/N) Σ_n v_n v_nᵀ                                        (MATH.md §2)
 *
 * With a grouped conv, ∇_n is block-sparse (group k fills rows k·gDim…) and F is the full P × P matrix,
 * cross-group blocks included. Empirical or true Fisher depending on the g the producer captured.
 * Cost: N·T·P for the per-example gradients, N·P² for F; memory P². Allocates (diagnostics only).
 */
import type { LayerBatch, LayerShape } from "../capture.ts";
import { checkShape, checkStatistics } from "../internal/stats.ts";
import type { BlockDims } from "./block.ts";

/** N × P matrix of per-example gradients vec(∇_n), row-major. */
export function perExampleGradients(shape: LayerShape, stats: LayerBatch): Float64Array {
  const dims = checkShape("perExampleGradients", shape);
  checkStatistics("perExampleGradients", shape.kind, dims, stats);
  const out = new Float64Array(stats.batchSize * dims.size);
  perExampleGradientsInto(out, dims.size, 0, dims, stats);
  return out;
}

/**
 * The unchecked kernel of `perExampleGradients`: vec(∇_n) for every example n (row-major, per group),
 * written to `out` (N rows) at row stride `stride` and column offset `col` — 0 and P for one layer, the
 * running offset inside a whole-model vector for influence functions. Cost N·T·P.
 */
export function perExampleGradientsInto(
  out: Float64Array,
  stride: number,
  col: number,
  dims: BlockDims,
  stats: LayerBatch,
): void {
  const { aDim: a, gDim: g, groups, size } = dims;
  const n = stats.batchSize;
  const t = stats.positions;
  const rows = n * t;
  for (let e = 0; e < n; e++) out.fill(0, e * stride + col, e * stride + col + size);
  for (let k = 0; k < groups; k++) {
    for (let e = 0; e < n; e++) {
      for (let s = 0; s < t; s++) {
        const row = e * t + s;
        const gOff = (k * rows + row) * g;
        const aOff = (k * rows + row) * a;
        for (let i = 0; i < g; i++) {
          const gi = stats.g[gOff + i] as number;
          if (gi === 0) continue;
          const base = e * stride + col + (k * g + i) * a;
          for (let j = 0; j < a; j++) out[base + j] = (out[base + j] as number) + gi * (stats.a[aOff + j] as number);
        }
      }
    }
  }
}

/** F = (1/N) Σ_n v_n v_nᵀ, P × P row-major (float64). */
export function exactFisher(shape: LayerShape, stats: LayerBatch): Float64Array {
  const v = perExampleGradients(shape, stats);
  const n = stats.batchSize;
  const p = v.length / n;
  const f = new Float64Array(p * p);
  for (let e = 0; e < n; e++) {
    const base = e * p;
    for (let i = 0; i < p; i++) {
      const vi = (v[base + i] as number) / n;
      if (vi === 0) continue;
      for (let j = 0; j < p; j++) f[i * p + j] = (f[i * p + j] as number) + vi * (v[base + j] as number);
    }
  }
  return f;
}

/** The mean gradient (1/N) Σ_n vec(∇_n) — what reverse mode on the mean loss returns for W̄. */
export function meanGradient(shape: LayerShape, stats: LayerBatch): Float64Array {
  const v = perExampleGradients(shape, stats);
  const n = stats.batchSize;
  const p = v.length / n;
  const out = new Float64Array(p);
  for (let e = 0; e < n; e++) for (let i = 0; i < p; i++) out[i] = (out[i] as number) + (v[e * p + i] as number) / n;
  return out;
}

/** ‖X − Y‖_F of two equally long arrays. */
export function frobeniusDistance(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`frobeniusDistance: lengths differ (${x.length} vs ${y.length})`);
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] as number) - (y[i] as number);
    s += d * d;
  }
  return Math.sqrt(s);
}

/** trace of a square P × P row-major matrix. */
export function traceOf(x: ArrayLike<number>): number {
  const p = Math.round(Math.sqrt(x.length));
  if (p * p !== x.length) throw new RangeError(`traceOf: length ${x.length} is not a square`);
  let s = 0;
  for (let i = 0; i < p; i++) s += x[i * p + i] as number;
  return s;
}

/** G ⊗ A for g × g and a × a row-major matrices (row-major vec convention: (G ⊗ A)[(i,j),(k,l)] = G[i,k] A[j,l]). */
export function kroneckerDense(gMat: ArrayLike<number>, g: number, aMat: ArrayLike<number>, a: number): Float64Array {
  const p = g * a;
  const out = new Float64Array(p * p);
  for (let i = 0; i < g; i++) {
    for (let k = 0; k < g; k++) {
      const gik = gMat[i * g + k] as number;
      for (let j = 0; j < a; j++) {
        for (let l = 0; l < a; l++) out[(i * a + j) * p + k * a + l] = gik * (aMat[j * a + l] as number);
      }
    }
  }
  return out;
}
