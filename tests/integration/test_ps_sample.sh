#!/usr/bin/env bash
# Integration test of tools/ps-sample against the real broker
# (PAYSTREAM_TEST_KAFKA): what produce reports (payments, refunds,
# duplicates) is what consume finds after decoding every event; the same seed
# gives the same events (two topics, identical summaries) and another seed
# different ones; bad arguments and a missing topic exit non-zero with a
# message. Topics are named with the pid and time and deleted at the end.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
sample="$PAYSTREAM_BUILD_DIR/tools/ps-sample"
b=$PAYSTREAM_TEST_KAFKA
t=ps.test.sample.$$.$(date +%s)
work=$(mktemp -d)
. "$(dirname "$0")/../check.sh"
cleanup() {
    "$sample" delete-topics --brokers "$b" --topics "$t.a,$t.b,$t.c" >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$sample" create-topics --brokers "$b" --topics "$t.a,$t.b,$t.c" --partitions 3 > "$work/create"
"$sample" produce --brokers "$b" --topic "$t.a" --count 300 --seed 11 > "$work/prod.a"
"$sample" produce --brokers "$b" --topic "$t.b" --count 300 --seed 11 > "$work/prod.b"
"$sample" produce --brokers "$b" --topic "$t.c" --count 300 --seed 12 > "$work/prod.c"
for x in a b c; do
    "$sample" consume --brokers "$b" --topic "$t.$x" --count 300 --timeout-ms 60000 \
        | sed "s/$t\.$x/TOPIC/" > "$work/cons.$x"
done

dups=$(sed -n 's/.*refunds, \([0-9]*\) duplicates.*/\1/p' "$work/prod.a")
refunds=$(sed -n 's/.*payments, \([0-9]*\) refunds.*/\1/p' "$work/prod.a")
seen_dups=$(sed -n 's/.*duplicates by channel_event_id: \([0-9]*\)/\1/p' "$work/cons.a")
seen_refunds=$(awk '$2 == "REFUND_SUCCEEDED" { n += $3 } END { print n + 0 }' "$work/cons.a")
check "create-topics reports the topics" grep -q "topics ready: $t.a,$t.b,$t.c (3 partitions)" "$work/create"
check "produce generated some duplicates" test "${dups:-0}" -gt 0
check "consume finds as many duplicates as produce made" test "$seen_dups" = "$dups"
# Refund events include duplicated refunds: at least as many as produce counted.
check "consume sees at least the refunds produce made" test "$seen_refunds" -ge "$refunds"
check "all three channels are present" test "$(grep -cE '^  (WECHAT|ALIPAY|APPLE) ' "$work/cons.a")" -ge 3
check "the same seed gives the same events" cmp -s "$work/cons.a" "$work/cons.b"
check "another seed gives other events" bash -c "! cmp -s '$work/cons.a' '$work/cons.c'"

set +e
"$sample" produce --brokers "$b" --topic "$t.a" --count -5 2> "$work/err"; rc=$?
check "a negative count is a usage error" test $rc -eq 2
check "the usage error names the option" grep -q 'invalid value "-5" for --count' "$work/err"
"$sample" consume --brokers "$b" --topic "$t.missing" --count 1 --timeout-ms 2000 2> "$work/err"; rc=$?
check "a missing topic fails" test $rc -eq 1
check "the failure names the topic" grep -q "\"$t.missing\"" "$work/err"
"$sample" consume --brokers "$b" --topic "$t.a" --count 301 --timeout-ms 3000 > /dev/null 2> "$work/err"; rc=$?
check "too few events within the timeout fails" test $rc -eq 1
check "the timeout message gives the counts" grep -q "read only 300 of 301 events" "$work/err"
set -e

check_summary
