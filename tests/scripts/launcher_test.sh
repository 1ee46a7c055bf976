#!/usr/bin/env bash
# Tests scripts/pipeline.sh as users run it: start a pipeline from an INI file, watch it commit,
# append while it runs, stop it gracefully, check the run directory and the target.
# Usage: tests/scripts/launcher_test.sh BIN_DIR
set -euo pipefail
bin=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
launcher=$repo/scripts/pipeline.sh
export SYNCLINE_BIN=$bin/syncline
dir=$(mktemp -d "${TMPDIR:-/tmp}/syncline-launcher-XXXXXX")
config=$dir/pipeline.ini
cleanup() {
  # Stop whatever this test started, by PID from the run directory.
  for f in "$dir"/state/*.run/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$dir"/state/*.run/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
committed() { "$bin/syncline" offsets show --state "$dir/state" --pipeline launch --json 2>/dev/null | sed -n 's/.*"committed":\([0-9]*\).*/\1/p'; }
wait_committed() {
  for _ in $(seq 1 600); do [ "$(committed)" = "$1" ] && return 0; sleep 0.1; done
  fail "committed $(committed), expected $1"
}

"$bin/syncline" generate --log "$dir/log" --records 20000 --keys 2000 >/dev/null 2>&1
cat >"$config" <<INI
# every key is a syncline run option
log = $dir/log
state = $dir/state
pipeline = launch
target = sqlite:$dir/launch.db
workers = 2
INI

out=$("$launcher" start "$config") || fail "start failed: $out"
[[ $out == *"pipeline launch started"* ]] || fail "start said: $out"
out=$("$launcher" start "$config"); [[ $out == *"already running"* ]] || fail "second start said: $out"
wait_committed 20000
out=$("$launcher" status "$config"); [[ $out == *"launch running"* ]] || fail "status said: $out"

# Appends while it runs are delivered.
printf '{"collection":"users","key":"late","op":"upsert","value":{"v":1}}\n' | "$bin/syncline" append --log "$dir/log" - >/dev/null
wait_committed 20001

run_dir=$dir/state/launch.run
for f in run.pid sink.pid ventilator.pid worker-1.pid worker-2.pid; do [ -f "$run_dir/$f" ] || fail "missing $run_dir/$f"; done
runner=$(cat "$run_dir/run.pid")
out=$("$launcher" stop "$config"); [[ $out == *"stopped"* ]] || fail "stop said: $out"
kill -0 "$runner" 2>/dev/null && fail "runner $runner still alive after stop"
[ -f "$run_dir/run.pid" ] && fail "run.pid left behind"
grep -q "stopped with code" "$run_dir/run.log" && fail "a child did not stop cleanly"
grep -q "stopped committed=20001" "$run_dir/sink.log" || fail "sink did not commit everything on stop"
out=$("$launcher" status "$config"); [[ $out == *"launch stopped"* ]] || fail "status after stop said: $out"

"$bin/syncline" verify --log "$dir/log" --state "$dir/state" --pipeline launch --target "sqlite:$dir/launch.db" >/dev/null \
  || fail "verify found differences"

# Bad usage is exit 2 with a message.
set +e
"$launcher" start "$dir/missing.ini" 2>/dev/null; code=$?
set -e
[ "$code" = 2 ] || fail "missing config gave exit $code"
# A sanitizer build's report in a child's log fails the test (the same markers as
# tests/support/harness.h sanitizer_reports).
if grep -n -E "ERROR: (Address|Leak)Sanitizer|: runtime error: " "$run_dir"/*.log >&2; then
  fail "sanitizer report in a process log"
fi
echo "1 passed, 0 failed"
