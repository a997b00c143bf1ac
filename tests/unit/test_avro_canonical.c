/*
 * Parsing Canonical Form and the CRC-64-AVRO fingerprint against the Avro
 * specification's vectors (tests/data/avro/schema-tests.txt, see its header
 * for where each case comes from), plus the bounds of the canonicalizer and
 * the contract fingerprints of the embedded paystream schemas.
 */
#include "test.h"

#include <paystream/avro.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/schemas.h>

#include <errno.h>

/* Lines of one case in the data file; pointers into the line buffer copies. */
typedef struct vector {
    char name[64];
    char *input;
    char *canonical;
    char *error;
    int has_fingerprint;
    int64_t fingerprint;
} vector_t;

static int vectors_run;

static void vector_reset(vector_t *v)
{
    ps_free(v->input);
    ps_free(v->canonical);
    ps_free(v->error);
    memset(v, 0, sizeof(*v));
}

/* Checks one case: canonical form and fingerprint, or the expected error. */
static void vector_check(const vector_t *v)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_buf_t out;
    ps_err_t rc;

    if (v->input == NULL)
        return;
    vectors_run++;
    ps_buf_init(&out, PS_AVRO_SCHEMA_BYTES_MAX);
    rc = ps_avro_canonical_form(v->input, strlen(v->input), &out, err, sizeof(err));
    if (v->error != NULL) {
        if (rc == PS_OK || strstr(err, v->error) == NULL)
            fprintf(stderr, "case %s: expected error containing \"%s\", got %d \"%s\"\n",
                    v->name, v->error, rc, err);
        CHECK(rc == PS_ERR_INVALID);
        CHECK_CONTAINS(err, v->error);
    } else {
        if (rc != PS_OK || strcmp((char *)out.data, v->canonical) != 0)
            fprintf(stderr, "case %s: %s\n  got      %s\n  expected %s\n", v->name, err,
                    rc == PS_OK ? (char *)out.data : "(error)", v->canonical);
        if (v->has_fingerprint &&
            ps_avro_fingerprint64(v->canonical, strlen(v->canonical)) != (uint64_t)v->fingerprint)
            fprintf(stderr, "case %s: fingerprint mismatch\n", v->name);
        CHECK_INT(rc, PS_OK);
        CHECK_STR(rc == PS_OK ? (char *)out.data : "", v->canonical);
        CHECK_U64(ps_avro_fingerprint64(v->canonical, strlen(v->canonical)),
                  v->has_fingerprint ? (uint64_t)v->fingerprint
                                     : ps_avro_fingerprint64(out.data, out.len));
    }
    ps_buf_deinit(&out);
}

static char *data_path(const char *file)
{
    const char *dir = getenv("PAYSTREAM_SOURCE_DIR");
    size_t n;
    char *path;

    if (dir == NULL)
        dir = ".";
    n = strlen(dir) + strlen(file) + 32;
    path = ps_malloc(n);
    snprintf(path, n, "%s/tests/data/avro/%s", dir, file);
    return path;
}

/* Every case of the vector file passes (and there is a good number of them). */
static void test_spec_vectors(void)
{
    char *path = data_path("schema-tests.txt");
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    vector_t v = {0};

    if (f == NULL)
        fprintf(stderr, "could not open \"%s\": %s\n", path, strerror(errno));
    ps_free(path);
    REQUIRE(f != NULL);
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (line[0] == '#')
            continue;
        if (strncmp(line, "case ", 5) == 0) {
            vector_check(&v);
            vector_reset(&v);
            snprintf(v.name, sizeof(v.name), "%s", line + 5);
        } else if (strncmp(line, "input ", 6) == 0) {
            v.input = ps_strdup(line + 6);
        } else if (strncmp(line, "canonical ", 10) == 0) {
            v.canonical = ps_strdup(line + 10);
        } else if (strncmp(line, "error ", 6) == 0) {
            v.error = ps_strdup(line + 6);
        } else if (strncmp(line, "fingerprint ", 12) == 0) {
            char *end;

            errno = 0;
            v.fingerprint = strtoll(line + 12, &end, 10);
            CHECK(errno == 0 && *end == '\0');
            v.has_fingerprint = 1;
        } else {
            CHECK_STR(line, ""); /* only blank lines are left */
        }
    }
    vector_check(&v);
    vector_reset(&v);
    free(line);
    fclose(f);
    /* 34 upstream cases and the local ones; fewer means the file was cut. */
    CHECK(vectors_run >= 50);
}

/* The specification's two worked examples, straight from its text. */
static void test_fingerprint_examples(void)
{
    CHECK_U64(ps_avro_fingerprint64("\"null\"", 6), (uint64_t)INT64_C(7195948357588979594));
    CHECK_U64(ps_avro_fingerprint64("\"int\"", 5), (uint64_t)INT64_C(8247732601305521295));
    /* The empty input leaves the seed, 0xc15d213aa4d7a795. */
    CHECK_U64(ps_avro_fingerprint64("", 0), UINT64_C(0xc15d213aa4d7a795));
}

