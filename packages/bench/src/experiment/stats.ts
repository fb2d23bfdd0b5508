/**
 * Seed statistics of the equal-time protocol (issue 15): mean and sample standard deviation over
 * seeds, the WIN / TIE / LOSS verdict on two seed samples, and the equal-time truncation and
 * resampling of a training curve.
 *
 * Verdict rule ("a is lower than b"; lower loss is better), with d = mean(b) − mean(a) and
 * s = max(std(a), std(b), floor) — the larger sample standard deviation (n − 1) of the two, or a
 * spread recorded by an earlier multi-seed run when that is larger (`floor`):
 *   WIN  when d > s   (a is lower by more than the seed-to-seed spread),
 *   LOSS when −d > s  (a is higher by more than the spread),
 *   TIE  otherwise.
 * This is the "difference smaller than the seed spread is a TIE" rule of issue 15, a one-standard-
 * deviation separation rule, deliberately simple and stated rather than a significance test: with 5
 * seeds a two-sample t-test at 5 % needs |d| > 2.31·s·√(2/5) ≈ 1.46·s for equal stds, so this rule
 * is the more permissive; both call a difference inside the spread a TIE. With one seed per side and
 * no recorded spread s = 0 and any difference decides — callers print the seed count beside it.
 */
import type { CurvePoint } from "../demo/experiment.ts";

/** Loss at `x` by linear interpolation of log(loss) along `key` (NaN outside the curve). */
export function lossAt(curve: readonly CurvePoint[], key: "epoch" | "seconds", x: number): number {
  for (let i = 1; i < curve.length; i++) {
    const p = curve[i - 1] as CurvePoint;
    const q = curve[i] as CurvePoint;
    if (x >= p[key] && x <= q[key]) {
      const t = q[key] === p[key] ? 1 : (x - p[key]) / (q[key] - p[key]);
      return Math.exp((1 - t) * Math.log(p.trainLoss) + t * Math.log(q.trainLoss));
    }
  }
  return Number.NaN;
}

/** Mean and sample standard deviation (n − 1; 0 for one value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const v = n > 1 ? values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

export type Verdict = "WIN" | "TIE" | "LOSS";

export interface VerdictResult {
  readonly verdict: Verdict;
  readonly meanA: number;
  readonly stdA: number;
  readonly meanB: number;
  readonly stdB: number;
  /** The spread the difference was measured against: max(stdA, stdB, floor). */
  readonly spread: number;
}

export const VERDICT_RULE =
  "WIN when mean(b) − mean(a) > s, LOSS when mean(a) − mean(b) > s, TIE otherwise, where s is the larger sample std (n − 1) of the two seed samples (or a recorded seed spread, when larger)";

/**
 * The verdict on the claim "a is lower than b" from two seed samples (rule in the file header).
 * `floor`: a spread recorded by a multi-seed run of the same setting, for samples too small to
 * measure their own. A non-finite value (a diverged run) makes its side's mean +∞: a finite side
 * then wins, and two diverged sides tie.
 */
export function verdict(a: readonly number[], b: readonly number[], floor = 0): VerdictResult {
  if (a.length === 0 || b.length === 0) {
    throw new RangeError(`verdict: both samples need a value (got ${a.length} and ${b.length})`);
  }
  const clean = (xs: readonly number[]) => xs.map((x) => (Number.isFinite(x) ? x : Number.POSITIVE_INFINITY));
  const sa = meanStd(clean(a));
  const sb = meanStd(clean(b));
  const finite = (x: number) => (Number.isFinite(x) ? x : 0);
  const spread = Math.max(finite(sa.std), finite(sb.std), floor);
  let v: Verdict = "TIE";
  if (Number.isFinite(sa.mean) !== Number.isFinite(sb.mean)) v = Number.isFinite(sa.mean) ? "WIN" : "LOSS";
  else if (Number.isFinite(sa.mean)) {
    const d = sb.mean - sa.mean;
    if (d > spread) v = "WIN";
    else if (-d > spread) v = "LOSS";
  }
  return { verdict: v, meanA: sa.mean, stdA: sa.std, meanB: sb.mean, stdB: sb.std, spread };
}

/**
 * The part of `curve` with `key` ≤ `limit`, ending exactly at `limit`: the point there is interpolated
 * (log-loss, as `lossAt`) between the last point before and the first after. A curve that ends before
 * `limit` is returned whole (it did not reach the budget; the caller reports it). Equal-time
 * comparisons cut every run at the budget this way, so the last training step — which ends past the
 * budget — never counts.
 */
export function truncateCurve(curve: readonly CurvePoint[], key: "seconds" | "epoch", limit: number): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i] as CurvePoint;
    if (p[key] <= limit) {
      out.push(p);
      continue;
    }
    const q = out[out.length - 1];
    if (q !== undefined && q[key] < limit) {
      const t = (limit - q[key]) / (p[key] - q[key]);
      const lerp = (u: number, v: number) => u + t * (v - u);
      out.push({
        step: lerp(q.step, p.step),
        epoch: lerp(q.epoch, p.epoch),
        seconds: lerp(q.seconds, p.seconds),
        trainLoss: lossAt([q, p], key, limit),
      });
    }
    break;
  }
  return out;
}

/** `count + 1` evenly spaced values from `lo` to `hi`. */
export function grid(lo: number, hi: number, count: number): number[] {
  return Array.from({ length: count + 1 }, (_, i) => lo + ((hi - lo) * i) / count);
}

/**
 * Mean ± std across seeds of the curves' loss at each `x` of `xs` (log-loss interpolation); an `x`
 * outside some seed's curve is left out, so a band never extrapolates.
 */
export function band(
  curves: readonly (readonly CurvePoint[])[],
  key: "seconds" | "epoch",
  xs: readonly number[],
): { x: number; mean: number; std: number }[] {
  const out: { x: number; mean: number; std: number }[] = [];
  for (const x of xs) {
    const ys = curves.map((c) => lossAt(c, key, x));
    if (ys.some((y) => !Number.isFinite(y))) continue;
    out.push({ x, ...meanStd(ys) });
  }
  return out;
}

/** A run as the comparisons see it: its curve (cut at the budget) and whether it diverged. */
export interface CurveRun {
  readonly curve: readonly CurvePoint[];
  readonly error?: string;
}

/** Epochs a run got through inside the budget (its curve ends at the budget). */
export function epochsInBudget(r: CurveRun): number {
  return (r.curve[r.curve.length - 1] as CurvePoint | undefined)?.epoch ?? 0;
}

/**
 * The epoch at which two sets of runs are compared "at equal epochs": the fewest any run that did not
 * diverge reached within the budget, rounded down to a whole epoch when ≥ 1 (curve points sit exactly
 * on the first epochs' ends).
 */
export function commonEpoch(a: readonly CurveRun[], b: readonly CurveRun[]): number {
  const e = Math.min(...[...a, ...b].filter((r) => r.error === undefined).map(epochsInBudget));
  if (!Number.isFinite(e)) return 0;
  return e >= 1 ? Math.floor(e) : e;
}

/** Each run's curve loss at `epoch` (+∞ for a diverged run). */
export function lossesAtEpoch(runs: readonly CurveRun[], epoch: number): number[] {
  return runs.map((r) => (r.error === undefined ? lossAt(r.curve, "epoch", epoch) : Number.POSITIVE_INFINITY));
}
