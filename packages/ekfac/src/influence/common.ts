/**
 * Shared plumbing of the influence functions: the batch contract, layer snapshots and checks, and the
 * float64 copies of captured statistics that fitting and scoring consume.
 *
 * The batch contract. A dataset is an iterable of `InfluenceBatch` callbacks; each one runs the
 * caller's forward and backward pass over one minibatch of a fixed set of examples, in a fixed order,
 * with the model's capture already turned on by the influence code. It receives which targets to
 * backpropagate:
 * - `"labels"`: the dataset's own targets (the per-example training-loss gradient ∇θ ℓ(z_n); scoring
 *   always asks for these, and the empirical Fisher uses them);
 * - `"sampled"`: targets drawn from the model's predictive distribution ŷ ~ p(y | x_n, θ) (nn's
 *   `sampleCategorical`, `sampleBernoulli`, `sampleGaussian`), which makes E[g gᵀ] the TRUE Fisher
 *   (equal to the Gauss-Newton matrix for these losses; Grosse et al. 2023 §2.2, kronfluence's default).
 * A callback that seeds its sampler from the batch index draws the same targets in both passes of
 * `fitInfluence`; otherwise the second pass sees fresh samples (as kronfluence does), which is just
 * as valid an estimate. Callbacks must leave every curvature layer's `statistics` filled, with the same
 * N for all layers.
 *
 * Validation happens here, at the public boundary: shapes, equal N across layers, finite values.
 * Statistics are copied into float64 workspaces (capture buffers are reused by the next pass).
 */
import type {
  BatchLayer as CurvatureLayer,
  BatchCaptureModel as CurvatureModel,
  LayerShape,
  LayerBatch as LayerStatistics,
} from "../capture.ts";
import type { BlockDims } from "../curvature/block.ts";
import { kind } from "../internal/checks.ts";
import { allFinite, checkShape, checkStatistics, layerShape } from "../internal/stats.ts";

/** Which targets a batch callback backpropagates: the dataset's labels or samples from the model. */
export type InfluenceTargets = "labels" | "sampled";

/** Runs forward and backward over one minibatch (capture is on); see the header for the contract. */
export type InfluenceBatch = (targets: InfluenceTargets) => void;

/** Progress of a fit or a scoring run, reported after each batch (and once per phase change). */
export interface InfluenceProgress {
  /**
   * The phase running: fitting factors, eigenbases, scalings or the exact Fisher, then scoring queries or
   * training examples.
   */
  readonly phase: "factors" | "eigenbasis" | "scaling" | "exact-fisher" | "queries" | "train";
  /** Batches finished in this phase. */
  readonly batches: number;
  /** Examples finished in this phase. */
  readonly examples: number;
}

/** One curvature layer as an influence fit records it. */
export interface InfluenceLayer {
  /** The layer's name in the model. */
  readonly name: string;
  /** The layer's shape when the fit ran (scoring refuses a model whose layers differ). */
  readonly shape: LayerShape;
  /** aDim, gDim and groups derived from the shape. */
  readonly dims: BlockDims;
  /** The damping λ this layer adds to its curvature block, (F̂_l + λ_l I)⁻¹. */
  readonly damping: number;
}

/** Float64 copies of one layer's statistics for one batch (rows = N·T, groups stacked). */
export interface Float64Statistics {
  /** N examples in the batch. */
  readonly batchSize: number;
  /** T positions per example (1 for dense layers). */
  readonly positions: number;
  /** `groups × (N·T) × aDim` homogeneous inputs ā. */
  readonly a: Float64Array;
  /** `groups × (N·T) × gDim` per-example output gradients g. */
  readonly g: Float64Array;
}

export function describeShape(s: LayerShape): string {
  const groups = s.groups > 1 ? `, ${s.groups} groups` : "";
  return `${s.kind} ${s.outDim}×${s.inDim}${s.hasBias ? " + bias" : ""}${groups}`;
}

/** A callback option (`options.onProgress`, `options.onBatch`): undefined or a function. */
export function checkCallback(fn: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`${fn}: ${name} must be a function (got ${kind(value)})`);
  }
}

export function checkModel(fn: string, model: CurvatureModel): readonly CurvatureLayer[] {
  if (
    model === null ||
    typeof model !== "object" ||
    typeof model.curvatureLayers !== "function" ||
    typeof model.setCapture !== "function"
  ) {
    throw new TypeError(`${fn}: model must be a CurvatureModel (curvatureLayers(), setCapture())`);
  }
  const layers = model.curvatureLayers();
  if (layers.length === 0) throw new RangeError(`${fn}: model has no curvature layers`);
  return layers;
}

