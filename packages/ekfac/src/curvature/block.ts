/**
 * The one interface between the curvature transform (optim/curvature.ts) and every kind of curvature
 * block: Kronecker-factored (KFAC/KFC, EKFAC; kronecker-block.ts), the diagonal Fisher of a layer
 * (diagonal.ts), the per-channel scale-and-shift block of BatchNorm-style layers (scale-shift.ts) and
 * the diagonal fallback for any other parameter (parameter-diagonal.ts). The transform never asks
 * which kind it holds.
 *
 * Each block covers `size` parameters in its own float64 layout (W̄ = [W | b] row-major for layers,
 * [γ; β] for scale-and-shift, the parameter itself for the fallback); the transform packs gradients
 * into that layout and unpacks directions out of it.
 *
 * State: all of a block's data is one plain record (`state`: Float64Arrays and integer counters), so
 * the optimizer saves and restores it through optim/state.ts; `checkState` validates a candidate
 * record (keys, lengths, finite values, integer counters ≥ 0) without writing anything, `bindState`
 * adopts one. The block object itself holds only configuration and workspaces.
 */
import { checkPositive } from "../internal/checks.ts";
import { allFinite } from "../internal/stats.ts";

/** Derived sizes: `aDim = inDim (+1)`, `gDim = outDim/groups`, `P = outDim·aDim`. */
export interface BlockDims {
  /** Length of ā: inDim, plus 1 with a bias. */
  readonly aDim: number;
  /** Rows of W̄ per group: outDim / groups. */
  readonly gDim: number;
  /** Independent Kronecker blocks of the layer (conv groups; 1 for dense layers). */
  readonly groups: number;
  /** Parameters of the whole layer including the bias: outDim·aDim. */
  readonly size: number;
}

/** Result of a basis refresh. */
export interface BasisUpdate {
  /** Eigendecompositions that succeeded (2 per group for a Kronecker block when all is well). */
  readonly succeeded: number;
  /** Eigendecompositions that failed numerically; the previous basis of that factor was kept. */
  readonly failed: number;
}

/** What a block's state may hold: arrays and numbers, one level deep. */
export type BlockState = { [key: string]: Float64Array | number };

/**
 * The interface every curvature block implements (Kronecker, diagonal, scale-and-shift, diagonal fallback):
 * statistics in, a preconditioned direction out, all state in one plain record. `S` is the state record, `B`
 * the statistics batch the block reads.
 */
export interface CurvatureBlock<S extends BlockState = BlockState, B = unknown> {
  /** The block kind, named after kfac-jax's blocks (e.g. "DenseKroneckerFactored", "ScaleAndShift"). */
  readonly kind: string;
  /** Parameters covered (the length of `precondition`'s vectors). */
  readonly size: number;
  /** The block's data; replaced only through `bindState`. */
  readonly state: S;
  /** A fresh state for this block (what a new optimizer starts from). */
  initState(): S;
  /** Throws a TypeError/RangeError naming `fn` unless `state` is a valid state of this block. */
  checkState(fn: string, state: unknown): asserts state is S;
  /** Adopts `state` (checked unless it already is the current one); no copy. */
  bindState(fn: string, state: S): void;
  /** The bound state's arrays were overwritten in place (a restore): drop anything derived from them. */
  stateRestored?(): void;
  /**
   * Folds one batch's statistics into the running estimate (factors, diagonal, 2×2 per channel).
   * Returns false, leaving the estimate as it was, when the batch's contribution is not finite although
   * the statistics are (finite values whose products overflow: float32 Gram matrices of entries beyond
   * ≈ 1e19); a caller refuses the step then, as for non-finite statistics.
   */
  updateStatistics(batch: B): boolean;
  /** Recomputes the basis (eigendecompositions); blocks without a basis return { 0, 0 }. */
  refreshBasis(): BasisUpdate;
  /**
   * Re-estimates the scaling in the current basis (EKFAC's S*; a no-op returning true for the other
   * blocks). False, with the scaling left as it was, when the batch's S* is not finite.
   */
  updateScaling(batch: B): boolean;
  /** EKFAC "ra": the scaling from a minibatch gradient of `batchSize` examples; a no-op elsewhere. */
  updateScalingFromGradient(grad: Float64Array, batchSize: number): void;
  /** out = (F̂ + εI)⁻¹ grad. Pure: reads the state, writes only `out` (may alias `grad`). */
  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array;
  /** F̂ as a dense size × size matrix (diagnostics and tests; allocates). */
  denseApproximation(): Float64Array;
}

