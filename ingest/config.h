/*
 * The configuration table of paystream-ingest: every key the service reads,
 * its type, default and description. docs/CONFIGURATION.md is generated from
 * it (scripts/gen-config-doc), so a key added here is documented by adding it.
 */
#ifndef INGEST_CONFIG_H
#define INGEST_CONFIG_H

#include <paystream/config.h>
#include <stddef.h>

extern const ps_config_key_t ingest_config_table[];
extern const size_t ingest_config_key_count;

#endif
