/**
 * Curvature capture inside nn: one state machine per capturing layer (`CaptureSite`) and the link
 * through which nn's losses run the Fisher passes for the layers their prediction depends on.
 *
 * The link. With capture on and a request other than "empirical", every capturing forward registers
 * its layer's site (the pre-activation `s` it hooked) in a pending list. An nn loss called on a
 * prediction claims the pending sites whose `s` the prediction's graph reaches (a walk over the tape,
 * so two models capturing at once never see each other's passes) and runs, from the prediction:
 * - "true": one backward with the cotangent `∂ℓ(ŷ)/∂s / N` of targets ŷ sampled from the model's
 *   predictive distribution by `Rng(request.seed)` (Martens & Grosse 2015 §5; MATH.md §2);
 * - "curvature-prop": one backward with `Σ_k r_k·b_k / N`, independent signs `r_k = ±1` drawn by
 *   `Rng(request.seed)` per example and k, `b_k` as below (curvature propagation, Martens, Sutskever &
 *   Swersky 2012; kfac-jax's `fisher_curvature_prop`): the same `E[g gᵀ]` as "true", with a bounded
 *   relative variance on peaked predictions (MATH.md §2);
 * - "exact": K backward passes, pass k with `sqrt(K)·b_k / N`, where `F_s = Σ_k b_k b_kᵀ` is the
 *   output Fisher per example (categorical: `b_c = sqrt(p_c)(p − e_c)`, kfac-jax's exact Fisher;
 *   Bernoulli: `b_j = sqrt(p_j(1−p_j)) e_j`; Gaussian: `b_j = e_j`), written as E = N·K pseudo-example
 *   rows `e = n·K + k` with ā replicated, so `(1/E) Σ_e g_e g_eᵀ = (1/N) Σ_n J_nᵀ F_s J_n`.
 * The passes are hooks-only backwards (autodiff's `accumulate: false`, graph retained): no parameter
 * gradient is computed or touched, and the user's own `backward(loss)` afterwards computes the
 * gradients while the sealed sites keep their g (the Fisher's). With one pass per example ("true",
 * "curvature-prop") that backward's hook calls fill `lossG` instead: the loss's own signals, which
 * EKFAC uses to form the step's rotated gradient from the rows of its scaling (ekfac's
 * kronecker-block.ts, "Shared rows"); they are null from the Fisher pass until that backward runs.
 * A prediction no nn loss sees (a user's own loss) leaves the sites pending; their g then come from
 * the user's backward and are labelled "empirical", which the optimizer can detect. Pending sites are
 * dropped when their layer forwards again or turns capture off.
 *
 * Deviation: the capture contract states "exact" for categorical heads (g = sqrt(C·p_c)·∂ℓ(y=c)/∂s);
 * Bernoulli and Gaussian heads use the same pseudo-example form with their own square-root columns,
 * K = D passes.
 * Cost: "true" and "curvature-prop" ≈ one backward without the weight products; "exact" K of them. The claim walk is
 * O(nodes of the graph) and runs only while sites are pending. Buffers are reused while sizes hold.
 */
import { backward, type Tensor } from "@ekfac-ts/autodiff";
import { allocate, type DType, type FloatArray, Rng } from "@ekfac-ts/linalg";
import type { CaptureRequest, FisherMode } from "../module.ts";
import { gatherOutputGradInto } from "./patches.ts";

export const EMPIRICAL: CaptureRequest = Object.freeze({ fisher: "empirical", seed: 0 });

type Live<K extends string> = {
  batchSize: number;
  positions: number;
  g: FloatArray;
  lossG: FloatArray | null;
  fisher: FisherMode;
  pass: number;
} & { [key in K]: FloatArray };

const IDLE = 0; // g (if any) come from the user's backward: "empirical"
const FISHER = 1; // a Fisher pass is writing pseudo-example rows
const SEALED = 2; // the Fisher's g are published; later hook calls (the user's backward) are ignored

function ensure(buf: FloatArray | null, length: number, dtype: DType): FloatArray {
  if (buf !== null && buf.length === length && buf instanceof Float64Array === (dtype === "float64")) return buf;
  return allocate(length, dtype);
}

/**
 * One layer's capture: the forward's ā (layout `groups × (N·T) × aDim`, filled by the layer), and g
 * (`groups × (E·T) × (cOut/groups)`) from the hook on the layer's output. `key` names the input
 * statistics ("a" for Linear/Conv2d, "xhat" for BatchNorm).
 */
