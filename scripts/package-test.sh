#!/usr/bin/env bash
# Builds the .deb and installs it on this machine as an operator would:
# dpkg -i, the node started by systemd where systemd runs (else the unit's
# command as the annals user), /health answering 200 from the shipped
# config, every metric the Grafana dashboard draws present in /metrics,
# SIGHUP taken as a reload, then a clean stop and dpkg --purge.
# Needs root (or sudo); it leaves the machine as it found it.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
deb=$(./scripts/package.sh)
step() { printf '[package] %s\n' "$*"; }
fail() { printf '[package] FAILED: %s\n' "$*" >&2; exit 1; }

if dpkg-query -W -f='${Status}' annals 2>/dev/null | grep -q installed; then
  fail "an annals package is already installed here; remove it first (dpkg --purge annals)"
fi
# Fixed ports of the shipped config: refuse to start beside something else.
for port in 8645 60000 9025; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is in use on this machine; the shipped config needs it"
  fi
done

get() {  # get PATH -> "STATUS\nBODY" from 127.0.0.1:8645 (bash only, no curl)
  exec 3<>/dev/tcp/127.0.0.1/8645 || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
  local reply
  reply=$(cat <&3)
  exec 3<&-
  printf '%s\n' "$reply" | head -1 | cut -d' ' -f2
  printf '%s\n' "$reply" | sed '1,/^\r\{0,1\}$/d'
}

pid=""
cleanup() {
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl stop annals.service 2>/dev/null || true
  elif [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    $SUDO kill -TERM "$pid" 2>/dev/null || true
  fi
  $SUDO dpkg --purge annals >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "installing $deb"
$SUDO dpkg -i "$deb"
getent passwd annals >/dev/null || fail "postinst made no annals user"
[ -d /var/lib/annals ] || fail "no /var/lib/annals"
[ "$(stat -c %U /var/lib/annals)" = annals ] || fail "/var/lib/annals is not the annals user's"
[ -f /etc/annals/community.key ] || fail "postinst made no community key"
$SUDO setpriv --reuid annals --regid annals --init-groups /usr/bin/annals run --check --config /etc/annals/annals.toml ||
  fail "the shipped config does not pass annals run --check"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/annals.service || fail "systemd-analyze verify"
fi

if [ -d /run/systemd/system ]; then
  step "systemctl start annals"
  $SUDO systemctl start annals.service
else
  step "no systemd here: running the unit's command as the annals user"
  cd /var/lib/annals
  # setpriv execs the node itself, so signals reach it as systemd's would.
  $SUDO setpriv --reuid annals --regid annals --init-groups \
    /usr/bin/annals run --config /etc/annals/annals.toml >/tmp/annals-package-test.log 2>&1 &
  pid=$!
  cd - >/dev/null
fi

status=""
for _ in $(seq 1 150); do
  status=$(get /health 2>/dev/null | head -1) || true
  [ "$status" = 200 ] && break
  sleep 0.2
done
[ "$status" = 200 ] || { cat /tmp/annals-package-test.log 2>/dev/null || true; fail "/health did not answer 200 (got '${status}')"; }
step "/health answers 200"

metrics=$(get /metrics | tail -n +2)
missing=0
for m in $(grep -o 'annals_[a-z0-9_]*\|process_[a-z_]*' /usr/share/annals/grafana-dashboard.json | sed 's/_bucket$//' | sort -u); do
  if ! grep -q "^# HELP $m " <<<"$metrics"; then
    echo "[package] the dashboard draws $m, which /metrics does not serve" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || fail "dashboard metrics missing"
step "every metric of the Grafana dashboard is served"

if [ -z "$pid" ]; then
  $SUDO systemctl reload annals.service
else
  $SUDO kill -HUP "$pid"
  for _ in $(seq 1 50); do grep -q "reloaded" /tmp/annals-package-test.log && break; sleep 0.1; done
  grep -q "reloaded /etc/annals/annals.toml" /tmp/annals-package-test.log || fail "SIGHUP did not reload"
  kill -0 "$pid" || fail "the node did not survive SIGHUP"
  step "SIGHUP reloaded the config"
  $SUDO kill -TERM "$pid"
  code=0
  wait "$pid" || code=$?
  [ "$code" -eq 0 ] || fail "the node exited $code on SIGTERM"
  pid=""
  step "SIGTERM: exit 0"
fi
cleanup
trap - EXIT
getent passwd annals >/dev/null && fail "dpkg --purge left the annals user"
step "installed, served /health, purged: OK"
