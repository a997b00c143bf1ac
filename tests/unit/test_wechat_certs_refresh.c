/*
 * WeChat platform-certificate refresh against a simulated GET
 * /v3/certificates on 127.0.0.1 (sim_wechat_cert_server, libmicrohttpd on an
 * ephemeral port, in this process): the first download at start-up, the
 * merchant Authorization checked by the server, the response signature
 * checked by the verifier (bootstrap from the downloaded certificates or
 * from a known one), an unknown serial triggering one asynchronous,
 * rate-limited download while the callback is rejected, rotation keeping old
 * and new certificates, expired ones dropped, a failed download leaving the
 * store unchanged, and the scheduled refresh.
 */
#include "test_wechat_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NOW_REAL ((int64_t)time(NULL))
#define WAIT_MS_MAX 10000

static EVP_PKEY *merchant, *key_a, *key_b, *key_c, *key_e, *stranger;
static X509 *cert_a, *cert_b, *cert_c, *cert_e;
static sim_wechat_cert_server_t *server;
static char url[128];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ingest_wechat_t *refreshing_verifier(EVP_PKEY *merchant_key, const char *refresh_url,
                                            const char *interval_s)
{
    char err[PS_ERRSTR_SIZE] = "", url_set[256], key_set[TW_PATH_MAX + 64], iv[64];
    ingest_wechat_t *v = NULL;
    ps_buf_t pem;

    ps_buf_init(&pem, 64 * 1024);
    sim_wechat_pem_private_key(merchant_key, &pem);
    snprintf(url_set, sizeof(url_set), "wechat.cert_refresh_url=%s", refresh_url);
    snprintf(key_set, sizeof(key_set), "wechat.merchant_private_key_file=%s",
             tw_write("merchant.key", pem.data, pem.len));
    snprintf(iv, sizeof(iv), "wechat.cert_refresh_interval_s=%s", interval_s);
    const char *settings[] = {url_set, key_set, iv, "wechat.merchant_serial=MERCHANT01",
                              "wechat.mch_id=" TW_MCH_ID, "wechat.cert_refresh_min_interval_s=30",
                              "wechat.cert_refresh_timeout_ms=5000", NULL};
    if (tw_verifier(TW_APIV3_KEY, settings, &v, err, sizeof(err)) != PS_OK)
        fprintf(stderr, "verifier: %s\n", err);
    ps_buf_deinit(&pem);
    return v;
}

/* Verifies a payment signed by key under serial at the real clock. */
static void verify_signed(ingest_wechat_t *v, EVP_PKEY *key, const char *serial,
                          ingest_result_t *res)
{
    char err[PS_ERRSTR_SIZE] = "";
    sim_wechat_keys_t keys = {.sign_key = key, .serial = serial};
    sim_wechat_params_t p = {.event_id = "EV-R", .mch_id = TW_MCH_ID, .out_trade_no = "O-R",
                             .transaction_id = "T-R", .amount_total = 600, .account_id = "9",
                             .event_time_s = NOW_REAL, .timestamp_s = NOW_REAL};
    sim_request_t r;

    memcpy(keys.apiv3_key, TW_APIV3_KEY, 32);
    sim_request_init(&r);
    CHECK_INT(sim_wechat_build(&keys, &p, &r, err, sizeof(err)), PS_OK);
    tw_verify_sim(v, &r, NOW_REAL, res);
    sim_request_deinit(&r);
}

static bool wait_ready(ingest_wechat_t *v)
{
    for (int ms = 0; ms < WAIT_MS_MAX; ms += 20) {
        if (ingest_wechat_ready(v))
            return true;
        sleep_ms(20);
    }
    return false;
}

static size_t store_count(ingest_wechat_t *v)
{
    ingest_wechat_snapshot_t *snap = ingest_wechat_certs_acquire(ingest_wechat_store(v));
    size_t n = ingest_wechat_snapshot_count(snap);

    ingest_wechat_certs_release(snap);
    return n;
}

static bool store_has(ingest_wechat_t *v, const char *id)
{
    ingest_wechat_snapshot_t *snap = ingest_wechat_certs_acquire(ingest_wechat_store(v));
    bool has = ingest_wechat_snapshot_find(snap, id) != NULL;

    ingest_wechat_certs_release(snap);
    return has;
}

