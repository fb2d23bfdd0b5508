#!/usr/bin/env node
// Fails when any package's sources import each other in a cycle. A cycle makes module evaluation
// order matter (a binding read before its module ran is in its temporal dead zone) and leaves no
// file that can be read, loaded or tested first. Walks the relative imports of every file under
// packages/*/src (tests included) and reports each strongly connected component of more than one
// file, or a file importing itself. No dependencies.
//
// Type-only imports (`import type …`, or `import { type A, type B }` with every name a type) do not
// count: the compiler erases them, so they cannot order evaluation, and mutually recursive types
// (a Tensor holds the Node that produced it, the Node holds its output Tensor) are one design, not
// a layering fault.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = /\.(?:ts|mts|tsx|js|mjs)$/;
// Static imports and re-exports (`import … from "x"`, `export … from "x"`, `import "x"`), with the
// clause between keyword and specifier in group 1, and dynamic `import("x")` with a literal
// specifier. Comments are stripped first.
const SPECIFIER =
  /\b(?:import|export)\s+(?:([^"'`;]*?)\s*from\s*)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/** True for `type {…}` / `type X` clauses and for `{ type A, type B }` where every name is a type. */
function typeOnly(clause) {
  if (clause === undefined) return false;
  const c = clause.trim();
  if (/^type\b/.test(c)) return true;
  const braces = /^\{([^}]*)\}$/.exec(c);
  if (braces === null) return false;
  const names = braces[1]
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  return names.length > 0 && names.every((n) => /^type\s/.test(n));
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** The file a relative specifier names: as written, or with a source extension / index added. */
function resolveImport(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

function importGraph(files) {
  const graph = new Map();
  for (const file of files) {
    const targets = new Set();
    for (const m of stripComments(readFileSync(file, "utf8")).matchAll(SPECIFIER)) {
      const specifier = m[2] ?? m[3];
      if (!specifier.startsWith(".") || typeOnly(m[1])) continue;
      const target = resolveImport(file, specifier);
      if (target !== null) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** Tarjan's strongly connected components, iterative (deep import chains must not overflow). */
function stronglyConnected(graph) {
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const components = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, 0]];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      const edges = graph.get(v) ?? [];
      if (i < edges.length) {
        frame[1] = i + 1;
        const w = edges[i];
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v), index.get(w)));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(v)));
      }
      if (low.get(v) === index.get(v)) {
        const component = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
      }
    }
  }
  return components;
}

/** One concrete cycle through the component's first file, for the message. */
function oneCycle(graph, component) {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let p = previous.get(v); p !== null; p = previous.get(p)) path.push(p);
        return [...path.reverse(), start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const packagesDir = join(root, "packages");
const files = [];
for (const pkg of readdirSync(packagesDir)) {
  const src = join(packagesDir, pkg, "src");
  if (existsSync(src)) walk(src, files);
}
const graph = importGraph(files);
const cycles = stronglyConnected(graph);
const rel = (f) => relative(root, f);
for (const component of cycles) {
  console.error(`import cycle (${component.length} files): ${oneCycle(graph, component).map(rel).join(" → ")}`);
  for (const f of component.map(rel).sort()) console.error(`  ${f}`);
}
if (cycles.length > 0) {
  console.error(`check-cycles: ${cycles.length} import cycle(s) in packages/*/src`);
  process.exit(1);
}
console.log(`check-cycles: no import cycle (type-only imports aside) among ${files.length} files in packages/*/src`);
