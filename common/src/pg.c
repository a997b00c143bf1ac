/*
 * PostgreSQL helpers (see paystream/pg.h): connect, execute, turn failed
 * results into SQLSTATE-bearing messages, and classify failures.
 *
 * Every PGresult obtained here is cleared here, except the one
 * ps_pg_exec_params hands to its caller on request. Connection strings are
 * never echoed whole: they may carry a password, so messages describe the
 * target from its parsed host, port, dbname and user.
 */
#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest libpq error text kept in a message (it may span several lines). */
#define PG_CAUSE_BYTES 384

/* Copies libpq's message with newlines folded, so errors stay one line. */
static void one_line(const char *in, char *out, size_t out_size)
{
    size_t j = 0;

    PS_ASSERT(out_size > 0);
    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < out_size; i++) {
        char c = in[i] == '\n' || in[i] == '\r' || in[i] == '\t' ? ' ' : in[i];
        if (c == ' ' && (j == 0 || out[j - 1] == ' '))
            continue;
        out[j++] = c;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

void ps_pg_conninfo_describe(const char *conninfo, char *out, size_t out_size)
{
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
    PQconninfoOption *opts;
    size_t used = 0;

    PS_ASSERT(out != NULL && out_size > 0);
    out[0] = '\0';
    opts = conninfo != NULL ? PQconninfoParse(conninfo, NULL) : NULL;
    if (opts == NULL) {
        snprintf(out, out_size, "(invalid conninfo)");
        return;
    }
    for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            int n;
            if (strcmp(o->keyword, shown[k]) != 0 || o->val == NULL || o->val[0] == '\0')
                continue;
            n = snprintf(out + used, out_size - used, "%s%s=%s", used > 0 ? " " : "",
                         o->keyword, o->val);
            if (n < 0 || (size_t)n >= out_size - used)
                goto out;
            used += (size_t)n;
        }
    }
out:
    PQconninfoFree(opts);
}

/* Appends key='value' with libpq's quoting (backslash before ' and \). */
static ps_err_t append_quoted(ps_buf_t *buf, const char *key, const char *value)
{
    ps_err_t err = ps_buf_appendf(buf, "%s%s='", buf->len > 0 ? " " : "", key);

    for (const char *p = value; err == PS_OK && *p != '\0'; p++) {
        if (*p == '\'' || *p == '\\')
            err = ps_buf_append(buf, "\\", 1);
        if (err == PS_OK)
            err = ps_buf_append(buf, p, 1);
    }
    if (err == PS_OK)
        err = ps_buf_append(buf, "'", 1);
    return err;
}

ps_err_t ps_pg_conninfo_set(const char *conninfo, const char *key, const char *value,
                            char **out, char *errstr, size_t errstr_size)
{
    PQconninfoOption *opts;
    char *perr = NULL;
    bool found = false;
    ps_buf_t buf;
    ps_err_t err = PS_OK;

    PS_ASSERT(conninfo != NULL && key != NULL && value != NULL && out != NULL);
    *out = NULL;
    ps_buf_init(&buf, PS_PG_CONNINFO_BYTES_MAX);
    opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        char cause[PG_CAUSE_BYTES];
        one_line(perr, cause, sizeof(cause));
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not parse postgresql connection string: %s", cause);
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL && err == PS_OK; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, key) == 0) {
            v = value;
            found = true;
        }
        if (v != NULL && v[0] != '\0')
            err = append_quoted(&buf, o->keyword, v);
    }
    if (err == PS_ERR_TOO_LARGE) {
        err = ps_errstr_set(errstr, errstr_size, err,
                            "postgresql connection string longer than %d bytes "
                            "(PS_PG_CONNINFO_BYTES_MAX)",
                            PS_PG_CONNINFO_BYTES_MAX);
        goto out;
    }
    if (!found) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "invalid postgresql connection option \"%s\": not a libpq keyword",
                            key);
        goto out;
    }
    *out = (char *)ps_buf_steal(&buf, NULL);
out:
    ps_buf_deinit(&buf);
    PQconninfoFree(opts);
    PQfreemem(perr);
    return err;
}

