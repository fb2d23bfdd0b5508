// The shared block plumbing of block.ts, tested on its own: `checkPlainState` is the one validator every
// block's `checkState` goes through (and so what optim/state.ts relies on when it restores a saved
// optimizer), so each of its rules is pinned here with the exact error type and message: a record (not
// null, a primitive or an array), exactly the keys of the reference, Float64Arrays of the reference's
// lengths with finite entries, counters that are integers ≥ 0, and any other number finite (a
// non-counter may be fractional or negative). `BasisFreeBlock.bindState` skips the check for the state it
// already holds (documented in CurvatureBlock: "checked unless it already is the current one"), and its
// no-basis steps are no-ops; a minimal subclass stands in for the three real ones.
import { describe, expect, it } from "vitest";
import { BasisFreeBlock, checkPlainState } from "./block.ts";

type TinyState = { D: Float64Array; updates: number };

class TinyBlock extends BasisFreeBlock<TinyState, Float64Array> {
  readonly kind = "Tiny";
  readonly size = 2;
  state: TinyState = this.initState();
  initState(): TinyState {
    return { D: new Float64Array(2), updates: 0 };
  }
  updateStatistics(batch: Float64Array): boolean {
    this.state.D.set(batch);
    this.state.updates++;
    return true;
  }
  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    this.checkPrecondition("TinyBlock.precondition", grad, out, damping, "n = ");
    for (let i = 0; i < 2; i++) out[i] = (grad[i] as number) / ((this.state.D[i] as number) + damping);
    return out;
  }
  denseApproximation(): Float64Array {
    return new Float64Array([this.state.D[0] as number, 0, 0, this.state.D[1] as number]);
  }
}

const ref = { A: new Float64Array(3), count: 0, scale: 1 };
const counters = ["count"] as const;
const valid = () => ({ A: new Float64Array([1, -2, 3]), count: 4, scale: -0.25 });

describe("checkPlainState: the shared state validator", () => {
  it("accepts a record with the reference's keys, lengths, finite values and counters (0 included)", () => {
    expect(() => checkPlainState("f", valid(), ref, counters)).not.toThrow();
    expect(() => checkPlainState("f", { ...valid(), count: 0 }, ref, counters)).not.toThrow();
    // A non-counter number may be fractional or negative; only finiteness is asked of it.
    expect(() => checkPlainState("f", { ...valid(), scale: 0.5 }, ref, counters)).not.toThrow();
    expect(() => checkPlainState("f", { ...valid(), scale: -3 }, ref, counters)).not.toThrow();
    // Key order does not matter.
    expect(() => checkPlainState("f", { scale: 2, count: 1, A: new Float64Array(3) }, ref, counters)).not.toThrow();
  });

  it("a non-record is a TypeError naming the function", () => {
    for (const st of [null, undefined, 3, "state", true, [], [new Float64Array(3), 0, 1]]) {
      expect(() => checkPlainState("f", st, ref, counters)).toThrow(new TypeError("f: state must be a record"));
    }
  });

  it("missing, extra or renamed keys are a RangeError listing both key sets", () => {
    const { scale: _, ...missing } = valid();
    expect(() => checkPlainState("g", missing, ref, counters)).toThrow(
      new RangeError("g: state has keys {A, count}, expected {A, count, scale}"),
    );
    expect(() => checkPlainState("g", { ...valid(), extra: 1 }, ref, counters)).toThrow(
      new RangeError("g: state has keys {A, count, scale, extra}, expected {A, count, scale}"),
    );
    // Same number of keys, one of them wrong.
    const { scale: __, ...rest } = valid();
    expect(() => checkPlainState("g", { ...rest, other: 1 }, ref, counters)).toThrow(
      new RangeError("g: state has keys {A, count, other}, expected {A, count, scale}"),
    );
  });

  it("an array of the wrong type or length is a RangeError saying what it got", () => {
    expect(() => checkPlainState("f", { ...valid(), A: new Float64Array(2) }, ref, counters)).toThrow(
      new RangeError("f: state.A must be a Float64Array of length 3 (got length 2)"),
    );
    expect(() => checkPlainState("f", { ...valid(), A: new Float32Array(3) }, ref, counters)).toThrow(
      new RangeError("f: state.A must be a Float64Array of length 3 (got object)"),
    );
    expect(() => checkPlainState("f", { ...valid(), A: 3 }, ref, counters)).toThrow(
      new RangeError("f: state.A must be a Float64Array of length 3 (got number)"),
    );
  });

  it("a non-finite array entry is a RangeError", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => checkPlainState("f", { ...valid(), A: new Float64Array([1, bad, 3]) }, ref, counters)).toThrow(
        new RangeError("f: state.A holds NaN or ±Infinity"),
      );
    }
  });

  it("a counter must be an integer ≥ 0", () => {
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, "2", null]) {
      expect(() => checkPlainState("f", { ...valid(), count: bad }, ref, counters)).toThrow(
        new RangeError(`f: state.count must be an integer ≥ 0 (got ${String(bad)})`),
      );
    }
  });

  it("any other number must be finite", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "1", null, undefined]) {
      expect(() => checkPlainState("f", { ...valid(), scale: bad }, ref, counters)).toThrow(
        new RangeError(`f: state.scale must be a finite number (got ${String(bad)})`),
      );
    }
  });
});

