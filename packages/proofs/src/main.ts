/**
 * The command line shared by the Node CLI (cli.ts) and the Deno entry (deno.ts): argument parsing and
 * the run, with all input/output through an `Io` object so that this file uses no runtime APIs.
 *
 *   proofs [--runs N] [--seed S] [--path P] [--filter PATTERN] [--json FILE] [--markdown FILE] [--list]
 */
import { catalogue } from "./catalogue.ts";
import type { Law } from "./law.ts";
import { catalogueMarkdown } from "./markdown.ts";
import { casesFor, formatReport, formatSummary, freshSeed, type LawReport, runLaw, selectLaws } from "./runner.ts";

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /**
   * Writes a text file (--json, --markdown); absent where the runtime cannot write. The entries write
   * atomically (temporary file + rename), so a killed run leaves the old file or the complete new one.
   */
  writeFile?(path: string, text: string): void;
  /** Milliseconds of a clock for progress lines (default Date.now). */
  now?(): number;
}

/**
 * The largest --runs: the default is 100 and deep CI runs use a few thousand; at ≥ 0.1 ms a case,
 * 10⁶ cases per law is already hours for the catalogue, so more is almost surely a typo (1e9).
 */
export const MAX_RUNS = 1_000_000;

/** Progress on long runs: a line on stderr at most this often while a law runs. */
export const PROGRESS_MS = 10_000;

export interface CliOptions {
  readonly runs: number;
  readonly seed: number | undefined;
  readonly path: string | undefined;
  readonly filter: string | undefined;
  readonly json: string | undefined;
  readonly markdown: string | undefined;
  readonly list: boolean;
  readonly help: boolean;
}

export const usage = `usage: proofs [options]
  --runs N          cases per law before its run scale (default 100)
  --seed S          fast-check seed (default: random, printed)
  --path P          replay path of a failure (with --seed and --filter)
  --filter PATTERN  only laws whose id or title matches this regular expression (case-insensitive)
  --json FILE       write the reports as JSON
  --markdown FILE   write the catalogue as markdown (PROOFS.md) and exit
  --list            list the laws and exit
  --help            this text`;

/** Parses argv (without the program name); throws a RangeError naming the bad argument. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o = {
    runs: 100,
    seed: undefined as number | undefined,
    path: undefined as string | undefined,
    filter: undefined as string | undefined,
    json: undefined as string | undefined,
    markdown: undefined as string | undefined,
    list: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const eq = raw.indexOf("=");
    const flag = raw.startsWith("--") && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith("--") && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`proofs: ${flag} needs a value`);
      return v;
    };
    const integer = (name: string, v: string, min: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new RangeError(`proofs: ${name} must be an integer ≥ ${min} (got ${v})`);
      return n;
    };
    switch (flag) {
      case "--runs":
        o.runs = integer("--runs", value(), 1);
        if (o.runs > MAX_RUNS)
          throw new RangeError(`proofs: --runs must be at most ${MAX_RUNS} (got ${o.runs}); see MAX_RUNS in main.ts`);
        break;
      case "--seed":
        o.seed = integer("--seed", value(), -(2 ** 31));
        break;
      case "--path":
      case "--filter":
      case "--json":
      case "--markdown":
        o[flag.slice(2) as "path" | "filter" | "json" | "markdown"] = value();
        break;
      case "--list":
        o.list = true;
        break;
      case "--help":
      case "-h":
        o.help = true;
        break;
      default:
        throw new RangeError(`proofs: unknown argument ${JSON.stringify(raw)}\n${usage}`);
    }
  }
  return o;
}

/** Runs the command; returns the exit code (0 all laws passed, 1 a law failed, 2 bad usage). */
export function main(argv: readonly string[], io: Io, laws: readonly Law[] = catalogue): number {
  let o: CliOptions;
  try {
    o = parseArgs(argv);
  } catch (e) {
    io.err(e instanceof Error ? e.message : String(e));
    return 2;
  }
  if (o.help) {
    io.out(usage);
    return 0;
  }
  if (o.markdown !== undefined) {
    if (io.writeFile === undefined) {
      io.err("proofs: --markdown needs a runtime that can write files");
      return 2;
    }
    if (!write(io, o.markdown, catalogueMarkdown(laws))) return 2;
    io.out(`wrote ${o.markdown} (${laws.length} laws)`);
    return 0;
  }
  let selected: Law[];
  try {
    selected = selectLaws(laws, o.filter);
  } catch (e) {
    io.err(`proofs: bad --filter: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (o.list) {
    for (const l of selected) io.out(`${l.id.padEnd(34)} ${String(casesFor(l, o.runs)).padStart(6)}  ${l.title}`);
    return 0;
  }
  if (selected.length === 0) {
    io.err(`proofs: no law matches --filter ${JSON.stringify(o.filter)}`);
    return 2;
  }
  const seed = o.seed ?? freshSeed();
  io.out(`proofs: ${selected.length} laws, --runs ${o.runs}, --seed ${seed}`);
  const now = io.now ?? Date.now;
  const t0 = now();
  const reports: LawReport[] = [];
  for (const [k, law] of selected.entries()) {
    let last = now();
    const onCase = (done: number, requested: number): void => {
      const t = now();
      if (t - last < PROGRESS_MS) return;
      last = t;
      io.err(
        `proofs: law ${k + 1}/${selected.length} ${law.id}: ${done}/${requested} cases, ${((t - t0) / 1000).toFixed(0)} s elapsed`,
      );
    };
    const r = runLaw(law, { runs: o.runs, seed, onCase, ...(o.path !== undefined ? { path: o.path } : {}) });
    reports.push(r);
    io.out(formatReport(r));
  }
  const ms = now() - t0;
  io.out(formatSummary(reports, ms));
  if (o.json !== undefined) {
    if (io.writeFile === undefined) io.err("proofs: --json needs a runtime that can write files");
    else if (
      !write(io, o.json, `${JSON.stringify({ runs: o.runs, seed, milliseconds: ms, reports }, jsonNumbers, 2)}\n`)
    )
      return 2;
  }
  return reports.every((r) => r.ok) ? 0 : 1;
}

/** Writes through io, reporting a failure (e.g. Deno without --allow-write) instead of throwing. */
function write(io: Io, path: string, text: string): boolean {
  try {
    io.writeFile?.(path, text);
    return true;
  } catch (e) {
    io.err(`proofs: cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/** JSON has no ±Infinity/NaN: write them as strings. */
function jsonNumbers(_key: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
}
