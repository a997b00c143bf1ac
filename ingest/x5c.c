/*
 * x5c chain validation against pinned roots, with a bounded cache of
 * validated chains (see x5c.h). The trust decision is OpenSSL's
 * X509_verify_cert with our X509_STORE as the only anchor source and x5c[1]
 * as the only untrusted certificate; the Apple OID and key-type checks, the
 * exact path shape and the cache are ours.
 */
#include "x5c.h"

#include "jws.h"

#include <paystream/assert.h>
#include <paystream/mem.h>
#include <paystream/timeparse.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define X5C_OID_INTERMEDIATE "1.2.840.113635.100.6.2.1"
#define X5C_OID_LEAF "1.2.840.113635.100.6.11.1"
/* Entries per cache set: a small set keeps lookups O(1) while tolerating
 * several chains whose hashes share a set. */
#define X5C_CACHE_WAYS 4
#define X5C_SHA256_BYTES 32

typedef struct cache_entry {
    bool used;
    uint8_t chain_sha256[X5C_SHA256_BYTES]; /* the chain's hash, or an alias */
    EVP_PKEY *key; /* owned reference */
    EVP_MD_CTX *verify_proto; /* owned, prepared for key; copied per hit, else NULL */
    int64_t not_before_s, not_after_s;
    char leaf_hex[INGEST_X5C_HEX_BYTES];
} cache_entry_t;

/* A bounded set-associative map from a 32-byte hash to a validated leaf. */
typedef struct cache {
    pthread_rwlock_t lock;  /* guards entries and victims */
    cache_entry_t *entries; /* set_count * X5C_CACHE_WAYS, NULL when caching is off */
    unsigned *victims;      /* per set: next way to evict (round robin) */
    size_t set_count;
} cache_t;

struct ingest_x5c {
    X509_STORE *store;
    ASN1_OBJECT *oid_intermediate, *oid_leaf;
    bool strict;
    cache_t chains;  /* by chain_hash of the DER certificates */
    cache_t aliases; /* by the caller's hash of the bytes that carried a validated chain */
    atomic_uint_least64_t validations, hits;
};

/* The parsed certificates of one chain. */
typedef struct chain {
    X509 *certs[PS_X5C_CHAIN_CERTS];
} chain_t;

static void chain_free(chain_t *c)
{
    for (size_t i = 0; i < PS_X5C_CHAIN_CERTS; i++)
        X509_free(c->certs[i]);
}

static ps_err_t add_root(X509_STORE *store, X509 *cert, size_t *count, char *errstr,
                         size_t errstr_size)
{
    if (*count >= PS_APPLE_ROOT_CERTS_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "more than %d trusted root certificates", PS_APPLE_ROOT_CERTS_MAX);
    if (X509_STORE_add_cert(store, cert) != 1) {
        ERR_clear_error();
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "could not add trusted root certificate %zu", *count + 1);
    }
    (*count)++;
    return PS_OK;
}

/* Whether needle occurs in data[0..len): PEM may follow explanatory text. */
static bool has_bytes(const uint8_t *data, size_t len, const char *needle, size_t needle_len)
{
    for (size_t i = 0; i + needle_len <= len; i++) {
        if (memcmp(data + i, needle, needle_len) == 0)
            return true;
    }
    return false;
}

/* Loads PEM (one or more certificates) or one DER certificate into store. */
static ps_err_t load_roots(X509_STORE *store, const uint8_t *roots, size_t len, char *errstr,
                           size_t errstr_size)
{
    static const char pem_mark[] = "-----BEGIN";
    size_t count = 0;
    ps_err_t err = PS_OK;
    X509 *cert = NULL;

    if (len > PS_APPLE_ROOT_FILE_BYTES_MAX)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             "trusted roots of %zu bytes exceed the %d-byte bound", len,
                             PS_APPLE_ROOT_FILE_BYTES_MAX);
    if (has_bytes(roots, len, pem_mark, sizeof(pem_mark) - 1)) {
        BIO *bio = BIO_new_mem_buf(roots, (int)len);

        while (err == PS_OK && bio != NULL &&
               (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            err = add_root(store, cert, &count, errstr, errstr_size);
            X509_free(cert);
        }
        BIO_free(bio);
    } else {
        const unsigned char *p = roots;

        cert = d2i_X509(NULL, &p, (long)len);
        if (cert != NULL && p == roots + len)
            err = add_root(store, cert, &count, errstr, errstr_size);
        X509_free(cert);
    }
    ERR_clear_error();
    if (err == PS_OK && count == 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                            "no certificate found in trusted roots (expected PEM or one DER "
                            "certificate)");
    return err;
}

