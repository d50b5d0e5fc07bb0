#!/usr/bin/env bash
# Sets up the machine, builds annals and runs `annals demo`; arguments pass
# through (scripts/demo.sh --messages 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh annals
exec "${ANNALS_BUILD_DIR:-build}/annals" demo "$@"
