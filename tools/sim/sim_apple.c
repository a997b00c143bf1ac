/*
 * Apple notification simulator (see sim_apple.h): generates an Apple-shaped
 * P-256 test CA chain with OpenSSL and signs notifications the way the App
 * Store does (compact JWS, ES256 raw r||s signature, standard-base64 DER
 * certificates in x5c, a nested signed transaction).
 */
#include "sim_apple.h"

#include "jws.h"

#include <paystream/base64.h>
#include <paystream/mem.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define SIM_APPLE_OID_INTERMEDIATE "1.2.840.113635.100.6.2.1"
#define SIM_APPLE_OID_LEAF "1.2.840.113635.100.6.11.1"
#define SIM_APPLE_DAY_S INT64_C(86400)
#define SIM_APPLE_CA_YEARS 20
/* Bounds on what the simulator builds: a header with three certificates and
 * a payload with a nested JWS fit with room to spare. */
#define SIM_APPLE_PART_BYTES_MAX (64 * 1024)
#define SIM_APPLE_DER_SIG_BYTES_MAX 80

/* What one certificate of the chain looks like. */
typedef struct cert_spec {
    const char *cn;
    long serial;
    int64_t not_before_s, not_after_s;
    const char *constraints; /* basicConstraints value */
    const char *key_usage;
    const char *apple_oid;   /* NULL: none */
} cert_spec_t;

static ps_err_t crypto_fail(char *errstr, size_t errstr_size, const char *what)
{
    char why[256];
    unsigned long e = ERR_get_error();

    ERR_error_string_n(e, why, sizeof(why));
    ERR_clear_error();
    return ps_errstr_set(errstr, errstr_size, PS_ERR_CRYPTO, "could not %s: %s", what,
                         e ? why : "unknown openssl error");
}

static bool add_conf_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok;
}

/* Apple's marker extensions hold an ASN.1 NULL; presence is what counts. */
static bool add_apple_ext(X509 *cert, const char *oid)
{
    static const unsigned char asn1_null[] = {0x05, 0x00};
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    bool ok = obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, asn1_null, 2) == 1 &&
              (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL &&
              X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok;
}

static bool set_names(X509 *cert, const char *cn, X509 *issuer)
{
    X509_NAME *name = X509_get_subject_name(cert);

    if (X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"paystream simulator", -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1)
        return false;
    return X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) == 1;
}

/* Makes one certificate for key, signed by issuer_key (issuer NULL: self-signed). */
static ps_err_t make_cert(const cert_spec_t *spec, EVP_PKEY *key, X509 *issuer,
                          EVP_PKEY *issuer_key, X509 **out, char *errstr, size_t errstr_size)
{
    X509 *cert = X509_new();
    X509V3_CTX ctx;
    bool ok;

    ok = cert != NULL && X509_set_version(cert, X509_VERSION_3) == 1 &&
         ASN1_INTEGER_set(X509_get_serialNumber(cert), spec->serial) == 1 &&
         set_names(cert, spec->cn, issuer) &&
         ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)spec->not_before_s) != NULL &&
         ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)spec->not_after_s) != NULL &&
         X509_set_pubkey(cert, key) == 1;
    if (ok) {
        X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
        ok = add_conf_ext(cert, &ctx, NID_basic_constraints, spec->constraints) &&
             add_conf_ext(cert, &ctx, NID_key_usage, spec->key_usage) &&
             add_conf_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
             add_conf_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") &&
             (spec->apple_oid == NULL || add_apple_ext(cert, spec->apple_oid)) &&
             X509_sign(cert, issuer_key, EVP_sha256()) > 0;
    }
    if (!ok) {
        X509_free(cert);
        return crypto_fail(errstr, errstr_size, "build simulated certificate");
    }
    *out = cert;
    return PS_OK;
}

