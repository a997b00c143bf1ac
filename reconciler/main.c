/*
 * paystream-reconciler entry point: the command line (common/src/cli.c),
 * the `run` command's options, and the mapping of a run's outcome onto the
 * documented exit codes. Reconciliation itself lives in run.c and the files
 * it calls (statement_*.c, diff.c, classify.c, commands.c, report.c).
 *
 *   paystream-reconciler [--config FILE] run --channel CH (--statement FILE | --fetch)
 *       [--format FMT] [--window W] [--merchant ID] [--dry-run]
 *       [--report-json FILE] [--report-html FILE]
 *   paystream-reconciler --check-config | --config-doc | --help | --version
 */
#include "config.h"
#include "report.h"
#include "recon_run.h"

#include <paystream/cli.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/timeparse.h>

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "paystream-reconciler"

/* Exit codes beyond cli.h's 0/1/2 (docs/RECONCILIATION.md). */
enum { EXIT_DISCREPANCIES = 3, EXIT_HALTED = 4, EXIT_LOCKED = 5 };

#define SHANGHAI_OFFSET_US ((int64_t)8 * 3600 * 1000000)
#define DAY_US ((int64_t)86400 * 1000000)

typedef struct run_args {
    const char *channel, *format, *statement, *window, *merchant, *json_path, *html_path;
    bool dry_run, fetch;
    char day[16]; /* the window as a Shanghai day "YYYY-MM-DD", "" otherwise */
} run_args_t;

/* "YYYY-MM-DD" of the Shanghai civil day containing utc_us. */
static void shanghai_date(int64_t utc_us, char *out, size_t size)
{
    char iso[40];

    ps_time_format_utc(utc_us + SHANGHAI_OFFSET_US, iso, sizeof(iso));
    snprintf(out, size, "%.10s", iso);
}

/* --window: START/END (RFC 3339), YYYY-MM-DD, today or yesterday (Shanghai days). */
static ps_err_t parse_window(const char *w, recon_run_opts_t *o, char *day_out, char *errstr,
                             size_t size)
{
    const char *slash = strchr(w, '/');
    char day[16];
    struct timespec ts;

    if (slash != NULL) {
        ps_err_t err = ps_time_parse_rfc3339(w, (size_t)(slash - w), &o->window_start_us,
                                             errstr, size);
        if (err == PS_OK)
            err = ps_time_parse_rfc3339(slash + 1, strlen(slash + 1), &o->window_end_us,
                                        errstr, size);
        if (err == PS_OK && o->window_end_us <= o->window_start_us)
            err = ps_errstr_set(errstr, size, PS_ERR_INVALID, "window end is not after start");
        o->has_window = err == PS_OK;
        return err;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (strcmp(w, "today") == 0 || strcmp(w, "yesterday") == 0) {
        shanghai_date(now_us - (w[0] == 'y' ? DAY_US : 0), day, sizeof(day));
        w = day;
    }
    o->has_window = true;
    snprintf(day_out, 16, "%.15s", w);
    return recon_statement_shanghai_day(w, &o->window_start_us, &o->window_end_us, errstr, size);
}

static int parse_args(int argc, char **argv, run_args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char **slot = strcmp(opt, "--channel") == 0       ? &a->channel
                            : strcmp(opt, "--format") == 0      ? &a->format
                            : strcmp(opt, "--statement") == 0   ? &a->statement
                            : strcmp(opt, "--window") == 0      ? &a->window
                            : strcmp(opt, "--merchant") == 0    ? &a->merchant
                            : strcmp(opt, "--report-json") == 0 ? &a->json_path
                            : strcmp(opt, "--report-html") == 0 ? &a->html_path
                                                                : NULL;
        if (strcmp(opt, "--dry-run") == 0 || strcmp(opt, "--fetch") == 0) {
            *(opt[2] == 'd' ? &a->dry_run : &a->fetch) = true;
            continue;
        }
        if (slot == NULL)
            return ps_cli_usage_error(PROG, strncmp(opt, "--", 2) == 0 ? "unknown run option"
                                                                       : "unexpected argument",
                                      opt);
        if (i + 1 >= argc)
            return ps_cli_usage_error(PROG, "missing value for", opt);
        *slot = argv[++i];
    }
    if (a->channel == NULL || (a->statement == NULL) == !a->fetch)
        return ps_cli_usage_error(PROG, "run needs --channel and one of --statement, --fetch",
                                  "run");
    return PS_EXIT_OK;
}

