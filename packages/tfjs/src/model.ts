/**
 * A tfjs-layers model as ekfac's `CurvatureModel` (capture.ts of @ekfac-ts/ekfac; MATH.md §1–§3, §6):
 * its Dense and Conv2D layers become KFAC/EKFAC curvature layers, every other trainable weight is an
 * ordinary parameter (ekfac's diagonal fallback or first-order rule).
 *
 * Capture (Martens & Grosse 2015 §3; KFC, Grosse & Martens 2016 for conv). While a captured pass runs,
 * each adapted layer computes its pre-activation `s = W a + b` itself and sends it through an identity
 * `tf.customGrad` whose backward receives `∂L/∂s` and the saved input `a`: it records
 * `ā = [a; 1]` and `g = N·∂L/∂s` (the per-example signal of the mean loss), then returns the gradient
 * unchanged (and zero for `a`, which already gets its gradient through the layer). The layer's own
 * activation is applied after the hook, so g is taken before it. Outside captured passes the layer's
 * original `call` runs untouched. Recording in the backward keeps ā and g from the same pass: a
 * forward for evaluation records nothing.
 *
 * Which Fisher (`setCapture` request): "empirical" records the training loss's own backward; "true"
 * first runs a separate forward and backward on targets ŷ drawn from softmax(logits) by `Rng(seed)`
 * (@ekfac-ts/nn's `sampleCategoricalInto`, so both draw the same targets), then the gradient pass
 * on the real labels without capture; "curvature-prop" (ekfac's default) runs that separate pass with
 * nn's `propagateCategoricalInto` cotangent (the same signs as nn for the same seed) instead of sampled
 * targets. "exact" is not offered (RangeError).
 *
 * Layout mapping (tfjs → ekfac, W is outDim × inDim row-major, W̄ = [W | b]):
 * - Dense: kernel `in × out` → `W[o, i] = K[i·out + o]`; ā rows are the N input rows plus a 1.
 * - Conv2D (NHWC, kernel `kh × kw × cin × cout`): `W[o, (c·kh + y)·kw + x] = K[((y·kw + x)·cin + c)·cout + o]`;
 *   ā rows are the patches of the input, one per (example, output row, output column), example-major,
 *   entries in (c_in, kh, kw) order (zero outside the input for "same" padding, TensorFlow's
 *   top/left-first split `⌊pad/2⌋`), plus a 1; g rows are `dy[n, oy, ox, :]·N`.
 * - Biases and all other weights keep tfjs's flat layout.
 * `backward` copies the variables into these layouts first (so weights set through tfjs are seen) and
 * `commit` writes the optimizer's values back through `LayerVariable.write` (constraints apply).
 *
 * Deviations: Dense inputs must be N × in (rank 2) while capturing; Conv2D with channelsFirst,
 * "causal" padding or dilation > 1 is refused (tfjs 4.x cannot differentiate dilated conv2d); a layer applied twice in one pass keeps the last application's
 * statistics; dropout draws independently in the Fisher pass and the gradient pass.
 *
 * Cost per step: O(P) for the two layout copies (P parameters); capture O(N·aDim + N·outDim) per
 * dense layer and O(N·T·aDim) per conv layer (T output positions) for the patch matrix, read back
 * with `dataSync`; the "true" and "curvature-prop" Fisher add one forward and one backward.
 */

import { wrap } from "@ekfac-ts/autodiff";
import type {
  CaptureRequest,
  CurvatureLayer,
  CurvatureModel,
  FisherMode,
  LayerStatistics,
  ParameterRef,
} from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { propagateCategoricalInto, sampleCategoricalInto } from "@ekfac-ts/nn";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, LayerVariable } from "@tensorflow/tfjs-layers";

type Layer = LayersModel["layers"][number];

/** The tfjs-layers 4.x fields the adapter reads; checked when the adapter is built. */
interface Activation {
  apply(x: tf.Tensor): tf.Tensor;
  getClassName(): string;
}
interface DenseFields {
  kernel: LayerVariable;
  bias: LayerVariable | null;
  activation: Activation | null;
}
interface ConvFields extends DenseFields {
  kernelSize: number[];
  strides: number[];
  padding: string;
  dataFormat: string;
  /** Refused unless 1 (tfjs 4.x has no gradient for dilated conv2d). */
  dilationRate: number | number[];
}

