#!/usr/bin/env bash
# The demo: builds if needed, creates a change log of sample records, runs a pipeline (sink,
# ventilator, 4 workers) into an embedded SQLite database with live progress, and verifies
# that the database equals the state the log defines.
# Usage: scripts/demo.sh [RECORDS]   (default 1,000,000; env DEMO_DIR, default ./demo-run)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
dir=${DEMO_DIR:-$PWD/demo-run}

scripts/setup.sh >/dev/null
bin=$PWD/build/bin
rm -rf "$dir"
mkdir -p "$dir"

echo "== 1. a change log with $records sample records (3 collections, upserts and deletes, 100k keys)"
"$bin/syncline" generate --log "$dir/log" --records "$records" --keys 100000
"$bin/syncline" log stats --log "$dir/log"

echo
echo "== 2. the pipeline: sink + ventilator + 4 workers -> sqlite:$dir/demo.db"
echo "   (one worker writes the SQLite file, the other three stand by to take over: docs/targets/sqlite.md)"
"$bin/syncline" run --log "$dir/log" --state "$dir/state" --pipeline demo --target "sqlite:$dir/demo.db" \
  --workers 4 --until-caught-up --progress

echo
echo "== 3. verification: the SQLite tables against the log"
"$bin/syncline" verify --log "$dir/log" --state "$dir/state" --pipeline demo --target "sqlite:$dir/demo.db"

echo
echo "== the tables (query them yourself: sqlite3 $dir/demo.db)"
for table in $(sqlite3 "$dir/demo.db" "select name from sqlite_master where type='table' order by name"); do
  sqlite3 "$dir/demo.db" "select '$table: ' || sum(deleted = 0) || ' live rows, ' || sum(deleted) || ' tombstones' from \"$table\""
done