/* Sizes c for entries chains (0: caching off, every lookup misses). */
static void cache_init(cache_t *c, size_t entries)
{
    memset(c, 0, sizeof(*c));
    pthread_rwlock_init(&c->lock, NULL);
    if (entries == 0)
        return;
    c->set_count = (entries + X5C_CACHE_WAYS - 1) / X5C_CACHE_WAYS;
    c->entries = ps_calloc(c->set_count * X5C_CACHE_WAYS, sizeof(*c->entries));
    c->victims = ps_calloc(c->set_count, sizeof(*c->victims));
}

static void cache_deinit(cache_t *c)
{
    for (size_t i = 0; c->entries != NULL && i < c->set_count * X5C_CACHE_WAYS; i++) {
        EVP_MD_CTX_free(c->entries[i].verify_proto);
        EVP_PKEY_free(c->entries[i].key);
    }
    ps_free(c->entries);
    ps_free(c->victims);
    pthread_rwlock_destroy(&c->lock);
}

ps_err_t ingest_x5c_new(const uint8_t *roots, size_t roots_len, bool strict,
                        size_t cache_entries, ingest_x5c_t **out, char *errstr,
                        size_t errstr_size)
{
    ingest_x5c_t *x = ps_calloc(1, sizeof(*x));
    ps_err_t err;

    PS_ASSERT(cache_entries <= PS_APPLE_CHAIN_CACHE_ENTRIES_MAX);
    x->strict = strict;
    cache_init(&x->chains, cache_entries);
    cache_init(&x->aliases, cache_entries);
    x->store = X509_STORE_new();
    x->oid_intermediate = OBJ_txt2obj(X5C_OID_INTERMEDIATE, 1);
    x->oid_leaf = OBJ_txt2obj(X5C_OID_LEAF, 1);
    if (x->store == NULL || x->oid_intermediate == NULL || x->oid_leaf == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                            "could not create certificate store");
        goto out;
    }
    err = load_roots(x->store, roots, roots_len, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    *out = x;
    x = NULL;
out:
    ingest_x5c_destroy(x);
    return err;
}

void ingest_x5c_destroy(ingest_x5c_t *x)
{
    if (x == NULL)
        return;
    cache_deinit(&x->aliases);
    cache_deinit(&x->chains);
    ASN1_OBJECT_free(x->oid_intermediate);
    ASN1_OBJECT_free(x->oid_leaf);
    X509_STORE_free(x->store);
    ps_free(x);
}

void ingest_x5c_leaf_deinit(ingest_x5c_leaf_t *leaf)
{
    if (leaf == NULL)
        return;
    EVP_MD_CTX_free(leaf->verify_ctx);
    leaf->verify_ctx = NULL;
    EVP_PKEY_free(leaf->key);
    leaf->key = NULL;
    leaf->sha256_hex[0] = '\0';
}

uint64_t ingest_x5c_validations(const ingest_x5c_t *x)
{
    return atomic_load(&((ingest_x5c_t *)x)->validations);
}

uint64_t ingest_x5c_cache_hits(const ingest_x5c_t *x)
{
    return atomic_load(&((ingest_x5c_t *)x)->hits);
}

static void to_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/* SHA-256 over every entry, each prefixed by its 4-byte length so that no two
 * different chains concatenate to the same input. */
