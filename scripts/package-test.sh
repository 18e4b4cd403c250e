#!/usr/bin/env bash
# Builds the Debian package of a netref build tree with CPack, checks its contents, unpacks it
# into a scratch root (dpkg -x: nothing is installed into the system, no root needed) and builds
# tests/consumer against that root twice: with CMake (find_package, CMAKE_PREFIX_PATH at the
# root) and with pkg-config (PKG_CONFIG_PATH at the root's netref.pc), running each consumer.
# Usage: scripts/package-test.sh <build-dir>   (a configured and built tree, NETREF_INSTALL on)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: package-test.sh <build-dir>}" && pwd)
work="$build/package-test"
rm -rf "$work"
mkdir -p "$work"
fail() { echo "package-test: $*" >&2; exit 1; }

echo "== package: cpack -G DEB in $build"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log") ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/out/libnetref-dev_*.deb)
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

# Contents: libraries, headers (the umbrella, the version and export headers), the CMake
# package, netref.pc and the programs the tree built.
dpkg-deb -c "$deb" | awk '{print ($(NF-1) == "->") ? $(NF-2) : $NF}' | sed 's|^\./|/|' >"$work/contents"
shared=false
if grep -q '/libnetref_stream\.so' "$work/contents"; then shared=true; fi
expected=(/usr/include/netref/netref.hpp /usr/include/netref/version.hpp
  /usr/include/netref/export.hpp /usr/include/netref/proxy/proxy.hpp
  /usr/lib/cmake/netref/netrefConfig.cmake /usr/lib/cmake/netref/netrefConfigVersion.cmake
  /usr/lib/cmake/netref/netrefTargets.cmake /usr/lib/pkgconfig/netref.pc)
for layer in stream channel protocol service proxy discovery; do
  if [ "$shared" = true ]; then
    expected+=("/usr/lib/libnetref_$layer.so")
  else
    expected+=("/usr/lib/libnetref_$layer.a")
  fi
done
for optional in etcd metrics; do  # built where their Debian packages were found
  if [ -d "$build/$optional" ]; then
    if [ "$shared" = true ]; then expected+=("/usr/lib/libnetref_$optional.so"); else expected+=("/usr/lib/libnetref_$optional.a"); fi
  fi
done
[ -x "$build/cli/netref" ] && expected+=(/usr/bin/netref)
[ -x "$build/discovery/netref_registry" ] && expected+=(/usr/bin/netref_registry)
for path in "${expected[@]}"; do
  grep -qx -- "$path" "$work/contents" || fail "$(basename "$deb") lacks $path"
done
if grep -q -e '_tests$' -e '/counter_server$' -e 'cli_parts' "$work/contents"; then
  fail "$(basename "$deb") holds test or sample programs"
fi
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libssl3 zlib1g libcereal-dev libssl-dev zlib1g-dev; do
  [[ ", $depends," == *", $dep"[,\ ]* ]] || fail "Depends ($depends) lacks $dep"
done
echo "contents: ${#expected[@]} expected files present (shared: $shared); Depends: $depends"

scratch="$work/root"
dpkg -x "$deb" "$scratch"

# A shared netref exports the public API and, of its detail namespaces, only what public
# templates or the layer above call (docs/INSTALL.md); everything else stays hidden.
if [ "$shared" = true ]; then
  nm -DC --defined-only "$scratch"/usr/lib/libnetref_*.so | cut -d' ' -f3- |
    sed -E 's/^(typeinfo name|typeinfo|vtable|VTT) for //' >"$work/exported"
  grep -q '^netref::Connection::' "$work/exported" || fail "netref::Connection is not exported"
  grep -q '^netref::Proxy::' "$work/exported" || fail "netref::Proxy is not exported"
  allowed='add_method|add_property|bind_arguments|describe_record|note_argument_mismatch'
  allowed+='|note_argument_misfit|make_function_object|throw_mismatch|throw_int_range|no_fit'
  allowed+='|int_range_text|lend_object|demangle|big_to_double|items_of|rethrow_with_context'
  allowed+='|ordinal_prefix|shared_timer_queue|Timer|identity_hash|exchange_wait_observer'
  leaked=$(grep '^netref::detail::' "$work/exported" | grep -Ev "^netref::detail::($allowed)\b" || true)
  [ -z "$leaked" ] || fail "detail symbols exported: $leaked"
  echo "exported: $(wc -l <"$work/exported") symbols, $(grep -c '^netref::detail::' "$work/exported") of them detail (all allowed)"
fi
export LD_LIBRARY_PATH="$scratch/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -x "$scratch/usr/bin/netref" ]; then
  version=$("$scratch/usr/bin/netref" --version)
  echo "$version"
  [ "$version" = "netref $(sed -n 's/^#define NETREF_VERSION_STRING "\(.*\)"$/\1/p' \
    "$scratch/usr/include/netref/version.hpp")" ] || fail "netref --version says '$version'"
fi

echo "== consumer with CMake against the unpacked package"
cmake -S "$root/tests/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$scratch/usr" \
  -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" || { cat "$work/cmake.log"; fail "configure failed"; }
found=$(sed -n 's/^netref_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
[ "$found" = "$scratch/usr/lib/cmake/netref" ] || fail "find_package found netref at '$found'"
cmake --build "$work/cmake" -j"$(nproc)" >"$work/cmake-build.log" ||
  { cat "$work/cmake-build.log"; fail "building the CMake consumer failed"; }
"$work/cmake/consumer"

echo "== consumer with pkg-config against the unpacked package"
export PKG_CONFIG_PATH="$scratch/usr/lib/pkgconfig"
flags=$(pkg-config --cflags --libs netref)
echo "pkg-config --cflags --libs netref: $flags"
[[ "$flags" == *"-I$scratch/usr/"* ]] || fail "pkg-config points outside the unpacked package"
# shellcheck disable=SC2086  # the flags are words
g++ -std=c++20 -O1 "$root/tests/consumer/main.cpp" -o "$work/consumer-pkg-config" $flags
"$work/consumer-pkg-config"
if [ "$shared" = true ]; then
  ldd "$work/consumer-pkg-config" >"$work/ldd"
  grep -q "$scratch/usr/lib/libnetref_discovery.so" "$work/ldd" ||
    fail "the pkg-config consumer does not load the package's libnetref_discovery.so"
fi
echo "package test passed: $(basename "$deb")"
