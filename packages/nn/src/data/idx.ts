/**
 * The IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/):
 * bytes `0x00 0x00 dtype ndim`, then `ndim` big-endian int32 dimensions, then the elements, row-major
 * and BIG-endian. dtypes: 0x08 ubyte, 0x09 byte, 0x0B short (int16), 0x0C int (int32), 0x0D float
 * (float32), 0x0E double (float64).
 *
 * The reader validates everything before allocating: the magic bytes, the dtype, `ndim ≥ 1`, that the
 * file holds the whole dimension table, each dimension (a non-negative int32), and that
 * `Π dims · itemsize` equals the remaining length EXACTLY — a truncated file and trailing bytes are
 * both errors (never silently truncated). The product is checked against the available bytes as it
 * grows, so huge dimensions give a RangeError without overflow and without a huge allocation.
 * Cost: O(file size); the returned array is a fresh copy, decoded through DataView (explicit
 * big-endian, no platform endianness assumed).
 */
import { codec, type ElementCodec } from "../internal/element.ts";

/** The element types of the IDX format (codes 0x08, 0x09, 0x0B–0x0E). */
export type IdxDtype = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";
/** The typed array that holds each {@link IdxDtype}. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** The contents of an IDX file (MNIST's format), as {@link readIdx} returns and {@link writeIdx} takes them. */
export interface IdxTensor {
  /** The element type. */
  readonly dtype: IdxDtype;
  /** Size of each dimension (at least one). */
  readonly shape: readonly number[];
  /** The elements, row-major (decoded to native byte order). */
  readonly data: IdxData;
}

interface IdxCode extends ElementCodec<IdxData, number> {
  /** The type byte of the header. */
  readonly code: number;
}

// IDX stores its elements big-endian.
const CODES: Record<IdxDtype, IdxCode> = {
  uint8: { code: 0x08, ...codec(Uint8Array, "Uint8", false) },
  int8: { code: 0x09, ...codec(Int8Array, "Int8", false) },
  int16: { code: 0x0b, ...codec(Int16Array, "Int16", false) },
  int32: { code: 0x0c, ...codec(Int32Array, "Int32", false) },
  float32: { code: 0x0d, ...codec(Float32Array, "Float32", false) },
  float64: { code: 0x0e, ...codec(Float64Array, "Float64", false) },
};

function dtypeOfCode(code: number): IdxDtype | null {
  for (const [name, c] of Object.entries(CODES) as [IdxDtype, IdxCode][]) if (c.code === code) return name;
  return null;
}

/** Reads an IDX file. Throws a TypeError for a wrong magic number or dtype, a RangeError for sizes. */
export function readIdx(bytes: Uint8Array): IdxTensor {
  const fn = "readIdx";
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  if (bytes.length < 4)
    throw new RangeError(`${fn}: file has ${bytes.length} bytes, fewer than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new TypeError(`${fn}: bad magic number: first two bytes are ${bytes[0]}, ${bytes[1]} (expected 0, 0)`);
  }
  const code = bytes[2] as number;
  const dtype = dtypeOfCode(code);
  if (dtype === null) {
    throw new TypeError(
      `${fn}: unknown dtype code 0x${code.toString(16).padStart(2, "0")} (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)`,
    );
  }
  const ndim = bytes[3] as number;
  if (ndim === 0) throw new RangeError(`${fn}: dimension count is 0 (expected at least 1)`);
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) {
    throw new RangeError(
      `${fn}: file has ${bytes.length} bytes, too short for the ${ndim} dimensions of the header (${headerLength} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const info = CODES[dtype];
  const available = bytes.length - headerLength;
  const shape = readDims(view, ndim);
  for (let k = 0; k < ndim; k++) {
    if ((shape[k] as number) < 0)
      throw new RangeError(`${fn}: dimension ${k} is ${shape[k]} (expected a non-negative int32)`);
  }
  let numel = 1;
  if (shape.includes(0)) numel = 0;
  else {
    for (const d of shape) {
      numel *= d;
      // Stop as soon as the running product exceeds what the file can hold: no overflow, no huge alloc.
      if (numel * info.size > available) {
        throw new RangeError(
          `${fn}: dimensions [${shape.join(", ")}] of ${dtype} need more than the ${available} data bytes in the file (truncated file or corrupt header)`,
        );
      }
    }
  }
  const need = numel * info.size;
  if (need !== available) {
    throw new RangeError(
      `${fn}: dimensions [${shape.join(", ")}] of ${dtype} need ${need} data bytes, the file has ${available} (${need < available ? "trailing bytes" : "truncated"})`,
    );
  }
  const data = info.make(numel);
  for (let i = 0, pos = headerLength; i < numel; i++, pos += info.size) data[i] = info.get(view, pos);
  return { dtype, shape, data };
}

function readDims(view: DataView, ndim: number): number[] {
  const dims: number[] = [];
  for (let k = 0; k < ndim; k++) dims.push(view.getInt32(4 + 4 * k));
  return dims;
}

/** Writes an IDX file (big-endian). Throws a TypeError when `data` does not match `dtype`. */
export function writeIdx(tensor: IdxTensor): Uint8Array {
  const fn = "writeIdx";
  const info = CODES[tensor.dtype];
  if (info === undefined) throw new TypeError(`${fn}: unknown dtype ${String(tensor.dtype)}`);
  if (!(tensor.data instanceof info.ctor)) {
    throw new TypeError(
      `${fn}: dtype ${tensor.dtype} needs a ${info.ctor.name} (got ${tensor.data?.constructor?.name})`,
    );
  }
  const { shape } = tensor;
  if (shape.length < 1 || shape.length > 255)
    throw new RangeError(`${fn}: shape has ${shape.length} dimensions (expected 1 to 255)`);
  let numel = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0x7fffffff) {
      throw new RangeError(`${fn}: dimension ${d} in shape [${shape.join(", ")}] is not an int32 ≥ 0`);
    }
    numel *= d;
  }
  if (tensor.data.length !== numel) {
    throw new RangeError(
      `${fn}: data has ${tensor.data.length} elements, expected numel([${shape.join(", ")}]) = ${numel}`,
    );
  }
  const headerLength = 4 + 4 * shape.length;
  const out = new Uint8Array(headerLength + numel * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  for (let k = 0; k < shape.length; k++) view.setInt32(4 + 4 * k, shape[k] as number);
  for (let i = 0, pos = headerLength; i < numel; i++, pos += info.size) info.set(view, pos, tensor.data[i] as number);
  return out;
}
