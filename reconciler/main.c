/*
 * paystream-reconciler entry point: the command line (common/src/cli.c) and
 * the dispatch to the reconciler's commands. Reconciliation itself lives in
 * its own files (statement_*.c, diff.c, report.c).
 *
 *   paystream-reconciler [--config FILE] [run]
 *   paystream-reconciler --check-config | --config-doc | --help | --version
 */
#include "config.h"

#include <paystream/cli.h>

#include <stdio.h>

static int cmd_run(const ps_config_t *cfg, int argc, char **argv)
{
    (void)cfg;
    if (argc > 1)
        return ps_cli_usage_error("paystream-reconciler", "unexpected argument", argv[1]);
    fprintf(stderr, "paystream-reconciler: the reconciliation service is not implemented yet; "
                    "available: --check-config, --config-doc, --help, --version\n");
    return PS_EXIT_USAGE;
}

static const ps_cli_command_t commands[] = {
    {"run", "reconcile statements (not implemented yet)", cmd_run},
};

int main(int argc, char **argv)
{
    const ps_cli_t cli = {
        .prog = "paystream-reconciler",
        .service = "reconciler",
        .description = "Compares channel settlement statements with the ledger and produces "
                       "corrective ledger commands.",
        .table = recon_config_table,
        .key_count = recon_config_key_count,
        .commands = commands,
        .command_count = sizeof(commands) / sizeof(commands[0]),
    };

    return ps_cli_main(&cli, argc, argv);
}
