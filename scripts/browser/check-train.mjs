#!/usr/bin/env node
// Checks one headless-Chromium run of the training page (scripts/ci-portable.sh, "train" step):
//
//   node scripts/browser/check-train.mjs DOM.html SHOT.png DATA MIN_ACCURACY
//
// Passes (exit 0) when the dumped DOM holds the page's `PLOTTED` verdict for data DATA ("digits" or
// "synthetic"), the SVG holds one polyline per optimizer of the verdict with at least 2 points and as
// many as the verdict says (counted here from the DOM, not taken from the page's word), every held-out
// accuracy exceeds MIN_ACCURACY, and SHOT.png is a PNG of plausible size. Prints one line either way.
import { readFileSync } from "node:fs";

const [domFile, shotFile, data, minArg] = process.argv.slice(2);
const min = Number(minArg);
if (!domFile || !shotFile || !data || !Number.isFinite(min)) {
  throw new Error("usage: check-train.mjs DOM.html SHOT.png DATA MIN_ACCURACY");
}
const dom = readFileSync(domFile, "utf8");
const problems = [];
const verdict = /<pre id="result">([^<]*)<\/pre>/.exec(dom)?.[1]?.trim() ?? "";
const field = (name) =>
  Object.fromEntries(
    (new RegExp(`\\b${name}=(\\S+)`).exec(verdict)?.[1] ?? "")
      .split(",")
      .filter(Boolean)
      .map((kv) => kv.split(":"))
      .map(([k, v]) => [k, Number(v)]),
  );
if (!verdict.startsWith("PLOTTED")) problems.push(`no PLOTTED verdict (got "${verdict.slice(0, 300)}")`);
else {
  if (!verdict.includes(`data=${data} `))
    problems.push(`trained on ${/data=(\S+)/.exec(verdict)?.[1]}, expected ${data}`);
  const curves = field("curves");
  const accuracy = field("accuracy");
  const svg = /<svg id="curve"[^>]*>([\s\S]*?)<\/svg>/.exec(dom)?.[1] ?? null;
  if (svg === null) problems.push("no <svg id=curve> in the page");
  const drawn = {};
  for (const m of (svg ?? "").matchAll(/<polyline data-kind="(\w+)"[^>]*points="([^"]*)"/g)) {
    drawn[m[1]] = m[2].trim().split(/\s+/).filter(Boolean).length;
  }
  const kinds = Object.keys(accuracy);
  if (kinds.length === 0) problems.push("the verdict names no optimizer");
  for (const k of kinds) {
    if (!(drawn[k] >= 2)) problems.push(`${k}: ${drawn[k] ?? 0} points drawn`);
    if (drawn[k] !== curves[k]) problems.push(`${k}: the SVG has ${drawn[k]} points, the verdict says ${curves[k]}`);
    if (!(accuracy[k] > min)) problems.push(`${k}: held-out accuracy ${accuracy[k]} ≤ ${min}`);
  }
}
let png;
try {
  png = readFileSync(shotFile);
} catch (e) {
  problems.push(`no screenshot: ${e.message}`);
}
if (png !== undefined) {
  const signature = png.subarray(0, 8).toString("hex") === "89504e470d0a1a0a";
  if (!signature || png.length < 10_000)
    problems.push(`screenshot ${shotFile}: not a PNG or too small (${png.length} bytes)`);
}
if (problems.length === 0) console.log(`train page (${data}): ok — ${verdict}`);
else console.log(`train page (${data}): FAILED — ${problems.join("; ")}`);
process.exit(problems.length === 0 ? 0 : 1);
