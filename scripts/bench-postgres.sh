#!/usr/bin/env bash
# Part of `make bench`: the PostgreSQL 15 selector baseline. Starts Debian's PostgreSQL on
# 127.0.0.1 (port BENCH_PG_PORT, default 5442) in a temporary folder under .run/, runs
# Tests/Benchmarks/baseline_postgres.py with the bench's virtualenv, appends its facts to
# $1 (JSON lines), and removes the cluster again.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
facts=$1
hosts=${BENCH_HOSTS:-100000}
repeats=${BENCH_PG_REPEATS:-50}
port=${BENCH_PG_PORT:-5442}
venv=$FLEET_RUN_DIR/bench-venv
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { log "PostgreSQL is not installed (scripts/bench.sh installs it)"; exit 1; }
"$venv/bin/python" -c "import psycopg" 2>/dev/null || "$venv/bin/pip" install -q "psycopg[binary]"

data=$(mktemp -d "$FLEET_RUN_DIR/bench-pg.XXXXXX")
# PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$data"
  as_owner=(runuser -u postgres --)
fi
cleanup() {
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$data/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
"${as_owner[@]}" "$pgbin/initdb" -D "$data/db" -U bench --auth=trust >/dev/null
"${as_owner[@]}" "$pgbin/pg_ctl" -D "$data/db" -l "$data/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c shared_buffers=256MB -c work_mem=64MB -c fsync=off" start >/dev/null
"$venv/bin/python" "$FLEET_ROOT/Tests/Benchmarks/baseline_postgres.py" \
  "host=127.0.0.1 port=$port user=bench dbname=postgres" "$hosts" "$repeats" >> "$facts"