static ps_err_t chain_hash(const ps_buf_t *certs, size_t count, uint8_t out[X5C_SHA256_BYTES])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int out_len = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

    for (size_t i = 0; ok && i < count; i++) {
        uint8_t len_be[4] = {(uint8_t)(certs[i].len >> 24), (uint8_t)(certs[i].len >> 16),
                             (uint8_t)(certs[i].len >> 8), (uint8_t)certs[i].len};

        ok = EVP_DigestUpdate(ctx, len_be, sizeof(len_be)) == 1 &&
             EVP_DigestUpdate(ctx, certs[i].data, certs[i].len) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out, &out_len) == 1 && out_len == X5C_SHA256_BYTES;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? PS_OK : PS_ERR_CRYPTO;
}

/* Seconds since the epoch of an ASN1_TIME, without the process time zone. */
static bool asn1_time_seconds(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    *out = ps_time_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) *
               86400 +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return true;
}

/* Cache lookup: on a hit fills leaf_out with a new key reference, a copy of
 * the prepared verification context (a copy costs less than preparing one:
 * no algorithm fetch; the read lock lets threads copy at once), the leaf
 * hash and the validity window. */
static bool cache_get(cache_t *c, const uint8_t *hash, ingest_x5c_leaf_t *leaf_out)
{
    size_t set;
    bool hit = false;

    if (c->entries == NULL)
        return false;
    memcpy(&set, hash, sizeof(set));
    set %= c->set_count;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t w = 0; w < X5C_CACHE_WAYS && !hit; w++) {
        cache_entry_t *e = &c->entries[set * X5C_CACHE_WAYS + w];

        if (e->used && memcmp(e->chain_sha256, hash, X5C_SHA256_BYTES) == 0) {
            EVP_PKEY_up_ref(e->key);
            leaf_out->key = e->key;
            leaf_out->verify_ctx = e->verify_proto != NULL ? EVP_MD_CTX_new() : NULL;
            if (leaf_out->verify_ctx != NULL &&
                EVP_MD_CTX_copy_ex(leaf_out->verify_ctx, e->verify_proto) != 1) {
                EVP_MD_CTX_free(leaf_out->verify_ctx); /* verified with the key instead */
                leaf_out->verify_ctx = NULL;
                ERR_clear_error();
            }
            memcpy(leaf_out->sha256_hex, e->leaf_hex, INGEST_X5C_HEX_BYTES);
            leaf_out->not_before_s = e->not_before_s;
            leaf_out->not_after_s = e->not_after_s;
            hit = true;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return hit;
}

static void cache_put(cache_t *c, const uint8_t *hash, const ingest_x5c_leaf_t *leaf)
{
    cache_entry_t *e = NULL;
    EVP_MD_CTX *proto;
    size_t set;

    if (c->entries == NULL)
        return;
    proto = ingest_jws_es256_prepare(leaf->key); /* before the lock: it fetches algorithms */
    if (proto == NULL)
        ERR_clear_error();
    memcpy(&set, hash, sizeof(set));
    set %= c->set_count;
    pthread_rwlock_wrlock(&c->lock);
    for (size_t w = 0; w < X5C_CACHE_WAYS && e == NULL; w++) {
        cache_entry_t *slot = &c->entries[set * X5C_CACHE_WAYS + w];

        /* Another thread may have validated the same chain meanwhile. */
        if (!slot->used || memcmp(slot->chain_sha256, hash, X5C_SHA256_BYTES) == 0)
            e = slot;
    }
    if (e == NULL) {
        e = &c->entries[set * X5C_CACHE_WAYS + c->victims[set]];
        c->victims[set] = (c->victims[set] + 1) % X5C_CACHE_WAYS;
    }
    EVP_MD_CTX_free(e->verify_proto);
    e->verify_proto = proto;
    proto = NULL;
    EVP_PKEY_free(e->key);
    EVP_PKEY_up_ref(leaf->key);
    e->key = leaf->key;
    e->used = true;
    memcpy(e->chain_sha256, hash, X5C_SHA256_BYTES);
    memcpy(e->leaf_hex, leaf->sha256_hex, INGEST_X5C_HEX_BYTES);
    e->not_before_s = leaf->not_before_s;
    e->not_after_s = leaf->not_after_s;
    pthread_rwlock_unlock(&c->lock);
}

static ps_err_t parse_chain(const ps_buf_t *certs, chain_t *c, const char **label_out,
                            char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < PS_X5C_CHAIN_CERTS; i++) {
        const unsigned char *p = certs[i].data;

        c->certs[i] = certs[i].len > 0 ? d2i_X509(NULL, &p, (long)certs[i].len) : NULL;
        if (c->certs[i] == NULL || p != certs[i].data + certs[i].len) {
            ERR_clear_error();
            *label_out = "bad_certificate";
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "x5c[%zu] is not one der certificate", i);
        }
    }
    return PS_OK;
}

