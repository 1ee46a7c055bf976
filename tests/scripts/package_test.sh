#!/usr/bin/env bash
# The Debian package as an operator meets it (issue 18): build it with CPack, check its contents
# and dependencies, verify its systemd units, install it with dpkg, run a pipeline from
# /etc/syncline/pipelines with the installed binaries exactly as syncline-pipeline@.service runs
# it (its ExecStart, as its User=, in its WorkingDirectory=; stopped with its KillSignal), then
# purge it and check that nothing is left.
# What a container cannot do: start the unit through systemd (no systemd as PID 1 here), so the
# unit's command line is run by this script instead; `systemd-analyze verify` still checks the
# units. Needs root (dpkg -i); exits 77 (ctest: skipped) when not root, on a sanitizer build, or
# when a syncline package or user already exists on this machine (never replaced by a test).
# Usage: tests/scripts/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to install a package"
command -v dpkg >/dev/null && command -v cpack >/dev/null || skip "needs dpkg and cpack"
grep -q '^SYNCLINE_SANITIZE:STRING=.\+' "$build/CMakeCache.txt" && skip "the package is built from the plain build, not a sanitizer build"
if dpkg-query -W -f='${Status}' syncline 2>/dev/null | grep -q installed; then skip "a syncline package is installed already"; fi
getent passwd syncline >/dev/null && skip "a syncline user exists already"
[ -e /var/lib/syncline ] && skip "/var/lib/syncline exists already"
[ -e /etc/syncline ] && skip "/etc/syncline exists already"

