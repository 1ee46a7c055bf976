#!/usr/bin/env bash
# The pipeline launcher scripts use: start / stop / status of one pipeline described by an INI
# file whose keys are `syncline run` options (log, state, pipeline, target, workers, run-dir, ...).
# It is a thin shell over `syncline run`, which starts the sink, workers and ventilator in order,
# writes their logs and PID files into the run directory and stops them gracefully.
#
# Usage: scripts/pipeline.sh start|stop|status|wait CONFIG.ini
#   start   launch in the background; returns once the pipeline's processes are up
#   stop    SIGTERM the runner: it drains in-flight work, commits, and stops its children
#   status  running or not, then `syncline status`: committed offset, lag, rate, ETA, stall verdict
#   wait    block until the runner exits (for --until-caught-up configs)
# Env: SYNCLINE_BIN (default: build/bin/syncline next to this script).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
syncline=${SYNCLINE_BIN:-$here/build/bin/syncline}

usage() { echo "usage: $0 start|stop|status|wait CONFIG.ini" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
config=$2
[ -r "$config" ] || { echo "pipeline.sh: cannot read config $config" >&2; exit 2; }
[ -x "$syncline" ] || { echo "pipeline.sh: $syncline not built (run scripts/setup.sh)" >&2; exit 1; }

# The value of `key = value` in the INI file (syntax: docs/operations.md "Configuration"; a '#'
# after whitespace starts a comment).
ini_get() {
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$config" | tail -n 1 | sed 's/[[:space:]]#.*$//; s/[[:space:]]*$//'
}
state=$(ini_get state)
pipeline=$(ini_get pipeline); pipeline=${pipeline:-default}
log=$(ini_get log)
run_dir=$(ini_get run-dir); run_dir=${run_dir:-$state/$pipeline.run}
[ -n "$state" ] && [ -n "$log" ] || { echo "pipeline.sh: $config must set log and state" >&2; exit 2; }
pid_file=$run_dir/run.pid

runner_pid() {
  [ -f "$pid_file" ] || return 1
  local pid; pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

case "$cmd" in
  start)
    if pid=$(runner_pid); then echo "pipeline $pipeline already running (pid $pid)"; exit 0; fi
    # Every mistake in the file at once, as FILE:LINE: key 'x': problem, before anything starts.
    "$syncline" config check "$config" >/dev/null || exit 2
    mkdir -p "$run_dir"
    rm -f "$pid_file"
    setsid "$syncline" run --config "$config" --run-dir "$run_dir" >>"$run_dir/run.log" 2>&1 </dev/null &
    launched=$!
    for _ in $(seq 1 100); do
      [ -f "$pid_file" ] && break
      kill -0 "$launched" 2>/dev/null || { echo "pipeline.sh: syncline run exited at once:" >&2; tail -n 5 "$run_dir/run.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "pipeline $pipeline started (pid $launched, logs in $run_dir)"
    ;;
  stop)
    pid=$(runner_pid) || { echo "pipeline $pipeline is not running"; exit 0; }
    kill -TERM "$pid"
    for _ in $(seq 1 900); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "pipeline.sh: $pipeline did not stop in 90 s" >&2; exit 1; fi
    echo "pipeline $pipeline stopped"
    ;;
  status)
    if pid=$(runner_pid); then echo "pipeline $pipeline running (pid $pid, logs in $run_dir)"; else echo "pipeline $pipeline stopped"; fi
    # Lag, rate, ETA and the stall verdict (exit 3 when stalled), from the stores and live metrics.
    "$syncline" status --state "$state" --pipeline "$pipeline" --log "$log"
    ;;
  wait)
    pid=$(runner_pid) || exit 0
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    ;;
  *) usage ;;
esac
