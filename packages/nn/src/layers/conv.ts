/**
 * 2-D convolution layer (NCHW), with stride, zero padding, dilation and groups; PyTorch's weight layout
 * `C_out × C_in/groups × kh × kw` and output size `H_out = ⌊(H + 2p − d(kh − 1) − 1)/s⌋ + 1`.
 * The arithmetic is autodiff's `conv2d` (im2col + gemm per group).
 *
 * Curvature capture (KFC — Grosse & Martens 2016; MATH.md §6): with capture on, the
 * patch matrix that `conv2d` builds anyway is copied (through its `onPatches` callback) into
 * `a = groups × (N·T) × aDim`, with `aDim = (C_in/groups)·kh·kw + 1` (the trailing 1 is the bias
 * column; no column without a bias), rows example-major `n·T + t`, columns in the flattened-kernel order
 * `(c_in, kh, kw)`. A hook on the output stores `g = groups × (N·T) × (C_out/groups)` with
 * `g[k][n·T + t][c] = N·∂L/∂s[n, k·C_out/groups + c, t]`. Then per group k the weight gradient is
 * `∇W̄_k = (1/N) Σ_n Σ_t g_{n,t} ā_{n,t}ᵀ` (summed over positions, averaged over examples).
 * Cost: 2·N·T·C_out·(C_in/groups)·kh·kw flops forward; capture adds O(groups·N·T·(aDim + C_out/groups)).
 */
import { assertTensor, conv2d, type Tensor } from "@ekfac-ts/autodiff";
import { allocate, checkFlag, checkOptions, optionKeys } from "@ekfac-ts/linalg";
import { pytorchDefaultBias, pytorchDefaultWeight } from "../init.ts";
import { CaptureSite } from "../internal/capture.ts";
import { checkDtype, rngOf } from "../internal/checks.ts";
import { emptyCaptureCheck, type LayerInit, type Pair, pair, WeightLayer } from "../internal/layer.ts";
import type { Parameter } from "../module.ts";

/** Options of {@link Conv2d}, PyTorch's `Conv2d` conventions. */
export interface Conv2dOptions extends LayerInit {
  /** Step between output positions (default 1). */
  readonly stride?: Pair;
  /** Zeros added on each side of the input (default 0). */
  readonly padding?: Pair;
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: Pair;
  /** Channel groups; inChannels and outChannels must be multiples of it (default 1). */
  readonly groups?: number;
  /** Default true. */
  readonly bias?: boolean;
}

/** The keys of {@link Conv2dOptions} (checked against the interface both ways at compile time). */
const CONV2D_OPTIONS = optionKeys<Conv2dOptions>()(["dtype", "rng", "stride", "padding", "dilation", "groups", "bias"]);

/**
 * 2-D convolution over N × C_in × H × W inputs (NCHW) with stride, zero padding, dilation and groups;
 * PyTorch's weight layout `C_out × C_in/groups × kh × kw` and output size
 * H_out = ⌊(H + 2p − d(kh − 1) − 1)/s⌋ + 1. A {@link CurvatureLayer}: with capture on it records the
 * patch matrix ā and the output gradients g per position (KFC, Grosse & Martens 2016).
 */
export class Conv2d extends WeightLayer {
  readonly kind = "conv2d" as const;
  readonly hasBias: boolean;
  readonly groups: number;
  /** (C_in/groups)·kh·kw. */
  readonly inDim: number;
  /** C_out. */
  readonly outDim: number;
  /** [kh, kw]. */
  readonly kernel: readonly [number, number];
  /** [sh, sw]. */
  readonly stride: readonly [number, number];
  /** [ph, pw], zeros on each side. */
  readonly padding: readonly [number, number];
  /** [dh, dw]. */
  readonly dilation: readonly [number, number];
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  protected readonly site: CaptureSite<"a">;

  constructor(
    /** C_in, the input channels. */
    readonly inChannels: number,
    /** C_out, the output channels. */
    readonly outChannels: number,
    kernelSize: Pair,
    options: Conv2dOptions = {},
  ) {
    super();
    const fn = "Conv2d";
    checkOptions(fn, "options", options, CONV2D_OPTIONS);
    checkFlag(fn, "options.bias", options.bias);
    const dtype = checkDtype(fn, "options.dtype", options.dtype);
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1)
      throw new RangeError(`Conv2d: groups must be a positive integer (got ${groups})`);
    for (const [k, v] of [
      ["inChannels", inChannels],
      ["outChannels", outChannels],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v % groups !== 0) {
        throw new RangeError(`Conv2d: ${k} must be a positive multiple of groups = ${groups} (got ${v})`);
      }
    }
    this.groups = groups;
    this.kernel = pair("kernelSize", kernelSize, 1, 1);
    this.stride = pair("stride", options.stride, 1, 1);
    this.padding = pair("padding", options.padding, 0, 0);
    this.dilation = pair("dilation", options.dilation, 1, 1);
    this.hasBias = options.bias ?? true;
    this.outDim = outChannels;
    const [kh, kw] = this.kernel;
    this.inDim = (inChannels / groups) * kh * kw;
    const rng = rngOf(options.rng, fn, "options.rng");
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.weight = this.registerParameter(
      "weight",
      pytorchDefaultWeight(allocate(outChannels * this.inDim, dtype, "Conv2d"), shape, rng),
      shape,
    );
    this.bias = this.hasBias
      ? this.registerParameter("bias", pytorchDefaultBias(allocate(outChannels, dtype), this.inDim, rng), [outChannels])
      : null;
    this.site = new CaptureSite("a", groups, this.inDim + (this.hasBias ? 1 : 0), outChannels);
  }

  /** N × C_in × H × W → N × C_out × H_out × W_out. */
  forward(x: Tensor): Tensor {
    assertTensor(`Conv2d(${this.path || "root"})`, "x", x);
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(
        `Conv2d(${this.path || "root"}): input must be N × ${this.inChannels} × H × W (got [${x.shape.join(", ")}])`,
      );
    }
    const params = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    if (!this.capturesThisPass) return conv2d(x, this.weight.tensor, this.bias?.tensor ?? null, params);
    emptyCaptureCheck(`Conv2d(${this.path || "root"})`, x);
    const site = this.site;
    const K = this.inDim;
    const aDim = K + (this.hasBias ? 1 : 0);
    const s = conv2d(x, this.weight.tensor, this.bias?.tensor ?? null, {
      ...params,
      onPatches: (patches, geometry) => {
        const a = site.inputs(geometry.batch, geometry.positions, x.dtype);
        if (!this.hasBias) {
          a.set(patches.subarray(0, a.length));
          return;
        }
        for (let r = 0; r < a.length / aDim; r++) {
          const src = r * K;
          const dst = r * aDim;
          for (let j = 0; j < K; j++) a[dst + j] = patches[src + j] as number;
          a[dst + K] = 1;
        }
      },
    });
    site.attach(s);
    return s;
  }
}
