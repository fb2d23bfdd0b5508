/**
 * conv2d (im2col + gemm), max and average pooling, NCHW layout.
 *
 * conv2d: y[n, o, oh, ow] = Σ_{c,i,j} W[o, c, i, j] · x[n, g·C_in/groups + c, oh·sh − ph + i·dh,
 * ow·sw − pw + j·dw] (+ b[o]), o in group g; W is C_out × C_in/groups × kh × kw (PyTorch's layout).
 * Computed per example and group as y[n, g-block] = W_g · P_{g,n}ᵀ with the patch matrix of conv.ts
 * (gemm with transB, no transposed copy). The bias is a broadcast add (composite).
 * maxPool2d: y = max over the window (padding never wins: padded taps are skipped, as PyTorch).
 * avgPool2d: y = mean over the window; `countIncludePad` (default true, as PyTorch) divides by kh·kw,
 * otherwise by the number of taps inside the image.
 *
 * Cost: conv2d 2·N·C_out·T·K flops forward (K = C_in/groups·kh·kw, T = H_out·W_out) plus the im2col
 * copy; pooling O(N·C·T·kh·kw).
 */
import { gemmStrided } from "@ekfac-ts/linalg";
import { formatShape } from "../broadcast.ts";
import {
  avgPoolKernel,
  type Conv2dGeometry,
  type Conv2dParams,
  conv2dGeometry,
  type IntPair,
  im2colKernel,
  patchesLength,
} from "../conv.ts";
import { allocLike, assertSameType, assertTensor } from "../internal/check.ts";
import { acquire, acquireInt } from "../pool.ts";
import { record } from "../tape.ts";
import { Tensor } from "../tensor.ts";
import { add } from "./elementwise.ts";
import { reshape } from "./shape.ts";

/** Options of {@link conv2d}: stride, padding, dilation, groups, and an optional patch hook for curvature capture. */
export interface Conv2dOptions extends Conv2dParams {
  /**
   * Called during the forward pass with the patch matrix (groups × (N·T) × K, rows example-major,
   * columns (c, kh, kw)) — the conv layer's input statistics for curvature estimators. The buffer is
   * recycled once the graph is released (after backward), so copy what you keep.
   */
  readonly onPatches?: (patches: Float32Array | Float64Array, geometry: Conv2dGeometry) => void;
}

/** 2-D convolution of x (N×C×H×W) with w (C_out×C/groups×kh×kw), plus an optional bias (C_out). */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const fn = "conv2d";
  assertTensor(fn, "x", x);
  assertTensor(fn, "w", w);
  assertSameType(fn, "x", x, "w", w);
  if (w.ndim !== 4)
    throw new RangeError(`${fn}: w must be 4-D (C_out, C_in/groups, kh, kw) (got shape ${formatShape(w.shape)})`);
  const [outChannels, wIn, kh, kw] = w.shape as [number, number, number, number];
  const g = conv2dGeometry(x.shape, [kh, kw], options, fn);
  const Cg = g.inChannels / g.groups;
  if (wIn !== Cg || outChannels % g.groups !== 0) {
    throw new RangeError(
      `${fn}: w has shape ${formatShape(w.shape)}, expected [C_out, ${Cg}, ${kh}, ${kw}] with C_out divisible by groups = ${g.groups} (x is ${formatShape(x.shape)})`,
    );
  }
  if (bias !== null) {
    assertTensor(fn, "bias", bias);
    assertSameType(fn, "x", x, "bias", bias);
    if (bias.ndim !== 1 || bias.shape[0] !== outChannels) {
      throw new RangeError(`${fn}: bias has shape ${formatShape(bias.shape)}, expected [${outChannels}]`);
    }
  }
  const N = g.batch;
  const T = g.positions;
  const K = g.patchSize;
  const Og = outChannels / g.groups;
  const patches = acquire(patchesLength(g), x.dtype);
  im2colKernel(x.data, g, patches);
  options.onPatches?.(patches, g);
  const y = allocLike(N * outChannels * T, x.data);
  if (T > 0 && Og > 0) {
    for (let grp = 0; grp < g.groups; grp++) {
      for (let n = 0; n < N; n++) {
        // y[n, grp-block] (Og × T) = W_grp (Og × K) · P_{grp,n}ᵀ (K × T).
        gemmStrided(
          false,
          true,
          Og,
          T,
          K,
          1,
          w.data,
          grp * Og * K,
          Math.max(1, K),
          patches,
          (grp * N + n) * T * K,
          Math.max(1, K),
          0,
          y,
          (n * outChannels + grp * Og) * T,
          T,
        );
      }
    }
  }
  const out = new Tensor(y, [N, outChannels, g.outH, g.outW]);
  record("conv2d", [x, w], out, { geometry: g, outChannels }, [patches]);
  return bias === null ? out : add(out, reshape(bias, [1, outChannels, 1, 1]));
}

