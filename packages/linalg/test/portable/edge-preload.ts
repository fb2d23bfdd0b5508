/**
 * Preload for the "edge" portable run (Deno, zero permissions, built dist): removes the Node-only
 * globals Deno provides for compatibility, so the libraries see what an edge isolate (Cloudflare
 * Workers, Vercel Edge) offers: ECMAScript plus web globals. Any library reference to `process`,
 * `Buffer`, `require` and the like then throws a ReferenceError in the cases, and any file, network or
 * environment access is already denied because the run grants no permissions.
 */
const nodeOnly = [
  "process",
  "Buffer",
  "global",
  "require",
  "module",
  "exports",
  "setImmediate",
  "clearImmediate",
  "__dirname",
  "__filename",
];
const g = globalThis as Record<string, unknown>;
for (const name of nodeOnly) {
  if (name in g) delete g[name];
}
if (nodeOnly.some((name) => name in g)) throw new Error("edge-preload: a Node global could not be removed");
