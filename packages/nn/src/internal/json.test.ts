import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type JsonValue, parseJson } from "./json.ts";
import { decodeUtf8, encodeUtf8 } from "./utf8.ts";

/** JSON.parse's value with objects as Maps, the shape parseJson returns. */
function asMaps(v: unknown): JsonValue {
  if (Array.isArray(v)) return v.map(asMaps);
  if (v !== null && typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, asMaps(x)]));
  return v as JsonValue;
}

describe("parseJson", () => {
  it("parseJson(s) = JSON.parse(s) for JSON without duplicated keys (escapes, unicode, nesting)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const s = JSON.stringify(v);
        expect(parseJson(s)).toEqual(asMaps(JSON.parse(s)));
      }),
    );
  });

  it("escape-heavy strings decode exactly (one chunk boundary crossed)", () => {
    const s = 'a\n\u00e9\t"\\\ud83d\ude00'.repeat(3000);
    expect(parseJson(JSON.stringify(s))).toBe(s);
    expect(parseJson(JSON.stringify(s).replace(/\u00e9/g, "\\u00e9"))).toBe(s);
  });

  // Issue 19: a 32 MB header was held as one generic tree (690 MB); the reader now streams members.
  it("with a member callback the root's members arrive one by one, in order, and are not kept", () => {
    const seen: [string, JsonValue][] = [];
    const root = parseJson('{"a":[1,2],"b":{"c":"d"}}', undefined, (k, v) => seen.push([k, v]));
    expect(root).toEqual(new Map());
    expect(seen).toEqual([
      ["a", [1, 2]],
      ["b", new Map([["c", "d"]])],
    ]);
    expect(() => parseJson('{"a":1,"a":2}', undefined, () => {})).toThrow(/duplicated key "a"/);
  });
});

describe("decodeUtf8", () => {
  it("decode(encode(s)) = s across chunk boundaries", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.integer({ min: 1, max: 600 }), (s, k) => {
        const long = s.repeat(k);
        expect(decodeUtf8(encodeUtf8(long))).toBe(long);
      }),
      { numRuns: 30 },
    );
  });
});