/* The channel's own bill format unless --format names another (generic). */
static int options_from_args(run_args_t *a, recon_run_opts_t *o)
{
    char errstr[PS_ERRSTR_SIZE];

    if (ps_channel_parse(a->channel, &o->channel) != PS_OK)
        return ps_cli_usage_error(PROG, "unknown channel (wechat, alipay, apple)", a->channel);
    o->format = o->channel == PS_CHANNEL_WECHAT   ? RECON_FMT_WECHAT
                : o->channel == PS_CHANNEL_ALIPAY ? RECON_FMT_ALIPAY
                                                  : RECON_FMT_APPLE;
    if (a->format != NULL && recon_format_parse(a->format, &o->format) != PS_OK)
        return ps_cli_usage_error(PROG, "unknown format (wechat, alipay, apple, generic)",
                                  a->format);
    if (a->window != NULL &&
        parse_window(a->window, o, a->day, errstr, sizeof(errstr)) != PS_OK)
        return ps_cli_usage_error(PROG, errstr, a->window);
    if (a->fetch && a->day[0] == '\0')
        return ps_cli_usage_error(PROG, "--fetch needs --window YYYY-MM-DD, today or yesterday",
                                  a->window != NULL ? a->window : "(none)");
    o->statement_path = a->statement;
    o->merchant_id = a->merchant;
    o->dry_run = a->dry_run;
    return PS_EXIT_OK;
}

static void options_from_config(const ps_config_t *cfg, recon_run_opts_t *o, char *txn_id,
                                size_t txn_id_size)
{
    static const char *const tolerance_keys[PS_CHANNEL_COUNT] = {
        "recon.amount_tolerance_minor.wechat", "recon.amount_tolerance_minor.alipay",
        "recon.amount_tolerance_minor.apple"};
    char lower[16];

    snprintf(lower, sizeof(lower), "%s", ps_channel_name(o->channel));
    for (char *s = lower; *s != '\0'; s++)
        *s = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    snprintf(txn_id, txn_id_size, "%s-%s",
             ps_config_get_str(cfg, "recon.transactional_id_prefix"), lower);
    o->conninfo = ps_config_get_str(cfg, "pg.conninfo");
    o->cfg = cfg;
    o->topic = ps_config_get_str(cfg, "topic.commands");
    o->txn_id = txn_id;
    o->suspense_account = ps_config_get_str(cfg, "recon.suspense_account_id");
    o->edge_tolerance_s = ps_config_get_int(cfg, "recon.edge_tolerance_s");
    o->grace_s = ps_config_get_int(cfg, "recon.grace_s");
    o->tolerance_minor = ps_config_get_int(cfg, tolerance_keys[o->channel]);
    o->breaker_share_bp = ps_config_get_int(cfg, "recon.breaker.max_share_bp");
    o->breaker_min_rows = ps_config_get_int(cfg, "recon.breaker.min_discrepancies");
    o->breaker_max_amount_minor = ps_config_get_int(cfg, "recon.breaker.max_amount_minor");
    o->work_mem_mb = ps_config_get_int(cfg, "recon.pg.work_mem_mb");
    o->progress = isatty(STDERR_FILENO) == 1;
    /* The merchant the channel keys name is the one every bill must be of. */
    const char *merchant = o->channel == PS_CHANNEL_WECHAT   ? "recon.wechat.mch_id"
                           : o->channel == PS_CHANNEL_ALIPAY ? "recon.alipay.pid"
                                                             : NULL;
    if (o->merchant_id == NULL && merchant != NULL && ps_config_get_str(cfg, merchant)[0] != '\0')
        o->merchant_id = ps_config_get_str(cfg, merchant);
}

