/*
 * Typed readers of the fields of a WeChat Pay JSON document (the callback
 * body and the decrypted resource), over the strict reader of
 * paystream/json.h. They apply WeChat's conventions (null is absent) and the
 * verifier's reject labels: each returns true on success and false after
 * setting a REJECT verdict in res (borrowed):
 *   missing_field  a required field is absent or null
 *   bad_field      not a string / object, empty or over its bound
 *   bad_amount     an amount that is not a positive JSON integer
 *   bad_time       a time that is not RFC 3339
 *   bad_json       (ingest_wx_parse) not JSON, or its root not an object
 * path names the field in messages ("amount.total"). Thread-safe.
 */
#ifndef INGEST_WECHAT_FIELDS_H
#define INGEST_WECHAT_FIELDS_H

#include "verify.h"

#include <paystream/buf.h>
#include <paystream/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An object of a parsed document; both pointers borrowed. */
typedef struct ingest_wx_obj {
    const ps_json_doc_t *doc;
    const ps_json_tok_t *tok;
} ingest_wx_obj_t;

/* Parses data[0..len) (borrowed; it must outlive doc) into doc
 * (initialized); its root must be an object, returned in *root_out. what
 * names the document in messages. */
bool ingest_wx_parse(ps_json_doc_t *doc, const uint8_t *data, size_t len, const char *what,
                     ingest_wx_obj_t *root_out, ingest_result_t *res);

/* A required (or optional: *out NULL when absent) string of at most
 * size - 1 bytes, copied into buf (*out = buf). Strings hold no NUL. */
bool ingest_wx_str(ingest_wx_obj_t obj, const char *key, const char *path, char *buf,
                   size_t size, bool required, const char **out, ingest_result_t *res);

/* A required, non-empty string too large to copy (the ciphertext): *out is
 * borrowed from the document, or unescaped into scratch (borrowed), whose
 * cap bounds it; not NUL-terminated, *len bytes. */
bool ingest_wx_text(ingest_wx_obj_t obj, const char *key, const char *path, ps_buf_t *scratch,
                    const char **out, size_t *len, ingest_result_t *res);

/* A required object member. */
bool ingest_wx_object(ingest_wx_obj_t obj, const char *key, const char *path,
                      ingest_wx_obj_t *out, ingest_result_t *res);

/* A required positive amount in minor units: a JSON integer, never a real (648.0). */
bool ingest_wx_amount(ingest_wx_obj_t obj, const char *key, const char *path, int64_t *out,
                      ingest_result_t *res);

/* A required (or optional: *has_out false) RFC 3339 time, in microseconds. */
bool ingest_wx_time(ingest_wx_obj_t obj, const char *key, const char *path, bool required,
                    bool *has_out, int64_t *us_out, ingest_result_t *res);

#endif
