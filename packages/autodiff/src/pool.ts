/**
 * A buffer pool keyed by element type and length, so that the gradient buffers of intermediate
 * tensors and the scratch an op saves for its backward (im2col patches, argmax indices, dropout
 * masks) are reused from one training step to the next when shapes repeat.
 *
 * The graph hands buffers back when it is released (after `backward`, unless `retainGraph`), and
 * intermediate gradients go back as soon as the rule that consumes them has run. Forward outputs are
 * NOT pooled: the caller may hold them (logits, the loss) for as long as it likes.
 *
 * Bounded: at most `MAX_PER_KEY` free buffers per (type, length) and `MAX_RETAINED_BYTES` in all;
 * beyond that released buffers are dropped to the garbage collector, so varying shapes cannot grow
 * the pool without limit. `poolStats()` counts fresh allocations, which is how the memory test checks
 * that a training loop reaches a steady state (a deterministic check, unlike heap sampling).
 *
 * Cost: O(1) per acquire/release (a Map lookup and an array push/pop); zeroing is O(length).
 */
import type { DType, FloatArray } from "@ekfac-ts/linalg";

export type PoolArray = Float32Array | Float64Array | Int32Array;

/** Counters of the pool that recycles intermediate gradients and the scratch ops save for backward ({@link poolStats}). */
export interface PoolStats {
  /** Buffers created because no free one of the right type and length was available. */
  readonly allocations: number;
  /** Acquisitions served from the free lists. */
  readonly reuses: number;
  /** Buffers handed back (kept or dropped). */
  readonly releases: number;
  /** Buffers handed back but dropped because the pool was full. */
  readonly dropped: number;
  /** Buffers currently waiting in the free lists. */
  readonly freeBuffers: number;
  /** Bytes held by those free buffers. */
  readonly freeBytes: number;
}

const MAX_PER_KEY = 64;
const MAX_RETAINED_BYTES = 256 * 1024 * 1024;

const free32 = new Map<number, Float32Array[]>();
const free64 = new Map<number, Float64Array[]>();
const freeI32 = new Map<number, Int32Array[]>();
let allocations = 0;
let reuses = 0;
let releases = 0;
let dropped = 0;
let freeBuffers = 0;
let freeBytes = 0;

function take<T extends PoolArray>(lists: Map<number, T[]>, length: number): T | undefined {
  const list = lists.get(length);
  const buf = list?.pop();
  if (buf !== undefined) {
    reuses++;
    freeBuffers--;
    freeBytes -= buf.byteLength;
  }
  return buf;
}

/** A float buffer of `length` elements with unspecified contents. */
export function acquire(length: number, dtype: DType): FloatArray {
  if (dtype === "float64") {
    const b = take(free64, length);
    if (b !== undefined) return b;
    allocations++;
    return new Float64Array(length);
  }
  const b = take(free32, length);
  if (b !== undefined) return b;
  allocations++;
  return new Float32Array(length);
}

/** A zero-filled float buffer of `length` elements. */
export function acquireZeroed(length: number, dtype: DType): FloatArray {
  const b = acquire(length, dtype);
  b.fill(0);
  return b;
}

/** An Int32Array of `length` elements with unspecified contents. */
export function acquireInt(length: number): Int32Array {
  const b = take(freeI32, length);
  if (b !== undefined) return b;
  allocations++;
  return new Int32Array(length);
}

function put<T extends PoolArray>(lists: Map<number, T[]>, buf: T): void {
  let list = lists.get(buf.length);
  if (list === undefined) {
    list = [];
    lists.set(buf.length, list);
  }
  if (list.length >= MAX_PER_KEY || freeBytes + buf.byteLength > MAX_RETAINED_BYTES) {
    dropped++;
    return;
  }
  list.push(buf);
  freeBuffers++;
  freeBytes += buf.byteLength;
}

/** Hands a buffer back. The caller must not touch it afterwards (it will be given to someone else). */
export function release(buf: PoolArray): void {
  releases++;
  if (buf instanceof Float32Array) put(free32, buf);
  else if (buf instanceof Float64Array) put(free64, buf);
  else put(freeI32, buf);
}

/** Counters since start (or the last `resetPoolStats`), and the current free-list size. */
export function poolStats(): PoolStats {
  return { allocations, reuses, releases, dropped, freeBuffers, freeBytes };
}

/** Zeroes the allocation, reuse, release and drop counters (the free lists are kept). */
export function resetPoolStats(): void {
  allocations = 0;
  reuses = 0;
  releases = 0;
  dropped = 0;
}

/** Drops every free buffer (for long-lived processes that change model shapes). */
export function clearPool(): void {
  free32.clear();
  free64.clear();
  freeI32.clear();
  freeBuffers = 0;
  freeBytes = 0;
}
