/**
 * A strict JSON parser (RFC 8259) for untrusted headers, and a compact serializer.
 *
 * Why not `JSON.parse`: it silently keeps the LAST of duplicated object keys, so a header naming one
 * tensor twice would load a silently wrong tensor. This parser rejects duplicated keys, caps nesting
 * depth (no stack overflow on `[[[[…`), and rejects lone-surrogate `\u` escapes (as serde_json does).
 * Objects are returned as `Map`s so that a key like `__proto__` is plain data.
 * Cost: O(length), one pass; recursion depth ≤ `maxDepth`.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | Map<string, JsonValue>;

export class JsonSyntaxError extends Error {}

const MAX_DEPTH = 64;

/** Parses `text` or throws a JsonSyntaxError naming the position. */
export function parseJson(text: string, maxDepth = MAX_DEPTH): JsonValue {
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
  const parseString = (): string => {
    pos++; // opening quote
    let out = "";
    let runStart = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(runStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c === 0x5c) {
        out += text.slice(runStart, pos);
        const e = text[pos + 1];
        pos += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case "\\":
            out += "\\";
            break;
          case "/":
            out += "/";
            break;
          case "b":
            out += "\b";
            break;
          case "f":
            out += "\f";
            break;
          case "n":
            out += "\n";
            break;
          case "r":
            out += "\r";
            break;
          case "t":
            out += "\t";
            break;
          case "u": {
            const u = readHex4();
            if (u >= 0xdc00 && u <= 0xdfff) fail("lone low surrogate escape");
            if (u >= 0xd800 && u <= 0xdbff) {
              if (text[pos] !== "\\" || text[pos + 1] !== "u") fail("lone high surrogate escape");
              pos += 2;
              const lo = readHex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail("lone high surrogate escape");
              out += String.fromCharCode(u, lo);
              break;
            }
            out += String.fromCharCode(u);
            break;
          }
          default:
            fail("invalid escape");
        }
        runStart = pos;
        continue;
      }
      pos++;
    }
  };
  const readHex4 = (): number => {
    const h = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("invalid \\u escape");
    pos += 4;
    return Number.parseInt(h, 16);
  };
  const numberRe = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseValue = (depth: number): JsonValue => {
    if (depth > maxDepth) fail(`nesting deeper than ${maxDepth}`);
    skipWs();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj = new Map<string, JsonValue>();
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail("expected a string key");
        const key = parseString();
        if (obj.has(key)) fail(`duplicated key ${JSON.stringify(key)}`);
        skipWs();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        obj.set(key, parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return obj;
        }
        fail("expected ',' or '}'");
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
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return arr;
        }
        fail("expected ',' or ']'");
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
