/**
 * What the layers with parameters share (Linear, Conv2d, BatchNorm, pooling, Dropout): the options
 * `LayerInit` (its seed-or-generator rule, `rngOf`, is in checks.ts), the size pairs of the spatial layers, the refusal to capture
 * an empty batch, and `WeightLayer`, the capture plumbing of a {@link CurvatureLayer} (statistics
 * from its `CaptureSite`, the request forwarded on every capture change, itself as its only curvature
 * layer). One home instead of layers importing each other's helpers. Capture itself: MATH.md §1, §6 and
 * internal/capture.ts.
 */
import type { Tensor } from "@ekfac-ts/autodiff";
import type { DType, Rng } from "@ekfac-ts/linalg";
import { type CurvatureLayer, type LayerStatistics, Module, type Parameter } from "../module.ts";
import type { CaptureSite } from "./capture.ts";

/** Element type and initial-weight randomness shared by the layers with parameters. */
export interface LayerInit {
  /** Element type of the parameters (default float32; float64 for gradient checks). */
  readonly dtype?: DType;
  /** Seed or generator for the initial weights (default seed 0). */
  readonly rng?: Rng | number;
}

/** One integer for both spatial axes, or a `[height, width]` pair. */
export type Pair = number | readonly [number, number];

/** A size pair from a number or [h, w], every entry an integer ≥ min; `fn` names the layer. */
export function pair(
  name: string,
  v: Pair | undefined,
  dflt: number,
  min: number,
  fn = "Conv2d",
): readonly [number, number] {
  const p = v === undefined ? ([dflt, dflt] as const) : typeof v === "number" ? ([v, v] as const) : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(`${fn}: ${name} must be an integer ≥ ${min} or a pair of them (got ${String(v)})`);
  }
  return p;
}

/**
 * Capture on an empty batch is refused at the forward: the statistics would be means over zero
 * examples (0/0), and the curvature step would only report "no captured statistics" later.
 */
export function emptyCaptureCheck(layer: string, x: Tensor): void {
  if (x.shape[0] === 0)
    throw new RangeError(`${layer}: capture needs a non-empty batch (got an input of shape [${x.shape.join(", ")}])`);
}

/** A module with a weight (and optional bias) whose ā and g a `CaptureSite` records: Linear, Conv2d. */
export abstract class WeightLayer extends Module implements CurvatureLayer {
  /** "dense" (Linear) or "conv2d" (Conv2d). */
  abstract readonly kind: "dense" | "conv2d";
  /** Output features (Linear) or output channels (Conv2d). */
  abstract readonly outDim: number;
  /** Inputs per output of one group: in features (Linear), C_in/groups·kh·kw (Conv2d). */
  abstract readonly inDim: number;
  /** Whether the layer has a bias. */
  abstract readonly hasBias: boolean;
  /** Channel groups (1 for Linear). */
  abstract readonly groups: number;
  /** The weight, outDim × inDim row-major. */
  abstract readonly weight: Parameter;
  /** The bias (outDim), or null. */
  abstract readonly bias: Parameter | null;
  /** Where the layer's captured ā and g live. */
  protected abstract readonly site: CaptureSite<"a">;

  /** ā and g of the last capturing pass; null from a capturing forward until its backward has run. */
  get statistics(): LayerStatistics | null {
    return this.site.statistics;
  }

  protected override captureChanged(on: boolean): void {
    this.site.request = this.captureRequest;
    if (!on) this.site.clear();
  }

  override curvatureLayers(): readonly CurvatureLayer[] {
    return [this];
  }
}
