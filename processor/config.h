/*
 * The configuration table of paystream-processor: every key the service reads,
 * its type, default and description. docs/CONFIGURATION.md is generated from
 * it (scripts/gen-config-doc), so a key added here is documented by adding it.
 */
#ifndef PROC_CONFIG_H
#define PROC_CONFIG_H

#include <paystream/config.h>
#include <stddef.h>

extern const ps_config_key_t proc_config_table[];
extern const size_t proc_config_key_count;

#endif
