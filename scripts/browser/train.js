// The live training page: trains the MNIST classifier (classifier.js) in the browser with the optimizer
// the user picks — SGD, Adam, KFAC or EKFAC, all through the one `Optimizer.step()` — and draws the
// minibatch loss curves as SVG (labelled axes, ticks, legend) while they train.
//
// Data: /build/digits.json (make-digits.mjs; `pnpm serve` writes and mounts it), else — or with
// `?synthetic=1` — a synthetic set of 10 Gaussian classes (classifier.js: a balanced, seeded split).
// Query options: `run=sgd,adam,kfac,ekfac` (or `run=all`) trains those at once without a click;
// `epochs=N` (default 6).
//
// For CI, `<pre id="result">` holds `PLOTTED data=… curves=sgd:96,… accuracy=sgd:0.865,… first=…
// last=… skipped=…` once every requested run has finished, where `curves` counts the points of each
// polyline in the SVG (what was drawn, read back from the DOM) and `accuracy` is the held-out
// accuracy after the last epoch; `peak_after_10` is the largest minibatch loss after the first 10
// steps (issue 13's divergence criterion compares it with `first`); `ERROR …` on failure.
import { decodeDigits, OPTIMIZERS, split, syntheticDigits, train } from "./classifier.js";

const $ = (id) => document.getElementById(id);
const log = (line) => {
  $("log").textContent += `${line}\n`;
};
const params = new URL(location.href).searchParams;
const epochs = Number(params.get("epochs") ?? 6);
const colours = { sgd: "#1f77b4", adam: "#2ca02c", kfac: "#ff7f0e", ekfac: "#d62728" };

async function loadData() {
  if (params.get("synthetic") === "1") return { ...syntheticDigits(), kind: "synthetic" };
  try {
    const response = await fetch("/build/digits.json");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return { ...decodeDigits(await response.json()), kind: "digits" };
  } catch (e) {
    const data = syntheticDigits();
    return { ...data, source: `${data.source} (no digits: ${e.message})`, kind: "synthetic" };
  }
}