/** What the model outputs: logits, or probabilities from a final softmax. */
export type ClassifierOutput = "logits" | "probabilities";

/** Options of {@link TfjsCurvatureModel}. */
export interface TfjsCurvatureOptions {
  /** Default: "probabilities" when the last layer's activation is softmax, else "logits". */
  readonly output?: ClassifierOutput;
}

/** A mutable ParameterRef bound to one tfjs variable, with the copy between layouts. */
class Param implements ParameterRef {
  grad: Float32Array | null = null;
  readonly value: Float32Array;
  /** Index in tfjs's flat layout for each entry of `value` (null: the same layout). */
  constructor(
    readonly name: string,
    readonly variable: LayerVariable,
    readonly order: Int32Array | null,
  ) {
    this.value = new Float32Array(variable.shape.reduce((p: number, d) => p * (d as number), 1));
  }
  /** tfjs layout → ekfac layout. */
  load(out: Float32Array, src: ArrayLike<number>): void {
    const o = this.order;
    if (o === null) out.set(src);
    else for (let i = 0; i < out.length; i++) out[i] = src[o[i] as number] as number;
  }
  pull(): void {
    this.load(this.value, this.variable.read().dataSync() as Float32Array);
  }
  setGrad(src: ArrayLike<number>): void {
    if (this.grad === null) this.grad = new Float32Array(this.value.length);
    this.load(this.grad, src);
  }
  commit(): void {
    // A fresh array: the cpu backend keeps the array it is given, so a reused one would alias the variable.
    const out = new Float32Array(this.value.length);
    const o = this.order;
    if (o === null) out.set(this.value);
    else for (let i = 0; i < out.length; i++) out[o[i] as number] = this.value[i] as number;
    const t = tf.tensor(out, this.variable.shape as number[], "float32");
    this.variable.write(t);
    t.dispose();
  }
}

/** ekfac index → tfjs kernel index: Dense `in × out`, Conv2D `kh × kw × cin × cout`. */
function kernelOrder(shape: readonly number[]): Int32Array {
  if (shape.length === 2) {
    const [inDim, out] = shape as [number, number];
    const o = new Int32Array(inDim * out);
    for (let r = 0; r < out; r++) for (let i = 0; i < inDim; i++) o[r * inDim + i] = i * out + r;
    return o;
  }
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const inDim = cin * kh * kw;
  const o = new Int32Array(cout * inDim);
  for (let r = 0; r < cout; r++)
    for (let c = 0; c < cin; c++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) o[r * inDim + (c * kh + y) * kw + x] = ((y * kw + x) * cin + c) * cout + r;
  return o;
}

/** One adapted Dense or Conv2D layer. */
class Site implements CurvatureLayer {
  readonly outDim: number;
  readonly inDim: number;
  readonly hasBias: boolean;
  readonly groups = 1;
  statistics: LayerStatistics | null = null;
  private a = new Float32Array(0);
  private g = new Float32Array(0);
  private readonly hook: (s: tf.Tensor, x: tf.Tensor) => tf.Tensor;

