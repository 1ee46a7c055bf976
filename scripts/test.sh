#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs and builds (scripts/setup.sh),
# then runs every unit and integration test with ctest.
# Usage: scripts/test.sh [-L unit|integration] [other ctest options]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SYNCLINE_BUILD_DIR:-build}
scripts/setup.sh --build-dir "$build_dir"
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 600 "$@"
