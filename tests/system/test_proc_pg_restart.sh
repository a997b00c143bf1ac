#!/usr/bin/env bash
# System test: PostgreSQL restarted under a running processor. So as not to
# disturb the shared services, it starts a private PostgreSQL 15 cluster on
# port 25432 under a temporary directory (as the postgres user when run as
# root), runs the "restart" mode of tests/integration/test_proc_loop.c against
# it with a restart command that stops the server for 3 seconds mid-run, and
# removes the cluster at the end. Nothing may be lost or doubled.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
port=${PROC_TEST_PG_PORT:-25432}
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/proc_pg_restart.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
cleanup() {
    as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
as_pg "$bindir/initdb" -D "$work/data" -U postgres -A trust >/dev/null
as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
export PAYSTREAM_TEST_PG="host=127.0.0.1 port=$port dbname=postgres user=postgres"
export PROC_FAULT_RESTART_CMD="runuser -u postgres -- $bindir/pg_ctl -D $work/data -m fast -w stop >/dev/null && sleep 3 && runuser -u postgres -- $bindir/pg_ctl -D $work/data -l $work/log -w -o '-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off' start >/dev/null"
[ "$(id -u)" -eq 0 ] || PROC_FAULT_RESTART_CMD=${PROC_FAULT_RESTART_CMD//runuser -u postgres -- /}
"$PAYSTREAM_BUILD_DIR/tests/test_proc_loop" restart