  constructor(
    readonly name: string,
    readonly kind: "dense" | "conv2d",
    readonly layer: Layer,
    readonly fields: DenseFields | ConvFields,
    readonly weight: Param,
    readonly bias: Param | null,
    private readonly owner: TfjsCurvatureModel,
  ) {
    const shape = fields.kernel.shape as number[];
    this.outDim = shape[shape.length - 1] as number;
    this.inDim = shape.slice(0, -1).reduce((p, d) => p * d, 1);
    this.hasBias = bias !== null;
    this.hook = tf.customGrad(((s: tf.Tensor, x: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
      save([x]);
      return {
        value: s.clone(),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const input = saved[0] as tf.Tensor;
          this.record(input, dy);
          return [dy, tf.zerosLike(input)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as (s: tf.Tensor, x: tf.Tensor) => tf.Tensor;
  }

  /** The layer's call while capturing: s = W a + b, the hook, then the layer's activation. */
  call(x: tf.Tensor): tf.Tensor {
    const f = this.fields;
    let s: tf.Tensor;
    if (this.kind === "dense") {
      if (x.rank !== 2) {
        throw new RangeError(
          `TfjsCurvatureModel: Dense layer ${this.name} gets a rank-${x.rank} input [${x.shape.join(", ")}] while capturing; only N × features inputs are supported`,
        );
      }
      s = tf.matMul(x as tf.Tensor2D, f.kernel.read() as tf.Tensor2D);
    } else {
      const c = f as ConvFields;
      s = tf.conv2d(
        x as tf.Tensor4D,
        c.kernel.read() as tf.Tensor4D,
        c.strides as [number, number],
        c.padding as "valid" | "same",
      );
    }
    if (f.bias !== null) s = tf.add(s, f.bias.read());
    s = this.hook(s, x);
    return f.activation === null ? s : f.activation.apply(s);
  }

  private record(x: tf.Tensor, dy: tf.Tensor): void {
    const n = x.shape[0] as number;
    const xs = x.dataSync() as Float32Array;
    const dys = dy.dataSync() as Float32Array;
    const aDim = this.inDim + (this.hasBias ? 1 : 0);
    const rows = dys.length / this.outDim;
    if (this.a.length !== rows * aDim) this.a = new Float32Array(rows * aDim);
    if (this.g.length !== dys.length) this.g = new Float32Array(dys.length);
    const a = this.a;
    const g = this.g;
    for (let i = 0; i < dys.length; i++) g[i] = (dys[i] as number) * n;
    if (this.kind === "dense") {
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < this.inDim; j++) a[r * aDim + j] = xs[r * this.inDim + j] as number;
        if (this.hasBias) a[r * aDim + this.inDim] = 1;
      }
    } else {
      this.patches(xs, x.shape as number[], dy.shape as number[], a, aDim);
    }
    this.statistics = {
      batchSize: n,
      positions: rows / n,
      a,
      g,
      fisher: this.owner.recordingAs(),
      pass: this.owner.passCount(),
    };
  }

  /** im2col of an NHWC input into rows (n, oy, ox), entries (c, ky, kx), TensorFlow's padding. */
  private patches(xs: Float32Array, xShape: number[], yShape: number[], a: Float32Array, aDim: number): void {
    const c = this.fields as ConvFields;
    const [n, h, w, cin] = xShape as [number, number, number, number];
    const [, oh, ow] = yShape as [number, number, number, number];
    const [kh, kw] = c.kernelSize as [number, number];
    const [sh, sw] = c.strides as [number, number];
    const top = c.padding === "same" ? Math.floor(Math.max(0, (oh - 1) * sh + kh - h) / 2) : 0;
    const left = c.padding === "same" ? Math.floor(Math.max(0, (ow - 1) * sw + kw - w) / 2) : 0;
    let r = 0;
    for (let e = 0; e < n; e++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, r++) {
          const row = r * aDim;
          for (let ch = 0; ch < cin; ch++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - top + ky;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - left + kx;
                const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                a[row + (ch * kh + ky) * kw + kx] = inside ? (xs[((e * h + iy) * w + ix) * cin + ch] as number) : 0;
              }
            }
          }
          if (this.hasBias) a[row + this.inDim] = 1;
        }
      }
    }
  }
}

/** Labels as a one-hot N × C float tensor. */
function oneHotOf(labels: tf.Tensor | ArrayLike<number>, classes: number): tf.Tensor2D {
  if (labels instanceof tf.Tensor) {
    if (labels.rank === 2) return tf.cast(labels, "float32") as tf.Tensor2D;
    return tf.cast(tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, classes), "float32") as tf.Tensor2D;
  }
  return tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), "int32"), classes), "float32") as tf.Tensor2D;
}

/**
 * A tfjs-layers classifier (softmax cross-entropy) as ekfac's `CurvatureModel`; see the file header.
 *
 * ```ts
 * const adapted = new TfjsCurvatureModel(model);
 * const opt = new Optimizer(ekfac(adapted, { learningRate: 0.1, damping: 0.03 }), adapted);
 * adapted.backward(xs, labels); // loss, gradients and the captured statistics
 * opt.step(); // preconditioned update of the adapter's parameter arrays
 * adapted.commit(); // into the tfjs variables
 * ```
 */
