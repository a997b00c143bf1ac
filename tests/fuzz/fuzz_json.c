/*
 * Fuzz target: the strict JSON reader (paystream/json.h) against jansson,
 * the parser it replaced on the ingest's hot paths. Both must accept or
 * refuse the same texts (ours may also refuse past its own bounds), and an
 * accepted document must read the same through both: types, sizes, member
 * lookup, unescaped strings and integers.
 */
#include "fuzz.h"

#include <paystream/assert.h>
#include <paystream/json.h>
#include <paystream/mem.h>

#include <jansson.h>
#include <string.h>

static void compare(const ps_json_doc_t *doc, const ps_json_tok_t *t, json_t *j);

/* The unescaped string t as an owned C string (strings hold no NUL). */
static char *copy_str(const ps_json_doc_t *doc, const ps_json_tok_t *t, size_t *len)
{
    char *s = ps_malloc((size_t)t->len + 1);

    PS_ASSERT(ps_json_str_copy(doc, t, s, (size_t)t->len + 1, len) == PS_OK);
    PS_ASSERT(strlen(s) == *len && ps_json_utf8_valid(s, *len));
    PS_ASSERT(ps_json_str_eq(doc, t, s, *len));
    return s;
}

static void compare_object(const ps_json_doc_t *doc, const ps_json_tok_t *t, json_t *j)
{
    PS_ASSERT(json_is_object(j) && json_object_size(j) == ps_json_size(t));
    for (const ps_json_tok_t *k = ps_json_first(doc, t); k != NULL; k = ps_json_next(doc, t, k)) {
        size_t len;
        char *key = copy_str(doc, k, &len);

        PS_ASSERT(ps_json_get(doc, t, key) == ps_json_member_value(k));
        compare(doc, ps_json_member_value(k), json_object_get(j, key));
        ps_free(key);
    }
}

static void compare(const ps_json_doc_t *doc, const ps_json_tok_t *t, json_t *j)
{
    size_t i = 0, len;
    int64_t v;
    char *s;
    bool b;

    PS_ASSERT(t != NULL && j != NULL);
    switch (ps_json_type(t)) {
    case PS_JSON_OBJECT:
        compare_object(doc, t, j);
        break;
    case PS_JSON_ARRAY:
        PS_ASSERT(json_is_array(j) && json_array_size(j) == ps_json_size(t));
        for (const ps_json_tok_t *e = ps_json_first(doc, t); e != NULL;
             e = ps_json_next(doc, t, e), i++) {
            PS_ASSERT(ps_json_at(doc, t, i) == e);
            compare(doc, e, json_array_get(j, i));
        }
        break;
    case PS_JSON_STRING:
        s = copy_str(doc, t, &len);
        PS_ASSERT(json_is_string(j) && json_string_length(j) == len &&
                  memcmp(json_string_value(j), s, len) == 0);
        ps_free(s);
        break;
    case PS_JSON_NUMBER:
        PS_ASSERT(ps_json_int(doc, t, &v) ? json_is_integer(j) && json_integer_value(j) == v
                                          : json_is_real(j));
        break;
    default:
        PS_ASSERT(ps_json_bool(t, &b) ? (b ? json_is_true(j) : json_is_false(j))
                                      : json_is_null(j));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    ps_json_doc_t doc;
    json_error_t jerr;
    json_t *j;
    ps_err_t err;

    ps_json_doc_init(&doc);
    errstr[0] = '\0';
    err = ps_json_parse(&doc, (const char *)data, size, PS_JSON_TOKENS_MAX, errstr,
                        sizeof(errstr));
    j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    /* A jansson quirk: it skips a NUL byte right after a number or a
     * literal ("[5\0]" loads). RFC 8259 allows no NUL there; we refuse. */
    if (err == PS_ERR_INVALID && j != NULL && memchr(data, '\0', size) != NULL) {
        json_decref(j);
        j = NULL;
    }
    if (err == PS_OK)
        compare(&doc, ps_json_root(&doc), j);
    else
        PS_ASSERT(errstr[0] != '\0' && ps_json_root(&doc) == NULL &&
                  (err == PS_ERR_TOO_LARGE || (err == PS_ERR_INVALID && j == NULL)));
    json_decref(j);
    ps_json_doc_deinit(&doc);
    return 0;
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    static const char *const seeds[] = {
        "{\"signedPayload\":\"eyJhbGciOiJFUzI1NiJ9.e30.AA\"}",
        "{\"notificationType\":\"ONE_TIME_CHARGE\",\"data\":{\"appAppleId\":1234,"
        "\"bundleId\":\"com.example\",\"environment\":\"Sandbox\"},\"signedDate\":1700000000000}",
        "{\"id\":\"EV-1\",\"create_time\":\"2023-11-15T06:13:20+08:00\",\"resource\":{"
        "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"q\\/8=\",\"nonce\":\"abc\"}}",
        "[1,-0,2.5e-3,1E+2,true,false,null,\"\\u00e9\\ud83d\\ude00\\n\",{},[]]",
        "{\"a\":{\"b\":[{\"c\":\"\xc3\xa9\"}]},\"\\u0061\\u0062\":9223372036854775807}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    };

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fn((const uint8_t *)seeds[i], strlen(seeds[i]), opaque);
}
