/**
 * A hand-written dense network implementing `CurvatureModel`, for the optimizer tests (nn's MLP was not
 * available when these tests were written). Forward and backward by hand in float64 over float32
 * parameters; captures ā (with the trailing 1) and g = N·∂L/∂s per layer, as capture.ts specifies.
 * Hidden activations tanh; output layer linear, then softmax cross-entropy (labels) or squared error
 * ½‖s − y‖² (autoencoder).
 *
 * It follows the capture contract (capture.ts): `setCapture(on, { fisher, seed })`; with "true" the
 * captured g come from a second backward pass against targets sampled from the model (categorical for
 * softmax, N(s, I) for squared error) with `Rng(seed)`, with "curvature-prop" from random-sign
 * combinations of the output Fisher's square-root columns (nn's losses, MATH.md §2), and the parameter
 * gradients stay those of the training loss, whose own g_L = N·∂L/∂s are handed over as `lossG`;
 * "exact" is not implemented here, so such passes are labelled "empirical" (the producer's honest
 * statement). Every captured pass increments `pass`; capture off clears statistics.
 */
import { Rng } from "@ekfac-ts/linalg";
import type { CaptureRequest, CurvatureLayer, CurvatureModel, LayerStatistics, ParameterRef } from "../src/capture.ts";

interface MutableLayer extends CurvatureLayer {
  statistics: LayerStatistics | null;
}

export class TinyMlp implements CurvatureModel {
  readonly sizes: readonly number[];
  readonly loss: "softmax-ce" | "squared";
  private readonly layers: MutableLayer[] = [];
  private readonly params: ParameterRef[] = [];
  private capture = true;
  private request: CaptureRequest = { fisher: "empirical", seed: 0 };
  /** Captured passes so far (the `pass` of the latest statistics). */
  pass = 0;

