/**
 * Exact merging of curvature statistics across disjoint batches (data-parallel training).
 *
 * Every estimate the blocks form from one batch is a mean over its E (pseudo-)examples of per-example
 * terms, so the statistics of a union are the SUMS of the parts divided by the total count:
 *   A = (1/E) Σ_{n,t} ā āᵀ,  G = (1/E) Σ_n (1/T) Σ_t g gᵀ,  S* = (1/E) Σ_n (U_Gᵀ ∇_n U_A)²  (a fixed basis),
 *   scale-shift F_c = (1/E) Σ_e v_{e,c} v_{e,c}ᵀ.
 * `layerContribution` / `scaleShiftContribution` return those sums and E as plain Float64Arrays; workers
 * all-reduce them (`mergeContributions` is the elementwise sum: associative and commutative, so any
 * reduction tree gives the union up to rounding) and `contributionMeans` divides by E. `mergeBatches`
 * concatenates two captured batches of one layer into the batch of their union (the reference the law
 * compares with, and what a single machine would have captured).
 * S* needs the SAME basis on every worker (broadcast U_A, U_G after each refresh).
 *
 * Source: linearity of the empirical means (MATH.md §1, §2). Deviation: none. Cost: one block update
 * per contribution (see kronecker-block.ts, scale-shift.ts); merging is O(size).
 */
import type { LayerBatch, LayerShape, ScaleShiftBatch } from "../capture.ts";
import { checkShape, checkStatistics } from "../internal/stats.ts";
import { KroneckerBlock } from "./kronecker-block.ts";
import { ScaleShiftBlock } from "./scale-shift.ts";

/** Sums of per-example terms over `examples` (pseudo-)examples, by name ("A", "G", "S", "F"). */
export interface Contribution {
  /** The number of (pseudo-)examples the sums run over. */
  readonly examples: number;
  /** Per-example terms summed, by name ("A", "G", "S", "F"); divide by `examples` for the mean. */
  readonly sums: { readonly [name: string]: Float64Array };
}

function scaled(x: Float64Array, s: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = s * (x[i] as number);
  return out;
}

/**
 * A dense/conv layer's sums: "A" = Σ ā āᵀ, "G" = Σ_n (1/T)Σ_t g gᵀ (groups × a², groups × g²) and, when a
 * basis is given (groups × a² and groups × g², eigenvectors as columns), "S" = Σ_n (U_Gᵀ∇_nU_A)².
 */
export function layerContribution(
  shape: LayerShape,
  batch: LayerBatch,
  basis: { readonly uA: Float64Array; readonly uG: Float64Array } | null = null,
): Contribution {
  const fn = "layerContribution";
  const block = new KroneckerBlock(fn, "ekfac", shape, { factorDecay: 0, scalingDecay: 0 });
  checkStatistics(fn, shape.kind, block.dims, batch);
  const e = batch.batchSize;
  block.updateFactors(batch);
  const sums: { [name: string]: Float64Array } = { A: scaled(block.A, e), G: scaled(block.G, e) };
  if (basis !== null) {
    if (basis.uA.length !== block.uA.length || basis.uG.length !== block.uG.length) {
      throw new RangeError(
        `${fn}: basis.uA and basis.uG must have ${block.uA.length} and ${block.uG.length} entries (got ${basis.uA.length}, ${basis.uG.length})`,
      );
    }
    block.state.uA.set(basis.uA);
    block.state.uG.set(basis.uG);
    block.stateRestored();
    block.updateScaling(batch);
    sums.S = scaled(block.S, e);
  }
  return { examples: e, sums };
}

/** A scale-shift layer's sums: "F" = Σ_e v_e v_eᵀ per channel (channel-major k × k, k = 2 with a shift). */
export function scaleShiftContribution(channels: number, hasShift: boolean, batch: ScaleShiftBatch): Contribution {
  const block = new ScaleShiftBlock(channels, hasShift, { decay: 0 });
  block.updateStatistics(batch);
  return { examples: batch.batchSize, sums: { F: scaled(block.state.F, batch.batchSize) } };
}

/** The contribution of the union of two disjoint batches: counts and sums added. */
export function mergeContributions(x: Contribution, y: Contribution): Contribution {
  const fn = "mergeContributions";
  const keys = Object.keys(x.sums);
  const other = Object.keys(y.sums);
  if (keys.length !== other.length || keys.some((k) => !(k in y.sums))) {
    throw new RangeError(`${fn}: the contributions hold {${keys.join(", ")}} and {${other.join(", ")}}`);
  }
  const sums: { [name: string]: Float64Array } = {};
  for (const k of keys) {
    const a = x.sums[k] as Float64Array;
    const b = y.sums[k] as Float64Array;
    if (a.length !== b.length) throw new RangeError(`${fn}: sums.${k} have lengths ${a.length} and ${b.length}`);
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
    sums[k] = out;
  }
  return { examples: x.examples + y.examples, sums };
}

/** The means (A, G, S*, F) of a contribution: every sum divided by its count. */
export function contributionMeans(c: Contribution): { [name: string]: Float64Array } {
  if (!(Number.isInteger(c.examples) && c.examples >= 1)) {
    throw new RangeError(`contributionMeans: examples must be a positive integer (got ${c.examples})`);
  }
  const out: { [name: string]: Float64Array } = {};
  for (const [k, v] of Object.entries(c.sums)) out[k] = scaled(v, 1 / c.examples);
  return out;
}

/** One layer's captured batch of the union of two disjoint batches (rows concatenated per group). */
export function mergeBatches(shape: LayerShape, x: LayerBatch, y: LayerBatch): LayerBatch {
  const fn = "mergeBatches";
  const dims = checkShape(fn, shape);
  const rx = checkStatistics(fn, shape.kind, dims, x);
  const ry = checkStatistics(fn, shape.kind, dims, y);
  if (x.positions !== y.positions) {
    throw new RangeError(`${fn}: the batches have ${x.positions} and ${y.positions} positions per example`);
  }
  const cat = (u: ArrayLike<number>, v: ArrayLike<number>, width: number): Float64Array => {
    const out = new Float64Array(dims.groups * (rx + ry) * width);
    for (let k = 0; k < dims.groups; k++) {
      const base = k * (rx + ry) * width;
      for (let i = 0; i < rx * width; i++) out[base + i] = u[k * rx * width + i] as number;
      for (let i = 0; i < ry * width; i++) out[base + rx * width + i] = v[k * ry * width + i] as number;
    }
    return out;
  };
  return {
    batchSize: x.batchSize + y.batchSize,
    positions: x.positions,
    a: cat(x.a, y.a, dims.aDim),
    g: cat(x.g, y.g, dims.gDim),
  };
}
