#!/usr/bin/env bash
# Self-test of the js-waku interop peer: two waku-peer.mjs instances on
# loopback, once per muxer. A listens with a fixed secp256k1 key, expects one
# message and echoes it; B dials A, sends "hi" and expects the echo.
# Exits non-zero on the first failure. Every process is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")"

KEY=53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb
WANT_ID=16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY
NODE=(node --import ./polyfill.mjs waku-peer.mjs)

if [ ! -d node_modules ]; then
  echo "selftest: tests/js/node_modules missing; run scripts/setup.sh (npm ci)" >&2
  exit 1
fi

tmp=$(mktemp -d)
a_pid=""
cleanup() {
  if [ -n "$a_pid" ]; then kill "$a_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

run_case() {
  local mux=$1 start=$SECONDS
  local a_out=$tmp/a-$mux.out b_out=$tmp/b-$mux.out
  local t0 t1
  t0=$(date +%s%N)
  MUXER=$mux LISTEN=0 KEY=$KEY EXPECT=1 ECHO=1 TIMEOUT_MS=20000 \
    timeout 30 "${NODE[@]}" >"$a_out" 2>"$tmp/a-$mux.err" &
  a_pid=$!
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(grep -m1 '^LISTEN /ip4/127.0.0.1/tcp/' "$a_out" 2>/dev/null | cut -d' ' -f2 || true)
    [ -n "$addr" ] && break
    if ! kill -0 "$a_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "selftest[$mux]: FAIL: peer A printed no LISTEN line" >&2
    cat "$a_out" "$tmp/a-$mux.err" >&2
    return 1
  fi
  if ! grep -qx "PEERID $WANT_ID" "$a_out"; then
    echo "selftest[$mux]: FAIL: unexpected peer id for KEY (want $WANT_ID)" >&2
    cat "$a_out" >&2
    return 1
  fi
  local b_rc=0 a_rc=0
  MUXER=$mux DIAL=$addr SEND=hi EXPECT=1 TIMEOUT_MS=20000 \
    timeout 30 "${NODE[@]}" >"$b_out" 2>"$tmp/b-$mux.err" || b_rc=$?
  wait "$a_pid" || a_rc=$?
  a_pid=""
  t1=$(date +%s%N)
  local ms=$(( (t1 - t0) / 1000000 ))
  if [ "$a_rc" -ne 0 ] || [ "$b_rc" -ne 0 ] \
     || ! grep -q '^RECV /waku/2/rs/16/32 /interop/1/test/proto "hi" ts ' "$a_out" \
     || ! grep -q '^RECV /waku/2/rs/16/32 /interop/1/test/proto "echo:hi" ts ' "$b_out" \
     || ! grep -qx DONE "$a_out" || ! grep -qx DONE "$b_out"; then
    echo "selftest[$mux]: FAIL (A rc=$a_rc, B rc=$b_rc, ${ms} ms)" >&2
    echo "--- A stdout"; cat "$a_out"; echo "--- A stderr"; cat "$tmp/a-$mux.err"
    echo "--- B stdout"; cat "$b_out"; echo "--- B stderr"; cat "$tmp/b-$mux.err"
    return 1
  fi
  local used
  used=$(grep -m1 '^CONNECTION ' "$b_out" | cut -d' ' -f4)
  echo "selftest[$mux]: ok in ${ms} ms (negotiated muxer $used)"
}

run_case mplex
run_case yamux
echo "selftest: 2 passed, 0 failed"
