/*
 * Strict application/x-www-form-urlencoded parsing, for Alipay notification
 * bodies and for the `k=v&k2=v2` account fields that WeChat (`attach`) and
 * Alipay (`passback_params`) echo back.
 *
 * The input is attacker-controlled evidence whose decoded values are signed,
 * so the parser accepts exactly one reading of every body and refuses the
 * rest instead of guessing: `+` is a space, `%XX` needs two hex digits,
 * `%00` is refused (values are used as C strings), every raw byte must be
 * printable ASCII (a conforming encoder escapes everything else), empty
 * segments (`a=1&&b=2`, a trailing `&`), segments without `=`, empty names
 * and duplicate names are refused. Input size, parameter count and name
 * length are bounded by PS_FORM_INPUT_BYTES_MAX, PS_FORM_PARAMS_MAX and
 * PS_FORM_KEY_BYTES_MAX. A raw `=` inside a value is accepted: the name ends
 * at the first `=`, so there is no ambiguity.
 *
 * Every function is thread-safe (no shared state).
 */
#ifndef INGEST_FORM_H
#define INGEST_FORM_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <stddef.h>

typedef struct ingest_form_param {
    const char *key;   /* decoded, NUL-terminated, never contains NUL; owned by the form */
    size_t key_len;
    const char *value; /* decoded, NUL-terminated, never contains NUL; owned by the form */
    size_t value_len;
} ingest_form_param_t;

typedef struct ingest_form {
    ingest_form_param_t *params; /* owned; sorted by key in byte (strcmp) order */
    size_t count;
    char *storage;               /* owned; holds every decoded key and value */
} ingest_form_t;

/* An empty form (count 0); ingest_form_deinit may be called on it. */
void ingest_form_init(ingest_form_t *form);
/* Releases the parameters; the form is empty again. Accepts NULL. */
void ingest_form_deinit(ingest_form_t *form);

/*
 * Parses s[0..len) (borrowed, need not be NUL-terminated) into form, which
 * must be empty (initialized or deinitialized); an empty text is a form
 * with no parameters. On success the form owns copies of every decoded key
 * and value, sorted by key. Errors: PS_ERR_INVALID (bad escape, unencoded
 * byte, empty segment or name, missing `=`, duplicate name, NUL) and
 * PS_ERR_TOO_LARGE (a bound above), with the offset or name in errstr; the
 * form is then left empty.
 */
ps_err_t ingest_form_parse(const char *s, size_t len, ingest_form_t *form, char *errstr,
                           size_t errstr_size);

/* The parameter named key (borrowed, NUL-terminated), or NULL. Binary search. */
const ingest_form_param_t *ingest_form_find(const ingest_form_t *form, const char *key);
/* Its value (borrowed from form), or NULL when the parameter is absent. */
const char *ingest_form_get(const ingest_form_t *form, const char *key);

/*
 * Decodes one component s[0..len) with the same strict rules (`+` is a
 * space, `%XX` exact, no NUL, printable ASCII only) and appends the bytes to
 * out, whose cap bounds the result. Used for values that were encoded a
 * second time (Alipay `passback_params`). PS_ERR_INVALID with the offset in
 * errstr; PS_ERR_TOO_LARGE past out's cap. out is unchanged on error.
 */
ps_err_t ingest_form_decode_component(const char *s, size_t len, ps_buf_t *out, char *errstr,
                                      size_t errstr_size);

/*
 * Appends the form encoding of s[0..len) to out: ASCII letters, digits and
 * `*-._` as they are, space as `+`, every other byte as upper-case `%XX`
 * (what browsers and the channels' SDKs emit). PS_ERR_TOO_LARGE past out's
 * cap (out then holds a prefix).
 */
ps_err_t ingest_form_encode_component(const char *s, size_t len, ps_buf_t *out);

/*
 * Writes s[0..len) into out (out_size bytes, always NUL-terminated when
 * out_size > 0) for an error message: printable ASCII as is, `"` and `\`
 * escaped, other bytes as \xNN, cut with "..." when longer than fits.
 * Never quote payer identifiers with it (STYLE.md).
 */
void ingest_form_quote(const char *s, size_t len, char *out, size_t out_size);

#endif
