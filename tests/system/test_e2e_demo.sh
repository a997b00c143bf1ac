#!/usr/bin/env bash
# End to end, as the README's demo shows it and with every outcome asserted
# (scripts/demo --check): signed WeChat Pay, Alipay and Apple callbacks with
# duplicates and forgeries -> paystream-ingest -> Kafka -> paystream-processor
# -> ledger (audit passes, nothing dead-lettered) -> a statement with three
# injected discrepancies -> paystream-reconciler -> commands -> processor ->
# the ledger corrected exactly once -> a second reconciliation clean.
# Uses the services and the build the suite already has.
set -euo pipefail
: "${PAYSTREAM_SOURCE_DIR:?set by CTest}" "${PAYSTREAM_BUILD_DIR:?set by CTest}"
PAYSTREAM_BUILD_DIR=$PAYSTREAM_BUILD_DIR exec "$PAYSTREAM_SOURCE_DIR/scripts/demo" --count 150 --check
