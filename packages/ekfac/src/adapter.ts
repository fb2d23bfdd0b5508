/**
 * Wires a `CurvatureModel` to curvature blocks: every curvature layer gets a block (KFAC, EKFAC or the
 * diagonal Fisher), and every other parameter gets a stated first-order rule. Nothing is skipped
 * silently: `plan` lists each parameter with the rule that updates it.
 *
 * Rule for the other parameters ("first-order"): their direction is the raw gradient of the mean
 * loss, which then goes through the same first-order chain (momentum, learning rate) as the
 * preconditioned directions. (A per-parameter diagonal rule would be a natural extension.)
 *
 * Layout: W̄ = [W | b] is outDim × aDim; row r of W̄ is row r of the weight followed by bias[r]. The
 * adapter packs the weight and bias gradients into W̄'s row-major layout (float64), hands it to the
 * block, and unpacks the direction into buffers shaped like the parameters. Cost O(P) per step; no
 * allocation after construction.
 *
 * Fisher mode: whether the curvature is the empirical or the true Fisher is decided by the `g` the
 * producer captured — per-example gradients at the data's targets (empirical) or at targets sampled
 * from the model's predictive distribution in an extra backward pass (true Fisher; nn's side). The
 * adapter records the mode the caller declares (`fisher`) for reports; it cannot check it.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import type { CurvatureLayer, CurvatureModel, ParameterRef } from "./capture.ts";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import { KroneckerBlock, type KroneckerBlockOptions } from "./curvature/kronecker-block.ts";
import type { EmptyState, GradientTransformation } from "./optim/transform.ts";

export type CurvatureApproximation = "kfac" | "ekfac" | "diagonal";
export type FisherMode = "empirical" | "true";

export interface AdapterOptions {
  readonly approximation: CurvatureApproximation;
  /** Options of the Kronecker blocks (decays, scaling mode, KFAC damping rule). */
  readonly block?: KroneckerBlockOptions;
  /** Moving-average decay of the diagonal Fisher. Default 0.95. */
  readonly diagonalDecay?: number;
  /** Which Fisher the captured g realise (documentation only; see header). Default "empirical". */
  readonly fisher?: FisherMode;
}

export interface ParameterPlan {
  readonly name: string;
  /** The curvature layer it belongs to, or null. */
  readonly layer: string | null;
  readonly role: "weight" | "bias" | "other";
  readonly rule: CurvatureApproximation | "first-order";
}

/** One curvature layer with its block and its packed gradient/direction buffers. */
export interface AdaptedLayer {
  readonly layer: CurvatureLayer;
  readonly block: KroneckerBlock | DiagonalFisher;
  /** Index of the weight (and bias) in `CurvatureAdapter.parameters`. */
  readonly weightIndex: number;
  readonly biasIndex: number | null;
  /** W̄-shaped float64 gradient and direction (outDim × aDim). */
  readonly grad: Float64Array;
  readonly direction: Float64Array;
}

export class CurvatureAdapter {
  readonly model: CurvatureModel;
  readonly approximation: CurvatureApproximation;
  readonly fisher: FisherMode;
  readonly parameters: readonly ParameterRef[];
  readonly layers: readonly AdaptedLayer[];
  readonly plan: readonly ParameterPlan[];
  /** Per parameter index: true when a curvature block produces its direction. */
  readonly preconditioned: readonly boolean[];

  constructor(model: CurvatureModel, options: AdapterOptions) {
    const fn = "CurvatureAdapter";
    if (
      model === null ||
      typeof model !== "object" ||
      typeof model.curvatureLayers !== "function" ||
      typeof model.parameters !== "function"
    ) {
      throw new TypeError(`${fn}: model must implement CurvatureModel (curvatureLayers, parameters, setCapture)`);
    }
    const approx = options.approximation;
    if (approx !== "kfac" && approx !== "ekfac" && approx !== "diagonal") {
      throw new TypeError(`${fn}: options.approximation must be "kfac", "ekfac" or "diagonal" (got ${String(approx)})`);
    }
    this.model = model;
    this.approximation = approx;
    this.fisher = options.fisher ?? "empirical";
    this.parameters = [...model.parameters()];
    const index = new Map<FloatArray, number>();
    this.parameters.forEach((p, i) => {
      if (index.has(p.value))
        throw new RangeError(`${fn}: parameter ${p.name} shares its value buffer with another parameter`);
      index.set(p.value, i);
    });
    const plan: ParameterPlan[] = this.parameters.map((p) => ({
      name: p.name,
      layer: null,
      role: "other",
      rule: "first-order",
    }));
    const pre = this.parameters.map(() => false);
    const layers: AdaptedLayer[] = [];
    for (const layer of model.curvatureLayers()) {
      const shape = {
        kind: layer.kind,
        outDim: layer.outDim,
        inDim: layer.inDim,
        hasBias: layer.hasBias,
        groups: layer.groups,
      };
      const block =
        approx === "diagonal"
          ? new DiagonalFisher(shape, options.diagonalDecay !== undefined ? { decay: options.diagonalDecay } : {})
          : new KroneckerBlock(`${fn} (layer ${layer.name})`, approx, shape, options.block ?? {});
      const wLen = layer.outDim * layer.inDim;
      if (layer.weight.value.length !== wLen) {
        throw new RangeError(
          `${fn}: layer ${layer.name} weight has ${layer.weight.value.length} values, expected outDim·inDim = ${layer.outDim}·${layer.inDim} = ${wLen}`,
        );
      }
      if (layer.hasBias !== (layer.bias !== null)) {
        throw new RangeError(
          `${fn}: layer ${layer.name} has hasBias = ${layer.hasBias} but bias is ${layer.bias === null ? "null" : "present"}`,
        );
      }
      if (layer.bias !== null && layer.bias.value.length !== layer.outDim) {
        throw new RangeError(
          `${fn}: layer ${layer.name} bias has ${layer.bias.value.length} values, expected outDim = ${layer.outDim}`,
        );
      }
      const wi = index.get(layer.weight.value);
      if (wi === undefined) throw new RangeError(`${fn}: layer ${layer.name} weight is not among model.parameters()`);
      let bi: number | null = null;
      if (layer.bias !== null) {
        const found = index.get(layer.bias.value);
        if (found === undefined)
          throw new RangeError(`${fn}: layer ${layer.name} bias is not among model.parameters()`);
        bi = found;
      }
      for (const [i, role] of [
        [wi, "weight"],
        [bi, "bias"],
      ] as const) {
        if (i === null) continue;
        if (pre[i])
          throw new RangeError(`${fn}: parameter ${this.parameters[i]?.name} belongs to two curvature layers`);
        pre[i] = true;
        plan[i] = { name: this.parameters[i]?.name ?? "", layer: layer.name, role, rule: approx };
      }
      const size = block.dims.size;
      layers.push({
        layer,
        block,
        weightIndex: wi,
        biasIndex: bi,
        grad: new Float64Array(size),
        direction: new Float64Array(size),
      });
    }
    this.layers = layers;
    this.plan = plan;
    this.preconditioned = pre;
  }

