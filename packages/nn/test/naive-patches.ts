/**
 * An independent, naive patch extraction (im2col) used only as a test oracle for Conv2d's capture:
 * written straight from the definition, not from autodiff's im2col that the layer really uses.
 *
 * For input `x` of shape `N × C_in × H × W`, kernel `kh × kw`, stride `s`, padding `p`, dilation `d`
 * and `G` groups, output position `t = oh·W_out + ow` of example `n` gives row `n·T + t` of block
 * `k` (group k), with columns in the flattened-kernel order `(c, i, j)`:
 *   `ā[k][n·T + t][(c·kh + i)·kw + j] = x[n, k·C_in/G + c, oh·s_h − p_h + i·d_h, ow·s_w − p_w + j·d_w]`
 * (0 outside the image), plus a trailing 1 when the layer has a bias.
 * `H_out = ⌊(H + 2p_h − d_h(kh − 1) − 1)/s_h⌋ + 1` (PyTorch's formula), likewise `W_out`.
 */
import type { FloatArray } from "@ekfac-ts/linalg";

export interface ConvGeometry {
  readonly n: number;
  readonly cIn: number;
  readonly h: number;
  readonly w: number;
  readonly kh: number;
  readonly kw: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padH: number;
  readonly padW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  readonly groups: number;
  readonly hOut: number;
  readonly wOut: number;
}

export function outputSize(size: number, k: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
}

/** Writes the homogeneous patch rows `groups × (N·T) × aDim` into `out`; returns `out`. */
export function extractPatchesInto(out: FloatArray, x: FloatArray, g: ConvGeometry, bias: boolean): FloatArray {
  const cg = g.cIn / g.groups;
  const T = g.hOut * g.wOut;
  const aDim = cg * g.kh * g.kw + (bias ? 1 : 0);
  const rows = g.n * T;
  const hw = g.h * g.w;
  for (let k = 0; k < g.groups; k++) {
    for (let n = 0; n < g.n; n++) {
      for (let oh = 0; oh < g.hOut; oh++) {
        for (let ow = 0; ow < g.wOut; ow++) {
          let o = (k * rows + n * T + oh * g.wOut + ow) * aDim;
          for (let c = 0; c < cg; c++) {
            const base = (n * g.cIn + k * cg + c) * hw;
            for (let i = 0; i < g.kh; i++) {
              const y = oh * g.strideH - g.padH + i * g.dilationH;
              const inY = y >= 0 && y < g.h;
              for (let j = 0; j < g.kw; j++) {
                const xx = ow * g.strideW - g.padW + j * g.dilationW;
                out[o++] = inY && xx >= 0 && xx < g.w ? (x[base + y * g.w + xx] as number) : 0;
              }
            }
          }
          if (bias) out[o] = 1;
        }
      }
    }
  }
  return out;
}
