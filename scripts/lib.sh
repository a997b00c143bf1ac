# Shared by the scripts in scripts/: where things live and small helpers.
# Sourced, not executed.

PS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Git-ignored folders: downloaded jars, and the state of local services.
PS_CACHE_DIR=${PAYSTREAM_CACHE_DIR:-$PS_ROOT/.cache}
PS_RUN_DIR=${PAYSTREAM_RUN_DIR:-$PS_ROOT/.run}
PS_BUILD_DIR=${PAYSTREAM_BUILD_DIR:-$PS_ROOT/build}
PS_KAFKA_LIBS=$PS_CACHE_DIR/kafka-libs

ps_say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
ps_die() { ps_say "$*"; exit 1; }

# The PostgreSQL server binaries of the newest installed major version.
ps_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || return 1
    printf '%s\n' "$d"
}
