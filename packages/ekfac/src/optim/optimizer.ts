/**
 * `Optimizer`: a thin stateful wrapper binding a `GradientTransformation` to a parameter list.
 *
 * `step(grads)` copies the gradients into an internal updates buffer made in the constructor (so the
 * caller's gradients are never overwritten and a step allocates nothing), runs `update`, and adds the
 * result to the parameters in place. By default the transform is wrapped in `skipNonFinite`: a step
 * whose gradient holds NaN/±Inf is skipped (parameters and optimizer state untouched) and `step`
 * returns false. `state()`/`load()` checkpoint through `saveState`/`loadStateInto`.
 *
 * The curvature optimizers pass their preconditioned direction to `step` in place of the gradient.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { checkParamList, checkSameShapes, zerosLike } from "./checks.ts";
import { type SkipState, skipNonFinite } from "./skip-non-finite.ts";
import { loadStateInto, type SavedState, saveState } from "./state.ts";
import { applyUpdates, type GradientTransformation, type Params, type StateValue } from "./transform.ts";

export interface OptimizerOptions {
  /** Wrap the transform in `skipNonFinite`. Default true. */
  readonly skipNonFinite?: boolean;
}

export class Optimizer {
  /** The parameters, updated in place by `step`. */
  readonly params: Params;
  /** The transform actually run (wrapped in `skipNonFinite` unless disabled). */
  readonly transform: GradientTransformation;
  private readonly updates: FloatArray[];
  private readonly rawState: StateValue;
  private readonly guarded: boolean;
  private applied = 0;

  constructor(transform: GradientTransformation, params: Params, options: OptimizerOptions = {}) {
    const fn = "Optimizer";
    if (transform === null || typeof transform !== "object" || typeof transform.update !== "function") {
      throw new TypeError(
        `${fn}: transform must be a GradientTransformation (got ${transform === null ? "null" : typeof transform})`,
      );
    }
    checkParamList(fn, "params", params);
    this.guarded = options.skipNonFinite ?? true;
    this.transform = this.guarded ? (skipNonFinite(transform) as GradientTransformation) : transform;
    this.params = params.slice();
    this.updates = zerosLike(params);
    this.rawState = this.transform.init(this.params);
  }

  /**
   * One step with gradients (or any descent-orientation direction) `grads`, same shapes as `params`.
   * Returns false when the step was skipped because `grads` held NaN/±Inf.
   */
  step(grads: Params): boolean {
    checkSameShapes("Optimizer.step", "grads", grads, "params", this.params);
    const skippedBefore = this.guarded ? (this.rawState as SkipState<StateValue>).skipped : 0;
    for (let k = 0; k < grads.length; k++) (this.updates[k] as FloatArray).set(grads[k] as FloatArray);
    this.transform.update(this.updates, this.rawState, this.params);
    if (this.guarded && (this.rawState as SkipState<StateValue>).skipped !== skippedBefore) return false;
    applyUpdates(this.params, this.updates);
    this.applied += 1;
    return true;
  }

  /** Steps applied (not skipped) by this instance. */
  get stepsApplied(): number {
    return this.applied;
  }

  /** Steps skipped for non-finite gradients (0 when not guarded). */
  get stepsSkipped(): number {
    return this.guarded ? (this.rawState as SkipState<StateValue>).skipped : 0;
  }

  /** The live state object (mutated by every step). */
  get currentState(): StateValue {
    return this.rawState;
  }

  /** A snapshot of the optimizer state (not the parameters: checkpoint those separately). */
  state(): SavedState {
    return saveState(this.rawState);
  }

  /** Restores a snapshot from `state()` of an optimizer built the same way, in place. */
  load(saved: SavedState): void {
    loadStateInto(this.rawState, saved);
  }
}
