/*
 * paystream-processor configuration keys (see config.h). Only keys the code
 * reads belong here; later features add theirs next to the code that uses them.
 */
#include "config.h"

#include <paystream/version.h>

const ps_config_key_t proc_config_table[] = {
    {.name = "log.level",
     .type = PS_CONF_ENUM,
     .default_value = "info",
     .choices = "debug|info|warn|error",
     .description = "Lowest severity written to the log (stderr)."},
    {.name = "pg.conninfo",
     .type = PS_CONF_STRING,
     .default_value = "host=127.0.0.1 port=15432 dbname=paystream user=postgres",
     .description = "libpq connection string of the ledger database. Keep passwords out of it "
                    "(use a ~/.pgpass file or PGPASSFILE): the value is printed by "
                    "--check-config."},
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
    {.name = "kafka.",
     .type = PS_CONF_PASSTHROUGH,
     .description = "librdkafka consumer and producer property, passed through with the prefix "
                    "removed (kafka.bootstrap.servers becomes bootstrap.servers). Set "
                    "kafka.bootstrap.servers in production; without it the client uses the "
                    "local development broker 127.0.0.1:19092."},
};

const size_t proc_config_key_count = sizeof(proc_config_table) / sizeof(proc_config_table[0]);
