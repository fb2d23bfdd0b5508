/**
 * The benchmark harness shared by every suite: one record format, one table printer, one JSON writer.
 *
 * A suite measures our implementation and its anchors (ml-matrix, tfjs) side by side in one run and
 * validates each result (no NaN, a residual or checksum), so a benchmark cannot silently go stale.
 */

/** One measurement, as written to `results/bench/<suite>.json`. */
export interface BenchRecord {
  readonly suite: string;
  readonly case: string;
  readonly impl: string;
  readonly shape: string;
  readonly median_ms: number;
  readonly gflops?: number;
  /** Speed relative to our implementation on the same case in the same run (ours / theirs time). */
  readonly ratio_vs_ours?: number;
  /** How the result was validated, e.g. "residual 3.1e-7 ≤ 1e-4". */
  readonly check: string;
  readonly [extra: string]: unknown;
}

export interface SuiteContext {
  /** Tiny sizes for CI smoke runs. */
  readonly smoke: boolean;
  /** Measurement time per case in milliseconds (tinybench `time`). */
  readonly timeMs: number;
  /** Print progress lines. */
  readonly log: (line: string) => void;
}

export interface Suite {
  readonly name: string;
  readonly description: string;
  run(ctx: SuiteContext): Promise<BenchRecord[]>;
}
