#!/usr/bin/env bash
# bench/run_benchmarks.sh: the pipeline benchmarks of docs/benchmarks.md ("Pipeline"), in one go.
# Builds Release into build-bench/, prints the machine and its load, then runs pipeline_bench
# (throughput with null: and sqlite:, 1/2/4 workers; commit latency at a fixed offered load) and
# sqlite_baseline, then the real targets (issue 5): redis:// against a throwaway redis-server
# next to redis_baseline, the rocksdb: mirror, and postgresql:// against a throwaway PostgreSQL
# next to postgres_baseline, and the http target (webhooks) against http_receiver_bench next to
# http_baseline (the receiver's own limit). Issue 16 added: redis-benchmark's pipelined HSET
# as Redis's limit; mysql:// against a throwaway MariaDB next to mariadb_baseline; the SMTP and
# push (FCM) targets against the tests' local receivers (tests/support/*.py), with 4 workers
# (no peer: the receivers are Python, so their own rate is the figure's ceiling). Prints markdown
# tables. Run by hand, never by ctest.
#
#   bench/run_benchmarks.sh [--records N] [--sqlite-records N] [--target-records N] [--workers "1 2 4"]
#                           [--only "null sqlite latency redis rocksdb postgres mariadb http smtp push"]
#                           [--quick] [--http-records N] [--results FILE] [--channel-records N]
#                           [--postgres-records N] [--postgres-value jsonb|text|bytea] [--mariadb-records N]
#                           [--baseline-bin DIR]
#
# --quick: 100,000 records everywhere and 3 s latency runs (a smoke test, not numbers to record).
# --only: the sections to run (default: all).
# latency: null: at 100,000 and 10,000 records/s and idle (rate 0: CPU use), sqlite: at 5,000/s,
#   and latency_floor (the same two synced writes without the pipeline) at the same rates;
#   --baseline-bin DIR also runs the null rows with another build's processes (e.g. the commit
#   before a change, built into DIR) for a before/after table and histogram in the same session.
# --results FILE: also save the tables to FILE (bench/results/DATE-NAME.md to keep them), then
#   redraw docs/img/throughput.png, latency.png and latency_histogram.png from bench/results/*.md
#   (bench/plot_benchmarks.sh) and docs/img/targets.png from FILE (bench/plot_targets.sh;
#   bench/results/targets/ keeps those).
# postgres: a throwaway server from /usr/lib/postgresql/15/bin on a free port, run as the postgres
# user when root; --postgres-value: the target's value column type for the pipeline runs.
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
null_rate_low=10000
baseline_bin=""
sqlite_rate=5000
target_records=1000000
sections="null sqlite latency redis rocksdb postgres mariadb http smtp push"
http_records=500000
channel_records=20000
mariadb_records=200000
results=""
postgres_records=200000
postgres_value=jsonb
while [[ $# -gt 0 ]]; do
    case "$1" in
        --records) records=$2; shift 2 ;;
        --sqlite-records) sqlite_records=$2; shift 2 ;;
        --target-records) target_records=$2; shift 2 ;;
        --only) sections=$2; shift 2 ;;
        --workers) workers_list=$2; shift 2 ;;
        --postgres-records) postgres_records=$2; shift 2 ;;
        --http-records) http_records=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        --postgres-value) postgres_value=$2; shift 2 ;;
        --baseline-bin) baseline_bin=$(realpath "$2"); shift 2 ;;
        --mariadb-records) mariadb_records=$2; shift 2 ;;
        --channel-records) channel_records=$2; shift 2 ;;
        --quick) records=100000; sqlite_records=100000; target_records=100000; postgres_records=50000
                 http_records=100000; mariadb_records=50000; channel_records=5000; latency_seconds=3; shift ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
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
cmake --build "$BUILD_DIR" -j"$JOBS" --target syncline-sink syncline-ventilator syncline-worker pipeline_bench sqlite_baseline \
    redis_baseline postgres_baseline mariadb_baseline http_receiver_bench http_baseline latency_floor >&2
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
# Servers started below register how to stop them; one EXIT trap runs them all.
cleanups=()
trap 'for c in "${cleanups[@]}"; do eval "$c" || true; done' EXIT
want() { [[ " $sections " == *" $1 "* ]]; }

# --- pipeline throughput ----------------------------------------------------------------------
throughput_header() {
    echo "| target | workers | records | seconds | records/s | first commit at s | records/s after it | peak RSS MiB | load avg before |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
}
if want null || want sqlite; then
    echo "## Pipeline throughput (records appended first, then timed from process start to all committed)"
    echo
    throughput_header
