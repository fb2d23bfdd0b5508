/**
 * The options-object check of every package of the repository (linalg, autodiff, nn, ekfac): one
 * home, so "a misspelled option is an error, not a silently ignored key" reads the same everywhere.
 *
 * TypeScript rejects an unknown key in an object literal, but not in an object built elsewhere
 * (spread from a config file, JSON, JavaScript callers), where `{ learningrate: 0.1 }` would leave the
 * real option at its default — for an optimizer, a different algorithm. So every public function that
 * takes an options object checks its keys against the names it reads and throws a TypeError naming the
 * function, the key, the closest known name (when one is within two edits or differs in case only)
 * and the full list:
 *
 *   ekfac: options.learningrate is not an option (did you mean learningRate?); known: learningRate, …
 *
 * A key whose value is `undefined` is checked like any other: a misspelling is one whatever its value.
 * Cost: one pass over the object's own keys, nothing allocated when they are all known.
 */
import { kindOf } from "./internal/checks.ts";

/**
 * Throws unless `options` is `undefined` or a non-array object whose own enumerable keys are all in
 * `known`: a TypeError `fn: name must be an object (got …)` for `null`, an array or a primitive, and
 * `fn: name.key is not an option (did you mean …?); known: …` for a key not in `known`. `name` is how
 * the caller's documentation names the argument (`options`, `options.dampingAdaptation`).
 */
export function checkOptions(fn: string, name: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const got = options === null ? "null" : Array.isArray(options) ? "Array" : typeof options;
    throw new TypeError(`${fn}: ${name} must be an object (got ${got})`);
  }
  for (const key in options) {
    if (!Object.hasOwn(options, key) || known.includes(key)) continue;
    const near = closest(key, known);
    const hint = near === null ? "" : ` (did you mean ${near}?)`;
    throw new TypeError(`${fn}: ${name}.${key} is not an option${hint}; known: ${known.join(", ") || "none"}`);
  }
}

/**
 * `checkOptions` for a function whose options object is required (it holds a required key, or the
 * function has no sensible defaults): `undefined` is refused like `null`, and the message lists the
 * names, `fn: name must be an object { a, b } (got undefined)`.
 */
export function checkRequiredOptions(fn: string, name: string, options: unknown, known: readonly string[]): void {
  if (options === undefined || options === null || typeof options !== "object" || Array.isArray(options)) {
    const got = options === null ? "null" : Array.isArray(options) ? "Array" : typeof options;
    throw new TypeError(`${fn}: ${name} must be an object { ${known.join(", ")} } (got ${got})`);
  }
  checkOptions(fn, name, options, known);
}

/**
 * The option names of an options interface `T`, checked at compile time both ways: every listed name
 * is a key of `T`, and every key of `T` is listed, so the list a function checks against cannot drift
 * from the interface it documents. `const KEYS = optionKeys<SyrkOptions>()(["trans"]);`
 */
export function optionKeys<T>(): OptionKeyList<T> {
  return (keys) => keys;
}

/**
 * What {@link optionKeys} returns: a function taking the names as a literal list and returning it; it
 * does not compile when a name is not a key of `T` or a key of `T` is missing (`{ missing: … }`).
 */
export type OptionKeyList<T> = <const K extends readonly (keyof T & string)[]>(
  keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
) => K;

/**
 * Throws a TypeError unless `value` is `undefined` or a boolean: a flag given as `"false"` or `0` would
 * otherwise be read by truthiness (`"false"` is true).
 */
export function checkFlag(fn: string, name: string, value: unknown): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    const got =
      typeof value === "string"
        ? JSON.stringify(value)
        : value !== null && (typeof value === "object" || typeof value === "function")
          ? kindOf(value)
          : String(value);
    throw new TypeError(`${fn}: ${name} must be true or false (got ${got})`);
  }
}

/** The known name closest to `key`: equal ignoring case, or within two edits (optimal string alignment). */
function closest(key: string, known: readonly string[]): string | null {
  const lower = key.toLowerCase();
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Optimal-string-alignment distance (insertions, deletions, substitutions, adjacent transpositions) of
 * `a` and `b`, or `cap` when it is at least `cap`. Only on the error path.
 */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  const w = b.length + 1;
  const d: number[] = Array.from({ length: (a.length + 1) * w }, (_, i) => (i < w ? i : i % w === 0 ? i / w : 0));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (d[(i - 1) * w + j] as number) + 1,
        (d[i * w + j - 1] as number) + 1,
        (d[(i - 1) * w + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, (d[(i - 2) * w + j - 2] as number) + 1);
      }
      d[i * w + j] = v;
    }
  }
  return Math.min(cap, d[a.length * w + b.length] as number);
}
