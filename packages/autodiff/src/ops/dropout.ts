/**
 * Inverted dropout with an explicit seeded generator: y = x · m, mᵢ = 1/(1 − p) with probability
 * 1 − p and 0 otherwise (Srivastava et al., JMLR 2014, with the inverted scaling so evaluation is the
 * identity). The mask is drawn from the caller's `Rng`, so a run is reproducible from its seed; it is
 * saved (pooled) for the rule ȳ ↦ x̄ = ȳ · m.
 *
 * Cost: one uniform draw and one multiply per element.
 */
import { checkFlag, checkOptions, optionKeys, type Rng } from "@ekfac-ts/linalg";
import { allocLike, assertTensor } from "../internal/check.ts";
import { acquire } from "../pool.ts";
import { record } from "../tape.ts";
import { Tensor } from "../tensor.ts";

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** When false, dropout is the identity (returns x itself). Default true. */
  readonly training?: boolean;
}

const DROPOUT_OPTIONS = optionKeys<DropoutOptions>()(["training"]);

/** Zeroes each element with probability p and scales the rest by 1/(1 − p). */
export function dropout(x: Tensor, p: number, rng: Rng, options: DropoutOptions = {}): Tensor {
  const fn = "dropout";
  assertTensor(fn, "x", x);
  if (typeof p !== "number" || !(p >= 0 && p <= 1))
    throw new RangeError(`${fn}: p must be in [0, 1] (got ${String(p)})`);
  if (rng === null || typeof rng !== "object" || typeof (rng as Rng).uniform !== "function") {
    throw new TypeError(`${fn}: rng must be an Rng from @ekfac-ts/linalg`);
  }
  checkOptions(fn, "options", options, DROPOUT_OPTIONS);
  checkFlag(fn, "options.training", options.training);
  if (!(options.training ?? true) || p === 0) return x;
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const mask = acquire(x.size, x.dtype);
  const xd = x.data;
  const y = allocLike(x.size, xd);
  for (let i = 0; i < x.size; i++) {
    const m = rng.uniform() < p ? 0 : scale;
    mask[i] = m;
    y[i] = (xd[i] as number) * m;
  }
  const out = new Tensor(y, x.shape);
  record("dropout", [x], out, {}, [mask]);
  return out;
}
