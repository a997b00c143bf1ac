/*
 * paystream-reconciler configuration keys (see config.h). Only keys the code
 * reads belong here; later features add theirs next to the code that uses them.
 */
#include "config.h"

#include <paystream/limits.h>
#include <stdint.h>

const ps_config_key_t recon_config_table[] = {
    PS_CONFIG_KEY_LOG_LEVEL,
    PS_CONFIG_KEY_PG_CONNINFO,
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
