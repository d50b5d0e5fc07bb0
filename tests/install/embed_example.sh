#!/usr/bin/env bash
# The embed_node_example test: installs a build into BUILD_DIR/staging, builds
# examples/ against it as a separate CMake project, runs embed_node (it must
# finish and shut down cleanly within 60 s) and checks annals.pc: pkg-config
# must succeed, the example must compile with its --cflags and link with its
# --libs.
# Usage: embed_example.sh BUILD_DIR SOURCE_DIR GENERATOR LIBDIR [CMAKE_ARG...]
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR GENERATOR LIBDIR [CMAKE_ARG...]" >&2
  exit 2
fi
build=$1 src=$2 generator=$3 libdir=$4
shift 4
staging=$build/staging
examples=$build/examples-build
rm -rf "$staging" "$examples"

echo "== cmake --install $build --prefix $staging"
cmake --install "$build" --prefix "$staging" >/dev/null

echo "== only the public API is installed"
private=$(find "$staging/include" -type f ! -path "$staging/include/annals/*.hpp" -o -type f -path "$staging/include/annals/*/*" | sort)
if [ -n "$private" ]; then
  echo "installed beside include/annals/*.hpp:" >&2
  echo "$private" >&2
  exit 1
fi
ls "$staging/include/annals"

echo "== examples/ against $staging"
cmake -S "$src/examples" -B "$examples" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$staging" "$@" >/dev/null
cmake --build "$examples"

echo "== pkg-config --cflags --libs annals"
export PKG_CONFIG_PATH=$staging/$libdir/pkgconfig
if ! flags=$(pkg-config --cflags --libs annals); then
  echo "pkg-config --cflags --libs annals failed" >&2
  exit 1
fi
echo "$flags"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$examples/CMakeCache.txt")
# A sanitizer build's libraries need its runtimes at link time too.
link_flags=$(sed -n 's/^CMAKE_EXE_LINKER_FLAGS:[A-Z]*=//p' "$examples/CMakeCache.txt")
# Cflags: the example compiles (syntax only: 3 s, not 8); Libs: its object
# file, built above by CMake, links.
# shellcheck disable=SC2046 # pkg-config's output is a list of words
"$cxx" -std=c++17 $(pkg-config --cflags annals) -fsyntax-only "$src/examples/embed_node.cpp"
# shellcheck disable=SC2046
# shellcheck disable=SC2086 # the linker flags are a list of words
"$cxx" -o "$examples/embed_node_pkgconfig" $link_flags \
  "$examples/CMakeFiles/embed_node.dir/embed_node.cpp.o" $(pkg-config --libs annals)
echo "compiled embed_node.cpp with --cflags, linked it with --libs"

echo "== embed_node"
status=0
timeout --kill-after=5 60 "$examples/embed_node" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "embed_node did not finish within 60 s" >&2
fi
exit "$status"