/** The model's layers with their validated shapes. */
export function snapshotLayers(
  fn: string,
  model: CurvatureModel,
): { shape: LayerShape; dims: BlockDims; name: string }[] {
  return checkModel(fn, model).map((layer, i) => {
    const shape = layerShape(layer);
    const dims = checkShape(`${fn}: model layer ${i} ("${layer.name}")`, shape);
    return { shape, dims, name: layer.name };
  });
}

/** Throws RangeError when the model's curvature layers differ from those a fit was made on. */
export function checkSameLayers(fn: string, fitted: readonly InfluenceLayer[], model: CurvatureModel): void {
  const layers = checkModel(fn, model);
  if (layers.length !== fitted.length) {
    throw new RangeError(
      `${fn}: model has ${layers.length} curvature layers but the fit has ${fitted.length} (a different model?)`,
    );
  }
  for (let i = 0; i < layers.length; i++) {
    const have = layerShape(layers[i] as CurvatureLayer);
    const want = (fitted[i] as InfluenceLayer).shape;
    if (
      have.kind !== want.kind ||
      have.outDim !== want.outDim ||
      have.inDim !== want.inDim ||
      have.hasBias !== want.hasBias ||
      have.groups !== want.groups
    ) {
      throw new RangeError(
        `${fn}: model layer ${i} ("${(layers[i] as CurvatureLayer).name}") is ${describeShape(have)} but the fit has ${describeShape(want)}`,
      );
    }
  }
}

function checkBatches(fn: string, arg: string, batches: Iterable<InfluenceBatch>): void {
  if (
    batches === null ||
    typeof batches !== "object" ||
    typeof (batches as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `${fn}: ${arg} must be an iterable of batch callbacks (got ${batches === null ? "null" : typeof batches})`,
    );
  }
}

/**
 * Runs every batch with capture on and hands each batch's float64 statistics (one entry per layer) to
 * `visit`. Checks shapes, equal N across layers and finiteness. Returns the number of examples seen.
 * Capture is turned off afterwards (also on error).
 */
export function forEachBatch(
  fn: string,
  arg: string,
  model: CurvatureModel,
  layers: readonly { readonly dims: BlockDims; readonly shape: LayerShape }[],
  batches: Iterable<InfluenceBatch>,
  targets: InfluenceTargets,
  visit: (stats: readonly Float64Statistics[], batchIndex: number, offset: number) => void,
): number {
  checkBatches(fn, arg, batches);
  const live = checkModel(fn, model);
  let examples = 0;
  let b = 0;
  // Copies grow to the largest batch and are reused (capture buffers belong to the model).
  const copies = layers.map(() => ({ a: new Float64Array(0), g: new Float64Array(0) }));
  model.setCapture(true, { fisher: "empirical", seed: 0 });
  try {
    for (const batch of batches) {
      if (typeof batch !== "function") {
        throw new TypeError(`${fn}: ${arg}[${b}] must be a function (targets) => void (got ${typeof batch})`);
      }
      batch(targets);
      let n = -1;
      const stats: Float64Statistics[] = [];
      for (let l = 0; l < layers.length; l++) {
        const layer = live[l] as CurvatureLayer;
        const where = `${fn}: ${arg}[${b}], layer ${l} ("${layer.name}")`;
        const s: LayerStatistics | null = layer.statistics;
        if (s === null) {
          throw new RangeError(
            `${where}: no statistics were captured (did the batch callback run forward and backward?)`,
          );
        }
        const { dims, shape } = layers[l] as { dims: BlockDims; shape: LayerShape };
        const rows = checkStatistics(where, shape.kind, dims, s);
        if (n === -1) n = s.batchSize;
        else if (s.batchSize !== n) {
          throw new RangeError(`${where}: statistics.batchSize = ${s.batchSize} but layer 0 has ${n}`);
        }
        if (!allFinite(s.a)) throw new RangeError(`${where}: statistics.a (activations ā) contains NaN or ±Inf`);
        if (!allFinite(s.g)) throw new RangeError(`${where}: statistics.g (output gradients g) contains NaN or ±Inf`);
        const c = copies[l] as { a: Float64Array; g: Float64Array };
        if (c.a.length < s.a.length) c.a = new Float64Array(s.a.length);
        if (c.g.length < s.g.length) c.g = new Float64Array(s.g.length);
        c.a.set(s.a);
        c.g.set(s.g);
        stats.push({
          batchSize: s.batchSize,
          positions: s.positions,
          a: c.a.subarray(0, dims.groups * rows * dims.aDim),
          g: c.g.subarray(0, dims.groups * rows * dims.gDim),
        });
      }
      visit(stats, b, examples);
      examples += n;
      b++;
    }
  } finally {
    model.setCapture(false);
  }
  return examples;
}
