/**
 * The Tensor: a shape, a contiguous row-major Float32Array or Float64Array, and the bookkeeping of
 * reverse-mode differentiation (whether it requires a gradient, its gradient, the node that made it).
 *
 * Float32 is the default element type; Float64 serves gradient checks and users who need it. Every
 * op requires its tensor operands to share one element type (a TypeError otherwise): mixing would
 * silently round one of them. Plain numbers are accepted where an op takes a second operand and take
 * the tensor's element type.
 *
 * Versions (PyTorch's version counter): every tensor counts the in-place changes made to its values.
 * Recording an op remembers the versions of its inputs and output, and backward throws, naming the
 * op, if any of them changed since — the rule would read the new values and return a wrong gradient.
 * Every input counts, also those a rule never reads (add's): stricter than PyTorch, which tracks only
 * the tensors a rule saves, but one number per node instead of a per-rule list. `detach()` and
 * `reshape` share their source's buffer and therefore its counter; separate `wrap` calls on one buffer
 * make tensors that count separately (mark each, or wrap once).
 * What counts: `markModified()` (call it after writing `.data` yourself; plain writes to a typed array
 * cannot be seen), and the library's own in-place writes to tensors (nn's `loadStateDict`). Optimizers
 * writing parameters through nn's `ParameterRef.value` arrays do so after backward, outside this check.
 *
 * Creation helpers copy their input (`tensor`, `fromMatrix`) except `wrap`, which adopts a buffer so a
 * model can keep its parameters in buffers it owns and hand them to an optimizer without copies.
 */
import {
  allocate,
  checkFlag,
  checkOptions,
  type DType,
  dtypeOf,
  type FloatArray,
  type Matrix,
  optionKeys,
  type Rng,
} from "@ekfac-ts/linalg";
import { formatShape, type Shape, sizeOf } from "./broadcast.ts";
import type { BackwardOptions, Node, backward as tapeBackward } from "./tape.ts";

/**
 * tape.ts's `backward`, handed over by tape.ts when it loads (as tfjs-core's tensor.ts receives its
 * op handler): the tape builds Tensors, so this file may not import it back (scripts/check-cycles.mjs).
 * Every op imports the tape, so it is loaded before any tensor can have a graph to walk.
 */
let runBackward: typeof tapeBackward | null = null;

/** @internal Called once by tape.ts. */
export function registerBackward(fn: typeof tapeBackward): void {
  runBackward = fn;
}

/** Called during backward with the complete gradient of the tensor it was registered on. */
export type GradHook = (grad: Tensor) => void;

/** Element type and gradient tracking of a newly created tensor. */
export interface TensorOptions {
  /** "float32" (default) or "float64". */
  readonly dtype?: DType;
  /** Whether gradients flow to the new tensor, as for a parameter (default false). */
  readonly requiresGrad?: boolean;
}

/** Nested arrays of numbers (`[[1, 2], [3, 4]]`), as accepted by `tensor`. */
export type NestedArray = number | readonly NestedArray[];

/**
 * An n-dimensional array for reverse-mode differentiation: a shape, contiguous row-major `data`
 * (Float32Array by default, Float64Array for gradient checks), and the bookkeeping of the tape —
 * whether it requires a gradient, its gradient after {@link backward}, the node that produced it.
 * The operands of one op must share the element type; plain numbers take the tensor's.
 *
 * @example
 * ```ts
 * const w = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const loss = sum(square(w));
 * loss.backward();
 * w.grad?.toArray(); // [2, 4, 6, 8]
 * ```
 */