/* Start-up download, unknown serial, rate limit, rotation, expiry, failure. */
static void test_refresh_lifecycle(void)
{
    ingest_wechat_t *v = refreshing_verifier(merchant, url, "3600");
    ingest_result_t res;
    char err[PS_ERRSTR_SIZE] = "";
    unsigned before;
    uint64_t ok = 0, failed = 0;
    bool accepted = false;

    REQUIRE(v != NULL);
    REQUIRE(wait_ready(v));
    CHECK(sim_wechat_cert_server_requests(server) >= 1);
    CHECK_INT(sim_wechat_cert_server_auth_failures(server), 0);
    CHECK_INT(store_count(v), 2);
    verify_signed(v, key_b, "BBBB0002", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    CHECK_STR(res.ev.key_id, "BBBB0002");
    ingest_result_deinit(&res);

    /* C appears on the server: the first callback is rejected at once and
     * asks for a download; a retry (as WeChat's) is accepted. */
    X509 *abc[] = {cert_a, cert_b, cert_c};
    sim_wechat_cert_server_set_certs(server, abc, 3);
    before = sim_wechat_cert_server_requests(server);
    verify_signed(v, key_c, "CCCC0003", &res);
    CHECK_REJECT(res, "unknown_serial");
    for (int ms = 0; ms < WAIT_MS_MAX && !accepted; ms += 20) {
        sleep_ms(20);
        verify_signed(v, key_c, "CCCC0003", &res);
        accepted = res.verdict == INGEST_ACCEPT;
        ingest_result_deinit(&res);
    }
    CHECK(accepted);
    CHECK_INT(sim_wechat_cert_server_requests(server), before + 1);

    /* Within the minimum interval unknown serials trigger nothing more. */
    for (int i = 0; i < 5; i++) {
        verify_signed(v, key_e, "DDDD0004", &res);
        CHECK_REJECT(res, "unknown_serial");
    }
    CHECK(!ingest_wechat_certs_request_refresh(ingest_wechat_store(v)));
    sleep_ms(300);
    CHECK_INT(sim_wechat_cert_server_requests(server), before + 1);

    /* Rotation: the server lists only C and an expired E; A and B are kept
     * (not expired), E is dropped. The response is signed with A, which is
     * no longer in the response: the stored A verifies it. */
    X509 *ce[] = {cert_c, cert_e};
    sim_wechat_cert_server_set_certs(server, ce, 2);
    CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)), PS_OK);
    CHECK(store_has(v, "AAAA0001") && store_has(v, "BBBB0002") && store_has(v, "CCCC0003"));
    CHECK(!store_has(v, "EEEE0005"));
    verify_signed(v, key_a, "AAAA0001", &res);
    CHECK_INT(res.verdict, INGEST_ACCEPT);
    ingest_result_deinit(&res);

    /* A forged response signature: refused, store unchanged. */
    sim_wechat_cert_server_set_corrupt(server, true);
    CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)),
              PS_ERR_CRYPTO);
    CHECK_CONTAINS(err, "signature");
    CHECK_INT(store_count(v), 3);
    sim_wechat_cert_server_set_corrupt(server, false);
    ingest_wechat_certs_stats(ingest_wechat_store(v), &ok, &failed);
    CHECK(ok >= 3);
    CHECK_INT(failed, 1);
    sim_wechat_cert_server_set_certs(server, abc, 2);
    ingest_wechat_destroy(v);
}

/* A merchant key the server does not know: 401, nothing loaded. */
static void test_bad_merchant_signature(void)
{
    ingest_wechat_t *v = refreshing_verifier(stranger, url, "3600");
    unsigned failures = sim_wechat_cert_server_auth_failures(server);
    char err[PS_ERRSTR_SIZE] = "";

    REQUIRE(v != NULL);
    CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)),
              PS_ERR_IO);
    CHECK_CONTAINS(err, "HTTP 401");
    CHECK(sim_wechat_cert_server_auth_failures(server) > failures);
    CHECK(!ingest_wechat_ready(v));
    ingest_wechat_destroy(v);
}

/* Nothing listening, and a server with another APIv3 key: clear errors. */
static void test_unreachable_and_wrong_key(void)
{
    static const uint8_t other_key[32] = "0123456789abcdef0123456789abcdef";
    sim_wechat_cert_server_config_t cfg = {.apiv3_key = other_key, .sign_key = key_a,
                                           .sign_serial = "AAAA0001"};
    sim_wechat_cert_server_t *srv = NULL;
    char err[PS_ERRSTR_SIZE] = "", other_url[128];
    ingest_wechat_t *v;
    X509 *a[] = {cert_a};

    REQUIRE(sim_wechat_cert_server_start(&cfg, a, 1, &srv, err, sizeof(err)) == PS_OK);
    sim_wechat_cert_server_url(srv, other_url, sizeof(other_url));
    v = refreshing_verifier(merchant, other_url, "3600");
    REQUIRE(v != NULL);
    CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)),
              PS_ERR_CRYPTO);
    CHECK_CONTAINS(err, "AES-GCM");
    ingest_wechat_destroy(v);
    sim_wechat_cert_server_stop(srv);
    v = refreshing_verifier(merchant, "http://127.0.0.1:1/v3/certificates", "3600");
    REQUIRE(v != NULL);
    CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)),
              PS_ERR_IO);
    CHECK_CONTAINS(err, "/v3/certificates");
    ingest_wechat_destroy(v);
}

