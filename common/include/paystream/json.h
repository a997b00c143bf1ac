/*
 * A strict, fast JSON reader for the ingest's hot paths (RFC 8259).
 *
 * One pass validates the whole text and fills a flat token array: every
 * value is one token (type, byte offset and length in the text, child count,
 * index of the token after its subtree); an object's children alternate key,
 * value. Strings are not copied while parsing: an accessor hands out the
 * text's own bytes when the string has no escapes and unescapes into a
 * caller buffer otherwise.
 *
 * Strict means: UTF-8 checked (no overlongs, surrogates or code points past
 * U+10FFFF), no control characters in strings, only RFC escapes and no lone
 * surrogate; numbers per the RFC grammar (no leading zeros, no "1.", no
 * ".5"); nothing after the value but whitespace. As jansson refuses with the
 * flags the ingest used (JSON_REJECT_DUPLICATES, no JSON_ALLOW_NUL), a
 * document is also refused when an object repeats a key (after unescaping:
 * two parsers that resolved a duplicate differently would be a way to
 * smuggle a field past a signature), when a string holds "\u0000" (decoded
 * strings are C strings), when an integer does not fit int64 or a real
 * overflows a double. Unlike jansson any value may be the root.
 *
 * Bounds (limits.h): PS_JSON_TEXT_BYTES_MAX, PS_JSON_DEPTH_MAX, and the
 * caller's tokens_max (at most PS_JSON_TOKENS_MAX). Thread-safe: no global
 * state; a document belongs to one thread while it is parsed, and may be read
 * by several afterwards.
 */
#ifndef PAYSTREAM_JSON_H
#define PAYSTREAM_JSON_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ps_json_type {
    PS_JSON_OBJECT = 1,
    PS_JSON_ARRAY = 2,
    PS_JSON_STRING = 3,
    PS_JSON_NUMBER = 4,
    PS_JSON_TRUE = 5,
    PS_JSON_FALSE = 6,
    PS_JSON_NULL = 7
} ps_json_type_t;

/* Token flags. */
#define PS_JSON_F_ESCAPES 1u /* string: holds at least one backslash escape */
#define PS_JSON_F_INTEGER 2u /* number: no fraction, no exponent (fits int64) */

/* One value; read it through the accessors below. 16 bytes. */
typedef struct ps_json_tok {
    uint32_t off;  /* first byte: strings after the opening quote */
    uint32_t len;  /* bytes: strings without quotes, containers brackets included */
    uint32_t next; /* index of the token after this value's subtree */
    unsigned int count : 24; /* object members or array elements */
    unsigned int type : 4;   /* ps_json_type_t */
    unsigned int flags : 4;  /* PS_JSON_F_* */
} ps_json_tok_t;

/* Tokens held inside ps_json_doc_t; larger documents take a heap array. */
#define PS_JSON_DOC_INLINE_TOKENS 256

/* A parsed document. Caller-owned storage (it may live on the stack); the
 * text is borrowed and must outlive every token read from it. */
typedef struct ps_json_doc {
    const char *text;   /* borrowed */
    size_t len;
    ps_json_tok_t *toks; /* inline_toks or heap; toks[0] is the root */
    size_t count;
    ps_json_tok_t *heap; /* owned; NULL while the inline array sufficed */
    ps_json_tok_t inline_toks[PS_JSON_DOC_INLINE_TOKENS];
} ps_json_doc_t;

/* Prepares an empty document (no root). */
void ps_json_doc_init(ps_json_doc_t *doc);
/* Releases a heap token array; accepts NULL. The document is empty afterwards. */
void ps_json_doc_deinit(ps_json_doc_t *doc);

/*
 * Parses text[0..len) (borrowed, need not be NUL-terminated) into doc
 * (initialized; a previous parse is replaced). The inline array is tried
 * first; a document with more tokens is parsed again into a heap array of at
 * most tokens_max (1..PS_JSON_TOKENS_MAX) tokens. Errors, with the byte
 * offset in errstr ("invalid json: ... at offset N"): PS_ERR_INVALID for
 * malformed text, duplicate keys, "\u0000" and numbers out of range;
 * PS_ERR_TOO_LARGE past PS_JSON_TEXT_BYTES_MAX, PS_JSON_DEPTH_MAX or
 * tokens_max. On error doc has no root.
 */