/** Window of {@link maxPool2d} (and, with `countIncludePad`, {@link avgPool2d}). */
export interface Pool2dOptions {
  /** Window size: one integer for both axes or `[height, width]`. */
  readonly kernelSize: IntPair;
  /** Default: the kernel size. */
  readonly stride?: IntPair;
  /** Zero padding (≤ half the kernel, as PyTorch). Default 0. */
  readonly padding?: IntPair;
}

/** Window of {@link avgPool2d} and how the padded border is averaged. */
export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by kh·kw even where the window overlaps padding (default true, as PyTorch). */
  readonly countIncludePad?: boolean;
}

function poolGeometry(fn: string, x: Tensor, options: Pool2dOptions): Conv2dGeometry {
  assertTensor(fn, "x", x);
  if (options === null || typeof options !== "object" || options.kernelSize === undefined) {
    throw new TypeError(`${fn}: options.kernelSize is required`);
  }
  const k =
    typeof options.kernelSize === "number" ? ([options.kernelSize, options.kernelSize] as const) : options.kernelSize;
  const g = conv2dGeometry(x.shape, k, { stride: options.stride ?? k, padding: options.padding ?? 0 }, fn);
  if (2 * g.padH > g.kernelH || 2 * g.padW > g.kernelW) {
    throw new RangeError(
      `${fn}: padding ${g.padH}×${g.padW} must be at most half the ${g.kernelH}×${g.kernelW} kernel`,
    );
  }
  return g;
}

/** Max pooling over kh×kw windows; the gradient goes to the first maximum of each window. */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const g = poolGeometry("maxPool2d", x, options);
  const { batch: N, inChannels: C, height: H, width: W, kernelH: kh, kernelW: kw, outH, outW } = g;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw } = g;
  const xd = x.data;
  const y = allocLike(N * C * outH * outW, xd);
  const arg = acquireInt(y.length);
  let r = 0;
  for (let plane = 0; plane < N * C; plane++) {
    const base = plane * H * W;
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++, r++) {
        let m = Number.NEGATIVE_INFINITY;
        let a = -1;
        for (let i = 0; i < kh; i++) {
          const ih = oh * sh - ph + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < kw; j++) {
            const iw = ow * sw - pw + j;
            if (iw < 0 || iw >= W) continue;
            const q = base + ih * W + iw;
            const v = xd[q] as number;
            if (a < 0 || v > m || (Number.isNaN(v) && !Number.isNaN(m))) {
              m = v;
              a = q;
            }
          }
        }
        y[r] = m;
        arg[r] = a;
      }
    }
  }
  const out = new Tensor(y, [N, C, outH, outW]);
  record("maxPool2d", [x], out, { geometry: g, countIncludePad: false }, [arg]);
  return out;
}

/** Average pooling over kh×kw windows. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const g = poolGeometry("avgPool2d", x, options);
  const countIncludePad = options.countIncludePad ?? true;
  const { batch: N, inChannels: C, outH, outW } = g;
  const y = allocLike(N * C * outH * outW, x.data);
  avgPoolKernel(g, countIncludePad, x.data, y, false);
  const out = new Tensor(y, [N, C, outH, outW]);
  record("avgPool2d", [x], out, { geometry: g, countIncludePad });
  return out;
}
