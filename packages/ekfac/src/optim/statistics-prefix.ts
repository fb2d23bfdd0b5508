/**
 * `statisticsFraction`: the curvature statistics of a step taken from the first
 * m = ⌈f·N⌉ of its N examples.
 *
 * Martens & Grosse (2015) estimate the curvature statistics from a subset of the minibatch to cut
 * their cost; the minibatch gradient still uses every example. Here the blocks' statistics (KFAC's
 * factors, EKFAC's S*, the BatchNorm 2×2 Fisher) and the quadratic model's curvature products
 * (MATH.md §11) see the prefix; the gradient, the diagonal fallback's and "ra"'s example count stay
 * the whole batch's. A prefix of a shuffled minibatch is a uniformly random subset, and every layer
 * sees the same examples, so the cross-layer terms of the quadratic model stay consistent.
 *
 * What it saves: the block-side work that scales with the rows — factor products N(a² + g²), S*'s
 * rotated rows and squares, the quadratic model's N·g·a per layer — by the factor f. The Fisher pass
 * itself (nn's second backward) still runs on the whole batch: its cotangent is per example and the
 * backward's products are shaped by the whole batch.
 *
 * Layouts (capture.ts): dense and ungrouped conv statistics keep the rows example-major, so the prefix
 * is a view (`subarray`, made once while the captured buffers stay the same). Grouped conv stores one
 * block per group (`groups × (E·T) × width`): the prefix of each group is copied into a buffer owned
 * here (allocated once per size). Exact-mode statistics are refused by the caller (their N·C
 * pseudo-examples are not a batch to subsample; the exact Fisher is chosen for its accuracy).
 * The views carry no `lossG`: the loss's signals belong to the whole batch's gradient, and EKFAC's
 * rotated gradient from them needs Ã of all N rows (curvature/kronecker-block.ts, "Shared rows"), so
 * with f < 1 the gradient is rotated as usual.
 *
 * Cost: O(1) per layer per step for views; O(groups·m·T·width) copies for grouped conv. No allocation
 * after the first step of a batch size.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import type { FisherMode, LayerShape, LayerStatistics, ScaleShiftStatistics } from "../capture.ts";

type Statistics = LayerStatistics | ScaleShiftStatistics;

/** A mutable statistics object whose fields this module rewrites in place (no allocation per step). */
interface View {
  batchSize: number;
  positions: number;
  fisher: FisherMode;
  pass: number;
  a?: FloatArray;
  g: FloatArray;
  xhat?: FloatArray;
}

interface Entry {
  /** The captured buffers the view was made from (identity), and their batch size. */
  first: FloatArray | null;
  batchSize: number;
  copiedPass: number;
  view: View;
}

/** The number of examples a fraction f of N keeps: ⌈f·N⌉, at least 1, at most N. */
export function prefixCount(fraction: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil(fraction * n - 1e-9)));
}

export class StatisticsPrefix {
  private readonly entries: Entry[];

  /**
   * `shapes[i]`: the layer shape of source i (dense/conv), or null for a scale-shift source.
   * `fraction` in (0, 1], checked by the caller.
   */
  constructor(
    private readonly fraction: number,
    private readonly shapes: readonly (LayerShape | null)[],
  ) {
    this.entries = shapes.map(() => ({
      first: null,
      batchSize: -1,
      copiedPass: Number.NaN,
      view: { batchSize: 0, positions: 0, fisher: "true", pass: 0, g: new Float64Array(0) },
    }));
  }

  /** True when every statistics object passes through unchanged. */
  get identity(): boolean {
    return this.fraction >= 1;
  }

  /** Statistics `s` of source `i` restricted to their first ⌈f·E⌉ examples (`s` itself when f = 1 or E = 1). */
  of(i: number, s: Statistics): Statistics {
    const n = s.batchSize;
    const m = prefixCount(this.fraction, n);
    if (m >= n) return s;
    const e = this.entries[i] as Entry;
    const shape = this.shapes[i] ?? null;
    const v = e.view;
    const layer = shape !== null;
    const first = layer ? (s as LayerStatistics).a : (s as ScaleShiftStatistics).xhat;
    const groups = shape?.groups ?? 1;
    const rebuild = e.first !== first || e.batchSize !== n;
    const rows = n * s.positions;
    const keep = m * s.positions;
    if (groups === 1) {
      if (rebuild) {
        const width = first.length / rows;
        if (layer) v.a = first.subarray(0, keep * width);
        else v.xhat = first.subarray(0, keep * width);
        v.g = s.g.subarray(0, keep * (s.g.length / rows));
      }
    } else {
      const aWidth = first.length / (groups * rows);
      const gWidth = s.g.length / (groups * rows);
      if (rebuild) {
        v.a = sameKind(first, groups * keep * aWidth);
        v.g = sameKind(s.g, groups * keep * gWidth);
      }
      if (rebuild || e.copiedPass !== s.pass) {
        copyGroupPrefixes(first, v.a as FloatArray, groups, rows, keep, aWidth);
        copyGroupPrefixes(s.g, v.g, groups, rows, keep, gWidth);
      }
    }
    e.first = first;
    e.batchSize = n;
    e.copiedPass = s.pass;
    v.batchSize = m;
    v.positions = s.positions;
    v.fisher = s.fisher;
    v.pass = s.pass;
    return v as Statistics;
  }
}

function sameKind(like: FloatArray, length: number): FloatArray {
  return like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length);
}

/** dst block k = the first `keep` rows of src block k (blocks of `rows` rows of `width`). */
function copyGroupPrefixes(
  src: FloatArray,
  dst: FloatArray,
  groups: number,
  rows: number,
  keep: number,
  width: number,
): void {
  const length = keep * width;
  for (let k = 0; k < groups; k++) {
    const from = k * rows * width;
    const to = k * length;
    // A loop, not set(subarray(…)): a subarray is a new typed-array object on every step.
    for (let j = 0; j < length; j++) dst[to + j] = src[from + j] as number;
  }
}
