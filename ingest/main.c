/*
 * paystream-ingest entry point: the command line (common/src/cli.c) and the
 * dispatch to the service (run.c) or to the offline verifier (verify_cmd.c).
 *
 *   paystream-ingest [--config FILE] [run]     receive callbacks
 *   paystream-ingest verify --config FILE --channel CH --request FILE [--at S]
 *   paystream-ingest --check-config | --config-doc | --help | --version
 *
 * Exit codes: 0 success, 1 operational error (message on stderr), 2 usage error.
 */
#include "config.h"
#include "run.h"
#include "verify_cmd.h"

#include <paystream/cli.h>
#include <paystream/limits.h>
#include <paystream/log.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "paystream-ingest"

static int cmd_run(const ps_config_t *cfg, int argc, char **argv)
{
    char errstr[PS_ERRSTR_SIZE];

    if (argc > 1)
        return ps_cli_usage_error(PROG, "unexpected argument", argv[1]);
    if (ingest_run(cfg, errstr, sizeof(errstr)) != PS_OK) {
        ps_log_error("%s", errstr);
        return PS_EXIT_FAIL;
    }
    return PS_EXIT_OK;
}

/* --at: decimal Unix seconds, nothing else (no sign games, no trailing text). */
static int parse_at(const char *s, int64_t *at_out)
{
    char *end = NULL;
    long long v;

    if (s[0] < '0' || s[0] > '9')
        return ps_cli_usage_error(PROG, "invalid --at (expected Unix seconds)", s);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return ps_cli_usage_error(PROG, "invalid --at (expected Unix seconds)", s);
    *at_out = (int64_t)v;
    return PS_EXIT_OK;
}

static int cmd_verify(const ps_config_t *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {{"channel", required_argument, NULL, 'H'},
                                             {"request", required_argument, NULL, 'R'},
                                             {"at", required_argument, NULL, 'A'},
                                             {NULL, 0, NULL, 0}};
    const char *channel = NULL, *request = NULL, *at_text = NULL;
    int64_t at = 0;
    int c, rc;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'H': channel = optarg; break;
        case 'R': request = optarg; break;
        case 'A': at_text = optarg; break;
        case ':': return ps_cli_usage_error(PROG, "missing argument for option", argv[optind - 1]);
        default: return ps_cli_usage_error(PROG, "unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return ps_cli_usage_error(PROG, "unexpected argument", argv[optind]);
    if (channel == NULL || request == NULL)
        return ps_cli_usage_error(PROG, "verify needs", channel == NULL ? "--channel" : "--request");
    rc = at_text != NULL ? parse_at(at_text, &at) : PS_EXIT_OK;
    if (rc != PS_EXIT_OK)
        return rc;
    return ingest_verify_cmd(cfg, channel, request, at_text != NULL, at, stdout, stderr);
}

static const ps_cli_command_t commands[] = {
    {"run", "serve HTTP: verify callbacks and produce them to Kafka", cmd_run},
    {"verify", "verify one captured request offline: --channel wechat|alipay|apple "
               "--request FILE [--at UNIX_SECONDS]; prints the event as JSON (exit 0) or "
               "the reason (exit 1)",
     cmd_verify},
};

int main(int argc, char **argv)
{
    const ps_cli_t cli = {
        .prog = PROG,
        .service = "ingest",
        .description = "Receives payment-channel callbacks over HTTP, verifies them and "
                       "produces them to Kafka.",
        .table = ingest_config_table,
        .key_count = ingest_config_key_count,
        .commands = commands,
        .command_count = sizeof(commands) / sizeof(commands[0]),
    };

    return ps_cli_main(&cli, argc, argv);
}