  constructor(sizes: readonly number[], seed: number, loss: "softmax-ce" | "squared") {
    this.sizes = sizes;
    this.loss = loss;
    const rng = new Rng(seed);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const din = sizes[l] as number;
      const dout = sizes[l + 1] as number;
      const w = new Float32Array(dout * din);
      const scale = Math.sqrt(1 / din);
      for (let i = 0; i < w.length; i++) w[i] = scale * rng.normal();
      const weight = { name: `fc${l}.weight`, value: w, grad: new Float32Array(w.length) };
      const bias = { name: `fc${l}.bias`, value: new Float32Array(dout), grad: new Float32Array(dout) };
      this.params.push(weight, bias);
      this.layers.push({
        name: `fc${l}`,
        kind: "dense",
        outDim: dout,
        inDim: din,
        hasBias: true,
        groups: 1,
        weight,
        bias,
        statistics: null,
      });
    }
  }

  curvatureLayers(): readonly CurvatureLayer[] {
    return this.layers;
  }
  parameters(): readonly ParameterRef[] {
    return this.params;
  }
  setCapture(on: boolean, request?: CaptureRequest): void {
    this.capture = on;
    if (request !== undefined) this.request = request;
    if (!on) for (const l of this.layers) l.statistics = null;
  }

  /** Mean loss over the N rows of x, forward only: no gradient, no statistics (a loss closure). */
  evaluate(x: Float64Array, y: Float64Array | Int32Array, n: number): number {
    const { acts } = this.forward(x, n);
    const k = this.sizes[this.sizes.length - 1] as number;
    return this.outputDelta(acts[acts.length - 1] as Float64Array, y, n, k).loss / n;
  }

  private forward(x: Float64Array, n: number): { acts: Float64Array[]; pre: Float64Array[] } {
    const acts: Float64Array[] = [x];
    const pre: Float64Array[] = [];
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l] as MutableLayer;
      const a = acts[l] as Float64Array;
      const s = new Float64Array(n * L.outDim);
      for (let e = 0; e < n; e++) {
        for (let i = 0; i < L.outDim; i++) {
          let v = L.bias?.value[i] as number;
          for (let j = 0; j < L.inDim; j++)
            v += (L.weight.value[i * L.inDim + j] as number) * (a[e * L.inDim + j] as number);
          s[e * L.outDim + i] = v;
        }
      }
      pre.push(s);
      acts.push(l + 1 < this.layers.length ? s.map(Math.tanh) : s);
    }
    return { acts, pre };
  }

  /** Mean loss over the N rows of x; fills gradients (and statistics when capture is on). */
  forwardBackward(x: Float64Array, y: Float64Array | Int32Array, n: number): number {
    const { acts, pre } = this.forward(x, n);
    const out = acts[acts.length - 1] as Float64Array;
    const k = this.sizes[this.sizes.length - 1] as number;
    const { delta, loss } = this.outputDelta(out, y, n, k);
    const sampled = this.capture && this.request.fisher === "true";
    const propagated = this.capture && this.request.fisher === "curvature-prop";
    const lossRows: (Float32Array | null)[] = this.layers.map(() => null);
    this.backward(delta, acts, pre, n, true, this.capture);
    if (sampled || propagated) {
      // The loss's own signals, as `lossG` beside the sampled Fisher's g (capture.ts).
      for (const [l, L] of this.layers.entries()) lossRows[l] = (L.statistics as LayerStatistics).g as Float32Array;
    }
    if (propagated) {
      // Σ_c r_c √p_c (p − e_c) / N for softmax, r / N for squared error (MATH.md §2).
      const rng = new Rng(this.request.seed);
      const cot = new Float64Array(n * k);
      for (let e = 0; e < n; e++) {
        if (this.loss === "softmax-ce") {
          const { m, z } = logitShift(out, e, k);
          let t = 0;
          for (let c = 0; c < k; c++) {
            const w = (rng.uniform() < 0.5 ? -1 : 1) * Math.sqrt(Math.exp((out[e * k + c] as number) - m) / z);
            cot[e * k + c] = -w / n;
            t += w;
          }
          for (let c = 0; c < k; c++)
            cot[e * k + c] = (cot[e * k + c] as number) + (Math.exp((out[e * k + c] as number) - m) / z) * (t / n);
        } else {
          for (let i = 0; i < k; i++) cot[e * k + i] = (rng.uniform() < 0.5 ? -1 : 1) / n;
        }
      }
      this.backward(cot, acts, pre, n, false, true);
    }
    if (sampled) {
      const rng = new Rng(this.request.seed);
      const ys: Float64Array | Int32Array = this.loss === "softmax-ce" ? new Int32Array(n) : new Float64Array(n * k);
      for (let e = 0; e < n; e++) {
        if (this.loss === "softmax-ce") {
          const { m, z } = logitShift(out, e, k);
          let u = rng.uniform() * z;
          let c = 0;
          for (; c < k - 1; c++) {
            u -= Math.exp((out[e * k + c] as number) - m);
            if (u <= 0) break;
          }
          ys[e] = c;
        } else {
          for (let i = 0; i < k; i++) ys[e * k + i] = (out[e * k + i] as number) + rng.normal();
        }
      }
      this.backward(this.outputDelta(out, ys, n, k).delta, acts, pre, n, false, true);
    }
    if (this.capture) this.pass++;
    const fisher = sampled ? "true" : propagated ? "curvature-prop" : "empirical";
    if (this.capture) {
      for (const [l, L] of this.layers.entries()) {
        const st = L.statistics as LayerStatistics;
        L.statistics = { ...st, fisher, pass: this.pass, lossG: lossRows[l] ?? null };
      }
    }
    return loss / n;
  }

  /** ∂L/∂s of the last layer for the mean loss (includes 1/N), and the summed loss. */
  private outputDelta(
    out: Float64Array,
    y: Float64Array | Int32Array,
    n: number,
    k: number,
  ): { delta: Float64Array; loss: number } {
    const delta = new Float64Array(n * k);
    let loss = 0;
    for (let e = 0; e < n; e++) {
      if (this.loss === "softmax-ce") {
        const { m, z } = logitShift(out, e, k);
        const label = y[e] as number;
        loss += -((out[e * k + label] as number) - m - Math.log(z));
        for (let i = 0; i < k; i++)
          delta[e * k + i] = (Math.exp((out[e * k + i] as number) - m) / z - (i === label ? 1 : 0)) / n;
      } else {
        for (let i = 0; i < k; i++) {
          const r = (out[e * k + i] as number) - (y[e * k + i] as number);
          loss += 0.5 * r * r;
          delta[e * k + i] = r / n;
        }
      }
    }
    return { delta, loss };
  }

  private backward(
    top: Float64Array,
    acts: readonly Float64Array[],
    pre: readonly Float64Array[],
    n: number,
    writeGrads: boolean,
    captureG: boolean,
  ): void {
    let delta = top;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const L = this.layers[l] as MutableLayer;
      const a = acts[l] as Float64Array;
      if (writeGrads) {
        const gw = L.weight.grad as Float32Array;
        const gb = L.bias?.grad as Float32Array;
        gw.fill(0);
        gb.fill(0);
        for (let e = 0; e < n; e++) {
          for (let i = 0; i < L.outDim; i++) {
            const d = delta[e * L.outDim + i] as number;
            gb[i] = (gb[i] as number) + d;
            for (let j = 0; j < L.inDim; j++)
              gw[i * L.inDim + j] = (gw[i * L.inDim + j] as number) + d * (a[e * L.inDim + j] as number);
          }
        }
      }
      if (captureG) {
        const aDim = L.inDim + 1;
        const sa = new Float32Array(n * aDim);
        const sg = new Float32Array(n * L.outDim);
        for (let e = 0; e < n; e++) {
          for (let j = 0; j < L.inDim; j++) sa[e * aDim + j] = a[e * L.inDim + j] as number;
          sa[e * aDim + L.inDim] = 1;
          for (let i = 0; i < L.outDim; i++) sg[e * L.outDim + i] = n * (delta[e * L.outDim + i] as number);
        }
        L.statistics = { batchSize: n, positions: 1, a: sa, g: sg, fisher: "empirical", pass: this.pass };
      }
      if (l > 0) {
        const prev = new Float64Array(n * L.inDim);
        const sPrev = pre[l - 1] as Float64Array;
        for (let e = 0; e < n; e++) {
          for (let j = 0; j < L.inDim; j++) {
            let v = 0;
            for (let i = 0; i < L.outDim; i++)
              v += (delta[e * L.outDim + i] as number) * (L.weight.value[i * L.inDim + j] as number);
            const t = Math.tanh(sPrev[e * L.inDim + j] as number);
            prev[e * L.inDim + j] = v * (1 - t * t);
          }
        }
        delta = prev;
      }
    }
  }

  /** Copies of the parameter values (for checkpoints in tests). */
  snapshot(): Float32Array[] {
    return this.params.map((p) => Float32Array.from(p.value));
  }
  load(values: readonly Float32Array[]): void {
    this.params.forEach((p, i) => {
      p.value.set(values[i] as Float32Array);
    });
  }
}

