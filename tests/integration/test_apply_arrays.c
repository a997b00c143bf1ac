/*
 * Integration test of the apply's binary array parameters (apply_util.c,
 * pga_*) against the real PostgreSQL: every element type the apply sends
 * comes back exactly as the server reads it (text with quotes, backslashes,
 * braces and multi-byte UTF-8; int8 extremes; timestamps before 1970, at
 * the 2000 epoch of the binary format and with microseconds; bytea with
 * zero bytes), NULLs in any position, empty arrays, and a mismatch between
 * the declared element type and the statement's cast is refused by the
 * server with a clear error instead of being misread.
 */
#include "apply_int.h"
#include "proc_test_env.h"

static proc_test_db_t db;
static PGconn *conn;
static pg_array_t arr;
static char errstr[PS_ERRSTR_SIZE];

/* Runs "SELECT string_agg(coalesce(x::text, '<null>'), '|' ORDER BY o) FROM
 * unnest($1::CAST) WITH ORDINALITY AS u(x, o)" with arr as $1; returns the
 * text (static) or the error. */
static const char *roundtrip(const char *cast)
{
    static char out[4096];
    char sql[256];
    apply_params_t params;
    PGresult *res = NULL;

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(coalesce(x::text, '<null>'), '|' ORDER BY o), "
             "'<empty>') FROM unnest($1::%s) WITH ORDINALITY AS u(x, o)",
             cast);
    params.values[0] = pga_close(&arr, &params.lengths[0]);
    params.formats[0] = 1;
    if (apply_exec(conn, "roundtrip", sql, 1, &params, &res, NULL, errstr, sizeof(errstr)) !=
        PS_OK)
        return errstr;
    snprintf(out, sizeof(out), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static void test_text(void)
{
    pga_reset(&arr, PGA_TEXT);
    pga_text(&arr, "plain");
    pga_null(&arr);
    pga_text(&arr, "quote \" back\\slash {brace,comma} NULL");
    pga_text(&arr, "");
    pga_text(&arr, "\xe5\xbe\xae\xe4\xbf\xa1"); /* 微信 */
    CHECK_STR(roundtrip("text[]"),
              "plain|<null>|quote \" back\\slash {brace,comma} NULL||\xe5\xbe\xae\xe4\xbf\xa1");
}

static void test_int8(void)
{
    pga_reset(&arr, PGA_INT8);
    pga_int(&arr, 0);
    pga_int(&arr, -1);
    pga_int(&arr, INT64_MAX);
    pga_int(&arr, INT64_MIN);
    pga_null(&arr);
    CHECK_STR(roundtrip("int8[]"), "0|-1|9223372036854775807|-9223372036854775808|<null>");
}

static void test_time(void)
{
    ps_pg_exec(conn, "SET TIME ZONE 'UTC'", errstr, sizeof(errstr));
    pga_reset(&arr, PGA_TIME);
    pga_time(&arr, 0);
    pga_time(&arr, INT64_C(946684800000000)); /* the binary format's epoch */
    pga_time(&arr, INT64_C(946684799999999));
    pga_time(&arr, INT64_C(-1));               /* before 1970 */
    pga_time(&arr, INT64_C(1795000000123456)); /* 2026 with microseconds */
    pga_null(&arr);
    CHECK_STR(roundtrip("timestamptz[]"),
              "1970-01-01 00:00:00+00|2000-01-01 00:00:00+00|1999-12-31 23:59:59.999999+00|"
              "1969-12-31 23:59:59.999999+00|2026-11-18 11:06:40.123456+00|<null>");
}

static void test_bool_bytea(void)
{
    static const uint8_t bytes[] = {0x00, 0xff, 0x5c, 0x22};

    pga_reset(&arr, PGA_BOOL);
    pga_bool(&arr, true);
    pga_bool(&arr, false);
    pga_null(&arr);
    CHECK_STR(roundtrip("bool[]"), "true|false|<null>");
    pga_reset(&arr, PGA_BYTEA);
    pga_bytea(&arr, bytes, sizeof(bytes));
    pga_bytea(&arr, NULL, 0);
    pga_null(&arr);
    CHECK_STR(roundtrip("bytea[]"), "\\x00ff5c22|\\x|<null>");
}

/* An empty array and an all-NULL one: still typed, so the cast accepts them. */
static void test_empty_and_null_only(void)
{
    pga_reset(&arr, PGA_TIME);
    CHECK_STR(roundtrip("timestamptz[]"), "<empty>");
    pga_reset(&arr, PGA_INT8);
    pga_null(&arr);
    pga_null(&arr);
    CHECK_STR(roundtrip("int8[]"), "<null>|<null>");
}

/* The server checks the element type in the binary header: a text array
 * sent where the statement says int8[] is an error, never a misreading. */
static void test_type_mismatch_refused(void)
{
    pga_reset(&arr, PGA_TEXT);
    pga_text(&arr, "12");
    CHECK(strstr(roundtrip("int8[]"), "element type") != NULL);
    /* The connection is still usable. */
    CHECK_INT(ps_pg_exec(conn, "SELECT 1", errstr, sizeof(errstr)), PS_OK);
}

int main(void)
{
    proc_test_db_create(&db, 1);
    conn = proc_test_connect(&db);
    pga_init(&arr);
    RUN(test_text);
    RUN(test_int8);
    RUN(test_time);
    RUN(test_bool_bytea);
    RUN(test_empty_and_null_only);
    RUN(test_type_mismatch_refused);
    pga_deinit(&arr);
    PQfinish(conn);
    proc_test_db_drop(&db);
    return test_summary();
}
