#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and local runs, without systemd.
#   deploy/postgres.sh start [DIR] [PORT]   prints the connection string on stdout; the PID is in DIR/postmaster.pid
#   deploy/postgres.sh stop  [DIR]
# Installs the Debian package when PostgreSQL is missing (announcing it).
set -euo pipefail
cmd="${1:-start}"
dir="${2:-/tmp/litevl-postgres}"
port="${3:-55432}"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ]; then
    echo "PostgreSQL is not installed; installing it: apt-get install -y postgresql" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "$cmd" in
  start)
    bin=$(pg_bin)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
      chmod 700 "$dir"
      as_postgres "'$bin/initdb' -D '$dir' -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    if ! as_postgres "'$bin/pg_ctl' -D '$dir' status >/dev/null 2>&1"; then
      as_postgres "'$bin/pg_ctl' -D '$dir' -l '$dir/server.log' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" -w start >/dev/null"
    fi
    echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
    ;;
  stop)
    bin=$(pg_bin)
    if [ -f "$dir/postmaster.pid" ]; then
      as_postgres "'$bin/pg_ctl' -D '$dir' -m fast -w stop >/dev/null" || kill "$(head -n 1 "$dir/postmaster.pid")" 2>/dev/null || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop [DIR] [PORT]" >&2
    exit 2
    ;;
esac
