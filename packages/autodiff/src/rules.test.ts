/**
 * Every derivative rule against central finite differences in float64 (table-driven, one entry per
 * primitive; the last test fails if a primitive of the rule table has no entry here).
 */
import type { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  awayFromZero,
  broadcastPairArb,
  distinct,
  normal,
  positive,
  rngOf,
  scaled,
  seedArb,
  shapeArb,
} from "../test/support.ts";
import * as ad from "./index.ts";
import { rules } from "./rules.ts";
import type { OpName } from "./tape.ts";

type Case = { inputs: ad.Tensor[]; f: (...t: ad.Tensor[]) => ad.Tensor };

/** Per primitive: a generator of (inputs, f) from a seed and a shape. */
const table: Record<OpName, (rng: Rng, shape: number[]) => Case> = {
  add: (r, s) => ({ inputs: [normal(r, s), normal(r, s.slice(1))], f: ad.add }),
  sub: (r, s) => ({ inputs: [normal(r, s.slice(1)), normal(r, s)], f: ad.sub }),
  mul: (r, s) => ({ inputs: [normal(r, s), normal(r, [1, ...s.slice(1)])], f: ad.mul }),
  div: (r, s) => ({ inputs: [normal(r, s), awayFromZero(r, s, 0.5)], f: ad.div }),
  pow: (r, s) => ({ inputs: [positive(r, s), normal(r, s)], f: ad.pow }),
  maximum: (r, s) => {
    const a = normal(r, s);
    const b = awayFromZero(r, s);
    for (let i = 0; i < a.size; i++) b.data[i] = (a.data[i] as number) + (b.data[i] as number);
    return { inputs: [a, b], f: ad.maximum };
  },
  minimum: (r, s) => {
    const a = normal(r, s);
    const b = awayFromZero(r, s);
    for (let i = 0; i < a.size; i++) b.data[i] = (a.data[i] as number) + (b.data[i] as number);
    return { inputs: [a, b], f: ad.minimum };
  },
  neg: (r, s) => ({ inputs: [normal(r, s)], f: ad.neg }),
  exp: (r, s) => ({ inputs: [normal(r, s)], f: ad.exp }),
  log: (r, s) => ({ inputs: [positive(r, s)], f: ad.log }),
  sqrt: (r, s) => ({ inputs: [positive(r, s)], f: ad.sqrt }),
  abs: (r, s) => ({ inputs: [awayFromZero(r, s)], f: ad.abs }),
  tanh: (r, s) => ({ inputs: [normal(r, s)], f: ad.tanh }),
  sigmoid: (r, s) => ({
    inputs: [scaled(r, s, 4)],
    f: ad.sigmoid,
  }),
  relu: (r, s) => ({ inputs: [awayFromZero(r, s)], f: ad.relu }),
  leakyRelu: (r, s) => ({ inputs: [awayFromZero(r, s)], f: (x) => ad.leakyRelu(x, 0.2) }),
  softplus: (r, s) => ({
    inputs: [scaled(r, s, 5)],
    f: ad.softplus,
  }),
  gelu: (r, s) => ({
    inputs: [scaled(r, s, 3)],
    f: (x) => ad.gelu(x),
  }),
  geluTanh: (r, s) => ({
    inputs: [scaled(r, s, 3)],
    f: (x) => ad.gelu(x, { approximate: "tanh" }),
  }),
  matmul: (r, s) => {
    const [m, k, n] = [s[0] ?? 2, s[1] ?? 3, s[2] ?? 2];
    const transA = r.uniform() < 0.5;
    const transB = r.uniform() < 0.5;
    return {
      inputs: [normal(r, transA ? [k, m] : [m, k]), normal(r, transB ? [n, k] : [k, n])],
      f: (a, b) => ad.matmul(a, b, { transA, transB }),
    };
  },
  sum: (r, s) => {
    const axes = s.map((_, i) => i).filter(() => r.uniform() < 0.5);
    const keep = r.uniform() < 0.5;
    return { inputs: [normal(r, s)], f: (x) => ad.sum(x, axes, keep) };
  },
  max: (r, s) => {
    const axes = s.map((_, i) => i).filter(() => r.uniform() < 0.5);
    const keep = r.uniform() < 0.5;
    return { inputs: [distinct(r, s)], f: (x) => ad.max(x, axes.length > 0 ? axes : undefined, keep) };
  },
  logsumexp: (r, s) => {
    const axis = r.int(s.length);
    return {
      inputs: [scaled(r, s, 3)],
      f: (x) => ad.logsumexp(x, axis),
    };
  },
  logSoftmax: (r, s) => {
    const axis = r.int(s.length);
    return {
      inputs: [scaled(r, s, 3)],
      f: (x) => ad.logSoftmax(x, axis),
    };
  },
  reshape: (r, s) => ({ inputs: [normal(r, s)], f: (x) => ad.reshape(x, [-1]) }),
  permute: (r, s) => {
    const p = Array.from(r.permutation(s.length));
    return { inputs: [normal(r, s)], f: (x) => ad.permute(x, p) };
  },
  slice: (r, s) => {
    const starts = s.map((d) => r.int(d));
    const ends = s.map((d, i) => (starts[i] as number) + 1 + r.int(d - (starts[i] as number)));
    return { inputs: [normal(r, s)], f: (x) => ad.slice(x, starts, ends) };
  },
  concat: (r, s) => {
    const axis = r.int(s.length);
    const other = s.slice();
    other[axis] = 1 + r.int(3);
    return { inputs: [normal(r, s), normal(r, other)], f: (a, b) => ad.concat([a, b, a], axis) };
  },
  gather: (r, s) => {
    const axis = r.int(s.length);
    const shape = s.slice();
    shape[axis] = 1 + r.int(3);
    const n = shape.reduce((a, b) => a * b, 1);
    const index = Array.from({ length: n }, () => r.int(s[axis] as number));
    return { inputs: [normal(r, s)], f: (x) => ad.gather(x, axis, index, shape) };
  },
  conv2d: (r, s) => {
    const groups = 1 + r.int(2);
    const cin = groups * (1 + r.int(2));
    const cout = groups * (1 + r.int(2));
    const [kh, kw] = [1 + r.int(3), 1 + r.int(2)];
    const opts = {
      stride: [1 + r.int(2), 1 + r.int(2)] as const,
      padding: [r.int(2), r.int(2)] as const,
      dilation: [1 + r.int(2), 1] as const,
      groups,
    };
    const h = (kh - 1) * opts.dilation[0] + 1 + r.int(3);
    const w = kw + (s[0] ?? 1);
    return {
      inputs: [normal(r, [1 + r.int(2), cin, h, w]), normal(r, [cout, cin / groups, kh, kw]), normal(r, [cout])],
      f: (x, wt, b) => ad.conv2d(x, wt, b, opts),
    };
  },
  maxPool2d: (r, s) => {
    const k = 1 + r.int(3);
    const opts = { kernelSize: k, stride: 1 + r.int(2), padding: r.int(Math.floor(k / 2) + 1) };
    return {
      inputs: [distinct(r, [1 + r.int(2), 1 + r.int(2), k + (s[0] ?? 1), k + 1])],
      f: (x) => ad.maxPool2d(x, opts),
    };
  },
  avgPool2d: (r, s) => {
    const k = 1 + r.int(3);
    const opts = {
      kernelSize: [k, 2] as const,
      stride: [1 + r.int(2), 1] as const,
      padding: [r.int(Math.floor(k / 2) + 1), 1] as const,
      countIncludePad: r.uniform() < 0.5,
    };
    return { inputs: [normal(r, [1 + r.int(2), 2, k + (s[0] ?? 1), k + 2])], f: (x) => ad.avgPool2d(x, opts) };
  },
  dropout: (r, s) => {
    const seed = r.nextUint32();
    return { inputs: [normal(r, s)], f: (x) => ad.dropout(x, 0.4, rngOf(seed)) };
  },
};

