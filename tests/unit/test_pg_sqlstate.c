/*
 * Unit tests of the PostgreSQL helpers that need no server: the SQLSTATE
 * classifier that drives the apply path's retry / abort / stop decision,
 * connection-string handling (passwords never reach a message), and error
 * formatting for failures without a server answer.
 */
#include "test.h"

#include <paystream/err.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

/* Goal: every SQLSTATE the design names lands in the documented class. */
static void test_classify_named_states(void)
{
    static const struct {
        const char *sqlstate;
        ps_err_class_t cls;
    } cases[] = {
        {"40001", PS_ERRCLASS_RETRIABLE}, /* serialization_failure */
        {"40P01", PS_ERRCLASS_RETRIABLE}, /* deadlock_detected */
        {"40003", PS_ERRCLASS_RETRIABLE}, /* statement_completion_unknown */
        {"08000", PS_ERRCLASS_RETRIABLE}, /* connection_exception */
        {"08006", PS_ERRCLASS_RETRIABLE}, /* connection_failure */
        {"08001", PS_ERRCLASS_RETRIABLE}, /* sqlclient_unable_to_establish */
        {"57P01", PS_ERRCLASS_RETRIABLE}, /* admin_shutdown */
        {"57P02", PS_ERRCLASS_RETRIABLE}, /* crash_shutdown */
        {"57P03", PS_ERRCLASS_RETRIABLE}, /* cannot_connect_now */
        {"53300", PS_ERRCLASS_RETRIABLE}, /* too_many_connections */
        {"55P03", PS_ERRCLASS_RETRIABLE}, /* lock_not_available */
        {"23505", PS_ERRCLASS_ABORTABLE}, /* unique_violation */
        {"25P02", PS_ERRCLASS_ABORTABLE}, /* in_failed_sql_transaction */
        {"57014", PS_ERRCLASS_ABORTABLE}, /* query_canceled */
        {"23000", PS_ERRCLASS_FATAL},     /* zero-sum trigger */
        {"23514", PS_ERRCLASS_FATAL},     /* check_violation */
        {"23503", PS_ERRCLASS_FATAL},     /* foreign_key_violation */
        {"42P07", PS_ERRCLASS_FATAL},     /* duplicate_table */
        {"42601", PS_ERRCLASS_FATAL},     /* syntax_error */
        {"22003", PS_ERRCLASS_FATAL},     /* numeric_value_out_of_range */
        {"40002", PS_ERRCLASS_FATAL},     /* integrity violation at commit */
        {"53100", PS_ERRCLASS_FATAL},     /* disk_full: needs an operator */
        {"XX000", PS_ERRCLASS_FATAL},     /* internal_error */
        {"P0001", PS_ERRCLASS_FATAL},     /* raise_exception */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ps_err_class_t got = ps_pg_classify(cases[i].sqlstate, CONNECTION_OK);
        if (got != cases[i].cls)
            fprintf(stderr, "sqlstate %s\n", cases[i].sqlstate);
        CHECK_INT(got, cases[i].cls);
    }
}

/* Goal: a lost connection is retriable whatever the SQLSTATE says. */
static void test_classify_connection_bad(void)
{
    CHECK_INT(ps_pg_classify(NULL, CONNECTION_BAD), PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_pg_classify("", CONNECTION_BAD), PS_ERRCLASS_RETRIABLE);
    CHECK_INT(ps_pg_classify("42601", CONNECTION_BAD), PS_ERRCLASS_RETRIABLE);
}

/* Goal: malformed or missing SQLSTATEs on a live connection are fatal, not a crash. */
static void test_classify_garbage(void)
{
    CHECK_INT(ps_pg_classify(NULL, CONNECTION_OK), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_pg_classify("", CONNECTION_OK), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_pg_classify("08", CONNECTION_OK), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_pg_classify("4000", CONNECTION_OK), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_pg_classify("400011", CONNECTION_OK), PS_ERRCLASS_FATAL);
    CHECK_INT(ps_pg_classify("\x01\x02\x03\x04\x05", CONNECTION_OK), PS_ERRCLASS_FATAL);
}

/* Goal: the description of a connection target never contains the password. */
static void test_describe_hides_password(void)
{
    char out[256];

    ps_pg_conninfo_describe("host=db.example port=5433 dbname=pay user=svc password=sekrit",
                            out, sizeof(out));
    CHECK_STR(out, "host=db.example port=5433 dbname=pay user=svc");
    ps_pg_conninfo_describe("postgresql://svc:sekrit@db.example:5433/pay", out, sizeof(out));
    CHECK(strstr(out, "sekrit") == NULL);
    CHECK_CONTAINS(out, "dbname=pay");
    CHECK_CONTAINS(out, "user=svc");
    ps_pg_conninfo_describe("host='unterminated", out, sizeof(out));
    CHECK_STR(out, "(invalid conninfo)");
    ps_pg_conninfo_describe("host=a", out, 4); /* truncation keeps a C string */
    CHECK(strlen(out) < 4);
}