fi
run_throughput() {  # target records workers [bin_dir]
    local before row
    before=$(load)
    row=$("$BIN/pipeline_bench" --bin-dir "${4:-$BIN}" --dir "$BENCH_DIR/syncline-pipeline-bench-$$" \
        --target "$1" --records "$2" --workers "$3")
    # pipeline_bench prints "| t | w | n | s | r/s | peak RSS MiB: ventilator V, worker W, sink S |"
    sed -E "s/ peak RSS MiB: (.*) \|$/ \1 | $before |/" <<<"$row"
}
if want null; then for w in $workers_list; do run_throughput null: "$records" "$w"; done; fi
if want sqlite; then for w in $workers_list; do run_throughput sqlite: "$sqlite_records" "$w"; done; fi
echo

# --- commit latency ---------------------------------------------------------------------------
# Each row's latencies (ms, one per append) go to $samples_dir/N.txt for the histogram below.
samples_dir=$(mktemp -d "$BENCH_DIR/syncline-latency-samples-XXXXXX")
cleanups+=('rm -rf "$samples_dir"')
sample_labels=()
run_latency() {  # bin_dir label target workers rate
    local before row
    before=$(load)
    sample_labels+=("$2 $3 $5/s")
    row=$("$BIN/pipeline_bench" --bin-dir "$1" --dir "$BENCH_DIR/syncline-pipeline-bench-$$" \
        --target "$3" --workers "$4" --latency --rate "$5" --seconds "$latency_seconds" \
        --histogram "$samples_dir/${#sample_labels[@]}.txt")
    [[ -n "$2" ]] && row=$(sed -E "s/^\| $3 /| $3 ($2) /" <<<"$row")
    sed -E "s/ peak RSS MiB: (.*) \|$/ \1 | $before |/" <<<"$row"
}
if want latency; then
    echo "## Commit latency (append -> committed) at a fixed offered load, ${latency_seconds} s"
    echo
    echo "Rate 0: the pipeline idle for ${latency_seconds} s (its CPU use)."
    [[ -n "$baseline_bin" ]] && echo "(baseline): the processes from $baseline_bin, measured by the same pipeline_bench."
    echo
    echo "| target | workers | offered rec/s | achieved offered rec/s | appends | p50 ms | p99 ms | max ms | poll period ms | append p99 ms | p99 ms after the append | CPU % ventilator, worker, sink | peak RSS MiB | load avg before |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
    for rate in $null_rate $null_rate_low 0; do
        [[ -n "$baseline_bin" ]] && run_latency "$baseline_bin" baseline null: 2 "$rate"
        run_latency "$BIN" "" null: 2 "$rate"
    done
    run_latency "$BIN" "" sqlite: 2 "$sqlite_rate"
    echo
    # The floor: the same two synced writes (log append, state commit) and one ZeroMQ hop,
    # hand-written (bench/latency_floor.cc), at the same offered rates right after.
    echo "## Commit latency floor: latency_floor (synced append -> ZeroMQ -> synced commit, no pipeline), ${latency_seconds} s"
    echo
    echo "| offered rec/s | achieved | appends | commits | p50 ms | p99 ms | max ms | append p99 ms | load avg before |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for rate in $null_rate $null_rate_low; do
        before=$(load)
        row=$("$BIN/latency_floor" --rate "$rate" --seconds "$latency_seconds" --dir "$BENCH_DIR/syncline-latency-floor-$$")
        echo "$row $before |"
    done
    echo
    # Issue 16: lower latency must not cost steady-state throughput (aim: >= 2M records/s after
    # the first commit, null:, 2 workers, 4M records).
    echo "## Steady-state throughput next to the latency runs: null:, 2 workers, 4,000,000 records"
    echo
    throughput_header
    [[ -n "$baseline_bin" ]] && run_throughput null: 4000000 2 "$baseline_bin" | sed -E 's/^\| null: /| null: (baseline) /'
    run_throughput null: 4000000 2
    echo
    # Share of appends per latency bin (log-spaced bin upper bounds, ms), one column per row above
    # with load: bench/plot_benchmarks.sh draws it as latency_histogram.png.
    echo "## Latency histogram (share of appends % per bin, append -> committed)"
    echo
    header="| bin upper ms"; rule="|---:"; cols=()
    for i in "${!sample_labels[@]}"; do
        f="$samples_dir/$((i + 1)).txt"
        [[ -s "$f" ]] || continue
        header+=" | ${sample_labels[$i]# }"; rule+="|---:"; cols+=("$f")
    done
    echo "$header |"; echo "$rule|"
    awk 'BEGIN { n = split("0.25 0.5 0.75 1 1.5 2 3 4 5 7 10 15 20 30 50 75 100 150 200 300 500 1000 100000", b, " ") }
         FNR == 1 { ++file } { for (i = 1; i <= n; ++i) if ($1 <= b[i]) { ++count[file, i]; break }; ++total[file] }
         END { for (i = 1; i <= n; ++i) { line = "| " (i == n ? "more" : b[i]);
                   for (f = 1; f <= file; ++f) line = line sprintf(" | %.2f", 100 * count[f, i] / total[f]); print line " |" } }' "${cols[@]}"
    echo
