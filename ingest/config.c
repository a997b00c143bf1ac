/*
 * paystream-ingest configuration keys (see config.h). Only keys the code
 * reads belong here; later features add theirs next to the code that uses them.
 */
#include "config.h"

const ps_config_key_t ingest_config_table[] = {
    PS_CONFIG_KEY_LOG_LEVEL,
    {.name = "topic.callbacks",
     .type = PS_CONF_STRING,
     .default_value = "paystream.callbacks",
     .description = "Kafka topic that verified channel callbacks are produced to."},
    {.name = "kafka.",
     .type = PS_CONF_PASSTHROUGH,
     .description = "librdkafka producer property, passed through with the prefix removed "
                    "(kafka.bootstrap.servers becomes bootstrap.servers). Set "
                    "kafka.bootstrap.servers in production; without it the client uses the "
                    "local development broker 127.0.0.1:19092."},
/* Each concern keeps its keys in its own fragment, next to its code. */
#include "config_keys_http.inc"
#include "config_keys_wechat.inc"
#include "config_keys_alipay.inc"
#include "config_keys_apple.inc"
};

const size_t ingest_config_key_count = sizeof(ingest_config_table) / sizeof(ingest_config_table[0]);
