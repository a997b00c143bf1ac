/*
 * Bill fetchers against the simulated channel endpoints on 127.0.0.1: the
 * WeChat signed query, its signed answer, download (plain and gzip) and SHA-1
 * check, the Alipay
 * signed query with its response signature and the zip download; and the
 * failures: wrong hash, 404/500, unknown date, wrong keys on either side,
 * oversized bodies, bad dates. Also the conformance vector R1: our
 * Authorization header reproduces the published one byte for byte.
 */
#include "fetch.h"
#include "sim_bills.h"
#include "test.h"
#include "test_statement_common.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <paystream/assert.h>

#define DATE "2023-11-15"

static char errbuf[PS_ERRSTR_SIZE];
static EVP_PKEY *merchant_key, *app_key, *alipay_key, *platform_key;
static sim_bills_server_t *server;
static uint8_t *wechat_csv, *alipay_zip;
static size_t wechat_csv_len, alipay_zip_len;

static char *pem_of(EVP_PKEY *k, bool priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PS_ASSERT(priv ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1
                   : PEM_write_bio_PUBKEY(bio, k) == 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = ps_strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static recon_wechat_fetch_t wechat_opts(EVP_PKEY *key, bool gzip)
{
    recon_wechat_fetch_t f = {.base_url = sim_bills_server_url(server),
                              .mch_id = "1230000109",
                              .merchant_serial = "F5765756002FDD77",
                              .merchant_key = key,
                              .platform_key = platform_key,
                              .gzip = gzip,
                              .timeout_ms = 10000,
                              .bytes_max = 1024 * 1024};
    return f;
}

static recon_alipay_fetch_t alipay_opts(EVP_PKEY *app, EVP_PKEY *ali)
{
    static char url[128];
    snprintf(url, sizeof(url), "%s/gateway.do", sim_bills_server_url(server));
    recon_alipay_fetch_t f = {.gateway_url = url, .app_id = "2021000000000001", .app_key = app,
                              .alipay_key = ali, .timeout_ms = 10000, .bytes_max = 1024 * 1024};
    return f;
}

/* Goal: conformance R1: the Authorization header for GET /v3/certificates is reproduced. */
static void test_r1_authorization(void)
{
    size_t len;
    char *r1 = (char *)stmt_read("wechat_R1_request_sign.txt", &len);
    REQUIRE(r1 != NULL);
    const char *want = strstr(r1, "Authorization: ");
    REQUIRE(want != NULL);
    want += strlen("Authorization: ");
    ps_buf_t got;
    ps_buf_init(&got, 4096);
    CHECK_INT(recon_fetch_wechat_authorization(merchant_key, "1234567890", "F5765756002FDD77",
                                               "GET", "/v3/certificates", 1624523846,
                                               "A1B2C3D4E5F6G7", NULL, 0, &got, errbuf,
                                               sizeof(errbuf)),
              PS_OK);
    size_t want_len = strcspn(want, "\r\n");
    CHECK_INT(got.len, want_len);
    CHECK(got.len == want_len && memcmp(got.data, want, want_len) == 0);
    ps_buf_deinit(&got);
    ps_free(r1);
}

/* Goal: the plain and gzip WeChat bills arrive intact, hash-checked, and parse. */
static void test_wechat_fetch(void)
{
    ps_buf_t out;
    recon_stmt_meta_t meta;
    long long rows = 0;
    ps_buf_init(&out, 1024 * 1024);
    recon_wechat_fetch_t f = wechat_opts(merchant_key, false);
    errbuf[0] = '\0';
    CHECK_INT(recon_fetch_wechat_bill(&f, DATE, &out, errbuf, sizeof(errbuf)), PS_OK);
    CHECK_STR(errbuf[0] ? errbuf : "", "");
    CHECK(out.len == wechat_csv_len && memcmp(out.data, wechat_csv, out.len) == 0);
    ps_buf_reset(&out);
    f.gzip = true;
    CHECK_INT(recon_fetch_wechat_bill(&f, DATE, &out, errbuf, sizeof(errbuf)), PS_OK);
    CHECK(recon_statement_is_gzip(out.data, out.len));
    CHECK_INT(recon_statement_parse(RECON_FMT_WECHAT, out.data, out.len, NULL, stmt_count, &rows,
                                    &meta, errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_INT(rows, 2);
    CHECK_INT(sim_bills_server_rejected(server), 0);
    ps_buf_deinit(&out);
}

/* Fetches with a fault set and checks the error; out must stay empty. */
static void wechat_fails(sim_bills_fault_t fault, EVP_PKEY *key, const char *date, ps_err_t code,
                         const char *why)
{
    ps_buf_t out;
    ps_buf_init(&out, 1024 * 1024);
    recon_wechat_fetch_t f = wechat_opts(key, fault == SIM_BILLS_WRONG_HASH);
    sim_bills_server_set_fault(server, fault);
    CHECK_INT(recon_fetch_wechat_bill(&f, date, &out, errbuf, sizeof(errbuf)), code);
    CHECK_CONTAINS(errbuf, why);
    CHECK_INT(out.len, 0);
    sim_bills_server_set_fault(server, SIM_BILLS_OK);
    ps_buf_deinit(&out);
}

/* Goal: a wrong hash, 404/500, an unknown date and a bad signature are errors. */
static void test_wechat_failures(void)
{
    wechat_fails(SIM_BILLS_WRONG_HASH, merchant_key, DATE, PS_ERR_INVALID,
                 "wechat bill failed its hash check: SHA-1 is e7165ebccfa54ea433c60c5db3b330dd797e6215");
    wechat_fails(SIM_BILLS_QUERY_404, merchant_key, DATE, PS_ERR_IO,
                 "could not query wechat bill of 2023-11-15: ");
    wechat_fails(SIM_BILLS_QUERY_404, merchant_key, DATE, PS_ERR_IO, "answered HTTP 404");
    wechat_fails(SIM_BILLS_QUERY_500, merchant_key, DATE, PS_ERR_IO, "answered HTTP 500");
    wechat_fails(SIM_BILLS_DOWNLOAD_404, merchant_key, DATE, PS_ERR_IO,
                 "could not download wechat bill of 2023-11-15");
    wechat_fails(SIM_BILLS_OK, merchant_key, "2023-11-14", PS_ERR_IO,
                 "answered HTTP 400: {\"code\":\"NO_STATEMENT_EXIST\"");
    int before = sim_bills_server_rejected(server);
    wechat_fails(SIM_BILLS_OK, app_key, DATE, PS_ERR_IO, "answered HTTP 401");
    CHECK_INT(sim_bills_server_rejected(server), before + 1);
    wechat_fails(SIM_BILLS_OK, merchant_key, "2023-13-01", PS_ERR_INVALID, "invalid bill date");
    wechat_fails(SIM_BILLS_BAD_RESPONSE_SIGN, merchant_key, DATE, PS_ERR_CRYPTO,
                 "wechat bill query answer: signature does not verify");
    /* Verifying the answer with another key than the platform's fails too. */
    EVP_PKEY *saved = platform_key;
    platform_key = app_key;
    wechat_fails(SIM_BILLS_OK, merchant_key, DATE, PS_ERR_CRYPTO, "signature does not verify");
    platform_key = saved;
    /* The bill is larger than the bound. */
    ps_buf_t out;
    ps_buf_init(&out, 1024);
    recon_wechat_fetch_t f = wechat_opts(merchant_key, false);
    f.bytes_max = 100;
    CHECK_INT(recon_fetch_wechat_bill(&f, DATE, &out, errbuf, sizeof(errbuf)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "exceeds 100 bytes");
    ps_buf_deinit(&out);
}

/* Goal: the Alipay zip arrives intact after a verified query, and parses. */
static void test_alipay_fetch(void)
{
    ps_buf_t out;
    long long rows = 0;
    recon_stmt_meta_t meta;
    ps_buf_init(&out, 1024 * 1024);
    recon_alipay_fetch_t f = alipay_opts(app_key, alipay_key);
    errbuf[0] = '\0';
    CHECK_INT(recon_fetch_alipay_bill(&f, DATE, &out, errbuf, sizeof(errbuf)), PS_OK);
    CHECK_STR(errbuf[0] ? errbuf : "", "");
    CHECK(out.len == alipay_zip_len && memcmp(out.data, alipay_zip, out.len) == 0);
    CHECK_INT(recon_statement_parse(RECON_FMT_ALIPAY, out.data, out.len, NULL, stmt_count, &rows,
                                    &meta, errbuf, sizeof(errbuf)),
              PS_OK);
    CHECK_INT(rows, 2);
    ps_buf_deinit(&out);
}

static void alipay_fails(sim_bills_fault_t fault, EVP_PKEY *app, EVP_PKEY *ali, const char *date,
                         ps_err_t code, const char *why)
{
    ps_buf_t out;
    ps_buf_init(&out, 1024 * 1024);
    recon_alipay_fetch_t f = alipay_opts(app, ali);
    sim_bills_server_set_fault(server, fault);
    CHECK_INT(recon_fetch_alipay_bill(&f, date, &out, errbuf, sizeof(errbuf)), code);
    CHECK_CONTAINS(errbuf, why);
    CHECK_INT(out.len, 0);
    sim_bills_server_set_fault(server, SIM_BILLS_OK);
    ps_buf_deinit(&out);
}

/* Goal: a forged answer, refused queries, 404/500 and unknown dates are errors. */
static void test_alipay_failures(void)
{
    alipay_fails(SIM_BILLS_BAD_RESPONSE_SIGN, app_key, alipay_key, DATE, PS_ERR_CRYPTO,
                 "alipay answer signature: signature does not verify");
    /* Verifying with the wrong Alipay key fails the same way. */
    alipay_fails(SIM_BILLS_OK, app_key, merchant_key, DATE, PS_ERR_CRYPTO,
                 "signature does not verify");
    int before = sim_bills_server_rejected(server);
    alipay_fails(SIM_BILLS_OK, merchant_key, alipay_key, DATE, PS_ERR_INVALID,
                 "alipay refused the bill query: code \"40002\"");
    CHECK_INT(sim_bills_server_rejected(server), before + 1);
    alipay_fails(SIM_BILLS_OK, app_key, alipay_key, "2023-11-14", PS_ERR_INVALID,
                 "sub_code \"isp.bill_not_exist\"");
    alipay_fails(SIM_BILLS_QUERY_500, app_key, alipay_key, DATE, PS_ERR_IO, "answered HTTP 500");
    alipay_fails(SIM_BILLS_QUERY_404, app_key, alipay_key, DATE, PS_ERR_IO, "answered HTTP 404");
    alipay_fails(SIM_BILLS_DOWNLOAD_404, app_key, alipay_key, DATE, PS_ERR_IO,
                 "could not download alipay bill of 2023-11-15");
}

/* Goal: the loaders refuse non-keys and accept a certificate as public key. */
static void test_key_loading(void)
{
    EVP_PKEY *k = NULL;
    const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    CHECK_INT(recon_fetch_load_private_key((const uint8_t *)junk, strlen(junk), &k, errbuf,
                                           sizeof(errbuf)),
              PS_ERR_CRYPTO);
    CHECK_CONTAINS(errbuf, "could not load private key");
    CHECK_INT(recon_fetch_load_public_key((const uint8_t *)"x", 1, &k, errbuf, sizeof(errbuf)),
              PS_ERR_CRYPTO);
    char *pub = pem_of(app_key, false);
    CHECK_INT(recon_fetch_load_public_key((const uint8_t *)pub, strlen(pub), &k, errbuf,
                                          sizeof(errbuf)),
              PS_OK);
    EVP_PKEY_free(k);
    ps_free(pub);
}

int main(void)
{
    size_t len;
    char *pem = (char *)stmt_read("wechat_test_private_key_F5765756002FDD77.pem", &len);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    PS_ASSERT(pem != NULL && recon_fetch_load_private_key((uint8_t *)pem, len, &merchant_key,
                                                          errbuf, sizeof(errbuf)) == PS_OK);
    app_key = EVP_RSA_gen(2048);
    alipay_key = EVP_RSA_gen(2048);
    platform_key = EVP_RSA_gen(2048);
    PS_ASSERT(app_key != NULL && alipay_key != NULL && platform_key != NULL);
    char *merchant_pub = pem_of(merchant_key, false), *app_pub = pem_of(app_key, false);
    char *alipay_priv = pem_of(alipay_key, true), *platform_priv = pem_of(platform_key, true);
    sim_bills_server_params_t sp = {.wechat_mch_id = "1230000109",
                                    .merchant_cert_pem = merchant_pub,
                                    .alipay_app_id = "2021000000000001",
                                    .app_public_key_pem = app_pub,
                                    .alipay_private_key_pem = alipay_priv,
                                    .platform_private_key_pem = platform_priv};
    PS_ASSERT(sim_bills_server_start(&sp, &server, errbuf, sizeof(errbuf)) == PS_OK);
    wechat_csv = stmt_read("wechat_B1_ALL_2023-11-15.csv", &wechat_csv_len);
    alipay_zip = stmt_read("alipay_B1_2088000000000001_20231115.csv.zip", &alipay_zip_len);
    PS_ASSERT(wechat_csv != NULL && alipay_zip != NULL);
    sim_bills_server_set_wechat_bill(server, DATE, wechat_csv, wechat_csv_len);
    sim_bills_server_set_alipay_bill(server, DATE, alipay_zip, alipay_zip_len);

    RUN(test_r1_authorization);
    RUN(test_wechat_fetch);
    RUN(test_wechat_failures);
    RUN(test_alipay_fetch);
    RUN(test_alipay_failures);
    RUN(test_key_loading);

    sim_bills_server_stop(server);
    EVP_PKEY_free(merchant_key);
    EVP_PKEY_free(app_key);
    EVP_PKEY_free(alipay_key);
    EVP_PKEY_free(platform_key);
    ps_free(platform_priv);
    ps_free(pem);
    ps_free(merchant_pub);
    ps_free(app_pub);
    ps_free(alipay_priv);
    ps_free(wechat_csv);
    ps_free(alipay_zip);
    curl_global_cleanup();
    return test_summary();
}
