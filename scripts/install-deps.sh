#!/usr/bin/env bash
# Installs what netref builds, tests and runs with: Debian 12 packages only. Besides the
# compiler and libraries: cpp-httplib and Python's prometheus_client (the metrics endpoint and
# its test), openssl (the tests make their certificates with its CLI), clang-14
# and its runtime (the libFuzzer targets), valgrind and gnuplot (the full benchmark run).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  g++ cmake make libcereal-dev zlib1g-dev libssl-dev openssl doctest-dev \
  python3 python3-rpyc pkg-config libcpp-httplib-dev python3-prometheus-client clang-14 libclang-rt-14-dev llvm-14 valgrind gnuplot-nox >/dev/null
