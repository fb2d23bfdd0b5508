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
 * Deferred weight gradient (`CaptureRequest.deferWeightGradients` names the layer; ekfac's EKFAC asks
 * for it on the layers whose step it forms from these rows, kronecker-block.ts "Shared rows"): the
 * forward hands autodiff's matmul a `gradB` callback, so the user's backward skips the weight's product
 * (N·outDim·inDim multiply-adds, the backward's largest on a wide layer) and the callback leaves
 * `∇W = (1/N) Σ_n r_n a_nᵀ` to `Tensor.deferGrad`, with r the rows that backward recorded (g_L after a
 * Fisher pass, the empirical g otherwise): `weight.gradFromRows` is then true and the first read of
 * `weight.grad` forms the product. The rows and ā it reads stay until the next capturing forward or
 * the next backward's rows, and both form a pending product first. A backward through an older
 * forward of the layer (its rows overwritten since) forms its product at once from its own cotangent
 * and input. Not in "exact" mode (no per-example loss rows) nor with a hook on the weight tensor.
 * Cost: 2·N·outDim·inDim flops forward; capture adds O(N·(inDim + outDim)) copies.
 */
import { add, assertTensor, matmul, type Tensor } from "@ekfac-ts/autodiff";
import {
  allocate,
  checkFlag,
  checkOptions,
  convertRowsInto,
  type FloatArray,
  gemmStrided,
  optionKeys,
} from "@ekfac-ts/linalg";
import { pytorchDefaultBias, pytorchDefaultWeight } from "../init.ts";
import { CaptureSite } from "../internal/capture.ts";
import { checkDtype, rngOf } from "../internal/checks.ts";
import { emptyCaptureCheck, type LayerInit, WeightLayer } from "../internal/layer.ts";
import type { Parameter } from "../module.ts";

const TRANS_B = Object.freeze({ transB: true });

/** Options of {@link Linear}. */
export interface LinearOptions extends LayerInit {
  /** Default true. */
  readonly bias?: boolean;
}

/** The keys of {@link LinearOptions} (checked against the interface both ways at compile time). */
const LINEAR_OPTIONS = optionKeys<LinearOptions>()(["dtype", "rng", "bias"]);

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
  /** Capturing forwards so far (tells the backward of the latest one from an older one's). */
  private forwards = 0;
  /** A deferred weight gradient is pending on these rows, inputs and N (see the header). */
  private deferredRows: FloatArray | null = null;
  private deferredInputs: FloatArray | null = null;
  private deferredN = 0;
  /** `deferGrad`'s callback: W̄ += (1/N) rᵀ ā over the weight's columns (bound once). */
  private readonly addDeferred = (into: FloatArray): void => this.addRowsProduct(into);

  constructor(
    /** Input features. */
    readonly inDim: number,
    /** Output features. */
    readonly outDim: number,
    options: LinearOptions = {},
  ) {
    super();
    const fn = "Linear";
    for (const [k, v] of [
      ["inDim", inDim],
      ["outDim", outDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${fn}: ${k} must be a positive integer (got ${v})`);
    }
    checkOptions(fn, "options", options, LINEAR_OPTIONS);
    checkFlag(fn, "options.bias", options.bias);
    const dtype = checkDtype(fn, "options.dtype", options.dtype);
    const rng = rngOf(options.rng, fn, "options.rng");
    this.hasBias = options.bias ?? true;
    const w = pytorchDefaultWeight(allocate(outDim * inDim, dtype, "Linear"), [outDim, inDim], rng);
    this.weight = this.registerParameter("weight", w, [outDim, inDim]);
    this.bias = this.hasBias
      ? this.registerParameter("bias", pytorchDefaultBias(allocate(outDim, dtype), inDim, rng), [outDim])
      : null;
    this.site = new CaptureSite("a", 1, inDim + (this.hasBias ? 1 : 0), outDim);
    this.site.beforeRows = () => this.formDeferred();
  }

  /** N × inDim → N × outDim. */
  forward(x: Tensor): Tensor {
    assertTensor(`Linear(${this.path || "root"})`, "x", x);
    if (x.ndim !== 2 || x.shape[1] !== this.inDim) {
      throw new RangeError(
        `Linear(${this.path || "root"}): input must be N × ${this.inDim} (got [${x.shape.join(", ")}])`,
      );
    }
    const capture = this.capturesThisPass;
    // ā is rewritten below: a product still deferred to it is formed first.
    if (capture) this.formDeferred();
    const id = capture ? ++this.forwards : 0;
    const defer = capture && this.defersWeightGradient(x);
    let s = matmul(
      x,
      this.weight.tensor,
      defer ? { transB: true, gradB: (cot) => this.weightGradient(id, x, cot) } : TRANS_B,
    );
    if (this.bias !== null) s = add(s, this.bias.tensor);
    if (capture) {
      emptyCaptureCheck(`Linear(${this.path || "root"})`, x);
      this.captureInputs(x, s);
    }
    return s;
  }

  /**
   * Whether this capturing forward leaves the weight's product to the rows: asked for, a mode with
   * per-example loss rows, a weight that takes gradients and has no hook (it would see a partial
   * gradient), and an output the backward reaches (a bias or an input that takes gradients).
   */
  private defersWeightGradient(x: Tensor): boolean {
    const r = this.captureRequest;
    const w = this.weight.tensor;
    return (
      r.deferWeightGradients?.has(this.name) === true &&
      r.fisher !== "exact" &&
      w.requiresGrad &&
      w.hooks === null &&
      (this.bias !== null || x.requiresGrad)
    );
  }

  /** matmul's `gradB` for capturing forward `id` (header, "Deferred weight gradient"). */
  private weightGradient(id: number, x: Tensor, cot: FloatArray): void {
    const w = this.weight.tensor;
    const rows = id === this.forwards ? this.site.userRows : null;
    const stats = this.site.statistics;
    if (rows !== null && stats !== null) {
      this.deferredRows = rows;
      this.deferredInputs = stats.a;
      this.deferredN = stats.batchSize;
      w.deferGrad(this.addDeferred);
      return;
    }
    // An older forward's backward (or no rows recorded): W̄ += C̄ᵀ x now, from this node's own operands.
    const n = x.shape[0] as number;
    const din = this.inDim;
    w.deferGrad((into) =>
      gemmStrided(true, false, this.outDim, din, n, 1, cot, 0, this.outDim, x.data, 0, din, 1, into, 0, din),
    );
    void w.grad;
  }

  private addRowsProduct(into: FloatArray): void {
    const rows = this.deferredRows as FloatArray;
    const a = this.deferredInputs as FloatArray;
    const n = this.deferredN;
    this.deferredRows = this.deferredInputs = null;
    const aDim = this.inDim + (this.hasBias ? 1 : 0);
    gemmStrided(
      true,
      false,
      this.outDim,
      this.inDim,
      n,
      1 / n,
      rows,
      0,
      this.outDim,
      a,
      0,
      aDim,
      1,
      into,
      0,
      this.inDim,
    );
  }

  /** Forms a pending deferred weight gradient (before its rows or inputs are overwritten). */
  private formDeferred(): void {
    if (this.deferredRows === null) return;
    void this.weight.tensor.grad;
    // Discarded by zeroGrad meanwhile: nothing was formed, and nothing is pending any more.
    this.deferredRows = this.deferredInputs = null;
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
