/**
 * im2col / col2im for 2-D convolution in NCHW layout, with stride, zero padding, dilation and groups.
 *
 * Equation: with T = H_out·W_out output positions and K = (C_in/groups)·kh·kw, the patch matrix of
 * group g holds one row per (example n, position t = oh·W_out + ow), example-major, and one column per
 * kernel tap in flattened-kernel order (c, i, j) (PyTorch's weight layout, so W_g·rowᵀ is the output):
 *   P[g, n·T + t, (c·kh + i)·kw + j] = x[n, g·C_in/groups + c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
 * (0 outside the image). Then conv2d is, per example and group, y[n, g-block] = W_g · P_{g,n}ᵀ, and
 * col2im is the adjoint: it scatter-adds a patch-shaped gradient back onto the image.
 * Output size: H_out = ⌊(H + 2ph − dh(kh − 1) − 1)/sh⌋ + 1 (PyTorch's Conv2d formula), same for W.
 *
 * Layout choice: rows are (example, position), so the buffer is exactly the `a` statistics ekfac's
 * `LayerStatistics` wants for a conv layer (groups × (N·T) × K, before the homogeneous column), and
 * the forward product uses gemm with transB instead of a transposed copy.
 * Source: Chellapilla, Puri & Simard, "High performance convolutional neural networks for document
 * processing", 2006 (unrolling convolutions); Grosse & Martens 2016 §3.1 for the patch statistics.
 *
 * Cost: O(groups·N·T·K) reads and writes each way; memory groups·N·T·K elements.
 */
import type { FloatArray } from "@ekfac-ts/linalg";

/** Everything im2col/col2im need; build it with `conv2dGeometry`. */
export interface Conv2dGeometry {
  /** N, the number of examples. */
  readonly batch: number;
  /** C_in, the input channels (all groups). */
  readonly inChannels: number;
  /** H, the input height. */
  readonly height: number;
  /** W, the input width. */
  readonly width: number;
  /** kh, the kernel height. */
  readonly kernelH: number;
  /** kw, the kernel width. */
  readonly kernelW: number;
  /** sh, the vertical stride. */
  readonly strideH: number;
  /** sw, the horizontal stride. */
  readonly strideW: number;
  /** ph, zero rows added above and below. */
  readonly padH: number;
  /** pw, zero columns added left and right. */
  readonly padW: number;
  /** dh, the vertical spacing of kernel taps. */
  readonly dilationH: number;
  /** dw, the horizontal spacing of kernel taps. */
  readonly dilationW: number;
  /** Channel groups; each sees C_in/groups input channels. */
  readonly groups: number;
  /** H_out = ⌊(H + 2ph − dh(kh − 1) − 1)/sh⌋ + 1. */
  readonly outH: number;
  /** W_out = ⌊(W + 2pw − dw(kw − 1) − 1)/sw⌋ + 1. */
  readonly outW: number;
  /** T = outH·outW. */
  readonly positions: number;
  /** K = (inChannels/groups)·kernelH·kernelW. */
  readonly patchSize: number;
}

/** One integer for both spatial axes, or a `[height, width]` pair. */
export type IntPair = number | readonly [number, number];

/** The convolution hyper-parameters besides the kernel size, PyTorch's `Conv2d` conventions. */
export interface Conv2dParams {
  /** Step between output positions (default 1). */
  readonly stride?: IntPair;
  /** Zeros added on each side of the input (default 0). */
  readonly padding?: IntPair;
  /** Spacing of the kernel taps (default 1). */
  readonly dilation?: IntPair;
  /** Channel groups: input and output channels split into this many independent convolutions (default 1). */
  readonly groups?: number;
}