static int write_reports(const run_args_t *a, const recon_result_t *r)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_buf_t buf;
    ps_err_t err = PS_OK;

    ps_buf_init(&buf, PS_RECON_REPORT_BYTES_MAX);
    if (a->json_path != NULL) {
        err = recon_report_json(r, &buf, errstr, sizeof(errstr));
        if (err == PS_OK)
            err = recon_report_write_file(a->json_path, buf.data, buf.len, errstr,
                                          sizeof(errstr));
    }
    ps_buf_reset(&buf);
    if (err == PS_OK && a->html_path != NULL) {
        err = recon_report_html(r, &buf, errstr, sizeof(errstr));
        if (err == PS_OK)
            err = recon_report_write_file(a->html_path, buf.data, buf.len, errstr,
                                          sizeof(errstr));
    }
    ps_buf_deinit(&buf);
    if (err != PS_OK)
        fprintf(stderr, PROG ": %s\n", errstr);
    return err == PS_OK ? PS_EXIT_OK : PS_EXIT_FAIL;
}

static int exit_code(const recon_result_t *r)
{
    switch (r->outcome) {
    case RECON_OUT_DISCREPANCIES:
        return EXIT_DISCREPANCIES;
    case RECON_OUT_HALTED:
        return EXIT_HALTED;
    case RECON_OUT_LOCKED:
        return EXIT_LOCKED;
    default:
        return PS_EXIT_OK;
    }
}

/* --fetch: the bill bytes into bill (owned by the caller), wired into o. */
static int fetch_statement(const ps_config_t *cfg, const run_args_t *a, recon_run_opts_t *o,
                           ps_buf_t *bill)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_err_t err;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    err = recon_fetch_for_run(cfg, o->channel, a->day, bill, errstr, sizeof(errstr));
    if (err != PS_OK) {
        fprintf(stderr, PROG ": %s\n", errstr);
        return PS_EXIT_FAIL;
    }
    o->statement_path = NULL;
    o->statement_data = bill->data;
    o->statement_len = bill->len;
    return PS_EXIT_OK;
}

static int cmd_run(const ps_config_t *cfg, int argc, char **argv)
{
    run_args_t a = {0};
    recon_run_opts_t o = {0};
    recon_result_t r = {0};
    ps_buf_t bill;
    char errstr[PS_ERRSTR_SIZE], txn_id[256];
    int rc = parse_args(argc, argv, &a);

    if (rc == PS_EXIT_OK)
        rc = options_from_args(&a, &o);
    if (rc != PS_EXIT_OK)
        return rc;
    options_from_config(cfg, &o, txn_id, sizeof(txn_id));
    ps_buf_init(&bill, (size_t)ps_config_get_int(cfg, "recon.statement.bytes_max"));
    if (a.fetch && (rc = fetch_statement(cfg, &a, &o, &bill)) != PS_EXIT_OK)
        goto out;
    if (recon_run(&o, &r, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": run %s failed: %s\n", r.run_id, errstr);
        rc = PS_EXIT_FAIL;
        goto out;
    }
    if (r.outcome == RECON_OUT_LOCKED) {
        fprintf(stderr, PROG ": another reconciliation of channel \"%s\" is running (advisory "
                        "lock held); nothing was done\n", ps_channel_name(o.channel));
        rc = EXIT_LOCKED;
        goto out;
    }
    recon_report_summary(stdout, &r);
    if (r.outcome == RECON_OUT_HALTED)
        fprintf(stderr, PROG ": run %s halted by the circuit breaker: %s\n", r.run_id,
                r.halt_reason);
    rc = write_reports(&a, &r);
    if (rc == PS_EXIT_OK)
        rc = exit_code(&r);
out:
    recon_result_deinit(&r);
    ps_buf_deinit(&bill);
    if (a.fetch)
        curl_global_cleanup();
    return rc;
}

static const ps_cli_command_t commands[] = {
    {"run", "reconcile one statement against the ledger; exit 0 clean, 3 discrepancies, "
            "4 halted by the circuit breaker, 5 another run holds the lock",
     cmd_run},
};

int main(int argc, char **argv)
{
    const ps_cli_t cli = {
        .prog = PROG,
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