/* Runs OpenSSL's path validation; on success *path_out is the built chain (owned). */
static ps_err_t openssl_verify(ingest_x5c_t *x, chain_t *c, int64_t at_s,
                               STACK_OF(X509) **path_out, const char **label_out,
                               char *errstr, size_t errstr_size)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_VERIFY_PARAM *param;
    ps_err_t err = PS_ERR_CRYPTO;
    int code;

    *label_out = "untrusted_chain";
    /* x5c[2] is deliberately left out: the anchor is the configured root. */
    if (ctx == NULL || untrusted == NULL || sk_X509_push(untrusted, c->certs[1]) <= 0 ||
        X509_STORE_CTX_init(ctx, x->store, c->certs[0], untrusted) != 1) {
        ps_errstr_set(errstr, errstr_size, err, "could not start certificate validation");
        goto out;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)at_s);
    if (x->strict)
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (X509_verify_cert(ctx) != 1) {
        code = X509_STORE_CTX_get_error(ctx);
        if (code == X509_V_ERR_CERT_HAS_EXPIRED || code == X509_V_ERR_CERT_NOT_YET_VALID)
            *label_out = "expired_certificate";
        ps_errstr_set(errstr, errstr_size, err,
                      "x5c chain does not verify at %lld: %s (certificate depth %d)",
                      (long long)at_s, X509_verify_cert_error_string(code),
                      X509_STORE_CTX_get_error_depth(ctx));
        goto out;
    }
    *path_out = X509_STORE_CTX_get1_chain(ctx);
    err = *path_out != NULL ? PS_OK : PS_ERR_CRYPTO;
    if (err != PS_OK)
        ps_errstr_set(errstr, errstr_size, err, "could not read the validated chain");
out:
    ERR_clear_error();
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    return err;
}

/* The validated path must be exactly leaf -> x5c[1] -> trusted root, with the
 * Apple OIDs and a P-256 leaf key; fills the window and the key. */
static ps_err_t check_path(ingest_x5c_t *x, chain_t *c, STACK_OF(X509) *path,
                           ingest_x5c_leaf_t *leaf, const char **label_out, char *errstr, size_t errstr_size)
{
    char group[32] = "";

    *label_out = "bad_chain";
    if (sk_X509_num(path) != PS_X5C_CHAIN_CERTS || X509_cmp(sk_X509_value(path, 1), c->certs[1]))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "x5c path has %d certificates or skips x5c[1], expected leaf, "
                             "intermediate, trusted root",
                             sk_X509_num(path));
    *label_out = "bad_apple_oid";
    if (X509_get_ext_by_OBJ(c->certs[1], x->oid_intermediate, -1) < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "x5c intermediate lacks apple extension " X5C_OID_INTERMEDIATE);
    if (X509_get_ext_by_OBJ(c->certs[0], x->oid_leaf, -1) < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "x5c leaf lacks apple extension " X5C_OID_LEAF);
    leaf->not_before_s = INT64_MIN;
    leaf->not_after_s = INT64_MAX;
    for (int i = 0; i < PS_X5C_CHAIN_CERTS; i++) {
        int64_t b, a;
        X509 *cert = sk_X509_value(path, i);

        *label_out = "bad_certificate";
        if (!asn1_time_seconds(X509_get0_notBefore(cert), &b) ||
            !asn1_time_seconds(X509_get0_notAfter(cert), &a))
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                                 "certificate %d of the path has an unreadable validity", i);
        leaf->not_before_s = b > leaf->not_before_s ? b : leaf->not_before_s;
        leaf->not_after_s = a < leaf->not_after_s ? a : leaf->not_after_s;
    }
    leaf->key = X509_get_pubkey(c->certs[0]);
    if (leaf->key == NULL || !EVP_PKEY_is_a(leaf->key, "EC") ||
        EVP_PKEY_get_group_name(leaf->key, group, sizeof(group), NULL) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        ERR_clear_error();
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                             "x5c leaf key is not an ec p-256 key (\"%s\")", group);
    }
    return PS_OK;
}

