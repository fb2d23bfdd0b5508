/**
 * Elementwise ops: binary arithmetic with NumPy broadcasting, and unary functions.
 *
 * Equations (forward; the derivatives live in rules.ts):
 *   add a+b · sub a−b · mul a·b · div a/b · pow a^b · maximum max(a,b) · minimum min(a,b)
 *   neg −x · exp eˣ · log ln x · sqrt √x · abs |x| · tanh · sigmoid σ(x) = 1/(1+e^(−x))
 *   relu max(x,0) · leakyRelu x>0 ? x : αx · softplus ln(1+eˣ) = max(x,0) + ln(1+e^(−|x|))
 *   gelu (erf form, PyTorch's default) x·Φ(x) = x/2·(1 + erf(x/√2))
 *   gelu (tanh form, Hendrycks & Gimpel 2016 eq. 2) x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))
 * Stability: sigmoid and softplus branch on the sign of x so e^(·) never overflows; GELU avoids the
 * cancellation in 1 + erf(·) and 1 + tanh(·) for x ≪ 0 by using Φ(x) = erfc(−x/√2)/2 and
 * (1 + tanh u)/2 = σ(2u).
 * Values are computed in doubles and stored in the tensors' element type.
 *
 * Cost: O(size) per op; one call of the run kernel per contiguous run (broadcast.ts), no per-element
 * closures.
 */
import { checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { broadcastShapes, broadcastStrides, contiguousStrides, forEachRun, sizeOf } from "../broadcast.ts";
import { erfc } from "../erf.ts";
import { allocLike, assertTensor, operands } from "../internal/check.ts";
import { GELU_C, SQRT_HALF, sigmoidOf } from "../scalar.ts";
import { type OpName, record } from "../tape.ts";
import { Tensor } from "../tensor.ts";

type BinaryKernel = (
  y: FloatArray,
  a: FloatArray,
  b: FloatArray,
  o: number,
  ia: number,
  ib: number,
  n: number,
  sa: number,
  sb: number,
) => void;

// biome-ignore format: one line per op reads as a table
const binaryKernels = {
  add: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) y[o + i] = (a[ia] as number) + (b[ib] as number); },
  sub: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) y[o + i] = (a[ia] as number) - (b[ib] as number); },
  mul: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) y[o + i] = (a[ia] as number) * (b[ib] as number); },
  div: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) y[o + i] = (a[ia] as number) / (b[ib] as number); },
  pow: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) y[o + i] = (a[ia] as number) ** (b[ib] as number); },
  maximum: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; const v = b[ib] as number; y[o + i] = u >= v || Number.isNaN(u) ? u : v; } },
  minimum: (y, a, b, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; const v = b[ib] as number; y[o + i] = u <= v || Number.isNaN(u) ? u : v; } },
} satisfies Record<string, BinaryKernel>;

type BinaryOp = keyof typeof binaryKernels;

function binary(op: BinaryOp & OpName, a: Tensor | number, b: Tensor | number): Tensor {
  const [ta, tb] = operands(op, a, b);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const so = contiguousStrides(shape);
  const sa = broadcastStrides(ta.shape, shape);
  const sb = broadcastStrides(tb.shape, shape);
  const y = allocLike(sizeOf(shape), ta.data);
  const kernel: BinaryKernel = binaryKernels[op];
  const ad = ta.data;
  const bd = tb.data;
  forEachRun(shape, so, sa, sb, (o, ia, ib, n, _t, ra, rb) => kernel(y, ad, bd, o, ia, ib, n, ra, rb));
  const out = new Tensor(y, shape);
  record(op, [ta, tb], out, { so, sa, sb });
  return out;
}

/** a + b, broadcasting. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("add", a, b);
}
/** a − b, broadcasting. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("sub", a, b);
}
/** a · b (elementwise), broadcasting. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("mul", a, b);
}
/** a / b, broadcasting. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("div", a, b);
}
/** a^b, broadcasting. The gradient with respect to b uses ln a (NaN for a < 0). */
export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("pow", a, b);
}
/** max(a, b) elementwise; at ties the gradient goes to a. NaN propagates. */
export function maximum(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("maximum", a, b);
}
/** min(a, b) elementwise; at ties the gradient goes to a. NaN propagates. */
export function minimum(a: Tensor | number, b: Tensor | number): Tensor {
  return binary("minimum", a, b);
}

