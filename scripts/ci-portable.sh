#!/usr/bin/env bash
# Portable CI: proves the library packages (linalg, autodiff, nn, ekfac) run on every runtime we claim
# and are publishable. Self-contained; called by .ci/run after install.
#
#   scripts/ci-portable.sh OUT_DIR
#
# One suite, many runtimes: packages/*/test/portable/cases.ts hold the cases (harness.ts explains), run by
#   node      Node 20, node:test via tsx, against the built dist (plain ESM resolution, no source condition)
#   deno      Deno, from the TypeScript sources (type-checked by Deno's bundled tsc), zero permissions
#   edge      Deno on the built dist with zero permissions and Node's compatibility globals deleted
#             (process, Buffer, require, …): what an edge isolate offers — ECMAScript + web APIs, no I/O
#   bun       Bun, from sources (the @ekfac-ts/source export condition)
#   bun-dist  Bun, against the built dist
#   chromium  headless Chromium, the built dist via an import map (scripts/browser/portable.html)
#   train     headless Chromium trains the MNIST classifier in scripts/browser/train.html with SGD, Adam,
#             KFAC and EKFAC, on the digits and on the synthetic fallback; a screenshot of each run is
#             saved as OUT_DIR/portable/browser/train-{digits,synthetic}.png
#   pack      scripts/check-pack.sh: pnpm pack:all → npm publish --dry-run → npm install the tarballs →
#             plain Node ESM + tsc consumers → JSR deno publish --dry-run of all four packages
#   docs      the README's `pnpm api-docs`: TypeDoc without warnings, every export of the packages in
#             typedoc.json's packagesRequiringDocumentation documented
# Prints `portable <runtime>: N passed, M failed` per runtime, writes OUT_DIR/portable-counts.txt
# (`<runtime> <passed> <failed>` lines) and OUT_DIR/portable/* logs; exits non-zero on any failure.
# Network: the npm registry (npx pins, Deno's npm: fast-check) and apt for Chromium if it is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
logs=$outdir/portable
rm -rf "$logs"
mkdir -p "$logs/browser"
counts=$outdir/portable-counts.txt
: >"$counts"

