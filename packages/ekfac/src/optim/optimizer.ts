/**
 * `Optimizer`: the one stateful optimizer, binding a `GradientTransformation` (a first-order chain, or a
 * curvature chain from `kfac`/`ekfac`/`diagonalFisher`) to parameters.
 *
 * Two ways to give the parameters:
 * - a list of arrays: `new Optimizer(adam(1e-3), params)`, then `step(grads)`;
 * - a model (anything with `parameters(): ParameterRef[]`): `new Optimizer(ekfac(model, o), model)`,
 *   then `step()` reads every parameter's gradient from its ref (a null gradient counts as zero);
 *   `step(grads)` still works.
 * Each parameter must appear once: two that share memory (the same array twice, a layer reused in a
 * model) are refused at construction, since every update would reach them twice.
 *
 * `step` copies the gradients into an internal buffer (the caller's arrays are never written), runs the
 * transform, checks the resulting update, and only then adds it to the parameters in place. It returns
 * one `StepReport` for every optimizer. A step is skipped — parameters bit-unchanged, counted in
 * `stepsSkipped` — when (1) a gradient holds NaN/±Inf (`skipNonFinite`, on by default: the transform's
 * state is untouched), (2) the transform refuses it (curvature with non-finite statistics or a non-finite
 * preconditioned update: nothing after the curvature runs), (3) the final update is not finite (the
 * last line of defence: the transform's state has advanced, since its output is only known after it
 * ran; with a finite input this needs an overflow inside momentum or the learning rate), or (4) the
 * transform withdraws it after the loss closure showed that it raised the minibatch's loss (below).
 *
 * Levenberg–Marquardt damping (the curvature aliases' adaptive default) compares the loss before and after
 * a step on the SAME minibatch: `step(loss)` / `step(grads, loss)` take a `LossClosure` (a forward pass
 * on the current minibatch, under `noGrad`, returning a number; its argument says "before" or "after" —
 * before the update the parameters are those of the caller's forward pass, whose loss the closure may
 * return instead of computing it again), called before and after the update on
 * the steps whose transform `wantsLoss` (for the curvature aliases' defaults every step after the
 * burn-in; every T_λ steps with `checkEveryStep: false`) and never otherwise — PyTorch's
 * `optimizer.step(closure)` convention. A transform that `needsLoss` refuses to step without one
 * (TypeError, before anything changes). When the transform rejects the measured update (`observeLoss`
 * returns true: the update raised that minibatch's loss), the parameters are put back bit for bit and
 * the step counts as skipped, reason "loss increased".
 *
 * A step that throws before the update is added — a schedule's learning rate negative or not finite
 * (checked by `chain`'s `prepare` before any transform writes), a gradient of the wrong shape, a
 * `before` loss that is not a number — leaves the parameters and the transform's state as they were,
 * so a retry does not count it twice. A closure that throws (or returns a non-number) when asked for the
 * loss "after" the update leaves the step applied: the parameters and the transform's state (its δ₀,
 * counters) then agree, and only the measurement is missing.
 *
 * `state()`/`load()` checkpoint through the one state format (state.ts). `load` validates EVERYTHING
 * before it writes anything: the structure (keys, list lengths, dtypes, array lengths — so a state of
 * another model, approximation or chain, e.g. with momentum into one without, is refused), every number
 * and array finite, and the transform's own rules (`validateState`: integer counters ≥ 0, second
 * moments and accumulators ≥ 0, blocks of this model).
 * After warm-up a step allocates no typed array.
 */
import { allFinite, checkFlag, checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import type { ParameterRef, ParameterSource } from "../capture.ts";
import { checkDisjointParams, checkParamList, checkSameShapes, zerosLike } from "./checks.ts";
import { type SkipState, skipNonFinite } from "./skip-non-finite.ts";
import { loadState, loadStateInto, type SavedState, saveState } from "./state.ts";
import {
  applyUpdates,
  type CurvatureStepInfo,
  type GradientTransformation,
  type LossClosure,
  type Params,
  type RowGradients,
  type SkipReason,
  type StateValue,
} from "./transform.ts";

/** Options of `Optimizer`. */
export interface OptimizerOptions {
  /** Wrap the transform in `skipNonFinite`. Default true. */
  readonly skipNonFinite?: boolean;
}

const OPTIMIZER_OPTIONS = optionKeys<OptimizerOptions>()(["skipNonFinite"]);

/** What one `step` did, for every optimizer. */
export interface StepReport {
  /** True when the parameters were left bit-unchanged. */
  readonly skipped: boolean;
  /** Why the step was skipped, or null when it was applied. */
  readonly reason: SkipReason | null;
  /** Curvature details of this step (null for first-order optimizers). */
  readonly curvature: CurvatureStepInfo | null;
}

/** Calls the loss closure; anything but a number is a TypeError (a NaN/±Inf loss is passed on: it marks a failed step). */
function lossValue(fn: string, loss: LossClosure, when: "before" | "after"): number {
  const v = loss(when);
  if (typeof v !== "number") throw new TypeError(`${fn}: the loss closure must return a number (got ${typeof v})`);
  return v;
}

function isSource(x: unknown): x is ParameterSource {
  return (
    x !== null && typeof x === "object" && !Array.isArray(x) && typeof (x as ParameterSource).parameters === "function"
  );
}

function checkFiniteState(fn: string, value: unknown, path: string): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`${fn}: ${path} is ${value}, expected a finite number`);
    return;
  }
  if (value instanceof Float32Array || value instanceof Float64Array) {
    for (let i = 0; i < value.length; i++) {
      const x = value[i] as number;
      if (x - x !== 0) throw new RangeError(`${fn}: ${path}[${i}] is ${x}, expected a finite number`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkFiniteState(fn, v, `${path}[${i}]`);
    });
    return;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) checkFiniteState(fn, v, `${path}.${k}`);
  }
}

