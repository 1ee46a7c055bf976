#!/usr/bin/env bash
# bench/plot_targets.sh: draws the real targets of a bench/run_benchmarks.sh run (issue 16,
# docs/benchmarks.md "Targets at their own limits") as one PNG: per target, the pipeline's
# records/s end to end with 1, 2 and 4 workers next to the target's own limit measured in the
# same run (the best row of its baseline section: sqlite_baseline, redis_baseline and
# redis-benchmark, postgres_baseline, mariadb_baseline, webhook_baseline). Log scale.
#
#   bench/plot_targets.sh [--out FILE.png] RESULTS.md...    (default: docs/img/targets.png)
#
# RESULTS.md: run_benchmarks.sh's output (several files are read as one run, in order; a later
# value replaces an earlier one). Needs gnuplot (scripts/setup.sh installs gnuplot-nox).
set -euo pipefail

out=docs/img/targets.png
files=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) echo "plot_targets.sh: unknown option $1" >&2; exit 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[[ ${#files[@]} -gt 0 ]] || { echo "usage: bench/plot_targets.sh [--out FILE.png] RESULTS.md..." >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot_targets.sh: gnuplot not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT

# One line per target: name, 1 / 2 / 4 workers, own limit ("-" where the run has none).
awk -F'|' '
    function trim(s) { gsub(/^[ \t`]+|[ \t`]+$/, "", s); return s }
    function limit(kind, v) { v += 0; if (v > best[kind]) best[kind] = v }
    /^## / {
        section = $0
        kind = ""
        if (section ~ /^## SQLite alone/) kind = "sqlite"
        else if (section ~ /^## Redis alone/) kind = "redis"
        else if (section ~ /^## PostgreSQL alone/) kind = "postgresql"
        else if (section ~ /^## MariaDB alone/) kind = "mysql"
        else if (section ~ /^## Webhook/) kind = "http"
        next
    }
    /^\| (sqlite|redis|postgresql|mysql|http|fcm|smtp)[^|]*:[^|]*\|/ {
        t = trim($2); sub(/:.*/, "", t)
        if (t == "smtp" && $2 !~ /record/) next
        rate[t "," trim($3)] = trim($6); seen[t] = 1
        next
    }
    /requests per second/ && section ~ /^## Redis/ { match($0, /[0-9.]+ requests per second/); limit("redis", substr($0, RSTART)); next }
    kind == "sqlite" && /^\| [0-9]/ { limit(kind, trim($6)); next }
    kind == "redis" && /^\| plain HSET/ { limit(kind, trim($5)); next }
    (kind == "postgresql" || kind == "mysql") && /^\| [a-z]+ \| [0-9]/ { limit(kind, trim($6)); next }
    kind == "http" && /^\| (webhook|http)_baseline/ { limit(kind, trim($6)); next }
    END {
        n = split("sqlite redis postgresql mysql http smtp fcm", order, " ")
        for (i = 1; i <= n; ++i) {
            t = order[i]
            if (!(t in seen)) continue
            printf "%s", (t == "mysql" ? "mariadb" : t == "http" ? "webhook" : t == "smtp" ? "smtp(record)" : t)
            split("1 2 4", ws, " ")
            for (j = 1; j <= 3; ++j) { k = t "," ws[j]; printf "\t%s", (k in rate ? rate[k] : "-") }
            printf "\t%s\n", (best[t] > 0 ? best[t] : "-")
        }
    }' "${files[@]}" >"$data"
[[ -s "$data" ]] || { echo "plot_targets.sh: no target rows in ${files[*]}" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
gnuplot <<EOF
set terminal pngcairo size 1000,520 font ",10"
set output "$out"
set title "Real targets: pipeline (records/s end to end, 1/2/4 workers) next to the target's own limit, same run"
set datafile missing "-"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [500:*]
set ylabel "records/s (log)"
set grid ytics
set key top right
plot "$data" using 2:xtic(1) title "1 worker", '' using 3 title "2 workers", '' using 4 title "4 workers", \
     '' using 5 title "own limit (best single client)"
EOF
echo "plot_targets.sh: wrote $out" >&2
