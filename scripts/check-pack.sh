#!/usr/bin/env bash
# Publishability check for the library packages, as a consumer outside the workspace sees them:
#   1. scripts/pack-all.sh: build and `pnpm pack` each library package (the README's install route)
#   2. inspect each tarball: manifest fields, no `workspace:` ranges, dist entry + .d.ts present, no tests
#   3. `npm publish --dry-run` each tarball: npm's manifest normalisation must have nothing to correct
#   4. `npm install` all tarballs into a scratch project in a temp dir (nothing from the workspace)
#   5. import every package with plain Node ESM and run a tiny computation
#   6. type-check a consumer .ts with the repo's tsc, NodeNext and Bundler resolution, skipLibCheck off
#   7. JSR: `deno publish --dry-run` of all four packages in a Deno workspace (siblings resolved)
#
#   scripts/check-pack.sh [WORK_DIR]     (default: a fresh temp dir)
# Ends with `check-pack: N passed, M failed`; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$(mktemp -d)}
rm -rf "$work"
mkdir -p "$work/tarballs" "$work/consumer"
work=$(cd "$work" && pwd)
PNPM_VERSION=12.4.2
libs=(linalg autodiff nn ekfac)
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { # check NAME CMD...
  local name=$1 log
  shift
  if log=$("$@" 2>&1); then ok "$name"; else fail "$name"; echo "$log" | tail -30; fi
}

check "pnpm pack:all (build + pnpm pack ${libs[*]})" bash scripts/pack-all.sh "$work/tarballs"

# Manifest and contents of each tarball.
check "tarballs: manifests and contents" node --input-type=module -e '
  import { execFileSync } from "node:child_process";
  import { readdirSync } from "node:fs";
  const dir = process.argv[1];
  const problems = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".tgz"))) {
    const list = execFileSync("tar", ["-tzf", `${dir}/${file}`], { encoding: "utf8" }).split("\n").filter(Boolean);
    const pkg = JSON.parse(execFileSync("tar", ["-xzOf", `${dir}/${file}`, "package/package.json"], { encoding: "utf8" }));
    const has = (p) => list.includes(`package/${p.replace(/^\.\//, "")}`);
    const where = `${file} (${pkg.name})`;
    if (pkg.type !== "module") problems.push(`${where}: "type" is not "module"`);
    if (pkg.sideEffects !== false) problems.push(`${where}: "sideEffects" is not false (tree-shaking)`);
    if (!pkg.license) problems.push(`${where}: no "license"`);
    const root = pkg.exports?.["."];
    if (!root || typeof root !== "object") problems.push(`${where}: no exports["."] conditions`);
    else {
      const keys = Object.keys(root);
      if (keys.indexOf("types") < 0 || keys.indexOf("types") > keys.indexOf("default")) problems.push(`${where}: exports["."].types must come before default`);
      for (const [cond, target] of Object.entries(root)) if (!has(target)) problems.push(`${where}: exports["."]["${cond}"] → ${target} is not in the tarball`);
    }
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [name, range] of Object.entries(pkg[field] ?? {})) {
        if (String(range).startsWith("workspace:")) problems.push(`${where}: ${field}.${name} is still ${range}`);
        if (!name.startsWith("@ekfac-ts/")) problems.push(`${where}: runtime dependency ${name} outside the project`);
      }
    }
    const tests = list.filter((p) => /\.test\.ts$|\/test\//.test(p));
    if (tests.length) problems.push(`${where}: ships tests: ${tests.slice(0, 3).join(", ")}`);
    console.log(`${where}: ${list.length} files, exports ${Object.keys(root ?? {}).join("/")}`);
  }
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' "$work/tarballs"

