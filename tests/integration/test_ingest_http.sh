#!/usr/bin/env bash
# HTTP-level test of a running paystream-ingest against the real broker
# (PAYSTREAM_TEST_KAFKA), with keys and signed callbacks from ps-channel-sim.
# Goal: each channel gets exactly the answer it expects (WeChat 204 / 400 +
# {"code":"FAIL"}, Alipay 200 "success" / "failure", Apple 200 / 500);
# duplicates are answered success and produced again; forgeries and every
# bad-input class (garbage, truncated, oversized, wrong content type,
# method, path, header flood) get a failure answer and produce nothing, so
# the topic holds exactly the accepted callbacks; the offline verify command
# agrees with the service; /healthz, /readyz and /metrics answer.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
bin=$PAYSTREAM_BUILD_DIR
sim="$bin/tools/ps-channel-sim"
sample="$bin/tools/ps-sample"
ingest="$bin/ingest/paystream-ingest"
b=$PAYSTREAM_TEST_KAFKA
t=ps.test.ingest.$$.$(date +%s)
work=$(mktemp -d)
pid=
. "$(dirname "$0")/../check.sh"
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    "$sample" delete-topics --brokers "$b" --topics "$t" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$sample" create-topics --brokers "$b" --topics "$t" --partitions 3 >/dev/null
"$sim" keys --out "$work/keys" --port 0 --brokers "$b" --topic "$t" >/dev/null
"$sim" callbacks --keys "$work/keys" --out "$work/cb" --count 60 --duplicates 25 \
    --forgeries 40 --tests 20 --seed 7 >/dev/null
"$ingest" --config "$work/keys/ingest.conf" run 2>"$work/ingest.log" &
pid=$!
port=
for _ in $(seq 1 100); do
    # The background job creates its log asynchronously: it may not exist yet.
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$work/ingest.log" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/ingest.log" >&2; echo "ingest did not start" >&2; exit 1; }
url=http://127.0.0.1:$port
for _ in $(seq 1 100); do
    curl -sf "$url/readyz" >/dev/null && break
    sleep 0.2
done

# raw FILE -> "$work/status" and "$work/body" for one request file.
raw() {
    local f=$1 path
    path=$(head -1 "$f" | cut -d' ' -f2)
    mapfile -t hdrs < <(sed -n '2,/^\r$/p' "$f" | sed 's/\r$//' | grep -v -i -e '^$' \
        -e '^content-length:' -e '^host:' | sed 's/^/-H\n/')
    sed '1,/^\r$/d' "$f" > "$work/body.in"
    curl -s -o "$work/body" -w '%{http_code}' "${hdrs[@]}" -H 'Expect:' \
        --data-binary @"$work/body.in" "$url$path" > "$work/status"
}
status() { [ "$(cat "$work/status")" = "$1" ]; }
body_is() { [ "$(cat "$work/body")" = "$1" ]; }
body_empty() { [ ! -s "$work/body" ]; }
first() { ls "$work/cb" | grep -- "-$1-$2.http" | head -1; }

accepted_extra=0
raw "$work/cb/$(first wechat ok)"; accepted_extra=$((accepted_extra + 1))
check "wechat genuine: 204 without body" status 204
check "wechat genuine: empty body" body_empty
raw "$work/cb/$(first wechat forged)"
check "wechat forgery: 400" status 400
check "wechat forgery: FAIL body with the reason" body_is '{"code":"FAIL","message":"bad_signature"}'
raw "$work/cb/$(first alipay ok)"; accepted_extra=$((accepted_extra + 1))
check "alipay genuine: 200" status 200
check "alipay genuine: exactly success" body_is success
raw "$work/cb/$(first alipay forged)"
check "alipay forgery: 200" status 200
check "alipay forgery: exactly failure" body_is failure
raw "$work/cb/$(first apple ok)"; accepted_extra=$((accepted_extra + 1))
check "apple genuine: 200" status 200
raw "$work/cb/$(first apple forged)"
check "apple forgery: 500 so that Apple retries" status 500

# The whole set through the channel-like sender: answers match the manifest.
"$sim" send --url "$url" --dir "$work/cb" --concurrency 4 --attempts 3 > "$work/send.out"
check "send: every answer as the manifest says" grep -q 'mismatches 0' "$work/send.out"
check "send: nothing given up" grep -q 'gave up 0' "$work/send.out"
check "send: some duplicates were answered success" test "$(ls "$work/cb" | grep -c -- -dup.http)" -gt 0
accepted=$(sed -n 's/.*accepted \([0-9]*\),.*/\1/p' "$work/send.out")
expect_accept=$(grep -c $'\taccept\t' "$work/cb/manifest.tsv")
check "send: accepted = genuine + duplicates in the manifest" test "$accepted" = "$expect_accept"
tests=$(grep -c $'\taccept\ttest$' "$work/cb/manifest.tsv" || true)
check "some Apple TEST notifications were generated and accepted" test "$tests" -gt 0
check "metrics: TEST notifications acknowledged without producing" \
    sh -c "curl -s '$url/metrics' | grep -q 'paystream_ingest_callbacks_total{channel=\"apple\",verdict=\"ack_only\"} $tests\$'"

