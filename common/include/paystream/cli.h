/*
 * The command line every paystream binary shares:
 *
 *   paystream-<svc> [OPTION]... [COMMAND [COMMAND-ARGS]...]
 *     -c, --config FILE   configuration file (key = value)
 *         --check-config  load the configuration, print the effective values
 *         --config-doc    print the Markdown reference of the keys
 *     -h, --help / -V, --version
 *
 * A service describes itself with a ps_cli_t (its config table and its
 * commands) and main() is `return ps_cli_main(&cli, argc, argv);`. Options
 * before the command are the common ones; everything from the command name on
 * goes to the command's own handler (argv[0] is the command name), which
 * parses its own options. The first command is the default.
 *
 * Exit codes: 0 success, 1 operational error (message on stderr), 2 usage
 * error. A command may define more (documented in its help), starting at 3.
 */
#ifndef PAYSTREAM_CLI_H
#define PAYSTREAM_CLI_H

#include <paystream/config.h>
#include <stddef.h>

enum { PS_EXIT_OK = 0, PS_EXIT_FAIL = 1, PS_EXIT_USAGE = 2 };

typedef struct ps_cli_command {
    const char *name;    /* "run", "migrate" */
    const char *summary; /* one line for --help */
    /* The loaded configuration is borrowed for the call. Returns the exit code. */
    int (*fn)(const ps_config_t *cfg, int argc, char **argv);
} ps_cli_command_t;

typedef struct ps_cli {
    const char *prog;        /* "paystream-processor" */
    const char *service;     /* "processor": log component and config-doc section */
    const char *description; /* one sentence for --help */
    const ps_config_key_t *table;
    size_t key_count;
    const ps_cli_command_t *commands; /* commands[0] is the default */
    size_t command_count;
} ps_cli_t;

/* Runs the command line. Returns the process exit code. @locality main thread */
int ps_cli_main(const ps_cli_t *cli, int argc, char **argv);

/* Prints "<prog>: <what> \"<arg>\"" and a --help hint to stderr; returns PS_EXIT_USAGE.
 * For commands that parse their own arguments. */
int ps_cli_usage_error(const char *prog, const char *what, const char *arg);

#endif
