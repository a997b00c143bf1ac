/*
 * paystream-ingest entry point: the command line, the configuration and the
 * dispatch to the service. The HTTP service itself will live in its own files
 * (http.c and one file per channel); this file only wires them together.
 *
 *   paystream-ingest [--config FILE] [run]     receive callbacks (not yet)
 *   paystream-ingest --check-config | --config-doc | --help | --version
 *
 * Exit codes: 0 success, 1 operational error (message on stderr), 2 usage error.
 */
#include "config.h"

#include <paystream/buf.h>
#include <paystream/config.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/version.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PROG "paystream-ingest"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* What parse_args found; CONTINUE means "go on and run a command". */
enum { PARSE_CONTINUE = -1 };

typedef struct options {
    const char *config_path; /* borrowed from argv; NULL: defaults and environment only */
    bool check_config;
    bool config_doc;
    const char *command; /* borrowed from argv; NULL means "run" */
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [OPTION]... [COMMAND]\n"
            "Receives payment-channel callbacks over HTTP, verifies them and produces them to "
            "Kafka.\n\n"
            "Commands:\n"
            "  run                 serve HTTP (the default; not implemented yet)\n\n"
            "Options:\n"
            "  -c, --config FILE   read configuration from FILE (key = value lines)\n"
            "      --check-config  load the configuration, print the effective values, exit\n"
            "      --config-doc    print the Markdown reference of the configuration keys\n"
            "  -h, --help          print this help and exit\n"
            "  -V, --version       print the version and exit\n\n"
            "Every key can be set from the environment: log.level is PAYSTREAM_LOG_LEVEL.\n"
            "See docs/CONFIGURATION.md.\n");
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, PROG ": %s \"%s\"\nTry \"" PROG " --help\" for more information.\n", what,
            arg);
    return EXIT_USAGE;
}

/* Returns an exit code when the command line is fully handled, else PARSE_CONTINUE. */
static int parse_args(int argc, char **argv, options_t *opt)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
        {"config-doc", no_argument, NULL, 'D'},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    char shortopt[3] = "-?";
    int c;

    opterr = 0; /* our own messages name the option and point to --help */
    while ((c = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt->config_path = optarg; break;
        case 'C': opt->check_config = true; break;
        case 'D': opt->config_doc = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': printf(PROG " %s\n", PS_VERSION); return EXIT_OK;
        case ':': return usage_error("missing argument for option", argv[optind - 1]);
        default:
            shortopt[1] = (char)optopt;
            return usage_error("unknown option", optopt != 0 ? shortopt : argv[optind - 1]);
        }
    }
    if (optind < argc)
        opt->command = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (opt->command != NULL && (opt->check_config || opt->config_doc))
        return usage_error("unexpected argument", opt->command);
    return PARSE_CONTINUE;
}

static int print_config_doc(void)
{
    ps_buf_t md;
    int rc = EXIT_OK;

    /* The reference of one service is far smaller than a configuration file may be. */
    ps_buf_init(&md, PS_CONFIG_FILE_BYTES_MAX);
    if (ps_config_write_markdown(ingest_config_table, ingest_config_key_count, "ingest", &md) !=
        PS_OK) {
        fprintf(stderr, PROG ": could not write the configuration reference: too large\n");
        rc = EXIT_FAIL;
    } else {
        fwrite(md.data, 1, md.len, stdout);
    }
    ps_buf_deinit(&md);
    return rc;
}

static int load_config(const options_t *opt, ps_config_t **cfg_out)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_log_level_t level;

    if (ps_config_load(ingest_config_table, ingest_config_key_count, opt->config_path, NULL,
                       cfg_out, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, PROG ": invalid configuration: %s\n", errstr);
        return EXIT_FAIL;
    }
    /* The table's choices are exactly the level names, so this cannot fail. */
    if (ps_log_level_parse(ps_config_get_str(*cfg_out, "log.level"), &level) == PS_OK)
        ps_log_set_level(level);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    options_t opt = {0};
    ps_config_t *cfg = NULL;
    int rc;

    ps_log_set_component("ingest");
    rc = parse_args(argc, argv, &opt);
    if (rc != PARSE_CONTINUE)
        return rc;
    if (opt.config_doc)
        return print_config_doc();
    if (opt.command != NULL && strcmp(opt.command, "run") != 0)
        return usage_error("unknown command", opt.command);
    if (!opt.check_config) {
        fprintf(stderr, PROG ": the HTTP service is not implemented yet; available: "
                             "--check-config, --config-doc, --help, --version\n");
        return EXIT_USAGE;
    }
    rc = load_config(&opt, &cfg);
    if (rc == EXIT_OK)
        ps_config_dump(cfg, stdout);
    ps_config_destroy(cfg);
    return rc;
}
