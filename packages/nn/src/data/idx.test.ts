import { clearErrorOr } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type IdxTensor, readIdx, writeIdx } from "./idx.ts";

/** Throws a RangeError or TypeError whose message starts "readIdx: ", nothing else (linalg's clearErrorOr). */
function expectClearError(bytes: Uint8Array): void {
  expect(clearErrorOr("readIdx: ", () => readIdx(bytes))).toBeUndefined();
}

describe("IDX reader", () => {
  it("reads a hand-built MNIST-style ubyte file (2 images of 2×3)", () => {
    const bytes = Uint8Array.from([
      0,
      0,
      0x08,
      3,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      3,
      ...Array.from({ length: 12 }, (_, i) => i * 20),
    ]);
    const t = readIdx(bytes);
    expect(t.dtype).toBe("uint8");
    expect(t.shape).toEqual([2, 2, 3]);
    expect([...t.data]).toEqual(Array.from({ length: 12 }, (_, i) => i * 20));
  });

  it("reads from a view with a non-zero byteOffset", () => {
    const big = Uint8Array.from([9, 9, 0, 0, 0x0b, 1, 0, 0, 0, 1, 0x80, 0x01]);
    expect([...readIdx(big.subarray(2)).data]).toEqual([-32767]);
  });

  it("reads big-endian int32 and float64 elements", () => {
    const t = readIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0]));
    expect([...t.data]).toEqual([-2, 256]);
    const d = readIdx(Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]));
    expect([...d.data]).toEqual([1]);
  });

  it.each([
    ["empty file", []],
    ["wrong magic", [1, 0, 0x08, 1, 0, 0, 0, 0]],
    ["unknown dtype 0x0A", [0, 0, 0x0a, 1, 0, 0, 0, 0]],
    ["zero dimensions", [0, 0, 0x08, 0]],
    ["dimension table truncated", [0, 0, 0x08, 2, 0, 0, 0, 1]],
    ["negative dimension", [0, 0, 0x08, 1, 0xff, 0xff, 0xff, 0xff]],
    ["data truncated", [0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2]],
    ["trailing bytes", [0, 0, 0x08, 1, 0, 0, 0, 1, 1, 2]],
    ["trailing bytes after an empty tensor", [0, 0, 0x08, 2, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 9]],
    ["huge dimensions (2^31−1)^3 float64", [0, 0, 0x0e, 3, ...Array(3).fill([0x7f, 0xff, 0xff, 0xff]).flat()]],
    ["int16 data with an odd byte count", [0, 0, 0x0b, 1, 0, 0, 0, 1, 0]],
  ])("rejects %s with a clear error", (_, bytes) => {
    expectClearError(Uint8Array.from(bytes as number[]));
  });

  it("huge dimensions are rejected without allocating them", () => {
    // 255 dimensions of 2^31 − 1: the product is astronomically large; it must fail fast.
    const bytes = Uint8Array.from([0, 0, 0x08, 255, ...Array(255).fill([0x7f, 0xff, 0xff, 0xff]).flat(), 1, 2, 3]);
    expect(() => readIdx(bytes)).toThrow(/need more than the 3 data bytes/);
  });
});

const idxArb: fc.Arbitrary<IdxTensor> = fc
  .tuple(
    fc.constantFrom("uint8", "int8", "int16", "int32", "float32", "float64" as const),
    fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
  )
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const o = { minLength: n, maxLength: n };
    const gen: fc.Arbitrary<IdxTensor["data"]> =
      dtype === "uint8"
        ? fc.uint8Array(o)
        : dtype === "int8"
          ? fc.int8Array(o)
          : dtype === "int16"
            ? fc.int16Array(o)
            : dtype === "int32"
              ? fc.int32Array(o)
              : dtype === "float32"
                ? fc.float32Array(o)
                : fc.float64Array(o);
    return gen.map((data) => ({ dtype, shape, data }) as IdxTensor);
  });

describe("IDX round trip and fuzzing", () => {
  it("readIdx(writeIdx(t)) = t", () => {
    fc.assert(
      fc.property(idxArb, (t) => {
        const r = readIdx(writeIdx(t));
        expect(r.dtype).toBe(t.dtype);
        expect(r.shape).toEqual(t.shape);
        expect(r.data.length).toBe(t.data.length);
        for (let i = 0; i < t.data.length; i++) expect(Object.is(r.data[i], t.data[i])).toBe(true);
      }),
    );
  });

  it("every proper prefix of a valid non-empty file is rejected", () => {
    fc.assert(
      fc.property(idxArb, (t) => {
        const bytes = writeIdx(t);
        for (let len = 0; len < bytes.length; len++) expectClearError(bytes.subarray(0, len));
      }),
      { numRuns: 30 },
    );
  });

  it("random byte flips give a clear error or a tensor consistent with its own header", () => {
    fc.assert(
      fc.property(
        idxArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (t, flips) => {
          const bytes = writeIdx(t);
          for (const [i, x] of flips) bytes[i % bytes.length] = (bytes[i % bytes.length] as number) ^ x;
          try {
            const r = readIdx(bytes);
            expect(r.data.length).toBe(r.shape.reduce((a, b) => a * b, 1));
            expect(writeIdx(r).length).toBe(bytes.length);
          } catch (e) {
            expect(e instanceof RangeError || e instanceof TypeError).toBe(true);
            expect((e as Error).message).toMatch(/^readIdx: /);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("IDX writer validates its input", () => {
  it("data length ≠ numel is a RangeError; wrong array kind a TypeError", () => {
    expect(() => writeIdx({ dtype: "uint8", shape: [3], data: new Uint8Array(2) })).toThrow(RangeError);
    expect(() => writeIdx({ dtype: "float32", shape: [2], data: new Uint8Array(2) })).toThrow(TypeError);
  });
});