export class CaptureSite<K extends string> {
  request: CaptureRequest = EMPIRICAL;
  /** The output tensor hooked by the last capturing forward (null after `clear`). */
  output: Tensor | null = null;
  private aBase: FloatArray | null = null;
  private aRep: FloatArray | null = null;
  private g: FloatArray | null = null;
  private gLoss: FloatArray | null = null;
  private dtype: DType = "float32";
  private state = IDLE;
  private classes = 1;
  private cls = 0;
  private n = 0;
  private T = 1;
  private forwardId = 0;
  private passes = 0;
  private record: Live<K> | null = null;
  private live = false;
  /**
   * The rows the user's backward recorded for the current forward (g_L after a Fisher pass, the
   * empirical g otherwise), or null: what a deferred weight gradient is formed from (nn's Linear).
   */
  userRows: FloatArray | null = null;
  /** Called before the user's backward overwrites `userRows` (Linear forms a pending product from them first). */
  beforeRows: (() => void) | null = null;

  constructor(
    private readonly key: K,
    private readonly groups: number,
    private readonly aDim: number,
    private readonly cOut: number,
  ) {}

  get statistics(): Live<K> | null {
    return this.live ? this.record : null;
  }

  /** Starts a capturing forward over N examples and T positions; returns the ā buffer to fill. */
  inputs(n: number, T: number, dtype: DType): FloatArray {
    this.n = n;
    this.T = T;
    this.dtype = dtype;
    this.live = false;
    this.aBase = ensure(this.aBase, this.groups * n * T * this.aDim, dtype);
    return this.aBase;
  }

  /** Hooks the forward's output `s` (after `inputs`) and joins the pending list for a Fisher pass. */
  attach(s: Tensor): void {
    const id = ++this.forwardId;
    this.state = IDLE;
    this.userRows = null;
    this.output = s;
    leavePending(this);
    s.registerHook((grad) => {
      if (id === this.forwardId) this.onGradient(grad.data);
    });
    if (this.request.fisher !== "empirical" && s.requiresGrad) pending.push(this);
  }

  /** Turns capture off: statistics null, no pending pass, hooks of earlier forwards inert. */
  clear(): void {
    this.live = false;
    this.userRows = null;
    this.output = null;
    this.forwardId++;
    leavePending(this);
  }

  private onGradient(grad: FloatArray): void {
    if (this.state === SEALED) {
      // The user's backward after the Fisher pass: its g are the loss's own signals (one pass per
      // example only; "exact" pseudo-example rows have no matching loss row). Only layers with ā
      // record them: no scale-shift block reads a lossG, so BatchNorm skips the copy.
      const r = this.record;
      if (this.classes !== 1 || r === null || !this.live || this.key !== "a") return;
      this.beforeRows?.();
      this.gLoss = ensure(this.gLoss, this.n * this.T * this.cOut, this.dtype);
      gatherOutputGradInto(this.gLoss, grad, this.n, this.cOut, this.T, this.groups, this.n);
      r.lossG = this.userRows = this.gLoss;
      return;
    }
    if (this.state === FISHER) {
      gatherOutputGradInto(
        this.g as FloatArray,
        grad,
        this.n,
        this.cOut,
        this.T,
        this.groups,
        this.n,
        this.classes,
        this.cls,
      );
      return;
    }
    this.beforeRows?.();
    this.g = ensure(this.g, this.n * this.T * this.cOut, this.dtype);
    gatherOutputGradInto(this.g, grad, this.n, this.cOut, this.T, this.groups, this.n);
    this.publish(this.aBase as FloatArray, this.n, "empirical");
    this.userRows = this.g;
  }

  beginFisher(classes: number): void {
    this.userRows = null;
    this.g = ensure(this.g, this.n * classes * this.T * this.cOut, this.dtype);
    this.g.fill(0);
    this.classes = classes;
    this.cls = 0;
    this.state = FISHER;
  }

  setClass(cls: number): void {
    this.cls = cls;
  }

  endFisher(mode: FisherMode): void {
    const K = this.classes;
    const base = this.aBase as FloatArray;
    let a = base;
    if (K > 1) {
      // Replicate each example's T rows K times: row block (n·K + k) of group grp is example n's.
      const block = this.T * this.aDim;
      a = this.aRep = ensure(this.aRep, base.length * K, this.dtype);
      for (let grp = 0; grp < this.groups; grp++)
        for (let n = 0; n < this.n; n++) {
          const src = (grp * this.n + n) * block;
          for (let k = 0; k < K; k++) {
            const dst = ((grp * this.n + n) * K + k) * block;
            for (let j = 0; j < block; j++) a[dst + j] = base[src + j] as number;
          }
        }
    }
    this.publish(a, this.n * K, mode);
    this.state = SEALED;
  }

