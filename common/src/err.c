/*
 * Error names and message buffers (see paystream/err.h). Also the failure
 * path of PS_ASSERT, which belongs with error reporting.
 */
#include <paystream/assert.h>
#include <paystream/err.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ps_err_name(ps_err_t err)
{
    switch (err) {
    case PS_OK: return "ok";
    case PS_ERR_INVALID: return "invalid";
    case PS_ERR_TOO_LARGE: return "too large";
    case PS_ERR_NOT_FOUND: return "not found";
    case PS_ERR_IO: return "i/o";
    case PS_ERR_CONFIG: return "config";
    case PS_ERR_KAFKA: return "kafka";
    case PS_ERR_PG: return "postgresql";
    case PS_ERR_CRYPTO: return "crypto";
    case PS_ERR_TIMEOUT: return "timeout";
    case PS_ERR_RETRIABLE: return "retriable";
    case PS_ERR_FENCED: return "fenced";
    case PS_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}

ps_err_t ps_errstr_set(char *errstr, size_t errstr_size, ps_err_t err, const char *fmt, ...)
{
    va_list ap;

    if (errstr == NULL || errstr_size == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return err;
}

ps_err_t ps_errstr_prefix(char *errstr, size_t errstr_size, ps_err_t err, const char *fmt, ...)
{
    char prefix[256];
    size_t plen, mlen;
    va_list ap;

    if (errstr == NULL || errstr_size == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    plen = strlen(prefix);
    mlen = strnlen(errstr, errstr_size - 1);
    /* Shift the existing cause right, keeping as much of it as fits. */
    if (plen + 2 >= errstr_size) {
        snprintf(errstr, errstr_size, "%s", prefix);
        return err;
    }
    if (plen + 2 + mlen >= errstr_size)
        mlen = errstr_size - plen - 3;
    memmove(errstr + plen + 2, errstr, mlen);
    memcpy(errstr, prefix, plen);
    errstr[plen] = ':';
    errstr[plen + 1] = ' ';
    errstr[plen + 2 + mlen] = '\0';
    return err;
}

void ps_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
