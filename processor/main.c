/*
 * paystream-processor entry point: the command line (common/src/cli.c) and
 * the dispatch to a command. The commands themselves live in their own files
 * (loop.c, migrate.c, redrive.c, audit.c, replay.c); this file only wires
 * them to the configuration.
 *
 *   paystream-processor [--config FILE] [run]      consume and apply (default)
 *   paystream-processor [--config FILE] migrate    apply pending SQL migrations
 *   paystream-processor [--config FILE] dead-letters list|redrive [ARGS]
 *   paystream-processor [--config FILE] audit [ARGS]
 *   paystream-processor [--config FILE] replay [ARGS]
 *   paystream-processor --check-config | --config-doc | --help | --version
 *
 * Exit codes: 0 success, 1 operational error (message on stderr), 2 usage error.
 */
#include "audit.h"
#include "config.h"
#include "loop.h"
#include "migrate.h"
#include "ops.h"
#include "redrive.h"
#include "replay.h"

#include <paystream/cli.h>
#include <paystream/config.h>
#include <paystream/limits.h>
#include <paystream/log.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROG "paystream-processor"

/* Set by SIGTERM / SIGINT: finish or roll back the batch and leave the group. */
static volatile sig_atomic_t stop_requested;

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

/* host:pid, or processor.instance when set. */
static void instance_name(const ps_config_t *cfg, char *out, size_t out_size)
{
    char host[128] = "unknown-host";
    const char *name = ps_config_get_str(cfg, "processor.instance");

    if (name[0] != '\0') {
        snprintf(out, out_size, "%s", name);
        return;
    }
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown-host");
    host[sizeof(host) - 1] = '\0';
    snprintf(out, out_size, "%s:%ld", host, (long)getpid());
}

static int cmd_run(const ps_config_t *cfg, int argc, char **argv)
{
    char errstr[PS_ERRSTR_SIZE], owner[PS_PROC_OWNER_BYTES_MAX];
    proc_loop_conf_t lc = {.cfg = cfg};
    proc_metrics_t metrics;
    proc_http_t *http = NULL;
    proc_loop_t *lp = NULL;
    int port = (int)ps_config_get_int(cfg, "processor.metrics.port");
    int rc = PS_EXIT_FAIL;

    if (argc > 1)
        return ps_cli_usage_error(PROG, "unexpected argument", argv[1]);

    proc_metrics_init(&metrics);
    instance_name(cfg, owner, sizeof(owner));
    lc.conninfo = ps_config_get_str(cfg, "pg.conninfo");
    lc.group = ps_config_get_str(cfg, "processor.group");
    lc.owner = owner;
    lc.topics[0] = ps_config_get_str(cfg, "topic.callbacks");
    lc.topics[1] = ps_config_get_str(cfg, "topic.commands");
    lc.topic_count = 2;
    lc.events_max = (size_t)ps_config_get_int(cfg, "processor.batch.events_max");
    lc.wait_ms = (int)ps_config_get_int(cfg, "processor.batch.wait_ms");
    lc.backoff_min_ms = (int)ps_config_get_int(cfg, "processor.retry.backoff_min_ms");
    lc.backoff_max_ms = (int)ps_config_get_int(cfg, "processor.retry.backoff_max_ms");
    lc.kafka_mirror = ps_config_get_bool(cfg, "processor.kafka_offset_mirror");
    if (lc.backoff_max_ms < lc.backoff_min_ms) {
        fprintf(stderr, PROG ": invalid configuration: processor.retry.backoff_max_ms %d is "
                             "below processor.retry.backoff_min_ms %d\n",
                lc.backoff_max_ms, lc.backoff_min_ms);
        goto out;
    }
    if (proc_signals_install(&stop_requested, errstr, sizeof(errstr)) != PS_OK ||
        (port != 0 && proc_http_start(metrics.reg, ps_config_get_str(cfg, "processor.metrics.listen"),
                                      port, &http, errstr, sizeof(errstr)) != PS_OK) ||
        proc_loop_new(&lc, &metrics, &lp, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": could not start: %s\n", errstr);
        goto out;
    }
    ps_log_info("running as \"%s\" in group \"%s\" on topics \"%s\" and \"%s\"", owner,
                lc.group, lc.topics[0], lc.topics[1]);
    if (proc_loop_run(lp, &stop_requested, errstr, sizeof(errstr)) != PS_OK) {
        ps_log_error("stopping: %s", errstr);
        goto out;
    }
    rc = PS_EXIT_OK;
out:
    proc_loop_destroy(lp); /* leaves the group before the process ends */
    proc_http_stop(http);
    proc_metrics_deinit(&metrics);
    if (rc == PS_EXIT_OK)
        ps_log_info("stopped cleanly");
    return rc;
}

static const ps_cli_command_t commands[] = {
    {"run", "consume and apply; SIGTERM finishes or rolls back the batch and stops", cmd_run},
    {"migrate", "apply pending SQL migrations from pg.migrations_dir", cmd_migrate},
    {"dead-letters", "list|redrive [--help]: inspect or re-publish dead letters",
     proc_dead_letters_main},
    {"audit", "[--help]: check the ledger invariants and print its digest", proc_audit_main},
    {"replay", "[--help]: rebuild the ledger from the topics into another schema",
     proc_replay_main},
};

int main(int argc, char **argv)
{
    const ps_cli_t cli = {
        .prog = PROG,
        .service = "processor",
        .description = "Applies payment callbacks and ledger commands from Kafka to the "
                       "PostgreSQL ledger exactly once.",
        .table = proc_config_table,
        .key_count = proc_config_key_count,
        .commands = commands,
        .command_count = sizeof(commands) / sizeof(commands[0]),
    };

    return ps_cli_main(&cli, argc, argv);
}