ps_err_t ps_json_parse(ps_json_doc_t *doc, const char *text, size_t len, size_t tokens_max,
                       char *errstr, size_t errstr_size);

/* The root value, or NULL when doc holds no parsed document. */
const ps_json_tok_t *ps_json_root(const ps_json_doc_t *doc);

/* The type of t; 0 for NULL (so that ps_json_is(NULL, x) is false). */
static inline ps_json_type_t ps_json_type(const ps_json_tok_t *t)
{
    return t == NULL ? (ps_json_type_t)0 : (ps_json_type_t)t->type;
}

static inline bool ps_json_is(const ps_json_tok_t *t, ps_json_type_t type)
{
    return t != NULL && t->type == (unsigned int)type;
}

/* Members of an object or elements of an array; 0 for anything else or NULL. */
size_t ps_json_size(const ps_json_tok_t *t);

/*
 * The value of member key (a NUL-terminated UTF-8 name, compared with the
 * unescaped member names) of object obj; NULL when obj is NULL, not an
 * object, or has no such member. Keys are unique (ps_json_parse).
 */
const ps_json_tok_t *ps_json_get(const ps_json_doc_t *doc, const ps_json_tok_t *obj,
                                 const char *key);

/*
 * Iteration over a container: its first child and the child after child
 * (NULL at the end, or when container is NULL or a scalar). For an array the
 * children are its elements; for an object they are its member names, each
 * followed by its value (ps_json_member_value).
 */
const ps_json_tok_t *ps_json_first(const ps_json_doc_t *doc, const ps_json_tok_t *container);
const ps_json_tok_t *ps_json_next(const ps_json_doc_t *doc, const ps_json_tok_t *container,
                                  const ps_json_tok_t *child);
/* The value of the member whose name token is key (from ps_json_first/next). */
const ps_json_tok_t *ps_json_member_value(const ps_json_tok_t *key);

/* Element i of array arr (linear in i); NULL when out of range or not an array. */
const ps_json_tok_t *ps_json_at(const ps_json_doc_t *doc, const ps_json_tok_t *arr, size_t i);

/*
 * An integer number (no fraction or exponent, like jansson's
 * json_is_integer) into *out; false, *out untouched, for anything else.
 */
bool ps_json_int(const ps_json_doc_t *doc, const ps_json_tok_t *t, int64_t *out);

/* true or false into *out; false for anything else. */
bool ps_json_bool(const ps_json_tok_t *t, bool *out);

/*
 * The unescaped bytes of string t, NUL-terminated, into buf[0..size) with
 * the byte count (NUL excluded) in *len_out (may be NULL). PS_ERR_INVALID
 * when t is not a string (NULL included); PS_ERR_TOO_LARGE when it needs
 * more than size - 1 bytes, buf then holding its first size - 1 bytes
 * (enough for a message). Strings hold no NUL (ps_json_parse).
 */
ps_err_t ps_json_str_copy(const ps_json_doc_t *doc, const ps_json_tok_t *t, char *buf,
                          size_t size, size_t *len_out);

/*
 * The unescaped text of string t without copying when it has no escapes:
 * *s_out then points into the document's text (borrowed, NOT NUL-terminated).
 * Otherwise it is unescaped into scratch (reset first; borrowed, its cap
 * bounds the string), and *s_out points at scratch's data. PS_ERR_INVALID
 * when t is not a string, PS_ERR_TOO_LARGE past scratch's cap.
 */
ps_err_t ps_json_str_text(const ps_json_doc_t *doc, const ps_json_tok_t *t, ps_buf_t *scratch,
                          const char **s_out, size_t *len_out);

/* Whether t is a string whose unescaped bytes are exactly s[0..len). */
bool ps_json_str_eq(const ps_json_doc_t *doc, const ps_json_tok_t *t, const char *s, size_t len);

/* Whether s[0..len) is UTF-8 as a JSON string must be (RFC 3629). */
bool ps_json_utf8_valid(const char *s, size_t len);

#endif
