#!/usr/bin/env bash
# bench/plot_benchmarks.sh: draws the tables bench/run_benchmarks.sh prints (markdown) as PNGs:
#   OUT_DIR/throughput.png  records/s vs workers, one panel per target, one line per results file
#                           (solid: end to end from process start; dashed: after the first commit)
#   OUT_DIR/latency.png     commit latency p50 / p99 / max per target and offered rate
#   OUT_DIR/latency_histogram.png  share of appends per latency bin, one line per latency row, from
#                           the last RESULTS.md with a "Latency histogram" table
#
#   bench/plot_benchmarks.sh [--out DIR] RESULTS.md...     (default DIR: docs/img)
#
# Each RESULTS.md is one run (its file name, minus .md, labels it): the output of
# run_benchmarks.sh, or a transcription in the same table format (bench/results/*.md).
# "-" marks a value the run did not record. Needs gnuplot (scripts/setup.sh installs gnuplot-nox).
set -euo pipefail

out_dir=docs/img
files=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out_dir=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "plot_benchmarks.sh: unknown option $1" >&2; exit 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[[ ${#files[@]} -gt 0 ]] || { echo "usage: bench/plot_benchmarks.sh [--out DIR] RESULTS.md..." >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot_benchmarks.sh: gnuplot not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Rows of the markdown table under the heading starting with $2, as tab-separated cells with
# thousands separators removed.
table_rows() {  # file heading
    awk -v heading="$2" '
        /^## / { inside = index($0, "## " heading) == 1; next }
        inside && /^\|/ && !/^\|---/ && !/^\| target/ {
            line = $0; gsub(/,/, "", line); sub(/^\| */, "", line); sub(/ *\|$/, "", line)
            gsub(/ *\| */, "\t", line); print line
        }' "$1"
}

# --- throughput: one data file per (run, target), columns workers, end to end, after first commit
targets=()
for f in "${files[@]}"; do
    run=$(basename "$f" .md)
    while IFS=$'\t' read -r target workers _records _seconds rate _first steady _rest; do
        [[ " ${targets[*]} " == *" $target "* ]] || targets+=("$target")
        printf '%s %s %s\n' "$workers" "$rate" "$steady" >>"$work/tp-$run-${target%:}.dat"
    done < <(table_rows "$f" "Pipeline throughput")
done

{
    echo "set terminal pngcairo size $((520 * ${#targets[@]})),420 font 'sans,10'"
    echo "set output '$out_dir/throughput.png'"
    echo "set datafile missing '-'"
    echo "set multiplot layout 1,${#targets[@]} title 'syncline pipeline throughput, process start to all committed (bench/pipeline\\_bench)'"
    echo "set xlabel 'workers'; set ylabel 'records/s'; set xtics (1, 2, 4); set xrange [0.7:4.3]"
    echo "set yrange [0:*]; set grid ytics; set key bottom right font ',8'; set format y '%.1s%c'"
    for target in "${targets[@]}"; do
        echo "set title '${target}'"
        plots=()
        style=1
        for f in "${files[@]}"; do
            run=$(basename "$f" .md)
            dat="$work/tp-$run-${target%:}.dat"
            [[ -f "$dat" ]] || continue
            plots+=("'$dat' using 1:2 with linespoints lt $style lw 2 pt 7 title '${run//_/\\_} end to end'")
            plots+=("'$dat' using 1:3 with linespoints lt $style lw 1 dt 2 pt 6 title '${run//_/\\_} after 1st commit'")
            style=$((style + 1))
        done
        (IFS=,; echo "plot ${plots[*]}")
    done
    echo "unset multiplot"
} >"$work/throughput.gp"
[[ ${#targets[@]} -gt 0 ]] && gnuplot "$work/throughput.gp"

# --- latency: one row per (run, target, offered rate): label p50 p99 max
for f in "${files[@]}"; do
    run=$(basename "$f" .md)
    while IFS=$'\t' read -r target workers offered _achieved _appends p50 p99 max _rest; do
        [[ "$offered" == 0 ]] && continue  # The idle row (CPU use only).
        printf '"%s %s/s, %s w\\n%s" %s %s %s\n' "$target" "$offered" "$workers" "$run" "$p50" "$p99" "$max" >>"$work/latency.dat"
    done < <(table_rows "$f" "Commit latency")
done
if [[ -s "$work/latency.dat" ]]; then
    rows=$(wc -l <"$work/latency.dat")
    gnuplot <<EOF
set terminal pngcairo size $((260 + 190 * rows)),420 font 'sans,10'
set output '$out_dir/latency.png'
set datafile missing '-'
set title 'commit latency, append -> committed (bench/pipeline\_bench --latency)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'ms'; set yrange [0:*]; set grid ytics; set key outside right top
set xtics font ',8' noenhanced
plot '$work/latency.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'max'
EOF
fi
# --- latency histogram: the last file that has one; columns: bin upper bound, then one per series
hist_file=""
for f in "${files[@]}"; do grep -q '^## Latency histogram' "$f" && hist_file=$f; done
if [[ -n "$hist_file" ]]; then
    table_rows "$hist_file" "Latency histogram" | sed 's/^more\t/2000\t/' >"$work/hist.dat"
    mapfile -t series < <(awk '/^## Latency histogram/ { inside = 1; next }
        inside && /^\| bin upper/ { n = split($0, c, "|"); for (i = 3; i < n; ++i) { gsub(/^ +| +$/, "", c[i]); print c[i] }; exit }' "$hist_file")
    plots=(); cumulative=()
    for i in "${!series[@]}"; do
        style="lt $((i + 1))"; [[ "${series[$i]}" == baseline* ]] && style+=" dt 2"
        plots+=("'$work/hist.dat' using 1:$((i + 2)) with linespoints $style lw 2 pt 7 ps 0.6 title '${series[$i]}'")
        cumulative+=("'$work/hist.dat' using 1:$((i + 2)) smooth cumulative with lines $style lw 2 title '${series[$i]}'")
    done
    {
        echo "set terminal pngcairo size 1300,480 font 'sans,10'"
        echo "set output '$out_dir/latency_histogram.png'"
        echo "set multiplot layout 1,2 title 'append -> committed latency, 2 workers ($(basename "$hist_file" .md | sed 's/_/\\_/g'))'"
        echo "set logscale x; set xrange [0.2:2500]; set xtics (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, '>1000' 2000)"
        echo "set grid; set key noenhanced; set xlabel 'latency, ms (log scale)'"
        echo "set title 'share of appends per bin (a bin ends at its x value)'"
        echo "set ylabel '% of appends'; set yrange [0:*]; set key top right"
        (IFS=,; echo "plot ${plots[*]}")
        echo "set title 'cumulative: % of appends committed within x ms'"
        echo "set yrange [0:100]; set ytics 10; set key bottom right"
        (IFS=,; echo "plot ${cumulative[*]}")
        echo "unset multiplot"
    } >"$work/hist.gp"
    gnuplot "$work/hist.gp"
fi
echo "wrote$([[ ${#targets[@]} -gt 0 ]] && echo " $out_dir/throughput.png")$([[ -s "$work/latency.dat" ]] && echo " $out_dir/latency.png")$([[ -n "$hist_file" ]] && echo " $out_dir/latency_histogram.png")" >&2