function pairOf(fn: string, name: string, v: IntPair | undefined, dflt: number, min: number): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : v;
  const a = p[0] as number;
  const b = p[1] as number;
  if (p.length !== 2 || !Number.isInteger(a) || !Number.isInteger(b) || a < min || b < min) {
    throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min} or a pair of them (got ${String(v)})`);
  }
  return [a, b];
}

/**
 * Validates sizes and computes the output geometry of a convolution of an N×C×H×W input with a
 * kh×kw kernel. `fn` names the caller in error messages.
 */
export function conv2dGeometry(
  inputShape: readonly number[],
  kernel: readonly [number, number],
  params: Conv2dParams = {},
  fn = "conv2dGeometry",
): Conv2dGeometry {
  if (inputShape.length !== 4) {
    throw new RangeError(`${fn}: input must be 4-D (N, C, H, W) (got shape [${inputShape.join(",")}])`);
  }
  const [batch, inChannels, height, width] = inputShape as [number, number, number, number];
  const [kernelH, kernelW] = pairOf(fn, "kernel size", kernel, 1, 1);
  const [strideH, strideW] = pairOf(fn, "stride", params.stride, 1, 1);
  const [padH, padW] = pairOf(fn, "padding", params.padding, 0, 0);
  const [dilationH, dilationW] = pairOf(fn, "dilation", params.dilation, 1, 1);
  const groups = params.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0) {
    throw new RangeError(
      `${fn}: groups = ${groups} must be a positive integer dividing the ${inChannels} input channels`,
    );
  }
  const outH = Math.floor((height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH) + 1;
  const outW = Math.floor((width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW) + 1;
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `${fn}: a ${kernelH}×${kernelW} kernel (dilation ${dilationH}×${dilationW}) does not fit the padded ${height + 2 * padH}×${width + 2 * padW} input`,
    );
  }
  return {
    batch,
    inChannels,
    height,
    width,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    groups,
    outH,
    outW,
    positions: outH * outW,
    patchSize: (inChannels / groups) * kernelH * kernelW,
  };
}

/** Length of the patch buffer: groups · (N·T) · K. */
export function patchesLength(g: Conv2dGeometry): number {
  return g.groups * g.batch * g.positions * g.patchSize;
}

/** @internal Unchecked im2col: writes every element of `p`. */
export function im2colKernel(x: FloatArray, g: Conv2dGeometry, p: FloatArray): void {
  const { batch: N, inChannels: C, height: H, width: W, kernelH: kh, kernelW: kw, outH, outW } = g;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, groups } = g;
  const Cg = C / groups;

  let r = 0;
  for (let grp = 0; grp < groups; grp++) {
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < outH; oh++) {
        for (let ow = 0; ow < outW; ow++) {
          // r = ((grp·N + n)·T + t)·K: rows are written in order.
          for (let c = 0; c < Cg; c++) {
            const plane = (n * C + grp * Cg + c) * H;
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - ph + i * dh;
              if (ih < 0 || ih >= H) {
                for (let j = 0; j < kw; j++) p[r++] = 0;
                continue;
              }
              const rowBase = (plane + ih) * W;
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw - pw + j * dw;
                p[r++] = iw >= 0 && iw < W ? (x[rowBase + iw] as number) : 0;
              }
            }
          }
        }
      }
    }
  }
}

/** @internal Unchecked col2im: dx += scatter of `p` (the adjoint of im2colKernel). */
export function col2imKernel(p: FloatArray, g: Conv2dGeometry, dx: FloatArray): void {
  const { batch: N, inChannels: C, height: H, width: W, kernelH: kh, kernelW: kw, outH, outW } = g;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, groups } = g;
  const Cg = C / groups;
  let r = 0;
  for (let grp = 0; grp < groups; grp++) {
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < outH; oh++) {
        for (let ow = 0; ow < outW; ow++) {
          for (let c = 0; c < Cg; c++) {
            const plane = (n * C + grp * Cg + c) * H;
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh - ph + i * dh;
              if (ih < 0 || ih >= H) {
                r += kw;
                continue;
              }
              const rowBase = (plane + ih) * W;
              for (let j = 0; j < kw; j++, r++) {
                const iw = ow * sw - pw + j * dw;
                if (iw >= 0 && iw < W) dx[rowBase + iw] = (dx[rowBase + iw] as number) + (p[r] as number);
              }
            }
          }
        }
      }
    }
  }
}

function checkBuffer(fn: string, name: string, buf: unknown, length: number): void {
  if (!(buf instanceof Float32Array || buf instanceof Float64Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or Float64Array`);
  }
  if (buf.length !== length) throw new RangeError(`${fn}: ${name} has length ${buf.length}, expected ${length}`);
}

