#!/usr/bin/env bash
# System test of the processor's zombie fencing: two instances in one group,
# one SIGSTOPped past its session timeout (kafka.session.timeout.ms 6000)
# while the other takes over and bumps the owner tokens, then continued:
# nothing may be applied twice and the ledger must equal the expectation.
# The scenario is the "zombie" mode of tests/integration/test_proc_loop.c.
set -euo pipefail
: "${PAYSTREAM_TEST_KAFKA:?is not set: start the services with scripts/services start and source .run/env}"
: "${PAYSTREAM_TEST_PG:?is not set: start the services with scripts/services start and source .run/env}"
exec "$PAYSTREAM_BUILD_DIR/tests/test_proc_loop" zombie
