/*
 * Parser of raw captured HTTP requests (see reqfile.h). Written for hostile
 * input: every length is checked before it is used, nothing is read past
 * len, and the head is validated byte by byte so that a file that parses is
 * one a real HTTP server would also have accepted.
 */
#include "reqfile.h"

#include <paystream/assert.h>
#include <paystream/mem.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int line;   /* 1-based number of the line being read */
    int crlf;   /* -1 unknown, 0 LF, 1 CRLF: fixed by the request line */
} cursor_t;

/* RFC 9110 token characters (header names, methods). */
static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Next line without its terminator: [*start, *start + *n). */
static ps_err_t next_line(cursor_t *c, const uint8_t **start, size_t *n, char *errstr,
                          size_t errstr_size)
{
    const uint8_t *p = c->data + c->pos;
    size_t avail = c->len - c->pos;
    const uint8_t *lf = memchr(p, '\n', avail < PS_REQFILE_LINE_BYTES_MAX + 2
                                            ? avail
                                            : PS_REQFILE_LINE_BYTES_MAX + 2);
    size_t end;
    int crlf;

    c->line++;
    if (lf == NULL)
        return ps_errstr_set(errstr, errstr_size,
                             avail > PS_REQFILE_LINE_BYTES_MAX ? PS_ERR_TOO_LARGE
                                                               : PS_ERR_INVALID,
                             avail > PS_REQFILE_LINE_BYTES_MAX
                                 ? "line %d: longer than %d bytes"
                                 : "line %d: truncated head (no blank line before the body)",
                             c->line, PS_REQFILE_LINE_BYTES_MAX);
    end = (size_t)(lf - p);
    crlf = end > 0 && p[end - 1] == '\r';
    if (c->crlf < 0)
        c->crlf = crlf;
    else if (c->crlf != crlf)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "line %d: mixed line endings (the request line ends in %s)",
                             c->line, c->crlf ? "CRLF" : "LF");
    if (end - (size_t)crlf > PS_REQFILE_LINE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "line %d: longer than %d bytes", c->line, PS_REQFILE_LINE_BYTES_MAX);
    *start = p;
    *n = end - (size_t)crlf;
    c->pos += end + 1;
    for (size_t i = 0; i < *n; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "line %d: control byte 0x%02x in the head", c->line, p[i]);
    }
    return PS_OK;
}

static ps_err_t parse_request_line(cursor_t *c, ingest_reqfile_t *rf, char *errstr,
                                   size_t errstr_size)
{
    const uint8_t *p;
    size_t n, m = 0, t;
    ps_err_t err = next_line(c, &p, &n, errstr, errstr_size);

    if (err != PS_OK)
        return err;
    while (m < n && is_tchar(p[m]))
        m++;
    if (m == 0 || m >= n || p[m] != ' ')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "line 1: not a request line (expected \"METHOD /path HTTP/1.1\")");
    t = m + 1;
    while (t < n && p[t] != ' ')
        t++;
    if (t == m + 1 || p[m + 1] != '/' || t >= n || n - t - 1 != 8 ||
        (memcmp(p + t + 1, "HTTP/1.1", 8) != 0 && memcmp(p + t + 1, "HTTP/1.0", 8) != 0))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "line 1: not a request line (expected \"METHOD /path HTTP/1.1\")");
    rf->method = ps_strndup((const char *)p, m);
    /* The route is the path; a query string is not part of it. */
    {
        const uint8_t *q = memchr(p + m + 1, '?', t - m - 1);
        rf->path = ps_strndup((const char *)p + m + 1, (size_t)((q != NULL ? q : p + t) -
                                                               (p + m + 1)));
    }
    return PS_OK;
}

static ps_err_t parse_header(cursor_t *c, const uint8_t *p, size_t n, ingest_reqfile_t *rf,
                             char *errstr, size_t errstr_size)
{
    size_t k = 0, v, e = n;

    if (p[0] == ' ' || p[0] == '\t')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "line %d: folded header continuation is not allowed", c->line);
    while (k < n && is_tchar(p[k]))
        k++;
    if (k == 0 || k >= n || p[k] != ':')
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "line %d: not a header (expected \"Name: value\")", c->line);
    if (rf->header_count >= PS_HTTP_HEADERS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "line %d: more than %d headers", c->line, PS_HTTP_HEADERS_MAX);
    v = k + 1;
    while (v < e && (p[v] == ' ' || p[v] == '\t'))
        v++;
    while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    rf->headers[rf->header_count].name = ps_strndup((const char *)p, k);
    rf->headers[rf->header_count].value = ps_strndup((const char *)p + v, e - v);
    rf->header_count++;
    return PS_OK;
}

