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
# A program built against the previous, smaller DashpackOptions (its own declarations,
# not dashpack.h): served, never written past, and a larger struct refused.
cc -std=c99 -Wall -Wextra -Werror -pedantic tests/previous_layout.c \
  "$target/debug/libdashpack.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$work/previous_layout"
valgrind --quiet --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no \
  "$work/previous_layout" "$PWD/../../fixtures" "$work"

# The install a C pipeline uses: `cargo cinstall` into a prefix, then the same test
# program built with pkg-config alone, against the shared and the static library.
command -v cargo-cinstall >/dev/null || { echo "cargo-c missing: scripts/test installs it" >&2; exit 1; }
cargo cinstall --locked --debug --prefix "$work/prefix" >/dev/null
# The library directory is the platform's (lib/x86_64-linux-gnu on Debian).
pc=$(find "$work/prefix" -name dashpack.pc)
export PKG_CONFIG_PATH=${pc%/dashpack.pc}
libdir=$(pkg-config --variable=libdir dashpack)
test -f "$work/prefix/include/dashpack.h" && test -f "$libdir/libdashpack.so" && test -f "$libdir/libdashpack.a"
test "$(pkg-config --modversion dashpack)" = "$(cargo pkgid -p dashpack-c | sed 's/.*[#@]//')"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
cc -std=c99 -Wall -Wextra -Werror -pedantic tests/test_dashpack.c \
  $(pkg-config --cflags --libs dashpack) -o "$work/test_shared"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror -pedantic tests/test_dashpack.c \
  $(pkg-config --cflags dashpack) "$libdir/libdashpack.a" \
  $(pkg-config --static --libs-only-l dashpack | sed 's/-ldashpack//') -o "$work/test_static"
# grep without -q: reading ldd's whole output keeps ldd from a SIGPIPE under pipefail.
LD_LIBRARY_PATH=$libdir ldd "$work/test_shared" | grep -F "$libdir/libdashpack.so" >/dev/null ||
  { echo "the shared test program does not load the installed libdashpack.so" >&2; exit 1; }
LD_LIBRARY_PATH=$libdir "$work/test_shared" "$PWD/../../fixtures" "$work"
"$work/test_static" "$PWD/../../fixtures" "$work"
echo "cargo cinstall + pkg-config: shared and static programs pass"
