/**
 * Modules: a tree of layers owning named parameters (trainable tensors) and buffers (state such as
 * BatchNorm running statistics), with train/eval mode, state dicts and the structural curvature
 * interface ekfac consumes (`CurvatureModel`: curvatureLayers(), parameters(), setCapture()).
 *
 * Names are dotted paths (`"0.weight"`, `"block.conv1.bias"`), as PyTorch's `state_dict` keys. A child
 * learns its path when a parent registers it, so every `ParameterRef.name` and `CurvatureLayer.name`
 * is the full path from the root. Curvature layers are registered explicitly (each module lists its
 * own and its children's, in registration order): nothing is found by guessing class names.
 *
 * The capture types below are copies of `@ekfac-ts/ekfac`'s `capture.ts` (nn does not depend on ekfac
 * at runtime; ekfac's integration tests check that these stay structurally compatible).
 */
import { type Tensor, wrap } from "@ekfac-ts/autodiff";
import type { FloatArray } from "@ekfac-ts/linalg";

/** Per-layer statistics of the last forward/backward pass with capture on (ekfac `LayerStatistics`). */
export interface LayerStatistics {
  readonly batchSize: number;
  readonly positions: number;
  /** `groups × (N·T) × aDim` homogeneous inputs ā, row-major. */
  readonly a: FloatArray;
  /** `groups × (N·T) × (outDim/groups)` per-example output gradients g = N·∂L/∂s. */
  readonly g: FloatArray;
}

/** A view of one parameter: values and the gradient of the last backward (ekfac `ParameterRef`). */
export interface ParameterRef {
  readonly name: string;
  readonly value: FloatArray;
  readonly grad: FloatArray | null;
}

/** A layer whose curvature KFAC/EKFAC approximate (ekfac `CurvatureLayer`). */
export interface CurvatureLayer {
  readonly name: string;
  readonly kind: "dense" | "conv2d";
  readonly outDim: number;
  readonly inDim: number;
  readonly hasBias: boolean;
  readonly groups: number;
  readonly weight: ParameterRef;
  readonly bias: ParameterRef | null;
  readonly statistics: LayerStatistics | null;
}

/** A model as ekfac sees it (ekfac `CurvatureModel`). */
export interface CurvatureModel {
  curvatureLayers(): readonly CurvatureLayer[];
  parameters(): readonly ParameterRef[];
  setCapture(on: boolean): void;
}

