// Trains a small MLP on MNIST-like digits entirely in the page with EKFAC (and, for comparison, SGD
// with momentum from the same initialisation), using the built packages through the import map, and
// draws both loss curves as SVG polylines. The verdict for CI goes into `<pre id="result">`:
// `LOSS-FELL first=… last=…` when EKFAC's last loss is below 70% of its first, else
// `LOSS-DID-NOT-FALL …` (or `ERROR …`).
//
// Data: /build/digits.json (written by make-digits.mjs from the `mnist` package: 14×14 digits) when
// served, else a synthetic set of 10 Gaussian classes, so the page also works opened on its own.
import { backward, wrap } from "@ekfac-ts/autodiff";
import { applyUpdates, ekfac, Optimizer, sgd } from "@ekfac-ts/ekfac";
import { Rng, zeros } from "@ekfac-ts/linalg";
import { mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";

const $ = (id) => document.getElementById(id);
const log = (line) => {
  $("log").textContent += `${line}\n`;
};

async function loadDigits() {
  try {
    const response = await fetch("/build/digits.json");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { size, count, labels, pixels } = await response.json();
    const bytes = Uint8Array.from(atob(pixels), (ch) => ch.charCodeAt(0));
    const x = zeros(count, size * size);
    for (let i = 0; i < bytes.length; i++) x.data[i] = bytes[i] / 255;
    return { x, labels: Int32Array.from(labels), source: `${count} MNIST digits (${size}×${size})` };
  } catch (e) {
    const rng = new Rng(7);
    const dim = 196;
    const count = 600;
    const centres = rng.fillNormal(new Float32Array(10 * dim));
    const x = zeros(count, dim);
    const labels = new Int32Array(count);
    for (let n = 0; n < count; n++) {
      labels[n] = n % 10;
      for (let j = 0; j < dim; j++) x.data[n * dim + j] = 0.5 * (centres[labels[n] * dim + j] ?? 0) + rng.normal();
    }
    return { x, labels, source: `${count} synthetic points in 10 classes (no digits: ${e.message})` };
  }
}

const colours = { ekfac: "#c33", sgd: "#36c" };

function draw(curves) {
  const svg = $("curve");
  const w = 640;
  const h = 320;
  const pad = 30;
  const all = Object.values(curves).flat();
  const max = Math.max(...all);
  const steps = Math.max(...Object.values(curves).map((c) => c.length));
  const x = (i) => pad + ((w - 2 * pad) * i) / Math.max(1, steps - 1);
  const y = (l) => h - pad - ((h - 2 * pad) * l) / max;
  let body =
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>` +
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#999"/>` +
    `<text x="${pad + 4}" y="${pad - 8}" font-size="12">training loss (max ${max.toFixed(3)})</text>` +
    `<text x="${w - pad - 60}" y="${h - 8}" font-size="12">step ${steps - 1}</text>`;
  let legend = 0;
  for (const [name, losses] of Object.entries(curves)) {
    const points = losses.map((l, i) => `${x(i).toFixed(1)},${y(l).toFixed(1)}`).join(" ");
    legend++;
    body += `<polyline fill="none" stroke="${colours[name]}" stroke-width="2" points="${points}"/>`;
    body += `<text x="${w - pad - 80}" y="${pad + 14 * legend}" font-size="12" fill="${colours[name]}">${name}</text>`;
  }
  svg.innerHTML = body;
}

const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Full-batch training of a 196→32→10 tanh MLP with "ekfac" or "sgd"; records losses in `curves`. */
async function train({ train: { x, labels }, test }, optimizer, steps, curves) {
  const model = mlp([x.cols, 32, 10], "tanh", { seed: 1 });
  const input = wrap(x.data, [x.rows, x.cols]);
  const params = model.parameters();
  const values = params.map((p) => p.value);
  let step;
  if (optimizer === "ekfac") {
    // The optimizer requests capture from the model itself (issue 13's contract with nn).
    const opt = new Optimizer(ekfac(model, { learningRate: 0.1, damping: 0.03, basisEvery: 10 }), model);
    step = () => opt.step();
  } else {
    const opt = sgd(0.1, { momentum: 0.9 });
    const state = opt.init(values);
    step = () => {
      const grads = params.map((p) => p.grad);
      opt.update(grads, state, values);
      applyUpdates(values, grads);
    };
  }
  const losses = [];
  curves[optimizer] = losses;
  for (let k = 0; k <= steps; k++) {
    model.zeroGrad();
    const loss = softmaxCrossEntropy(model.forward(input), labels);
    backward(loss);
    losses.push(loss.item());
    if (k < steps) step();
    if (k % 5 === 0) {
      draw(curves);
      await yieldToPage();
    }
  }
  model.setCapture(false);
  return { losses, accuracy: accuracyOf(model, test) };
}

/** Every fifth example is held out: `train` and `test` share nothing. */
function split({ x, labels, source }) {
  const pick = (keep) => {
    const rows = [];
    for (let i = 0; i < x.rows; i++) if (keep(i)) rows.push(i);
    const out = zeros(rows.length, x.cols);
    rows.forEach((r, k) => {
      out.data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), k * x.cols);
    });
    return { x: out, labels: Int32Array.from(rows, (r) => labels[r]) };
  };
  return { train: pick((i) => i % 5 !== 0), test: pick((i) => i % 5 === 0), source };
}

function accuracyOf(model, { x, labels }) {
  const logits = model.forward(wrap(x.data, [x.rows, x.cols]));
  let correct = 0;
  for (let i = 0; i < x.rows; i++) {
    let arg = 0;
    for (let j = 1; j < 10; j++) if (logits.data[i * 10 + j] > logits.data[i * 10 + arg]) arg = j;
    if (arg === labels[i]) correct++;
  }
  return correct / x.rows;
}

try {
  const data = split(await loadDigits());
  const steps = 40;
  const curves = {};
  const run = await train(data, "ekfac", steps, curves);
  const baseline = await train(data, "sgd", steps, curves);
  draw(curves);
  $("what").textContent =
    `A 196→32→10 tanh MLP (@ekfac-ts/nn) trained full-batch with EKFAC (@ekfac-ts/ekfac, red) and SGD with momentum 0.9 (blue), ` +
    `same initialisation and learning rate 0.1, on ${data.train.x.rows} of ${data.source}; ` +
    `accuracy is measured on the other ${data.test.x.rows}.`;
  const first = run.losses[0];
  const last = run.losses[run.losses.length - 1];
  const sgdLast = baseline.losses[baseline.losses.length - 1];
  log(`ekfac: first=${first.toFixed(4)} last=${last.toFixed(4)} held-out accuracy=${run.accuracy.toFixed(3)}`);
  log(
    `sgd:   first=${baseline.losses[0].toFixed(4)} last=${sgdLast.toFixed(4)} held-out accuracy=${baseline.accuracy.toFixed(3)}`,
  );
  const verdict = Number.isFinite(last) && last < 0.7 * first ? "LOSS-FELL" : "LOSS-DID-NOT-FALL";
  $("result").textContent =
    `${verdict} first=${first.toFixed(4)} last=${last.toFixed(4)} steps=${steps} test_accuracy=${run.accuracy.toFixed(3)} ` +
    `sgd_last=${sgdLast.toFixed(4)} data=${data.source.split(" (")[0].replaceAll(" ", "_")}`;
} catch (e) {
  $("result").textContent = `ERROR ${e?.stack ?? e}`;
}