  /**
   * Packs layer `l`'s weight and bias entries of `source` (one array per parameter, aligned with
   * `parameters`; default: the current gradients) into `l.grad` (W̄ layout).
   */
  packGradient(l: AdaptedLayer, source: readonly (FloatArray | null)[] | null = null): void {
    const { outDim, inDim, hasBias } = l.layer;
    const aDim = inDim + (hasBias ? 1 : 0);
    const w = source === null ? this.parameters[l.weightIndex]?.grad : source[l.weightIndex];
    if (w === null || w === undefined)
      throw new Error(`CurvatureAdapter: layer ${l.layer.name} weight has no gradient`);
    const b = l.biasIndex === null ? null : source === null ? this.parameters[l.biasIndex]?.grad : source[l.biasIndex];
    if (l.biasIndex !== null && (b === null || b === undefined)) {
      throw new Error(`CurvatureAdapter: layer ${l.layer.name} bias has no gradient`);
    }
    for (let r = 0; r < outDim; r++) {
      for (let j = 0; j < inDim; j++) l.grad[r * aDim + j] = w[r * inDim + j] as number;
      if (hasBias && b) l.grad[r * aDim + inDim] = b[r] as number;
    }
  }

  /** Unpacks layer `l`'s direction (W̄ layout) into the weight and bias direction buffers. */
  unpackDirection(l: AdaptedLayer, directions: readonly FloatArray[]): void {
    const { outDim, inDim, hasBias } = l.layer;
    const aDim = inDim + (hasBias ? 1 : 0);
    const w = directions[l.weightIndex] as FloatArray;
    const b = l.biasIndex === null ? null : (directions[l.biasIndex] as FloatArray);
    for (let r = 0; r < outDim; r++) {
      for (let j = 0; j < inDim; j++) w[r * inDim + j] = l.direction[r * aDim + j] as number;
      if (hasBias && b) b[r] = l.direction[r * aDim + inDim] as number;
    }
  }

  /**
   * In place: the entries of the curvature layers' parameters in `updates` (aligned with `parameters`)
   * become (F̂ + εI)⁻¹ times themselves; other parameters' entries are left as they are (first-order
   * rule). Uses the blocks' current curvature; updating it is the optimizer's schedule (kfac.ts).
   */
  precondition(updates: readonly FloatArray[], damping: number, raUpdate = false): void {
    if (updates.length !== this.parameters.length) {
      throw new RangeError(
        `CurvatureAdapter.precondition: updates has ${updates.length} arrays, expected ${this.parameters.length}`,
      );
    }
    for (const l of this.layers) {
      this.packGradient(l, updates);
      const b = l.block;
      if (b instanceof DiagonalFisher) b.precondition(l.grad, l.direction, damping);
      else b.precondition(l.grad, l.direction, damping, raUpdate && b.approximation === "ekfac");
      this.unpackDirection(l, updates);
    }
  }

  /** A table of the plan, one line per parameter (for logs and reports). */
  describe(): string {
    return this.plan.map((p) => `${p.name}: ${p.rule}${p.layer === null ? "" : ` (${p.layer} ${p.role})`}`).join("\n");
  }
}

/**
 * The preconditioner as a first-order transform (optax style), for chains such as
 * `chain(curvaturePrecondition(adapter, 1e-3), traceMomentum({ momentum: 0.9 }), scaleByLearningRate(0.1))`
 * over the adapter's `parameters`. Stateless as a transform: the curvature lives in the adapter's
 * blocks, whose statistics the caller (or `CurvatureOptimizer`) keeps up to date.
 */
export function curvaturePrecondition(adapter: CurvatureAdapter, damping: number): GradientTransformation<EmptyState> {
  if (!(adapter instanceof CurvatureAdapter))
    throw new TypeError("curvaturePrecondition: adapter must be a CurvatureAdapter");
  if (typeof damping !== "number" || !(damping > 0) || !Number.isFinite(damping)) {
    throw new RangeError(`curvaturePrecondition: damping must be a finite number > 0 (got ${String(damping)})`);
  }
  return {
    name: "curvaturePrecondition",
    init: () => ({}),
    update(updates) {
      adapter.precondition(updates, damping);
    },
  };
}