type UnaryKernel = (x: FloatArray, y: FloatArray, n: number, p: number) => void;

// biome-ignore format: one line per op reads as a table
const unaryKernels = {
  neg: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = -(x[i] as number); },
  exp: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.exp(x[i] as number); },
  log: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.log(x[i] as number); },
  sqrt: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.sqrt(x[i] as number); },
  abs: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.abs(x[i] as number); },
  tanh: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i] as number); },
  sigmoid: (x, y, n) => { for (let i = 0; i < n; i++) y[i] = sigmoidOf(x[i] as number); },
  relu: (x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; y[i] = Math.max(v , 0); } },
  leakyRelu: (x, y, n, p) => { for (let i = 0; i < n; i++) { const v = x[i] as number; y[i] = v > 0 ? v : p * v; } },
  softplus: (x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; y[i] = (Math.max(v , 0)) + Math.log1p(Math.exp(-Math.abs(v))); } },
  gelu: (x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; y[i] = 0.5 * v * erfc(-v * SQRT_HALF); } },
  geluTanh: (x, y, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; y[i] = v * sigmoidOf(2 * GELU_C * (v + 0.044715 * v * v * v)); } },
} satisfies Record<string, UnaryKernel>;

type UnaryOp = keyof typeof unaryKernels;

function unary(op: UnaryOp & OpName, x: Tensor, p = 0): Tensor {
  const t = assertTensor(op, "x", x);
  const y = allocLike(t.size, t.data);
  const kernel: UnaryKernel = unaryKernels[op];
  kernel(t.data, y, t.size, p);
  const out = new Tensor(y, t.shape);
  record(op, [t], out, { p });
  return out;
}

/** −x elementwise. */
export function neg(x: Tensor): Tensor {
  return unary("neg", x);
}
/** eˣ elementwise. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x);
}
/** Natural logarithm (−Inf at 0, NaN below). */
export function log(x: Tensor): Tensor {
  return unary("log", x);
}
/** √x elementwise (NaN below 0). */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x);
}
/** |x|; the gradient at 0 is 0. */
export function abs(x: Tensor): Tensor {
  return unary("abs", x);
}
/** Hyperbolic tangent elementwise. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x);
}
/** The logistic function 1/(1 + e⁻ˣ) elementwise. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x);
}
/** max(x, 0); the gradient at 0 is 0. */
export function relu(x: Tensor): Tensor {
  return unary("relu", x);
}
/** x for x > 0, slope·x otherwise (default slope 0.01, as PyTorch). */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  if (typeof slope !== "number" || !Number.isFinite(slope)) {
    throw new TypeError(`leakyRelu: slope must be a finite number (got ${String(slope)})`);
  }
  return unary("leakyRelu", x, slope);
}
/** ln(1 + eˣ), computed without overflow. */
export function softplus(x: Tensor): Tensor {
  return unary("softplus", x);
}

/** Options of {@link gelu}. */
export interface GeluOptions {
  /** "none" (default, as PyTorch): x·Φ(x) with this package's erf; "tanh": the tanh approximation. */
  readonly approximate?: "none" | "tanh";
}

const GELU_OPTIONS = optionKeys<GeluOptions>()(["approximate"]);

/** Gaussian error linear unit x·Φ(x) (erf form by default, or its tanh approximation). */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  checkOptions("gelu", "options", options, GELU_OPTIONS);
  const approx = options.approximate ?? "none";
  if (approx !== "none" && approx !== "tanh") {
    throw new RangeError(`gelu: approximate must be "none" or "tanh" (got ${String(approx)})`);
  }
  return unary(approx === "tanh" ? "geluTanh" : "gelu", x);
}

/** x² (composite: mul(x, x), so both uses accumulate). */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}