ps_err_t ps_pg_connect(const char *conninfo, PGconn **conn_out, char *errstr,
                       size_t errstr_size)
{
    char timeout[16];
    /* connect_timeout comes first so that one in conninfo overrides it. */
    const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
    const char *vals[] = {timeout, conninfo, "paystream", NULL};
    char target[PS_PG_CONNINFO_BYTES_MAX], cause[PG_CAUSE_BYTES];
    PQconninfoOption *opts;
    char *perr = NULL;
    PGconn *conn = NULL;
    ps_err_t err = PS_OK;

    PS_ASSERT(conninfo != NULL && conn_out != NULL);
    *conn_out = NULL;
    opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        one_line(perr, cause, sizeof(cause));
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "could not parse postgresql connection string: %s", cause);
        goto out;
    }
    snprintf(timeout, sizeof(timeout), "%d", PS_PG_CONNECT_TIMEOUT_S);
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        ps_pg_conninfo_describe(conninfo, target, sizeof(target));
        one_line(conn != NULL ? PQerrorMessage(conn) : "out of memory", cause, sizeof(cause));
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_RETRIABLE,
                            "could not connect to postgresql \"%s\": %s", target, cause);
        goto out;
    }
    *conn_out = conn;
    conn = NULL;
out:
    if (conn != NULL)
        PQfinish(conn);
    PQconninfoFree(opts);
    PQfreemem(perr);
    return err;
}

const char *ps_pg_sqlstate(const PGresult *res)
{
    const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return s != NULL ? s : "";
}

ps_err_class_t ps_pg_classify(const char *sqlstate, ConnStatusType status)
{
    static const char *const retriable[] = {"40001", "40P01", "40003", "53300", "55P03",
                                            "57P01", "57P02", "57P03"};
    static const char *const abortable[] = {"23505", "25P02", "57014"};

    if (status == CONNECTION_BAD)
        return PS_ERRCLASS_RETRIABLE;
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return PS_ERRCLASS_FATAL;
    if (strncmp(sqlstate, "08", 2) == 0)
        return PS_ERRCLASS_RETRIABLE;
    for (size_t i = 0; i < sizeof(retriable) / sizeof(retriable[0]); i++) {
        if (strcmp(sqlstate, retriable[i]) == 0)
            return PS_ERRCLASS_RETRIABLE;
    }
    for (size_t i = 0; i < sizeof(abortable) / sizeof(abortable[0]); i++) {
        if (strcmp(sqlstate, abortable[i]) == 0)
            return PS_ERRCLASS_ABORTABLE;
    }
    return PS_ERRCLASS_FATAL;
}

ps_err_t ps_pg_result_error(PGconn *conn, const PGresult *res, ps_err_class_t *class_out,
                            char *errstr, size_t errstr_size)
{
    const char *sqlstate = ps_pg_sqlstate(res);
    const char *severity = res != NULL ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED)
                                       : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    ConnStatusType status = conn != NULL ? PQstatus(conn) : CONNECTION_BAD;
    ps_err_class_t cls = ps_pg_classify(sqlstate, status);
    char cause[PG_CAUSE_BYTES];

    /* Without a server message the cause is libpq's (e.g. the connection broke). */
    one_line(primary != NULL ? primary
                             : conn != NULL ? PQerrorMessage(conn) : "no connection",
             cause, sizeof(cause));
    if (cause[0] == '\0' && res != NULL)
        snprintf(cause, sizeof(cause), "unexpected result status %s",
                 PQresStatus(PQresultStatus(res)));
    if (sqlstate[0] != '\0')
        ps_errstr_set(errstr, errstr_size, PS_ERR_PG, "%s %s: %s",
                      severity != NULL ? severity : "ERROR", sqlstate, cause);
    else
        ps_errstr_set(errstr, errstr_size, PS_ERR_PG, "%s%s",
                      status == CONNECTION_BAD ? "connection lost: " : "", cause);
    if (class_out != NULL)
        *class_out = cls;
    return cls == PS_ERRCLASS_RETRIABLE ? PS_ERR_RETRIABLE : PS_ERR_PG;
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

ps_err_t ps_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res;
    ps_err_t err = PS_OK;

    PS_ASSERT(conn != NULL && sql != NULL);
    res = PQexec(conn, sql);
    if (!result_ok(res))
        err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
    PQclear(res);
    return err;
}

ps_err_t ps_pg_exec_params(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, PGresult **res_out, char *errstr,
                           size_t errstr_size)
{
    PGresult *res;
    ps_err_t err = PS_OK;

    PS_ASSERT(conn != NULL && sql != NULL && nparams >= 0);
    PS_ASSERT(nparams == 0 || params != NULL);
    if (res_out != NULL)
        *res_out = NULL;
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!result_ok(res)) {
        err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
        goto out;
    }
    if (res_out != NULL) {
        *res_out = res; /* handed to the caller */
        res = NULL;
    }
out:
    PQclear(res);
    return err;
}
