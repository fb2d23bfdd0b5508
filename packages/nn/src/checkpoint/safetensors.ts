/**
 * The safetensors checkpoint format (Hugging Face, reference implementation `safetensors` crate,
 * `tensor.rs`), read and written without platform assumptions.
 *
 * Layout: `N` (u64, little-endian) · `N` bytes of UTF-8 JSON header · the data buffer. The header maps
 * each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data
 * buffer) and may hold `"__metadata__": {string: string}`. Element bytes are little-endian, C order.
 *
 * Writing follows the reference serializer byte for byte: tensors sorted by dtype in DESCENDING
 * reference enum order (`U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8,
 * BOOL`, i.e. largest alignment first), ties by name (byte order of the UTF-8 names); compact JSON with
 * `__metadata__` first, then the tensors in layout order, each as `dtype, shape, data_offsets`; the
 * header padded with spaces to a multiple of 8 bytes; data contiguous in that order.
 * Deviation: the reference keeps `__metadata__` in a hash map (unspecified order); here its keys are
 * sorted so output is deterministic.
 *
 * Reading rejects (never a crash, a hang or a silently wrong tensor): files shorter than 8 bytes, a
 * header longer than 100 MB (the reference's cap) or than the file, invalid UTF-8 or JSON, a header
 * that is not an object, duplicated names (JSON.parse would silently keep the last one), unknown
 * dtypes, shapes that are not arrays of non-negative safe integers, offsets that are not
 * `[begin, end]` with `begin ≤ end`, `end − begin ≠ numel·itemsize`, and offsets that overlap, leave a
 * gap, or do not cover the data buffer exactly (the reference's `validate` + `MetadataIncompleteBuffer`).
 * Unknown fields inside a tensor entry are ignored, as the reference's serde derive does.
 *
 * Header cap: 100 MB (100,000,000 bytes), the reference's MAX_HEADER_SIZE, checked on the length
 * field before anything is read or allocated. Kept equal so that every file the reference reads, this
 * reader reads too; real headers are far smaller (about 100 bytes per tensor, so even 10⁵ tensors is
 * 10 MB). Reading is linear in the header: the JSON is streamed member by member into compact
 * records (no generic tree of the whole header), strings with escapes are built in typed chunks (no
 * rope of one node per character). Memory beyond the input is about 0.5 KB per tensor entry plus
 * the decoded header text (2 bytes per character).
 *
 * Element conversion goes through DataView with explicit little-endian flags. NaN payload bits of
 * floats may be canonicalised by the engine (the values stay NaN).
 * Cost: O(file size) time and memory; the returned arrays are fresh copies (no aliasing of the input).
 */
import { codec, type ElementCodec } from "../internal/element.ts";
import { JsonSyntaxError, type JsonValue, parseJson, stringifyJson } from "../internal/json.ts";
import { decodeUtf8, encodeUtf8 } from "../internal/utf8.ts";

/** The reference dtypes, in the reference enum order (ascending alignment). */
export const SAFETENSORS_DTYPES = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
] as const;
/** A dtype name of the safetensors format (`"F32"`, `"BF16"`, `"I64"`, …). */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/**
 * Element storage per dtype: F32 → Float32Array, F64 → Float64Array, I8/I16/I32/I64 → Int8Array/
 * Int16Array/Int32Array/BigInt64Array, U8/U16/U32/U64 → Uint8Array/…/BigUint64Array, BOOL and the
 * 8-bit floats → Uint8Array of raw bytes, F16/BF16 → Uint16Array of raw bit patterns.
 */
export type SafetensorsData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** One named tensor of a safetensors file. */
export interface SafetensorsTensor {
  /** The element type as the file names it. */
  readonly dtype: SafetensorsDtype;
  /** Size of each axis ([] for a scalar). */
  readonly shape: readonly number[];
  /** The elements, row-major, in the typed array {@link SafetensorsData} assigns to `dtype`. */
  readonly data: SafetensorsData;
}

/** The contents of a safetensors file, as {@link readSafetensors} returns and {@link writeSafetensors} takes them. */
export interface SafetensorsFile {
  /** Tensors in file (offset) order. */
  readonly tensors: Map<string, SafetensorsTensor>;
  /** `__metadata__`, or null when the header has none. */
  readonly metadata: Map<string, string> | null;
}

const MAX_HEADER_SIZE = 100_000_000;
const METADATA_KEY = "__metadata__";

interface DtypeInfo extends ElementCodec<SafetensorsData, number | bigint> {
  /** Position in the order safetensors sorts dtypes by (BOOL first). */
  readonly rank: number;
}