export class Tensor {
  /** Size of each axis, outermost first ([] for a scalar). */
  readonly shape: readonly number[];
  /** Number of elements, the product of `shape` (1 for a scalar of shape []). */
  readonly size: number;
  /** Contiguous row-major values. The reference is fixed; optimizers update the contents in place. */
  readonly data: FloatArray;
  /** Whether gradients flow to this tensor. Set it on leaves (parameters); ops set it on their outputs. */
  requiresGrad: boolean;
  /**
   * The gradient from backward: accumulated across backward calls for leaves (call `zeroGrad`), and
   * kept for intermediates only after `retainGrad()`. A contribution deferred with `deferGrad` is
   * added to it on the first read; assigning it discards a deferred contribution.
   */
  get grad(): Tensor | null {
    if (this.deferred !== null) this.formDeferred();
    return this.gradValue;
  }
  /** Assigns the gradient (null clears it), discarding a contribution deferred with `deferGrad`. */
  set grad(g: Tensor | null) {
    this.deferred = null;
    this.gradValue = g;
  }
  /** @internal The gradient as accumulated so far, without a deferred contribution (the tape adds here). */
  gradValue: Tensor | null = null;
  /** The contribution `deferGrad` left to the first read of `grad`, or null. */
  private deferred: ((into: FloatArray) => void) | null = null;
  /** @internal The node of the graph that produced this tensor; null for leaves. */
  node: Node | null = null;
  /** @internal The gradient being accumulated during a backward pass. */
  gradBuffer: FloatArray | null = null;
  /** @internal Set by `retainGrad`. */
  retainsGrad = false;
  /** @internal Registered gradient hooks. */
  hooks: GradHook[] | null = null;
  /** @internal Traversal mark of the last backward that visited this tensor. */
  mark = 0;
  /** @internal See `version`; read it through `counter`, which follows `base`. */
  versionCount = 0;
  /** @internal The tensor whose buffer this one shares (`detach`, `reshape`): versions count there. */
  base: Tensor | null = null;

  /** Adopts `data` (no copy). Prefer the creation helpers; this validates only the length. */
  constructor(data: FloatArray, shape: Shape, requiresGrad = false) {
    const size = sizeOf(shape);
    if (data.length !== size) {
      throw new RangeError(`Tensor: data has length ${data.length}, expected ${size} for shape ${formatShape(shape)}`);
    }
    this.data = data;
    this.shape = shape.slice();
    this.size = size;
    this.requiresGrad = requiresGrad;
  }

  /** The element type of `data`. */
  get dtype(): DType {
    return dtypeOf(this.data);
  }

  /** Number of axes (0 for a scalar). */
  get ndim(): number {
    return this.shape.length;
  }

  /** True when no recorded op produced this tensor (created directly, detached, or under noGrad). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The number of in-place changes to this tensor's values so far (see the file header). */
  get version(): number {
    return (this.base ?? this).versionCount;
  }

