#!/usr/bin/env bash
# System test: the Kafka broker restarted under a running processor. There is
# one local broker, so this briefly restarts the SHARED broker
# (scripts/services stop/start --only kafka, a few seconds): run it last, or
# alone. Runs the "restart" mode of tests/integration/test_proc_loop.c: nothing
# may be lost or doubled, and the consumer must resume after the broker is back.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
: "${PAYSTREAM_TEST_PG:?is not set: start the services with scripts/services start and source .run/env}"
services="$PAYSTREAM_SOURCE_DIR/scripts/services"
export PROC_FAULT_RESTART_CMD="$services stop --only kafka >/dev/null && sleep 2 && $services start --only kafka >/dev/null"
"$PAYSTREAM_BUILD_DIR/tests/test_proc_loop" restart
