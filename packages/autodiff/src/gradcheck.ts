/**
 * Gradient check: reverse-mode gradients against central finite differences in float64.
 *
 * Equation: for a random fixed projection r (r = 1 when f is scalar), L(x) = ⟨r, f(x)⟩; the analytic ∇L = J_fᵀ r comes from
 * one backward with seed r, and the numeric one from
 *   ∂L/∂xⱼ ≈ (L(x + hⱼeⱼ) − L(x − hⱼeⱼ)) / (2hⱼ),  hⱼ = h·max(1, |xⱼ|)
 * (central differences: truncation O(h²), rounding O(ε·|L|/h); with h = 1e-6 both sit near 1e-10
 * relative). A random r checks every column of J with probability one, at the cost of one backward.
 * Error per input: ‖∇ − ∇_num‖∞ / max(‖∇‖∞, ‖∇_num‖∞, atol).
 * Source: the standard check of e.g. torch.autograd.gradcheck, with the projection of its "fast mode".
 *
 * Inputs must be float64 (float32 finite differences cannot reach useful tolerances). `f` must be
 * deterministic: build any Rng it uses inside it from a fixed seed.
 * Cost: one forward+backward, plus 2·(number of input elements) forwards.
 */
import { checkOptions, optionKeys, Rng } from "@ekfac-ts/linalg";
import { formatShape } from "./broadcast.ts";
import { backward, enableGrad, noGrad } from "./tape.ts";
import { Tensor } from "./tensor.ts";

/** Step, tolerances and projection seed of {@link gradcheck}. */
export interface GradcheckOptions {
  /** Relative finite-difference step. Default 1e-6. */
  readonly h?: number;
  /** Pass threshold on the relative error. Default 1e-6. */
  readonly rtol?: number;
  /** Floor of the error's denominator, so gradients that are all ~0 compare absolutely. Default 1e-8. */
  readonly atol?: number;
  /** Seed of the random projection r. Default 0. */
  readonly seed?: number;
}

const GRADCHECK_OPTIONS = optionKeys<GradcheckOptions>()(["h", "rtol", "atol", "seed"]);

/** The comparison for one input of {@link gradcheck}. */
export interface GradcheckInputReport {
  /** Position of the input in `inputs`. */
  readonly index: number;
  /** ‖∇ − ∇_num‖∞ / max(‖∇‖∞, ‖∇_num‖∞, atol) for this input. */
  readonly relError: number;
  /** Element with the largest discrepancy. */
  readonly worst: number;
  /** ∇⟨r, f(x)⟩ with respect to this input by reverse mode, flattened. */
  readonly analytic: Float64Array;
  /** The same gradient by central finite differences. */
  readonly numeric: Float64Array;
}

/**
 * The verdict of {@link gradcheck}: reverse-mode gradients of L(x) = ⟨r, f(x)⟩ (r a fixed random
 * projection) against central finite differences in float64.
 */
export interface GradcheckReport {
  /** Whether every checked input's relative error is within `rtol`. */
  readonly ok: boolean;
  /** The largest relative error over the checked inputs. */
  readonly maxRelError: number;
  /** One report per input that requires grad. */
  readonly inputs: readonly GradcheckInputReport[];
  /** Empty when ok; otherwise names the input, element and both values. */
  readonly message: string;
}

function project(r: Float64Array, y: Tensor): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += (r[i] as number) * (y.data[i] as number);
  return s;
}

/** Checks the gradients of `f` with respect to every input that requires grad. */
export function gradcheck(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const fn = "gradcheck";
  if (typeof f !== "function") throw new TypeError(`${fn}: f must be a function`);
  checkOptions(fn, "options", options, GRADCHECK_OPTIONS);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${fn}: inputs[${i}] must be a Tensor`);
    if (t.dtype !== "float64")
      throw new TypeError(`${fn}: inputs[${i}] is ${t.dtype}; gradient checks need float64 inputs`);
  });
  const checked = inputs.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (checked.length === 0) throw new RangeError(`${fn}: no input requires grad`);
  const h = options.h ?? 1e-6;
  const rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-8;
  const args = inputs.slice() as Tensor[];

  const saved = inputs.map((t) => t.grad);
  for (const t of inputs) t.grad = null;
  const y = enableGrad(() => f(...args));
  if (!(y instanceof Tensor)) throw new TypeError(`${fn}: f must return a Tensor`);
  // A scalar f is checked as is (r = 1), so the reported gradients are ∇f itself.
  const r = y.size === 1 ? new Float64Array([1]) : new Rng(options.seed ?? 0).fillNormal(new Float64Array(y.size));
  if (y.requiresGrad) backward(y, r);
  const analytic = checked.map((i) => {
    const g = (inputs[i] as Tensor).grad;
    const out = new Float64Array((inputs[i] as Tensor).size);
    if (g !== null) out.set(g.data);
    return out;
  });
  inputs.forEach((t, i) => {
    t.grad = saved[i] ?? null;
  });

  const reports: GradcheckInputReport[] = [];
  noGrad(() => {
    checked.forEach((i, c) => {
      const x = (inputs[i] as Tensor).data;
      const numeric = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const orig = x[j] as number;
        const step = h * Math.max(1, Math.abs(orig));
        const xp = orig + step;
        const xm = orig - step;
        x[j] = xp;
        const lp = project(r, f(...args));
        x[j] = xm;
        const lm = project(r, f(...args));
        x[j] = orig;
        numeric[j] = (lp - lm) / (xp - xm);
      }
      const a = analytic[c] as Float64Array;
      let diff = 0;
      let scale = atol;
      let worst = 0;
      for (let j = 0; j < x.length; j++) {
        const d = Math.abs((a[j] as number) - (numeric[j] as number));
        if (!(d <= diff)) {
          diff = d;
          worst = j;
        }
        scale = Math.max(scale, Math.abs(a[j] as number), Math.abs(numeric[j] as number));
      }
      reports.push({ index: i, relError: diff / scale, worst, analytic: a, numeric });
    });
  });
  let maxRelError = 0;
  let message = "";
  for (const rep of reports) {
    if (!(rep.relError <= maxRelError)) maxRelError = rep.relError;
    if (!(rep.relError <= rtol) && message === "") {
      const shape = formatShape((inputs[rep.index] as Tensor).shape);
      message = `${fn}: inputs[${rep.index}] (shape ${shape}) relative error ${rep.relError.toExponential(3)} > ${rtol}; worst element ${rep.worst}: analytic ${rep.analytic[rep.worst]}, numeric ${rep.numeric[rep.worst]}`;
    }
  }
  return { ok: message === "", maxRelError, inputs: reports, message };
}
