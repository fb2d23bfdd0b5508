/**
 * The structural interface through which ekfac consumes a model: plain arrays and sizes, no classes.
 *
 * ekfac depends on linalg alone. Any framework that can hand over, per layer, the homogeneous inputs
 * `ā` and the per-example output gradients `g` of the last forward/backward pass can use KFAC and
 * EKFAC; `@ekfac-ts/nn` implements these interfaces (its Linear and Conv2d layers, and its modules).
 *
 * Conventions (MATH.md §1 and §6):
 * - Dense layer `s = W a + b`, `W` is `outDim × inDim`. `ā = [a; 1]` when `hasBias`, else `a`, so each
 *   row of `a` below has `aDim = inDim + (hasBias ? 1 : 0)` entries.
 * - `g_n = ∂ℓ_n/∂s_n` is the PER-EXAMPLE signal: reverse mode on the mean loss yields `g_n / N`, and the
 *   producer multiplies by `N` before handing it over.
 * - Conv2d: one row per (example, output position), example-major (row `n·T + t`); `a` rows are the
 *   patches in the flattened-kernel order `(c_in, kh, kw)` (+ the trailing 1), `g` rows the `C_out`
 *   output gradients at that position (again scaled by `N`). The per-example weight gradient is the
 *   sum over positions `∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ`.
 * - Grouped conv (`groups > 1`): group `k` sees input channels `k·C_in/groups …` and produces output
 *   channels `k·C_out/groups …`; its statistics are block `k` of `a` (shape `groups × rows × aDim`) and
 *   of `g` (`groups × rows × outDim/groups`), and it is an independent Kronecker block.
 * - The combined parameter `W̄ = [W | b]` is `outDim × aDim` (per group for conv), flattened row-major:
 *   `vec(W̄)[i·aDim + j] = W̄[i, j]`, so `vec(g āᵀ) = g ⊗ ā` and `F ≈ G ⊗ A`.
 */
import type { FloatArray } from "@ekfac-ts/linalg";

/** Per-layer statistics of the last forward/backward pass with capture on. */
export interface LayerStatistics {
  /** N, the number of examples in the minibatch. */
  readonly batchSize: number;
  /** T, output positions per example (1 for dense layers). */
  readonly positions: number;
  /** `groups × (N·T) × aDim` homogeneous inputs ā, row-major. */
  readonly a: FloatArray;
  /** `groups × (N·T) × (outDim/groups)` per-example output gradients g, scaled by N. */
  readonly g: FloatArray;
}

/** A view of one parameter tensor: its values and its gradient from the last backward pass. */
export interface ParameterRef {
  readonly name: string;
  /** The parameter values, flat (row-major); updated in place by optimizers. */
  readonly value: FloatArray;
  /** The gradient of the mean loss, same length as `value`, or null when none was computed. */
  readonly grad: FloatArray | null;
}

/** A layer whose curvature KFAC and EKFAC approximate. */
export interface CurvatureLayer {
  readonly name: string;
  readonly kind: "dense" | "conv2d";
  /** dout (dense) or C_out (conv). */
  readonly outDim: number;
  /** din (dense) or (C_in/groups)·kh·kw (conv), without the bias column. */
  readonly inDim: number;
  readonly hasBias: boolean;
  /** 1 for dense layers. */
  readonly groups: number;
  /** `outDim × inDim` row-major (conv: `C_out × (C_in/groups)·kh·kw`, PyTorch's weight layout). */
  readonly weight: ParameterRef;
  /** `outDim` entries, or null without a bias. */
  readonly bias: ParameterRef | null;
  /** Statistics of the last pass with capture on, or null if none was captured. */
  readonly statistics: LayerStatistics | null;
}

/** A model as ekfac sees it: its curvature layers and every parameter (including theirs). */
export interface CurvatureModel {
  /** The layers to precondition with Kronecker-factored curvature, in a stable order. */
  curvatureLayers(): readonly CurvatureLayer[];
  /** Every trainable parameter, in a stable order, including the curvature layers' own. */
  parameters(): readonly ParameterRef[];
  /** Turn capture of `ā` and `g` on or off for the following passes (off costs nothing). */
  setCapture(on: boolean): void;
}
