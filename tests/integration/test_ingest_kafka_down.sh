#!/usr/bin/env bash
# Kafka stopped mid-run. Goal: while the broker is down, callbacks get the
# channel's failure answer (never success: nothing is acknowledged that is
# not in Kafka) and /readyz says so; once the broker is back, the channel
# simulator's retries land every callback, none lost: the sender ends with
# every callback accepted and the topic holds at least one record per
# acknowledged answer.
#
# The test runs a broker of its own (Kafka 3.9 from the jars scripts/setup
# fetched, KRaft, one node, data in a temporary folder, free ports), so the
# shared broker other tests use is never stopped.
set -euo pipefail
root=${PAYSTREAM_SOURCE_DIR:?}
. "$root/scripts/lib.sh"
bin=$PAYSTREAM_BUILD_DIR
sim="$bin/tools/ps-channel-sim"
sample="$bin/tools/ps-sample"
ingest="$bin/ingest/paystream-ingest"
ls "$PS_KAFKA_LIBS"/kafka_2.13-3.9.*.jar >/dev/null 2>&1 || { echo "kafka jars missing: run scripts/setup" >&2; exit 1; }
work=$(mktemp -d)
ipid= kpid= spid=
. "$(dirname "$0")/../check.sh"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
    kport=$((20000 + RANDOM % 20000)); cport=$((kport + 1))
    port_free "$kport" && port_free "$cport" && break
done
brokers=127.0.0.1:$kport
topic=ps.test.ingest.down

cat > "$work/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$kport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$kport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$work/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
PROPS
printf 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' > "$work/log4j.properties"
kjava() { # exec: in "kjava ... &" the background pid is the JVM itself
    exec java -Xms128m -Xmx384m -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$work/log4j.properties" -Dkafka.logs.dir="$work" \
        -cp "$PS_KAFKA_LIBS/*" "$@"
}
broker_start() {
    (kjava kafka.Kafka "$work/server.properties") >> "$work/broker.log" 2>&1 &
    kpid=$!
    for _ in $(seq 1 240); do
        kcat -L -b "$brokers" -m 2 2>/dev/null | grep -q ' 1 brokers:' && return 0
        kill -0 "$kpid" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 30 "$work/broker.log" >&2
    echo "own broker did not start on $brokers" >&2
    return 1
}
broker_stop() {
    kill -TERM "$kpid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$kpid" 2>/dev/null || true
    wait "$kpid" 2>/dev/null || true
    kpid=
}
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    [ -n "$ipid" ] && kill "$ipid" 2>/dev/null && wait "$ipid" 2>/dev/null
    [ -n "$kpid" ] && broker_stop
    rm -rf "$work"
}
trap cleanup EXIT
metric() { # name-and-labels: prints the value or 0
    curl -s "$url/metrics" | awk -v k="$1" 'index($0, k" ") == 1 { print $2; f = 1 } END { if (!f) print 0 }'
}

(kjava kafka.tools.StorageTool format -t aW5nZXN0LWRvd24tdGVzdA -c "$work/server.properties" \
    --ignore-formatted) > "$work/format.log" 2>&1
broker_start
"$sample" create-topics --brokers "$brokers" --topics "$topic" --partitions 3 >/dev/null
"$sim" keys --out "$work/keys" --port 0 --brokers "$brokers" --topic "$topic" >/dev/null
echo "ingest.delivery_timeout_ms = 2000" >> "$work/keys/ingest.conf"
"$sim" callbacks --keys "$work/keys" --out "$work/cb" --count 30 --duplicates 20 --forgeries 0 \
    --seed 3 >/dev/null
"$ingest" --config "$work/keys/ingest.conf" run 2>"$work/ingest.log" &
ipid=$!
port=
for _ in $(seq 1 100); do
    # The background job creates its log asynchronously: it may not exist yet.
    port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$work/ingest.log" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/ingest.log" >&2; exit 1; }
url=http://127.0.0.1:$port
for _ in $(seq 1 150); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
check "ready while the broker is up" curl -sf "$url/readyz" -o /dev/null

# Stop the broker, then let the channels call: they must be told to retry,
# within the delivery timeout (2 s) plus the watchdog's grace (1 s).
broker_stop
mkdir "$work/one"
head -1 "$work/cb/manifest.tsv" > "$work/one/manifest.tsv"
cp "$work/cb/$(cut -f1 "$work/one/manifest.tsv")" "$work/one/"
t0=$(date +%s%N)
"$sim" send --url "$url" --dir "$work/one" --attempts 1 > "$work/one.out" 2>&1 || true
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "broker down: one callback answered, not accepted" grep -q 'accepted 0, rejected 0, retried 0, gave up 1' "$work/one.out"
check "broker down: answered within 4 s (took $elapsed_ms ms)" test "$elapsed_ms" -lt 4000
"$sim" send --url "$url" --dir "$work/cb" --concurrency 3 --attempts 60 --backoff-ms 500 \
    > "$work/send.out" 2> "$work/send.err" &
spid=$!
sleep 7
unavailable=$(( $(metric 'paystream_ingest_callbacks_total{channel="wechat",verdict="unavailable"}') \
    + $(metric 'paystream_ingest_callbacks_total{channel="alipay",verdict="unavailable"}') \
    + $(metric 'paystream_ingest_callbacks_total{channel="apple",verdict="unavailable"}') ))
accepted_down=$(( $(metric 'paystream_ingest_callbacks_total{channel="wechat",verdict="accepted"}') \
    + $(metric 'paystream_ingest_callbacks_total{channel="alipay",verdict="accepted"}') \
    + $(metric 'paystream_ingest_callbacks_total{channel="apple",verdict="accepted"}') ))
check "broker down: callbacks answered unavailable ($unavailable)" test "$unavailable" -gt 0
check "broker down: nothing answered success" test "$accepted_down" -eq 0
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
check "broker down: readyz 503" test "$code" = 503

# Bring it back: the retries must land everything.
broker_start
wait "$spid" && rc=0 || rc=$?; spid=
cat "$work/send.out" >&2
check "sender finished with every callback accepted" test "$rc" = 0
check "sender: nothing given up" grep -q 'gave up 0' "$work/send.out"
check "sender: retries happened" sh -c "! grep -q 'retried 0,' '$work/send.out'"
accepted=$(sed -n 's/.*accepted \([0-9]*\),.*/\1/p' "$work/send.out")
total=$(grep -c . "$work/cb/manifest.tsv")
check "sender: all $total callbacks accepted" test "${accepted:-0}" = "$total"
"$sample" consume --brokers "$brokers" --topic "$topic" --count "$total" --timeout-ms 60000 \
    > "$work/cons" 2>&1 || true
check "every acknowledged callback is in kafka" grep -q "consumed $total events" "$work/cons"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
check "ready again after the broker is back" test "$code" = 200
echo "producer recreations: $(metric paystream_ingest_producer_recreations_total)" >&2

kill "$ipid"; wait "$ipid" && rc=0 || rc=$?; ipid=
check "ingest shut down cleanly (exit 0)" test "$rc" = 0
grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error' "$work/ingest.log" &&
    { failed=$((failed + 1)); echo "FAIL sanitizer report in the ingest log" >&2; }
check_summary
