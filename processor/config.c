/*
 * paystream-processor configuration keys (see config.h). Only keys the code
 * reads belong here; later features add theirs next to the code that uses them.
 */
#include "config.h"

#include <paystream/limits.h>
#include <paystream/version.h>

const ps_config_key_t proc_config_table[] = {
    PS_CONFIG_KEY_LOG_LEVEL,
    PS_CONFIG_KEY_PG_CONNINFO,
    {.name = "pg.migrations_dir",
     .type = PS_CONF_STRING,
     .default_value = PS_SOURCE_DIR "/schemas/postgres",
     .description = "Directory of the NNN_name.sql migrations applied by the migrate command."},
    {.name = "topic.callbacks",
     .type = PS_CONF_STRING,
     .default_value = "paystream.callbacks",
     .description = "Kafka topic of verified channel callbacks, consumed and applied to the "
                    "ledger."},
    {.name = "topic.commands",
     .type = PS_CONF_STRING,
     .default_value = "paystream.commands",
     .description = "Kafka topic of ledger commands (adjustments from reconciliation), consumed "
                    "and applied to the ledger."},
    {.name = "processor.group",
     .type = PS_CONF_STRING,
     .default_value = "paystream-processor",
     .description = "Kafka consumer group of the processor instances, also the consumer_group "
                    "of their rows in kafka_offsets (where the offsets really live)."},
    {.name = "processor.instance",
     .type = PS_CONF_STRING,
     .default_value = "",
     .description = "Name of this instance in kafka_offsets.owner, for operators; empty means "
                    "<hostname>:<pid>."},
    {.name = "processor.batch.events_max",
     .type = PS_CONF_INT,
     .default_value = "2000",
     .min = 1,
     .max = PS_PROC_BATCH_EVENTS_MAX,
     .unit = "messages",
     .description = "Most messages applied in one PostgreSQL transaction. Larger batches cost "
                    "less per event but hold locks and roll back more work on an error."},
    {.name = "processor.batch.wait_ms",
     .type = PS_CONF_INT,
     .default_value = "50",
     .min = 1,
     .max = PS_PROC_BATCH_WAIT_MS_MAX,
     .unit = "ms",
     .description = "Longest time a batch keeps filling after its first message before it is "
                    "applied: the latency added under light load."},
    {.name = "processor.retry.backoff_min_ms",
     .type = PS_CONF_INT,
     .default_value = "100",
     .min = 1,
     .max = PS_PROC_BACKOFF_MS_MAX,
     .unit = "ms",
     .description = "First delay before a rolled-back batch is retried (and between attempts "
                    "to reach PostgreSQL); doubles on each consecutive failure."},
    {.name = "processor.retry.backoff_max_ms",
     .type = PS_CONF_INT,
     .default_value = "5000",
     .min = 1,
     .max = PS_PROC_BACKOFF_MS_MAX,
     .unit = "ms",
     .description = "Upper bound of the retry delay. Must be at least "
                    "processor.retry.backoff_min_ms."},
    {.name = "processor.kafka_offset_mirror",
     .type = PS_CONF_BOOL,
     .default_value = "on",
     .description = "After each commit, also commit the offsets to Kafka asynchronously so "
                    "that standard lag tools see them. They are never read back."},
    {.name = "processor.metrics.listen",
     .type = PS_CONF_STRING,
     .default_value = "127.0.0.1",
     .description = "IPv4 address of the metrics endpoint (GET /metrics, Prometheus text)."},
    {.name = "processor.metrics.port",
     .type = PS_CONF_INT,
     .default_value = "0",
     .min = 0,
     .max = 65535,
     .description = "TCP port of the metrics endpoint; 0 disables it."},
    {.name = "kafka.",
     .type = PS_CONF_PASSTHROUGH,
     .description = "librdkafka consumer and producer property, passed through with the prefix "
                    "removed (kafka.bootstrap.servers becomes bootstrap.servers). Set "
                    "kafka.bootstrap.servers in production; without it the client uses the "
                    "local development broker 127.0.0.1:19092."},
};

const size_t proc_config_key_count = sizeof(proc_config_table) / sizeof(proc_config_table[0]);
