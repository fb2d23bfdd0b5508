#!/usr/bin/env node
// A tiny static server for the browser checks (Node built-ins + the repo's own TypeScript only).
//
//   node scripts/browser/serve.mjs [--port 0] [--mount /prefix=DIR ...]
//
// Serves the repository root on 127.0.0.1 and prints `listening http://127.0.0.1:PORT/` once ready
// (port 0 picks a free one). Pages get an import map in place of their `<!-- importmap -->` comment:
// `@ekfac-ts/<pkg>` → the package's BUILT entry (`dist/index.js`, what a browser user loads), plus
// fast-check and its dependencies by their ESM exports. `.ts` files (the portable test cases only ever
// need this) are transpiled on request with TypeScript's `transpileModule`, without type checking:
// the repo typecheck covers them. `--mount /build=DIR` serves DIR under /build (generated data).
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
let port = 0;
const mounts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--port") port = Number(args[++i]);
  else if (args[i] === "--mount") {
    const [prefix, dir] = String(args[++i]).split("=");
    mounts.push({ prefix: `${prefix.replace(/\/$/, "")}/`, dir: resolve(dir) });
  } else throw new Error(`serve.mjs: unknown argument ${args[i]}`);
}

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".ts": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

function urlOf(file) {
  const rel = relative(root, realpathSync(file));
  if (rel.startsWith("..")) throw new Error(`serve.mjs: ${file} lies outside the repository`);
  return `/${rel.split(sep).join("/")}`;
}

/** The "import" target of one exports entry (string, or nested condition objects). */
function importTarget(entry) {
  if (typeof entry === "string") return entry;
  if (entry === null || typeof entry !== "object") return null;
  for (const key of ["import", "browser", "default"]) {
    if (key in entry) {
      const t = importTarget(entry[key]);
      if (t !== null) return t;
    }
  }
  return null;
}

/** Adds `name` and each of its subpath exports (then its dependencies) to `imports`. */
function mapPackage(imports, name, fromDir) {
  if (name in imports) return;
  const pkgJson = createRequire(join(fromDir, "noop.js")).resolve(`${name}/package.json`);
  const dir = dirname(pkgJson);
  const pkg = JSON.parse(readFileSync(pkgJson, "utf8"));
  const exportsField =
    typeof pkg.exports === "object" && pkg.exports !== null && !Array.isArray(pkg.exports)
      ? pkg.exports
      : { ".": pkg.exports ?? pkg.module ?? pkg.main };
  const entries = Object.keys(exportsField).some((k) => k.startsWith(".")) ? exportsField : { ".": exportsField };
  for (const [sub, entry] of Object.entries(entries)) {
    if (sub.includes("*") || sub.endsWith(".json")) continue;
    const target = importTarget(entry);
    if (target === null) continue;
    imports[sub === "." ? name : `${name}/${sub.slice(2)}`] = urlOf(join(dir, target));
  }
  for (const dep of Object.keys(pkg.dependencies ?? {})) mapPackage(imports, dep, dir);
}

function importMap() {
  const imports = {};
  for (const dir of readdirSync(join(root, "packages"))) {
    const file = join(root, "packages", dir, "package.json");
    try {
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      if (pkg.private) continue;
      const target = pkg.exports?.["."]?.default;
      if (typeof target === "string") imports[pkg.name] = `/packages/${dir}/${target.replace(/^\.\//, "")}`;
    } catch {
      // not a package directory
    }
  }
  mapPackage(imports, "fast-check", root);
  return { imports };
}

function transpile(source, fileName) {
  return ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true,
    },
  }).outputText;
}

function fileFor(pathname) {
  for (const { prefix, dir } of mounts) {
    if (pathname.startsWith(prefix)) return { base: dir, file: resolve(dir, `.${pathname.slice(prefix.length - 1)}`) };
  }
  return { base: root, file: resolve(root, `.${pathname}`) };
}

const server = createServer((req, res) => {
  const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
  const { base, file } = fileFor(pathname);
  if (file !== base && !file.startsWith(base + sep)) {
    res.writeHead(403).end("outside the served directory");
    return;
  }
  let body;
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
    body = readFileSync(file);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${pathname}`);
    return;
  }
  const ext = extname(file);
  try {
    if (ext === ".ts") body = transpile(body.toString("utf8"), file);
    else if (ext === ".html") {
      body = body
        .toString("utf8")
        .replace("<!-- importmap -->", `<script type="importmap">${JSON.stringify(importMap())}</script>`);
    }
  } catch (e) {
    res.writeHead(500, { "content-type": "text/plain" }).end(String(e?.stack ?? e));
    return;
  }
  res
    .writeHead(200, { "content-type": types[ext] ?? "application/octet-stream", "cache-control": "no-store" })
    .end(body);
});

server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening http://127.0.0.1:${typeof address === "object" && address ? address.port : port}/`);
});
