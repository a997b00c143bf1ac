/*
 * The format-independent side of statements: the dispatcher that digests the
 * bytes as given, opens gzip, and hands uncompressed text to the format
 * parser; and the helpers every parser shares (line and field slicing without
 * allocation, strict UTF-8, the per-row scratch area, totals, merchant and
 * window checks). Parsers never allocate per row: a 1,000,000-row bill is
 * one pass over one buffer.
 */
#include "statement_int.h"

#include <errno.h>
#include <openssl/evp.h>
#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/money.h>
#include <paystream/timeparse.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define US_PER_DAY (86400LL * 1000000LL)
#define SHANGHAI_OFFSET_MIN 480 /* Asia/Shanghai is a fixed +08:00 since 1991 */

/* ---- names and days ----------------------------------------------------- */

static const char *const format_names[] = {"wechat", "alipay", "apple", "generic"};

const char *recon_format_name(recon_format_t fmt)
{
    if ((unsigned)fmt < sizeof(format_names) / sizeof(format_names[0]))
        return format_names[fmt];
    return "unknown";
}

ps_err_t recon_format_parse(const char *s, recon_format_t *fmt_out)
{
    PS_ASSERT(s != NULL && fmt_out != NULL);
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *fmt_out = (recon_format_t)i;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

ps_err_t recon_statement_shanghai_day(const char *date, int64_t *start_us, int64_t *end_us,
                                      char *errstr, size_t errstr_size)
{
    PS_ASSERT(date != NULL && start_us != NULL && end_us != NULL);
    char text[32];
    size_t n = strlen(date);

    /* Reuse the strict civil-time parser: it range-checks every field. */
    if (n != 10)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "invalid bill date \"%.32s\": expected YYYY-MM-DD", date);
    memcpy(text, date, n);
    memcpy(text + n, " 00:00:00", sizeof(" 00:00:00"));
    ps_err_t err = ps_time_parse_local(text, n + 9, SHANGHAI_OFFSET_MIN, start_us, errstr,
                                       errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "invalid bill date \"%s\"", date);
    *end_us = *start_us + US_PER_DAY;
    return PS_OK;
}

/* ---- lines, fields, scratch --------------------------------------------- */

void recon_lines_init(recon_lines_t *it, const char *text, size_t len)
{
    it->p = text;
    it->end = text + len;
    it->line_no = 0;
}

bool recon_lines_next(recon_lines_t *it, recon_slice_t *line, const char *what, ps_err_t *err,
                      char *errstr, size_t errstr_size)
{
    *err = PS_OK;
    if (it->p >= it->end)
        return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl != NULL ? nl : it->end;
    line->p = it->p;
    line->len = (size_t)(stop - it->p);
    if (line->len > 0 && line->p[line->len - 1] == '\r')
        line->len--;
    it->p = nl != NULL ? nl + 1 : it->end;
    it->line_no++;
    if (line->len > PS_RECON_LINE_BYTES_MAX) {
        *err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "%s line %lld: line is longer than %d bytes "
                             "(PS_RECON_LINE_BYTES_MAX)",
                             what, (long long)it->line_no, PS_RECON_LINE_BYTES_MAX);
        return false;
    }
    return true;
}

int recon_split(recon_slice_t line, char sep, recon_slice_t *fields)
{
    int n = 0;
    const char *p = line.p, *end = line.p + line.len;

    for (;;) {
        const char *c = memchr(p, sep, (size_t)(end - p));
        const char *stop = c != NULL ? c : end;
        if (n == PS_RECON_FIELDS_MAX)
            return -1;
        fields[n].p = p;
        fields[n].len = (size_t)(stop - p);
        n++;
        if (c == NULL)
            return n;
        p = c + 1;
    }
}

bool recon_slice_eq(recon_slice_t s, const char *word)
{
    size_t n = strlen(word);
    return s.len == n && memcmp(s.p, word, n) == 0;
}

int recon_slice_find(const recon_slice_t *fields, int n, const char *word)
{
    for (int i = 0; i < n; i++)
        if (recon_slice_eq(fields[i], word))
            return i;
    return -1;
}

ps_err_t recon_check_columns(const recon_slice_t *f, int n, const char *const *list,
                             size_t list_n, const char *what, int64_t line_no, char *errstr,
                             size_t errstr_size)
{
    for (int i = 0; i < n; i++) {
        bool known = false;

        for (size_t k = 0; k < list_n && !known; k++)
            known = recon_slice_eq(f[i], list[k]);
        if (!known)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "%s line %lld: unknown column \"%.*s\"", what,
                                 (long long)line_no, (int)(f[i].len > 64 ? 64 : f[i].len), f[i].p);
        for (int j = 0; j < i; j++)
            if (f[j].len == f[i].len && memcmp(f[j].p, f[i].p, f[i].len) == 0)
                return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                     "%s line %lld: duplicate column \"%.*s\"", what,
                                     (long long)line_no, (int)(f[i].len > 64 ? 64 : f[i].len),
                                     f[i].p);
    }
    return PS_OK;
}

