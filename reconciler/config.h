/*
 * The configuration table of paystream-reconciler: every key the service
 * reads, its type, default and description. docs/CONFIGURATION.md is generated
 * from it (scripts/gen-config-doc), so a key added here is documented by adding it.
 */
#ifndef RECON_CONFIG_H
#define RECON_CONFIG_H

#include <paystream/config.h>
#include <stddef.h>

extern const ps_config_key_t recon_config_table[];
extern const size_t recon_config_key_count;

#endif
