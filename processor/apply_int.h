/*
 * Private helpers of the ledger apply (apply.c), in apply_util.c: PostgreSQL
 * array literals for set-based statements (one unnest($1::text[], ...) per
 * batch instead of one statement per row), exact timestamp text, a string
 * map for grouping a batch by payment and account, and statement execution
 * with error classification. Not part of the processor's contract (apply.h).
 */
#ifndef PROC_APPLY_INT_H
#define PROC_APPLY_INT_H

#include "apply.h"
#include "fold.h"

#include <paystream/buf.h>
#include <paystream/err.h>

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The element type of an array parameter; the statement's cast ($1::text[],
 * $2::int8[], ...) must name the same type, or the server refuses the
 * parameter ("binary data has array element type ..."). */
typedef enum pga_type { PGA_TEXT, PGA_INT8, PGA_BOOL, PGA_BYTEA, PGA_TIME } pga_type_t;

/* An array parameter being built in PostgreSQL's binary array format.
 * Appends never fail individually: past PS_APPLY_STMT_BYTES_MAX the array
 * is marked failed and pga_close reports it once. Appending an element of
 * another type than the array's is a programmer error (asserted). */
typedef struct pg_array {
    ps_buf_t buf;
    size_t n;
    pga_type_t type;
    bool has_null;
    bool failed;
} pg_array_t;

void pga_init(pg_array_t *a);
void pga_deinit(pg_array_t *a);
void pga_reset(pg_array_t *a, pga_type_t type);
void pga_null(pg_array_t *a);
void pga_text(pg_array_t *a, const char *s); /* NULL: SQL NULL */
void pga_int(pg_array_t *a, int64_t v);
void pga_bool(pg_array_t *a, bool v);
void pga_bytea(pg_array_t *a, const uint8_t *data, size_t len);
/* Microseconds since the Unix epoch, as timestamptz. */
void pga_time(pg_array_t *a, int64_t us);
/* Closes the array; returns its bytes (borrowed from a, valid until reset)
 * and their count in *len_out, or NULL when it grew past its bound. */
const char *pga_close(pg_array_t *a, int *len_out);

#define ARRAYS_MAX 18

/* The parameters of one statement: binary arrays (formats all 1). */
typedef struct apply_params {
    const char *values[ARRAYS_MAX];
    int lengths[ARRAYS_MAX];
    int formats[ARRAYS_MAX];
} apply_params_t;

/* A string -> size_t map with owned keys (open addressing, FNV-1a). */
typedef struct strmap {
    char **keys;
    size_t *vals;
    size_t cap, count;
} strmap_t;

void strmap_deinit(strmap_t *m);
void strmap_reset(strmap_t *m);
/* Looks key up; when absent inserts it with value *val and returns false,
 * when present stores its value in *val and returns true. */
bool strmap_get_or_put(strmap_t *m, const char *key, size_t *val);
/* Looks key up only. */
bool strmap_get(const strmap_t *m, const char *key, size_t *val);

/*
 * Runs sql with nparams binary array parameters. On success the result is handed to
 * *res_out when not NULL (owned: PQclear), else cleared. On failure writes
 * "could not <what>: ERROR <SQLSTATE>: ..." and the class (ps_pg_classify).
 * At log level debug each statement's duration is logged under <what>: that
 * is how an apply batch is profiled.
 */
ps_err_t apply_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                    const apply_params_t *params, PGresult **res_out, ps_err_class_t *class_out,
                    char *errstr, size_t errstr_size);

/* ---- The batch state shared by apply.c (steps 1-3, 5) and apply_write.c
 * (steps 4, 6). ---- */

enum fate { FATE_LIVE = 0, FATE_DUP, FATE_DEAD, FATE_NEW };

typedef struct item_state {
    enum fate fate;
    size_t group;
    char *order;  /* owned: the payment's order number */
    char *reason; /* owned: why dead (NULL: item->reason) */
    bool inserted; /* its payment_events / ledger_commands row was inserted */
} item_state_t;

typedef struct group {
    proc_payment_t pay;
    size_t *inputs; /* item indices in batch order */
    size_t n, cap;
} group_t;

typedef struct account_delta {
    char *account_id; /* borrowed from the journal list */
    const char *currency;
    proc_account_kind_t kind;
    int64_t delta_minor;
} account_delta_t;

struct proc_apply {
    PGconn *conn;
    item_state_t *st;
    size_t st_cap;
    group_t *groups;
    size_t ngroups, groups_cap;
    strmap_t keys;  /* payment key -> group */
    strmap_t seen;  /* event / command id -> item */
    strmap_t accts; /* account key -> delta index */
    account_delta_t *deltas;
    size_t ndeltas, deltas_cap;
    proc_journal_list_t journals;
    pg_array_t arr[ARRAYS_MAX];
    apply_params_t params;
};

/* Step 4: inserts the live events and commands; those that come back are
 * FATE_NEW, the others FATE_DUP (already applied). */
ps_err_t apply_insert_inputs(proc_apply_t *ap, proc_item_t *items, size_t n, ps_err_class_t *cls,
                             char *errstr, size_t errstr_size);
/* Step 6: writes payments, refunds, balances, journals and dead letters, and
 * removes the rows of inputs the fold found invalid; counts into *stats. */
ps_err_t apply_write(proc_apply_t *ap, proc_item_t *items, size_t n, proc_apply_stats_t *stats,
                     ps_err_class_t *cls, char *errstr, size_t errstr_size);
/* Resets one array per letter of types for a new statement, typed by the
 * letter: T text, I int8, B bool, Y bytea, Z timestamptz. */
void apply_arrays_reset(proc_apply_t *ap, const char *types);
/* Closes the first n arrays into ap->params and returns it. */
const apply_params_t *apply_arrays_params(proc_apply_t *ap, size_t n);

#endif
