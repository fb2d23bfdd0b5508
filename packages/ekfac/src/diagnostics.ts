/**
 * Approximation quality of curvature blocks: ‖F − F̂‖_F and traces for diagonal, KFAC and EKFAC.
 *
 * Two ways to measure (MATH.md §4, §5):
 * - explicit (`fisherApproximationReport`): forms the exact Fisher block F (exact-fisher.ts, P × P) and
 *   each block's dense F̂ = Q diag(vec S) Qᵀ. Small layers only (memory P², time N·P² + P³·… for F̂).
 * - Gram (`gramFrobeniusError`): never forms F. With per-example gradients v_n = vec(∇_n):
 *     ‖F − F̂‖²_F = ‖F‖²_F − 2⟨F, F̂⟩ + ‖F̂‖²_F
 *     ‖F‖²_F   = (1/N²) Σ_{n,m} (v_nᵀ v_m)²,  v_nᵀ v_m = Σ_{t,t'} (g_{n,t}·g_{m,t'})(ā_{n,t}·ā_{m,t'})
 *                (for dense layers the product of two N × N Gram matrices, elementwise)
 *     ⟨F, F̂⟩  = (1/N) Σ_n Σ_ij S[i,j] (U_Gᵀ ∇_n U_A)[i,j]²   (F̂ = Q diag(vec S) Qᵀ; KFAC has S = λ_G λ_Aᵀ)
 *     ‖F̂‖²_F  = Σ_ij S[i,j]²   (Q orthogonal)
 *   The middle term is exactly EKFAC's kernel: Σ_ij S ∘ S*_batch · N / N, i.e. ⟨F, F̂⟩ = ⟨S, S*⟩ where S*
 *   is this minibatch's scaling in F̂'s basis — one scaling computation (scaling.ts). Cost for a dense
 *   layer: N²(a + g) for the Gram matrices, N(a² + g²) + N·g·a for S*; memory N² + N(a + g).
 *   The subtraction loses relative accuracy when F̂ ≈ F (cancellation of ‖F‖² against 2⟨F,F̂⟩): the
 *   result is accurate to about ε_machine·‖F‖²_F in the square; it is clamped at 0.
 * Grouped conv layers: F̂ is block-diagonal over groups; F's cross-group blocks count in ‖F‖ only.
 */
import type { LayerBatch, LayerShape } from "./capture.ts";
import { BasisRotation } from "./curvature/basis-rotation.ts";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import { exactFisher, frobeniusDistance, traceOf } from "./curvature/exact-fisher.ts";
import { KroneckerBlock } from "./curvature/kronecker-block.ts";
import { chooseScalingStrategy, scalingInto, scalingRowsSize } from "./curvature/scaling.ts";
import { checkShape, checkStatistics } from "./internal/stats.ts";

/** The layer blocks the Gram error knows how to evaluate (Kronecker and diagonal). */
type LayerBlock = KroneckerBlock | DiagonalFisher;

/**
 * How far the diagonal, KFAC and EKFAC approximations of one layer's Fisher block are from the exact block
 * (`fisherApproximationReport`).
 */
export interface ApproximationErrors {
  /** ‖F‖_F of the exact block. */
  readonly fisherNorm: number;
  /** The trace of the exact block and of each approximation. */
  readonly trace: {
    /** trace(F). */
    readonly exact: number;
    /** trace of the diagonal approximation (equals trace(F)). */
    readonly diagonal: number;
    /** trace(G ⊗ A) = tr G · tr A. */
    readonly kfac: number;
    /** trace of EKFAC's approximation (Σ S*, equals trace(F)). */
    readonly ekfac: number;
  };
  /** ‖F − F̂‖_F per approximation. */
  readonly frobeniusError: {
    /** ‖F − diag F‖_F. */
    readonly diagonal: number;
    /** ‖F − G ⊗ A‖_F. */
    readonly kfac: number;
    /** ‖F − Q diag(S*) Qᵀ‖_F. */
    readonly ekfac: number;
  };
}

/**
 * Fits the diagonal, KFAC and EKFAC approximations to ONE minibatch (no moving averages, fresh basis
 * from these statistics) and compares them with the exact F: the setting of EKFAC's theorem
 * (MATH.md §4). For small layers (forms P × P matrices).
 */
export function fisherApproximationReport(shape: LayerShape, stats: LayerBatch): ApproximationErrors {
  const fn = "fisherApproximationReport";
  const dims = checkShape(fn, shape);
  checkStatistics(fn, shape.kind, dims, stats);
  const kfac = new KroneckerBlock(fn, "kfac", shape, { factorDecay: 0 });
  const ekfac = new KroneckerBlock(fn, "ekfac", shape, { factorDecay: 0, scalingDecay: 0 });
  const diag = new DiagonalFisher(shape, { decay: 0 });
  kfac.updateFactors(stats);
  kfac.updateBasis();
  ekfac.updateFactors(stats);
  ekfac.updateBasis();
  ekfac.updateScaling(stats);
  diag.update(stats);
  const f = exactFisher(shape, stats);
  return compareWithFisher(f, { diagonal: diag, kfac, ekfac });
}

