/**
 * A strict JSON parser (RFC 8259) for untrusted headers, and a compact serializer.
 *
 * Why not `JSON.parse`: it silently keeps the LAST of duplicated object keys, so a header naming one
 * tensor twice would load a silently wrong tensor. This parser rejects duplicated keys, caps nesting
 * depth (no stack overflow on `[[[[…`), and rejects lone-surrogate `\u` escapes (as serde_json does).
 * Objects are returned as `Map`s so that a key like `__proto__` is plain data.
 * Cost: O(length), one pass; recursion depth ≤ `maxDepth`.
 *
 * Streaming members: with `member`, the root object's members go to the callback one by one and are
 * not kept (the returned Map is empty), so a caller that converts each entry to a compact record holds
 * one generic JSON tree per member, not one for the whole header. Duplicated root keys still fail.
 */
import { StringBuilder } from "./utf8.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | Map<string, JsonValue>;

export class JsonSyntaxError extends Error {}

const MAX_DEPTH = 64;

/** The code unit each one-character escape stands for, indexed by the character after the backslash. */
const ESCAPES: number[] = [];
ESCAPES[0x22] = 0x22; // \"
ESCAPES[0x5c] = 0x5c; // \\
ESCAPES[0x2f] = 0x2f; // \/
ESCAPES[0x62] = 0x08; // \b
ESCAPES[0x66] = 0x0c; // \f
ESCAPES[0x6e] = 0x0a; // \n
ESCAPES[0x72] = 0x0d; // \r
ESCAPES[0x74] = 0x09; // \t

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Parses `text` or throws a JsonSyntaxError naming the position (see the header for `member`). */
export function parseJson(
  text: string,
  maxDepth = MAX_DEPTH,
  member?: (key: string, value: JsonValue) => void,
): JsonValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at position ${pos}`);
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else return;
    }
  };
  /** After an item of an object or array: consumes `,` (true: another item follows) or `close` (false). */
  const anotherItem = (close: "}" | "]"): boolean => {
    skipWs();
    if (text[pos] === ",") {
      pos++;
      return true;
    }
    if (text[pos] === close) {
      pos++;
      return false;
    }
    return fail(`expected ',' or '${close}'`);
  };
  const parseString = (): string => {
    pos++; // opening quote
    let out: StringBuilder | null = null; // only for strings with escapes: a plain one is one slice
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        if (out === null) {
          pos++;
          return text.slice(runStart, pos - 1);
        }
        out.text(text, runStart, pos);
        pos++;
        return out.toString();
      }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out ??= new StringBuilder();
        out.text(text, runStart, pos);
        const e = text.charCodeAt(pos + 1);
        pos += 2;
        const simple = ESCAPES[e];
        if (simple !== undefined) {
          out.unit(simple);
        } else if (e === 0x75 /* u */) {
          const u = readHex4();
          if (u >= 0xdc00 && u <= 0xdfff) fail("lone low surrogate escape");
          if (u >= 0xd800 && u <= 0xdbff) {
            if (text.charCodeAt(pos) !== 0x5c || text.charCodeAt(pos + 1) !== 0x75) fail("lone high surrogate escape");
            pos += 2;
            const lo = readHex4();
            if (lo < 0xdc00 || lo > 0xdfff) fail("lone high surrogate escape");
            out.unit(u);
            out.unit(lo);
          } else {
            out.unit(u);
          }
        } else {
          fail("invalid escape");
        }
        runStart = pos;
        continue;
      }
      pos++;
    }
  };
  const readHex4 = (): number => {
    let u = 0;
    for (let k = 0; k < 4; k++) {
      const d = hexDigit(text.charCodeAt(pos + k));
      if (d < 0) fail("invalid \\u escape");
      u = u * 16 + d;
    }
    pos += 4;
    return u;
  };
  const numberRe = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseValue = (depth: number): JsonValue => {
    if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
    skipWs();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj = new Map<string, JsonValue>();
      const stream = depth === 0 && member !== undefined;
      const seen = stream ? new Set<string>() : null;
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail("expected a string key");
        const key = parseString();
        if (seen !== null ? seen.has(key) : obj.has(key)) fail(`duplicated key ${JSON.stringify(key)}`);
        skipWs();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        if (seen !== null) {
          seen.add(key);
          (member as (key: string, value: JsonValue) => void)(key, parseValue(depth + 1));
        } else {
          obj.set(key, parseValue(depth + 1));
        }
        if (!anotherItem("}")) return obj;
      }
    }
    if (c === "[") {
      pos++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        if (!anotherItem("]")) return arr;
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    numberRe.lastIndex = pos;
    const m = numberRe.exec(text);
    if (m === null) return fail("unexpected character");
    pos += m[0].length;
    return Number(m[0]);
  };
  const value = parseValue(0);
  skipWs();
  if (pos !== text.length) fail("trailing characters");
  return value;
}

/**
 * Compact serialization as serde_json writes it: no whitespace, keys in insertion order, strings with
 * the minimal escapes (`"`, `\`, and control characters; other characters raw).
 */
export function stringifyJson(value: JsonValue): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, v] of value) parts.push(`${quote(k)}:${stringifyJson(v)}`);
  return `{${parts.join(",")}}`;
}

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += s[i];
  }
  return `${out}"`;
}
