/** Gradient slots shared by the tape and the rule table (kept apart to avoid an import cycle). */
import type { FloatArray } from "@ekfac-ts/linalg";
import { acquireZeroed } from "../pool.ts";
import type { Tensor } from "../tensor.ts";

/**
 * The buffer a rule accumulates `t`'s gradient into (zero-filled from the pool on first touch), or
 * null when `t` does not require a gradient. Fan-in accumulates because every rule adds (`+=`).
 */
export function slot(t: Tensor): FloatArray | null {
  if (!t.requiresGrad) return null;
  if (t.gradBuffer === null) t.gradBuffer = acquireZeroed(t.size, t.dtype);
  return t.gradBuffer;
}
