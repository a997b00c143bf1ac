#!/usr/bin/env bash
# Smoke test of the benchmarks (bench/): they are not run by the suite at
# their real sizes, so this runs each one tiny against the real services and
# checks that it still works end to end and that its last line is the JSON
# object with the figures its issue names. It asserts that the figures are
# there and positive, never their size: performance is measured in bench/.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
: "${PAYSTREAM_TEST_PG:?is not set: start the services with scripts/services start and source .run/env}"
: "${PAYSTREAM_BUILD_DIR:?is not set (ctest sets it)}"
src=${PAYSTREAM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d)
. "$(dirname "$0")/../check.sh"
trap 'rm -rf "$work"' EXIT
# has_keys FILE KEY...: the last line is one JSON object with every KEY.
has_keys() {
    local f=$1 last; shift
    last=$(tail -n 1 "$f")
    [[ $last == \{*\} ]] || return 1
    for k in "$@"; do [[ $last == *"\"$k\":"* ]] || return 1; done
}
# positive FILE KEY: KEY's value on the last line is a number above zero.
positive() {
    local v
    v=$(tail -n 1 "$1" | sed -n "s/.*\"$2\": *\([0-9][0-9.]*\).*/\1/p")
    [[ $v =~ [1-9] ]]
}

PAYSTREAM_BENCH_BUILD_DIR=$PAYSTREAM_BUILD_DIR "$src/bench/ingest" --duration-s 2 --warmup-s 1 \
    --ceiling-s 1 --count 60 > "$work/ingest" 2>&1 || { cat "$work/ingest" >&2; exit 1; }
check "bench/ingest ends with its figures" \
    has_keys "$work/ingest" acked_per_s p50_ms p99_ms verify_ceiling_per_s ratio
check "bench/ingest acknowledged callbacks" positive "$work/ingest" acked_per_s
check "bench/ingest measured a ceiling" positive "$work/ingest" verify_ceiling_per_s
check "bench/ingest warmed up first" grep -q '^warm-up: ' "$work/ingest"

# The rate counts from the first applied batch on: small batches, so that
# there are some after it.
"$PAYSTREAM_BUILD_DIR/bench/bench-processor" --events 20000 --batch 1000 --partitions 2 --instances 2 \
    --naive 100 --processor "$PAYSTREAM_BUILD_DIR/processor/paystream-processor" > "$work/proc" 2>&1 \
    || { cat "$work/proc" >&2; exit 1; }
check "bench-processor ends with its figures" has_keys "$work/proc" events_per_s \
    copy_ceiling_rows_per_s naive_events_per_s ratio_to_ceiling ratio_to_naive
check "bench-processor applied events" positive "$work/proc" events_per_s
check "bench-processor audited the ledger" grep -q '^audit: all invariants hold' "$work/proc"

"$PAYSTREAM_BUILD_DIR/bench/bench-reconciler" --rows 3000 > "$work/recon" 2>&1 \
    || { cat "$work/recon" >&2; exit 1; }
check "bench-reconciler ends with its figures" has_keys "$work/recon" rows seconds rows_per_s \
    ceiling_seconds ratio
check "bench-reconciler reconciled rows" positive "$work/recon" rows_per_s

check_summary
