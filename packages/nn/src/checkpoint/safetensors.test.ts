import { clearErrorOr } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readSafetensors, type SafetensorsTensor, writeSafetensors } from "./safetensors.ts";

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const u64le = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, 0, 0, 0, 0];

/** A file from a header string (padded by the caller or not) and raw data bytes. */
function file(header: string, data: number[] = []): Uint8Array {
  const h = ascii(header);
  return Uint8Array.from([...u64le(h.length), ...h, ...data]);
}

/** Throws a RangeError or TypeError whose message starts "readSafetensors: ", nothing else (linalg's clearErrorOr). */
function expectClearError(bytes: Uint8Array): void {
  expect(clearErrorOr("readSafetensors: ", () => readSafetensors(bytes))).toBeUndefined();
}

describe("safetensors writer matches the reference format byte for byte", () => {
  it("one F32 tensor [1,2,3]: header, space padding to 8, little-endian data", () => {
    const data = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const out = writeSafetensors({ "attn.0": { dtype: "F32", shape: [1, 2, 3], data } });
    // Built by hand from the spec: compact JSON, field order dtype, shape, data_offsets.
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes: no padding
    expect(header.length).toBe(64);
    // IEEE-754 binary32, little-endian: 1 = 00 00 80 3F, 2 = 00 00 00 40, 3 = 00 00 40 40, 4 = 00 00 80 40, 5 = 00 00 A0 40.
    const floats = [0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40];
    expect([...out]).toEqual([...u64le(64), ...ascii(header), ...floats]);
  });

  it("a 61-byte header is padded with 3 spaces to 64", () => {
    const out = writeSafetensors({ a: { dtype: "U8", shape: [2], data: Uint8Array.from([7, 9]) } });
    const header = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    expect(padded.length % 8).toBe(0);
    expect([...out]).toEqual([...u64le(padded.length), ...ascii(padded), 7, 9]);
  });

  it("empty file with metadata: __metadata__ first, keys sorted", () => {
    const out = writeSafetensors({}, { framework: "pt", alpha: "1" });
    const header = '{"__metadata__":{"alpha":"1","framework":"pt"}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    expect([...out]).toEqual([...u64le(padded.length), ...ascii(padded)]);
    expect([...writeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...ascii("{}      ")]);
  });

  it("layout order is dtype by descending alignment, then name; F64 is little-endian", () => {
    const out = writeSafetensors({
      b: { dtype: "F32", shape: [1], data: Float32Array.from([1]) },
      a: { dtype: "F32", shape: [], data: Float32Array.from([2]) },
      z: { dtype: "F64", shape: [1], data: Float64Array.from([1]) },
      c: { dtype: "I8", shape: [1], data: Int8Array.from([-1]) },
    });
    const header =
      '{"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"a":{"dtype":"F32","shape":[],"data_offsets":[8,12]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},' +
      '"c":{"dtype":"I8","shape":[1],"data_offsets":[16,17]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    const data = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x80, 0x3f, 0xff];
    expect([...out]).toEqual([...u64le(padded.length), ...ascii(padded), ...data]);
  });

  it("non-ASCII names are written as raw UTF-8, escapes only for quote, backslash and controls", () => {
    const out = writeSafetensors({ 'é"\\\n': { dtype: "U8", shape: [0], data: new Uint8Array(0) } });
    const text = String.fromCharCode(...out.subarray(8));
    expect(text.startsWith('{"\u00c3\u00a9\\"\\\\\\n":')).toBe(true);
  });
});

const DTYPE_CASES: [SafetensorsTensor["dtype"], (n: number) => fc.Arbitrary<SafetensorsTensor["data"]>][] = [
  ["F32", (n) => fc.float32Array({ minLength: n, maxLength: n, noDefaultInfinity: false })],
  ["F64", (n) => fc.float64Array({ minLength: n, maxLength: n })],
  ["I32", (n) => fc.int32Array({ minLength: n, maxLength: n })],
  ["U16", (n) => fc.uint16Array({ minLength: n, maxLength: n })],
  ["I8", (n) => fc.int8Array({ minLength: n, maxLength: n })],
  ["U8", (n) => fc.uint8Array({ minLength: n, maxLength: n })],
  ["I64", (n) => fc.bigInt64Array({ minLength: n, maxLength: n })],
];