ps_err_t sim_apple_keys_generate(int64_t leaf_not_before_s, int64_t leaf_not_after_s,
                                 sim_apple_keys_t *keys, char *errstr, size_t errstr_size)
{
    int64_t ca_from = leaf_not_before_s - SIM_APPLE_DAY_S;
    int64_t ca_to = leaf_not_before_s + SIM_APPLE_CA_YEARS * 365 * SIM_APPLE_DAY_S;
    const cert_spec_t root = {"Paystream Sim Apple Root CA", 1, ca_from, ca_to,
                              "critical,CA:TRUE", "critical,keyCertSign,cRLSign", NULL};
    const cert_spec_t inter = {"Paystream Sim Apple WWDR", 2, ca_from, ca_to,
                               "critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign",
                               SIM_APPLE_OID_INTERMEDIATE};
    const cert_spec_t leaf = {"Paystream Sim Apple Signing", 3, leaf_not_before_s,
                              leaf_not_after_s, "critical,CA:FALSE", "critical,digitalSignature",
                              SIM_APPLE_OID_LEAF};
    ps_err_t err;

    memset(keys, 0, sizeof(*keys));
    keys->root_key = EVP_EC_gen("P-256");
    keys->intermediate_key = EVP_EC_gen("P-256");
    keys->leaf_key = EVP_EC_gen("P-256");
    if (keys->root_key == NULL || keys->intermediate_key == NULL || keys->leaf_key == NULL) {
        err = crypto_fail(errstr, errstr_size, "generate p-256 keys");
        goto out;
    }
    err = make_cert(&root, keys->root_key, NULL, keys->root_key, &keys->root, errstr,
                    errstr_size);
    if (err == PS_OK)
        err = make_cert(&inter, keys->intermediate_key, keys->root, keys->root_key,
                        &keys->intermediate, errstr, errstr_size);
    if (err == PS_OK)
        err = make_cert(&leaf, keys->leaf_key, keys->intermediate, keys->intermediate_key,
                        &keys->leaf, errstr, errstr_size);
out:
    if (err != PS_OK)
        sim_apple_keys_deinit(keys);
    return err;
}

void sim_apple_keys_deinit(sim_apple_keys_t *keys)
{
    if (keys == NULL)
        return;
    X509_free(keys->leaf);
    X509_free(keys->intermediate);
    X509_free(keys->root);
    EVP_PKEY_free(keys->leaf_key);
    EVP_PKEY_free(keys->intermediate_key);
    EVP_PKEY_free(keys->root_key);
    memset(keys, 0, sizeof(*keys));
}

ps_err_t sim_apple_write_root(const sim_apple_keys_t *keys, const char *path, char *errstr,
                              size_t errstr_size)
{
    BIO *bio = BIO_new_file(path, "w");
    bool ok = bio != NULL && PEM_write_bio_X509(bio, keys->root) == 1;

    if (bio != NULL && BIO_free(bio) != 1)
        ok = false;
    ERR_clear_error();
    if (!ok)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not write simulated apple root to \"%s\"", path);
    return PS_OK;
}

/* Appends the standard-base64 DER of cert to a JSON array. */
static bool push_cert(json_t *x5c, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    ps_buf_t b64;
    bool ok;

    ps_buf_init(&b64, SIM_APPLE_PART_BYTES_MAX);
    ok = len > 0 && ps_base64_encode(der, (size_t)len, PS_BASE64_STD, &b64) == PS_OK &&
         json_array_append_new(x5c, json_string((const char *)b64.data)) == 0;
    OPENSSL_free(der);
    ps_buf_deinit(&b64);
    return ok;
}

/* Appends base64url(header) "." base64url(payload) to out. */
static ps_err_t signing_input(const sim_apple_keys_t *keys, const char *alg, const char *payload,
                              size_t len, ps_buf_t *out, char *errstr, size_t errstr_size)
{
    json_t *header = json_pack("{s:s,s:[]}", "alg", alg, "x5c");
    json_t *x5c = json_object_get(header, "x5c");
    char *text = NULL;
    ps_err_t err = PS_ERR_CRYPTO;

    if (header == NULL || !push_cert(x5c, keys->leaf) || !push_cert(x5c, keys->intermediate) ||
        !push_cert(x5c, keys->root) || (text = json_dumps(header, JSON_COMPACT)) == NULL) {
        ps_errstr_set(errstr, errstr_size, err, "could not build simulated jws header");
        goto out;
    }
    err = ps_base64_encode(text, strlen(text), PS_BASE64_URL, out);
    if (err == PS_OK)
        err = ps_buf_append_str(out, ".");
    if (err == PS_OK)
        err = ps_base64_encode(payload, len, PS_BASE64_URL, out);
    if (err != PS_OK)
        ps_errstr_set(errstr, errstr_size, err, "simulated jws exceeds its buffer");
out:
    free(text);
    json_decref(header);
    return err;
}

