#!/usr/bin/env bash
# The install route until the packages are on a registry: build the four library packages and pack
# each into DEST (default: tarballs/ at the repository root) as ekfac-ts-<name>-<version>.tgz, the exact
# files `pnpm publish` would upload (workspace: ranges replaced by versions). Install them into any
# project with `npm install /path/to/tarballs/*.tgz` (a package needs its siblings' tarballs beside it:
# nn needs linalg and autodiff, autodiff and ekfac need linalg).
#
#   scripts/pack-all.sh [DEST]      (the root script `pnpm pack:all` runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PNPM_VERSION=12.4.2
dest=${1:-$root/tarballs}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
export TURBO_TELEMETRY_DISABLED=1
npx -y "pnpm@${PNPM_VERSION}" exec turbo run build --output-logs=errors-only --filter='./packages/{linalg,autodiff,nn,ekfac}'
for lib in linalg autodiff nn ekfac; do
  rm -f "$dest"/ekfac-ts-"$lib"-*.tgz # one version per package in DEST
  npx -y "pnpm@${PNPM_VERSION}" -C "packages/$lib" pack --pack-destination "$dest" >/dev/null
done
ls -1 "$dest"/ekfac-ts-*.tgz