const tensorArb: fc.Arbitrary<SafetensorsTensor> = fc
  .tuple(
    fc.integer({ min: 0, max: DTYPE_CASES.length - 1 }),
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  )
  .chain(([k, shape]) => {
    const [dtype, gen] = DTYPE_CASES[k] as (typeof DTYPE_CASES)[number];
    const n = shape.reduce((a, b) => a * b, 1);
    return gen(n).map((data) => ({ dtype, shape, data }));
  });

const filesArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 6 }).filter((s) => s !== "__metadata__"),
  tensorArb,
  {
    maxKeys: 5,
  },
);

describe("safetensors round trip", () => {
  it("read(write(tensors)) = tensors (bits, shapes, dtypes, metadata)", () => {
    fc.assert(
      fc.property(filesArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tensors, meta) => {
        const back = readSafetensors(writeSafetensors(tensors, meta));
        expect(new Set(back.tensors.keys())).toEqual(new Set(Object.keys(tensors)));
        for (const [name, t] of Object.entries(tensors)) {
          const r = back.tensors.get(name) as SafetensorsTensor;
          expect(r.dtype).toBe(t.dtype);
          expect(r.shape).toEqual(t.shape);
          expect(r.data.constructor).toBe(t.data.constructor);
          // Object.is distinguishes −0 from +0 and matches NaN with NaN.
          for (let i = 0; i < t.data.length; i++) expect(Object.is(r.data[i], t.data[i])).toBe(true);
        }
        expect(back.metadata === null ? {} : Object.fromEntries(back.metadata)).toEqual(meta);
      }),
      { numRuns: 60 },
    );
  });

  it("write is deterministic: insertion order of the input does not change the bytes", () => {
    fc.assert(
      fc.property(filesArb, (tensors) => {
        const reversed = Object.fromEntries(Object.entries(tensors).reverse());
        expect([...writeSafetensors(reversed)]).toEqual([...writeSafetensors(tensors)]);
      }),
      { numRuns: 30 },
    );
  });

  it("reads from a view with a non-zero byteOffset (DataView honours the view, not the whole buffer)", () => {
    const bytes = writeSafetensors({ w: { dtype: "F64", shape: [2], data: Float64Array.from([1.5, -2]) } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect([...(readSafetensors(big.subarray(3)).tensors.get("w")?.data ?? [])]).toEqual([1.5, -2]);
  });

  it("a file whose JSON lists tensors out of offset order is read by offsets", () => {
    const header =
      '{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    const r = readSafetensors(file(padded, [5, 6]));
    expect([...(r.tensors.get("a")?.data ?? [])]).toEqual([5]);
    expect([...(r.tensors.get("b")?.data ?? [])]).toEqual([6]);
  });
});

describe("safetensors reader rejects corrupt files with clear errors", () => {
  const good = writeSafetensors({
    w: { dtype: "F32", shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    b: { dtype: "F32", shape: [2], data: Float32Array.from([5, 6]) },
  });

  it.each([
    ["too short for the length field", Uint8Array.from([1, 0, 0])],
    ["header length beyond the file", Uint8Array.from([...u64le(100), ...ascii("{}")])],
    ["header length beyond 2^32", Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, ...ascii("{}")])],
    ["invalid UTF-8", Uint8Array.from([...u64le(4), 0x7b, 0xc3, 0x28, 0x7d])],
    ["overlong UTF-8", Uint8Array.from([...u64le(4), 0x7b, 0xc0, 0xaf, 0x7d])],
    ["UTF-8 encoded surrogate", Uint8Array.from([...u64le(5), 0x7b, 0xed, 0xa0, 0x80, 0x7d])],
    ["truncated UTF-8 sequence", Uint8Array.from([...u64le(3), 0x7b, 0x7d, 0xe2])],
    ["bad JSON", file('{"a":')],
    ["trailing JSON garbage", file("{} x")],
    ["a non-object header", file("[1, 2]   ")],
    ["deep nesting", file(`{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`)],
    ["unknown dtype", file('{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', Array(16).fill(0))],
    ["dtype not a string", file('{"a":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}', Array(4).fill(0))],
    ["negative dimension", file('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}')],
    ["fractional dimension", file('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', [0])],
    [
      "huge dimensions",
      file('{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', Array(8).fill(0)),
    ],
    ["size ≠ numel·itemsize", file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', Array(4).fill(0))],
    ["end < begin", file('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}')],
    ["offsets of the wrong arity", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}', [0])],
    ["offsets out of range", file('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', [1, 2])],
    ["trailing data bytes", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1, 2])],
    ["a gap", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2])],
    [
      "overlapping offsets",
      file(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}',
        [1, 2, 3],
      ),
    ],
    [
      "duplicated names",
      file(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        [1, 2],
      ),
    ],
    ["metadata not strings", file('{"__metadata__":{"k":1}}')],
    ["lone surrogate escape", file('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')],
  ])("%s", (_, bytes) => {
    expectClearError(bytes);
  });

  it("truncating a valid file anywhere gives a clear error", () => {
    for (let len = 0; len < good.length; len++) expectClearError(good.subarray(0, len));
  });

  it("random byte flips give a clear error or a self-consistent file, never a crash", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (flips) => {
          const bytes = good.slice();
          for (const [i, x] of flips) bytes[i] = (bytes[i] as number) ^ x;
          let result: ReturnType<typeof readSafetensors> | null = null;
          try {
            result = readSafetensors(bytes);
          } catch (e) {
            expect(e instanceof RangeError || e instanceof TypeError).toBe(true);
            expect((e as Error).message).toMatch(/^readSafetensors: /);
            return;
          }
          // Accepted: every tensor's length must agree with its shape, and the bytes must re-serialize
          // into a file that reads back identically (no silently inconsistent tensor).
          for (const t of result.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          const again = readSafetensors(writeSafetensors(result.tensors, result.metadata ?? undefined));
          expect([...again.tensors.keys()].sort()).toEqual([...result.tensors.keys()].sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fuzzed arbitrary bytes never crash the reader", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.string({ maxLength: 40 }), (tail, json) => {
        const h = [...json].flatMap((c) => (c.charCodeAt(0) < 128 ? [c.charCodeAt(0)] : []));
        const bytes = Uint8Array.from([...u64le(h.length), ...h, ...tail]);
        try {
          readSafetensors(bytes);
        } catch (e) {
          expect(e instanceof RangeError || e instanceof TypeError).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("safetensors writer validates its input", () => {
  it("data length ≠ numel(shape) is a RangeError", () => {
    expect(() => writeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(RangeError);
  });
  it("a data array of the wrong kind is a TypeError", () => {
    expect(() => writeSafetensors({ a: { dtype: "F64", shape: [2], data: new Float32Array(2) } })).toThrow(TypeError);
  });
  it("the reserved name __metadata__ is a TypeError", () => {
    expect(() => writeSafetensors({ __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } })).toThrow(
      TypeError,
    );
  });
});

describe("bounded reading (issue 19)", () => {
  it("a header length over the 100 MB cap (the reference's MAX_HEADER_SIZE) is refused from the length field", () => {
    expect(() => readSafetensors(Uint8Array.from([...u64le(100_000_001), ...ascii("{}")]))).toThrow(
      /exceeds the 100000000-byte limit/,
    );
  });
  it("many tensors and a long escaped metadata value read back exactly", () => {
    const tensors = new Map<string, SafetensorsTensor>();
    for (let i = 0; i < 3000; i++) tensors.set(`t${i}`, { dtype: "U8", shape: [1], data: Uint8Array.of(i & 255) });
    const note = 'line "1"\n\tline 2\\'.repeat(2000);
    const back = readSafetensors(writeSafetensors(tensors, { note }));
    expect(back.tensors.size).toBe(3000);
    expect(back.tensors.get("t2999")?.data[0]).toBe(2999 & 255);
    expect(back.metadata?.get("note")).toBe(note);
  });
});