/* ES256 over input with key, as the raw r||s JWS wants it. */
static ps_err_t es256_sign(EVP_PKEY *key, const uint8_t *input, size_t len,
                           uint8_t raw[INGEST_JWS_ES256_SIG_BYTES], char *errstr,
                           size_t errstr_size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[SIM_APPLE_DER_SIG_BYTES_MAX];
    size_t der_len = sizeof(der);
    ps_err_t err;

    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, der, &der_len, input, len) != 1) {
        EVP_MD_CTX_free(ctx);
        return crypto_fail(errstr, errstr_size, "sign simulated jws");
    }
    EVP_MD_CTX_free(ctx);
    err = ingest_jws_sig_der_to_raw(der, der_len, raw, errstr, errstr_size);
    return err;
}

ps_err_t sim_apple_sign(const sim_apple_keys_t *keys, const char *payload, size_t len,
                        sim_apple_forgery_t forgery, ps_buf_t *out, char *errstr,
                        size_t errstr_size)
{
    const char *alg = forgery == SIM_APPLE_ALG_HS256 ? "HS256" : "ES256";
    uint8_t raw[INGEST_JWS_ES256_SIG_BYTES];
    EVP_PKEY *other = NULL, *key = keys->leaf_key;
    size_t start = out->len;
    ps_err_t err;

    if (forgery == SIM_APPLE_WRONG_KEY) {
        other = EVP_EC_gen("P-256");
        if (other == NULL)
            return crypto_fail(errstr, errstr_size, "generate a foreign p-256 key");
        key = other;
    }
    err = signing_input(keys, alg, payload, len, out, errstr, errstr_size);
    if (err == PS_OK)
        err = es256_sign(key, out->data + start, out->len - start, raw, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_buf_append_str(out, ".");
    if (err == PS_OK)
        err = ps_base64_encode(raw, sizeof(raw), PS_BASE64_URL, out);
    EVP_PKEY_free(other);
    return err;
}

void sim_apple_params_default(sim_apple_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->notification_type = "ONE_TIME_CHARGE";
    p->notification_uuid = "6f1d3a52-1111-4c0e-9a55-000000000001";
    p->signed_date_ms = INT64_C(1700000002000);
    p->bundle_id = "com.example";
    p->app_apple_id = 1234;
    p->environment = "Sandbox";
    p->with_transaction = true;
    p->transaction_id = "2000000456789012";
    p->original_transaction_id = "2000000456789012";
    p->product_id = "com.example.gems648";
    p->app_account_token = "7e3fb20b-4cdb-47cc-936d-99d65f608138";
    p->price_milli = 6480;
    p->currency = "CNY";
    p->purchase_date_ms = INT64_C(1700000000000);
}

json_t *sim_apple_transaction_json(const sim_apple_params_t *p)
{
    json_t *t = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:s}",
                          "transactionId", p->transaction_id, "originalTransactionId",
                          p->original_transaction_id, "bundleId", p->bundle_id, "productId",
                          p->product_id, "purchaseDate", (json_int_t)p->purchase_date_ms,
                          "originalPurchaseDate", (json_int_t)p->purchase_date_ms, "quantity", 1,
                          "type", "Consumable", "inAppOwnershipType", "PURCHASED", "signedDate",
                          (json_int_t)p->signed_date_ms, "environment", p->environment,
                          "transactionReason", "PURCHASE", "storefront", "CHN",
                          "storefrontId", "143465", "price", (json_int_t)p->price_milli,
                          "currency", p->currency);

    if (t != NULL && p->app_account_token != NULL)
        json_object_set_new(t, "appAccountToken", json_string(p->app_account_token));
    if (t != NULL && p->revocation_date_ms != 0) {
        json_object_set_new(t, "revocationDate", json_integer(p->revocation_date_ms));
        json_object_set_new(t, "revocationReason", json_integer(0));
    }
    return t;
}

