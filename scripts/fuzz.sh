#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) into build-fuzz/ and runs each
# for SECONDS on a scratch copy of its committed corpus (fuzz/corpus/<name>/). A crash leaves its
# input in build-fuzz/fuzz-findings/<name>/ and fails the script. New interesting inputs are kept in
# build-fuzz/fuzz-work/<name>/ (copy the good ones into fuzz/corpus/ by hand).
# Usage: scripts/fuzz.sh [SECONDS per target, default 60]   Env: SYNCLINE_FUZZ_SEED (default 1; 0 = random).   Installs clang and libclang-rt-14-dev when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
# A fixed seed by default, so that CI explores the same inputs on every run and a finding is not a
# coin toss; SYNCLINE_FUZZ_SEED=0 lets libFuzzer pick one (for longer local runs).
seed=${SYNCLINE_FUZZ_SEED:-1}
build_dir=${SYNCLINE_FUZZ_BUILD_DIR:-build-fuzz}
# clang and its sanitizer/libFuzzer runtime, installed like scripts/setup.sh installs the rest.
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz.sh: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found after installing ${packages[*]}" >&2; exit 2; }

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSYNCLINE_BUILD_FUZZERS=ON -DSYNCLINE_BUILD_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
targets=(decode jsonl config accept gateway)
cmake --build "$build_dir" -j2 --target "${targets[@]/%/_fuzzer}"

status=0
for t in "${targets[@]}"; do
  work="$build_dir/fuzz-work/$t" findings="$build_dir/fuzz-findings/$t"
  mkdir -p "$work" "$findings"
  echo "fuzz.sh: $t for ${seconds}s"
  if ! "$build_dir/bin/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -seed="$seed" \
       -artifact_prefix="$findings/" -print_final_stats=1 "$work" "fuzz/corpus/$t" 2>"$build_dir/fuzz-$t.log"; then
    echo "fuzz.sh: $t FAILED: see $build_dir/fuzz-$t.log and $findings/" >&2
    tail -40 "$build_dir/fuzz-$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build_dir/fuzz-$t.log" | tail -2
  fi
done
exit $status
