/*
 * Configuration loading (common/src/config.c): the file syntax, typed
 * validation, environment overrides, pass-through keys, secret files, the
 * bounds of limits.h, hostile bytes, the redacted dump and the Markdown
 * reference. Every error must be PS_ERR_CONFIG and name its key and source.
 * Data files live in tests/data/config; generated cases go to a temporary
 * directory removed at the end.
 */
#include "test.h"

#include <paystream/buf.h>
#include <paystream/config.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/version.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#define DATA_DIR PS_SOURCE_DIR "/tests/data/config"
#define PATH_BYTES_MAX 512

/* Every type, a required key and an optional secret: a small service table. */
static const ps_config_key_t table[] = {
    {.name = "log.level", .type = PS_CONF_ENUM, .default_value = "info",
     .choices = "debug|info|warn|error", .description = "Log threshold."},
    {.name = "http.port", .type = PS_CONF_INT, .default_value = "8080", .min = 1, .max = 65535,
     .description = "Listening port."},
    {.name = "http.timeout_ms", .type = PS_CONF_INT, .default_value = "5000", .min = 0,
     .max = INT64_MAX, .unit = "ms", .description = "Request timeout."},
    {.name = "delta", .type = PS_CONF_INT, .default_value = "0", .min = INT64_MIN,
     .max = INT64_MAX, .description = "Any 64-bit integer."},
    {.name = "feature.enabled", .type = PS_CONF_BOOL, .default_value = "off",
     .description = "A switch."},
    {.name = "pg.conninfo", .type = PS_CONF_STRING, .default_value = NULL,
     .description = "Required connection string."},
    {.name = "name", .type = PS_CONF_STRING, .default_value = "a|b", .description = "Text."},
    {.name = "empty", .type = PS_CONF_STRING, .default_value = "x", .description = "Text."},
    {.name = "note", .type = PS_CONF_STRING, .default_value = "", .description = "Text."},
    {.name = "api.key_file", .type = PS_CONF_SECRET_FILE, .default_value = "",
     .description = "Optional secret."},
    {.name = "migrations", .type = PS_CONF_STRING, .default_value = PS_SOURCE_DIR "/schemas",
     .description = "Under the source tree."},
    {.name = "kafka.", .type = PS_CONF_PASSTHROUGH, .description = "librdkafka property."},
};
#define TABLE_KEYS (sizeof(table) / sizeof(table[0]))

/* The same without a pass-through prefix: kafka.* keys are unknown there. */
static const ps_config_key_t plain_table[] = {
    {.name = "log.level", .type = PS_CONF_ENUM, .default_value = "info",
     .choices = "debug|info|warn|error", .description = "Log threshold."},
};

static char tmp_dir[PATH_BYTES_MAX];
static char *const conninfo_env[] = {"PAYSTREAM_PG_CONNINFO=host=x", NULL};
static char *const no_env[] = {NULL};

static const char *tmp_path(const char *name, char *buf)
{
    if (snprintf(buf, PATH_BYTES_MAX, "%s/%s", tmp_dir, name) >= PATH_BYTES_MAX) {
        fprintf(stderr, "temporary path too long: %s/%s\n", tmp_dir, name);
        exit(1);
    }
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "could not write \"%s\": %s\n", path, strerror(errno));
        exit(1);
    }
    fclose(f);
}

/* Loads content as a file named t.conf, with envp; *path_out names the file. */
static ps_err_t load_bytes(const void *content, size_t len, char *const *envp,
                           ps_config_t **cfg, char *err, size_t err_size)
{
    char path[PATH_BYTES_MAX];

    tmp_path("t.conf", path);
    write_file(path, content, len);
    *cfg = NULL;
    err[0] = '\0';
    return ps_config_load(table, TABLE_KEYS, path, envp, cfg, err, err_size);
}

static ps_err_t load_text(const char *content, char *const *envp, ps_config_t **cfg, char *err,
                          size_t err_size)
{
    return load_bytes(content, strlen(content), envp, cfg, err, err_size);
}

/* Dumps cfg into an owned string (free with ps_free). */
static char *dump_to_string(const ps_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return ps_strdup("");
    ps_config_dump(cfg, f);
    fclose(f);
    return text;
}