json_t *sim_apple_notification_json(const sim_apple_params_t *p, const char *signed_txn)
{
    json_t *n = json_pack("{s:s,s:s,s:s,s:I,s:{s:I,s:s,s:s,s:s}}", "notificationType",
                          p->notification_type, "notificationUUID", p->notification_uuid,
                          "version", "2.0", "signedDate", (json_int_t)p->signed_date_ms, "data",
                          "appAppleId", (json_int_t)p->app_apple_id, "bundleId", p->bundle_id,
                          "bundleVersion", "1.0", "environment", p->environment);

    if (n != NULL && p->subtype != NULL)
        json_object_set_new(n, "subtype", json_string(p->subtype));
    if (n != NULL && signed_txn != NULL)
        json_object_set_new(json_object_get(n, "data"), "signedTransactionInfo",
                            json_string(signed_txn));
    return n;
}

ps_err_t sim_apple_request_from_jws(const char *jws, size_t len, sim_request_t *out,
                                    char *errstr, size_t errstr_size)
{
    json_t *body = json_pack("{s:s%}", "signedPayload", jws, len);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    ps_err_t err = PS_ERR_INVALID;

    memcpy(out->path, SIM_APPLE_PATH, sizeof(SIM_APPLE_PATH));
    ps_buf_reset(&out->body);
    if (text != NULL)
        err = ps_buf_append_str(&out->body, text);
    if (err == PS_OK && sim_request_header(out, "Content-Type") == NULL)
        err = sim_request_add_header(out, "Content-Type", "application/json");
    if (err != PS_OK)
        ps_errstr_set(errstr, errstr_size, err, "could not build simulated apple body");
    free(text);
    json_decref(body);
    return err;
}

/* Signs the JSON value j as a JWS into out. */
static ps_err_t sign_json(const sim_apple_keys_t *keys, json_t *j, sim_apple_forgery_t forgery,
                          ps_buf_t *out, char *errstr, size_t errstr_size)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    ps_err_t err;

    if (text == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "could not build simulated apple payload (missing parameter)");
    err = sim_apple_sign(keys, text, strlen(text), forgery, out, errstr, errstr_size);
    free(text);
    return err;
}

ps_err_t sim_apple_build(const sim_apple_keys_t *keys, const sim_apple_params_t *p,
                         sim_request_t *out, char *errstr, size_t errstr_size)
{
    json_t *txn = NULL, *notif = NULL;
    ps_buf_t txn_jws, jws;
    ps_err_t err = PS_OK;

    ps_buf_init(&txn_jws, SIM_APPLE_PART_BYTES_MAX);
    ps_buf_init(&jws, SIM_BODY_BYTES_MAX);
    if (p->with_transaction) {
        txn = sim_apple_transaction_json(p);
        err = sign_json(keys, txn,
                        p->forgery == SIM_APPLE_NESTED_WRONG_KEY ? SIM_APPLE_WRONG_KEY
                                                                 : SIM_APPLE_GENUINE,
                        &txn_jws, errstr, errstr_size);
    }
    if (err == PS_OK) {
        notif = sim_apple_notification_json(p, p->with_transaction ? (char *)txn_jws.data : NULL);
        err = sign_json(keys, notif,
                        p->forgery == SIM_APPLE_NESTED_WRONG_KEY ? SIM_APPLE_GENUINE : p->forgery,
                        &jws, errstr, errstr_size);
    }
    if (err == PS_OK)
        err = sim_apple_request_from_jws((const char *)jws.data, jws.len, out, errstr,
                                         errstr_size);
    json_decref(notif);
    json_decref(txn);
    ps_buf_deinit(&jws);
    ps_buf_deinit(&txn_jws);
    return err;
}
