#!/usr/bin/env bash
# Make sure the local Postgres and Redis answer, starting them if they are down, and that the
# application database exists. Safe to run any number of times.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
DB_NAME=${DB_NAME:-rxrevops}
export PGHOST PGPORT PGUSER

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  echo "Postgres is down: starting it"
  for v in /etc/postgresql/*; do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -h "$PGHOST" -p "$PGPORT" || { echo "Postgres did not start" >&2; exit 1; }
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Redis is down: starting it"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/rxrevops-redis.log"
  for _ in $(seq 1 20); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
  redis-cli ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }
fi

if [ "$(psql -tAc "SELECT 1 FROM pg_database WHERE datname='${DB_NAME}'" postgres)" != "1" ]; then
  echo "Creating database ${DB_NAME}"
  createdb "$DB_NAME"
fi