/* The schedule: with a 1 s interval the refresher downloads repeatedly. */
static void test_scheduled_refresh(void)
{
    unsigned before = sim_wechat_cert_server_requests(server);
    ingest_wechat_t *v = refreshing_verifier(merchant, url, "1");

    REQUIRE(v != NULL);
    for (int ms = 0; ms < WAIT_MS_MAX && sim_wechat_cert_server_requests(server) < before + 3;
         ms += 50)
        sleep_ms(50);
    CHECK(sim_wechat_cert_server_requests(server) >= before + 3);
    ingest_wechat_destroy(v); /* joins the refresher promptly */
}

typedef struct reader {
    ingest_wechat_t *v;
    atomic_bool *stop;
    int accepted, other;
} reader_t;

static void *reader_main(void *opaque)
{
    reader_t *r = opaque;
    ingest_result_t res;

    while (!atomic_load(r->stop)) {
        verify_signed(r->v, key_b, "BBBB0002", &res);
        if (res.verdict == INGEST_ACCEPT)
            r->accepted++;
        else
            r->other++;
        ingest_result_deinit(&res);
    }
    return NULL;
}

/* Readers verify concurrently while refreshes swap snapshots under them:
 * every verification succeeds (ASan would catch a freed snapshot). */
static void test_concurrent_readers(void)
{
    ingest_wechat_t *v = refreshing_verifier(merchant, url, "3600");
    atomic_bool stop;
    reader_t readers[2];
    pthread_t threads[2];
    char err[PS_ERRSTR_SIZE] = "";

    REQUIRE(v != NULL && wait_ready(v));
    atomic_init(&stop, false);
    for (int i = 0; i < 2; i++) {
        readers[i] = (reader_t){.v = v, .stop = &stop};
        REQUIRE(pthread_create(&threads[i], NULL, reader_main, &readers[i]) == 0);
    }
    for (int i = 0; i < 5; i++)
        CHECK_INT(ingest_wechat_certs_refresh_now(ingest_wechat_store(v), err, sizeof(err)),
                  PS_OK);
    sleep_ms(100);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        CHECK(readers[i].accepted > 0);
        CHECK_INT(readers[i].other, 0);
    }
    ingest_wechat_destroy(v);
}

static bool setup(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    int64_t now = NOW_REAL;
    EVP_PKEY **keys[] = {&merchant, &key_a, &key_b, &key_c, &key_e, &stranger};
    X509 *ab[2];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (sim_wechat_key_generate(keys[i], err, sizeof(err)) != PS_OK)
            return false;
    if (sim_wechat_cert_generate(key_a, "AAAA0001", now - 86400, now + 86400 * 300, &cert_a, err,
                                 sizeof(err)) != PS_OK ||
        sim_wechat_cert_generate(key_b, "BBBB0002", now - 86400, now + 86400 * 900, &cert_b, err,
                                 sizeof(err)) != PS_OK ||
        sim_wechat_cert_generate(key_c, "CCCC0003", now - 86400, now + 86400 * 900, &cert_c, err,
                                 sizeof(err)) != PS_OK ||
        sim_wechat_cert_generate(key_e, "EEEE0005", now - 86400 * 900, now - 86400, &cert_e, err,
                                 sizeof(err)) != PS_OK)
        return false;
    sim_wechat_cert_server_config_t cfg = {.apiv3_key = (const uint8_t *)TW_APIV3_KEY,
                                           .sign_key = key_a,
                                           .sign_serial = "AAAA0001",
                                           .merchant_public_key = merchant,
                                           .mch_id = TW_MCH_ID};
    ab[0] = cert_a;
    ab[1] = cert_b;
    if (sim_wechat_cert_server_start(&cfg, ab, 2, &server, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    sim_wechat_cert_server_url(server, url, sizeof(url));
    return true;
}

int main(void)
{
    if (!setup()) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(test_refresh_lifecycle);
    RUN(test_bad_merchant_signature);
    RUN(test_unreachable_and_wrong_key);
    RUN(test_scheduled_refresh);
    RUN(test_concurrent_readers);
    sim_wechat_cert_server_stop(server);
    X509_free(cert_a);
    X509_free(cert_b);
    X509_free(cert_c);
    X509_free(cert_e);
    EVP_PKEY *keys[] = {merchant, key_a, key_b, key_c, key_e, stranger};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    tw_cleanup();
    return test_summary();
}