/* Defaults apply without a file; a required key with no value is an error naming its variable. */
static void test_defaults_and_required(void)
{
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    CHECK_INT(ps_config_load(table, TABLE_KEYS, NULL, no_env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK(cfg == NULL);
    CHECK_CONTAINS(err, "missing required key \"pg.conninfo\"");
    CHECK_CONTAINS(err, "PAYSTREAM_PG_CONNINFO");

    REQUIRE(ps_config_load(table, TABLE_KEYS, NULL, conninfo_env, &cfg, err, sizeof(err)) ==
            PS_OK);
    CHECK_STR(ps_config_get_str(cfg, "log.level"), "info");
    CHECK_INT(ps_config_get_int(cfg, "http.port"), 8080);
    CHECK_INT(ps_config_get_int(cfg, "http.timeout_ms"), 5000);
    CHECK(!ps_config_get_bool(cfg, "feature.enabled"));
    CHECK_STR(ps_config_get_str(cfg, "pg.conninfo"), "host=x");
    CHECK_STR(ps_config_get_str(cfg, "note"), "");
    size_t len = 99;
    CHECK(ps_config_get_secret(cfg, "api.key_file", &len) == NULL);
    CHECK_INT(len, 0);
    ps_config_destroy(cfg);
    ps_config_destroy(NULL);
}

/* The committed good.conf: comments, quotes with '', blanks, tabs, last one wins. */
static void test_good_file(void)
{
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    REQUIRE(ps_config_load(table, TABLE_KEYS, DATA_DIR "/good.conf", no_env, &cfg, err,
                           sizeof(err)) == PS_OK);
    CHECK_INT(ps_config_get_int(cfg, "http.port"), 9001);
    CHECK_INT(ps_config_get_int(cfg, "http.timeout_ms"), 250);
    CHECK_STR(ps_config_get_str(cfg, "pg.conninfo"), "host=db.example port=5432 dbname=ledger");
    CHECK_STR(ps_config_get_str(cfg, "name"), "it's # not a comment");
    CHECK_STR(ps_config_get_str(cfg, "empty"), "");
    CHECK(ps_config_get_bool(cfg, "feature.enabled"));
    CHECK_STR(ps_config_get_str(cfg, "log.level"), "warn");
    CHECK_INT(ps_config_get_int(cfg, "delta"), INT64_MIN);
    CHECK_STR(ps_config_get_str(cfg, "note"), "trailing spaces are trimmed");
    ps_config_destroy(cfg);
}

/* CRLF line ends, a last line without newline and UTF-8 text are all fine. */
static void test_line_ends_and_utf8(void)
{
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    REQUIRE(load_text("http.port = 81\r\nname = 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb0'\r\n"
                      "pg.conninfo = last",
                      no_env, &cfg, err, sizeof(err)) == PS_OK);
    CHECK_INT(ps_config_get_int(cfg, "http.port"), 81);
    CHECK_STR(ps_config_get_str(cfg, "name"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb0");
    CHECK_STR(ps_config_get_str(cfg, "pg.conninfo"), "last");
    ps_config_destroy(cfg);
}

typedef struct error_case {
    const char *content;  /* the file; line 2 is the bad one unless said otherwise */
    const char *expected; /* a part of the message */
} error_case_t;

/* Each error class is PS_ERR_CONFIG, names file:line and says why. */
static void test_file_errors(void)
{
    static const error_case_t cases[] = {
        {"pg.conninfo = x\nfoo = 1\n", "t.conf:2: unknown key \"foo\""},
        {"pg.conninfo = x\nhttp.port = abc\n",
         "t.conf:2: invalid value \"abc\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port = 70000\n",
         "t.conf:2: value 70000 for key \"http.port\" is out of range [1, 65535]"},
        {"pg.conninfo = x\nhttp.port = 0\n", "is out of range [1, 65535]"},
        {"pg.conninfo = x\nhttp.port = 1x\n", "\"1x\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port = +1\n", "\"+1\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port = ' 1'\n", "\" 1\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port = ''\n", "\"\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port =\n", "\"\" for key \"http.port\": not an integer"},
        {"pg.conninfo = x\nhttp.port = -\n", "not an integer"},
        {"pg.conninfo = x\nhttp.port = 1.5\n", "not an integer"},
        {"pg.conninfo = x\ndelta = 9223372036854775808\n",
         "value 9223372036854775808 for key \"delta\" is out of range"},
        {"pg.conninfo = x\ndelta = -9223372036854775809\n", "is out of range"},
        {"pg.conninfo = x\ndelta = 99999999999999999999999\n", "is out of range"},
        {"pg.conninfo = x\nfeature.enabled = maybe\n",
         "t.conf:2: invalid value \"maybe\" for key \"feature.enabled\": not a boolean"},
        {"pg.conninfo = x\nlog.level = verbose\n",
         "invalid value \"verbose\" for key \"log.level\": not one of debug|info|warn|error"},
        {"pg.conninfo = x\nlog.level = INFO\n", "not one of"},
        {"pg.conninfo = x\nhttp.port 80\n", "t.conf:2: syntax error: expected \"=\" after key"},
        {"pg.conninfo = x\n= 80\n", "t.conf:2: syntax error: expected a key"},
        {"pg.conninfo = x\n[section]\n", "t.conf:2: syntax error: expected a key"},
        {"pg.conninfo = x\nname = 'open\n", "t.conf:2: syntax error: unterminated quoted value"},
        {"pg.conninfo = x\nname = 'a' b\n", "t.conf:2: syntax error: unexpected text after"},
        {"pg.conninfo = x\nname = it's\n", "t.conf:2: syntax error: quote inside"},
        {"pg.conninfo = x\nkafka. = 1\n", "t.conf:2: key \"kafka.\" names no property"},
        {"pg.conninfo = x\nKAFKA.x = 1\n", "unknown key \"KAFKA.x\""},
        {"# comment\n\n\nhttp.port = 99999\n", "t.conf:4: value 99999"},
    };
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(load_text(cases[i].content, no_env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
        CHECK(cfg == NULL);
        CHECK_CONTAINS(err, cases[i].expected);
        ps_config_destroy(cfg); /* only if the check above failed */
    }
}

/* Environment beats file beats default; bad variables are named; unrelated ones ignored. */
static void test_env_overrides(void)
{
    char *const env[] = {"PAYSTREAM_HTTP_PORT=9100",
                         "PAYSTREAM_TEST_PG=host=elsewhere",
                         "PAYSTREAM_SOURCE_DIR=/src",
                         "PAYSTREAM_=x",
                         "PAYSTREAM_HTTP_TIMEOUT_MS",
                         "paystream_log_level=error",
                         "LOG_LEVEL=error",
                         "PAYSTREAM_LOG_LEVEL=debug",
                         "PAYSTREAM_FEATURE_ENABLED=true",
                         NULL};
    char *const bad_env[] = {"PAYSTREAM_HTTP_PORT= 1", NULL};
    char *const ctl_env[] = {"PAYSTREAM_NAME=a\nb", NULL};
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    REQUIRE(load_text("pg.conninfo = x\nhttp.port = 9000\nlog.level = warn\n", env, &cfg, err,
                      sizeof(err)) == PS_OK);
    CHECK_INT(ps_config_get_int(cfg, "http.port"), 9100);
    CHECK_STR(ps_config_get_str(cfg, "log.level"), "debug");
    CHECK(ps_config_get_bool(cfg, "feature.enabled"));
    CHECK_INT(ps_config_get_int(cfg, "http.timeout_ms"), 5000);
    ps_config_destroy(cfg);

    CHECK_INT(load_text("pg.conninfo = x\n", bad_env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "environment variable PAYSTREAM_HTTP_PORT: invalid value \" 1\"");
    CHECK_CONTAINS(err, "not an integer");
    CHECK_INT(load_text("pg.conninfo = x\n", ctl_env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "environment variable PAYSTREAM_NAME: contains control character 0x0a");
}

typedef struct collected {
    char keys[8][64];
    char values[8][64];
    int count;
    int fail_at; /* 1-based call that returns an error; 0: never */
} collected_t;

static ps_err_t collect(const char *key, const char *value, void *opaque)
{
    collected_t *c = opaque;

    if (c->count < 8) {
        snprintf(c->keys[c->count], sizeof(c->keys[0]), "%s", key);
        snprintf(c->values[c->count], sizeof(c->values[0]), "%s", value);
    }
    c->count++;
    return c->count == c->fail_at ? PS_ERR_INVALID : PS_OK;
}

/* kafka.* keys from file and environment come back in first-set order, prefix stripped. */
static void test_passthrough(void)
{
    char *const env[] = {"PAYSTREAM_KAFKA_LINGER_MS=5", "PAYSTREAM_KAFKA_CLIENT_ID=from-env",
                         "PAYSTREAM_KAFKA_=ignored", NULL};
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;
    collected_t c = {0};

    REQUIRE(load_text("pg.conninfo = x\nkafka.bootstrap.servers = b:9092\n"
                      "kafka.client.id = from-file\nkafka.bootstrap.servers = c:9092\n",
                      env, &cfg, err, sizeof(err)) == PS_OK);
    CHECK_INT(ps_config_foreach_prefixed(cfg, "kafka.", collect, &c), PS_OK);
    CHECK_INT(c.count, 3);
    CHECK_STR(c.keys[0], "bootstrap.servers");
    CHECK_STR(c.values[0], "c:9092");
    CHECK_STR(c.keys[1], "client.id");
    CHECK_STR(c.values[1], "from-env");
    CHECK_STR(c.keys[2], "linger.ms");
    CHECK_STR(c.values[2], "5");

    memset(&c, 0, sizeof(c));
    c.fail_at = 2;
    CHECK_INT(ps_config_foreach_prefixed(cfg, "kafka.", collect, &c), PS_ERR_INVALID);
    CHECK_INT(c.count, 2);
    ps_config_destroy(cfg);

    /* Without a pass-through key in the table, kafka.* is unknown and its variables ignored. */
    char path[PATH_BYTES_MAX];
    tmp_path("plain.conf", path);
    write_file(path, "kafka.acks = all\n", 17);
    CHECK_INT(ps_config_load(plain_table, 1, path, env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "plain.conf:1: unknown key \"kafka.acks\"");
    REQUIRE(ps_config_load(plain_table, 1, NULL, env, &cfg, err, sizeof(err)) == PS_OK);
    ps_config_destroy(cfg);
}

/* The secret's content is loaded, never dumped; bad secret files are named, not shown. */
static void test_secret_file(void)
{
    char err[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX], var[PATH_BYTES_MAX + 64];
    char *env[] = {var, "PAYSTREAM_PG_CONNINFO=x", NULL};
    ps_config_t *cfg = NULL;
    const uint8_t *secret;
    size_t len = 0;
    char *dump;

    snprintf(var, sizeof(var), "PAYSTREAM_API_KEY_FILE=%s/secret.txt", DATA_DIR);
    REQUIRE(ps_config_load(table, TABLE_KEYS, NULL, env, &cfg, err, sizeof(err)) == PS_OK);
    secret = ps_config_get_secret(cfg, "api.key_file", &len);
    REQUIRE(secret != NULL);
    CHECK_INT(len, strlen("s3cr3t-api-key-0123456789"));
    CHECK_STR((const char *)secret, "s3cr3t-api-key-0123456789");
    CHECK_STR(ps_config_get_str(cfg, "api.key_file"), DATA_DIR "/secret.txt");
    dump = dump_to_string(cfg);
    CHECK_CONTAINS(dump, "api.key_file = <secret from " DATA_DIR "/secret.txt>");
    CHECK(strstr(dump, "s3cr3t") == NULL);
    ps_free(dump);
    ps_config_destroy(cfg);

    snprintf(var, sizeof(var), "PAYSTREAM_API_KEY_FILE=%s", tmp_path("absent", path));
    CHECK_INT(ps_config_load(table, TABLE_KEYS, NULL, env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "could not read secret file \"");
    CHECK_CONTAINS(err, "absent\" for key \"api.key_file\"");
    CHECK_CONTAINS(err, "environment variable PAYSTREAM_API_KEY_FILE");
    CHECK_CONTAINS(err, "No such file or directory");

    snprintf(var, sizeof(var), "PAYSTREAM_API_KEY_FILE=%s", tmp_path("empty.key", path));
    write_file(path, "\n", 1);
    CHECK_INT(ps_config_load(table, TABLE_KEYS, NULL, env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "empty.key\" for key \"api.key_file\" is empty");

    /* One byte past the bound; the content must not leak into the message. */
    char *big = ps_malloc(PS_CONFIG_SECRET_FILE_BYTES_MAX + 1);
    memset(big, 'Z', PS_CONFIG_SECRET_FILE_BYTES_MAX + 1);
    snprintf(var, sizeof(var), "PAYSTREAM_API_KEY_FILE=%s", tmp_path("big.key", path));
    write_file(path, big, PS_CONFIG_SECRET_FILE_BYTES_MAX + 1);
    CHECK_INT(ps_config_load(table, TABLE_KEYS, NULL, env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "PS_CONFIG_SECRET_FILE_BYTES_MAX");
    CHECK(strstr(err, "ZZZ") == NULL);
    /* Exactly at the bound is accepted. */
    write_file(path, big, PS_CONFIG_SECRET_FILE_BYTES_MAX);
    REQUIRE(ps_config_load(table, TABLE_KEYS, NULL, env, &cfg, err, sizeof(err)) == PS_OK);
    ps_config_get_secret(cfg, "api.key_file", &len);
    CHECK_INT(len, PS_CONFIG_SECRET_FILE_BYTES_MAX);
    ps_config_destroy(cfg);
    ps_free(big);
}

/* The dump shows effective values and their source; credentials never appear. */
static void test_dump(void)
{
    char *const env[] = {"PAYSTREAM_KAFKA_SSL_KEY_PASSWORD=env-pass-value",
                         "PAYSTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET=env-secret-value", NULL};
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;
    char *dump;

    REQUIRE(ps_config_load(table, TABLE_KEYS, DATA_DIR "/good.conf", env, &cfg, err,
                           sizeof(err)) == PS_OK);
    dump = dump_to_string(cfg);
    CHECK_CONTAINS(dump, "log.level = warn  # " DATA_DIR "/good.conf:11\n");
    CHECK_CONTAINS(dump, "http.port = 9001  # " DATA_DIR "/good.conf:5\n");
    CHECK_CONTAINS(dump, "feature.enabled = on  #");
    CHECK_CONTAINS(dump, "pg.conninfo = 'host=db.example port=5432 dbname=ledger'  #");
    CHECK_CONTAINS(dump, "name = 'it''s # not a comment'  #");
    CHECK_CONTAINS(dump, "empty = ''  #");
    CHECK_CONTAINS(dump, "delta = -9223372036854775808  #");
    CHECK_CONTAINS(dump, "http.timeout_ms = 250  #");
    CHECK_CONTAINS(dump, "kafka.bootstrap.servers = broker-1:9092,broker-2:9092  #");
    CHECK_CONTAINS(dump, "kafka.sasl.password = <redacted>  #");
    CHECK_CONTAINS(dump, "kafka.ssl.key.password = <redacted>  # environment variable "
                         "PAYSTREAM_KAFKA_SSL_KEY_PASSWORD\n");
    CHECK_CONTAINS(dump, "kafka.sasl.oauthbearer.client.secret = <redacted>");
    CHECK_CONTAINS(dump, "migrations = " PS_SOURCE_DIR "/schemas  # default\n");
    CHECK(strstr(dump, "hunter2") == NULL);
    CHECK(strstr(dump, "env-pass-value") == NULL);
    CHECK(strstr(dump, "env-secret-value") == NULL);
    ps_free(dump);
    ps_config_destroy(cfg);

    /* A dump without pass-through keys says so instead of printing nothing. */
    REQUIRE(ps_config_load(table, TABLE_KEYS, NULL, conninfo_env, &cfg, err, sizeof(err)) ==
            PS_OK);
    dump = dump_to_string(cfg);
    CHECK_CONTAINS(dump, "# no kafka.* pass-through keys set\n");
    CHECK_CONTAINS(dump, "pg.conninfo = host=x  # environment variable PAYSTREAM_PG_CONNINFO\n");
    ps_free(dump);
    ps_config_destroy(cfg);
}

/* Writes n bytes of comment lines of at most line_bytes each (newline included). */
static char *comment_lines(size_t n, size_t line_bytes)
{
    char *s = ps_malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        s[i] = (i + 1) % line_bytes == 0 || i + 1 == n ? '\n' : '#';
    s[n] = '\0';
    return s;
}

/* File size, line length and key count are bounded, and each bound is exact. */
static void test_bounds(void)
{
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;
    ps_buf_t b;
    char *s;

    s = comment_lines(PS_CONFIG_FILE_BYTES_MAX, 1000);
    CHECK_INT(load_bytes(s, PS_CONFIG_FILE_BYTES_MAX, conninfo_env, &cfg, err, sizeof(err)),
              PS_OK);
    ps_config_destroy(cfg);
    ps_free(s);
    s = comment_lines(PS_CONFIG_FILE_BYTES_MAX + 1, 1000);
    CHECK_INT(load_bytes(s, PS_CONFIG_FILE_BYTES_MAX + 1, conninfo_env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "is larger than 262144 bytes (PS_CONFIG_FILE_BYTES_MAX)");
    ps_free(s);

    /* A line of exactly PS_CONFIG_LINE_BYTES_MAX bytes, then one byte more. */
    s = comment_lines(PS_CONFIG_LINE_BYTES_MAX + 1, PS_CONFIG_LINE_BYTES_MAX + 1);
    CHECK_INT(load_text(s, conninfo_env, &cfg, err, sizeof(err)), PS_OK);
    ps_config_destroy(cfg);
    ps_free(s);
    s = comment_lines(PS_CONFIG_LINE_BYTES_MAX + 2, PS_CONFIG_LINE_BYTES_MAX + 2);
    CHECK_INT(load_text(s, conninfo_env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "t.conf:1: line is longer than 4096 bytes (PS_CONFIG_LINE_BYTES_MAX)");
    ps_free(s);

    /* The table's keys plus pass-through keys may not exceed PS_CONFIG_KEYS_MAX. */
    ps_buf_init(&b, PS_CONFIG_FILE_BYTES_MAX);
    for (size_t i = 0; i < PS_CONFIG_KEYS_MAX - TABLE_KEYS; i++)
        REQUIRE(ps_buf_appendf(&b, "kafka.k%zu = v\n", i) == PS_OK);
    CHECK_INT(load_bytes(b.data, b.len, conninfo_env, &cfg, err, sizeof(err)), PS_OK);
    ps_config_destroy(cfg);
    REQUIRE(ps_buf_append_str(&b, "kafka.k0 = again\nkafka.one.more = v\n") == PS_OK);
    CHECK_INT(load_bytes(b.data, b.len, conninfo_env, &cfg, err, sizeof(err)), PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "too many keys: at most 256 (PS_CONFIG_KEYS_MAX)");
    ps_buf_deinit(&b);
}

/* A literal and its length, NUL bytes included. */
#define B(s) s, sizeof(s) - 1

/* NUL bytes, control characters and invalid UTF-8 are rejected with their line. */
static void test_hostile_bytes(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *expected;
    } cases[] = {
        {B("name = a\0b\n"), "t.conf:1: contains a NUL byte"},
        {B("# ok\nname = a\x1b[31m\n"), "t.conf:2: contains control character 0x1b"},
        {B("name = a\rb\n"), "contains control character 0x0d"},
        {B("name = \x7f\n"), "contains control character 0x7f"},
        {B("name = \xff\n"), "t.conf:1: invalid UTF-8 byte 0xff"},
        {B("name = \xc0\xaf\n"), "invalid UTF-8 byte 0xc0"},         /* overlong '/' */
        {B("name = \xed\xa0\x80\n"), "invalid UTF-8 byte 0xed"},     /* surrogate */
        {B("name = \xe2\x82\n"), "invalid UTF-8 byte 0xe2"},         /* truncated */
        {B("name = \xf4\x90\x80\x80\n"), "invalid UTF-8 byte 0xf4"}, /* past U+10FFFF */
        {B("name = \xe2\x82"), "invalid UTF-8 byte 0xe2"},            /* truncated at EOF */
        {B("\xef\xbb\xbf" "name = x\n"), "t.conf:1: syntax error: expected a key"}, /* BOM */
    };
    char err[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(load_bytes(cases[i].bytes, cases[i].len, conninfo_env, &cfg, err, sizeof(err)),
                  PS_ERR_CONFIG);
        CHECK_CONTAINS(err, cases[i].expected);
    }
}

/* Pseudo-random garbage never crashes: it loads or fails with PS_ERR_CONFIG and a message. */
static void test_garbage_never_crashes(void)
{
    static const char alphabet[] = "ab.=' #\n\t\r\x01\x80\xc3\xa9\xff" "0123456789-_kafkhtp";
    char err[PS_ERRSTR_SIZE], buf[512];
    uint32_t state = 12345;
    ps_config_t *cfg;
    ps_err_t rc;

    for (int round = 0; round < 300; round++) {
        size_t len = (size_t)round % sizeof(buf);
        for (size_t i = 0; i < len; i++) {
            state = state * 1103515245u + 12345u; /* deterministic: reproducible failures */
            buf[i] = alphabet[(state >> 16) % (sizeof(alphabet) - 1)];
        }
        rc = load_bytes(buf, len, conninfo_env, &cfg, err, sizeof(err));
        CHECK(rc == PS_OK || rc == PS_ERR_CONFIG);
        CHECK(rc == PS_OK || err[0] != '\0');
        ps_config_destroy(cfg);
    }
}

/* A missing file and a directory are errors that name the path and the cause. */
static void test_missing_file(void)
{
    char err[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];
    ps_config_t *cfg = NULL;

    tmp_path("does-not-exist.conf", path);
    CHECK_INT(ps_config_load(table, TABLE_KEYS, path, conninfo_env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "could not read configuration file \"");
    CHECK_CONTAINS(err, "does-not-exist.conf\": No such file or directory");
    CHECK_INT(ps_config_load(table, TABLE_KEYS, tmp_dir, conninfo_env, &cfg, err, sizeof(err)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(err, "Is a directory");
}

/* The Markdown reference has one escaped row per key and does not depend on the checkout. */
static void test_markdown(void)
{
    ps_buf_t a, b;

    ps_buf_init(&a, 64 * 1024);
    ps_buf_init(&b, 64 * 1024);
    REQUIRE(ps_config_write_markdown(table, TABLE_KEYS, "test", &a) == PS_OK);
    REQUIRE(ps_config_write_markdown(table, TABLE_KEYS, "test", &b) == PS_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    const char *md = (const char *)a.data;
    const char *head = "## paystream-test\n\n| Key | Type | Default |";
    CHECK(strncmp(md, head, strlen(head)) == 0);
    CHECK_CONTAINS(md, "| `log.level` | enum | `info` | `debug`, `info`, `warn`, `error` | "
                       "`PAYSTREAM_LOG_LEVEL` | Log threshold. |\n");
    CHECK_CONTAINS(md, "| `http.port` | integer | `8080` | 1 to 65535 | `PAYSTREAM_HTTP_PORT` |");
    CHECK_CONTAINS(md, "| `http.timeout_ms` | integer | `5000` | 0 or more ms |");
    CHECK_CONTAINS(md, "| `delta` | integer | `0` | any |");
    CHECK_CONTAINS(md, "| `pg.conninfo` | string | *required* |");
    CHECK_CONTAINS(md, "| `name` | string | `a\\|b` |");
    CHECK_CONTAINS(md, "| `api.key_file` | secret file | *none* |");
    CHECK_CONTAINS(md, "| `migrations` | string | `<source dir>/schemas` |");
    CHECK_CONTAINS(md, "| `kafka.*` | pass-through |  |  | `PAYSTREAM_KAFKA_*` |");
    CHECK(strstr(md, PS_SOURCE_DIR) == NULL);
    /* The bound of the output buffer is honoured. */
    ps_buf_deinit(&b);
    ps_buf_init(&b, 100);
    CHECK_INT(ps_config_write_markdown(table, TABLE_KEYS, "test", &b), PS_ERR_TOO_LARGE);
    ps_buf_deinit(&a);
    ps_buf_deinit(&b);
}

static void remove_tmp_dir(void)
{
    static const char *const names[] = {"t.conf", "plain.conf", "empty.key", "big.key"};
    char path[PATH_BYTES_MAX];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(tmp_path(names[i], path));
    rmdir(tmp_dir);
}

int main(void)
{
    const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";

    snprintf(tmp_dir, sizeof(tmp_dir), "%s/ps-test-config-XXXXXX", base);
    if (mkdtemp(tmp_dir) == NULL) {
        fprintf(stderr, "could not create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_defaults_and_required);
    RUN(test_good_file);
    RUN(test_line_ends_and_utf8);
    RUN(test_file_errors);
    RUN(test_env_overrides);
    RUN(test_passthrough);
    RUN(test_secret_file);
    RUN(test_dump);
    RUN(test_bounds);
    RUN(test_hostile_bytes);
    RUN(test_garbage_never_crashes);
    RUN(test_missing_file);
    RUN(test_markdown);
    remove_tmp_dir();
    return test_summary();
}
