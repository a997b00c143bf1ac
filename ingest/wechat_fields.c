/*
 * Typed readers of WeChat Pay JSON fields (see wechat_fields.h): the field
 * checks of the callback body and the decrypted resource, kept apart from
 * wechat.c so that the verifier reads as the reference's sequence of steps.
 */
#include "wechat_fields.h"

#include <paystream/limits.h>
#include <paystream/timeparse.h>

#include <string.h>

/* Bytes of a time field (RFC 3339 needs at most 35). */
#define WX_TIME_BYTES_MAX 64

/* ingest_reject for the bool-returning readers: always false. */
#define REJECT(res, label, ...) (ingest_reject((res), (label), __VA_ARGS__), false)

/* Member key of obj; NULL when absent or null (WeChat's "no value"). */
static const ps_json_tok_t *member(ingest_wx_obj_t obj, const char *key)
{
    const ps_json_tok_t *v = ps_json_get(obj.doc, obj.tok, key);

    return ps_json_is(v, PS_JSON_NULL) ? NULL : v;
}

bool ingest_wx_parse(ps_json_doc_t *doc, const uint8_t *data, size_t len, const char *what,
                     ingest_wx_obj_t *root_out, ingest_result_t *res)
{
    char cause[PS_ERRSTR_SIZE];
    ps_err_t err = ps_json_parse(doc, (const char *)data, len, PS_JSON_TOKENS_MAX, cause,
                                 sizeof(cause));

    root_out->doc = doc;
    root_out->tok = ps_json_root(doc);
    if (err != PS_OK || !ps_json_is(root_out->tok, PS_JSON_OBJECT))
        return REJECT(res, "bad_json", "%s is not a JSON object: %s", what,
                      err != PS_OK ? cause : "another JSON value");
    return true;
}

bool ingest_wx_str(ingest_wx_obj_t obj, const char *key, const char *path, char *buf,
                   size_t size, bool required, const char **out, ingest_result_t *res)
{
    const ps_json_tok_t *v = member(obj, key);
    size_t n = 0;
    ps_err_t err;

    *out = NULL;
    if (v == NULL)
        return required ? REJECT(res, "missing_field", "field \"%s\" is missing", path) : true;
    err = ps_json_str_copy(obj.doc, v, buf, size, &n);
    if (err == PS_ERR_INVALID)
        return REJECT(res, "bad_field", "field \"%s\" is not a string without NUL", path);
    if (err != PS_OK || (required && n == 0))
        return REJECT(res, "bad_field", "field \"%s\" is empty or exceeds %zu bytes", path,
                      size - 1);
    *out = buf;
    return true;
}

bool ingest_wx_text(ingest_wx_obj_t obj, const char *key, const char *path, ps_buf_t *scratch,
                    const char **out, size_t *len, ingest_result_t *res)
{
    const ps_json_tok_t *v = member(obj, key);
    ps_err_t err;

    if (v == NULL)
        return REJECT(res, "missing_field", "field \"%s\" is missing", path);
    err = ps_json_str_text(obj.doc, v, scratch, out, len);
    if (err == PS_ERR_INVALID)
        return REJECT(res, "bad_field", "field \"%s\" is not a string without NUL", path);
    if (err != PS_OK || *len == 0)
        return REJECT(res, "bad_field", "field \"%s\" is empty or exceeds %zu bytes", path,
                      scratch->max);
    return true;
}

bool ingest_wx_object(ingest_wx_obj_t obj, const char *key, const char *path,
                      ingest_wx_obj_t *out, ingest_result_t *res)
{
    out->doc = obj.doc;
    out->tok = member(obj, key);
    if (out->tok == NULL)
        return REJECT(res, "missing_field", "field \"%s\" is missing", path);
    if (!ps_json_is(out->tok, PS_JSON_OBJECT))
        return REJECT(res, "bad_field", "field \"%s\" is not an object", path);
    return true;
}

bool ingest_wx_amount(ingest_wx_obj_t obj, const char *key, const char *path, int64_t *out,
                      ingest_result_t *res)
{
    const ps_json_tok_t *v = member(obj, key);
    int64_t value = 0;

    if (v == NULL)
        return REJECT(res, "missing_field", "field \"%s\" is missing", path);
    if (!ps_json_int(obj.doc, v, &value))
        return REJECT(res, "bad_amount", "field \"%s\" is not an integer number of fen", path);
    if (value <= 0)
        return REJECT(res, "bad_amount", "field \"%s\" is %lld, not a positive amount", path,
                      (long long)value);
    *out = value;
    return true;
}

bool ingest_wx_time(ingest_wx_obj_t obj, const char *key, const char *path, bool required,
                    bool *has_out, int64_t *us_out, ingest_result_t *res)
{
    char err[PS_ERRSTR_SIZE], buf[WX_TIME_BYTES_MAX + 1];
    const char *s;

    if (!ingest_wx_str(obj, key, path, buf, sizeof(buf), required, &s, res))
        return false;
    *has_out = s != NULL;
    if (s != NULL && ps_time_parse_rfc3339(s, strlen(s), us_out, err, sizeof(err)) != PS_OK)
        return REJECT(res, "bad_time", "field \"%s\": %s", path, err);
    return true;
}