/**
 * The patch matrix of `x` (N·C·H·W values, NCHW): groups × (N·T) × K, rows example-major, columns in
 * (c, kh, kw) order. Writes into `out` when given (same element type as `x`).
 */
export function im2col(x: FloatArray, geometry: Conv2dGeometry, out?: FloatArray): FloatArray {
  const g = geometry;
  checkBuffer("im2col", "x", x, g.batch * g.inChannels * g.height * g.width);
  const p =
    out ?? (x instanceof Float64Array ? new Float64Array(patchesLength(g)) : new Float32Array(patchesLength(g)));
  checkBuffer("im2col", "out", p, patchesLength(g));
  if (p.constructor !== x.constructor) throw new TypeError("im2col: out must have x's element type");
  im2colKernel(x, g, p);
  return p;
}

/**
 * The adjoint of im2col: scatter-adds the patch-shaped `cols` onto an N×C×H×W image. Adds into `out`
 * when given (pass zeros for a plain col2im), else into a new zero image.
 */
export function col2im(cols: FloatArray, geometry: Conv2dGeometry, out?: FloatArray): FloatArray {
  const g = geometry;
  const size = g.batch * g.inChannels * g.height * g.width;
  checkBuffer("col2im", "cols", cols, patchesLength(g));
  const dx = out ?? (cols instanceof Float64Array ? new Float64Array(size) : new Float32Array(size));
  checkBuffer("col2im", "out", dx, size);
  if (dx.constructor !== cols.constructor) throw new TypeError("col2im: out must have cols' element type");
  col2imKernel(cols, g, dx);
  return dx;
}

/**
 * @internal Average pooling over kh×kw windows (stride, zero padding; no dilation or groups) and its
 * adjoint, over the same windows so the two cannot disagree. Forward: y[r] = Σ_window x / d. Adjoint
 * (`adjoint` true, the rule of avgPool2d): x[window r] += y[r] / d. The divisor d is kh·kw with
 * `countIncludePad` (PyTorch's default), else the number of in-image taps. Cost: O(N·C·H_out·W_out·kh·kw).
 */
export function avgPoolKernel(
  g: Conv2dGeometry,
  countIncludePad: boolean,
  x: FloatArray,
  y: FloatArray,
  adjoint: boolean,
): void {
  const { batch: N, inChannels: C, height: H, width: W, kernelH: kh, kernelW: kw, outH, outW } = g;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw } = g;
  let r = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * H * W;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = Math.max(0, oh * sh - ph);
      const h1 = Math.min(H, oh * sh - ph + kh);
      for (let ow = 0; ow < outW; ow++, r++) {
        const w0 = Math.max(0, ow * sw - pw);
        const w1 = Math.min(W, ow * sw - pw + kw);
        const d = countIncludePad ? kh * kw : (h1 - h0) * (w1 - w0);
        if (adjoint) {
          const v = (y[r] as number) / d;
          for (let ih = h0; ih < h1; ih++) {
            for (let iw = w0; iw < w1; iw++) x[base + ih * W + iw] = (x[base + ih * W + iw] as number) + v;
          }
        } else {
          let s = 0;
          for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) s += x[base + ih * W + iw] as number;
          y[r] = s / d;
        }
      }
    }
  }
}