  /**
   * Records an in-place change of `data` (bumps `version`). Backward through an op that saved this
   * tensor before the change then throws instead of returning a gradient of the old values.
   */
  markModified(): this {
    (this.base ?? this).versionCount++;
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new RangeError(`item: tensor has shape ${formatShape(this.shape)} (${this.size} elements), expected 1`);
    }
    return this.data[0] as number;
  }

  /** The values as a flat array of numbers, row-major. */
  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Keep this intermediate tensor's gradient in `.grad` after backward (leaves always keep theirs). */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /**
   * Observe this tensor's complete gradient during backward (before it flows further back). The grad
   * tensor passed to `hook` is only valid during the call: its buffer is recycled afterwards, so copy
   * what you keep. Returns a function that removes the hook.
   */
  registerHook(hook: GradHook): () => void {
    if (typeof hook !== "function") throw new TypeError("registerHook: hook must be a function");
    if (this.hooks === null) this.hooks = [];
    this.hooks.push(hook);
    return () => {
      const i = this.hooks?.indexOf(hook) ?? -1;
      if (i >= 0) this.hooks?.splice(i, 1);
    };
  }

  /** Reverse-mode differentiation from this tensor; see `backward`. */
  backward(seed?: Tensor | ArrayLike<number>, options: BackwardOptions = {}): void {
    if (runBackward === null) throw new Error("Tensor.backward: the tape is not loaded; import @ekfac-ts/autodiff");
    runBackward(this, seed, options);
  }

  /** A tensor sharing this one's data, cut from the graph (no gradient flows through it). */
  detach(): Tensor {
    const t = new Tensor(this.data, this.shape, false);
    t.base = this.base ?? this; // one buffer, one version counter (as PyTorch's detach)
    return t;
  }

  /**
   * Sets the gradient to zero, keeping its buffer (no allocation on the next backward), and discards a
   * deferred contribution.
   */
  zeroGrad(): void {
    this.deferred = null;
    this.gradValue?.data.fill(0);
  }

  /**
   * Leaves a contribution to this tensor's gradient for later: `add(into)` must ADD it into `into`
   * (the gradient's buffer, this tensor's dtype and size) and is called on the first read of `grad`
   * (or before the next `deferGrad`), after whatever backward accumulated meanwhile; `zeroGrad` or
   * assigning `grad` discards it. For a producer that can form a product later, or never: nn's
   * `Linear` leaves its weight gradient (1/N)·gᵀā here when a curvature optimizer forms the step from
   * those rows itself (`gradDeferredOnly` tells it so), saving the backward's largest products.
   */
  deferGrad(add: (into: FloatArray) => void): void {
    if (typeof add !== "function") throw new TypeError("Tensor.deferGrad: add must be a function (into) => void");
    if (this.deferred !== null) this.formDeferred();
    this.deferred = add;
  }

  /**
   * True when a `deferGrad` contribution is pending and is the whole gradient: nothing else was
   * accumulated since the last `zeroGrad` (no gradient yet, or one that is all zeros). Reads no
   * deferred contribution. Cost: one pass over the gradient at most.
   */
  get gradDeferredOnly(): boolean {
    if (this.deferred === null) return false;
    const g = this.gradValue;
    if (g === null) return true;
    const d = g.data;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) return false;
    return true;
  }

  /** Adds the deferred contribution into the gradient (zeros first if there is none yet). */
  private formDeferred(): void {
    const add = this.deferred as (into: FloatArray) => void;
    this.deferred = null;
    let g = this.gradValue;
    if (g === null || g.size !== this.size || g.dtype !== this.dtype) {
      g = this.gradValue = new Tensor(allocate(this.size, this.dtype, "Tensor.grad"), this.shape);
    }
    add(g.data);
  }

  /** `Tensor([2,3], float32, requiresGrad)`: shape, type and tracking, not the values. */
  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }
}

