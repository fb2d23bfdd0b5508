/**
 * Weight initialisers, as PyTorch's `torch.nn.init` defines them, drawn from a seeded `Rng` so that
 * one seed gives bit-identical weights in every runtime.
 *
 * Fans (PyTorch `_calculate_fan_in_and_fan_out`): for a weight of shape `[out, in, …kernel]`, the
 * receptive field is `r = Π kernel` (1 for Linear), `fanIn = in·r`, `fanOut = out·r`. For Conv2d the
 * weight is `C_out × C_in/groups × kh × kw`, so `fanIn = (C_in/groups)·kh·kw`, `fanOut = C_out·kh·kw`.
 *
 * - Glorot/Xavier (Glorot & Bengio 2010, eq. 16): uniform on `±gain·√(6/(fanIn+fanOut))`, or normal
 *   with `std = gain·√(2/(fanIn+fanOut))`.
 * - He/Kaiming (He et al. 2015, eq. 10): `std = gain/√fan` with `fan = fanIn` (default) or `fanOut`
 *   and `gain = √2` (ReLU); uniform on `±√3·std`, or normal with that std.
 * - `pytorchDefaultLinear`: what `nn.Linear`/`nn.Conv2d` do by default — weight uniform on
 *   `±1/√fanIn` (kaiming_uniform with a = √5), bias uniform on `±1/√fanIn`.
 * - Sparse (Martens 2010, "Deep learning via Hessian-free optimization", §5 "sparse initialization"):
 *   every unit (row of the weight, `fanIn` incoming weights) gets K = 15 non-zero weights drawn from
 *   `N(0, scale²)` (scale 1 in the paper) at positions chosen uniformly without replacement (partial
 *   Fisher–Yates); the rest are zero, and biases are zero (`zerosInit`). With `fanIn ≤ K` every
 *   incoming weight is drawn. It keeps units' inputs from being tiny averages of many small weights,
 *   so that deep nets start neither saturated nor with vanishing signals.
 * Normals are NOT truncated (PyTorch's xavier_normal_/kaiming_normal_ are not either); use
 * `truncatedNormal` explicitly when wanted (it redraws samples outside ±2 std, as TF/JAX do).
 * Cost: O(numel) draws. Every function writes into `out` and returns it.
 */
import { checkOptions, type FloatArray, optionKeys, Rng } from "@ekfac-ts/linalg";
import { assertFinite, kindOf } from "./internal/checks.ts";

/** The fans of a weight tensor, as PyTorch computes them (see {@link fans}). */
export interface Fans {
  /** in · Π kernel: the inputs each output sums over. */
  readonly fanIn: number;
  /** out · Π kernel. */
  readonly fanOut: number;
}

/** PyTorch's fans of a weight of shape `[out, in, …kernel]` (at least 2 dimensions). */
export function fans(shape: readonly number[]): Fans {
  return fansOf("fans", shape);
}

