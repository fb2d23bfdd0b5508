/**
 * How the binary formats (safetensors, little-endian; IDX, big-endian) store one element type: its byte
 * size, the typed array that holds it, and the DataView accessors that read and write it in the file's
 * byte order (explicit, so no platform endianness is assumed). One builder instead of a hand-written
 * `{ size, ctor, make, get, set }` record per type and format.
 */

/** The DataView accessor pairs, by the suffix of their names (`getFloat32` / `setFloat32`, …). */
type Accessor = "Uint8" | "Int8" | "Uint16" | "Int16" | "Uint32" | "Int32" | "Float32" | "Float64";
type BigAccessor = "BigInt64" | "BigUint64";

/** A typed-array constructor (`Float32Array`, `BigInt64Array`, …). */
interface ArrayCtor<A> {
  new (n: number): A;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

/** One element type of a binary format. */
export interface ElementCodec<A, V> {
  /** Bytes per element. */
  readonly size: number;
  /** The typed array holding decoded elements (for `instanceof` checks and messages). */
  readonly ctor: ArrayCtor<A>;
  /** A zeroed array of n elements. */
  readonly make: (n: number) => A;
  /** The element at byte offset `o`, in the format's byte order. */
  readonly get: (v: DataView, o: number) => V;
  /** Writes `x` at byte offset `o`, in the format's byte order. (Method syntax: a table of several
   *  element types holds number and bigint setters under one type.) */
  set(v: DataView, o: number, x: V): void;
}

/**
 * The codec of one element type: `codec(Float32Array, "Float32", true)` reads little-endian float32;
 * the 64-bit integer accessors give bigint values.
 */
export function codec<A>(ctor: ArrayCtor<A>, accessor: Accessor, littleEndian: boolean): ElementCodec<A, number>;
export function codec<A>(ctor: ArrayCtor<A>, accessor: BigAccessor, littleEndian: boolean): ElementCodec<A, bigint>;
export function codec<A>(
  ctor: ArrayCtor<A>,
  accessor: Accessor | BigAccessor,
  littleEndian: boolean,
): ElementCodec<A, number | bigint> {
  type Get = (this: DataView, o: number, le: boolean) => number | bigint;
  type Set = (this: DataView, o: number, x: number | bigint, le: boolean) => void;
  const get = DataView.prototype[`get${accessor}`] as Get;
  const set = DataView.prototype[`set${accessor}`] as Set;
  return {
    size: ctor.BYTES_PER_ELEMENT,
    ctor,
    make: (n) => new ctor(n),
    get: (v, o) => get.call(v, o, littleEndian),
    set: (v, o, x) => set.call(v, o, x, littleEndian),
  };
}