static ps_err_t validate_full(ingest_x5c_t *x, const ps_buf_t *certs, int64_t at_s,
                              ingest_x5c_leaf_t *leaf, const char **label_out, char *errstr, size_t errstr_size)
{
    chain_t c = {{NULL}};
    STACK_OF(X509) *path = NULL;
    ps_err_t err;

    err = parse_chain(certs, &c, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    atomic_fetch_add(&x->validations, 1);
    err = openssl_verify(x, &c, at_s, &path, label_out, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    err = check_path(x, &c, path, leaf, label_out, errstr, errstr_size);
out:
    if (err != PS_OK)
        ingest_x5c_leaf_deinit(leaf);
    sk_X509_pop_free(path, X509_free);
    chain_free(&c);
    return err;
}

ps_err_t ingest_x5c_check_time(const ingest_x5c_leaf_t *leaf, int64_t at_s,
                               const char **label_out, char *errstr, size_t errstr_size)
{
    if (at_s >= leaf->not_before_s && at_s <= leaf->not_after_s)
        return PS_OK;
    *label_out = "expired_certificate";
    return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO,
                         "x5c chain is not valid at %lld (valid from %lld to %lld)",
                         (long long)at_s, (long long)leaf->not_before_s,
                         (long long)leaf->not_after_s);
}

ps_err_t ingest_x5c_verify(ingest_x5c_t *x, const ps_buf_t *certs, size_t count, int64_t at_s,
                           ingest_x5c_leaf_t *leaf_out, const char **label_out, char *errstr,
                           size_t errstr_size)
{
    uint8_t hash[X5C_SHA256_BYTES], leaf_sha[X5C_SHA256_BYTES];
    ps_err_t err;

    memset(leaf_out, 0, sizeof(*leaf_out));
    *label_out = "bad_chain";
    if (count != PS_X5C_CHAIN_CERTS)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "x5c has %zu certificates, expected %d", count, PS_X5C_CHAIN_CERTS);
    *label_out = "internal";
    if (chain_hash(certs, count, hash) != PS_OK)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not hash x5c chain");
    if (cache_get(&x->chains, hash, leaf_out)) {
        atomic_fetch_add(&x->hits, 1);
    } else {
        err = validate_full(x, certs, at_s, leaf_out, label_out, errstr, errstr_size);
        if (err != PS_OK)
            return err;
        if (EVP_Digest(certs[0].data, certs[0].len, leaf_sha, NULL, EVP_sha256(), NULL) != 1) {
            ingest_x5c_leaf_deinit(leaf_out);
            ERR_clear_error();
            *label_out = "internal";
            return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not hash x5c leaf");
        }
        to_hex(leaf_sha, sizeof(leaf_sha), leaf_out->sha256_hex);
        cache_put(&x->chains, hash, leaf_out);
    }
    /* The same check OpenSSL made, repeated so that it binds cached chains too. */
    err = ingest_x5c_check_time(leaf_out, at_s, label_out, errstr, errstr_size);
    if (err != PS_OK)
        ingest_x5c_leaf_deinit(leaf_out);
    return err;
}

bool ingest_x5c_alias_get(ingest_x5c_t *x, const uint8_t alias[INGEST_X5C_ALIAS_BYTES],
                          ingest_x5c_leaf_t *leaf_out)
{
    memset(leaf_out, 0, sizeof(*leaf_out));
    if (!cache_get(&x->aliases, alias, leaf_out))
        return false;
    atomic_fetch_add(&x->hits, 1);
    return true;
}

void ingest_x5c_alias_put(ingest_x5c_t *x, const uint8_t alias[INGEST_X5C_ALIAS_BYTES],
                          const ingest_x5c_leaf_t *leaf)
{
    PS_ASSERT(leaf->key != NULL);
    cache_put(&x->aliases, alias, leaf);
}
