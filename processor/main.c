/*
 * paystream-processor entry point: the command line (common/src/cli.c) and
 * the dispatch to the processor's commands (migrate.c today).
 *
 *   paystream-processor [--config FILE] [run]        apply events (not yet)
 *   paystream-processor [--config FILE] migrate      apply pending SQL migrations
 *   paystream-processor --check-config | --config-doc | --help | --version
 */
#include "config.h"
#include "migrate.h"

#include <paystream/cli.h>
#include <paystream/limits.h>

#include <stdio.h>

#define PROG "paystream-processor"

static int cmd_run(const ps_config_t *cfg, int argc, char **argv)
{
    (void)cfg;
    if (argc > 1)
        return ps_cli_usage_error(PROG, "unexpected argument", argv[1]);
    fprintf(stderr, PROG ": the processing service is not implemented yet; available: "
                         "migrate, --check-config, --config-doc, --help, --version\n");
    return PS_EXIT_USAGE;
}

static int cmd_migrate(const ps_config_t *cfg, int argc, char **argv)
{
    char errstr[PS_ERRSTR_SIZE];

    if (argc > 1)
        return ps_cli_usage_error(PROG, "unexpected argument", argv[1]);
    if (proc_migrate(ps_config_get_str(cfg, "pg.conninfo"),
                     ps_config_get_str(cfg, "pg.migrations_dir"), stdout, errstr,
                     sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": migrate failed: %s\n", errstr);
        return PS_EXIT_FAIL;
    }
    return PS_EXIT_OK;
}

static const ps_cli_command_t commands[] = {
    {"run", "apply events to the ledger (not implemented yet)", cmd_run},
    {"migrate", "apply pending SQL migrations from pg.migrations_dir", cmd_migrate},
};

int main(int argc, char **argv)
{
    const ps_cli_t cli = {
        .prog = PROG,
        .service = "processor",
        .description = "Applies verified payment events and ledger commands to the PostgreSQL "
                       "ledger exactly once.",
        .table = proc_config_table,
        .key_count = proc_config_key_count,
        .commands = commands,
        .command_count = sizeof(commands) / sizeof(commands[0]),
    };

    return ps_cli_main(&cli, argc, argv);
}