function fansOf(fn: string, shape: readonly number[]): Fans {
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: shape must be an array of sizes (got ${kindOf(shape)})`);
  if (shape.length < 2) throw new RangeError(`${fn}: shape [${shape.join(", ")}] needs at least 2 dimensions`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`${fn}: shape [${shape.join(", ")}] has an invalid dimension ${d}`);
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i] as number;
  return { fanIn: (shape[1] as number) * receptive, fanOut: (shape[0] as number) * receptive };
}

/** `out` is a Float32Array or Float64Array (a plain array would be filled without a word, or crash). */
function checkArray(fn: string, out: FloatArray): void {
  if (!(out instanceof Float32Array || out instanceof Float64Array))
    throw new TypeError(`${fn}: out must be a Float32Array or Float64Array (got ${kindOf(out)})`);
}

function checkOut(fn: string, out: FloatArray, shape: readonly number[]): Fans {
  checkArray(fn, out);
  const f = fansOf(fn, shape);
  const numel = shape.reduce((a, b) => a * b, 1);
  if (out.length !== numel)
    throw new RangeError(`${fn}: out has length ${out.length}, expected numel([${shape.join(", ")}]) = ${numel}`);
  return f;
}

function checkRng(fn: string, rng: Rng): void {
  if (!(rng instanceof Rng)) throw new TypeError(`${fn}: rng must be an Rng from @ekfac-ts/linalg`);
}

/** A gain scales a bound or a standard deviation: finite and ≥ 0 (0 gives zeros, as in PyTorch). */
function checkGain(fn: string, gain: number): void {
  if (typeof gain !== "number" || !Number.isFinite(gain) || gain < 0) {
    throw new RangeError(`${fn}: gain must be a finite number ≥ 0 (got ${String(gain)})`);
  }
}

/** Glorot/Xavier uniform: `U(−b, b)`, `b = gain·√(6/(fanIn+fanOut))`. */
export function glorotUniform<T extends FloatArray>(out: T, shape: readonly number[], rng: Rng, gain = 1): T {
  const { fanIn, fanOut } = checkOut("glorotUniform", out, shape);
  checkRng("glorotUniform", rng);
  checkGain("glorotUniform", gain);
  if (out.length === 0) return out; // an empty shape: its fans may be 0, its bound ∞
  const b = gain * Math.sqrt(6 / (fanIn + fanOut));
  return rng.fillUniform(out, -b, b);
}

/** Glorot/Xavier normal: `N(0, σ²)`, `σ = gain·√(2/(fanIn+fanOut))` (not truncated). */
export function glorotNormal<T extends FloatArray>(out: T, shape: readonly number[], rng: Rng, gain = 1): T {
  const { fanIn, fanOut } = checkOut("glorotNormal", out, shape);
  checkRng("glorotNormal", rng);
  checkGain("glorotNormal", gain);
  return rng.fillNormal(out, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

/** Options of {@link heNormal} and {@link heUniform}. */
export interface HeOptions {
  /** `"fanIn"` (default: preserves forward variance) or `"fanOut"` (backward). */
  readonly mode?: "fanIn" | "fanOut";
  /** Default √2, the ReLU gain. */
  readonly gain?: number;
}

/** The keys of {@link HeOptions} (checked against the interface both ways at compile time). */
const HE_OPTIONS = optionKeys<HeOptions>()(["mode", "gain"]);

function heStd(fn: string, out: FloatArray, shape: readonly number[], options: HeOptions): number {
  const f = checkOut(fn, out, shape);
  checkOptions(fn, "options", options, HE_OPTIONS);
  const mode = options.mode ?? "fanIn";
  // Any other string would otherwise select fanOut silently.
  if (mode !== "fanIn" && mode !== "fanOut")
    throw new RangeError(`${fn}: options.mode must be "fanIn" or "fanOut" (got ${JSON.stringify(mode)})`);
  const fan = mode === "fanIn" ? f.fanIn : f.fanOut;
  const gain = options.gain ?? Math.SQRT2;
  checkGain(fn, gain);
  return gain / Math.sqrt(fan);
}

/** He/Kaiming uniform: `U(−√3·σ, √3·σ)`, `σ = gain/√fan`. */
export function heUniform<T extends FloatArray>(
  out: T,
  shape: readonly number[],
  rng: Rng,
  options: HeOptions = {},
): T {
  const std = heStd("heUniform", out, shape, options);
  checkRng("heUniform", rng);
  if (out.length === 0) return out; // an empty shape: its fan may be 0, its bound ∞
  const b = Math.sqrt(3) * std;
  return rng.fillUniform(out, -b, b);
}

/** He/Kaiming normal: `N(0, σ²)`, `σ = gain/√fan` (not truncated). */
export function heNormal<T extends FloatArray>(out: T, shape: readonly number[], rng: Rng, options: HeOptions = {}): T {
  const std = heStd("heNormal", out, shape, options);
  checkRng("heNormal", rng);
  return rng.fillNormal(out, 0, std);
}

/** PyTorch's default Linear/Conv2d weight init: `U(−1/√fanIn, 1/√fanIn)`. */
export function pytorchDefaultWeight<T extends FloatArray>(out: T, shape: readonly number[], rng: Rng): T {
  const { fanIn } = checkOut("pytorchDefaultWeight", out, shape);
  checkRng("pytorchDefaultWeight", rng);
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rng.fillUniform(out, -b, b);
}

/** PyTorch's default bias init: `U(−1/√fanIn, 1/√fanIn)` with the fanIn of the layer's weight. */
export function pytorchDefaultBias<T extends FloatArray>(out: T, fanIn: number, rng: Rng): T {
  checkArray("pytorchDefaultBias", out);
  checkRng("pytorchDefaultBias", rng);
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return rng.fillUniform(out, -b, b);
}

/** `N(mean, std²)` conditioned on `|x − mean| ≤ 2·std` (rejection: expected 1.05 draws per value). */
export function truncatedNormal<T extends FloatArray>(out: T, rng: Rng, std = 1, mean = 0): T {
  checkArray("truncatedNormal", out);
  checkRng("truncatedNormal", rng);
  // NaN would fill `out` with NaN weights; a negative std is no distribution.
  if (!Number.isFinite(std) || std < 0)
    throw new RangeError(`truncatedNormal: std must be a finite number ≥ 0 (got ${std})`);
  if (!Number.isFinite(mean)) throw new RangeError(`truncatedNormal: mean must be finite (got ${mean})`);
  for (let i = 0; i < out.length; i++) {
    let z = rng.normal();
    while (z < -2 || z > 2) z = rng.normal();
    out[i] = mean + std * z;
  }
  return out;
}

/** Options of {@link sparseInit} (Martens 2010 §5 sparse initialisation). */
export interface SparseOptions {
  /** Non-zero incoming weights per unit, K (default 15, Martens 2010). */
  readonly nonZeros?: number;
  /** Standard deviation of the non-zero weights (default 1). */
  readonly scale?: number;
}

/** The keys of {@link SparseOptions} (checked against the interface both ways at compile time). */
const SPARSE_OPTIONS = optionKeys<SparseOptions>()(["nonZeros", "scale"]);

/** Martens' sparse initialisation: K = 15 (default) N(0, scale²) weights per unit, the rest zero. */
export function sparseInit<T extends FloatArray>(
  out: T,
  shape: readonly number[],
  rng: Rng,
  options: SparseOptions = {},
): T {
  const fn = "sparseInit";
  const { fanIn } = checkOut(fn, out, shape);
  checkRng(fn, rng);
  checkOptions(fn, "options", options, SPARSE_OPTIONS);
  const k = options.nonZeros ?? 15;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: nonZeros must be a positive integer (got ${k})`);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`${fn}: scale must be a positive finite number (got ${scale})`);
  }
  out.fill(0);
  if (fanIn === 0) return out;
  const units = shape[0] as number;
  const take = Math.min(k, fanIn);
  const idx = new Int32Array(fanIn);
  for (let u = 0; u < units; u++) {
    for (let j = 0; j < fanIn; j++) idx[j] = j;
    for (let j = 0; j < take; j++) {
      const r = j + rng.int(fanIn - j);
      const t = idx[r] as number;
      idx[r] = idx[j] as number;
      idx[j] = t;
      out[u * fanIn + t] = scale * rng.normal();
    }
  }
  return out;
}

/** Fills `out` with a constant (finite: a NaN or ∞ weight would reach every pass); returns `out`. */
export function constant<T extends FloatArray>(out: T, value: number): T {
  checkArray("constant", out);
  assertFinite("constant", "value", value);
  out.fill(value);
  return out;
}

/** Fills `out` with zeros; returns `out`. */
export function zerosInit<T extends FloatArray>(out: T): T {
  checkArray("zerosInit", out);
  out.fill(0);
  return out;
}
