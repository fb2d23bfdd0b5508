/**
 * What a law is: a named mathematical statement with its source, the cases it is tried on, the
 * tolerance it is held to and why, and a measurement that turns one case into (observed error,
 * tolerance). The law holds on a case iff error ≤ tolerance; NaN never holds, and an exception thrown
 * by the implementation under test is a failure too.
 *
 * A law does not hard-wire the library: `measure` receives an `Implementation` (impl.ts), defaulting
 * to the real functions, so a mutation test can pass a deliberately broken variant and see the law fail.
 *
 * The observed error is kept (not only pass/fail) so that the runner can report how close the worst
 * case came to the tolerance: a law whose worst ratio is 1e-6 is sized loosely, one at 0.9 is tight.
 * Inequality laws (EKFAC ≤ KFAC) report a signed error: negative values are a margin.
 */
import fc from "fast-check";
import { defaultImplementation, type Implementation } from "./impl.ts";

/** One case's outcome: the law holds iff `error ≤ tolerance`. */
export interface Measurement {
  readonly error: number;
  readonly tolerance: number;
  /** Optional detail shown on failure (which entry, which part of a compound law). */
  readonly note?: string;
}

/** error / tolerance (0 for a zero error under a zero tolerance, +∞ for a positive one). */
export function ratioOf(m: Measurement): number {
  if (Number.isNaN(m.error) || Number.isNaN(m.tolerance)) return Number.NaN;
  if (m.tolerance > 0) return m.error / m.tolerance;
  return m.error <= 0 ? 0 : Number.POSITIVE_INFINITY;
}

export function holds(m: Measurement): boolean {
  return m.error <= m.tolerance;
}

/** The worst (largest-ratio) of several measurements of one case, so compound laws report one number. */
export function worstOf(...ms: readonly Measurement[]): Measurement {
  let worst: Measurement | undefined;
  for (const m of ms) {
    const r = ratioOf(m);
    if (worst === undefined || Number.isNaN(r) || r > ratioOf(worst)) worst = m;
    if (Number.isNaN(r)) break;
  }
  return worst ?? { error: 0, tolerance: 0 };
}

/** The descriptive part of a law, as PROOFS.md lists it. */
export interface LawDescription {
  /** Stable identifier, dotted (`linalg.eigh.residual`); used by `--filter` and for replay. */
  readonly id: string;
  /** The law's name, as a test title (`"EKFAC Frobenius error ≤ KFAC Frobenius error"`). */
  readonly title: string;
  /** The statement in mathematical notation. */
  readonly statement: string;
  /** Paper + equation/theorem, or Golub & Van Loan algorithm number. */
  readonly source: string;
  /** What the cases are: sizes, conditioning, special cases. */
  readonly generator: string;
  /** The tolerance in words and as computed. */
  readonly tolerance: string;
  /** Why that tolerance is the right one. */
  readonly why: string;
  /**
   * Fraction of the requested number of runs this law gets (default 1): expensive laws run
   * `max(1, round(runs · runScale))` cases.
   */
  readonly runScale: number;
}

/** Called with every measurement a property makes (the runner tracks the worst one). */
export type Observer = (m: Measurement) => void;

/** A law, with its type parameter erased so that laws of different case types share one catalogue. */
export interface Law extends LawDescription {
  /** The cases (exported so that users can reuse them). */
  readonly arbitrary: fc.Arbitrary<unknown>;
  /** The fast-check property of this law for `impl` (default: the real library). */
  property(impl?: Implementation, observe?: Observer): fc.IPropertyWithHooks<[unknown]>;
  /** Measures one case directly (for replays and users' own drivers). */
  measure(impl: Implementation, value: unknown): Measurement;
}

/** Thrown by a property when a case breaks its law; the message is what fast-check reports. */
export class LawViolation extends Error {
  constructor(
    readonly measurement: Measurement,
    id: string,
  ) {
    const r = ratioOf(measurement);
    super(
      `${id}: observed error ${fmt(measurement.error)} > tolerance ${fmt(measurement.tolerance)} (ratio ${fmt(r)})` +
        (measurement.note ? `; ${measurement.note}` : ""),
    );
    this.name = "LawViolation";
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(3) : String(x);
}

export interface LawSpec<T> extends Omit<LawDescription, "runScale"> {
  readonly runScale?: number;
  readonly arbitrary: fc.Arbitrary<T>;
  readonly measure: (impl: Implementation, value: T) => Measurement;
}

/** Builds a `Law` from its description, its cases and its measurement. */
export function defineLaw<T>(spec: LawSpec<T>): Law {
  const runScale = spec.runScale ?? 1;
  if (!(runScale > 0 && runScale <= 1)) throw new RangeError(`defineLaw: ${spec.id}: runScale must be in (0, 1]`);
  const measure = (impl: Implementation, value: unknown): Measurement => spec.measure(impl, value as T);
  return {
    id: spec.id,
    title: spec.title,
    statement: spec.statement,
    source: spec.source,
    generator: spec.generator,
    tolerance: spec.tolerance,
    why: spec.why,
    runScale,
    arbitrary: spec.arbitrary as fc.Arbitrary<unknown>,
    measure,
    property(impl = defaultImplementation, observe) {
      return fc.property(spec.arbitrary as fc.Arbitrary<unknown>, (value) => {
        const m = measure(impl, value);
        observe?.(m);
        if (!holds(m)) throw new LawViolation(m, spec.id);
      });
    },
  };
}
