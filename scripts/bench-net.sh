#!/usr/bin/env bash
# A short `annals bench net` (CI's): 6 hosts of a network-namespace testbed,
# the steady, partition and owner-offline scenarios with peer lists, then
# steady and owner-offline again with no lists, the nodes finding each other
# by discv5 from one bootstrap record; well under 10 minutes.
# Needs root; fails saying why when namespaces cannot be made. The report
# (JSON, CSV, plots) goes to build/bench-net/.
# Usage: scripts/bench-net.sh [more bench net options]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh annals >/dev/null
out="${ANNALS_BUILD_DIR:-build}/bench-net"
mkdir -p "$out"
build="${ANNALS_BUILD_DIR:-build}"
"$build/annals" bench net --scenario steady,partition,owner-offline --hosts 6 \
  --messages 3000 --rate 100 --partition-seconds 20 --interval 5 --seconds 240 \
  --report "$out" "$@" >"$out/result.json"
"$build/annals" bench net --scenario steady,owner-offline --hosts 6 --messages 3000 --rate 100 \
  --interval 5 --seconds 240 --discovery discv5 "$@" >"$out/result-discv5.json"
echo "bench net: passed; $out/result.json, $out/result-discv5.json"