  /** A Fisher pass failed: nothing is published and the user's backward may still capture. */
  abortFisher(): void {
    this.state = IDLE;
    this.live = false;
  }

  private publish(a: FloatArray, batchSize: number, fisher: FisherMode): void {
    this.passes++;
    const g = this.g as FloatArray;
    const r = this.record;
    if (r === null) {
      this.record = {
        batchSize,
        positions: this.T,
        g,
        lossG: null,
        fisher,
        pass: this.passes,
        [this.key]: a,
      } as Live<K>;
    } else {
      // Updated in place: a steady training loop allocates no statistics objects.
      r.batchSize = batchSize;
      r.positions = this.T;
      r.g = g;
      r.lossG = null;
      r.fisher = fisher;
      r.pass = this.passes;
      (r as Record<string, unknown>)[this.key] = a;
    }
    this.live = true;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: sites of both statistics kinds share the list
type AnySite = CaptureSite<any>;

const pending: AnySite[] = [];
const claimed: AnySite[] = [];
const visited = new Set<Tensor>();
const stack: Tensor[] = [];

function leavePending(site: AnySite): void {
  const i = pending.indexOf(site);
  if (i >= 0) pending.splice(i, 1);
}

/** Moves the pending sites that `prediction` depends on into `claimed`, in forward order. */
function claim(prediction: Tensor): AnySite[] {
  claimed.length = 0;
  if (pending.length === 0) return claimed;
  stack.push(prediction);
  while (stack.length > 0) {
    const t = stack.pop() as Tensor;
    if (visited.has(t)) continue;
    visited.add(t);
    const node = t.node;
    if (node === null || node.released) continue;
    for (const x of node.inputs) if (x.requiresGrad) stack.push(x);
  }
  for (let i = 0; i < pending.length; ) {
    const site = pending[i] as AnySite;
    if (site.output !== null && visited.has(site.output)) {
      claimed.push(site);
      pending.splice(i, 1);
    } else i++;
  }
  visited.clear();
  return claimed;
}

/** What a loss knows about its predictive distribution, per example row of the prediction. */
export interface FisherHead {
  /** K of the exact Fisher: the number of columns b_k of the output Fisher's square root. */
  readonly exactClasses: number;
  /** `out = ∂ℓ(ŷ)/∂s / N` with ŷ drawn from the predictive distribution by `rng`. */
  sampled(out: Float64Array, rng: Rng): void;
  /** `out = sqrt(K)·b_k / N` (the output Fisher's square-root column k, rows scaled per example). */
  exactColumn(out: Float64Array, k: number): void;
  /** `out = Σ_k r_k·b_k / N` with independent signs `r_k = ±1` drawn by `rng` per example (curvature propagation). */
  propagated(out: Float64Array, rng: Rng): void;
}

let cotangent = new Float64Array(0);

/** True when some capturing layer waits for an nn loss to run its Fisher pass. */
export function fisherPending(): boolean {
  return pending.length > 0;
}

/**
 * Runs the Fisher pass(es) the layers behind `prediction` requested (nothing if none is pending).
 * `head` is built only when needed; a loss with no exact form passes `exactClasses = 0` (RangeError).
 */
export function runFisherPasses(fn: string, prediction: Tensor, makeHead: () => FisherHead): void {
  const sites = claim(prediction);
  if (sites.length === 0) return;
  const first = sites[0] as AnySite;
  const { fisher, seed } = first.request;
  for (const s of sites) {
    if (s.request.fisher !== fisher || s.request.seed !== seed) {
      throw new RangeError(
        `${fn}: the prediction depends on layers capturing with different requests ({ fisher: "${fisher}", seed: ${seed} } and { fisher: "${s.request.fisher}", seed: ${s.request.seed} }); call setCapture on the whole model`,
      );
    }
  }
  const head = makeHead();
  const K = fisher === "exact" ? head.exactClasses : 1;
  if (K < 1) {
    throw new RangeError(`${fn}: fisher "exact" needs a prediction with at least one output per example`);
  }
  if (cotangent.length !== prediction.size) cotangent = new Float64Array(prediction.size);
  const out = cotangent;
  try {
    for (const s of sites) s.beginFisher(K);
    if (fisher === "true") head.sampled(out, new Rng(seed));
    else if (fisher === "curvature-prop") head.propagated(out, new Rng(seed));
    for (let k = 0; k < K; k++) {
      if (fisher === "exact") head.exactColumn(out, k);
      for (const s of sites) s.setClass(k);
      backward(prediction, out, { retainGraph: true, accumulate: false });
    }
  } catch (e) {
    for (const s of sites) s.abortFisher();
    throw e;
  }
  for (const s of sites) s.endFisher(fisher);
  claimed.length = 0;
}