# Bad input classes: each gets a failure answer and produces nothing.
curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary 'garbage{' "$url/v1/notify/wechat" > "$work/status"
check "wechat garbage: 400" status 400
curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"signedPayload":"eyJhbGciOiJFUzI1NiJ9.eyJ' "$url/v1/notify/apple" > "$work/status"
check "apple truncated JWS: 500" status 500
head -c 70000 /dev/zero | tr '\0' 'a' > "$work/big"
curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
    -H 'Expect:' --data-binary @"$work/big" "$url/v1/notify/alipay" > "$work/status"
check "alipay oversized body: 413" status 413
check "alipay oversized body: failure" body_is failure
curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary 'x=1' \
    "$url/v1/notify/alipay" > "$work/status"
check "wrong content type: 415" status 415
check "wrong content type: the reason names it" grep -q 'unsupported content type' "$work/body"
curl -s -o "$work/body" -w '%{http_code}' "$url/v1/notify/wechat" > "$work/status"
check "GET on a callback route: 405" status 405
curl -s -o "$work/body" -w '%{http_code}' -X POST "$url/v1/notify/paypal" > "$work/status"
check "unknown path: 404" status 404
hflood=(); for i in $(seq 1 80); do hflood+=(-H "X-Flood-$i: $i"); done
curl -s -o "$work/body" -w '%{http_code}' "${hflood[@]}" -H 'Content-Type: application/json' \
    --data-binary '{}' "$url/v1/notify/wechat" > "$work/status"
check "80 headers (http.headers_max 64): 431" status 431

# Health, readiness and metrics.
check "healthz 200" curl -sf "$url/healthz" -o /dev/null
check "readyz 200 with every channel ready" sh -c "curl -sf '$url/readyz' | grep -c ': ready' | grep -qx 3"
curl -s "$url/metrics" > "$work/metrics"
check "metrics: accepted wechat callbacks counted" \
    grep -q 'paystream_ingest_callbacks_total{channel="wechat",verdict="accepted"}' "$work/metrics"
check "metrics: rejections labelled by reason" \
    grep -q 'paystream_ingest_rejections_total{channel="alipay",reason="bad_signature"}' "$work/metrics"
check "metrics: produce latency histogram" \
    grep -q 'paystream_ingest_produce_latency_seconds_count' "$work/metrics"

# The topic holds exactly the accepted callbacks: one more is never there.
total=$((accepted - tests + accepted_extra))
"$sample" consume --brokers "$b" --topic "$t" --count "$total" --timeout-ms 30000 > "$work/cons" 2>&1 || true
check "kafka holds every accepted callback ($total)" grep -q "consumed $total events" "$work/cons"
check "kafka holds duplicates as separate records" sh -c "! grep -q 'duplicates by channel_event_id: 0$' '$work/cons'"
"$sample" consume --brokers "$b" --topic "$t" --count "$((total + 1))" --timeout-ms 3000 > "$work/cons2" 2>&1 || true
check "kafka holds nothing else (no rejected callback produced)" grep -q "read only $total of" "$work/cons2"

# The offline verify command agrees with the service.
f=$(first alipay ok)
"$ingest" --config "$work/keys/ingest.conf" verify --channel alipay --request "$work/cb/$f" \
    > "$work/v.out" 2> "$work/v.err" && rc=0 || rc=$?
check "verify genuine alipay: exit 0" test "$rc" = 0
check "verify genuine alipay: prints the event" grep -q '"channel": "ALIPAY"' "$work/v.out"
f=$(first wechat forged)
"$ingest" --config "$work/keys/ingest.conf" verify --channel wechat --request "$work/cb/$f" \
    > "$work/v.out" 2> "$work/v.err" && rc=0 || rc=$?
check "verify forged wechat: exit 1" test "$rc" = 1
check "verify forged wechat: reason on stderr" grep -q 'bad_signature' "$work/v.err"
f=$(first wechat ok)
"$ingest" --config "$work/keys/ingest.conf" verify --channel wechat --request "$work/cb/$f" \
    --at $(( $(date +%s) + 86400 )) > "$work/v.out" 2> "$work/v.err" && rc=0 || rc=$?
check "verify wechat a day later: stale (exit 1)" test "$rc" = 1
check "verify wechat a day later: names the timestamp" grep -q 'timestamp' "$work/v.err"

kill "$pid"; wait "$pid" && rc=0 || rc=$?; pid=
check "ingest shut down cleanly (exit 0, no sanitizer report)" test "$rc" = 0
check "ingest logged the shutdown" grep -q 'shutting down' "$work/ingest.log"
grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$work/ingest.log" &&
    { failed=$((failed + 1)); echo "FAIL sanitizer report in the ingest log" >&2; grep -A20 Sanitizer "$work/ingest.log" >&2; }
check_summary
