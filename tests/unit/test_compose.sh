#!/usr/bin/env bash
# docker-compose.yml must stay valid: parsed by the docker-compose package
# (no Docker engine needed), and it must name the services the README lists.
set -euo pipefail
cd "$PAYSTREAM_SOURCE_DIR"
command -v docker-compose > /dev/null || { echo "docker-compose is not installed: run scripts/setup"; exit 1; }
docker-compose -f docker-compose.yml config -q
services=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
for s in kafka postgres migrate processor ingest; do
    case " $services " in *" $s "*) ;; *) echo "service $s missing from docker-compose.yml (have: $services)"; exit 1 ;; esac
done
# The Kafka image must be a 3.9 release (librdkafka 2.0.2 needs 3.x; see docs).
grep -Eq 'image: apache/kafka:3\.9(\.[0-9]+)?$' docker-compose.yml || { echo "kafka image is not apache/kafka:3.9.x"; exit 1; }
echo "1 passed, 0 failed"