describe("BasisFreeBlock: shared plumbing of the blocks without a basis", () => {
  it("checkState applies checkPlainState with the current state as reference and `updates` as counter", () => {
    const b = new TinyBlock();
    expect(() => b.checkState("f", { D: new Float64Array([1, 2]), updates: 3 })).not.toThrow();
    expect(() => b.checkState("f", { D: new Float64Array(3), updates: 0 })).toThrow(
      new RangeError("f: state.D must be a Float64Array of length 2 (got length 3)"),
    );
    expect(() => b.checkState("f", { D: new Float64Array(2), updates: 1.5 })).toThrow(
      new RangeError("f: state.updates must be an integer ≥ 0 (got 1.5)"),
    );
  });

  it("bindState adopts a valid record without a copy and refuses an invalid one, keeping its own", () => {
    const b = new TinyBlock();
    const own = b.state;
    const other = { D: new Float64Array([1, 2]), updates: 1 };
    b.bindState("f", other);
    expect(b.state).toBe(other);
    expect(() => b.bindState("f", { D: new Float64Array([1, Number.NaN]), updates: 1 })).toThrow(
      new RangeError("f: state.D holds NaN or ±Infinity"),
    );
    expect(b.state).toBe(other);
    b.bindState("f", own);
    expect(b.state).toBe(own);
  });

  it("bindState of the state it already holds is not re-checked (a no-op)", () => {
    const b = new TinyBlock();
    const own = b.state;
    // Its arrays were overwritten in place (as a restore does); re-binding the same record must not throw.
    own.D[0] = Number.NaN;
    expect(() => b.bindState("f", own)).not.toThrow();
    expect(b.state).toBe(own);
    // A different record with the same content is checked.
    expect(() => b.bindState("f", { D: new Float64Array(own.D), updates: 0 })).toThrow(/f: state.D holds NaN/);
  });

  it("no basis and no scaling: refreshBasis reports { 0, 0 } and the scaling steps change nothing", () => {
    const b = new TinyBlock();
    b.updateStatistics(new Float64Array([2, 3]));
    expect(b.refreshBasis()).toEqual({ succeeded: 0, failed: 0 });
    b.updateScaling(new Float64Array([7, 7]));
    b.updateScalingFromGradient(new Float64Array([7, 7]), 5);
    expect(Array.from(b.state.D)).toEqual([2, 3]);
    expect(b.state.updates).toBe(1);
  });

  it("checkPrecondition: both vectors of `size` elements and a finite damping > 0", () => {
    const b = new TinyBlock();
    const ok = new Float64Array(2);
    expect(() => b.precondition(new Float64Array(3), ok, 1)).toThrow(
      new RangeError("TinyBlock.precondition: grad and out must have n = 2 elements (got 3, 2)"),
    );
    expect(() => b.precondition(ok, new Float64Array(1), 1)).toThrow(
      new RangeError("TinyBlock.precondition: grad and out must have n = 2 elements (got 2, 1)"),
    );
    for (const damping of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => b.precondition(ok, ok, damping)).toThrow(
        /TinyBlock.precondition: damping must be a finite number > 0/,
      );
    }
    expect(Array.from(b.precondition(new Float64Array([2, 4]), ok, 2))).toEqual([1, 2]);
  });
});
