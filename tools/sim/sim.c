/*
 * The shared simulated request (see sim.h): a tiny owner of method, path,
 * headers and body, and its rendering as raw captured HTTP bytes. Header
 * names and values are checked for CR/LF so that a simulator bug cannot
 * produce a request that parses differently from what was meant.
 */
#include "sim.h"

#include <paystream/assert.h>
#include <paystream/mem.h>
#include <string.h>
#include <strings.h>

void sim_request_init(sim_request_t *r)
{
    PS_ASSERT(r != NULL);
    memset(r, 0, sizeof(*r));
    memcpy(r->method, "POST", sizeof("POST"));
    r->path[0] = '/';
    ps_buf_init(&r->body, SIM_BODY_BYTES_MAX);
}

void sim_request_deinit(sim_request_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->header_count; i++) {
        ps_free(r->headers[i].name);
        ps_free(r->headers[i].value);
    }
    ps_buf_deinit(&r->body);
    memset(r, 0, sizeof(*r));
}

/* A header piece is safe when it cannot end the header line early. */
static bool header_text_ok(const char *s, bool is_name)
{
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\r' || *p == '\n')
            return false;
        if (is_name && (*p == ':' || *p == ' '))
            return false;
    }
    return !is_name || s[0] != '\0';
}

ps_err_t sim_request_add_header(sim_request_t *r, const char *name, const char *value)
{
    PS_ASSERT(r != NULL && name != NULL && value != NULL);
    if (r->header_count >= PS_EVIDENCE_HEADERS_MAX)
        return PS_ERR_TOO_LARGE;
    if (strlen(name) + 2 + strlen(value) > PS_EVIDENCE_HEADER_BYTES_MAX)
        return PS_ERR_TOO_LARGE;
    if (!header_text_ok(name, true) || !header_text_ok(value, false))
        return PS_ERR_INVALID;
    r->headers[r->header_count].name = ps_strdup(name);
    r->headers[r->header_count].value = ps_strdup(value);
    r->header_count++;
    return PS_OK;
}

ps_err_t sim_request_set_header(sim_request_t *r, const char *name, const char *value)
{
    PS_ASSERT(r != NULL && name != NULL && value != NULL);
    for (size_t i = 0; i < r->header_count; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        if (strlen(name) + 2 + strlen(value) > PS_EVIDENCE_HEADER_BYTES_MAX)
            return PS_ERR_TOO_LARGE;
        if (!header_text_ok(value, false))
            return PS_ERR_INVALID;
        ps_free(r->headers[i].value);
        r->headers[i].value = ps_strdup(value);
        return PS_OK;
    }
    return sim_request_add_header(r, name, value);
}

const char *sim_request_header(const sim_request_t *r, const char *name)
{
    PS_ASSERT(r != NULL && name != NULL);
    for (size_t i = 0; i < r->header_count; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

ps_err_t sim_request_write_raw(const sim_request_t *r, ps_buf_t *out)
{
    PS_ASSERT(r != NULL && out != NULL);
    ps_err_t err = ps_buf_appendf(out, "%s %s HTTP/1.1\r\n", r->method, r->path);
    for (size_t i = 0; err == PS_OK && i < r->header_count; i++)
        err = ps_buf_appendf(out, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    if (err == PS_OK)
        err = ps_buf_append(out, "\r\n", 2);
    if (err == PS_OK && r->body.len > 0)
        err = ps_buf_append(out, r->body.data, r->body.len);
    return err;
}

void sim_request_to_ingest(const sim_request_t *r, int64_t now_s, ingest_request_t *out)
{
    PS_ASSERT(r != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->method = r->method;
    out->path = r->path;
    out->headers = r->headers;
    out->header_count = r->header_count;
    out->body = r->body.data != NULL ? r->body.data : (const uint8_t *)"";
    out->body_len = r->body.len;
    out->now_s = now_s;
}