function join(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

/**
 * A trainable parameter: an autodiff leaf tensor plus its path. Implements `ParameterRef`: `value` is
 * the tensor's data (optimizers update it in place), `grad` the data of its gradient or null.
 */
export class Parameter implements ParameterRef {
  constructor(
    readonly tensor: Tensor,
    private readonly owner: Module,
    private readonly localName: string,
  ) {}
  get name(): string {
    return join(this.owner.path, this.localName);
  }
  get value(): FloatArray {
    return this.tensor.data;
  }
  get grad(): FloatArray | null {
    return this.tensor.grad?.data ?? null;
  }
  get shape(): readonly number[] {
    return this.tensor.shape;
  }
}

export interface LoadOptions {
  /** Require every parameter and buffer to be present and no extra keys (default true). */
  readonly strict?: boolean;
}

export abstract class Module implements CurvatureModel {
  /** Dotted path from the root ("" for the root). Set by the parent's `registerModule`. */
  path = "";
  /** Train mode (dropout active, BatchNorm uses batch statistics) or eval mode. */
  training = true;
  protected capturing = false;
  private readonly ownParams: Parameter[] = [];
  private readonly ownBuffers = new Map<string, FloatArray>();
  private readonly ownBufferShapes = new Map<string, readonly number[]>();
  private readonly children: [string, Module][] = [];
  private readonly names = new Set<string>();

  abstract forward(x: Tensor): Tensor;

  /** The layer's name in the model: its path. */
  get name(): string {
    return this.path;
  }

  /** Adopts `data` as a trainable parameter of the given shape (no copy). */
  protected registerParameter(name: string, data: FloatArray, shape: readonly number[]): Parameter {
    this.checkFreeName(name);
    const p = new Parameter(wrap(data, shape, { requiresGrad: true }), this, name);
    this.ownParams.push(p);
    return p;
  }

  /** Registers a non-trainable state array (e.g. running statistics); saved in the state dict. */
  protected registerBuffer(name: string, data: FloatArray, shape: readonly number[] = [data.length]): FloatArray {
    this.checkFreeName(name);
    this.ownBuffers.set(name, data);
    this.ownBufferShapes.set(name, shape.slice());
    return data;
  }

  protected registerModule<M extends Module>(name: string, child: M): M {
    this.checkFreeName(name);
    this.children.push([name, child]);
    child.setPath(join(this.path, name));
    return child;
  }

  private checkFreeName(name: string): void {
    if (name === "" || name.includes("."))
      throw new RangeError(`Module: name ${JSON.stringify(name)} must be non-empty without dots`);
    if (this.names.has(name)) throw new RangeError(`Module: name ${JSON.stringify(name)} is already registered`);
    this.names.add(name);
  }

  private setPath(p: string): void {
    this.path = p;
    for (const [n, c] of this.children) c.setPath(join(p, n));
  }

  /** Direct children, in registration order. */
  childModules(): readonly Module[] {
    return this.children.map(([, c]) => c);
  }

  /** Every parameter of the subtree, in registration order (own first, then children's). */
  parameters(): readonly Parameter[] {
    const out: Parameter[] = [...this.ownParams];
    for (const [, c] of this.children) out.push(...c.parameters());
    return out;
  }

  /** Every buffer of the subtree as [path, data, shape]. */
  buffers(): readonly (readonly [string, FloatArray, readonly number[]])[] {
    const out: [string, FloatArray, readonly number[]][] = [];
    for (const [n, d] of this.ownBuffers) out.push([join(this.path, n), d, this.ownBufferShapes.get(n) ?? [d.length]]);
    for (const [, c] of this.children) out.push(...(c.buffers() as [string, FloatArray, readonly number[]][]));
    return out;
  }

  /** The number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.value.length, 0);
  }

  /** Curvature layers of the subtree in registration order; Linear and Conv2d override to add themselves. */
  curvatureLayers(): readonly CurvatureLayer[] {
    const out: CurvatureLayer[] = [];
    for (const [, c] of this.children) out.push(...c.curvatureLayers());
    return out;
  }

  /** Turns capture of ā and g on or off for the whole subtree (off: no copies, no hooks). */
  setCapture(on: boolean): void {
    this.capturing = on;
    for (const [, c] of this.children) c.setCapture(on);
  }

  /** Sets train (true) or eval (false) mode for the whole subtree; returns this. */
  train(on = true): this {
    this.training = on;
    for (const [, c] of this.children) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient (keeps the buffers, so the next backward allocates nothing). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.tensor.zeroGrad();
  }

  /** Parameters and buffers by path → (shape, data). The arrays are the live ones (no copy). */
  stateDict(): Map<string, { readonly shape: readonly number[]; readonly data: FloatArray }> {
    const out = new Map<string, { readonly shape: readonly number[]; readonly data: FloatArray }>();
    for (const p of this.parameters()) out.set(p.name, { shape: p.shape, data: p.value });
    for (const [name, data, shape] of this.buffers()) out.set(name, { shape, data });
    return out;
  }

  /**
   * Copies values into the parameters and buffers (their element types are kept: float64 values into
   * a float32 model are rounded), bumping each loaded parameter tensor's version. RangeError on a missing or extra key (strict) or a shape mismatch.
   */
  loadStateDict(
    state: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>,
    options: LoadOptions = {},
  ): void {
    const fn = "loadStateDict";
    const strict = options.strict ?? true;
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const extra = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length > 0 || extra.length > 0) {
        throw new RangeError(
          `${fn}: keys differ (missing: [${missing.join(", ")}], unexpected: [${extra.join(", ")}])`,
        );
      }
    }
    // Validate everything before writing anything, so a failed load leaves the model unchanged.
    for (const [k, src] of state) {
      const dst = own.get(k);
      if (dst === undefined) continue;
      if (
        src.shape.length !== dst.shape.length ||
        src.shape.some((d, i) => d !== dst.shape[i]) ||
        src.data.length !== dst.data.length
      ) {
        throw new RangeError(
          `${fn}: ${k} has shape [${src.shape.join(", ")}] (${src.data.length} values), the model expects [${dst.shape.join(", ")}]`,
        );
      }
    }
    for (const [k, src] of state) {
      const dst = own.get(k);
      if (dst === undefined) continue;
      for (let i = 0; i < dst.data.length; i++) dst.data[i] = src.data[i] as number;
    }
    // An in-place change autodiff must see: a backward through a graph built before the load throws.
    for (const p of this.parameters()) if (state.has(p.name)) p.tensor.markModified();
  }
}