describe("derivative rules vs central finite differences (float64)", () => {
  for (const [op, make] of Object.entries(table) as [OpName, (rng: Rng, shape: number[]) => Case][]) {
    it(`${op}: ∇ = finite differences, relative error ≤ 1e-6`, () => {
      fc.assert(
        fc.property(seedArb, shapeArb(3, 4), (seed, shape) => {
          const rng = rngOf(seed);
          const { inputs, f } = make(rng, shape);
          const report = ad.gradcheck(f, inputs);
          if (!report.ok) throw new Error(report.message);
        }),
        { numRuns: 25 },
      );
    });
  }

  it("every primitive of the rule table has an entry in this table", () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(rules).sort());
  });
});

describe("broadcasting", () => {
  it("binary gradients reduce to the input shapes and match finite differences", () => {
    fc.assert(
      fc.property(
        seedArb,
        broadcastPairArb,
        fc.constantFrom(ad.add, ad.sub, ad.mul, ad.div, ad.maximum),
        (seed, [sa, sb], op) => {
          const rng = rngOf(seed);
          const a = op === ad.div ? awayFromZero(rng, sa, 0.5) : normal(rng, sa);
          const b = op === ad.div || op === ad.maximum ? awayFromZero(rng, sb, 0.5) : normal(rng, sb);
          const y = op(a, b);
          expect(y.shape).toEqual(ad.broadcastShapes("test", sa, sb));
          ad.sum(y).backward();
          expect(a.grad?.shape).toEqual(sa);
          expect(b.grad?.shape).toEqual(sb);
          a.grad = null;
          b.grad = null;
          if (op !== ad.maximum) {
            const report = ad.gradcheck(op, [a, b]);
            if (!report.ok) throw new Error(report.message);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("add of [2,3] and [4] names the op and both shapes", () => {
    expect(() => ad.add(ad.zeros([2, 3]), ad.zeros([4]))).toThrow("add: shapes [2,3] and [4] cannot broadcast");
  });
});
