#!/usr/bin/env bash
# Installs what is missing, configures (Ninja, ccache) and builds.
# Usage: scripts/build.sh [target...]   (default: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/setup.sh

# CI builds a fresh clone in another folder; these keep absolute paths out
# of ccache's hash so the cache still hits there.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
build="${ANNALS_BUILD_DIR:-$root/build}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
