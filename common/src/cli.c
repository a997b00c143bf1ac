/*
 * The shared command line of the paystream binaries (see paystream/cli.h):
 * common options, configuration loading, log level, dispatch to a command.
 */
#include <paystream/buf.h>
#include <paystream/cli.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/version.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What parse_args found; CONTINUE means "go on and run a command". */
enum { PARSE_CONTINUE = -1 };

typedef struct options {
    const char *config_path; /* borrowed from argv; NULL: defaults and environment only */
    bool check_config;
    bool config_doc;
    int command_index;       /* index in argv of the command name, or argc */
} options_t;

static void usage(const ps_cli_t *cli, FILE *out)
{
    fprintf(out, "Usage: %s [OPTION]... [COMMAND [ARGS]...]\n%s\n\nCommands:\n", cli->prog,
            cli->description);
    for (size_t i = 0; i < cli->command_count; i++)
        fprintf(out, "  %-18s  %s%s\n", cli->commands[i].name, cli->commands[i].summary,
                i == 0 ? " (the default)" : "");
    fprintf(out,
            "\nOptions:\n"
            "  -c, --config FILE   read configuration from FILE (key = value lines)\n"
            "      --check-config  load the configuration, print the effective values, exit\n"
            "      --config-doc    print the Markdown reference of the configuration keys\n"
            "  -h, --help          print this help and exit\n"
            "  -V, --version       print the version and exit\n\n"
            "Every key can be set from the environment: log.level is PAYSTREAM_LOG_LEVEL.\n"
            "See docs/CONFIGURATION.md. Exit status: 0 success, 1 error, 2 usage error.\n");
}

int ps_cli_usage_error(const char *prog, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s \"%s\"\nTry \"%s --help\" for more information.\n", prog, what, arg,
            prog);
    return PS_EXIT_USAGE;
}

/* Returns an exit code when the command line is fully handled, else PARSE_CONTINUE. */
static int parse_args(const ps_cli_t *cli, int argc, char **argv, options_t *opt)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
        {"config-doc", no_argument, NULL, 'D'},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    char shortopt[3] = "-?";
    int c;

    opterr = 0; /* our own messages name the option and point to --help */
    /* '+': stop at the command name; what follows belongs to the command. */
    while ((c = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt->config_path = optarg; break;
        case 'C': opt->check_config = true; break;
        case 'D': opt->config_doc = true; break;
        case 'h': usage(cli, stdout); return PS_EXIT_OK;
        case 'V': printf("%s %s\n", cli->prog, PS_VERSION); return PS_EXIT_OK;
        case ':': return ps_cli_usage_error(cli->prog, "missing argument for option", argv[optind - 1]);
        default:
            shortopt[1] = (char)optopt;
            return ps_cli_usage_error(cli->prog, "unknown option",
                                      optopt != 0 ? shortopt : argv[optind - 1]);
        }
    }
    opt->command_index = optind;
    if (optind < argc && (opt->check_config || opt->config_doc))
        return ps_cli_usage_error(cli->prog, "unexpected argument", argv[optind]);
    return PARSE_CONTINUE;
}

static int print_config_doc(const ps_cli_t *cli)
{
    ps_buf_t md;
    int rc = PS_EXIT_OK;

    /* The reference of one service is far smaller than a configuration file may be. */
    ps_buf_init(&md, PS_CONFIG_FILE_BYTES_MAX);
    if (ps_config_write_markdown(cli->table, cli->key_count, cli->service, &md) != PS_OK) {
        fprintf(stderr, "%s: could not write the configuration reference: too large\n",
                cli->prog);
        rc = PS_EXIT_FAIL;
    } else {
        fwrite(md.data, 1, md.len, stdout);
    }
    ps_buf_deinit(&md);
    return rc;
}

static int load_config(const ps_cli_t *cli, const options_t *opt, ps_config_t **cfg_out)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_log_level_t level;

    if (ps_config_load(cli->table, cli->key_count, opt->config_path, NULL, cfg_out, errstr,
                       sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s: invalid configuration: %s\n", cli->prog, errstr);
        return PS_EXIT_FAIL;
    }
    /* Every service table declares log.level with exactly the level names. */
    if (ps_log_level_parse(ps_config_get_str(*cfg_out, "log.level"), &level) == PS_OK)
        ps_log_set_level(level);
    return PS_EXIT_OK;
}

static const ps_cli_command_t *find_command(const ps_cli_t *cli, const char *name)
{
    for (size_t i = 0; i < cli->command_count; i++) {
        if (strcmp(cli->commands[i].name, name) == 0)
            return &cli->commands[i];
    }
    return NULL;
}

/*
 * Takes --config FILE / --config=FILE / -c FILE out of a command's arguments
 * (up to a "--"), so `prog verify --config F ...` works like
 * `prog --config F verify ...`. cmd_argv receives the rest (borrowed).
 */
static int extract_config(const ps_cli_t *cli, int argc, char **argv, options_t *opt,
                          char **cmd_argv, int *cmd_argc)
{
    int n = 0, i;

    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            if (i + 1 >= argc)
                return ps_cli_usage_error(cli->prog, "missing argument for option", a);
            opt->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            opt->config_path = a + 9;
        } else {
            cmd_argv[n++] = argv[i];
        }
    }
    while (i < argc)
        cmd_argv[n++] = argv[i++];
    cmd_argv[n] = NULL;
    *cmd_argc = n;
    return PARSE_CONTINUE;
}

int ps_cli_main(const ps_cli_t *cli, int argc, char **argv)
{
    static char *default_argv[2];
    char **cmd_argv = NULL;
    int cmd_argc = 0;
    const ps_cli_command_t *cmd = &cli->commands[0];
    options_t opt = {0};
    ps_config_t *cfg = NULL;
    int rc;

    ps_log_set_component(cli->service);
    rc = parse_args(cli, argc, argv, &opt);
    if (rc != PARSE_CONTINUE)
        return rc;
    if (opt.config_doc)
        return print_config_doc(cli);
    if (opt.command_index < argc) {
        cmd = find_command(cli, argv[opt.command_index]);
        if (cmd == NULL)
            return ps_cli_usage_error(cli->prog, "unknown command", argv[opt.command_index]);
        cmd_argv = ps_calloc((size_t)(argc - opt.command_index) + 1, sizeof(*cmd_argv));
        rc = extract_config(cli, argc - opt.command_index, argv + opt.command_index, &opt,
                            cmd_argv, &cmd_argc);
        if (rc != PARSE_CONTINUE) {
            ps_free(cmd_argv);
            return rc;
        }
    } else {
        default_argv[0] = (char *)cmd->name;
        cmd_argv = NULL;
    }
    rc = load_config(cli, &opt, &cfg);
    if (rc == PS_EXIT_OK && opt.check_config)
        ps_config_dump(cfg, stdout);
    else if (rc == PS_EXIT_OK && cmd_argv != NULL)
        rc = cmd->fn(cfg, cmd_argc, cmd_argv);
    else if (rc == PS_EXIT_OK)
        rc = cmd->fn(cfg, 1, default_argv);
    ps_free(cmd_argv);
    ps_config_destroy(cfg);
    return rc;
}
