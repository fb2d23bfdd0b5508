/**
 * The portable conformance harness: one source of truth for assertions that run unchanged on Node,
 * Deno, Bun, an edge isolate and a browser.
 *
 * Each package's `test/portable/cases.ts` exports `cases: PortableCase[]`. Thin runners execute them:
 * `<pkg>.test.ts` hands each case to `node:test` (Node, Deno, Bun all implement it) and
 * `scripts/browser/portable.html` runs the same list in a page. Because `node:assert` does not exist in
 * browsers, cases assert through the helpers below, which use only ECMAScript and the library's own
 * closeness check. fast-check is used as is (it is plain ESM).
 */
import { assertClose, type CloseOptions } from "@ekfac-ts/linalg";

export interface PortableCase {
  /** Named after the law it checks, as in the vitest suites. */
  readonly name: string;
  readonly run: () => void | Promise<void>;
}

/** Fast-check depth for portable properties: small, because they run once per runtime. */
export const portableRuns = 40;

/** Throws an Error with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Throws unless `x` is close to `y` in the scaled Frobenius sense of linalg's `closeness`. */
export function checkClose(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  label: string,
  options: CloseOptions = {},
): void {
  assertClose(x, y, options, label);
}

/** Throws unless `fn` throws an instance of `type` whose message matches `pattern`. */
export function checkThrows(fn: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  check(thrown !== undefined, `expected ${type.name} matching ${pattern}, but nothing was thrown`);
  check(thrown instanceof type, `expected ${type.name}, got ${String(thrown)}`);
  check(pattern.test(thrown.message), `expected message matching ${pattern}, got "${thrown.message}"`);
}

/** Throws unless `x` and `y` have the same length and equal elements by `Object.is` (NaN = NaN, −0 ≠ +0). */
export function checkIdentical(x: ArrayLike<number>, y: ArrayLike<number>, label: string): void {
  check(x.length === y.length, `${label}: lengths differ (${x.length} vs ${y.length})`);
  for (let i = 0; i < x.length; i++) {
    check(Object.is(x[i], y[i]), `${label}: index ${i} differs (${x[i]} vs ${y[i]})`);
  }
}