recon_slice_t recon_slice_trim(recon_slice_t s)
{
    while (s.len > 0 && (s.p[s.len - 1] == '\t' || s.p[s.len - 1] == ' '))
        s.len--;
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    return s;
}

const char *recon_scratch_put(recon_scratch_t *sc, recon_slice_t s)
{
    /* Fields come from one bounded line, so together they always fit. */
    PS_ASSERT(sc->used + s.len + 1 <= sizeof(sc->buf));
    char *dst = sc->buf + sc->used;
    memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
    sc->used += s.len + 1;
    return dst;
}

/* Length of the UTF-8 sequence led by b with its lower bound, or 0. */
static int utf8_lead(unsigned char b, unsigned *min_out)
{
    if (b >= 0xC2 && b <= 0xDF) {
        *min_out = 0x80;
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        *min_out = 0x800;
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        *min_out = 0x10000;
        return 4;
    }
    return 0;
}

bool recon_utf8_valid(const char *s, size_t len, size_t *bad_offset_out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        if (p[i] < 0x80) { /* ASCII dominates bills: skip it eight bytes at a time */
            uint64_t w;
            while (i + 8 <= len && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ull) == 0))
                i += 8;
            while (i < len && p[i] < 0x80)
                i++;
            continue;
        }
        unsigned min;
        int n = utf8_lead(p[i], &min);
        if (n == 0 || i + (size_t)n > len)
            goto bad;
        unsigned cp = p[i] & (0x7F >> n);
        for (int k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += (size_t)n;
    }
    return true;
bad:
    if (bad_offset_out != NULL)
        *bad_offset_out = i;
    return false;
}

/* ---- totals and checks -------------------------------------------------- */

ps_err_t recon_tally_add(recon_tally_t *t, const recon_row_t *row, const char *what,
                         char *errstr, size_t errstr_size)
{
    recon_stmt_meta_t *m = t->meta;
    int64_t *total = row->kind == RECON_ROW_PAYMENT ? &m->payment_total_minor
                                                    : &m->refund_total_minor;

    if (m->rows >= PS_RECON_STATEMENT_ROWS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "%s line %lld: more than %d rows (PS_RECON_STATEMENT_ROWS_MAX)",
                             what, (long long)row->line_no, PS_RECON_STATEMENT_ROWS_MAX);
    if (ps_money_add(*total, row->amount_minor, total) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                             "%s line %lld: amount total overflows", what,
                             (long long)row->line_no);
    m->rows++;
    if (row->kind == RECON_ROW_PAYMENT)
        m->payment_rows++;
    else
        m->refund_rows++;
    if (m->rows == 1)
        memcpy(m->currency, row->currency, sizeof(m->currency));
    else if (!t->currency_mixed && strcmp(m->currency, row->currency) != 0)
        t->currency_mixed = true;
    return PS_OK;
}

ps_err_t recon_check_merchant(const recon_expect_t *expect, recon_stmt_meta_t *meta,
                              recon_slice_t merchant, const char *what, int64_t line_no,
                              char *errstr, size_t errstr_size)
{
    if (merchant.len == 0 || merchant.len >= sizeof(meta->merchant_id))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "%s line %lld: merchant id is empty or longer than %d bytes", what,
                             (long long)line_no, PS_RECON_MERCHANT_ID_BYTES - 1);
    if (meta->merchant_id[0] == '\0') {
        if (expect != NULL && expect->merchant_id != NULL &&
            !recon_slice_eq(merchant, expect->merchant_id))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "%s line %lld: statement is for merchant \"%.*s\", expected "
                                 "\"%s\"",
                                 what, (long long)line_no, (int)merchant.len, merchant.p,
                                 expect->merchant_id);
        memcpy(meta->merchant_id, merchant.p, merchant.len);
        meta->merchant_id[merchant.len] = '\0';
        return PS_OK;
    }
    if (!recon_slice_eq(merchant, meta->merchant_id))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "%s line %lld: merchant \"%.*s\" differs from \"%s\" of the "
                             "statement",
                             what, (long long)line_no, (int)merchant.len, merchant.p,
                             meta->merchant_id);
    return PS_OK;
}

