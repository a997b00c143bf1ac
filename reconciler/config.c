/*
 * paystream-reconciler configuration keys (see config.h). Only keys the code
 * reads belong here; later features add theirs next to the code that uses them.
 */
#include "config.h"

#include <paystream/limits.h>
#include <stdint.h>

const ps_config_key_t recon_config_table[] = {
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
    {.name = "kafka.",
     .type = PS_CONF_PASSTHROUGH,
     .description = "librdkafka producer property, passed through with the prefix removed "
                    "(kafka.bootstrap.servers becomes bootstrap.servers). Set "
                    "kafka.bootstrap.servers in production; without it the client uses the "
                    "local development broker 127.0.0.1:19092."},
/* Each concern keeps its keys in its own fragment, next to its code. */
#include "config_keys_statements.inc"
#include "config_keys_run.inc"
/* Apple statements are verified by the ingest's Apple verifier: same keys. */
#include "config_keys_apple.inc"
};

const size_t recon_config_key_count = sizeof(recon_config_table) / sizeof(recon_config_table[0]);