export TURBO_TELEMETRY_DISABLED=1 NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 DO_NOT_TRACK=1 # not FORCE_COLOR=0: Deno treats it as "force"
PNPM_VERSION=12.4.2 DENO_VERSION=2.9.6 BUN_VERSION=1.4.4
# Arrays, not functions, so that `timeout` can run them.
pnpm=(npx -y "pnpm@${PNPM_VERSION}")
deno=(npx -y "deno@${DENO_VERSION}")
bun=(npx -y "bun@${BUN_VERSION}")
nocolor() { sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g'; }
now_ms() { date +%s%3N; }

any_failed=0
timings=()
record() { # record RUNTIME PASSED FAILED RC STARTED_MS: one counts line; a non-zero rc is never a pass
  local name=$1 p=${2:-0} f=${3:-0} rc=$4 started=$5
  [ -n "$p" ] || p=0
  [ -n "$f" ] || f=0
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi           # crashed before/after reporting
  if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi # nothing ran: not a pass
  local secs
  secs=$(awk -v ms=$(($(now_ms) - started)) 'BEGIN { printf "%.1f", ms / 1000 }')
  echo "portable ${name}: ${p} passed, ${f} failed"
  echo "${name} ${p} ${f}" >>"$counts"
  timings+=("$(printf '%-9s %6s s' "$name" "$secs")")
  [ "$f" -eq 0 ] || any_failed=1
}
step() { echo; echo "=== portable: $* ($(date +%T))"; }
run_logged() { # run_logged LOG TIMEOUT CMD...: tee output to LOG, return the command's status
  local log=$1 limit=$2
  shift 2
  timeout "$limit" "$@" 2>&1 | nocolor | tee "$log"
  return "${PIPESTATUS[0]}"
}

portable=(packages/*/test/portable/*.test.ts)
suites=()
for f in packages/*/test/portable/cases.ts; do
  p=${f#packages/}
  suites+=("${p%%/*}")
done
echo "portable: suites ${suites[*]}; runner files ${portable[*]}"
t_all=$(now_ms)

step "build (turbo; cached when nothing changed)"
t=$(now_ms)
if ! "${pnpm[@]}" exec turbo run build --output-logs=errors-only >"$logs/build.txt" 2>&1; then
  cat "$logs/build.txt"
  record build 0 1 1 "$t"
else
  echo "build ok ($(grep -E 'Tasks:|Cached:' "$logs/build.txt" | tr -s ' ' | paste -sd' '))"
  timings+=("$(printf '%-9s %6s s' build "$(awk -v ms=$(($(now_ms) - t)) 'BEGIN { printf "%.1f", ms / 1000 }')")")
fi

step "node: node:test via tsx, built dist"
t=$(now_ms)
run_logged "$logs/node.txt" 180 node --import tsx --test --test-reporter=tap "${portable[@]}" >/dev/null
rc=$?
record node "$(sed -n 's/^# pass //p' "$logs/node.txt")" "$(sed -n 's/^# fail //p' "$logs/node.txt")" "$rc" "$t"
grep -E '^not ok' "$logs/node.txt" || true

deno_summary() { sed -nE 's/^(ok|FAILED) \| ([0-9]+) passed[^|]*\| ([0-9]+) failed.*/\2 \3/p' "$1" | tail -1; }

step "deno: sources, type-checked, zero permissions"
t=$(now_ms)
run_logged "$logs/deno.txt" 180 "${deno[@]}" test --no-config --no-prompt --import-map=deno.import-map.json "${portable[@]}" >/dev/null
rc=$?
read -r p f < <(deno_summary "$logs/deno.txt"; echo)
record deno "${p:-0}" "${f:-0}" "$rc" "$t"
grep -E 'FAILED|error' "$logs/deno.txt" | head -20 || true

step "edge: Deno on the built dist, zero permissions, Node globals removed"
t=$(now_ms)
# The dist import map is derived from deno.import-map.json (one list of packages).
node -e '
  const [src, dst] = process.argv.slice(1);
  const { imports } = JSON.parse(require("fs").readFileSync(src, "utf8"));
  const out = {};
  for (const [k, v] of Object.entries(imports)) out[k] = v.startsWith("./") ? require("url").pathToFileURL(v.replace(/\/src\/index\.ts$/, "/dist/index.js")).href : v;
  require("fs").writeFileSync(dst, JSON.stringify({ imports: out }, null, 2));
' deno.import-map.json "$logs/deno.dist.import-map.json"
run_logged "$logs/edge.txt" 180 "${deno[@]}" test --no-config --no-prompt --no-check --import-map="$logs/deno.dist.import-map.json" \
  --preload=packages/linalg/test/portable/edge-preload.ts "${portable[@]}" >/dev/null
rc=$?
read -r p f < <(deno_summary "$logs/edge.txt"; echo)
record edge "${p:-0}" "${f:-0}" "$rc" "$t"
grep -E 'FAILED|error' "$logs/edge.txt" | head -20 || true

bun_counts() { echo "$(sed -nE 's/^ *([0-9]+) pass$/\1/p' "$1" | tail -1) $(sed -nE 's/^ *([0-9]+) fail$/\1/p' "$1" | tail -1)"; }

step "bun: sources via the @ekfac-ts/source condition"
t=$(now_ms)
run_logged "$logs/bun.txt" 180 "${bun[@]}" test --conditions=@ekfac-ts/source "${portable[@]/#/./}" >/dev/null
rc=$?
read -r p f < <(bun_counts "$logs/bun.txt")
record bun "${p:-0}" "${f:-0}" "$rc" "$t"
grep -E '^\(fail\)' "$logs/bun.txt" || true

step "bun-dist: built dist"
t=$(now_ms)
run_logged "$logs/bun-dist.txt" 180 "${bun[@]}" test "${portable[@]/#/./}" >/dev/null
rc=$?
read -r p f < <(bun_counts "$logs/bun-dist.txt")
record bun-dist "${p:-0}" "${f:-0}" "$rc" "$t"
grep -E '^\(fail\)' "$logs/bun-dist.txt" || true

step "chromium: portable cases and the training page on the built dist"
t=$(now_ms)
chrome=$(command -v chromium-headless-shell || true)
if [ -z "$chrome" ] && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "installing chromium-headless-shell with apt-get (about a minute)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell; } >"$logs/apt.txt" 2>&1 || tail -5 "$logs/apt.txt"
  chrome=$(command -v chromium-headless-shell || true)
fi
if [ -z "$chrome" ]; then
  echo "no chromium-headless-shell and it could not be installed"
  record chromium 0 1 1 "$t"
  record train 0 1 1 "$t"
else
  node scripts/browser/make-digits.mjs "$logs/browser/digits.json" 100 || echo "no MNIST subset: the digits run of the training page will fail"
  node scripts/browser/serve.mjs --mount "/build=$logs/browser" >"$logs/serve.txt" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true' EXIT
  url=
  for _ in $(seq 50); do
    url=$(sed -n 's/^listening //p' "$logs/serve.txt")
    [ -n "$url" ] && break
    sleep 0.1
  done
  dump_dom() { # dump_dom URL [FLAGS...]: the page's DOM once its (virtual) time budget is spent
    local page=$1
    shift
    timeout 180 "$chrome" --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
      --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir="$(mktemp -d)" \
      --virtual-time-budget=120000 "$@" --dump-dom "$page" 2>>"$logs/chromium-stderr.txt"
  }
  suite_list=$(IFS=,; echo "${suites[*]}")
  dump_dom "${url}scripts/browser/portable.html?suites=${suite_list}" >"$logs/chromium.html"
  rc=$?
  sed -n '/<pre id="log">/,/<\/pre>/p' "$logs/chromium.html" | grep -E 'FAIL' -A3 || true
  read -r p f < <(sed -nE 's/.*PORTABLE passed=([0-9]+) failed=([0-9]+).*/\1 \2/p' "$logs/chromium.html"; echo)
  [ -n "${p:-}" ] || { rc=1; echo "chromium: no verdict in the page (see $logs/chromium.html)"; }
  record chromium "${p:-0}" "${f:-0}" "$rc" "$t"

  # The training page, once per data set: every optimizer trains through Optimizer.step(); the DOM
  # and a screenshot are taken in one Chromium run; check-train.mjs asserts the verdict, the drawn
  # curves and the held-out accuracy (> 0.5 on digits, > chance 0.1 on the synthetic fallback).
  t=$(now_ms)
  tp=0 tf=0
  for mode in "digits|run=all|0.5" "synthetic|run=all&synthetic=1|0.1"; do
    IFS='|' read -r data query min <<<"$mode"
    shot=$logs/browser/train-$data.png
    rm -f "$shot"
    dump_dom "${url}scripts/browser/train.html?${query}" --window-size=820,1000 --screenshot="$shot" >"$logs/train-$data.html"
    rc=$?
    if [ "$rc" -eq 0 ] && node scripts/browser/check-train.mjs "$logs/train-$data.html" "$shot" "$data" "$min"; then
      tp=$((tp + 1))
    else
      echo "train page ($data): chromium exited with $rc (DOM in $logs/train-$data.html)"
      tf=$((tf + 1))
    fi
  done
  record train "$tp" "$tf" 0 "$t"
  kill "$server" 2>/dev/null || true
fi

step "pack: pnpm pack:all → npm publish --dry-run → npm install the tarballs → consumers → JSR dry run"
t=$(now_ms)
run_logged "$logs/pack.txt" 480 bash scripts/check-pack.sh "$logs/pack" >/dev/null
rc=$?
read -r p f < <(sed -nE 's/^check-pack: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$logs/pack.txt"; echo)
record pack "${p:-0}" "${f:-0}" "$rc" "$t"
grep -E '^FAILED' -A5 "$logs/pack.txt" || true

step "docs: pnpm api-docs (TypeDoc; undocumented exports fail it)"
t=$(now_ms)
rm -rf docs
run_logged "$logs/docs.txt" 180 "${pnpm[@]}" api-docs >/dev/null
rc=$?
# typedoc can stop before rendering (e.g. a validation warning promoted to an error) yet exit 0.
[ -f docs/index.html ] || { echo "docs: no docs/index.html was written"; [ "$rc" -ne 0 ] || rc=1; }
if [ "$rc" -eq 0 ]; then record docs 1 0 0 "$t"; else tail -20 "$logs/docs.txt"; record docs 0 1 "$rc" "$t"; fi

echo
echo "portable timings:"
printf '  %s\n' "${timings[@]}"
awk -v ms=$(($(now_ms) - t_all)) 'BEGIN { printf "  total     %6.1f s\n", ms / 1000 }'
echo "portable counts → $counts"
exit "$any_failed"