fi

# --- SQLite alone -----------------------------------------------------------------------------
if want sqlite; then
    echo "## SQLite alone: sqlite_baseline, $sqlite_records rows, same schema/pragmas/upsert (load avg before: $(load))"
    echo
    "$BIN/sqlite_baseline" --records "$sqlite_records" --dir "$BENCH_DIR/syncline-sqlite-baseline-$$"
    rm -rf "$BENCH_DIR/syncline-sqlite-baseline-$$"
    echo
fi

# --- Redis ------------------------------------------------------------------------------------
# A throwaway redis-server on 127.0.0.1 with the tests' settings (tests/support/redis_server.h:
# appendonly yes, appendfsync everysec, no RDB), emptied before every run.
if want redis; then
    redis_dir=$(mktemp -d "$BENCH_DIR/syncline-redis-XXXXXX")
    redis_port=""
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        redis-server --port "$port" --bind 127.0.0.1 --dir "$redis_dir" --daemonize no --save "" \
            --appendonly yes --appendfsync everysec --logfile "$redis_dir/redis.log" &
        redis_pid=$!
        for _ in $(seq 50); do
            redis-cli -p "$port" ping >/dev/null 2>&1 && { redis_port=$port; break; }
            kill -0 "$redis_pid" 2>/dev/null || break
            sleep 0.1
        done
        [[ -n "$redis_port" ]] && break
        kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true
    done
    [[ -n "$redis_port" ]] || { echo "run_benchmarks.sh: redis-server did not start (see $redis_dir/redis.log)" >&2; exit 1; }
    cleanups+=('kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$redis_dir"')
    echo "## Redis ($(redis-server --version | cut -d' ' -f3), appendfsync everysec): pipeline, $target_records records"
    echo
    throughput_header
    for w in $workers_list; do
        redis-cli -p "$redis_port" flushall >/dev/null
        run_throughput "redis://127.0.0.1:$redis_port/0" "$target_records" "$w"
    done
    echo
    echo "## Redis alone: redis_baseline, $target_records rows (load avg before: $(load))"
    echo
    "$BIN/redis_baseline" --uri "redis://127.0.0.1:$redis_port/0" --records "$target_records"
    echo
    # Redis's own limit for these writes: redis-benchmark's C client, 2 connections pipelining
    # HSETs of the same shape (100,000 random keys, a ~100-byte value, offset and flag fields).
    redis-cli -p "$redis_port" flushall >/dev/null
    value='{"seq":123456,"amount":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
    echo "| redis-benchmark (load avg before: $(load)) | requests/s |"
    echo "|---|---:|"
    for depth in 100 1000; do
        rps=$(redis-benchmark -p "$redis_port" -c 2 -P "$depth" -n "$target_records" -r 100000 -q \
            HSET 'key:__rand_int__' v "$value" o 123456 d 0 | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1)
        echo "| \`redis-benchmark -c 2 -P $depth -r 100000 HSET key:__rand_int__ v VALUE o N d 0\` | $rps |"
    done
    echo
fi

# --- RocksDB mirror ---------------------------------------------------------------------------
if want rocksdb; then
    echo "## RocksDB mirror (rocksdb:, synced per batch): pipeline, $target_records records"
    echo
    throughput_header
    for w in $workers_list; do
        mirror="$BENCH_DIR/syncline-mirror-bench-$$"
        rm -rf "$mirror"
        run_throughput "rocksdb:$mirror" "$target_records" "$w"
        rm -rf "$mirror"
    done
    echo
