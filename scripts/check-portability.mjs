#!/usr/bin/env node
// Fails when a library package (linalg, autodiff, nn, ekfac) uses a Node-only API in its shipped
// sources, or declares a runtime dependency other than its sibling packages. The build (types: [],
// lib ES2022) already rejects Node globals at compile time; this check also catches `node:` imports,
// dynamic requires and string-keyed globals that typing alone would let through, and names the file.
// Adapter packages (tfjs) get the same source checks (they run in browsers too) but may declare peer
// dependencies on the framework they adapt, and only those.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const libraries = ["linalg", "autodiff", "nn", "ekfac"];
const adapters = { tfjs: ["@tensorflow/tfjs-core", "@tensorflow/tfjs-layers"] };
const forbidden = [
  [/from\s+["']node:/, "a node: import"],
  [/import\(\s*["']node:/, "a dynamic node: import"],
  [/\brequire\s*\(/, "require()"],
  [/\bprocess\s*\./, "the process global"],
  [/\bBuffer\b/, "the Buffer global"],
  [/\b__dirname\b|\b__filename\b/, "CommonJS path globals"],
  [/from\s+["'](fs|path|os|child_process|worker_threads|crypto|url)["']/, "a Node built-in module"],
  [/globalThis\s*\[\s*["'](process|Buffer|require)["']\s*\]/, "a string-keyed Node global"],
];
const problems = [];

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.includes("/test/")) yield path;
  }
}

for (const lib of [...libraries, ...Object.keys(adapters)]) {
  const root = join("packages", lib);
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    if (!dep.startsWith("@ekfac-ts/")) problems.push(`${root}/package.json: runtime dependency ${dep}`);
  }
  const peers = adapters[lib] ?? [];
  for (const field of ["peerDependencies", "optionalDependencies"]) {
    for (const dep of Object.keys(pkg[field] ?? {})) {
      if (!(field === "peerDependencies" && peers.includes(dep)))
        problems.push(`${root}/package.json: ${field} ${dep}`);
    }
  }
  if (pkg.type !== "module") problems.push(`${root}/package.json: "type" must be "module" (ESM only)`);
  for (const file of sources(join(root, "src"))) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "");
      if (/^\s*\*/.test(code)) return; // doc comment lines may mention these names
      for (const [re, what] of forbidden) if (re.test(code)) problems.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
}

if (problems.length > 0) {
  console.error(`check-portability: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `check-portability: ${libraries.length} library packages use no Node APIs and depend only on each other; adapters (${Object.keys(adapters).join(", ")}) use no Node APIs and peer-depend only on their framework`,
);