static const char *find_header(const ingest_reqfile_t *rf, const char *name)
{
    for (size_t i = 0; i < rf->header_count; i++) {
        if (strcasecmp(rf->headers[i].name, name) == 0)
            return rf->headers[i].value;
    }
    return NULL;
}

/* Content-Length, when given, must be exactly the body's length. */
static ps_err_t check_framing(const ingest_reqfile_t *rf, char *errstr, size_t errstr_size)
{
    const char *cl = find_header(rf, "Content-Length");
    unsigned long long v = 0;

    if (find_header(rf, "Transfer-Encoding") != NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_UNSUPPORTED,
                             "Transfer-Encoding is not supported: capture the decoded body");
    if (cl == NULL)
        return PS_OK;
    if (cl[0] == '\0' || strlen(cl) > 12 || strspn(cl, "0123456789") != strlen(cl))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid Content-Length \"%.40s\"", cl);
    for (const char *d = cl; *d != '\0'; d++)
        v = v * 10 + (unsigned)(*d - '0');
    if (v != rf->body_len)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "Content-Length is %llu but the body has %zu bytes", v,
                             rf->body_len);
    return PS_OK;
}

ps_err_t ingest_reqfile_parse(const uint8_t *data, size_t len, ingest_reqfile_t *rf,
                              char *errstr, size_t errstr_size)
{
    cursor_t c = {data, len, 0, 0, -1};
    const uint8_t *p;
    size_t n;
    ps_err_t err;

    PS_ASSERT(rf != NULL && (data != NULL || len == 0));
    if (len == 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "empty request file");
    err = parse_request_line(&c, rf, errstr, errstr_size);
    while (err == PS_OK) {
        err = next_line(&c, &p, &n, errstr, errstr_size);
        if (err != PS_OK || n == 0)
            break;
        err = parse_header(&c, p, n, rf, errstr, errstr_size);
    }
    if (err != PS_OK)
        return err;
    if (len - c.pos > PS_EVIDENCE_BODY_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "body of %zu bytes exceeds %d bytes", len - c.pos,
                             PS_EVIDENCE_BODY_BYTES_MAX);
    rf->body_len = len - c.pos;
    rf->body = ps_malloc(rf->body_len + 1);
    memcpy(rf->body, data + c.pos, rf->body_len);
    rf->body[rf->body_len] = '\0';
    return check_framing(rf, errstr, errstr_size);
}

ps_err_t ingest_reqfile_load(const char *path, ingest_reqfile_t *rf, char *errstr,
                             size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0;
    ps_err_t err = PS_OK;

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, errno == ENOENT ? PS_ERR_NOT_FOUND : PS_ERR_IO,
                             "could not open request file \"%s\": %s", path, strerror(errno));
    data = ps_malloc(PS_REQFILE_BYTES_MAX + 1);
    len = fread(data, 1, PS_REQFILE_BYTES_MAX + 1, f);
    if (ferror(f)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not read request file \"%s\"",
                            path);
        goto out;
    }
    if (len > PS_REQFILE_BYTES_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "request file \"%s\" is larger than %d bytes", path,
                            PS_REQFILE_BYTES_MAX);
        goto out;
    }
    err = ingest_reqfile_parse(data, len, rf, errstr, errstr_size);
    if (err != PS_OK)
        ps_errstr_prefix(errstr, errstr_size, err, "invalid request file \"%s\"", path);
out:
    ps_free(data);
    fclose(f);
    return err;
}

void ingest_reqfile_deinit(ingest_reqfile_t *rf)
{
    if (rf == NULL)
        return;
    for (size_t i = 0; i < rf->header_count; i++) {
        ps_free(rf->headers[i].name);
        ps_free(rf->headers[i].value);
    }
    ps_free(rf->method);
    ps_free(rf->path);
    ps_free(rf->body);
    memset(rf, 0, sizeof(*rf));
}

void ingest_reqfile_request(const ingest_reqfile_t *rf, int64_t now_s, ingest_request_t *req)
{
    req->method = rf->method;
    req->path = rf->path;
    req->headers = rf->headers;
    req->header_count = rf->header_count;
    req->body = rf->body != NULL ? rf->body : (const uint8_t *)"";
    req->body_len = rf->body_len;
    req->now_s = now_s;
}