fi
# --- PostgreSQL -------------------------------------------------------------------------------
if want postgres; then
    pg_bin=/usr/lib/postgresql/15/bin
    as_pg=()
    pgdir=$(mktemp -d "$BENCH_DIR/syncline-pg-bench-XXXXXX")
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [[ $(id -u) == 0 ]]; then  # PostgreSQL refuses to run as root.
        chown -R postgres:postgres "$pgdir"
        as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups --)
    fi
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pgdir/data" -U bench --auth=trust -E UTF8 --locale=C --no-sync >"$pgdir/initdb.log"
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o \
        "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=2GB" start >&2
    cleanups+=('"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast stop >&2; rm -rf "$pgdir"')
    server="postgresql://bench@127.0.0.1:$port/postgres"
    echo "## PostgreSQL: pipeline_bench --target postgresql://...?value=$postgres_value, $postgres_records records (server: default settings but"
    echo "shared_buffers=256MB, max_wal_size=2GB, fsync on; each run writes into a new schema)"
    echo
    throughput_header
    for w in $workers_list; do
        run_throughput "$server?schema=bench_w${w}_$$&value=$postgres_value" "$postgres_records" "$w"
    done
    echo
    echo "## PostgreSQL alone: postgres_baseline, $postgres_records rows, same schema and fence (load avg before: $(load))"
    echo
    "$BIN/postgres_baseline" --uri "$server" --records "$postgres_records"
    echo
fi
# --- MariaDB ----------------------------------------------------------------------------------
# A throwaway mariadbd on a free port with the tests' settings (tests/support/mysql_server.cc:
# 64 MB buffer pool, innodb_flush_log_at_trx_commit=2, no binlog), a user with a password file.
if want mariadb; then
    mdir=$(mktemp -d "$BENCH_DIR/syncline-mariadb-bench-XXXXXX")
    mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_root=(); [[ $(id -u) == 0 ]] && as_root=(--user=root)
    echo bench-pw >"$mdir/password"
    printf "CREATE USER IF NOT EXISTS 'bench'@'127.0.0.1' IDENTIFIED BY 'bench-pw';\nGRANT ALL ON *.* TO 'bench'@'127.0.0.1';\n" >"$mdir/init.sql"
    mariadb-install-db --no-defaults --datadir="$mdir/data" --auth-root-authentication-method=normal --skip-test-db \
        --tmpdir="$mdir" --skip-name-resolve "${as_root[@]}" >"$mdir/install.log" 2>&1
    mariadbd --no-defaults --datadir="$mdir/data" --bind-address=127.0.0.1 --port="$mport" --socket="$mdir/sock" \
        --pid-file="$mdir/pid" --init-file="$mdir/init.sql" --tmpdir="$mdir" --skip-name-resolve --skip-log-bin \
        --innodb-buffer-pool-size=256M --innodb-log-file-size=256M --innodb-flush-log-at-trx-commit=2 \
        --max-connections=60 --local-infile=1 "${as_root[@]}" >"$mdir/server.log" 2>&1 &
    mariadb_pid=$!
    cleanups+=('kill $mariadb_pid 2>/dev/null; wait $mariadb_pid 2>/dev/null; rm -rf "$mdir"')
    for _ in $(seq 300); do
        mariadb -h 127.0.0.1 -P "$mport" -u bench -pbench-pw -e 'select 1' >/dev/null 2>&1 && break
        sleep 0.2
    done
    mserver="mysql://bench@127.0.0.1:$mport"
    echo "## MariaDB ($(mariadbd --version | awk '{print $3}'), innodb_flush_log_at_trx_commit=2, 256 MB buffer pool): pipeline, $mariadb_records records"
    echo
    throughput_header
    for w in $workers_list; do
        db="bench_w${w}_$$"
        mariadb -h 127.0.0.1 -P "$mport" -u bench -pbench-pw -e "CREATE DATABASE $db"
        run_throughput "$mserver/$db?password_file=$mdir/password" "$mariadb_records" "$w"
    done
    echo
    echo "## MariaDB alone: mariadb_baseline, $mariadb_records rows, same schema and fence (load avg before: $(load))"
    echo
    "$BIN/mariadb_baseline" --uri "$mserver/mysql?password_file=$mdir/password" --records "$mariadb_records"
    echo
fi
# --- http (webhooks) --------------------------------------------------------------------------
# One receiver process (checks every signature, answers 200) on a free port for all runs.
if want http; then
    http_dir="$BENCH_DIR/syncline-http-bench-$$"
    mkdir -p "$http_dir"
    echo "bench-secret-$$" >"$http_dir/secret"
    "$BIN/http_receiver_bench" --secret-file "$http_dir/secret" >"$http_dir/receiver.log" 2>&1 &
    receiver_pid=$!
    cleanups+=('kill "$receiver_pid" 2>/dev/null')
    for _ in $(seq 100); do grep -q "listening port=" "$http_dir/receiver.log" && break; sleep 0.05; done
    port=$(sed -n 's/^listening port=//p' "$http_dir/receiver.log")
    echo "## Webhook: $http_records records, http_receiver_bench on 127.0.0.1:$port (load avg before: $(load))"
    echo
    throughput_header
    for w in $workers_list; do
        run_throughput "http://127.0.0.1:$port/hook?syncline.secret_file=$http_dir/secret" "$http_records" "$w"
    done
    echo
    echo "| receiver's limit | records | requests | seconds | records/s |"
    echo "|---|---:|---:|---:|---:|"
    "$BIN/http_baseline" --url "http://127.0.0.1:$port/hook" --secret-file "$http_dir/secret" --records "$http_records"
    kill "$receiver_pid"
    wait "$receiver_pid" 2>/dev/null || true
    echo
    echo "receiver: $(tail -1 "$http_dir/receiver.log")"
    rm -rf "$http_dir"
    echo
