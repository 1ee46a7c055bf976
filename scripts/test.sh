#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs and builds (scripts/setup.sh),
# then runs every unit and integration test with ctest.
# Usage: scripts/test.sh [ctest options, e.g. -L unit]
# Env: SYNCLINE_BUILD_DIR (default build), SYNCLINE_SANITIZE (e.g. address,undefined: a
#      sanitizer build, best in its own build dir).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SYNCLINE_BUILD_DIR:-build}
sanitize=${SYNCLINE_SANITIZE:-}
scripts/setup.sh --build-dir "$build_dir" --sanitize "$sanitize"
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 600 "$@"