/**
 * Checks that `st` is a plain record with exactly the keys of `ref`: Float64Arrays of the same lengths
 * holding finite values, and the listed counters as integers ≥ 0. Shared by every block's `checkState`.
 */
export function checkPlainState(
  fn: string,
  st: unknown,
  ref: Record<string, unknown>,
  counters: readonly string[],
): void {
  if (st === null || typeof st !== "object" || Array.isArray(st)) throw new TypeError(`${fn}: state must be a record`);
  const rec = st as Record<string, unknown>;
  const keys = Object.keys(ref);
  const got = Object.keys(rec);
  if (got.length !== keys.length || keys.some((k) => !(k in rec))) {
    throw new RangeError(`${fn}: state has keys {${got.join(", ")}}, expected {${keys.join(", ")}}`);
  }
  for (const k of keys) {
    const want = ref[k];
    const v = rec[k];
    if (want instanceof Float64Array) {
      if (!(v instanceof Float64Array) || v.length !== want.length) {
        throw new RangeError(
          `${fn}: state.${k} must be a Float64Array of length ${want.length} (got ${v instanceof Float64Array ? `length ${v.length}` : typeof v})`,
        );
      }
      if (!allFinite(v)) throw new RangeError(`${fn}: state.${k} holds NaN or ±Infinity`);
    } else if (counters.includes(k)) {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
        throw new RangeError(`${fn}: state.${k} must be an integer ≥ 0 (got ${String(v)})`);
      }
    } else if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`${fn}: state.${k} must be a finite number (got ${String(v)})`);
    }
  }
}

const NO_BASIS: BasisUpdate = { succeeded: 0, failed: 0 };

/**
 * The plumbing shared by the blocks without a basis (DiagonalFisher, ParameterDiagonalFisher,
 * ScaleShiftBlock): a plain state with an `updates` counter, checked and adopted the same way; no basis
 * to refresh and no separate scaling (those steps are no-ops); `precondition`'s vectors and damping
 * checked in one place.
 */
export abstract class BasisFreeBlock<S extends BlockState & { updates: number }, B> implements CurvatureBlock<S, B> {
  /** The block kind, named after kfac-jax's blocks. */
  abstract readonly kind: string;
  /** Parameters covered (the length of `precondition`'s vectors). */
  abstract readonly size: number;
  /** The block's data; replaced only through `bindState`. */
  abstract state: S;
  /** A fresh state for this block. */
  abstract initState(): S;
  /**
   * Folds one batch's statistics into the running estimate. The basis-free blocks compute in float64
   * and return true: their products overflow only for entries beyond ≈ 1e154, which is not guarded.
   */
  abstract updateStatistics(batch: B): boolean;
  /** out = (F̂ + εI)⁻¹ grad; pure (may alias `grad`). */
  abstract precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array;
  /** F̂ as a dense size × size matrix (diagnostics and tests; allocates). */
  abstract denseApproximation(): Float64Array;

  checkState(fn: string, st: unknown): asserts st is S {
    checkPlainState(fn, st, this.state, ["updates"]);
  }

  bindState(fn: string, st: S): void {
    if (st === this.state) return;
    this.checkState(fn, st);
    this.state = st;
  }

  refreshBasis(): BasisUpdate {
    return NO_BASIS;
  }
  updateScaling(_batch: B): boolean {
    return true;
  }
  updateScalingFromGradient(_grad: Float64Array, _batchSize: number): void {}

  /** grad and out have `size` elements (`sizeName` says what size is) and the damping is finite > 0. */
  protected checkPrecondition(fn: string, grad: Float64Array, out: Float64Array, damping: number, sizeName = ""): void {
    if (grad.length !== this.size || out.length !== this.size) {
      throw new RangeError(
        `${fn}: grad and out must have ${sizeName}${this.size} elements (got ${grad.length}, ${out.length})`,
      );
    }
    checkPositive(fn, "damping", damping);
  }
}
