/**
 * The tape: ops record a node (op name, inputs, output, attributes, saved scratch) as they run, and
 * `backward` replays the recorded nodes in reverse order of recording, applying each op's one rule
 * from `rules.ts`.
 *
 * Equation: for y = f(x₁, …, x_k), x̄ᵢ += (∂f/∂xᵢ)ᵀ ȳ (reverse-mode accumulation; Griewank & Walther,
 * "Evaluating Derivatives", 2nd ed., §3.2). Every rule adds, so a tensor used several times receives
 * the sum of its consumers' contributions (fan-in).
 *
 * Order: node ids increase as ops run, so every consumer of a tensor has a larger id than its
 * producer; processing the reachable nodes by decreasing id is a reverse topological order, and a
 * tensor's gradient is complete when its producer's rule runs. That is when its hooks fire.
 *
 * Release: after backward (unless `retainGraph`) each visited node drops its inputs and hands its
 * saved scratch back to the pool; a later backward reaching a released node throws. Intermediate
 * gradient buffers go back to the pool as soon as their producer's rule has consumed them.
 *
 * Versions: a node records the sum of its inputs' and output's versions (tensor.ts). Versions only
 * grow, so the sum changes exactly when one of them was modified in place; one number per node keeps
 * recording allocation-free. Backward compares while collecting the graph, before any rule runs, and throws naming the op.
 *
 * Cost: one pass over the reachable nodes plus a sort of their ids (O(V log V)); the rules dominate.
 */