ps_err_t recon_check_window(const recon_expect_t *expect, const recon_stmt_meta_t *meta,
                            const char *what, char *errstr, size_t errstr_size)
{
    char a[32], b[32], c[32], d[32];

    if (expect == NULL || !expect->has_window)
        return PS_OK;
    if (meta->window_start_us == expect->window_start_us &&
        meta->window_end_us == expect->window_end_us)
        return PS_OK;
    ps_time_format_utc(meta->window_start_us, a, sizeof(a));
    ps_time_format_utc(meta->window_end_us, b, sizeof(b));
    ps_time_format_utc(expect->window_start_us, c, sizeof(c));
    ps_time_format_utc(expect->window_end_us, d, sizeof(d));
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                         "%s covers [%s, %s), expected [%s, %s)", what, a, b, c, d);
}

/*
 * The shape nearly every bill amount has, "0.48" or "123.45" in CNY (ISO 4217
 * exponent 2), parsed without the general parser's currency lookup and
 * message preparation, which dominate a million-row parse. It accepts a
 * strict subset of ps_money_parse_decimal's grammar with the same value (at
 * most 15 integer digits, so no overflow); anything else returns false and
 * goes through money.h.
 */
static bool fast_cny(recon_slice_t s, const char *currency, int64_t *minor_out)
{
    if (memcmp(currency, "CNY", 4) != 0 || s.len < 4 || s.len > 18 || s.p[s.len - 3] != '.')
        return false;
    size_t int_len = s.len - 3;
    if (int_len > 1 && s.p[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (i == int_len)
            continue;
        unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + (int64_t)d;
    }
    *minor_out = v;
    return true;
}

ps_err_t recon_parse_amount(recon_slice_t s, const char *currency, bool allow_negative,
                            int64_t *minor_out, const char *what, int64_t line_no,
                            const char *column, char *errstr, size_t errstr_size)
{
    char msg[PS_ERRSTR_SIZE];

    if (fast_cny(s, currency, minor_out))
        return PS_OK;
    ps_err_t err = allow_negative
                       ? ps_money_parse_decimal_signed(s.p, s.len, currency, minor_out, msg,
                                                       sizeof(msg))
                       : ps_money_parse_decimal(s.p, s.len, currency, minor_out, msg,
                                                sizeof(msg));
    if (err != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "%s line %lld: column %s: %s",
                             what, (long long)line_no, column, msg);
    return PS_OK;
}

/* ---- gzip ---------------------------------------------------------------- */

bool recon_statement_is_gzip(const uint8_t *data, size_t len)
{
    return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* Grows *buf (cap *cap) toward bytes_max; false when already at the bound. */
static bool grow(uint8_t **buf, size_t *cap, size_t bytes_max)
{
    if (*cap >= bytes_max)
        return false;
    size_t next = *cap > bytes_max / 2 ? bytes_max : *cap * 2;
    *buf = ps_realloc(*buf, next + 1);
    *cap = next;
    return true;
}

/* One inflate step into buf; at the bound, a one-byte probe that must stay empty. */
static int inflate_step(z_stream *zs, uint8_t **buf, size_t *cap, size_t *used,
                        size_t bytes_max, bool *over)
{
    uint8_t probe;
    int zrc;

    if (*used == *cap && !grow(buf, cap, bytes_max)) {
        zs->next_out = &probe;
        zs->avail_out = 1;
        zrc = inflate(zs, Z_NO_FLUSH);
        *over = zs->avail_out == 0;
        /* No output and no progress possible: the input ran out. */
        return zrc == Z_OK && zs->avail_in == 0 ? Z_BUF_ERROR : zrc;
    }
    size_t room = *cap - *used;
    zs->next_out = *buf + *used;
    zs->avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room; /* zlib counts in uInt */
    uInt before = zs->avail_out;
    zrc = inflate(zs, Z_NO_FLUSH);
    *used += before - zs->avail_out;
    return zrc;
}

ps_err_t recon_statement_gunzip(const uint8_t *data, size_t len, size_t bytes_max,
                                uint8_t **out_data, size_t *out_len, char *errstr,
                                size_t errstr_size)
{
    PS_ASSERT(data != NULL && out_data != NULL && out_len != NULL && bytes_max > 0);
    z_stream zs;
    size_t cap = len < bytes_max / 4 ? len * 4 : bytes_max, used = 0, fed = 0;
    ps_err_t err = PS_OK;
    bool over = false;

    if (cap < 64)
        cap = bytes_max < 64 ? bytes_max : 64;
    uint8_t *buf = ps_malloc(cap + 1);
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) { /* 16: expect a gzip wrapper */
        ps_free(buf);
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "could not start gunzip");
    }
    for (;;) {
        if (zs.avail_in == 0 && fed < len) {
            size_t left = len - fed;
            zs.next_in = (Bytef *)(data + fed);
            zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            fed += zs.avail_in;
        }
        int zrc = inflate_step(&zs, &buf, &cap, &used, bytes_max, &over);
        if (over) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                "gzip statement inflates to more than %zu bytes", bytes_max);
            goto out;
        }
        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0 && fed == len)
                break;
            inflateReset(&zs); /* a concatenated member follows */
        } else if (zrc == Z_BUF_ERROR && zs.avail_in == 0 && fed == len && zs.avail_out > 0) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "truncated gzip statement: the stream ends before its trailer");
            goto out;
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "corrupt gzip statement: %s",
                                zs.msg != NULL ? zs.msg : "inflate failed");
            goto out;
        }
    }
    buf[used] = '\0';
    *out_data = buf;
    *out_len = used;
    buf = NULL;
