/*
 * `paystream-processor audit [--schema S]`: checks the ledger's invariants
 * and prints a deterministic digest of its economic content.
 *
 * Invariants: every journal balances per currency and has lines; every line
 * names an existing journal and account; every balance equals the sum of
 * its lines; no event, command or journal source applied twice; every
 * payment agrees with its journals (a paid payment has exactly one PAY
 * journal of its amount, an unpaid one none; refunded_minor is the sum of
 * its POSTED refunds; every posted refund has its REFUND journal of its
 * amount, every reversed posted refund its REFUND_REVERSED journal).
 *
 * The digest is SHA-256 over a canonical, ordered (COLLATE "C") text dump of
 * accounts and balances, payments (key, state, amounts, facts), refunds and
 * journals by economic effect with their lines, excluding surrogate ids,
 * timestamps of application and which notification or command posted a
 * journal. Equal digests of the live ledger and of a replay of the topics
 * into a fresh schema prove the live ledger is exactly what the topics say.
 */
#ifndef PROC_AUDIT_H
#define PROC_AUDIT_H

#include <paystream/config.h>
#include <paystream/err.h>
#include <paystream/limits.h>

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROC_DIGEST_HEX_BYTES 65 /* SHA-256 in lower-case hex, NUL included */

typedef struct proc_audit_result {
    int64_t failures;   /* invariant violations found (each listed in the report) */
    int64_t accounts, payments, journals; /* rows covered by the digest */
    char digest[PROC_DIGEST_HEX_BYTES];
} proc_audit_result_t;

/*
 * Computes the digest of the ledger visible on conn (its search_path picks
 * the schema) into hex_out, and the row counts into *out (digest included;
 * failures untouched). Rows are streamed, so memory does not grow with the
 * ledger. Errors: PS_ERR_PG / PS_ERR_RETRIABLE with the SQLSTATE.
 * conn borrowed. @locality the thread that owns conn
 */
ps_err_t proc_audit_digest(PGconn *conn, proc_audit_result_t *out, char *errstr,
                           size_t errstr_size);

/*
 * Checks every invariant, writing one line per failure (at most
 * PS_AUDIT_FAILURES_MAX per invariant) to report (borrowed; may be NULL),
 * then computes the digest. PS_OK means the audit ran: look at
 * out->failures for the verdict. conn borrowed.
 * @locality the thread that owns conn
 */
ps_err_t proc_audit_run(PGconn *conn, FILE *report, proc_audit_result_t *out, char *errstr,
                        size_t errstr_size);

/*
 * Checks that name is a plain lower-case schema identifier
 * ([a-z_][a-z0-9_]*, shorter than PS_SCHEMA_NAME_BYTES_MAX) and returns an
 * owned copy of conninfo (borrowed) whose session search_path is that
 * schema (ps_free). PS_ERR_INVALID names the problem.
 */
ps_err_t proc_schema_conninfo(const char *conninfo, const char *name, char **out, char *errstr,
                              size_t errstr_size);

/*
 * The command: argv[0] is "audit", then options (--schema S, --help).
 * Prints the failures, the counts and "digest <hex>" to stdout. Returns the
 * exit code: 0 all invariants hold, 1 failures or an error (on stderr),
 * 2 usage error. cfg borrowed ("pg.conninfo").
 */
int proc_audit_main(const ps_config_t *cfg, int argc, char **argv);

#endif
