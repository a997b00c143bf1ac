/*
 * Core helpers: error-message buffers keep their cause when prefixed, and
 * ps_buf_t never grows past its cap.
 */
#include "test.h"

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/log.h>
#include <paystream/mem.h>

/* A prefix is prepended with ": " and the cause survives; truncation is safe. */
static void test_errstr_prefix(void)
{
    char e[64], tiny[8];

    CHECK_INT(ps_errstr_set(e, sizeof(e), PS_ERR_INVALID, "bad value \"%s\"", "x"),
              PS_ERR_INVALID);
    CHECK_INT(ps_errstr_prefix(e, sizeof(e), PS_ERR_CONFIG, "line %d", 3), PS_ERR_CONFIG);
    CHECK_STR(e, "line 3: bad value \"x\"");
    ps_errstr_set(tiny, sizeof(tiny), PS_ERR_INVALID, "a long message");
    CHECK_STR(tiny, "a long ");
    ps_errstr_prefix(tiny, sizeof(tiny), PS_ERR_INVALID, "prefix too long");
    CHECK_INT(strlen(tiny), 7);
    CHECK_INT(ps_errstr_set(NULL, 0, PS_ERR_IO, "ignored"), PS_ERR_IO);
    CHECK_STR(ps_err_name(PS_ERR_PG), "postgresql");
}

/* Appends succeed up to the cap, fail past it and leave the buffer intact. */
static void test_buf_cap(void)
{
    ps_buf_t b;
    uint8_t *data;
    size_t len;

    ps_buf_init(&b, 10);
    CHECK_INT(ps_buf_append_str(&b, "hello"), PS_OK);
    CHECK_INT(ps_buf_appendf(&b, "%d", 12345), PS_OK);
    CHECK_INT(b.len, 10);
    CHECK_STR((char *)b.data, "hello12345");
    CHECK_INT(ps_buf_append(&b, "x", 1), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_buf_appendf(&b, "%s", "y"), PS_ERR_TOO_LARGE);
    CHECK_INT(ps_buf_reserve(&b, (size_t)-1), PS_ERR_TOO_LARGE);
    CHECK_STR((char *)b.data, "hello12345");
    ps_buf_reset(&b);
    CHECK_INT(b.len, 0);
    data = ps_buf_steal(&b, &len);
    CHECK_INT(len, 0);
    CHECK_STR((char *)data, "");
    ps_free(data);
    ps_buf_deinit(&b);
}

static void test_log_level_parse(void)
{
    ps_log_level_t l;

    CHECK_INT(ps_log_level_parse("warn", &l), PS_OK);
    CHECK_INT(l, PS_LOG_WARN);
    CHECK_INT(ps_log_level_parse("WARN", &l), PS_ERR_INVALID);
}

int main(void)
{
    RUN(test_errstr_prefix);
    RUN(test_buf_cap);
    RUN(test_log_level_parse);
    return test_summary();
}