export class TfjsCurvatureModel implements CurvatureModel {
  /** Whether the model's output is read as logits or as softmax probabilities. */
  readonly output: ClassifierOutput;
  private readonly sites: Site[] = [];
  private readonly params: Param[] = [];
  /** Each patched layer with its `call` as an own property before the patch (undefined: the prototype's). */
  private readonly originals: [Layer, Layer["call"] | undefined][] = [];
  private capture = false;
  private request: CaptureRequest = { fisher: "empirical", seed: 0 };
  private recording: FisherMode | null = null;
  private passes = 0;

  constructor(
    /** The adapted model; its Dense and Conv2D layers' `call` is wrapped until {@link dispose}. */
    readonly model: LayersModel,
    options: TfjsCurvatureOptions = {},
  ) {
    const fn = "TfjsCurvatureModel";
    if (model === null || typeof model !== "object" || !Array.isArray(model.layers) || !model.trainableWeights) {
      throw new TypeError(`${fn}: model must be a tfjs-layers LayersModel (got ${String(model)})`);
    }
    if (options.output !== undefined && options.output !== "logits" && options.output !== "probabilities") {
      throw new TypeError(`${fn}: options.output must be "logits" or "probabilities" (got ${String(options.output)})`);
    }
    const owned = new Map<LayerVariable, Param>();
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      if ((cls !== "Dense" && cls !== "Conv2D") || !layer.trainable) continue;
      const f = layer as unknown as ConvFields;
      if (!f.kernel || typeof f.kernel.read !== "function" || !("activation" in f)) {
        throw new TypeError(
          `${fn}: layer ${layer.name} (${cls}) lacks the kernel/activation fields of tfjs-layers 4.x`,
        );
      }
      const dilated = cls === "Conv2D" && [f.dilationRate].flat().some((d) => d !== 1);
      if (
        cls === "Conv2D" &&
        (f.dataFormat !== "channelsLast" || (f.padding !== "valid" && f.padding !== "same") || dilated)
      ) {
        throw new RangeError(
          `${fn}: Conv2D layer ${layer.name} has dataFormat ${f.dataFormat}, padding ${f.padding}, dilationRate ${String(f.dilationRate)}; supported: channelsLast, "valid" or "same", dilation 1`,
        );
      }
      const weight = new Param(f.kernel.name, f.kernel, kernelOrder(f.kernel.shape as number[]));
      const bias = f.bias ? new Param(f.bias.name, f.bias, null) : null;
      owned.set(f.kernel, weight);
      if (f.bias && bias) owned.set(f.bias, bias);
      this.sites.push(new Site(layer.name, cls === "Dense" ? "dense" : "conv2d", layer, f, weight, bias, this));
    }
    for (const v of model.trainableWeights) this.params.push(owned.get(v) ?? new Param(v.name, v, null));
    for (const p of this.params) p.pull();
    for (const site of this.sites) {
      const layer = site.layer;
      const original = layer.call;
      this.originals.push([layer, Object.hasOwn(layer, "call") ? original : undefined]);
      layer.call = (inputs, kwargs) =>
        this.recording === null
          ? original.call(layer, inputs, kwargs)
          : tf.tidy(() => site.call(Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs));
    }
    const last = model.layers[model.layers.length - 1] as unknown as Partial<DenseFields> | undefined;
    this.output = options.output ?? (last?.activation?.getClassName?.() === "softmax" ? "probabilities" : "logits");
  }

  curvatureLayers(): readonly CurvatureLayer[] {
    return this.sites;
  }

  parameters(): readonly ParameterRef[] {
    return this.params;
  }

  setCapture(on: boolean, request?: CaptureRequest): void {
    if (request !== undefined) {
      if (request.fisher === "exact") {
        throw new RangeError(
          'TfjsCurvatureModel.setCapture: fisher "exact" is not supported; use "curvature-prop", "true" or "empirical"',
        );
      }
      if (!["empirical", "true", "curvature-prop"].includes(request.fisher)) {
        throw new RangeError(
          `TfjsCurvatureModel.setCapture: request.fisher must be "empirical", "true" or "curvature-prop" (got ${String(request.fisher)})`,
        );
      }
      this.request = request;
    }
    this.capture = on;
    if (!on) for (const s of this.sites) s.statistics = null;
  }

  /** @internal The Fisher the running pass records. */
  recordingAs(): FisherMode {
    return this.recording ?? "empirical";
  }

  /** @internal The number of the running captured pass. */
  passCount(): number {
    return this.passes;
  }

  /** Log-probabilities N × C of the model's output. */
  private logProbabilities(x: tf.Tensor): tf.Tensor2D {
    const out = this.model.apply(x, { training: true }) as tf.Tensor2D;
    return this.output === "logits" ? tf.logSoftmax(out) : tf.log(tf.clipByValue(out, 1e-7, 1));
  }

  /**
   * Forward and backward on a batch: the parameters' `value` (from the tfjs variables) and `grad` (of
   * the mean softmax cross-entropy against `labels`, integer classes or one-hot rows), and, when the
   * optimizer asked for capture, every adapted layer's statistics. Returns the mean loss.
   */
  backward(x: tf.Tensor, labels: tf.Tensor | ArrayLike<number>): number {
    const fn = "TfjsCurvatureModel.backward";
    if (!(x instanceof tf.Tensor)) throw new TypeError(`${fn}: x must be a tf.Tensor`);
    const n = x.shape[0] as number;
    const count = labels instanceof tf.Tensor ? (labels.shape[0] as number) : labels.length;
    if (!(n > 0) || count !== n) {
      throw new RangeError(`${fn}: x has ${n} examples and labels ${count}; expected the same number, at least 1`);
    }
    for (const p of this.params) p.pull();
    const vars = this.params.map((p) => p.variable.read() as tf.Variable);
    const kernels = this.sites.map((s) => s.weight.variable.read() as tf.Variable);
    const fisher = this.request.fisher;
    if (this.capture && (fisher === "true" || fisher === "curvature-prop")) {
      const rng = new Rng(this.request.seed);
      this.passes++;
      this.recording = fisher;
      try {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logp = this.logProbabilities(x);
            const [rows, c] = logp.shape;
            const logits = wrap(logp.dataSync() as Float32Array, [rows, c]);
            if (fisher === "true") {
              const y = sampleCategoricalInto(new Int32Array(rows), logits, rng);
              return tf.div(tf.neg(tf.sum(tf.mul(oneHotOf(y, c), logp))), rows) as tf.Scalar;
            }
            // Rows of the propagated cotangent sum to 0, so through log-softmax it reaches the logits unchanged.
            const cot = propagateCategoricalInto(new Float32Array(rows * c), logits, rng);
            return tf.div(tf.sum(tf.mul(tf.tensor2d(cot, [rows, c]), logp)), rows) as tf.Scalar;
          }, kernels);
          value.dispose();
          tf.dispose(Object.values(grads));
        });
      } finally {
        this.recording = null;
      }
    }
    if (this.capture && this.request.fisher === "empirical") {
      this.passes++;
      this.recording = "empirical";
    }
    try {
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logp = this.logProbabilities(x);
          return tf.div(tf.neg(tf.sum(tf.mul(oneHotOf(labels, logp.shape[1]), logp))), n) as tf.Scalar;
        }, vars);
        this.params.forEach((p, i) => {
          p.setGrad(grads[vars[i]?.name ?? ""]?.dataSync() ?? new Float32Array(p.value.length));
        });
        return value.dataSync()[0] as number;
      });
    } finally {
      this.recording = null;
    }
  }

  /** Writes the parameters' `value` arrays (as the optimizer left them) into the tfjs variables. */
  commit(): void {
    for (const p of this.params) p.commit();
  }

  /** Restores the adapted layers' own `call`; the adapter must not be used afterwards. */
  dispose(): void {
    for (const [layer, call] of this.originals) {
      if (call === undefined) delete (layer as { call?: unknown }).call;
      else layer.call = call;
    }
    this.originals.length = 0;
  }
}
