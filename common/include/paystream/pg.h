/*
 * PostgreSQL helpers over libpq: connecting without leaking passwords into
 * messages, executing statements with errors that carry the SQLSTATE, and
 * classifying failures into retriable / abortable / fatal for the apply path.
 *
 * Messages look like `ERROR 42P07: relation "x" already exists`, so a caller
 * that prefixes its own context produces
 * `could not apply migration "001_init.sql": ERROR 42P07: relation "x" already exists`.
 *
 * A PGconn is not thread-safe: use each connection from one thread at a time.
 */
#ifndef PAYSTREAM_PG_H
#define PAYSTREAM_PG_H

#include <paystream/err.h>

#include <libpq-fe.h>
#include <stddef.h>

/*
 * Opens a connection. conninfo (borrowed) is a libpq keyword/value string or
 * URI. Messages name the target as host, port, dbname and user only, never
 * the password. On success *conn_out is owned by the caller (PQfinish).
 * A server that refuses or cannot be reached is PS_ERR_RETRIABLE; a
 * malformed conninfo is PS_ERR_CONFIG.
 * @locality any thread
 */
ps_err_t ps_pg_connect(const char *conninfo, PGconn **conn_out, char *errstr,
                       size_t errstr_size);

/*
 * Writes a description of conninfo's target without secrets,
 * `host=127.0.0.1 port=15432 dbname=paystream user=postgres`, into out
 * (always NUL-terminated; "(invalid conninfo)" if it does not parse).
 */
void ps_pg_conninfo_describe(const char *conninfo, char *out, size_t out_size);

/*
 * Returns an owned copy of conninfo (borrowed) in keyword/value form with
 * key set to value (added or replaced), e.g. to point a test at a fresh
 * database. PS_ERR_CONFIG if conninfo does not parse or key is not a libpq
 * keyword; PS_ERR_TOO_LARGE past PS_PG_CONNINFO_BYTES_MAX. Free with ps_free.
 */
ps_err_t ps_pg_conninfo_set(const char *conninfo, const char *key, const char *value,
                            char **out, char *errstr, size_t errstr_size);

/*
 * Runs sql (one or more statements, no parameters) and discards the result.
 * Errors: PS_ERR_RETRIABLE when ps_pg_classify says so, PS_ERR_PG otherwise;
 * the message is ps_pg_result_error's.
 */
ps_err_t ps_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errstr_size);

/*
 * Runs one statement with nparams text parameters (params borrowed; a NULL
 * element is SQL NULL). On success, if res_out is not NULL, the result is
 * handed to the caller (owned: PQclear); otherwise it is cleared here.
 * Errors as ps_pg_exec; nothing is handed out on failure.
 */
ps_err_t ps_pg_exec_params(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, PGresult **res_out, char *errstr,
                           size_t errstr_size);

/*
 * Turns a failed result (res may be NULL: libpq returns NULL when out of
 * memory or when the connection broke) into "ERROR <SQLSTATE>: <primary
 * message>" in errstr, and returns PS_ERR_RETRIABLE or PS_ERR_PG according to
 * ps_pg_classify. class_out may be NULL. conn and res are borrowed; res is not
 * cleared.
 */
ps_err_t ps_pg_result_error(PGconn *conn, const PGresult *res, ps_err_class_t *class_out,
                            char *errstr, size_t errstr_size);

/*
 * Classifies a failure by SQLSTATE (may be NULL or "" when libpq reported a
 * client-side error) and the connection status after it:
 *   retriable  the connection is gone (CONNECTION_BAD), class 08 connection
 *              exceptions, 40001 serialization_failure, 40P01 deadlock,
 *              40003 statement_completion_unknown, 53300 too_many_connections,
 *              55P03 lock_not_available, 57P01 admin_shutdown,
 *              57P02 crash_shutdown, 57P03 cannot_connect_now
 *   abortable  23505 unique_violation (a concurrent writer inserted the row
 *              first: redoing sees it and deduplicates), 25P02 the transaction
 *              already failed, 57014 query_canceled (statement timeout):
 *              roll back and redo from the stored offsets
 *   fatal      everything else: syntax, undefined objects, data exceptions,
 *              other constraint violations (including a journal naming a
 *              missing account), internal errors, and a missing SQLSTATE on a live
 *              connection. Redoing would fail the same way.
 */
ps_err_class_t ps_pg_classify(const char *sqlstate, ConnStatusType status);

/* The result's SQLSTATE, or "" if there is none (borrowed from res). */
const char *ps_pg_sqlstate(const PGresult *res);

#endif