// safetensors stores its elements little-endian. The 8-bit floats and BOOL are kept as raw bytes, F16
// and BF16 as raw 16-bit words (no conversion).
const LE = true;
const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  BOOL: { rank: 0, ...codec(Uint8Array, "Uint8", LE) },
  U8: { rank: 1, ...codec(Uint8Array, "Uint8", LE) },
  I8: { rank: 2, ...codec(Int8Array, "Int8", LE) },
  F8_E5M2: { rank: 3, ...codec(Uint8Array, "Uint8", LE) },
  F8_E4M3: { rank: 4, ...codec(Uint8Array, "Uint8", LE) },
  I16: { rank: 5, ...codec(Int16Array, "Int16", LE) },
  U16: { rank: 6, ...codec(Uint16Array, "Uint16", LE) },
  F16: { rank: 7, ...codec(Uint16Array, "Uint16", LE) },
  BF16: { rank: 8, ...codec(Uint16Array, "Uint16", LE) },
  I32: { rank: 9, ...codec(Int32Array, "Int32", LE) },
  U32: { rank: 10, ...codec(Uint32Array, "Uint32", LE) },
  F32: { rank: 11, ...codec(Float32Array, "Float32", LE) },
  F64: { rank: 12, ...codec(Float64Array, "Float64", LE) },
  I64: { rank: 13, ...codec(BigInt64Array, "BigInt64", LE) },
  U64: { rank: 14, ...codec(BigUint64Array, "BigUint64", LE) },
};

function isDtype(s: string): s is SafetensorsDtype {
  return Object.hasOwn(DTYPES, s);
}

/** Byte size of one element of `dtype`. */
export function safetensorsItemSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].size;
}

function numelOf(fn: string, name: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: tensor ${JSON.stringify(name)} has an invalid dimension ${String(d)} in shape [${shape.join(", ")}] (expected non-negative integers)`,
      );
    }
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw new RangeError(
        `${fn}: tensor ${JSON.stringify(name)} shape [${shape.join(", ")}] overflows (more than 2^53 elements)`,
      );
    }
  }
  return n;
}

/** Lexicographic byte order of UTF-8 encodings = code-point order (Rust's `String` ordering). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done === true) return y.done === true ? 0 : -1;
    if (y.done === true) return 1;
    const cx = x.value.codePointAt(0) as number;
    const cy = y.value.codePointAt(0) as number;
    if (cx !== cy) return cx - cy;
  }
}

/**
 * Serializes tensors (and optional `__metadata__`) to safetensors bytes. Throws a TypeError for an
 * unknown dtype or a data array of the wrong kind, a RangeError when `data.length ≠ numel(shape)`.
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor> | Readonly<Record<string, SafetensorsTensor>>,
  metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): Uint8Array {
  const fn = "writeSafetensors";
  const entries: [string, SafetensorsTensor][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, SafetensorsTensor>);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new TypeError(`${fn}: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (typeof t.dtype !== "string" || !isDtype(t.dtype)) {
      throw new TypeError(
        `${fn}: tensor ${JSON.stringify(name)} has unknown dtype ${String(t.dtype)} (expected one of ${SAFETENSORS_DTYPES.join(", ")})`,
      );
    }
    const info = DTYPES[t.dtype];
    if (!(t.data instanceof info.ctor)) {
      throw new TypeError(
        `${fn}: tensor ${JSON.stringify(name)} with dtype ${t.dtype} needs a ${info.ctor.name} (got ${t.data?.constructor?.name ?? typeof t.data})`,
      );
    }
    const n = numelOf(fn, name, t.shape);
    if (t.data.length !== n) {
      throw new RangeError(
        `${fn}: tensor ${JSON.stringify(name)} has ${t.data.length} elements, expected numel([${t.shape.join(", ")}]) = ${n}`,
      );
    }
  }
  entries.sort(([na, a], [nb, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || compareCodePoints(na, nb));

  const header = new Map<string, JsonValue>();
  if (metadata !== undefined) {
    const m: [string, string][] =
      metadata instanceof Map ? [...metadata.entries()] : Object.entries(metadata as Record<string, string>);
    for (const [k, v] of m) {
      if (typeof v !== "string")
        throw new TypeError(`${fn}: metadata ${JSON.stringify(k)} must be a string (got ${typeof v})`);
    }
    m.sort(([a], [b]) => compareCodePoints(a, b));
    header.set(METADATA_KEY, new Map<string, JsonValue>(m));
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = t.data.length * DTYPES[t.dtype].size;
    header.set(
      name,
      new Map<string, JsonValue>([
        ["dtype", t.dtype],
        ["shape", [...t.shape]],
        ["data_offsets", [offset, offset + nbytes]],
      ]),
    );
    offset += nbytes;
  }
  const json = encodeUtf8(stringifyJson(header), fn);
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded, true); // u64 little-endian: low word, then a zero high word
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const [, t] of entries) {
    const info = DTYPES[t.dtype];
    for (let i = 0; i < t.data.length; i++, pos += info.size) info.set(view, pos, t.data[i] as number | bigint);
  }
  return out;
}