/**
 * The one stateful optimizer: binds a `GradientTransformation` (a first-order chain such as `adam(1e-3)`,
 * or a curvature chain from `kfac`/`ekfac`/`diagonalFisher`) to parameters.
 *
 * ```ts
 * const opt = new Optimizer(adam(1e-3), params);            // then opt.step(grads)
 * const opt = new Optimizer(ekfac(model, { learningRate: 0.1 }), model); // then opt.step()
 * ```
 *
 * With a model, `step()` reads each parameter's gradient from its ref (null counts as zero). A step copies
 * the gradients (the caller's arrays are never written), runs the transform, checks the update and only
 * then adds it in place. It is skipped — parameters bit-unchanged, counted in `stepsSkipped` — when a
 * gradient is not finite, when the transform refuses it (non-finite statistics or preconditioned update),
 * when the final update is not finite, or when the transform withdraws it because the loss closure
 * showed it raised the minibatch's loss (`stepsWithdrawn`). `state()`/`load()` checkpoint through the
 * one state format; `load` validates everything before it writes anything, so a failed load changes
 * nothing.
 */
export class Optimizer {
  /** The parameters, updated in place by `step`. */
  readonly params: Params;
  /** The transform actually run (wrapped in `skipNonFinite` unless disabled). */
  readonly transform: GradientTransformation;
  private readonly refs: readonly ParameterRef[] | null;
  /** The transform's `rowGradients` when it fits this parameter list, else null. */
  private readonly rowGradients: RowGradients | null;
  private readonly updates: FloatArray[];
  private readonly rawState: StateValue;
  private applied = 0;
  private skipped = 0;
  private withdrawn = 0;
  /** The parameters before a measured step (`keepParams`), null until the first. */
  private kept: FloatArray[] | null = null;

  constructor(transform: GradientTransformation, source: Params | ParameterSource, options: OptimizerOptions = {}) {
    const fn = "Optimizer";
    checkOptions(fn, "options", options, OPTIMIZER_OPTIONS);
    checkFlag(fn, "options.skipNonFinite", options.skipNonFinite);
    if (transform === null || typeof transform !== "object" || typeof transform.update !== "function") {
      throw new TypeError(
        `${fn}: transform must be a GradientTransformation (got ${transform === null ? "null" : typeof transform})`,
      );
    }
    let params: Params;
    if (isSource(source)) {
      this.refs = [...source.parameters()];
      params = this.refs.map((r) => r.value);
    } else {
      this.refs = null;
      params = source;
    }
    checkParamList(fn, "params", params);
    checkDisjointParams(fn, params, this.refs === null ? null : this.refs.map((r) => r.name));
    const guarded = options.skipNonFinite ?? true;
    this.transform = guarded ? (skipNonFinite(transform) as GradientTransformation) : transform;
    this.params = params.slice();
    this.updates = zerosLike(params);
    this.rawState = this.transform.init(this.params);
    const rows = this.transform.rowGradients ?? null;
    this.rowGradients =
      rows !== null &&
      this.refs !== null &&
      rows.accepts.length === params.length &&
      rows.taken.length === params.length
        ? rows
        : null;
  }

