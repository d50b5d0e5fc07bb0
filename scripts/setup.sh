#!/usr/bin/env bash
# Installs the Debian 12 packages annals needs, then the npm packages of the
# js-waku interop peer (tests/js). Idempotent: when everything is present it
# only runs dpkg-query and a timestamp check (well under a second).
set -euo pipefail
did=0
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libcaf-dev
  libtorrent-rasterbar-dev libboost-dev libssl-dev
  libprotobuf-dev protobuf-compiler
  libsecp256k1-dev
  librocksdb-dev
  libcrypto++-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev
  catch2
  # tests/net/test_interop_independent_client.cpp: an independent BitTorrent
  # client and a tracker to introduce it to annals on 127.0.0.1
  aria2 opentracker
  # annals bench load --report: plots
  gnuplot-nox
  # the status page's browser test (tests/js/status-page.mjs, playwright-core)
  chromium
  # annals bench net: the network-namespace testbed (ip, tc; nft for loss
  # and partitions)
  iproute2 nftables
  # DNS discovery (EIP-1459): a DNS server the tests and the testbed start
  # themselves to serve an enrtree (dnsmasq-base: the binary, no service)
  dnsmasq-base
  # scripts/fuzz.sh: libFuzzer with ASan and UBSan
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The opentracker package enables a system-wide tracker on port 6969; the
  # interop test starts its own on 127.0.0.1, so keep that one off.
  if [[ " ${missing[*]} " == *" opentracker "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now opentracker
  fi
  echo "setup: apt packages done"
  did=1
fi

# tests/js: the js-waku peer and the npm discv5 node the interop tests run against. Its npm
# packages are pinned by tests/js/package-lock.json; `npm ci` reinstalls them
# when node_modules is missing or older than the lock file. They need Node.js
# >= 20 (Debian 12's own nodejs is 18, too old; the machine image ships 20).
js_dir=$root/tests/js
if [ -f "$js_dir/package-lock.json" ]; then
  node_major=0
  if command -v node >/dev/null 2>&1; then
    node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  fi
  [[ $node_major =~ ^[0-9]+$ ]] || node_major=0
  if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
    echo "setup: ERROR: Node.js >= 20 with npm is required for the js-waku interop" >&2
    echo "setup:        tests (tests/js); found: $(command -v node >/dev/null 2>&1 && node --version || echo 'no node')," >&2
    echo "setup:        npm: $(command -v npm || echo 'missing'). Debian 12's nodejs (18) is too old." >&2
    exit 1
  fi
  if [ ! -f "$js_dir/node_modules/.package-lock.json" ] \
     || [ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]; then
    # No install scripts: @chainsafe/discv5's bcrypto would compile a native
    # addon; the tests run its pure-JS backend (NODE_BACKEND=js) instead.
    echo "setup: npm ci in tests/js (js-waku and discv5 interop peers)"
    (cd "$js_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    did=1
  fi
fi
if [ "$did" -eq 1 ]; then echo "setup: done"; fi
