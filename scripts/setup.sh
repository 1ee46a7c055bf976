#!/usr/bin/env bash
# Installs what syncline needs on Debian 12 (when missing) and builds it into build/ with -j2.
# Usage: scripts/setup.sh [--build-type RelWithDebInfo|Debug|Release] [--sanitize address,undefined] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

build_type=RelWithDebInfo
sanitize=""
build_dir=build
while [ $# -gt 0 ]; do
  case "$1" in
    --build-type) build_type=$2; shift 2 ;;
    --sanitize) sanitize=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

packages=(cmake g++ make pkg-config ccache
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev librocksdb-dev libboost-program-options-dev
  libgtest-dev libsqlite3-dev sqlite3 nlohmann-json3-dev python3
  libpq-dev postgresql redis-server libhiredis-dev libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  gnuplot-nox iproute2
  libmariadb-dev mariadb-server libnats-dev nats-server librabbitmq-dev rabbitmq-server
  python3-aiosmtpd python3-h2 python3-cryptography openssl
  libsimdjson-dev python3-zmq liblua5.4-dev
  dpkg-dev systemd prometheus chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A sanitizer build exists to run the suite: it skips the benchmarks (and compiles lean, -O1 -g1:
# cmake/syncline.cmake). ccache (installed above) serves repeated builds, also from fresh clones.
bench=ON
[ -z "$sanitize" ] || bench=OFF
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DSYNCLINE_SANITIZE="$sanitize" \
  -DSYNCLINE_BUILD_BENCH="$bench" >/dev/null
cmake --build "$build_dir" -j2
