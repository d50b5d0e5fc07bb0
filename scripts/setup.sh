#!/usr/bin/env bash
# Installs the Debian 12 packages annals needs. Idempotent: when everything is
# present it only runs dpkg-query and exits (well under a second).
set -euo pipefail

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
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

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
echo "setup: done"
