#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, tests/fuzz/) and runs
# each for SECONDS (default 60) from its seed corpus, two at a time.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# New inputs that reach new code stay in build-fuzz/fuzz-work/<target>/corpus;
# a crash, hang or leak leaves its input there as crash-*, timeout-*, leak-*,
# oom-* and the run fails. Each finding becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-60}
shift || true

./scripts/setup.sh >/dev/null
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
build="${ANNALS_FUZZ_BUILD_DIR:-$root/build-fuzz}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DANNALS_FUZZ=ON -DANNALS_BUILD_TESTS=OFF -DANNALS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

work="$build/fuzz-work"
mkdir -p "$work"
run_one() {
  local target=$1 seconds=$2 build=$3 work=$4 root=$5
  local dir="$work/$target"
  mkdir -p "$dir/corpus"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: growth
  # without bound is a finding too.
  if "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=262144 -print_final_stats=1 -artifact_prefix="$dir/" \
      "$dir/corpus" "$root/tests/fuzz/corpus/$target" >"$dir/log" 2>&1; then
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo 0)
    echo "$target: clean, $execs execs in $seconds s"
  else
    echo "$target: FAILED, see $dir/log and $dir/{crash,timeout,leak,oom}-*"
    grep -m3 -E 'ERROR|SUMMARY' "$dir/log" | sed 's/^/    /' || true
    return 1
  fi
}
export -f run_one
printf '%s\n' "${targets[@]}" \
  | xargs -P "${ANNALS_FUZZ_JOBS:-$(nproc)}" -I{} bash -c \
      'run_one "$@"' _ {} "$seconds" "$build" "$work" "$root"
