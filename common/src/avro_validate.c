/*
 * A bounds-checking walk of untrusted Avro binary against its schema, run
 * before Avro-C sees the bytes. Avro-C 1.11.1 passes negative lengths to
 * malloc and leaks the buffer when a read fails half-way (AVRO-4246), so the
 * decoder must only hand it bytes that it can read to the end. This walk
 * allocates nothing, reads every byte at most once, and stops at the first
 * problem with its byte offset and the record field it was in.
 *
 * It follows the parsed avro_schema_t rather than a hand-written shape, so a
 * field added to a schema is checked without touching this file.
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <stdarg.h>
#include <stdio.h>

typedef struct wire {
    const uint8_t *p;  /* borrowed body */
    size_t len;
    size_t pos;        /* next byte to read */
    size_t at;         /* where the value being read starts, for messages */
    size_t base;       /* offset of p in the whole message, for messages */
    const char *field; /* innermost record field, for messages (schema-owned) */
    char *errstr;
    size_t errstr_size;
} wire_t;

static ps_err_t walk(wire_t *w, avro_schema_t schema, int depth);

static ps_err_t fail(wire_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static ps_err_t fail(wire_t *w, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return ps_errstr_set(w->errstr, w->errstr_size, PS_ERR_INVALID,
                         "field \"%s\" at byte %zu: %s", w->field, w->base + w->at, detail);
}

static size_t left(const wire_t *w)
{
    return w->len - w->pos;
}

/*
 * A zig-zag varint of at most bytes_max bytes. With 10 bytes the last may
 * only carry bit 63, anything more would overflow 64 bits.
 */
static ps_err_t read_varint(wire_t *w, int bytes_max, int64_t *out)
{
    uint64_t u = 0;

    for (int i = 0; i < bytes_max; i++) {
        uint8_t b;

        if (left(w) == 0)
            return fail(w, "truncated varint");
        b = w->p[w->pos++];
        if (i == PS_AVRO_VARINT_BYTES_MAX - 1 && b > 1)
            return fail(w, "varint overflows 64 bits");
        u |= (uint64_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return PS_OK;
        }
    }
    return fail(w, "varint is longer than %d bytes", bytes_max);
}

static ps_err_t read_long(wire_t *w, int64_t *out)
{
    return read_varint(w, PS_AVRO_VARINT_BYTES_MAX, out);
}

/* An Avro int: at most 5 bytes and within int32. */
static ps_err_t read_int(wire_t *w, int64_t *out)
{
    ps_err_t err = read_varint(w, 5, out);

    if (err == PS_OK && (*out < INT32_MIN || *out > INT32_MAX))
        return fail(w, "int %lld is out of range", (long long)*out);
    return err;
}

static ps_err_t skip(wire_t *w, size_t n, const char *what)
{
    if (left(w) < n)
        return fail(w, "%s needs %zu bytes, %zu left", what, n, left(w));
    w->pos += n;
    return PS_OK;
}

/* string and bytes: a long length, then that many bytes; strings UTF-8 without NUL. */
static ps_err_t read_blob(wire_t *w, bool is_string)
{
    const char *what = is_string ? "string" : "bytes";
    int64_t n;
    ps_err_t err = read_long(w, &n);

    if (err != PS_OK)
        return err;
    if (n < 0)
        return fail(w, "%s length %lld is negative", what, (long long)n);
    if ((uint64_t)n > left(w))
        return fail(w, "%s length %lld exceeds the %zu bytes left", what, (long long)n, left(w));
    if (is_string && !ps__avro_utf8_valid(w->p + w->pos, (size_t)n))
        return fail(w, "string is not valid UTF-8 or contains a NUL byte");
    w->pos += (size_t)n;
    return PS_OK;
}

/* An index (enum symbol or union branch) in [0, count); whats is the plural. */
static ps_err_t read_index(wire_t *w, const char *what, const char *whats, int64_t count,
                           int64_t *out)
{
    ps_err_t err = read_int(w, out);

    if (err == PS_OK && (*out < 0 || *out >= count))
        return fail(w, "%s %lld is out of range (%lld %s)", what, (long long)*out,
                    (long long)count, whats);
    return err;
}

/*
 * array and map: blocks of items ended by a zero count. Negative counts
 * (which prefix a byte size) are legal Avro but no paystream writer emits
 * them, so they are refused rather than trusted.
 */
static ps_err_t walk_blocks(wire_t *w, avro_schema_t schema, bool is_map, int depth)
{
    avro_schema_t item = is_map ? avro_schema_map_values(schema) : avro_schema_array_items(schema);
    int64_t count, total = 0;
    ps_err_t err;

    for (;;) {
        if ((err = read_long(w, &count)) != PS_OK)
            return err;
        if (count == 0)
            return PS_OK;
        if (count < 0)
            return fail(w, "block count %lld is negative", (long long)count);
        if (count > PS_EVIDENCE_HEADERS_MAX - total)
            return fail(w, "more than %d items", PS_EVIDENCE_HEADERS_MAX);
        total += count;
        for (int64_t i = 0; i < count; i++) {
            if (is_map && (err = read_blob(w, true)) != PS_OK)
                return err;
            if ((err = walk(w, item, depth + 1)) != PS_OK)
                return err;
        }
    }
}

static ps_err_t walk_record(wire_t *w, avro_schema_t schema, int depth)
{
    size_t n = avro_schema_record_size(schema);
    const char *outer = w->field;
    ps_err_t err = PS_OK;

    for (size_t i = 0; i < n && err == PS_OK; i++) {
        w->field = avro_schema_record_field_name(schema, (int)i);
        err = walk(w, avro_schema_record_field_get_by_index(schema, (int)i), depth + 1);
    }
    /* Keep the failing field in the message; restore only on success. */
    if (err == PS_OK)
        w->field = outer;
    return err;
}

static ps_err_t walk(wire_t *w, avro_schema_t schema, int depth)
{
    int64_t index;
    uint8_t b;
    ps_err_t err;

    w->at = w->pos;
    if (depth > PS_AVRO_SCHEMA_DEPTH_MAX)
        return fail(w, "value nests deeper than %d levels", PS_AVRO_SCHEMA_DEPTH_MAX);
    switch (avro_typeof(schema)) {
    case AVRO_NULL: return PS_OK;
    case AVRO_BOOLEAN:
        if (left(w) == 0)
            return fail(w, "truncated boolean");
        b = w->p[w->pos];
        if (b > 1)
            return fail(w, "boolean byte %u is neither 0 nor 1", (unsigned)b);
        w->pos++;
        return PS_OK;
    case AVRO_INT32: return read_int(w, &index);
    case AVRO_INT64: return read_long(w, &index);
    case AVRO_FLOAT: return skip(w, 4, "float");
    case AVRO_DOUBLE: return skip(w, 8, "double");
    case AVRO_STRING: return read_blob(w, true);
    case AVRO_BYTES: return read_blob(w, false);
    case AVRO_FIXED: return skip(w, (size_t)avro_schema_fixed_size(schema), "fixed");
    case AVRO_ENUM:
        return read_index(w, "enum symbol", "symbols", avro_schema_enum_number_of_symbols(schema),
                          &index);
    case AVRO_UNION:
        err = read_index(w, "union branch", "branches", (int64_t)avro_schema_union_size(schema),
                         &index);
        return err != PS_OK ? err
                            : walk(w, avro_schema_union_branch(schema, (int)index), depth + 1);
    case AVRO_ARRAY: return walk_blocks(w, schema, false, depth);
    case AVRO_MAP: return walk_blocks(w, schema, true, depth);
    case AVRO_RECORD: return walk_record(w, schema, depth);
    case AVRO_LINK: return walk(w, avro_schema_link_target(schema), depth + 1);
    }
    return fail(w, "unsupported schema type %d", (int)avro_typeof(schema));
}

ps_err_t ps__avro_wire_check(avro_schema_t schema, const uint8_t *body, size_t len,
                             size_t body_offset, char *errstr, size_t errstr_size)
{
    wire_t w = {.p = body, .len = len, .base = body_offset, .field = "(record)",
                .errstr = errstr, .errstr_size = errstr_size};
    ps_err_t err;

    PS_ASSERT(schema != NULL && (body != NULL || len == 0));
    err = walk(&w, schema, 0);
    if (err == PS_OK && w.pos != w.len)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "%zu trailing bytes at byte %zu after the record", w.len - w.pos,
                             w.base + w.pos);
    return err;
}
