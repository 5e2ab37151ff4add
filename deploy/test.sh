#!/usr/bin/env bash
# Run every Steward test, starting what the tests need first.
#
#   ./deploy/test.sh            all tests, SQLite and PostgreSQL
#   ./deploy/test.sh -p steward-policies   any extra arguments go to `cargo test`
#
# PostgreSQL: the tests use STEWARD_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test), each test in a schema of its own. If no server
# answers there and a local cluster is installed, it is started. Under CI=true a missing
# server fails the PostgreSQL tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

export STEWARD_TEST_DATABASE_URL="${STEWARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

pg_up() { pg_isready -d "$STEWARD_TEST_DATABASE_URL" -q 2>/dev/null; }
if command -v pg_isready >/dev/null && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test.sh: starting the local PostgreSQL cluster"
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || echo "test.sh: no PostgreSQL at $STEWARD_TEST_DATABASE_URL; its tests are skipped (they fail under CI=true)"
fi

exec cargo test --workspace "$@"
