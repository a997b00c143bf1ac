#!/usr/bin/env bash
# System test of paystream-processor under crashes: 100,000 generated
# callbacks (duplicates, reorderings, refunds) are applied while the processor
# is killed with SIGKILL at random moments at least 20 times and restarted;
# the ledger must then equal the expectation computed from the input alone,
# cent for cent, and `paystream-processor audit` must pass. The scenario is
# the "crash" mode of tests/integration/test_proc_loop.c (C, for the Avro
# encoder and the exact expected ledger).
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
: "${PAYSTREAM_TEST_PG:?is not set: start the services with scripts/services start and source .run/env}"
exec "$PAYSTREAM_BUILD_DIR/tests/test_proc_loop" crash
