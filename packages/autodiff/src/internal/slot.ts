/** Gradient slots shared by the tape and the rule table (kept apart to avoid an import cycle). */
import type { FloatArray } from "@ekfac-ts/linalg";
import { acquireZeroed } from "../pool.ts";
import type { Tensor } from "../tensor.ts";

let leafSlots = true;

/**
 * Whether leaves get a slot (false during a hooks-only backward, so that rules skip the products that
 * only a parameter's gradient needs); returns the previous setting.
 */
export function setLeafSlots(on: boolean): boolean {
  const prev = leafSlots;
  leafSlots = on;
  return prev;
}

/** Whether a rule would give `t` a slot (`slot(t)` not null), without acquiring one. */
export function wantsGrad(t: Tensor): boolean {
  return t.requiresGrad && (leafSlots || t.node !== null);
}

/**
 * The buffer a rule accumulates `t`'s gradient into (zero-filled from the pool on first touch), or
 * null when `t` does not require a gradient (or is a leaf during a hooks-only backward). Fan-in
 * accumulates because every rule adds (`+=`).
 */
export function slot(t: Tensor): FloatArray | null {
  if (!wantsGrad(t)) return null;
  if (t.gradBuffer === null) t.gradBuffer = acquireZeroed(t.size, t.dtype);
  return t.gradBuffer;
}
