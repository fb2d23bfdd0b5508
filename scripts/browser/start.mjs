#!/usr/bin/env node
// `pnpm serve`: the live training page in one command.
//
//   npx -y pnpm@12.4.2 serve [--port N]      (or: node scripts/browser/start.mjs [--port N])
//
// 1. builds the library packages when a dist/ is missing or older than its sources (turbo, cached);
// 2. writes results/browser/digits.json (make-digits.mjs, 100 digits per class) when it is missing;
// 3. starts serve.mjs with that folder mounted at /build and prints the page's URL.
// Open the URL, pick an optimizer (SGD, Adam, KFAC, EKFAC) and press Train. Ctrl-C stops the server.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const libraries = ["linalg", "autodiff", "nn", "ekfac"];

/** Newest modification time (ms) of the files under `dir`, or 0 when there are none. */
function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

const stale = libraries.filter((name) => {
  const entry = join(root, "packages", name, "dist", "index.js");
  return !existsSync(entry) || statSync(entry).mtimeMs < newest(join(root, "packages", name, "src"));
});
if (stale.length > 0) {
  console.log(`serve: building (${stale.join(", ")} not built or older than their sources)`);
  // turbo needs the pinned package manager on PATH, so it runs under `pnpm exec` (npx's pinned copy).
  const { packageManager } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const built = spawnSync("npx", ["-y", packageManager, "exec", "turbo", "run", "build", "--output-logs=errors-only"], {
    cwd: root,
    stdio: "inherit",
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const data = join(root, "results", "browser");
if (!existsSync(join(data, "digits.json"))) {
  const made = spawnSync(
    process.execPath,
    [join(root, "scripts/browser/make-digits.mjs"), join(data, "digits.json"), "100"],
    {
      stdio: "inherit",
    },
  );
  if (made.status !== 0) console.log("serve: no digits (the page falls back to synthetic data)");
}

const server = spawn(
  process.execPath,
  [join(root, "scripts/browser/serve.mjs"), "--mount", `/build=${data}`, ...process.argv.slice(2)],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
server.stdout.setEncoding("utf8");
server.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const url = /listening (\S+)/.exec(chunk)?.[1];
  if (url) console.log(`training page: ${url}scripts/browser/train.html  (Ctrl-C to stop)`);
});
server.on("exit", (code) => process.exit(code ?? 0));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
