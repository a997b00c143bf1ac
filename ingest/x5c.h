/*
 * Validation of an Apple x5c certificate chain against pinned roots, with a
 * cache of validated chains.
 *
 * A chain is x5c = [leaf, intermediate, root] as DER. It is accepted when the
 * leaf chains through the intermediate to one of the configured trusted
 * roots (x5c[2] is parsed but never trusted: the anchor is ours), at a given
 * time, with RFC 5280 checks (X509_STRICT optionally: Apple's real
 * certificates pass it, the SDK test certificates lack key identifiers), the
 * Apple OIDs present (intermediate 1.2.840.113635.100.6.2.1, leaf
 * 1.2.840.113635.100.6.11.1) and a P-256 leaf key (ES256).
 *
 * Validating costs several ECDSA verifications, so successful validations
 * are cached by SHA-256 of the chain's bytes (all x5c entries): a known
 * chain then costs a hash and a time check. The cache keeps each chain's
 * validity window (latest notBefore, earliest notAfter over leaf,
 * intermediate and trusted root) so that the time check still applies to
 * cached chains. It is bounded (set-associative, round-robin eviction) and
 * guarded by a read-write lock: every function here is thread-safe.
 *
 * A second cache of the same size maps an alias, the caller's SHA-256 of the
 * bytes that carried a chain (for Apple the base64url JWS header segment,
 * which fixes alg and x5c), to the validated leaf. A hit there spares the
 * caller decoding and parsing those bytes; the time check still applies.
 */
#ifndef INGEST_X5C_H
#define INGEST_X5C_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hex SHA-256 plus NUL. */
#define INGEST_X5C_HEX_BYTES 65
/* An alias is a SHA-256 digest. */
#define INGEST_X5C_ALIAS_BYTES 32

typedef struct ingest_x5c ingest_x5c_t;

/* What a validated chain yields. */
typedef struct ingest_x5c_leaf {
    EVP_PKEY *key; /* owned reference to the leaf's P-256 public key (EVP_PKEY_free) */
    /* Owned: a ready ES256 verification context for key, copied from the
     * cache's prepared one on a cache hit (ingest_jws_verify_es256_prepared,
     * once); NULL after a full validation or when the copy failed. */
    EVP_MD_CTX *verify_ctx;
    char sha256_hex[INGEST_X5C_HEX_BYTES]; /* lower-case hex SHA-256 of the leaf DER */
    /* Validity window of the whole path: latest notBefore, earliest notAfter. */
    int64_t not_before_s, not_after_s;
} ingest_x5c_leaf_t;

/*
 * Creates a validator trusting the certificates in roots[0..roots_len)
 * (borrowed; PEM with 1..PS_APPLE_ROOT_CERTS_MAX certificates, or one DER
 * certificate). strict adds X509_V_FLAG_X509_STRICT. cache_entries
 * (0..PS_APPLE_CHAIN_CACHE_ENTRIES_MAX; 0 disables caching) bounds the cache.
 * On success *out is owned by the caller (ingest_x5c_destroy). Errors:
 * PS_ERR_CONFIG when roots holds no certificate, too many, or garbage;
 * PS_ERR_CRYPTO when OpenSSL fails.
 */
ps_err_t ingest_x5c_new(const uint8_t *roots, size_t roots_len, bool strict,
                        size_t cache_entries, ingest_x5c_t **out, char *errstr,
                        size_t errstr_size);

/* Accepts NULL. */
void ingest_x5c_destroy(ingest_x5c_t *x);

/*
 * Validates certs[0..count) (borrowed DER buffers, leaf first) at at_s
 * (seconds since the epoch). On PS_OK *leaf_out holds an owned key reference
 * (release with ingest_x5c_leaf_deinit). On rejection returns PS_ERR_CRYPTO
 * (PS_ERR_INVALID for malformed input) with the reason in errstr and a static
 * label in *label_out:
 *   "bad_chain"            count is not PS_X5C_CHAIN_CERTS, or the path built
 *                          is not leaf -> x5c[1] -> trusted root
 *   "bad_certificate"      an entry does not DER-parse as one certificate, or
 *                          the leaf key is not EC P-256
 *   "untrusted_chain"      the path does not verify to a trusted root
 *   "expired_certificate"  a certificate on the path is not valid at at_s
 *   "bad_apple_oid"        an Apple OID is missing
 *   "internal"             hashing failed inside OpenSSL (PS_ERR_CRYPTO)
 * Thread-safe.
 */
ps_err_t ingest_x5c_verify(ingest_x5c_t *x, const ps_buf_t *certs, size_t count, int64_t at_s,
                           ingest_x5c_leaf_t *leaf_out, const char **label_out, char *errstr,
                           size_t errstr_size);

/*
 * The time check of ingest_x5c_verify on its own: PS_OK when at_s lies in
 * leaf's window (borrowed), else PS_ERR_CRYPTO, "expired_certificate" in
 * *label_out and the window in errstr. For leaves from ingest_x5c_alias_get.
 */
ps_err_t ingest_x5c_check_time(const ingest_x5c_leaf_t *leaf, int64_t at_s,
                               const char **label_out, char *errstr, size_t errstr_size);

/*
 * Looks alias (borrowed, INGEST_X5C_ALIAS_BYTES) up. On a hit returns true
 * and fills *leaf_out as ingest_x5c_verify does (owned key reference,
 * window included) but WITHOUT the time check: the caller must run
 * ingest_x5c_check_time. Counts as a cache hit. Misses (false, leaf zeroed)
 * when caching is off. Thread-safe.
 */
bool ingest_x5c_alias_get(ingest_x5c_t *x, const uint8_t alias[INGEST_X5C_ALIAS_BYTES],
                          ingest_x5c_leaf_t *leaf_out);

/*
 * Remembers alias (borrowed) for leaf (borrowed; the result of a successful
 * ingest_x5c_verify over the chain those bytes carried, after the caller's
 * form checks on them passed). Bounded like the chain cache. Thread-safe.
 */
void ingest_x5c_alias_put(ingest_x5c_t *x, const uint8_t alias[INGEST_X5C_ALIAS_BYTES],
                          const ingest_x5c_leaf_t *leaf);

/* Releases the key reference and verify_ctx; accepts NULL and a zeroed leaf. */
void ingest_x5c_leaf_deinit(ingest_x5c_leaf_t *leaf);

/* Full chain validations run so far (cache misses that reached OpenSSL), and
 * cache hits, for tests and metrics. Thread-safe. */
uint64_t ingest_x5c_validations(const ingest_x5c_t *x);
uint64_t ingest_x5c_cache_hits(const ingest_x5c_t *x);

#endif
