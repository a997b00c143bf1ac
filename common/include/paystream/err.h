/*
 * Error codes and error-message buffers shared by every paystream module.
 *
 * A function that can fail returns ps_err_t (PS_OK is 0, failures are
 * negative), hands results back through out-parameters and writes a human
 * message into a caller-supplied buffer (char *errstr, size_t errstr_size).
 * Messages follow PostgreSQL's style: lower case, no final period, what failed
 * and why. The code says what kind of failure it was so that callers can
 * decide between retrying, rolling back and giving up; the message keeps the
 * underlying cause (SQLSTATE, Kafka error name, OpenSSL reason).
 */
#ifndef PAYSTREAM_ERR_H
#define PAYSTREAM_ERR_H

#include <stddef.h>

typedef enum ps_err {
    PS_OK = 0,
    PS_ERR_INVALID = -1,     /* bad input: malformed, out of range, ambiguous */
    PS_ERR_TOO_LARGE = -2,   /* input or result exceeds a named bound */
    PS_ERR_NOT_FOUND = -3,   /* a named thing (file, key, row) does not exist */
    PS_ERR_IO = -4,          /* operating-system I/O failed (errno in message) */
    PS_ERR_CONFIG = -5,      /* configuration key unknown or value bad */
    PS_ERR_KAFKA = -6,       /* Kafka client or broker error */
    PS_ERR_PG = -7,          /* PostgreSQL error (SQLSTATE in message) */
    PS_ERR_CRYPTO = -8,      /* signature, key or certificate failure */
    PS_ERR_TIMEOUT = -9,     /* a bounded wait ran out */
    PS_ERR_RETRIABLE = -10,  /* transient: the same call may succeed later */
    PS_ERR_FENCED = -11,     /* another instance owns the resource */
    PS_ERR_UNSUPPORTED = -12 /* valid but not handled by this version */
} ps_err_t;

/* How the apply path must react to a failure (see STYLE.md "Errors"). */
typedef enum ps_err_class {
    PS_ERRCLASS_RETRIABLE = 1, /* repeat the same step after a backoff */
    PS_ERRCLASS_ABORTABLE = 2, /* roll back, rewind the input, redo */
    PS_ERRCLASS_FATAL = 3      /* stop; a supervisor restarts the process */
} ps_err_class_t;

/* Short stable name of an error code ("invalid", "kafka", ...); never NULL. */
const char *ps_err_name(ps_err_t err);

/*
 * Formats a message into errstr (truncating to errstr_size, always
 * NUL-terminated) and returns err, so that failing paths read
 * `return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "...", ...);`.
 * errstr may be NULL or errstr_size 0, in which case nothing is written.
 * Thread-safe.
 */
ps_err_t ps_errstr_set(char *errstr, size_t errstr_size, ps_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Prepends "prefix: " to the message already in errstr, keeping the cause:
 * "could not load config: line 3: unknown key \"foo\"". Returns err.
 */
ps_err_t ps_errstr_prefix(char *errstr, size_t errstr_size, ps_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