# npm's own publish path on the exact tarballs: it prints "npm warn publish …" for every manifest field it
# had to correct; the only warning allowed is the missing login that a dry run cannot avoid. Scoped
# packages publish as restricted unless the manifest says otherwise: publishConfig.access must be public.
for tarball in "$work"/tarballs/*.tgz; do
  check "npm publish --dry-run $(basename "$tarball")" bash -c '
    log=$(cd "$1" && npm publish --dry-run "$2" 2>&1) || { echo "$log"; exit 1; }
    if echo "$log" | grep -i "npm warn" | grep -vi "logged in"; then exit 1; fi
    echo "$log" | grep -q "public access (dry-run)" || { echo "$log" | tail -3; echo "not published with public access"; exit 1; }' _ "$work" "$tarball"
done

# A scratch consumer: only the tarballs, installed by npm (the registry is not needed: every
# dependency of a tarball is another tarball).
cd "$work/consumer"
cat >package.json <<'JSON'
{ "name": "ekfac-ts-consumer", "private": true, "type": "module" }
JSON
check "npm install the tarballs (offline)" npm install --offline --no-audit --no-fund --no-package-lock "$work"/tarballs/*.tgz

cat >plain.mjs <<'JS'
// Plain Node ESM consumer: default export conditions, no TypeScript, no loader.
import * as linalg from "@ekfac-ts/linalg";
import * as autodiff from "@ekfac-ts/autodiff";
import * as nn from "@ekfac-ts/nn";
import * as ekfac from "@ekfac-ts/ekfac";

const a = linalg.fromArray(2, 2, [1, 2, 3, 4]);
const c = linalg.matmul(a, a);
if (c.data.join() !== "7,10,15,22") throw new Error(`matmul gave ${c.data.join()}`);
const where = import.meta.resolve("@ekfac-ts/linalg");
if (!where.includes("/node_modules/@ekfac-ts/linalg/dist/")) throw new Error(`resolved to ${where}, not the installed dist`);
console.log(`plain node ESM: A·A = ${c.data.join(",")}; exports linalg ${Object.keys(linalg).length}, autodiff ${Object.keys(autodiff).length}, nn ${Object.keys(nn).length}, ekfac ${Object.keys(ekfac).length}`);
JS
check "plain Node ESM import + matmul" node plain.mjs

cat >consumer.ts <<'TS'
// A TypeScript consumer: the published declarations must type-check with strict settings.
import { fromArray, type Matrix, matmul, Rng } from "@ekfac-ts/linalg";
import type * as autodiff from "@ekfac-ts/autodiff";
import type * as nn from "@ekfac-ts/nn";
import type { CurvatureModel } from "@ekfac-ts/ekfac";

const a: Matrix = fromArray(2, 2, [1, 2, 3, 4], "float64");
const c: Matrix = matmul(a, a, { transB: true });
const x: number = new Rng(1).normal() + (c.data[0] ?? 0);
export type Surface = [typeof autodiff, typeof nn, CurvatureModel | null];
export const value: number = x;
TS
for mode in NodeNext Bundler; do
  module=$([ "$mode" = NodeNext ] && echo NodeNext || echo ESNext)
  cat >"tsconfig.$mode.json" <<JSON
{ "compilerOptions": { "module": "$module", "moduleResolution": "$mode", "target": "ES2022", "lib": ["ES2022"],
  "types": [], "strict": true, "noUncheckedIndexedAccess": true, "exactOptionalPropertyTypes": true,
  "skipLibCheck": false, "noEmit": true }, "files": ["consumer.ts"] }
JSON
  check "tsc consumer ($mode, skipLibCheck off)" node "$root/node_modules/typescript/bin/tsc" -p "tsconfig.$mode.json"
done

# JSR: `deno publish --dry-run` on copies of the four packages in a Deno workspace, so that each
# package's `jsr:@ekfac-ts/<sibling>@^<version>` import resolves to the sibling beside it. No
# package.json is copied, which keeps Deno's npm/workspace handling out of the way. The dry run checks
# jsr.json, the file list and JSR's "no slow types" rule (explicit types on the public API).
# JSR_SLOW_TYPES_ALLOWED names packages dry-run with --allow-slow-types instead (still type-checked and
# resolved); none today: every public function of the four packages has an explicit return type.
# Add a name only while its package cannot pass; an empty list runs one strict dry run of the whole workspace.
JSR_SLOW_TYPES_ALLOWED=()
mkdir -p "$work/jsr"
for lib in "${libs[@]}"; do
  mkdir -p "$work/jsr/$lib"
  cp -r "$root/packages/$lib/src" "$root/packages/$lib/jsr.json" "$root/packages/$lib/README.md" "$root/packages/$lib/LICENSE" "$work/jsr/$lib/"
done
lenient=" ${JSR_SLOW_TYPES_ALLOWED[*]} "
strict=()
for lib in "${libs[@]}"; do [[ $lenient == *" $lib "* ]] || strict+=("$lib"); done
deno_publish() { # deno_publish DIR [FLAGS...]: dry-run the workspace (DIR = the root) or one member
  local dir=$1
  shift
  (cd "$dir" && NO_COLOR=1 npx -y deno@2.9.6 publish --dry-run --allow-dirty --no-provenance "$@")
}
if [ "${#strict[@]}" -eq "${#libs[@]}" ]; then
  printf '{ "workspace": [%s] }\n' "$(printf '"./%s",' "${libs[@]}" | sed 's/,$//')" >"$work/jsr/deno.json"
  check "jsr: deno publish --dry-run (${libs[*]})" deno_publish "$work/jsr"
else
  # The strict members as one workspace (their own siblings beside them), then each lenient package
  # inside the full workspace, dry-run from its own folder (which publishes that member only).
  mkdir -p "$work/jsr-strict"
  for lib in "${strict[@]}"; do cp -r "$work/jsr/$lib" "$work/jsr-strict/"; done
  printf '{ "workspace": [%s] }\n' "$(printf '"./%s",' "${strict[@]}" | sed 's/,$//')" >"$work/jsr-strict/deno.json"
  printf '{ "workspace": [%s] }\n' "$(printf '"./%s",' "${libs[@]}" | sed 's/,$//')" >"$work/jsr/deno.json"
  check "jsr: deno publish --dry-run (${strict[*]})" deno_publish "$work/jsr-strict"
  for lib in ${JSR_SLOW_TYPES_ALLOWED[@]+"${JSR_SLOW_TYPES_ALLOWED[@]}"}; do
    check "jsr: deno publish --dry-run --allow-slow-types ($lib; see JSR_SLOW_TYPES_ALLOWED)" deno_publish "$work/jsr/$lib" --allow-slow-types
  done
fi

echo "check-pack: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
