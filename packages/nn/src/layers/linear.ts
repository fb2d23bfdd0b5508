/**
 * Dense layer `s = W a + b` (W is `outDim × inDim`, PyTorch's layout), computed for a batch as
 * `S = X·Wᵀ + 1·bᵀ` with one gemm (transB, no transposed copy).
 *
 * Curvature capture (MATH.md §1, KFAC — Martens & Grosse 2015 §3): with capture on, the
 * forward copies the homogeneous inputs `ā_n = [a_n; 1]` (`N × (inDim+1)`, or `N × inDim` without a
 * bias) and registers a gradient hook on `S` that stores `g_n = N·∂L/∂s_n` (reverse mode on the MEAN
 * loss yields `g_n/N`). Then `∇W̄ = (1/N) Σ_n g_n ā_nᵀ`. Buffers are reused while N is unchanged; with
 * capture off nothing is copied and no hook is registered. `statistics` is null from a capturing
 * forward until g is known: after the Fisher pass of an nn loss ("true"/"exact", see
 * `internal/capture.ts`) or after the backward through it ("empirical"), and again after capture off.
 * Cost: 2·N·outDim·inDim flops forward; capture adds O(N·(inDim + outDim)) copies.
 */
import { add, assertTensor, matmul, type Tensor } from "@ekfac-ts/autodiff";
import { allocate, convertRowsInto } from "@ekfac-ts/linalg";
import { pytorchDefaultBias, pytorchDefaultWeight } from "../init.ts";
import { CaptureSite } from "../internal/capture.ts";
import { emptyCaptureCheck, type LayerInit, rngOf, WeightLayer } from "../internal/layer.ts";
import type { Parameter } from "../module.ts";

/** Options of {@link Linear}. */
export interface LinearOptions extends LayerInit {
  /** Default true. */
  readonly bias?: boolean;
}

/**
 * Dense layer s = W·a + b (W is `outDim × inDim`, PyTorch's layout and default initialisation), one gemm
 * per batch. A {@link CurvatureLayer}: with capture on it records the homogeneous inputs ā = [a; 1] and
 * the output gradients g = N·∂L/∂s that KFAC/EKFAC need (Martens & Grosse 2015 §3).
 *
 * @example
 * ```ts
 * const layer = new Linear(784, 10, { rng: 1 });
 * const logits = layer.forward(x); // x: N × 784 → N × 10
 * ```
 */
export class Linear extends WeightLayer {
  readonly kind = "dense" as const;
  readonly groups = 1;
  readonly hasBias: boolean;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  protected readonly site: CaptureSite<"a">;

  constructor(
    /** Input features. */
    readonly inDim: number,
    /** Output features. */
    readonly outDim: number,
    options: LinearOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ["inDim", inDim],
      ["outDim", outDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Linear: ${k} must be a positive integer (got ${v})`);
    }
    const dtype = options.dtype ?? "float32";
    const rng = rngOf(options.rng);
    this.hasBias = options.bias ?? true;
    const w = pytorchDefaultWeight(allocate(outDim * inDim, dtype, "Linear"), [outDim, inDim], rng);
    this.weight = this.registerParameter("weight", w, [outDim, inDim]);
    this.bias = this.hasBias
      ? this.registerParameter("bias", pytorchDefaultBias(allocate(outDim, dtype), inDim, rng), [outDim])
      : null;
    this.site = new CaptureSite("a", 1, inDim + (this.hasBias ? 1 : 0), outDim);
  }

  /** N × inDim → N × outDim. */
  forward(x: Tensor): Tensor {
    assertTensor(`Linear(${this.path || "root"})`, "x", x);
    if (x.ndim !== 2 || x.shape[1] !== this.inDim) {
      throw new RangeError(
        `Linear(${this.path || "root"}): input must be N × ${this.inDim} (got [${x.shape.join(", ")}])`,
      );
    }
    let s = matmul(x, this.weight.tensor, { transB: true });
    if (this.bias !== null) s = add(s, this.bias.tensor);
    if (this.capturesThisPass) {
      emptyCaptureCheck(`Linear(${this.path || "root"})`, x);
      this.captureInputs(x, s);
    }
    return s;
  }

  private captureInputs(x: Tensor, s: Tensor): void {
    const n = x.shape[0] as number;
    const din = this.inDim;
    const aDim = din + (this.hasBias ? 1 : 0);
    const a = this.site.inputs(n, 1, x.dtype);
    // The rows at stride aDim (linalg's row copy: SIMD on the wasm backend), then the bias column.
    convertRowsInto(x.data, 0, din, a, 0, aDim, n, din, 1, !this.hasBias);
    if (this.hasBias) for (let r = 0; r < n; r++) a[r * aDim + din] = 1;
    this.site.attach(s);
  }
}