dir=$(mktemp -d "${TMPDIR:-/tmp}/syncline-package-XXXXXX")
chmod 755 "$dir"
installed=0
runner_pid=""
cleanup() {
  [ -n "$runner_pid" ] && kill -KILL "$runner_pid" 2>/dev/null || true
  if [ "$installed" = 1 ]; then
    # Leave the machine as it was: whatever this test left behind goes.
    for f in /var/lib/syncline/state/*.run/*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true; done
    rm -rf /var/lib/syncline /etc/syncline
    dpkg --purge syncline >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in /var/lib/syncline/state/*.run/*.log "$dir"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}

# 1. Build the package: what `cmake --build BUILD --target package` runs (cpack builds `all`
#    first, a no-op when the suite's build is up to date), into a temporary directory.
(cd "$dir" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$dir/out") >"$dir/cpack.log" 2>&1 \
  || fail "cpack failed: $(tail -n 5 "$dir/cpack.log")"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
deb=$dir/out/syncline_${version}_amd64.deb
[ -f "$deb" ] || fail "expected $deb, got: $(ls "$dir/out")"

# 2. Contents and metadata.
dpkg-deb -c "$deb" | awk '{print $NF}' >"$dir/contents"
for f in ./usr/bin/syncline ./usr/bin/syncline-sink ./usr/bin/syncline-worker ./usr/bin/syncline-ventilator \
         ./lib/systemd/system/syncline-pipeline@.service ./lib/systemd/system/syncline-gateway.service \
         ./lib/systemd/system/syncline-capture@.service \
         ./usr/share/doc/syncline/help/syncline.txt ./usr/share/doc/syncline/help/syncline-sink.txt \
         ./usr/share/doc/syncline/operations.md ./usr/share/doc/syncline/copyright \
         ./usr/share/doc/syncline/examples/example.ini \
         ./usr/share/syncline/grafana/syncline.json ./usr/share/syncline/prometheus/alerts.yml; do
  grep -qxF "$f" "$dir/contents" || fail "$f is not in the package"
done
grep -v '/$' "$dir/contents" | grep -v -E '^\./(usr/bin|usr/share/doc/syncline|usr/share/syncline|lib/systemd/system)/' \
  >"$dir/stray" && fail "files outside the expected directories: $(head -5 "$dir/stray")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libzmq5 librocksdb libsqlite3 libpq5; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
[[ $depends == *"-dev"* ]] && fail "Depends names a -dev package: $depends"
info=$(dpkg-deb -I "$deb")
for script in postinst prerm postrm; do [[ $info == *" $script "* ]] || fail "no $script in the package"; done

# 3. Install. The units must verify with the installed binaries in place.
dpkg -i "$deb" >"$dir/dpkg.log" 2>&1 || { installed=1; fail "dpkg -i failed: $(tail -n 5 "$dir/dpkg.log")"; }
installed=1
getent passwd syncline >/dev/null || fail "postinst did not create the syncline user"
[ "$(stat -c %U:%a /var/lib/syncline)" = "syncline:750" ] || fail "/var/lib/syncline is $(stat -c %U:%a /var/lib/syncline)"
[ -d /etc/syncline/pipelines ] || fail "postinst did not create /etc/syncline/pipelines"
/usr/bin/syncline --version | grep -qx "syncline $version" || fail "installed syncline --version: $(/usr/bin/syncline --version)"
grep -q "==== syncline run ====" /usr/share/doc/syncline/help/syncline.txt || fail "syncline.txt lacks the run command's --help"
if command -v systemd-analyze >/dev/null; then
  units=$dir/units
  mkdir -p "$units"
  cp /lib/systemd/system/syncline-pipeline@.service "$units/syncline-pipeline@pkgtest.service"
  for unit in syncline-gateway.service syncline-capture@.service; do
    # The gateway and capture binaries come with their own branches (issues 14, 15): until they are
    # installed, the unit is verified with its ExecStart pointed at an installed program.
    program=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "/lib/systemd/system/$unit")
    target=$units/${unit/@./@pkgtest.}
    if [ -x "$program" ]; then cp "/lib/systemd/system/$unit" "$target"
    else sed "s|^ExecStart=$program|ExecStart=/usr/bin/syncline|" "/lib/systemd/system/$unit" >"$target"
      echo "note: $program is not built here; $unit verified with ExecStart=/usr/bin/syncline"; fi
  done
  for u in "$units"/*.service; do
    out=$(systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify $u: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $u warns: $out"
  done
fi

# 4. A pipeline from /etc/syncline, run as syncline-pipeline@pkgtest.service runs it.
cp /usr/share/doc/syncline/examples/example.ini /etc/syncline/pipelines/pkgtest.ini
sed -i 's/^pipeline = .*/pipeline = pkgtest/; s/^metrics-listen = .*/metrics-listen = 127.0.0.1:0/' /etc/syncline/pipelines/pkgtest.ini
unit=/lib/systemd/system/syncline-pipeline@.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | sed 's/%i/pkgtest/g')
user=$(sed -n 's/^User=//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
as_unit() { (cd "$workdir" && exec setpriv --reuid "$user" --regid "$user" --clear-groups --no-new-privs "$@"); }
as_unit /usr/bin/syncline config check /etc/syncline/pipelines/pkgtest.ini >"$dir/check.log" 2>&1 \
  || fail "config check of the example: $(cat "$dir/check.log")"
as_unit /usr/bin/syncline generate --log log --records 2000 --keys 500 >/dev/null 2>&1 || fail "generate as $user failed"
# shellcheck disable=SC2086
(cd "$workdir" && exec setpriv --reuid "$user" --regid "$user" --clear-groups --no-new-privs $exec_start) >"$dir/unit.log" 2>&1 &
runner_pid=$!
committed() { /usr/bin/syncline offsets show --state /var/lib/syncline/state --pipeline pkgtest --json 2>/dev/null | sed -n 's/.*"committed":\([0-9]*\).*/\1/p'; }
for _ in $(seq 1 600); do [ "$(committed)" = 2000 ] && break; kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
[ "$(committed)" = 2000 ] || fail "the unit's pipeline committed $(committed), expected 2000"
# systemd stops it with KillSignal=SIGTERM to the main process (KillMode=mixed): drain, exit 0.
kill -TERM "$runner_pid"
set +e; wait "$runner_pid"; code=$?; set -e
runner_pid=""
[ "$code" = 0 ] || fail "syncline run exited $code on SIGTERM"
owner=$(stat -c %U /var/lib/syncline/state/pkgtest.run/sink.log)
[ "$owner" = syncline ] || fail "the pipeline's files belong to $owner"
(cd /var/lib/syncline && /usr/bin/syncline verify --log log --state state --pipeline pkgtest --target sqlite:example.db) \
  >"$dir/verify.log" 2>&1 || fail "verify: $(tail -n 3 "$dir/verify.log")"

# 5. Purge: the operator's data goes first (the package never deletes a change log), then nothing
#    of the package may remain. The database's files include SQLite's -wal/-shm and the pipeline's
#    writer slot (example.db.syncline-PIPELINE.writer, docs/targets/sqlite.md).
rm -rf /var/lib/syncline/log /var/lib/syncline/state /var/lib/syncline/example.db* /etc/syncline/pipelines/pkgtest.ini
dpkg --purge syncline >"$dir/purge.log" 2>&1 || fail "dpkg --purge failed: $(cat "$dir/purge.log")"
installed=0
dpkg-query -W -f='${Status}' syncline 2>/dev/null | grep -q installed && fail "still installed after purge"
getent passwd syncline >/dev/null && fail "user syncline left after purge"
getent group syncline >/dev/null && fail "group syncline left after purge"
for p in /usr/bin/syncline /lib/systemd/system/syncline-pipeline@.service /usr/share/doc/syncline /etc/syncline /var/lib/syncline; do
  [ -e "$p" ] && fail "$p left after purge"
done
echo "1 passed, 0 failed"
