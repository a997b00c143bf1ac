/*
 * Growable byte buffer with a cap fixed at creation (see paystream/buf.h).
 */
#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/mem.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ps_buf_init(ps_buf_t *buf, size_t max)
{
    PS_ASSERT(buf != NULL);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
}

void ps_buf_deinit(ps_buf_t *buf)
{
    if (buf == NULL)
        return;
    ps_free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void ps_buf_reset(ps_buf_t *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

ps_err_t ps_buf_reserve(ps_buf_t *buf, size_t extra)
{
    size_t need, cap;

    if (extra > buf->max || buf->len > buf->max - extra)
        return PS_ERR_TOO_LARGE;
    need = buf->len + extra;
    if (buf->data != NULL && need <= buf->cap)
        return PS_OK;
    cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > buf->max / 2 ? buf->max : cap * 2;
    /* One extra byte keeps the NUL guard outside the counted capacity. */
    buf->data = ps_realloc(buf->data, cap + 1);
    buf->cap = cap;
    return PS_OK;
}

ps_err_t ps_buf_append(ps_buf_t *buf, const void *data, size_t len)
{
    if (ps_buf_reserve(buf, len) != PS_OK)
        return PS_ERR_TOO_LARGE;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return PS_OK;
}

ps_err_t ps_buf_append_str(ps_buf_t *buf, const char *s)
{
    return ps_buf_append(buf, s, strlen(s));
}

ps_err_t ps_buf_appendf(ps_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PS_ERR_INVALID;
    if (ps_buf_reserve(buf, (size_t)n) != PS_OK)
        return PS_ERR_TOO_LARGE;
    va_start(ap, fmt);
    vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return PS_OK;
}

uint8_t *ps_buf_steal(ps_buf_t *buf, size_t *len_out)
{
    uint8_t *data;

    if (buf->data == NULL) {
        buf->data = ps_malloc(1);
        buf->data[0] = '\0';
    }
    data = buf->data;
    if (len_out != NULL)
        *len_out = buf->len;
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return data;
}