/** Row e's max logit m and Σ_i exp(s_i − m) (the stable softmax normaliser). */
function logitShift(out: Float64Array, e: number, k: number): { m: number; z: number } {
  let m = -Infinity;
  for (let i = 0; i < k; i++) m = Math.max(m, out[e * k + i] as number);
  let z = 0;
  for (let i = 0; i < k; i++) z += Math.exp((out[e * k + i] as number) - m);
  return { m, z };
}

/** Three Gaussian blobs in `dim` dimensions: `n` examples (x row-major, integer labels). */
export function blobs(seed: number, n: number, dim: number, classes = 3): { x: Float64Array; y: Int32Array } {
  const rng = new Rng(seed);
  const centers = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 1.5 * rng.normal()));
  const x = new Float64Array(n * dim);
  const y = new Int32Array(n);
  for (let e = 0; e < n; e++) {
    const c = e % classes;
    y[e] = c;
    for (let j = 0; j < dim; j++) x[e * dim + j] = (centers[c]?.[j] as number) + rng.normal();
  }
  return { x, y };
}

/** Low-rank data for an autoencoder: x = B z with z ∈ R^rank, plus small noise. */
export function lowRankData(seed: number, n: number, dim: number, rank: number): Float64Array {
  const rng = new Rng(seed);
  const b = Array.from({ length: dim * rank }, () => rng.normal());
  const x = new Float64Array(n * dim);
  for (let e = 0; e < n; e++) {
    const z = Array.from({ length: rank }, () => rng.normal());
    for (let j = 0; j < dim; j++) {
      let v = 0.05 * rng.normal();
      for (let r = 0; r < rank; r++) v += (b[j * rank + r] as number) * (z[r] as number);
      x[e * dim + j] = Math.tanh(v);
    }
  }
  return x;
}
