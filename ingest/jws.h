/*
 * Compact JWS (RFC 7515) as Apple signs App Store data: parsing and ES256
 * signature verification.
 *
 * A token is BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(sig),
 * unpadded, strictly decoded (paystream/base64.h). Only what Apple uses is
 * accepted: alg "ES256" (never "none", HS* or RS*: the token must not choose
 * the key type), an x5c header of exactly PS_X5C_CHAIN_CERTS standard-base64
 * DER certificates, no "crit" header, and a 64-byte raw r||s signature
 * (RFC 7518 3.4), which is converted to DER for OpenSSL.
 *
 * This module checks the token's form only; trust in the certificates is
 * x5c.c's concern and the meaning of the payload apple.c's. Thread-safe: no
 * global state; each ingest_jws_t belongs to one thread.
 */
#ifndef INGEST_JWS_H
#define INGEST_JWS_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ES256 signature: two 32-byte big-endian integers r and s. */
#define INGEST_JWS_ES256_SIG_BYTES 64
#define INGEST_JWS_ES256_COORD_BYTES 32

typedef struct ingest_jws {
    ps_buf_t header;  /* decoded header JSON, bound PS_JWS_HEADER_BYTES_MAX */
    ps_buf_t payload; /* decoded payload bytes, bound PS_JWS_PAYLOAD_BYTES_MAX */
    uint8_t signature[INGEST_JWS_ES256_SIG_BYTES]; /* raw r||s */
    const char *signing_input;  /* borrowed from the token: "header_b64.payload_b64" */
    size_t signing_input_len;
    ps_buf_t certs[PS_X5C_CHAIN_CERTS]; /* x5c entries as DER, leaf first */
    size_t cert_count;
} ingest_jws_t;

/* The three base64url segments of a compact token, borrowed from it. The
 * header segment starts at token. */
typedef struct ingest_jws_segments {
    const char *token;
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const char *signature;
    size_t signature_len;
} ingest_jws_segments_t;

/* Prepares an empty jws (buffers with their bounds). */
void ingest_jws_init(ingest_jws_t *jws);
/* Releases the buffers; accepts NULL. The jws may be initialized again. */
void ingest_jws_deinit(ingest_jws_t *jws);

/*
 * Splits and decodes token[0..len) (borrowed; it must outlive jws because
 * signing_input points into it) into jws (initialized by the caller; its
 * previous content is replaced). On rejection returns PS_ERR_INVALID (or
 * PS_ERR_TOO_LARGE past a bound), sets *label_out to a static reason label and
 * writes the reason into errstr:
 *   "bad_jws"          not three parts, bad base64url, header not a JSON
 *                      object, "crit" present, signature not 64 bytes
 *   "bad_alg"          alg missing or not "ES256" (checked before x5c)
 *   "bad_chain"        x5c missing, not an array of strings, or not exactly
 *                      PS_X5C_CHAIN_CERTS entries
 *   "bad_certificate"  an x5c entry is not strict standard base64 or too large
 * The payload is decoded but not parsed. Thread-safe (jws is the caller's).
 */
ps_err_t ingest_jws_parse(const char *token, size_t len, ingest_jws_t *jws,
                          const char **label_out, char *errstr, size_t errstr_size);

/*
 * The two steps of ingest_jws_parse. ingest_jws_split bounds token[0..len)
 * (borrowed; seg points into it) and splits it at its two dots ("bad_jws"
 * otherwise). ingest_jws_parse_segments then decodes and checks the parts as
 * ingest_jws_parse does; with header_known it skips the header entirely
 * (jws->header and jws->certs stay empty). header_known is only for a header
 * segment whose exact bytes the caller saw pass ingest_jws_parse before (an
 * alias-cache hit, x5c.h): the checks depend on nothing but those bytes.
 * Same labels and ownership as ingest_jws_parse. Thread-safe.
 */
ps_err_t ingest_jws_split(const char *token, size_t len, ingest_jws_segments_t *seg,
                          const char **label_out, char *errstr, size_t errstr_size);
ps_err_t ingest_jws_parse_segments(const ingest_jws_segments_t *seg, bool header_known,
                                   ingest_jws_t *jws, const char **label_out, char *errstr,
                                   size_t errstr_size);

/*
 * Verifies jws's ES256 signature over its signing input with key (borrowed;
 * an EC P-256 public key, used read-only so it may be shared by threads).
 * PS_OK when it verifies; PS_ERR_CRYPTO with the reason otherwise (bad
 * signature, key of the wrong type, OpenSSL failure). Uses its own
 * EVP_MD_CTX: thread-safe.
 */
ps_err_t ingest_jws_verify_es256(const ingest_jws_t *jws, EVP_PKEY *key, char *errstr,
                                 size_t errstr_size);

/*
 * A verification context for key (borrowed; the context holds its own
 * reference) prepared once, so that each verification only copies it
 * (EVP_MD_CTX_copy_ex, thread-safe on a shared source) instead of fetching
 * SHA-256 and ECDSA again: owned by the caller (EVP_MD_CTX_free), or NULL
 * when key is not an EC key or OpenSSL fails (reason left queued).
 */
EVP_MD_CTX *ingest_jws_es256_prepare(EVP_PKEY *key);

/*
 * As ingest_jws_verify_es256, with ctx (borrowed) a context from
 * ingest_jws_es256_prepare, or a copy of one, that nothing else uses: it is
 * used up (finalised in place) and may not verify again.
 */
ps_err_t ingest_jws_verify_es256_prepared(const ingest_jws_t *jws, EVP_MD_CTX *ctx, char *errstr,
                                          size_t errstr_size);

/*
 * Converts a raw r||s signature to a DER ECDSA-Sig-Value appended to der_out
 * (borrowed, caller-initialized). PS_ERR_TOO_LARGE past der_out's bound.
 */
ps_err_t ingest_jws_sig_raw_to_der(const uint8_t raw[INGEST_JWS_ES256_SIG_BYTES],
                                   ps_buf_t *der_out, char *errstr, size_t errstr_size);

/*
 * The inverse, for signers (the simulator): DER der[0..len) (borrowed) to raw
 * r||s in raw_out. PS_ERR_INVALID when der is not exactly one ECDSA-Sig-Value
 * or r or s does not fit 32 bytes.
 */
ps_err_t ingest_jws_sig_der_to_raw(const uint8_t *der, size_t len,
                                   uint8_t raw_out[INGEST_JWS_ES256_SIG_BYTES], char *errstr,
                                   size_t errstr_size);

#endif
