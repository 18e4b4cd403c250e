#!/usr/bin/env bash
# Installs what netref builds, tests and runs with: Debian 12 packages only. Besides the
# compiler and libraries: openssl (the tests make their certificates with its CLI), pkg-config
# and dpkg-dev (the package test builds a .deb and a consumer with pkg-config), clang-14
# and its runtime (the libFuzzer targets), valgrind and gnuplot (the full benchmark run); for
# netref::etcd, libcurl and nlohmann-json, and etcd-server (its tests start real etcd members);
# for netref::metrics, cpp-httplib, and Python's prometheus_client (its test parses a scrape);
# doxygen for the API reference (docs/Doxyfile; a test fails on any warning).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  g++ cmake make libcereal-dev zlib1g-dev libssl-dev openssl doctest-dev \
  pkg-config dpkg-dev file python3 python3-rpyc clang-14 libclang-rt-14-dev llvm-14 valgrind gnuplot-nox \
  libasio-dev libcurl4-openssl-dev nlohmann-json3-dev etcd-server libcpp-httplib-dev python3-prometheus-client python3-pytest doxygen >/dev/null