out:
    inflateEnd(&zs);
    ps_free(buf);
    return err;
}

/* ---- dispatcher ---------------------------------------------------------- */

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    static const char hex[] = "0123456789abcdef";

    PS_ASSERT(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) == 1 && md_len == 32);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Opens gzip when present and runs a text parser over the result. */
static ps_err_t parse_text_format(recon_format_t fmt, const uint8_t *data, size_t len,
                                  const recon_expect_t *expect, size_t bytes_max,
                                  recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                  char *errstr, size_t errstr_size)
{
    uint8_t *plain = NULL;
    size_t plain_len = len;
    ps_err_t err = PS_OK;

    if (recon_statement_is_gzip(data, len)) {
        err = recon_statement_gunzip(data, len, bytes_max, &plain, &plain_len, errstr,
                                     errstr_size);
        if (err != PS_OK)
            goto out;
        data = plain;
    } else if (len > bytes_max) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "statement of %zu bytes exceeds the bound of %zu bytes", len,
                            bytes_max);
        goto out;
    }
    meta->content_bytes = plain_len;
    if (fmt == RECON_FMT_WECHAT)
        err = recon_parse_wechat_text((const char *)data, plain_len, expect, row_fn, opaque,
                                      meta, errstr, errstr_size);
    else if (fmt == RECON_FMT_APPLE)
        err = recon_parse_apple_text((const char *)data, plain_len, expect, row_fn, opaque, meta,
                                     errstr, errstr_size);
    else
        err = recon_parse_generic_text((const char *)data, plain_len, expect, row_fn, opaque,
                                       meta, errstr, errstr_size);
out:
    ps_free(plain);
    return err;
}

ps_err_t recon_statement_parse(recon_format_t fmt, const uint8_t *data, size_t len,
                               const recon_expect_t *expect, recon_row_fn row_fn, void *opaque,
                               recon_stmt_meta_t *meta, char *errstr, size_t errstr_size)
{
    PS_ASSERT(data != NULL || len == 0);
    PS_ASSERT(row_fn != NULL);
    recon_stmt_meta_t local;
    recon_stmt_meta_t *m = meta != NULL ? meta : &local;
    size_t bytes_max = expect != NULL && expect->bytes_max > 0 ? expect->bytes_max
                                                               : PS_RECON_STATEMENT_BYTES_MAX;
    static const uint8_t empty[1] = {0};

    memset(m, 0, sizeof(*m));
    m->format = fmt;
    if (data == NULL)
        data = empty;
    sha256_hex(data, len, m->sha256_hex);
    switch (fmt) {
    case RECON_FMT_WECHAT:
    case RECON_FMT_GENERIC:
    case RECON_FMT_APPLE:
        return parse_text_format(fmt, data, len, expect, bytes_max, row_fn, opaque, m, errstr,
                                 errstr_size);
    case RECON_FMT_ALIPAY:
        return recon_parse_alipay_bytes(data, len, expect, bytes_max, row_fn, opaque, m, errstr,
                                        errstr_size);
    }
    return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID, "unknown statement format %d",
                         (int)fmt);
}

ps_err_t recon_statement_parse_file(recon_format_t fmt, const char *path,
                                    const recon_expect_t *expect, recon_row_fn row_fn,
                                    void *opaque, recon_stmt_meta_t *meta, char *errstr,
                                    size_t errstr_size)
{
    PS_ASSERT(path != NULL);
    size_t bytes_max = expect != NULL && expect->bytes_max > 0 ? expect->bytes_max
                                                               : PS_RECON_STATEMENT_BYTES_MAX;
    uint8_t *data = NULL;
    struct stat st;
    ps_err_t err = PS_OK;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not open statement \"%s\": %s",
                             path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                            "could not read statement \"%s\": not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > bytes_max) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "statement \"%s\" of %lld bytes exceeds the bound of %zu bytes", path,
                            (long long)st.st_size, bytes_max);
        goto out;
    }
    data = ps_malloc((size_t)st.st_size + 1);
    if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not read statement \"%s\"",
                            path);
        goto out;
    }
    err = recon_statement_parse(fmt, data, (size_t)st.st_size, expect, row_fn, opaque, meta,
                                errstr, errstr_size);
out:
    ps_free(data);
    fclose(f);
    return err;
}