export function checkShape(fn: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: shape must be an array of sizes (got ${typeof shape})`);
  for (const d of shape as unknown[]) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new RangeError(`${fn}: shape ${formatShape(shape as number[])} must hold non-negative integers`);
    }
  }
  return shape as readonly number[];
}

const TENSOR_OPTIONS = optionKeys<TensorOptions>()(["dtype", "requiresGrad"]);

/** Checks a creation function's `options` (its keys — `known`, TensorOptions' by default — and flags). */
function checkTensorOptions(fn: string, options: TensorOptions, known: readonly string[] = TENSOR_OPTIONS): void {
  checkOptions(fn, "options", options, known);
  checkFlag(fn, "options.requiresGrad", options.requiresGrad);
}

/** `options.dtype` (float32 when absent), a TypeError naming `fn` for any other value. */
function dtypeOption(fn: string, options: TensorOptions): DType {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") {
    throw new TypeError(`${fn}: dtype must be "float32" or "float64" (got ${String(dtype)})`);
  }
  return dtype;
}

function nestedShape(v: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0] as NestedArray;
  }
  return shape;
}

function flattenInto(
  fn: string,
  v: NestedArray,
  shape: readonly number[],
  depth: number,
  out: FloatArray,
  pos: number,
): number {
  if (depth === shape.length) {
    if (typeof v !== "number") throw new TypeError(`${fn}: expected a number at depth ${depth} (ragged nested array)`);
    out[pos] = v;
    return pos + 1;
  }
  if (!Array.isArray(v) || v.length !== shape[depth]) {
    throw new RangeError(`${fn}: ragged nested array (expected length ${shape[depth]} at depth ${depth})`);
  }
  let p = pos;
  for (const e of v as readonly NestedArray[]) p = flattenInto(fn, e, shape, depth + 1, out, p);
  return p;
}

/**
 * A tensor from values: a number (a scalar), nested arrays (shape inferred), or a flat array-like
 * with an explicit `shape`. Values are copied. Throws when the count does not match the shape.
 */
export function tensor(
  values: NestedArray | ArrayLike<number>,
  shape?: readonly number[],
  options: TensorOptions = {},
): Tensor {
  const fn = "tensor";
  checkTensorOptions(fn, options);
  const isArrayLike =
    typeof values === "object" && values !== null && Number.isInteger((values as { length?: unknown }).length);
  if (typeof values !== "number" && !isArrayLike) {
    throw new TypeError(
      `tensor: values must be a number, nested arrays or an array-like of numbers (got ${values === null ? "null" : typeof values})`,
    );
  }
  const dtype = options.dtype === undefined && values instanceof Float64Array ? "float64" : dtypeOption(fn, options);
  if (typeof values === "number") {
    const s = shape === undefined ? [] : checkShape(fn, shape);
    if (sizeOf(s) !== 1) throw new RangeError(`${fn}: a single number cannot fill shape ${formatShape(s)}`);
    const data = allocate(1, dtype, fn);
    data[0] = values;
    return new Tensor(data, s, options.requiresGrad ?? false);
  }
  if (Array.isArray(values) && shape === undefined) {
    const s = nestedShape(values as NestedArray);
    const data = allocate(sizeOf(s), dtype, fn);
    flattenInto(fn, values as NestedArray, s, 0, data, 0);
    return new Tensor(data, s, options.requiresGrad ?? false);
  }
  const flat = values as ArrayLike<number>;
  const s = shape === undefined ? [flat.length] : checkShape(fn, shape);
  if (flat.length !== sizeOf(s)) {
    throw new RangeError(`${fn}: ${flat.length} values cannot fill shape ${formatShape(s)} (${sizeOf(s)} elements)`);
  }
  const data = allocate(flat.length, dtype, fn);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i] as number;
  return new Tensor(data, s, options.requiresGrad ?? false);
}

/** A tensor that adopts `data` without copying (its element type is `data`'s). */
export function wrap(
  data: FloatArray,
  shape: readonly number[],
  options: { readonly requiresGrad?: boolean } = {},
): Tensor {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) {
    throw new TypeError("wrap: data must be a Float32Array or Float64Array");
  }
  const s = checkShape("wrap", shape);
  if (data.length !== sizeOf(s)) {
    throw new RangeError(`wrap: data has length ${data.length}, expected ${sizeOf(s)} for shape ${formatShape(s)}`);
  }
  return new Tensor(data, s, options.requiresGrad ?? false);
}

/** A scalar (shape []) tensor. */
export function scalar(value: number, options: TensorOptions = {}): Tensor {
  checkTensorOptions("scalar", options);
  const data = allocate(1, dtypeOption("scalar", options));
  data[0] = value;
  return new Tensor(data, [], options.requiresGrad ?? false);
}

/** A tensor of `shape` with every element equal to `value`. */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  return filled("full", shape, value, options);
}

/** A zero-filled tensor of `shape`. */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return filled("zeros", shape, 0, options);
}

/** A tensor of `shape` filled with ones. */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return filled("ones", shape, 1, options);
}

/** `full` for the function `fn` (named in messages); `known`: the option names `fn` accepts. */
function filled(
  fn: string,
  shape: readonly number[],
  value: number,
  options: TensorOptions,
  known: readonly string[] = TENSOR_OPTIONS,
): Tensor {
  checkTensorOptions(fn, options, known);
  const s = checkShape(fn, shape);
  const data = allocate(sizeOf(s), dtypeOption(fn, options), fn);
  if (value !== 0) data.fill(value);
  return new Tensor(data, s, options.requiresGrad ?? false);
}

/** Options of {@link randn}: the normal distribution's mean (default 0) and standard deviation (default 1). */
export type NormalOptions = TensorOptions & {
  /** The mean (default 0). */
  readonly mean?: number;
  /** The standard deviation (default 1). */
  readonly std?: number;
};

/** Options of {@link rand}: the uniform distribution's interval [lo, hi) (default [0, 1)). */
export type UniformOptions = TensorOptions & {
  /** The lower end, included (default 0). */
  readonly lo?: number;
  /** The upper end, excluded (default 1). */
  readonly hi?: number;
};

const NORMAL_OPTIONS = optionKeys<NormalOptions>()(["dtype", "requiresGrad", "mean", "std"]);
const UNIFORM_OPTIONS = optionKeys<UniformOptions>()(["dtype", "requiresGrad", "lo", "hi"]);

/** N(mean, std²) samples from the seeded generator. */
export function randn(shape: readonly number[], rng: Rng, options: NormalOptions = {}): Tensor {
  const t = filled("randn", shape, 0, options, NORMAL_OPTIONS);
  rng.fillNormal(t.data, options.mean ?? 0, options.std ?? 1);
  return t;
}

/** Uniform samples on [lo, hi) from the seeded generator. */
export function rand(shape: readonly number[], rng: Rng, options: UniformOptions = {}): Tensor {
  checkTensorOptions("rand", options, UNIFORM_OPTIONS);
  const lo = options.lo ?? 0;
  const hi = options.hi ?? 1;
  if (!(typeof lo === "number" && typeof hi === "number" && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw new RangeError(
      `rand: options.lo and options.hi must be finite with lo ≤ hi (got ${String(lo)}, ${String(hi)})`,
    );
  }
  const t = filled("rand", shape, 0, options, UNIFORM_OPTIONS);
  rng.fillUniform(t.data, lo, hi);
  return t;
}

/** A `rows × cols` tensor copied from a linalg Matrix (strided views are read correctly). */
export function fromMatrix(m: Matrix, options: TensorOptions = {}): Tensor {
  checkTensorOptions("fromMatrix", options);
  const view = m as Matrix & { offset?: number; stride?: number };
  const dtype = options.dtype === undefined ? dtypeOf(m.data) : dtypeOption("fromMatrix", options);
  const data = allocate(m.rows * m.cols, dtype);
  const off = view.offset ?? 0;
  const ld = view.stride ?? m.cols;
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) data[i * m.cols + j] = m.data[off + i * ld + j] as number;
  }
  return new Tensor(data, [m.rows, m.cols], options.requiresGrad ?? false);
}

/** A linalg Matrix sharing a 2-D tensor's data (no copy). */
export function toMatrix(t: Tensor): Matrix {
  if (t.ndim !== 2) throw new RangeError(`toMatrix: tensor must be 2-D (got shape ${formatShape(t.shape)})`);
  return { rows: t.shape[0] as number, cols: t.shape[1] as number, data: t.data };
}

/** A constant `n × depth` one-hot matrix: row i has a 1 in column `indices[i]`. */
export function oneHot(indices: ArrayLike<number>, depth: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(depth) || depth < 0)
    throw new RangeError(`oneHot: depth must be a non-negative integer (got ${depth})`);
  const n = indices.length;
  checkTensorOptions("oneHot", options);
  const t = zeros([n, depth], { dtype: dtypeOption("oneHot", options) });
  for (let i = 0; i < n; i++) {
    const k = indices[i] as number;
    if (!Number.isInteger(k) || k < 0 || k >= depth) {
      throw new RangeError(`oneHot: indices[${i}] = ${k} is outside [0, ${depth})`);
    }
    t.data[i * depth + k] = 1;
  }
  return t;
}
