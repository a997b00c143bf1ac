/*
 * Raw captured HTTP requests, as support staff keep them for disputed
 * callbacks and as the simulator writes them: a request line
 * "METHOD SP TARGET SP HTTP/1.x", header lines "Name: value", an empty line,
 * then the body (every remaining byte, verbatim). Lines end in CRLF or, for
 * hand-edited files, LF (one style per file). The parser is strict and
 * bounded: a header line without a colon, a name with bytes outside the
 * HTTP token set, folded (obsolete) continuation lines, NUL or other control
 * bytes in the head, more than PS_HTTP_HEADERS_MAX headers, a line over
 * PS_REQFILE_LINE_BYTES_MAX, a body over PS_EVIDENCE_BODY_BYTES_MAX, a
 * Content-Length that disagrees with the body and Transfer-Encoding (a
 * capture must hold the decoded body) are all errors naming the line.
 */
#ifndef INGEST_REQFILE_H
#define INGEST_REQFILE_H

#include "verify.h"

#include <paystream/err.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ingest_reqfile {
    char *method;                            /* owned */
    char *path;                              /* owned: the target without any query */
    ps_header_t headers[PS_HTTP_HEADERS_MAX]; /* owned names and values, trimmed */
    size_t header_count;
    uint8_t *body; /* owned, body_len bytes (plus a NUL not counted) */
    size_t body_len;
} ingest_reqfile_t;

/*
 * Parses data[0..len) (borrowed) into rf, which the caller zeroes first and
 * releases with ingest_reqfile_deinit whatever the result. PS_ERR_INVALID or
 * PS_ERR_TOO_LARGE with "line N: ..." in errstr. Thread-safe.
 */
ps_err_t ingest_reqfile_parse(const uint8_t *data, size_t len, ingest_reqfile_t *rf,
                              char *errstr, size_t errstr_size);

/*
 * Reads the file at path (borrowed; at most PS_REQFILE_BYTES_MAX bytes) and
 * parses it. PS_ERR_IO / PS_ERR_NOT_FOUND with the path and errno text, or
 * the parse errors prefixed with the path.
 */
ps_err_t ingest_reqfile_load(const char *path, ingest_reqfile_t *rf, char *errstr,
                             size_t errstr_size);

/* Releases everything rf owns and zeroes it. Accepts NULL. */
void ingest_reqfile_deinit(ingest_reqfile_t *rf);

/* A verifier request over rf (borrowed; rf must outlive it). */
void ingest_reqfile_request(const ingest_reqfile_t *rf, int64_t now_s, ingest_request_t *req);

#endif