/** About five round tick values from 0 to the first tick ≥ max. */
function ticks(max) {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out = [];
  for (let k = 0; k === 0 || out[k - 1] < max * (1 - 1e-12); k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

const W = 720;
const H = 400;
const M = { left: 64, right: 16, top: 16, bottom: 48 };

/** Redraws every curve: runs = { kind: { losses, accuracy } }. */
function draw(runs) {
  const entries = Object.entries(runs);
  const firsts = entries.map(([, r]) => r.losses[0]).filter(Number.isFinite);
  const finite = entries.flatMap(([, r]) => r.losses.filter(Number.isFinite));
  // Clip at 1.5× the largest initial loss, so one diverging run does not flatten the others.
  const top = Math.max(1e-6, Math.min(Math.max(...finite, 0), 1.5 * Math.max(...firsts, 0)));
  const yTicks = ticks(top);
  const yMax = yTicks[yTicks.length - 1];
  const steps = Math.max(1, ...entries.map(([, r]) => r.losses.length - 1));
  const xTicks = ticks(steps).filter((t) => t <= steps);
  const legendX = W - M.right - 360;
  const x = (i) => M.left + ((W - M.left - M.right) * i) / steps;
  const y = (l) => M.top + (H - M.top - M.bottom) * (1 - Math.min(l, yMax) / yMax);
  const parts = [];
  for (const t of yTicks) {
    parts.push(
      `<line x1="${M.left}" y1="${y(t)}" x2="${W - M.right}" y2="${y(t)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${t}</text>`,
    );
  }
  for (const t of xTicks) {
    parts.push(
      `<line x1="${x(t)}" y1="${H - M.bottom}" x2="${x(t)}" y2="${H - M.bottom + 4}" stroke="#666"/>`,
      `<text x="${x(t)}" y="${H - M.bottom + 16}" font-size="11" text-anchor="middle">${t}</text>`,
    );
  }
  parts.push(
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#666"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#666"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" font-size="12" text-anchor="middle">step (minibatch of 50)</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" font-size="12" text-anchor="middle">training loss (cross-entropy, minibatch)</text>`,
  );
  // The legend goes on top of the curves, on a light box.
  const legend = [
    `<rect x="${legendX - 8}" y="${M.top + 2}" width="360" height="${18 * entries.length + 6}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`,
  ];
  entries.forEach(([kind, r], k) => {
    const points = r.losses
      .map((l, i) => (Number.isFinite(l) ? `${x(i).toFixed(1)},${y(l).toFixed(1)}` : null))
      .filter((p) => p !== null)
      .join(" ");
    parts.push(
      `<polyline data-kind="${kind}" fill="none" stroke="${colours[kind]}" stroke-width="1.5" points="${points}"/>`,
    );
    const ly = M.top + 14 + 18 * k;
    const lx = legendX;
    const acc = r.accuracy === null ? "training…" : `held-out acc. ${r.accuracy.toFixed(3)}`;
    legend.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${colours[kind]}" stroke-width="3"/>`,
      `<text x="${lx + 28}" y="${ly}" font-size="12">${OPTIMIZERS[kind].label} — ${acc}</text>`,
    );
  });
  if (entries.length > 0) parts.push(...legend);
  $("curve").innerHTML = parts.join("");
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

function verdict(data, runs) {
  const plotted = [...$("curve").querySelectorAll("polyline")].map(
    (p) => `${p.dataset.kind}:${p.getAttribute("points").trim().split(/\s+/).filter(Boolean).length}`,
  );
  const each = (f) =>
    Object.entries(runs)
      .map(([k, r]) => `${k}:${f(r)}`)
      .join(",");
  return (
    `PLOTTED data=${data.kind} epochs=${epochs} curves=${plotted.join(",")} ` +
    `accuracy=${each((r) => r.accuracy.toFixed(3))} first=${each((r) => r.losses[0].toFixed(3))} ` +
    `last=${each((r) => r.losses[r.losses.length - 1].toFixed(3))} ` +
    `peak_after_10=${each((r) => Math.max(...r.losses.slice(10)).toFixed(3))} skipped=${each((r) => r.skipped)}`
  );
}

async function main() {
  const data = await loadData();
  const sets = split(data);
  $("what").textContent =
    `A ${data.dim}→64→10 ReLU MLP (@ekfac-ts/nn, default initialisation) trained on ${sets.train.count} ${data.source}, ` +
    `${epochs} epochs of minibatches of 50 in the same seeded order for every optimizer; accuracy is measured ` +
    `on the other ${sets.test.count} (every fifth example). Every optimizer runs through the same Optimizer.step().`;
  const select = $("optimizer");
  for (const [kind, spec] of Object.entries(OPTIMIZERS)) select.add(new Option(spec.label, kind));
  const runs = {};
  const buttons = [$("train"), $("all"), $("clear")];
  const runOne = async (kind) => {
    const run = { losses: [], accuracy: null, skipped: 0 };
    runs[kind] = run;
    const result = await train(sets, kind, {
      epochs,
      onStep: async (loss, step) => {
        run.losses.push(loss);
        if (step % 4 === 0) draw(runs);
        await pause();
      },
      onEpoch: (epoch, accuracy) => {
        log(`${kind}: epoch ${epoch + 1}/${epochs}, held-out accuracy ${accuracy.toFixed(3)}`);
      },
    });
    run.accuracy = result.accuracies[result.accuracies.length - 1];
    run.skipped = result.skipped;
    draw(runs);
  };
  const runMany = async (kinds) => {
    for (const b of buttons) b.disabled = true;
    $("result").textContent = "RUNNING";
    try {
      for (const kind of kinds) await runOne(kind);
      $("result").textContent = verdict(data, runs);
    } catch (e) {
      $("result").textContent = `ERROR ${e?.stack ?? e}`;
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };
  $("train").onclick = () => runMany([select.value]);
  $("all").onclick = () => runMany(Object.keys(OPTIMIZERS));
  $("clear").onclick = () => {
    for (const k of Object.keys(runs)) delete runs[k];
    $("curve").innerHTML = "";
    $("log").textContent = "";
  };
  for (const b of buttons) b.disabled = false;
  const auto = params.get("run");
  if (auto !== null) {
    const kinds = auto === "all" ? Object.keys(OPTIMIZERS) : auto.split(",");
    const unknown = kinds.filter((k) => !(k in OPTIMIZERS));
    if (unknown.length > 0) throw new RangeError(`run=${auto}: unknown optimizer ${unknown.join(", ")}`);
    await runMany(kinds);
  } else $("result").textContent = "READY: pick an optimizer and press Train";
}

try {
  await main();
} catch (e) {
  $("result").textContent = `ERROR ${e?.stack ?? e}`;
}
