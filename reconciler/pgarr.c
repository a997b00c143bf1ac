/*
 * PostgreSQL array literals (pgarr.h). The literal is kept open ("{" plus
 * elements) until finished; ps_buf keeps it NUL-terminated.
 */
#include "pgarr.h"

#include <stdio.h>
#include <string.h>

void recon_pgarr_init(recon_pgarr_t *a, size_t max)
{
    ps_buf_init(&a->buf, max);
    a->any = false;
    (void)ps_buf_append_str(&a->buf, "{");
}

void recon_pgarr_deinit(recon_pgarr_t *a)
{
    ps_buf_deinit(&a->buf);
}

static ps_err_t sep(recon_pgarr_t *a)
{
    ps_err_t err = a->any ? ps_buf_append_str(&a->buf, ",") : PS_OK;

    a->any = true;
    return err;
}

ps_err_t recon_pgarr_text(recon_pgarr_t *a, const char *s)
{
    ps_err_t err = sep(a);

    if (err != PS_OK)
        return err;
    if (s == NULL)
        return ps_buf_append_str(&a->buf, "NULL");
    err = ps_buf_append_str(&a->buf, "\"");
    for (const char *c = s; err == PS_OK && *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            err = ps_buf_append_str(&a->buf, "\\");
        if (err == PS_OK)
            err = ps_buf_append(&a->buf, c, 1);
    }
    return err == PS_OK ? ps_buf_append_str(&a->buf, "\"") : err;
}

ps_err_t recon_pgarr_int(recon_pgarr_t *a, int64_t v)
{
    char num[32];
    ps_err_t err = sep(a);

    snprintf(num, sizeof(num), "%lld", (long long)v);
    return err == PS_OK ? ps_buf_append_str(&a->buf, num) : err;
}

const char *recon_pgarr_finish(recon_pgarr_t *a)
{
    if (ps_buf_append_str(&a->buf, "}") != PS_OK)
        return NULL;
    return (const char *)a->buf.data;
}
