#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-asan/ (ccache keeps it quick after the first time) and runs the whole
# test suite there: a read out of bounds, a use after free, a leak or
# undefined behaviour fails the test that caused it.
# Usage: scripts/sanitize.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/setup.sh >/dev/null
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=true
build="${ANNALS_ASAN_BUILD_DIR:-$root/build-asan}"
# -O1 -g1: instrumented -O2 builds of the CAF actors take several times as
# long to compile, for no finding the sanitizers would miss.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DANNALS_SANITIZE=address,undefined \
  -DANNALS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

# Child processes (the annals binary the CLI tests start) inherit these.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/ubsan.supp}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
cd "$build"
# A test that missed a deadline because instrumented code runs several times
# slower on a loaded machine gets one more try (ctest prints both runs); a
# sanitizer finding fails the run even when the retry passed.
# scripts/test.sh never retries.
log="$build/sanitize-ctest.log"
status=0
ctest --output-on-failure -j "$(nproc)" --repeat until-pass:2 "$@" 2>&1 | tee "$log" || status=$?
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
  echo "sanitize: a sanitizer reported a finding (see above), even if a retry passed" >&2
  exit 1
fi
exit "$status"
