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
if [[ -n $sanitize ]]; then
  # The same options for the test binaries and every process they start (children inherit the
  # environment): a finding stops the process with a report on its stderr (the tests scan the
  # children's logs for it) and a leak fails the exit; UBSan prints the stack.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 600 "$@"
