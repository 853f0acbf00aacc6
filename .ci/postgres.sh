#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the `postgres` tests and print the URL to use.
#
#   eval "$(.ci/postgres.sh)"          # installs (apt, as root) if needed, starts, exports the URL
#   .ci/postgres.sh stop               # stops it and deletes its data directory
#
# stdout carries only the `export ANNOTATOR_TEST_PG_URL=...` line; progress goes to stderr.
# The server listens on 127.0.0.1 only (port ANNOTATOR_PG_PORT, default 55432), trusts local
# connections, and keeps its data in ANNOTATOR_PG_DIR (default /tmp/annotator-pg): test data only.
set -euo pipefail

PORT="${ANNOTATOR_PG_PORT:-55432}"
DATA="${ANNOTATOR_PG_DIR:-/tmp/annotator-pg}"
DB="annotator_test"
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

BIN="$(find_bindir || true)"
if [ -z "$BIN" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing postgresql with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    BIN="$(find_bindir)"
  else
    log "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)"
    exit 1
  fi
fi

# initdb and postgres refuse to run as root: use the postgres account the package created.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DATA" postgres
  as_pg() { runuser -u postgres -- "$@"; }
  mkdir -p "$DATA"
  chown postgres "$DATA"
else
  as_pg() { "$@"; }
  mkdir -p "$DATA"
fi

if [ "${1:-start}" = stop ]; then
  if [ -f "$DATA/pgdata/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA/pgdata" -m fast -w stop >&2
  fi
  rm -rf "$DATA"
  exit 0
fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -f "$DATA/pgdata/PG_VERSION" ]; then
    log "initdb in $DATA/pgdata"
    as_pg "$BIN/initdb" -D "$DATA/pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$DATA/pgdata" -l "$DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c full_page_writes=off" \
    start >&2
fi

if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'" postgres | grep -q 1; then
  "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi
echo "export ANNOTATOR_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"