/*
 * The embedded contracts: their fingerprints are what every message carries,
 * so a change to a schema must be deliberate. The expected values were
 * computed independently with fastavro 1.13.1; update them (and say so in the
 * commit) only when a schema changes.
 */
static void test_contract_fingerprints(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    uint64_t fp = 0;
    ps_buf_t out;

    CHECK_INT(ps_avro_schema_fingerprint(ps_avsc_callback_event, ps_avsc_callback_event_len, &fp,
                                         err, sizeof(err)),
              PS_OK);
    CHECK_U64(fp, (uint64_t)INT64_C(3888790372918977388));
    CHECK_INT(ps_avro_schema_fingerprint(ps_avsc_ledger_command, ps_avsc_ledger_command_len, &fp,
                                         err, sizeof(err)),
              PS_OK);
    CHECK_U64(fp, (uint64_t)INT64_C(-3138607831698758895));
    /* Docs and logical types are stripped; the namespace is folded into names. */
    ps_buf_init(&out, PS_AVRO_SCHEMA_BYTES_MAX);
    CHECK_INT(ps_avro_canonical_form(ps_avsc_callback_event, ps_avsc_callback_event_len, &out,
                                     err, sizeof(err)),
              PS_OK);
    CHECK(strstr((char *)out.data, "\"doc\"") == NULL);
    CHECK(strstr((char *)out.data, "logicalType") == NULL);
    CHECK_CONTAINS((char *)out.data, "{\"name\":\"paystream.CallbackEvent\",\"type\":\"record\"");
    CHECK_CONTAINS((char *)out.data, "{\"name\":\"paid_time_us\",\"type\":[\"null\",\"long\"]}");
    ps_buf_deinit(&out);
}

/* Nesting past PS_AVRO_SCHEMA_DEPTH_MAX is refused, not recursed into. */
static void test_depth_bound(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_buf_t json, out;
    int levels = PS_AVRO_SCHEMA_DEPTH_MAX + 5;

    ps_buf_init(&json, 4096);
    ps_buf_init(&out, PS_AVRO_SCHEMA_BYTES_MAX);
    for (int i = 0; i < levels; i++)
        CHECK_INT(ps_buf_append_str(&json, "{\"type\":\"array\",\"items\":"), PS_OK);
    CHECK_INT(ps_buf_append_str(&json, "\"int\""), PS_OK);
    for (int i = 0; i < levels; i++)
        CHECK_INT(ps_buf_append_str(&json, "}"), PS_OK);
    CHECK_INT(ps_avro_canonical_form((char *)json.data, json.len, &out, err, sizeof(err)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(err, "deeper than");
    CHECK_INT(out.len, 0);
    ps_buf_deinit(&json);
    ps_buf_deinit(&out);
}

/* Input over PS_AVRO_SCHEMA_BYTES_MAX and output over the buffer's cap are TOO_LARGE. */
static void test_size_bounds(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    size_t big = PS_AVRO_SCHEMA_BYTES_MAX + 1;
    char *json = ps_malloc(big);
    ps_buf_t out;

    memset(json, ' ', big);
    ps_buf_init(&out, 8);
    CHECK_INT(ps_avro_canonical_form(json, big, &out, err, sizeof(err)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "longer than the limit");
    CHECK_INT(ps_avro_canonical_form("\"string\"", 8, &out, err, sizeof(err)), PS_OK);
    CHECK_STR((char *)out.data, "\"string\"");
    CHECK_INT(ps_avro_canonical_form("[\"string\"]", 10, &out, err, sizeof(err)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(err, "canonical form is longer than 8 bytes");
    CHECK_INT(ps_avro_canonical_form("", 0, &out, err, sizeof(err)), PS_ERR_INVALID);
    CHECK_CONTAINS(err, "could not parse schema json");
    ps_free(json);
    ps_buf_deinit(&out);
}

/* The header reader: magic checked, fingerprint little-endian. */
static void test_peek_fingerprint(void)
{
    const uint8_t msg[] = {0xC3, 0x01, 0x8a, 0x8f, 0x25, 0xcc, 0xe7, 0x24, 0xdd, 0x63, 0x00};
    const uint8_t bad[] = {0xC3, 0x02, 0, 0, 0, 0, 0, 0, 0, 0};
    uint64_t fp = 0;

    CHECK_INT(ps_avro_peek_fingerprint(msg, sizeof(msg), &fp), PS_OK);
    CHECK_U64(fp, UINT64_C(0x63dd24e7cc258f8a)); /* 7195948357588979594, "null" */
    CHECK_U64(fp, ps_avro_fingerprint64("\"null\"", 6));
    CHECK_INT(ps_avro_peek_fingerprint(msg, 9, &fp), PS_ERR_INVALID);
    CHECK_INT(ps_avro_peek_fingerprint(bad, sizeof(bad), &fp), PS_ERR_INVALID);
    CHECK_INT(ps_avro_peek_fingerprint(NULL, 0, &fp), PS_ERR_INVALID);
}

int main(void)
{
    RUN(test_spec_vectors);
    RUN(test_fingerprint_examples);
    RUN(test_contract_fingerprints);
    RUN(test_depth_bound);
    RUN(test_size_bounds);
    RUN(test_peek_fingerprint);
    return test_summary();
}
