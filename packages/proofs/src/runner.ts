/**
 * The portable runner (no Node or Deno APIs): runs laws at a chosen depth with fast-check, tracks the
 * worst observed error relative to each law's tolerance, and on failure returns the shrunk
 * counterexample with the seed and path that replay it.
 */
import fc from "fast-check";
import { defaultImplementation, type Implementation } from "./impl.ts";
import { type Law, type Measurement, ratioOf } from "./law.ts";

export interface RunOptions {
  /** Requested cases per law before its runScale (default 100). */
  readonly runs?: number;
  /** fast-check seed (default: a fresh random one, reported). */
  readonly seed?: number;
  /** fast-check replay path (with the seed of the failing run). */
  readonly path?: string;
  /** The implementation under test (default: the real library). */
  readonly impl?: Implementation;
  /** Called after every executed case (shrinking included) with the count so far and the requested count. */
  readonly onCase?: (done: number, requested: number) => void;
}

export interface LawReport {
  readonly id: string;
  readonly title: string;
  readonly ok: boolean;
  /** Cases the law was asked for: max(1, round(runs · runScale)). */
  readonly requested: number;
  /** Cases actually tried (up to and including the first failure). */
  readonly cases: number;
  /** Largest error/tolerance seen over the generated cases (of the shrunk counterexample on failure). */
  readonly worstRatio: number;
  readonly worstError: number;
  readonly worstTolerance: number;
  readonly seed: number;
  /** Replay path of the shrunk counterexample (null when ok). */
  readonly path: string | null;
  /** fast-check's rendering of the shrunk counterexample (null when ok). */
  readonly counterexample: string | null;
  /** The failure message (null when ok). */
  readonly message: string | null;
  readonly shrinks: number;
  readonly milliseconds: number;
}

/** Cases a law gets at depth `runs`. */
export function casesFor(law: Law, runs: number): number {
  return Math.max(1, Math.round(runs * law.runScale));
}

/** A fresh 31-bit seed from the clock and Math.random (portable). */
export function freshSeed(): number {
  return ((Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0) & 0x7fffffff;
}

/** Laws whose id or title matches `pattern` (a case-insensitive regular expression); all when undefined. */
export function selectLaws(laws: readonly Law[], pattern?: string): Law[] {
  if (pattern === undefined || pattern === "") return laws.slice();
  const re = new RegExp(pattern, "i");
  return laws.filter((l) => re.test(l.id) || re.test(l.title));
}

/** Escapes an id for use as an exact `--filter` pattern. */
export function exactPattern(id: string): string {
  return `^${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** The property with `onCase` called after each of its runs (fast-check has no per-case hook). */
function counted<P extends object>(
  property: P,
  requested: number,
  onCase?: (done: number, requested: number) => void,
): P {
  if (onCase === undefined) return property;
  let done = 0;
  return new Proxy(property, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (typeof v !== "function") return v;
      if (key !== "run") return v.bind(target);
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        onCase(++done, requested);
        return r;
      };
    },
  });
}

/** Runs one law. Never throws for a failing law: the failure is in the report. */
export function runLaw(law: Law, options: RunOptions = {}): LawReport {
  const requested = casesFor(law, options.runs ?? 100);
  const seed = options.seed ?? freshSeed();
  let worst: Measurement | null = null;
  let lastFailure: Measurement | null = null;
  let failing = false;
  const observe = (m: Measurement): void => {
    const ok = m.error <= m.tolerance;
    if (!ok) {
      failing = true;
      lastFailure = m;
    } else if (!failing && (worst === null || ratioOf(m) > ratioOf(worst))) worst = m;
  };
  const property = counted(law.property(options.impl ?? defaultImplementation, observe), requested, options.onCase);
  const t0 = now();
  const details = fc.check(property, {
    numRuns: requested,
    seed,
    ...(options.path !== undefined ? { path: options.path } : {}),
  });
  const milliseconds = now() - t0;
  const shown: Measurement | null = details.failed ? lastFailure : worst;
  const m: Measurement = shown ?? { error: details.failed ? Number.NaN : 0, tolerance: 0 };
  let message: string | null = null;
  if (details.failed) {
    const e = details.errorInstance;
    message = e instanceof Error ? `${e.name}: ${e.message}` : String(e ?? "property failed");
  }
  return {
    id: law.id,
    title: law.title,
    ok: !details.failed,
    requested,
    cases: details.numRuns,
    worstRatio: ratioOf(m),
    worstError: m.error,
    worstTolerance: m.tolerance,
    seed: details.seed,
    path: details.failed ? (details.counterexamplePath ?? null) : null,
    counterexample: details.failed && details.counterexample !== null ? fc.stringify(details.counterexample[0]) : null,
    message,
    shrinks: details.numShrinks,
    milliseconds,
  };
}

/** Runs laws in order, calling `onReport` after each (for streaming output). */
export function runLaws(
  laws: readonly Law[],
  options: RunOptions = {},
  onReport?: (r: LawReport) => void,
): LawReport[] {
  const seed = options.seed ?? freshSeed();
  const out: LawReport[] = [];
  for (const law of laws) {
    const r = runLaw(law, { ...options, seed });
    onReport?.(r);
    out.push(r);
  }
  return out;
}

function num(x: number, digits = 3): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(digits) : x.toExponential(2);
}

/** One line per law (and the failure details under it). `replay` builds the command that replays a failure. */
export function formatReport(r: LawReport, replay: (r: LawReport) => string = defaultReplay): string {
  const status = r.ok ? "PASS" : "FAIL";
  const time = r.milliseconds >= 1000 ? `${(r.milliseconds / 1000).toFixed(1)} s` : `${Math.round(r.milliseconds)} ms`;
  const head = `${status}  ${r.id.padEnd(34)} ${String(r.cases).padStart(6)} cases  worst ${num(r.worstRatio).padStart(9)} of tol  (${time})`;
  if (r.ok) return head;
  return [
    head,
    `      law:            ${r.title}`,
    `      error:          ${r.message ?? ""}`,
    `      counterexample: ${r.counterexample ?? "(none)"}`,
    `      shrinks:        ${r.shrinks}`,
    `      replay:         ${replay(r)}`,
  ].join("\n");
}

export function defaultReplay(r: LawReport): string {
  return `pnpm proofs --filter '${exactPattern(r.id)}' --seed ${r.seed}${r.path !== null ? ` --path '${r.path}'` : ""}`;
}

/** The closing summary line. */
export function formatSummary(reports: readonly LawReport[], milliseconds: number): string {
  const failed = reports.filter((r) => !r.ok).length;
  const cases = reports.reduce((s, r) => s + r.cases, 0);
  return `${reports.length - failed} laws passed, ${failed} failed; ${cases} cases in ${(milliseconds / 1000).toFixed(1)} s`;
}