  /**
   * One step with gradients `grads` (same shapes as `params`), or, for an optimizer built from a model,
   * with the gradients its parameter refs hold. Never writes `grads`. `loss` is the loss on the current
   * minibatch at the current parameters (see the header); transforms with adaptive damping need it.
   */
  step(loss?: LossClosure): StepReport;
  step(grads: Params | undefined, loss?: LossClosure): StepReport;
  step(gradsOrLoss?: Params | LossClosure, lossArg?: LossClosure): StepReport {
    const fn = "Optimizer.step";
    const grads = typeof gradsOrLoss === "function" ? undefined : gradsOrLoss;
    const loss = typeof gradsOrLoss === "function" ? gradsOrLoss : lossArg;
    if (loss !== undefined && typeof loss !== "function") {
      throw new TypeError(`${fn}: loss must be a function returning the minibatch loss (got ${typeof loss})`);
    }
    if (loss === undefined && this.transform.needsLoss === true) {
      throw new TypeError(
        `${fn}: this optimizer adapts its damping (Levenberg–Marquardt) and needs the loss on the current minibatch: call step(() => lossOnThisBatch) with a forward pass under noGrad, or build it with adaptiveDamping: false`,
      );
    }
    const measure = loss !== undefined && this.transform.wantsLoss?.(this.rawState) === true;
    if (grads === undefined) {
      if (this.refs === null) {
        throw new TypeError(
          `${fn}: grads is required for an optimizer built from a parameter list (pass the gradients)`,
        );
      }
      const rows = this.rowGradients;
      for (let k = 0; k < this.refs.length; k++) {
        const ref = this.refs[k] as ParameterRef;
        const u = this.updates[k] as FloatArray;
        if (rows !== null) {
          // A gradient the transform forms from the captured rows: zeros here, the ref left unread.
          const take = rows.accepts[k] === 1 && ref.gradFromRows === true;
          rows.taken[k] = take ? 1 : 0;
          if (take) {
            u.fill(0);
            continue;
          }
        }
        const g = ref.grad;
        if (g === null) u.fill(0);
        else if (g.length !== u.length) {
          throw new RangeError(
            `${fn}: parameter ${(this.refs[k] as ParameterRef).name} has a gradient of length ${g.length}, expected ${u.length}`,
          );
        } else u.set(g);
      }
    } else {
      checkSameShapes(fn, "grads", grads, "params", this.params);
      this.rowGradients?.taken.fill(0);
      for (let k = 0; k < grads.length; k++) (this.updates[k] as FloatArray).set(grads[k] as FloatArray);
    }
    const before = measure ? lossValue(fn, loss as LossClosure, "before") : Number.NaN;
    const refused = this.transform.update(this.updates, this.rawState, this.params) === false;
    if (refused) {
      const report = this.transform.report?.(this.rawState) ?? null;
      this.skipped += 1;
      return {
        skipped: true,
        reason: report?.vetoReason ?? "non-finite gradient",
        curvature: report?.curvature ?? null,
      };
    }
    for (let k = 0; k < this.updates.length; k++) {
      if (!allFinite(this.updates[k] as FloatArray)) {
        this.skipped += 1;
        return {
          skipped: true,
          reason: "non-finite update",
          curvature: this.transform.report?.(this.rawState)?.curvature ?? null,
        };
      }
    }
    // A measured step may be withdrawn (observeLoss): keep the parameters to put them back bit for bit.
    if (measure) this.keepParams();
    applyUpdates(this.params, this.updates);
    if (
      measure &&
      this.transform.observeLoss?.(this.rawState, before, lossValue(fn, loss as LossClosure, "after")) === true
    ) {
      this.restoreParams();
      this.skipped += 1;
      this.withdrawn += 1;
      return {
        skipped: true,
        reason: "loss increased",
        curvature: this.transform.report?.(this.rawState)?.curvature ?? null,
      };
    }
    this.applied += 1;
    return { skipped: false, reason: null, curvature: this.transform.report?.(this.rawState)?.curvature ?? null };
  }

  /** Copies the parameters into `kept` (allocated on the first measured step). */
  private keepParams(): void {
    if (this.kept === null) this.kept = zerosLike(this.params);
    for (let k = 0; k < this.params.length; k++) (this.kept[k] as FloatArray).set(this.params[k] as FloatArray);
  }

  /** Puts back the parameters `keepParams` copied. */
  private restoreParams(): void {
    const kept = this.kept as FloatArray[];
    for (let k = 0; k < this.params.length; k++) (this.params[k] as FloatArray).set(kept[k] as FloatArray);
  }

  /** Steps applied (not skipped) by this instance. */
  get stepsApplied(): number {
    return this.applied;
  }

  /**
   * Steps skipped by this instance (non-finite gradient, refused by the transform, non-finite update,
   * withdrawn because the loss rose).
   */
  get stepsSkipped(): number {
    return this.skipped;
  }

  /** Of `stepsSkipped`, the steps withdrawn by the transform because they raised the loss ("loss increased"). */
  get stepsWithdrawn(): number {
    return this.withdrawn;
  }

  /** The live state object (mutated by every step). */
  get currentState(): StateValue {
    return this.rawState;
  }

  /** The `skipNonFinite` counters (null when not guarded). */
  get skipState(): SkipState<StateValue> | null {
    const s = this.rawState as SkipState<StateValue>;
    return typeof s === "object" && s !== null && "skipped" in s && "inner" in s ? s : null;
  }

  /** A snapshot of the optimizer state (not the parameters: checkpoint those separately). */
  state(): SavedState {
    return saveState(this.rawState);
  }

  /**
   * Restores a snapshot from `state()` of an optimizer built the same way, in place. Validates
   * everything first (see the header); on any error nothing has been written.
   */
  load(saved: SavedState): void {
    const fn = "Optimizer.load";
    const candidate = loadState(saved);
    checkFiniteState(fn, candidate, "state");
    // Structure against this optimizer's state, as a dry run into a throwaway copy of it.
    loadStateInto(loadState(this.state()), saved);
    this.transform.validateState?.(fn, candidate);
    loadStateInto(this.rawState, saved);
    this.transform.restored?.(this.rawState);
  }
}
