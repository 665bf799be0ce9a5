#!/bin/sh
# Installs clang (libFuzzer lives in its compiler-rt) and LLVM's OpenMP runtime from Debian, for
# `npm run fuzz` (scripts/fuzz.js). Needs root (apt-get). A no-op when both are there.
set -e
if command -v clang++ >/dev/null 2>&1 && [ -e /usr/lib/llvm-14/lib/libomp.so ]; then exit 0; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev libomp-14-dev >/dev/null
command -v clang++