/** ‖F − F̂‖_F and traces for given blocks (e.g. with a stale basis) against an explicit F (P × P). */
export function compareWithFisher(
  f: Float64Array,
  blocks: { readonly diagonal: DiagonalFisher; readonly kfac: KroneckerBlock; readonly ekfac: KroneckerBlock },
): ApproximationErrors {
  const fd = blocks.diagonal.denseApproximation();
  const fk = blocks.kfac.denseApproximation();
  const fe = blocks.ekfac.denseApproximation();
  if (fd.length !== f.length || fk.length !== f.length || fe.length !== f.length) {
    throw new RangeError(
      `compareWithFisher: F has ${f.length} entries, the blocks ${fd.length}, ${fk.length}, ${fe.length}`,
    );
  }
  const zero = new Float64Array(f.length);
  return {
    fisherNorm: frobeniusDistance(f, zero),
    trace: { exact: traceOf(f), diagonal: traceOf(fd), kfac: traceOf(fk), ekfac: traceOf(fe) },
    frobeniusError: {
      diagonal: frobeniusDistance(f, fd),
      kfac: frobeniusDistance(f, fk),
      ekfac: frobeniusDistance(f, fe),
    },
  };
}

/** ‖F − F̂‖_F and its parts, computed from the Gram matrix of per-example gradients (`gramFrobeniusError`). */
export interface GramErrorReport {
  /** ‖F‖²_F from the Gram matrix of per-example gradients. */
  readonly fisherNormSquared: number;
  /** ⟨F, F̂⟩ = trace(F F̂). */
  readonly inner: number;
  /** ‖F̂‖²_F. */
  readonly approximationNormSquared: number;
  /** ‖F − F̂‖_F (the square clamped at 0 before the root). */
  readonly frobeniusError: number;
  /** trace(F) = (1/N) Σ_n ‖v_n‖². */
  readonly fisherTrace: number;
}

/**
 * ‖F − F̂‖_F on these statistics for a block's current approximation F̂ (any basis, e.g. stale),
 * without forming F (MATH.md §5; see header). Works for dense and conv2d blocks and for
 * DiagonalFisher (identity basis).
 */
export function gramFrobeniusError(block: LayerBlock, stats: LayerBatch): GramErrorReport {
  const fn = "gramFrobeniusError";
  if (!(block instanceof KroneckerBlock || block instanceof DiagonalFisher)) {
    throw new TypeError(`${fn}: block must be a KroneckerBlock or a DiagonalFisher`);
  }
  const { aDim: a, gDim: g, groups } = block.dims;
  const rows = checkStatistics(fn, block.shape.kind, block.dims, stats);
  const n = stats.batchSize;
  const t = stats.positions;
  const aData = Float64Array.from(stats.a);
  const gData = Float64Array.from(stats.g);

  // ‖F‖²: v_nᵀ v_m summed over groups (groups occupy disjoint coordinates of v).
  const vv = new Float64Array(n * n);
  for (let k = 0; k < groups; k++) {
    for (let e = 0; e < n; e++) {
      for (let m = e; m < n; m++) {
        let s = 0;
        for (let t1 = 0; t1 < t; t1++) {
          const ra = (k * rows + e * t + t1) * a;
          const rg = (k * rows + e * t + t1) * g;
          for (let t2 = 0; t2 < t; t2++) {
            const sa = (k * rows + m * t + t2) * a;
            const sg = (k * rows + m * t + t2) * g;
            let da = 0;
            for (let j = 0; j < a; j++) da += (aData[ra + j] as number) * (aData[sa + j] as number);
            let dg = 0;
            for (let i = 0; i < g; i++) dg += (gData[rg + i] as number) * (gData[sg + i] as number);
            s += da * dg;
          }
        }
        vv[e * n + m] = (vv[e * n + m] as number) + s;
        if (m !== e) vv[m * n + e] = (vv[m * n + e] as number) + s;
      }
    }
  }
  let fNorm2 = 0;
  let fTrace = 0;
  for (let e = 0; e < n; e++) {
    fTrace += (vv[e * n + e] as number) / n;
    for (let m = 0; m < n; m++) fNorm2 += (vv[e * n + m] as number) ** 2;
  }
  fNorm2 /= n * n;

  // ⟨F, F̂⟩ = Σ_k ⟨S_k, S*_k⟩ with S* this batch's scaling in F̂'s basis; ‖F̂‖² = Σ S².
  const isDiag = block instanceof DiagonalFisher;
  const scaling = isDiag ? block.D : block.eigenScaling();
  const strategy = chooseScalingStrategy(n, t, a, g, isDiag);
  const ws = {
    rows: new Float64Array(scalingRowsSize(strategy, n, t, a, g)),
    m1: new Float64Array(g * a),
    m2: new Float64Array(g * a),
  };
  const sStar = new Float64Array(g * a);
  let inner = 0;
  let fhat2 = 0;
  const kron = block instanceof DiagonalFisher ? null : block;
  const rotA = kron === null ? null : new BasisRotation(kron.uA);
  const rotG = kron === null ? null : new BasisRotation(kron.uG);
  for (let k = 0; k < groups; k++) {
    const uA = kron === null || rotA === null ? null : rotA.reset(kron.uA, k * a * a, a);
    const uG = kron === null || rotG === null ? null : rotG.reset(kron.uG, k * g * g, g);
    scalingInto(sStar, 0, aData, k * rows * a, gData, k * rows * g, n, t, a, g, uA, uG, strategy, ws);
    for (let i = 0; i < g * a; i++) {
      const s = scaling[k * g * a + i] as number;
      inner += s * (sStar[i] as number);
      fhat2 += s * s;
    }
  }
  const err2 = fNorm2 - 2 * inner + fhat2;
  return {
    fisherNormSquared: fNorm2,
    inner,
    approximationNormSquared: fhat2,
    frobeniusError: Math.sqrt(Math.max(0, err2)),
    fisherTrace: fTrace,
  };
}
