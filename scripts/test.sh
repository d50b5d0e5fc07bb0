#!/usr/bin/env bash
# Sets up the machine, builds annals and runs every test.
# Usage: scripts/test.sh [ctest args, e.g. -R archive]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd "${ANNALS_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
