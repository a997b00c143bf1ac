#!/usr/bin/env bash
# docs/CONFIGURATION.md must be exactly what the services' configuration
# tables generate: a key added, removed or re-described without regenerating
# the document fails here (run scripts/gen-config-doc BUILD_DIR to fix).
set -euo pipefail
: "${PAYSTREAM_SOURCE_DIR:?set by CTest}" "${PAYSTREAM_BUILD_DIR:?set by CTest}"
"$PAYSTREAM_SOURCE_DIR/scripts/gen-config-doc" --check "$PAYSTREAM_BUILD_DIR"
echo "1 passed, 0 failed"
