/**
 * Modules: a tree of layers owning named parameters (trainable tensors) and buffers (state such as
 * BatchNorm running statistics), with train/eval mode, state dicts and the structural curvature
 * interface ekfac consumes (`CurvatureModel`: curvatureLayers(), scaleShiftLayers(), parameters(),
 * setCapture()).
 *
 * Names are dotted paths (`"0.weight"`, `"block.conv1.bias"`), as PyTorch's `state_dict` keys. A child
 * learns its path when a parent registers it, so every `ParameterRef.name` and `CurvatureLayer.name`
 * is the full path from the root. Curvature layers are registered explicitly (each module lists its
 * own and its children's, in registration order): nothing is found by guessing class names.
 *
 * The capture types below are copies of `@ekfac-ts/ekfac`'s `capture.ts` (nn does not depend on ekfac
 * at runtime; ekfac's integration tests check that these stay structurally compatible).
 */
import { isGradEnabled, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { checkFlag, checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { EMPIRICAL } from "./internal/capture.ts";
import { isNumberArray, kindOf } from "./internal/checks.ts";

/** Which Fisher the captured g realise (ekfac `FisherMode`). */
export type FisherMode = "empirical" | "true" | "curvature-prop" | "exact";

/** What to capture on the following passes (ekfac `CaptureRequest`). */
export interface CaptureRequest {
  /**
   * "empirical": g of the user's own loss. "true": g of the loss against targets sampled from the
   * model's predictive distribution (categorical / Bernoulli / Gaussian), computed by nn's losses.
   * "curvature-prop": the same Fisher as "true" from one backward with random-sign combinations of
   * the output Fisher's square-root columns (lower variance on confident predictions; MATH.md §2).
   * "exact": every class (or output) weighted by the model's probability, as E = N·K pseudo-examples.
   */
  readonly fisher: FisherMode;
  /** Seed of the target sampler of the next captured pass ("true"). */
  readonly seed: number;
  /**
   * Names of `Linear` layers that may leave their weight gradient deferred on these passes (ekfac
   * `CaptureRequest.deferWeightGradients`): the backward skips the product (1/N)·gᵀā, the weight's
   * `gradFromRows` says so, and reading its `grad` forms it. Not in "exact" mode. Default none.
   */
  readonly deferWeightGradients?: ReadonlySet<string> | null;
}

/** Per-layer statistics of the last captured pass (ekfac `LayerStatistics`). */
export interface LayerStatistics {
  /** E: N examples, or N·K pseudo-examples (rows `n·K + k`) in "exact" mode. */
  readonly batchSize: number;
  /** T, the positions per example a weight is shared over (1 for dense layers, H_out·W_out for conv). */
  readonly positions: number;
  /** `groups × (E·T) × aDim` homogeneous inputs ā, row-major. */
  readonly a: FloatArray;
  /** `groups × (E·T) × (outDim/groups)` per-example output gradients g = N·∂L/∂s. */
  readonly g: FloatArray;
  /** Which Fisher these g realise ("empirical" when the user's own backward produced them). */
  readonly fisher: FisherMode;
  /** Counter of captured passes of this layer (increments with every new statistics). */
  readonly pass: number;
  /** The loss's own g = N·∂L/∂s (layout of `g`), recorded by the user's backward after a "true" or
   *  "curvature-prop" Fisher pass; null before that backward, for "empirical" (`g` are the loss's) and
   *  for "exact". EKFAC forms the step's rotated gradient from them where cheaper. */
  readonly lossG: FloatArray | null;
}

/** BatchNorm's captured x̂ and g (ekfac `ScaleShiftStatistics`); layouts as `LayerStatistics`. */
export interface ScaleShiftStatistics {
  /** E: N examples, or N·K pseudo-examples in "exact" mode. */
  readonly batchSize: number;
  /** H·W for BatchNorm2d, 1 for BatchNorm1d. */
  readonly positions: number;
  /** `(E·T) × C` normalised inputs x̂, rows `e·T + t`. */
  readonly xhat: FloatArray;
  /** `(E·T) × C` output gradients g = N·∂L/∂y. */
  readonly g: FloatArray;
  /** Which Fisher these g realise. */
  readonly fisher: FisherMode;
  /** Counter of captured passes (increments with every new capture). */
  readonly pass: number;
}

/** A view of one parameter: values and the gradient of the last backward (ekfac `ParameterRef`). */
export interface ParameterRef {
  /** The dotted path from the root (`"0.weight"`). */
  readonly name: string;
  /** The live values; optimizers update them in place. */
  readonly value: FloatArray;
  /** The gradient of the last backward, or null before any. */
  readonly grad: FloatArray | null;
  /** True while the gradient is deferred to its layer's captured rows (ekfac `ParameterRef.gradFromRows`). */
  readonly gradFromRows?: boolean;
}

/** A layer whose curvature KFAC/EKFAC approximate (ekfac `CurvatureLayer`). */
export interface CurvatureLayer {
  /** The layer's dotted path in the model. */
  readonly name: string;
  /** A dense (fully connected) or a 2-D convolution layer. */
  readonly kind: "dense" | "conv2d";
  /** Output units (dense) or output channels (conv2d), all groups together. */
  readonly outDim: number;
  /** Inputs per output unit without the bias: input features, or (C_in/groups)·kh·kw for conv2d. */
  readonly inDim: number;
  /** Whether ā carries the homogeneous coordinate 1 for a bias. */
  readonly hasBias: boolean;
  /** Channel groups; each has its own Kronecker factors. */
  readonly groups: number;
  /** The weight, `outDim × inDim` row-major (PyTorch's layout). */
  readonly weight: ParameterRef;
  /** The bias (`outDim`), or null. */
  readonly bias: ParameterRef | null;
  /** ā and g of the last pass with capture on; null when none was captured. */
  readonly statistics: LayerStatistics | null;
}

/** Per-channel scale γ and shift β, `y = γ·x̂ + β` (ekfac `ScaleShiftLayer`). */
export interface ScaleShiftLayer {
  /** The dotted path from the root. */
  readonly name: string;
  /** Always "scale-shift". */
  readonly kind: "scale-shift";
  /** C, the number of channels. */
  readonly channels: number;
  /** γ (C values). */
  readonly scale: ParameterRef;
  /** β (C values), or null. */
  readonly shift: ParameterRef | null;
  /** x̂ and g of the last capturing pass, or null. */
  readonly statistics: ScaleShiftStatistics | null;
}

/** A model as ekfac sees it (ekfac `CurvatureModel`). */
export interface CurvatureModel {
  /** The layers whose curvature is approximated, in a fixed order. */
  curvatureLayers(): readonly CurvatureLayer[];
  /** BatchNorm-style layers with per-channel scale-and-shift curvature (optional). */
  scaleShiftLayers?(): readonly ScaleShiftLayer[];
  /** Every trainable parameter, the curvature layers' included. */
  parameters(): readonly ParameterRef[];
  /** Turns capture of the layers' statistics on or off; `request` says which Fisher (kept when omitted). */
  setCapture(on: boolean, request?: CaptureRequest): void;
}

const FISHER_MODES: readonly FisherMode[] = ["empirical", "true", "curvature-prop", "exact"];

/** The keys of {@link CaptureRequest} (checked against the interface both ways at compile time). */
const CAPTURE_REQUEST_KEYS = optionKeys<CaptureRequest>()(["fisher", "seed", "deferWeightGradients"]);

function checkRequest(fn: string, request: unknown): CaptureRequest {
  if (typeof request !== "object" || request === null) {
    throw new TypeError(`${fn}: request must be { fisher, seed } (got ${request === null ? "null" : typeof request})`);
  }
  checkOptions(fn, "request", request, CAPTURE_REQUEST_KEYS);
  const { fisher, seed } = request as { fisher?: unknown; seed?: unknown };
  if (!FISHER_MODES.includes(fisher as FisherMode)) {
    throw new RangeError(
      `${fn}: request.fisher must be "empirical", "true", "curvature-prop" or "exact" (got ${String(fisher)})`,
    );
  }
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${fn}: request.seed must be a safe integer (got ${String(seed)})`);
  }
  const defer = (request as { deferWeightGradients?: unknown }).deferWeightGradients ?? null;
  if (defer !== null && !(defer instanceof Set)) {
    throw new TypeError(
      `${fn}: request.deferWeightGradients must be a Set of layer names or null (got ${typeof defer})`,
    );
  }
  return Object.freeze({
    fisher: fisher as FisherMode,
    seed,
    deferWeightGradients: defer as ReadonlySet<string> | null,
  });
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
    /** The autodiff leaf tensor holding the values (requiresGrad). */
    readonly tensor: Tensor,
    private readonly owner: Module,
    private readonly localName: string,
  ) {}
  /** The dotted path from the root, e.g. `"0.weight"`. */
  get name(): string {
    return join(this.owner.path, this.localName);
  }
  /** The tensor's data: the live values, updated in place by optimizers. */
  get value(): FloatArray {
    return this.tensor.data;
  }
  /** The data of the tensor's gradient, or null before any backward (forms a deferred one: `gradFromRows`). */
  get grad(): FloatArray | null {
    return this.tensor.grad?.data ?? null;
  }
  /**
   * True while this weight's gradient is deferred to its layer's captured rows and is nothing else
   * (ekfac `ParameterRef.gradFromRows`; nn's `Linear` on request, `CaptureRequest.deferWeightGradients`):
   * `grad` would form (1/N)·r ᵀ ā over the weight's columns, r the statistics' `lossG` (or `g` when
   * there is none). Reading it forms nothing.
   */
  get gradFromRows(): boolean {
    return this.tensor.gradDeferredOnly;
  }
  /** The tensor's shape. */
  get shape(): readonly number[] {
    return this.tensor.shape;
  }
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadOptions {
  /** Require every parameter and buffer to be present and no extra keys (default true). */
  readonly strict?: boolean;
}

/** The keys of {@link LoadOptions} (checked against the interface both ways at compile time). */
const LOAD_OPTIONS = optionKeys<LoadOptions>()(["strict"]);

/** One entry of a state dict, as {@link Module.loadStateDict} takes it. */
type StateEntry = { readonly shape: readonly number[]; readonly data: ArrayLike<number> };

/** Throws a TypeError naming `fn` and `name` unless `value` is a {@link Module} (nn's layers, models, containers). */
export function assertModule(fn: string, name: string, value: unknown): asserts value is Module {
  if (!(value instanceof Module)) throw new TypeError(`${fn}: ${name} must be a Module (got ${kindOf(value)})`);
}

/**
 * The first value of `data` that cannot be stored in `dst` (a float32 or float64 array) as a finite
 * number ≥ `minimum` (a buffer's bound, `registerBuffer`), as the message after the key (`[1] is
 * Infinity, expected a finite number`, `[0] = 1e+300 overflows float32`, `[2] = -0.5, expected ≥ 0`),
 * or null when every value can. One pass; nothing allocated unless a value is refused. A NaN or ±∞ in a
 * parameter or a BatchNorm running statistic would reach every later forward pass (and, through the
 * gradients, every parameter) without a word.
 */
function firstUnstorable(data: ArrayLike<number>, dst: FloatArray, minimum: number): string | null {
  // A float32 destination rounds a finite float64 beyond ±3.4e38 to ±∞; float32 sources cannot overflow it.
  const narrows = dst instanceof Float32Array && !(data instanceof Float32Array);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as unknown;
    if (typeof v !== "number") return `[${i}] is ${v === null ? "null" : typeof v}, expected a finite number`;
    if (!Number.isFinite(v)) return `[${i}] is ${v}, expected a finite number`;
    if (narrows && !Number.isFinite(Math.fround(v))) return `[${i}] = ${v} overflows float32`;
    if (v < minimum) return `[${i}] = ${v}, expected ≥ ${minimum}`;
  }
  return null;
}

/**
 * {@link Module.loadStateDict} with `fn` naming the public function in errors (`loadCheckpoint` loads
 * through it). Validates everything, then writes: a failed load changes nothing.
 */
export function loadState(fn: string, module: Module, state: unknown, options: unknown): void {
  checkOptions(fn, "options", options, LOAD_OPTIONS);
  const strictOption = (options as LoadOptions | undefined)?.strict;
  checkFlag(fn, "options.strict", strictOption);
  const strict = strictOption ?? true;
  if (!(state instanceof Map)) {
    throw new TypeError(
      `${fn}: state must be a Map of name → { shape, data } (got ${kindOf(state)}; for a plain object pass new Map(Object.entries(state)))`,
    );
  }
  const entries = state as ReadonlyMap<string, StateEntry>;
  const own = module.stateDict();
  const minimums = module.bufferMinimums();
  if (strict) {
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const extra = [...entries.keys()].filter((k) => !own.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new RangeError(`${fn}: keys differ (missing: [${missing.join(", ")}], unexpected: [${extra.join(", ")}])`);
    }
  }
  // Validate everything before writing anything, so a failed load leaves the model unchanged.
  let matched = 0;
  for (const [k, src] of entries) {
    const dst = own.get(k);
    if (dst === undefined) continue;
    matched++;
    if (src === null || typeof src !== "object" || !Array.isArray(src.shape) || !isNumberArray(src.data)) {
      const got =
        src === null || typeof src !== "object"
          ? kindOf(src)
          : `{ shape: ${kindOf(src.shape)}, data: ${kindOf(src.data)} }`;
      throw new TypeError(`${fn}: ${k} must be { shape: number[], data: an array or a typed array } (got ${got})`);
    }
    if (
      src.shape.length !== dst.shape.length ||
      src.shape.some((d, i) => d !== dst.shape[i]) ||
      src.data.length !== dst.data.length
    ) {
      throw new RangeError(
        `${fn}: ${k} has shape [${src.shape.join(", ")}] (${src.data.length} values), the model expects [${dst.shape.join(", ")}]`,
      );
    }
    const bad = firstUnstorable(src.data, dst.data, minimums.get(k) ?? Number.NEGATIVE_INFINITY);
    if (bad !== null) throw new RangeError(`${fn}: ${k}${bad}`);
  }
  // Not strict, yet nothing at all in common: keys from another model or another naming, never intended.
  if (matched === 0 && (own.size > 0 || entries.size > 0)) {
    throw new RangeError(
      `${fn}: no key of state matches the model (state: [${[...entries.keys()].slice(0, 5).join(", ")}${entries.size > 5 ? ", …" : ""}], model: [${[...own.keys()].slice(0, 5).join(", ")}${own.size > 5 ? ", …" : ""}])`,
    );
  }
  for (const [k, src] of entries) {
    const dst = own.get(k);
    if (dst === undefined) continue;
    for (let i = 0; i < dst.data.length; i++) dst.data[i] = src.data[i] as number;
  }
  // An in-place change autodiff must see: a backward through a graph built before the load throws.
  for (const p of module.parameters()) if (entries.has(p.name)) p.tensor.markModified();
}

/**
 * The base of every layer and model: a tree of modules owning named parameters (trainable tensors)
 * and buffers (state such as BatchNorm running statistics), with train/eval mode, state dicts, and
 * the structural {@link CurvatureModel} interface that `@ekfac-ts/ekfac` consumes. Names are dotted
 * paths (`"block.conv1.bias"`) like PyTorch's `state_dict` keys; curvature layers are registered
 * explicitly, never guessed from class names. Subclasses implement `forward`.
 */
export abstract class Module implements CurvatureModel {
  /** Dotted path from the root ("" for the root). Set by the parent's `registerModule`. */
  path = "";
  /** Train mode (dropout active, BatchNorm uses batch statistics) or eval mode. */
  training = true;
  /** Inside {@link Module.replay}: layers repeat their last training-mode pass's random draws. */
  protected replaying = false;
  /** Whether capture of ā and g is on (see `setCapture`). */
  protected capturing = false;
  /**
   * Whether the current forward records curvature statistics: capture on AND gradients being recorded.
   * A forward under autodiff's `noGrad` (evaluation) neither captures nor disturbs the statistics of
   * the last training pass, so a user can evaluate between optimizer steps without touching capture.
   */
  protected get capturesThisPass(): boolean {
    return this.capturing && isGradEnabled();
  }
  /** The request of the following captured passes; see `setCapture`. */
  protected captureRequest: CaptureRequest = EMPIRICAL;
  private readonly ownParams: Parameter[] = [];
  private readonly ownBuffers = new Map<string, FloatArray>();
  private readonly ownBufferShapes = new Map<string, readonly number[]>();
  private readonly ownBufferMinimums = new Map<string, number>();
  private readonly children: [string, Module][] = [];
  private readonly names = new Set<string>();

  /** The layer's computation, recorded on the autodiff tape when gradients are enabled. */
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

  /**
   * Registers a non-trainable state array (e.g. running statistics); saved in the state dict. `minimum`:
   * the smallest value a loaded state may hold (a running variance ≥ 0: below it the layer's eval-mode
   * square root is NaN); `loadStateDict` refuses a value below it.
   */
  protected registerBuffer(
    name: string,
    data: FloatArray,
    shape: readonly number[] = [data.length],
    minimum = Number.NEGATIVE_INFINITY,
  ): FloatArray {
    this.checkFreeName(name);
    this.ownBuffers.set(name, data);
    this.ownBufferShapes.set(name, shape.slice());
    if (minimum > Number.NEGATIVE_INFINITY) this.ownBufferMinimums.set(name, minimum);
    return data;
  }

  /** Adds `child` under `name`; its parameters, buffers and curvature layers become part of this subtree. */
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

  /** The buffers of the subtree whose values have a lower bound (a running variance ≥ 0), by path. */
  bufferMinimums(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const [n, m] of this.ownBufferMinimums) out.set(join(this.path, n), m);
    for (const [, c] of this.children) for (const [n, m] of c.bufferMinimums()) out.set(n, m);
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

  /** BatchNorm-style layers of the subtree in registration order; BatchNorm (affine) adds itself. */
  scaleShiftLayers(): readonly ScaleShiftLayer[] {
    const out: ScaleShiftLayer[] = [];
    for (const [, c] of this.children) out.push(...c.scaleShiftLayers());
    return out;
  }

  /**
   * Turns capture on or off for the whole subtree (off: no copies, no hooks, and every statistics
   * object becomes null so nothing stale can be read). `request` (default: keep the current one,
   * initially `{ fisher: "empirical", seed: 0 }`) says which Fisher the next passes capture; "true"
   * and "exact" are computed by nn's losses (see the package README).
   */
  setCapture(on: boolean, request?: CaptureRequest): void {
    const fn = "setCapture";
    if (typeof on !== "boolean") throw new TypeError(`${fn}: on must be a boolean (got ${typeof on})`);
    this.applyCapture(on, request === undefined ? null : checkRequest(fn, request));
  }

  private applyCapture(on: boolean, request: CaptureRequest | null): void {
    this.capturing = on;
    if (request !== null) this.captureRequest = request;
    this.captureChanged(on);
    for (const [, c] of this.children) c.applyCapture(on, request);
  }

  /** Layers with capture state react here (set the request on their site; clear when off). */
  protected captureChanged(_on: boolean): void {}

  /** Sets train (true) or eval (false) mode for the whole subtree; returns this. */
  train(on = true): this {
    checkFlag("train", "on", on);
    this.training = on;
    for (const [, c] of this.children) c.train(on);
    return this;
  }

  /**
   * Runs f with this subtree repeating its last training-mode pass's random draws: Dropout applies the
   * mask of its last training-mode pass (drawn again from a snapshot of its generator taken before
   * that pass; without one, from a copy of the generator), and its own stream does not advance. For
   * the second forward pass of step control — the loss closure's "after" evaluation on the same
   * minibatch, which must be the same random function of the parameters (kfac-jax re-evaluates with
   * the same random key); with a fresh mask a step would be judged, and withdrawn, on noise. Nothing
   * else changes: BatchNorm runs its training-mode pass as always, running statistics included (the
   * measured choice, MATH.md §11). E.g.
   * `opt.step((when) => when === "before" ? value : noGrad(() => model.replay(() => lossOf(model.forward(x)))))`.
   * Returns f's result; nests, and restores the previous setting if f throws.
   */
  replay<T>(f: () => T): T {
    const was = this.replaying;
    this.setReplaying(true);
    try {
      return f();
    } finally {
      this.setReplaying(was);
    }
  }

  private setReplaying(on: boolean): void {
    this.replaying = on;
    for (const [, c] of this.children) c.setReplaying(on);
  }

  /** Sets eval mode for the whole subtree (`train(false)`); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient (keeps the buffers, so the next backward allocates nothing). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.tensor.zeroGrad();
  }

  /** Parameters and buffers by path → (shape, data). The arrays are the live ones (no copy). */
  stateDict(): Map<
    string,
    {
      /** The parameter's or buffer's shape. */
      readonly shape: readonly number[];
      /** Its live values. */
      readonly data: FloatArray;
    }
  > {
    const out = new Map<string, { readonly shape: readonly number[]; readonly data: FloatArray }>();
    for (const p of this.parameters()) out.set(p.name, { shape: p.shape, data: p.value });
    for (const [name, data, shape] of this.buffers()) out.set(name, { shape, data });
    return out;
  }

  /**
   * Copies values into the parameters and buffers (their element types are kept: float64 values into
   * a float32 model are rounded), bumping each loaded parameter tensor's version. `state` is a Map
   * (a plain object is a TypeError). RangeError on a missing or extra key (strict), on no matching key
   * at all (not strict), on a shape mismatch, and on a value that is not finite or overflows the
   * model's element type (a NaN or ∞ would reach every later pass). Everything is checked before
   * anything is written: a failed load changes nothing. Cost: one pass over the values to check them.
   */
  loadStateDict(
    state: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>,
    options: LoadOptions = {},
  ): void {
    loadState("loadStateDict", this, state, options);
  }
}