/* Goal: conninfo_set replaces one keyword, keeps the others and quotes safely. */
static void test_conninfo_set(void)
{
    char errstr[PS_ERRSTR_SIZE];
    char *out = NULL;
    PQconninfoOption *opts;
    int seen = 0;

    CHECK_INT(ps_pg_conninfo_set("host=h port=1 dbname=old password=p'w", "dbname",
                                 "new db 'x' \\y", &out, errstr, sizeof(errstr)),
              PS_OK);
    REQUIRE(out != NULL);
    opts = PQconninfoParse(out, NULL);
    REQUIRE(opts != NULL);
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL)
            seen += strcmp(o->val, "new db 'x' \\y") == 0;
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            seen += strcmp(o->val, "p'w") == 0;
        if (strcmp(o->keyword, "host") == 0 && o->val != NULL)
            seen += strcmp(o->val, "h") == 0;
    }
    CHECK_INT(seen, 3);
    PQconninfoFree(opts);
    ps_free(out);
}

/* Goal: bad input to conninfo_set is an error naming the cause, never a crash. */
static void test_conninfo_set_errors(void)
{
    char errstr[PS_ERRSTR_SIZE];
    char big[PS_PG_CONNINFO_BYTES_MAX + 16];
    char *out = NULL;

    CHECK_INT(ps_pg_conninfo_set("host=h", "no_such_key", "v", &out, errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "\"no_such_key\"");
    CHECK(out == NULL);
    CHECK_INT(ps_pg_conninfo_set("host='open", "dbname", "v", &out, errstr, sizeof(errstr)),
              PS_ERR_CONFIG);
    CHECK_CONTAINS(errstr, "could not parse postgresql connection string");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(ps_pg_conninfo_set("host=h", "dbname", big, &out, errstr, sizeof(errstr)),
              PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errstr, "PS_PG_CONNINFO_BYTES_MAX");
    CHECK(out == NULL);
}

/* Goal: connecting to nothing is retriable and the message hides the password. */
static void test_connect_refused(void)
{
    char errstr[PS_ERRSTR_SIZE];
    PGconn *conn = (PGconn *)&errstr; /* must be reset to NULL on failure */

    /* Port 1 on loopback: refused at once, no server needed. */
    CHECK_INT(ps_pg_connect("host=127.0.0.1 port=1 dbname=x user=u password=sekrit "
                            "connect_timeout=2",
                            &conn, errstr, sizeof(errstr)),
              PS_ERR_RETRIABLE);
    CHECK(conn == NULL);
    CHECK_CONTAINS(errstr, "could not connect to postgresql \"host=127.0.0.1 port=1");
    CHECK(strstr(errstr, "sekrit") == NULL);
    CHECK(strchr(errstr, '\n') == NULL);
    CHECK_INT(ps_pg_connect("host='bad", &conn, errstr, sizeof(errstr)), PS_ERR_CONFIG);
    CHECK(conn == NULL);
}

/* Goal: a failure without a server answer still yields a classified message. */
static void test_result_error_without_server(void)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_err_class_t cls = PS_ERRCLASS_FATAL;
    PGresult *res;

    CHECK_INT(ps_pg_result_error(NULL, NULL, &cls, errstr, sizeof(errstr)), PS_ERR_RETRIABLE);
    CHECK_INT(cls, PS_ERRCLASS_RETRIABLE);
    CHECK_CONTAINS(errstr, "connection lost");
    res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    REQUIRE(res != NULL);
    CHECK_INT(ps_pg_result_error(NULL, res, NULL, errstr, sizeof(errstr)), PS_ERR_RETRIABLE);
    CHECK(errstr[0] != '\0');
    CHECK_STR(ps_pg_sqlstate(res), "");
    CHECK_STR(ps_pg_sqlstate(NULL), "");
    PQclear(res);
}

int main(void)
{
    RUN(test_classify_named_states);
    RUN(test_classify_connection_bad);
    RUN(test_classify_garbage);
    RUN(test_describe_hides_password);
    RUN(test_conninfo_set);
    RUN(test_conninfo_set_errors);
    RUN(test_connect_refused);
    RUN(test_result_error_without_server);
    return test_summary();
}