function isObject(v: JsonValue | undefined): v is Map<string, JsonValue> {
  return v instanceof Map;
}

/** Parses and validates safetensors bytes (see the file header for everything that is rejected). */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const fn = "readSafetensors";
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  if (bytes.length < 8)
    throw new RangeError(`${fn}: file has ${bytes.length} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_SIZE) {
    throw new RangeError(`${fn}: header length ${hi * 2 ** 32 + lo} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
  }
  const n = lo;
  if (8 + n > bytes.length) {
    throw new RangeError(`${fn}: header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  }
  const text = decodeUtf8(bytes, 8, 8 + n);
  if (text === null) throw new TypeError(`${fn}: header is not valid UTF-8`);
  let metadata: Map<string, string> | null = null;
  const parsed: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  // Each root member becomes a compact record as soon as it is parsed (no JSON tree of the header).
  const member = (name: string, entry: JsonValue): void => {
    if (name === METADATA_KEY) {
      if (entry === null) return;
      if (!isObject(entry)) throw new TypeError(`${fn}: "${METADATA_KEY}" must be an object of strings`);
      metadata = new Map();
      for (const [k, v] of entry) {
        if (typeof v !== "string")
          throw new TypeError(`${fn}: "${METADATA_KEY}" entry ${JSON.stringify(k)} must be a string`);
        metadata.set(k, v);
      }
      return;
    }
    const what = `tensor ${JSON.stringify(name)}`;
    if (!isObject(entry)) throw new TypeError(`${fn}: ${what} must be an object`);
    const dtype = entry.get("dtype");
    if (typeof dtype !== "string" || !isDtype(dtype)) {
      throw new TypeError(
        `${fn}: ${what} has unknown dtype ${JSON.stringify(dtype ?? null)} (expected one of ${SAFETENSORS_DTYPES.join(", ")})`,
      );
    }
    const shape = entry.get("shape");
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number")) {
      throw new TypeError(`${fn}: ${what} shape must be an array of integers`);
    }
    const offsets = entry.get("data_offsets");
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => typeof d === "number")) {
      throw new TypeError(`${fn}: ${what} data_offsets must be [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
      throw new RangeError(
        `${fn}: ${what} has invalid data_offsets [${begin}, ${end}] (expected integers 0 ≤ begin ≤ end)`,
      );
    }
    const numel = numelOf(fn, name, shape as number[]);
    const nbytes = numel * DTYPES[dtype].size;
    if (end - begin !== nbytes) {
      throw new RangeError(
        `${fn}: ${what} spans ${end - begin} bytes but dtype ${dtype} and shape [${shape.join(", ")}] need ${nbytes}`,
      );
    }
    parsed.push({ name, dtype, shape: shape as number[], begin, end });
  };
  let header: JsonValue;
  try {
    header = parseJson(text, undefined, member);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new TypeError(`${fn}: header is not valid JSON (${e.message})`);
    throw e;
  }
  if (!isObject(header)) throw new TypeError(`${fn}: header must be a JSON object`);

  // Sorted by offsets, each tensor must start where the previous one ended and the last must end at
  // the end of the file: this rules out overlaps, gaps and out-of-range offsets in one pass.
  parsed.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let expected = 0;
  for (const t of parsed) {
    if (t.begin !== expected) {
      const kind = t.begin < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor";
      throw new RangeError(
        `${fn}: tensor ${JSON.stringify(t.name)} data_offsets [${t.begin}, ${t.end}] ${kind} (expected begin ${expected})`,
      );
    }
    expected = t.end;
  }
  if (expected !== dataLength) {
    throw new RangeError(
      `${fn}: tensors cover ${expected} bytes but the data buffer has ${dataLength} (offsets out of range, or trailing bytes)`,
    );
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of parsed) {
    const info = DTYPES[t.dtype];
    const count = (t.end - t.begin) / info.size;
    const data = info.make(count);
    let pos = dataStart + t.begin;
    for (let i = 0; i < count; i++, pos += info.size) data[i] = info.get(view, pos) as never;
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  return { tensors, metadata };
}
