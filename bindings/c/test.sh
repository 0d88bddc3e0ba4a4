#!/usr/bin/env bash
# Tests of the C ABI: the committed header matches cbindgen's output, the C test
# program (C99, warnings as errors) links against libdashpack.a and passes under
# valgrind, and the header compiles as C++. Called by scripts/test.
set -euo pipefail
cd "$(dirname "$0")"
target=${CARGO_TARGET_DIR:-../../target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --locked -p dashpack-c
test -f "$target/debug/libdashpack.a" && test -f "$target/debug/libdashpack.so"

cbindgen --config cbindgen.toml --crate dashpack-c --output "$work/dashpack.h" 2>/dev/null
if ! diff -u include/dashpack.h "$work/dashpack.h"; then
  echo "include/dashpack.h is out of date: regenerate it with cbindgen (see README)" >&2
  exit 1
fi

cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude tests/test_dashpack.c \
  "$target/debug/libdashpack.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$work/test_dashpack"
c++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only tests/cpp_header.cpp
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no \
  "$work/test_dashpack" "$PWD/../../fixtures" "$work"
