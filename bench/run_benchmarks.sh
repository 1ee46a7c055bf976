#!/usr/bin/env bash
# bench/run_benchmarks.sh: the pipeline benchmarks of docs/benchmarks.md ("Pipeline"), in one go.
# Builds Release into build-bench/, prints the machine and its load, then runs pipeline_bench
# (throughput with null: and sqlite:, 1/2/4 workers; commit latency at a fixed offered load) and
# sqlite_baseline, printing markdown tables. Run by hand, never by ctest.
#
#   bench/run_benchmarks.sh [--records N] [--sqlite-records N] [--workers "1 2 4"] [--quick] [--results FILE]
#
# --quick: 100,000 records everywhere and 3 s latency runs (a smoke test, not numbers to record).
# --results FILE: also save the tables to FILE (bench/results/DATE-NAME.md to keep them), then
#   redraw docs/img/throughput.png and latency.png from bench/results/*.md (bench/plot_benchmarks.sh).
# Environment: BUILD_DIR (default build-bench), BENCH_DIR (scratch dir, default $TMPDIR), JOBS.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-bench}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
JOBS=${JOBS:-2}
records=1000000
sqlite_records=1000000
workers_list="1 2 4"
latency_seconds=10
null_rate=100000
sqlite_rate=5000
results=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --records) records=$2; shift 2 ;;
        --sqlite-records) sqlite_records=$2; shift 2 ;;
        --workers) workers_list=$2; shift 2 ;;
        --quick) records=100000; sqlite_records=100000; latency_seconds=3; shift ;;
        --results) results=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run_benchmarks.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

# --- build ------------------------------------------------------------------------------------
echo "== building Release into $BUILD_DIR" >&2
mkdir -p "$BUILD_DIR"
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSYNCLINE_BUILD_TESTS=OFF >"$BUILD_DIR/configure.log" 2>&1; then
    # Until every component configures without tests, fall back to configuring them (only the
    # targets below are built, so no test is compiled).
    echo "   configure with SYNCLINE_BUILD_TESTS=OFF failed (see $BUILD_DIR/configure.log); retrying with ON" >&2
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSYNCLINE_BUILD_TESTS=ON >"$BUILD_DIR/configure.log" 2>&1
fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target syncline-sink syncline-ventilator syncline-worker pipeline_bench sqlite_baseline >&2
BIN=$BUILD_DIR/bin
if [[ -n "$results" ]]; then
    mkdir -p "$(dirname "$results")"
    exec 3>&1 > >(tee "$results")
    tee_pid=$!
fi

# --- machine ----------------------------------------------------------------------------------
fsync_probe=$(mktemp "$BENCH_DIR/syncline-dd-XXXXXX")
dd_line=$(dd if=/dev/zero of="$fsync_probe" bs=4k count=200 oflag=dsync 2>&1 | tail -1)
rm -f "$fsync_probe"
dd_secs=$(awk '{for (i = 1; i <= NF; ++i) if ($i ~ /^s,?$/) print $(i-1)}' <<<"$dd_line" | tr -d , | head -1)
echo "## Machine"
echo
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD -- . 2>/dev/null || commit="$commit + uncommitted changes"
else
    commit="(not a git checkout)"
fi
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), source: $commit"
echo "- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- RAM: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); kernel $(uname -r)"
echo "- fsync: dd bs=4k count=200 oflag=dsync into $BENCH_DIR: ${dd_line}"
[[ -n "$dd_secs" ]] && echo "  (~$(awk -v s="$dd_secs" 'BEGIN {printf "%.2f", s * 1000 / 200}') ms per synced 4 KiB write)"
echo "- SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo '(sqlite3 CLI not installed)')"
echo

load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- pipeline throughput ----------------------------------------------------------------------
echo "## Pipeline throughput (records appended first, then timed from process start to all committed)"
echo
echo "| target | workers | records | seconds | records/s | first commit at s | records/s after it | peak RSS MiB | load avg before |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
run_throughput() {  # target records workers
    local before row
    before=$(load)
    row=$("$BIN/pipeline_bench" --bin-dir "$BIN" --dir "$BENCH_DIR/syncline-pipeline-bench-$$" \
        --target "$1" --records "$2" --workers "$3")
    # pipeline_bench prints "| t | w | n | s | r/s | peak RSS MiB: ventilator V, worker W, sink S |"
    sed -E "s/ peak RSS MiB: (.*) \|$/ \1 | $before |/" <<<"$row"
}
for w in $workers_list; do run_throughput null: "$records" "$w"; done
for w in $workers_list; do run_throughput sqlite: "$sqlite_records" "$w"; done
echo

# --- commit latency ---------------------------------------------------------------------------
echo "## Commit latency (append -> committed) at a fixed offered load, ${latency_seconds} s"
echo
echo "| target | workers | offered rec/s | achieved offered rec/s | appends | p50 ms | p99 ms | max ms | poll period ms | peak RSS MiB | load avg before |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
run_latency() {  # target workers rate
    local before row
    before=$(load)
    row=$("$BIN/pipeline_bench" --bin-dir "$BIN" --dir "$BENCH_DIR/syncline-pipeline-bench-$$" \
        --target "$1" --workers "$2" --latency --rate "$3" --seconds "$latency_seconds")
    sed -E "s/ peak RSS MiB: (.*) \|$/ \1 | $before |/" <<<"$row"
}
run_latency null: 2 "$null_rate"
run_latency sqlite: 2 "$sqlite_rate"
echo

# --- SQLite alone -----------------------------------------------------------------------------
echo "## SQLite alone: sqlite_baseline, $sqlite_records rows, same schema/pragmas/upsert (load avg before: $(load))"
echo
"$BIN/sqlite_baseline" --records "$sqlite_records" --dir "$BENCH_DIR/syncline-sqlite-baseline-$$"
rm -rf "$BENCH_DIR/syncline-sqlite-baseline-$$"
echo
echo "load average after: $(load)"

if [[ -n "$results" ]]; then
    exec >&3 3>&-
    wait "$tee_pid"
    plots=(bench/results/*.md)
    [[ " ${plots[*]} " == *" $results "* ]] || plots+=("$results")
    bench/plot_benchmarks.sh --out docs/img "${plots[@]}"
fi
