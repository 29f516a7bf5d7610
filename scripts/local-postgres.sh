#!/usr/bin/env bash
# A local PostgreSQL for the shared truths store, from the Debian server binaries (no docker):
#   bash scripts/local-postgres.sh start   # prints the DSN to export as XLR8_POSTGRES_DSN
#   bash scripts/local-postgres.sh stop
# Data lives in .xlr8/pg (override with XLR8_PG_DIR); port 55432 (XLR8_PG_PORT). Trust auth on 127.0.0.1 only:
# a development store, not a production server.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${XLR8_PG_DIR:-$PWD/.xlr8/pg}"
port="${XLR8_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ]; then
  echo "PostgreSQL server binaries missing: XLR8_NEED_POSTGRES=1 bash scripts/bootstrap.sh" >&2
  exit 1
fi
as=()
if [ "$(id -u)" = "0" ]; then as=(runuser -u postgres --); fi
case "${1:-start}" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U xlr8 >/dev/null
    fi
    if ! "${as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    fi
    echo "postgresql://xlr8@127.0.0.1:$port/postgres"
    ;;
  stop)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null && echo "stopped"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