import { checkFlag, checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { formatShape, sameShape } from "./broadcast.ts";
import { setLeafSlots, slot } from "./internal/slot.ts";
import { acquire, type PoolArray, release } from "./pool.ts";
import { type OpAttrs, rules } from "./rules.ts";
import { registerBackward, Tensor } from "./tensor.ts";

/** A recorded op application. */
export interface Node<Op extends OpName = OpName> {
  readonly op: Op;
  readonly id: number;
  inputs: readonly Tensor[];
  readonly output: Tensor;
  /** Op parameters the rule needs (axes, strides, flags), typed per op in rules.ts. */
  readonly attrs: OpAttrs[Op];
  /** Pooled scratch kept for the rule (im2col patches, argmax indices, masks); returned on release. */
  saved: readonly PoolArray[];
  released: boolean;
  /** @internal Traversal mark of the last backward that visited this node. */
  mark: number;
  /** @internal Sum of the inputs' and the output's versions when the op ran (see `checkVersions`). */
  readonly version: number;
}

/** The primitive ops: exactly the keys of the rule table (rules.ts); everything else is composite. */
export type OpName =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "leakyRelu"
  | "softplus"
  | "gelu"
  | "geluTanh"
  | "matmul"
  | "sum"
  | "max"
  | "logsumexp"
  | "logSoftmax"
  | "reshape"
  | "permute"
  | "slice"
  | "concat"
  | "gather"
  | "conv2d"
  | "maxPool2d"
  | "avgPool2d"
  | "dropout";

/** Options of {@link backward}. */
export interface BackwardOptions {
  /** Keep the graph (inputs and saved scratch) so backward can run through it again. Default false. */
  readonly retainGraph?: boolean;
  /**
   * false: a pass for the hooks alone (curvature capture). No leaf gradient and no retained `.grad` is
   * written, no product that only a leaf's gradient needs runs (matmul's and conv2d's weight
   * gradients), and hooks registered on leaves do not fire. Default true.
   */
  readonly accumulate?: boolean;
}

const BACKWARD_OPTIONS = optionKeys<BackwardOptions>()(["retainGraph", "accumulate"]);

let gradEnabled = true;
let nextId = 1;
let epoch = 0;
const EMPTY: readonly never[] = [];

/** Whether operations are being recorded on the tape now (see {@link noGrad}, {@link setGradEnabled}). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Turns recording on or off globally; returns the previous setting. */
export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

/** Runs `fn` with recording off (evaluation, optimizer updates), restoring the setting afterwards. */
export function noGrad<T>(fn: () => T): T {
  return withGradEnabled(false, fn);
}

/** Runs `fn` with recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradEnabled(true, fn);
}

/** Runs `fn` with recording set to `on`, restoring the previous setting afterwards (also when `fn` throws). */
function withGradEnabled<T>(on: boolean, fn: () => T): T {
  const prev = setGradEnabled(on);
  try {
    return fn();
  } finally {
    setGradEnabled(prev);
  }
}

/** True when an op on these inputs must be recorded (recording is on and one input needs a gradient). */
export function recording(inputs: readonly Tensor[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t.requiresGrad) return true;
  return false;
}

/**
 * Records `op` on the tape if `recording(inputs)`; returns whether it did. When not recorded, the
 * saved scratch goes straight back to the pool.
 */
export function record<Op extends OpName>(
  op: Op,
  inputs: readonly Tensor[],
  output: Tensor,
  attrs: OpAttrs[Op],
  saved: readonly PoolArray[] = EMPTY,
): boolean {
  if (!recording(inputs)) {
    for (const s of saved) release(s);
    return false;
  }
  output.requiresGrad = true;
  const version = versionSum(inputs, output);
  output.node = { op, id: nextId++, inputs, output, attrs, saved, released: false, mark: 0, version };
  return true;
}

function versionSum(inputs: readonly Tensor[], output: Tensor): number {
  let v = (output.base ?? output).versionCount;
  for (const x of inputs) v += (x.base ?? x).versionCount;
  return v;
}

/**
 * Throws when an input or the output of `node` was modified in place after the op ran (PyTorch:
 * "one of the variables needed for gradient computation has been modified by an inplace operation").
 */
export function checkVersions(fn: string, node: Node): void {
  if (versionSum(node.inputs, node.output) === node.version) return;
  const now = node.inputs.map((x) => `${formatShape(x.shape)} at version ${x.version}`).join(", ");
  throw new Error(
    `${fn}: a tensor saved by "${node.op}" was modified in place after the op ran (inputs: ${now}; output at version ${node.output.version}); the gradient would use the new values. Recompute the forward pass after changing it`,
  );
}

function releaseNode(node: Node): void {
  if (node.released) return;
  node.released = true;
  for (const s of node.saved) release(s);
  node.saved = EMPTY;
  node.inputs = EMPTY;
}

/**
 * Drops a graph without running backward (for example after a forward pass whose loss is not
 * needed): every node reachable from `t` releases its inputs and returns its scratch to the pool.
 */
export function releaseGraph(t: Tensor): void {
  const stack: Tensor[] = [t];
  while (stack.length > 0) {
    const node = (stack.pop() as Tensor).node;
    if (node === null || node.released) continue;
    for (const x of node.inputs) stack.push(x);
    releaseNode(node);
  }
}

function runHooks(t: Tensor, g: FloatArray): void {
  if (t.hooks === null || t.hooks.length === 0) return;
  const view = new Tensor(g, t.shape);
  for (const h of t.hooks) h(view);
}

function seedInto(root: Tensor, seed: Tensor | ArrayLike<number> | undefined): FloatArray {
  const fn = "backward";
  const g = acquire(root.size, root.dtype);
  if (seed === undefined) {
    if (root.size !== 1) {
      release(g);
      throw new RangeError(
        `${fn}: the output has shape ${formatShape(root.shape)} (${root.size} elements); a non-scalar output needs a seed gradient of that shape`,
      );
    }
    g[0] = 1;
    return g;
  }
  if (seed instanceof Tensor) {
    if (!sameShape(seed.shape, root.shape)) {
      release(g);
      throw new RangeError(
        `${fn}: seed has shape ${formatShape(seed.shape)}, expected the output's ${formatShape(root.shape)}`,
      );
    }
    if (seed.dtype !== root.dtype) {
      release(g);
      throw new TypeError(
        `${fn}: seed is ${seed.dtype} but the output is ${root.dtype}; operands must share one element type`,
      );
    }
    g.set(seed.data);
    return g;
  }
  if (seed.length !== root.size) {
    release(g);
    throw new RangeError(
      `${fn}: seed has ${seed.length} values, expected ${root.size} for shape ${formatShape(root.shape)}`,
    );
  }
  // A typed array (nn's Fisher passes seed with a Float64Array) is copied natively: the same
  // rounding to g's type as the element loop, in about half the time (0.9 against 1.6 ns per value,
  // Float64Array into Float32Array, Node 20).
  if (seed instanceof Float64Array || seed instanceof Float32Array) g.set(seed);
  else for (let i = 0; i < root.size; i++) g[i] = seed[i] as number;
  return g;
}

/**
 * Accumulates ∂(seed · root)/∂x into `x.grad` for every leaf x that requires a gradient and that
 * `root` depends on. Without a seed, `root` must have one element (the seed is 1).
 */
export function backward(root: Tensor, seed?: Tensor | ArrayLike<number>, options: BackwardOptions = {}): void {
  const fn = "backward";
  if (!(root instanceof Tensor)) throw new TypeError(`${fn}: expected a Tensor (got ${typeof root})`);
  if (!root.requiresGrad) {
    throw new Error(
      `${fn}: the tensor does not require grad (no input that requires grad was used, or it was computed under noGrad)`,
    );
  }
  checkOptions(fn, "options", options, BACKWARD_OPTIONS);
  checkFlag(fn, "options.retainGraph", options.retainGraph);
  checkFlag(fn, "options.accumulate", options.accumulate);
  const retain = options.retainGraph ?? false;
  const accumulate = options.accumulate ?? true;

  // Collect the nodes and leaves that gradients can reach, checking none was released.
  const mark = ++epoch;
  const nodes: Node[] = [];
  const leaves: Tensor[] = [];
  const stack: Tensor[] = [root];
  root.mark = mark;
  while (stack.length > 0) {
    const t = stack.pop() as Tensor;
    const node = t.node;
    if (node === null) {
      leaves.push(t);
      continue;
    }
    if (node.released) {
      throw new Error(
        `${fn}: the graph through "${node.op}" was released by an earlier backward; pass { retainGraph: true } to the first backward to run backward twice`,
      );
    }
    // Before any rule runs, so a refused backward leaves gradients and the graph untouched.
    checkVersions(fn, node);
    nodes.push(node);
    for (const x of node.inputs) {
      if (x.requiresGrad && x.mark !== mark) {
        x.mark = mark;
        stack.push(x);
      }
    }
  }
  nodes.sort((a, b) => b.id - a.id);

  root.gradBuffer = seedInto(root, seed);
  const leafSlots = setLeafSlots(accumulate);
  try {
    for (const node of nodes) {
      const out = node.output;
      const g = out.gradBuffer;
      if (g !== null) {
        runHooks(out, g);
        rules[node.op](node, g);
        out.gradBuffer = null;
        if (out.retainsGrad && accumulate) keepGrad(out, g);
        else release(g);
      }
      if (!retain) releaseNode(node);
    }
    for (const leaf of leaves) {
      const g = leaf.gradBuffer;
      if (g === null) continue;
      leaf.gradBuffer = null;
      if (!accumulate) {
        release(g); // only a leaf root holds a buffer here: its seed
        continue;
      }
      runHooks(leaf, g);
      keepGrad(leaf, g);
    }
  } finally {
    setLeafSlots(leafSlots);
    // After an error, leave no half-accumulated buffers behind for the next backward.
    for (const node of nodes) node.output.gradBuffer = null;
    for (const leaf of leaves) leaf.gradBuffer = null;
  }
}

registerBackward(backward);

/** Adds `g` into `t.grad`, adopting the buffer the first time (then it never returns to the pool). */
function keepGrad(t: Tensor, g: FloatArray): void {
  // The accumulated value itself: a contribution deferred with `deferGrad` stays deferred.
  const prev = t.gradValue;
  if (prev === null || prev.size !== t.size || prev.dtype !== t.dtype) {
    t.gradValue = new Tensor(g, t.shape);
    return;
  }
  const d = prev.data;
  for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) + (g[i] as number);
  release(g);
}

export { slot };
