#!/usr/bin/env bash
# Run every Steward test, starting what the tests need first.
#
#   ./deploy/test.sh            all tests, SQLite and PostgreSQL
#   ./deploy/test.sh -p steward-policies   any extra arguments go to `cargo test`
#
# PostgreSQL: the tests use STEWARD_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test), each test in a schema (or, for the migration's
# data copy, a database) of its own. If no server answers there and a local cluster is
# installed, it is started; a test that needs it fails when it still does not answer.
# The migration's data copy runs the real pg_dump and pg_restore (and the benchmark
# pgbench): Debian's postgresql-client is installed when they are missing.
#
# AWS: the AWS provider's and the migration's tests run the real SDK against moto server
# (PyPI `moto[server]`, pinned below), installed once into a virtual environment under
# ${STEWARD_CACHE:-~/.cache/steward} and started here on a free loopback port
# (STEWARD_TEST_AWS_ENDPOINT), fresh for every run, and stopped afterwards. Set
# STEWARD_TEST_AWS_ENDPOINT yourself to use an emulator you run; a test that needs one
# fails without it.
set -euo pipefail
cd "$(dirname "$0")/.."

export STEWARD_TEST_DATABASE_URL="${STEWARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
  echo "test.sh: installing the PostgreSQL client tools (pg_dump, pg_restore)"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq postgresql-client >/dev/null
fi

pg_up() { pg_isready -d "$STEWARD_TEST_DATABASE_URL" -q 2>/dev/null; }
if command -v pg_isready >/dev/null && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test.sh: starting the local PostgreSQL cluster"
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || echo "test.sh: no PostgreSQL at $STEWARD_TEST_DATABASE_URL; the tests that need it will fail"
fi

MOTO_VERSION=5.2.5
if [ -z "${STEWARD_TEST_AWS_ENDPOINT:-}" ]; then
  cache="${STEWARD_CACHE:-$HOME/.cache/steward}"
  venv="$cache/moto-$MOTO_VERSION"
  if ! "$venv/bin/python" -c "import moto.server" 2>/dev/null; then
    echo "test.sh: installing moto[server]==$MOTO_VERSION into $venv (once)"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$cache/moto-server.log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null && break
    sleep 0.2
  done
  export STEWARD_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
  # Emulator credentials, and no instance-metadata lookups, whatever this shell holds.
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
  unset AWS_SESSION_TOKEN AWS_PROFILE
  echo "test.sh: moto server $MOTO_VERSION at $STEWARD_TEST_AWS_ENDPOINT"
fi

cargo test --workspace "$@"