fi
# --- SMTP and push -----------------------------------------------------------------------------
# The tests' receivers (Python: aiosmtpd, and h2 over TLS for FCM), one per section; every message
# is a request to them, so they are the ceiling here. 4 workers, $channel_records records.
if want smtp; then
    sdir=$(mktemp -d "$BENCH_DIR/syncline-smtp-bench-XXXXXX")
    sport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    /usr/bin/python3 tests/support/smtp_receiver.py "$sdir" "$sport" >"$sdir/server.log" 2>&1 &
    smtp_pid=$!
    cleanups+=('kill $smtp_pid 2>/dev/null; wait $smtp_pid 2>/dev/null; rm -rf "$sdir"')
    for _ in $(seq 100); do [[ -e "$sdir/ready" ]] && break; sleep 0.1; done
    echo "## SMTP: $channel_records records, tests/support/smtp_receiver.py (aiosmtpd) on 127.0.0.1:$sport"
    echo
    throughput_header
    for mode in record digest; do
        run_throughput "smtp://127.0.0.1:$sport?from=bench@example.com&to={collection}@example.com&subject={op}%20{key}&mode=$mode&starttls=never" \
            "$channel_records" 4 | sed "s/^| smtp:[^|]*|/| smtp: mode=$mode |/"
    done
    echo
    echo "receiver stored $(ls "$sdir/mail" | grep -c '\.eml$') messages"
    echo
fi
if want push; then
    pdir=$(mktemp -d "$BENCH_DIR/syncline-push-bench-XXXXXX")
    pport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pdir/key.pem" \
        -out "$pdir/cert.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pdir/apns.p8" 2>/dev/null
    openssl pkey -in "$pdir/apns.p8" -pubout -out "$pdir/apns.pub" 2>/dev/null
    echo bench-token >"$pdir/fcm.token"
    /usr/bin/python3 tests/support/push_receiver.py --port "$pport" --cert "$pdir/cert.pem" --key "$pdir/key.pem" \
        --log "$pdir/requests.log" --fcm-token bench-token --apns-public-key "$pdir/apns.pub" \
        --apns-key-id KEYID12345 --apns-team-id TEAMID6789 >"$pdir/server.log" 2>&1 &
    push_pid=$!
    cleanups+=('kill $push_pid 2>/dev/null; wait $push_pid 2>/dev/null; rm -rf "$pdir"')
    for _ in $(seq 100); do grep -q "listening on" "$pdir/server.log" 2>/dev/null && break; sleep 0.1; done
    echo "## Push (FCM HTTP v1): $channel_records records, tests/support/push_receiver.py (h2 over TLS) on 127.0.0.1:$pport"
    echo
    throughput_header
    run_throughput "fcm://bench?token_file=$pdir/fcm.token&device_token={key}&title={collection}&body={op}&endpoint=https://127.0.0.1:$pport&ca_file=$pdir/cert.pem&timeout_ms=30000" \
        "$channel_records" 4 | sed "s/^| fcm:[^|]*|/| fcm: |/"
    echo
    echo "receiver logged $(wc -l <"$pdir/requests.log") requests"
    echo
fi
echo "load average after: $(load)"

if [[ -n "$results" ]]; then
    exec >&3 3>&-
    wait "$tee_pid"
    # This run last: latency_histogram.png shows the last file given that has a histogram.
    plots=()
    for f in bench/results/*.md; do [[ "$f" -ef "$results" ]] || plots+=("$f"); done
    plots+=("$results")
    bench/plot_benchmarks.sh --out docs/img "${plots[@]}"
    # The real targets of this run next to their own limits (docs/img/targets.png), if it has any.
    if grep -qE '^\| (sqlite|redis|postgresql|mysql|http|smtp[^|]*|fcm): \|' "$results"; then
        bench/plot_targets.sh --out docs/img/targets.png "$results"
    fi
fi
