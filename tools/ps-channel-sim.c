/*
 * ps-channel-sim: the channel simulator on the command line, over the
 * simulator library (tools/sim). It plays WeChat Pay, Alipay and Apple
 * against a running paystream-ingest:
 *
 *   ps-channel-sim keys --out DIR [--port P] [--brokers B] [--topic T]
 *       test keys and certificates for all three channels, and DIR/ingest.conf
 *       configuring an ingest to trust exactly them
 *   ps-channel-sim callbacks --keys DIR --out DIR --count N
 *                            [--duplicates PCT] [--forgeries PCT] [--tests PCT] [--seed S]
 *       N raw request files (payments and refunds of all three channels,
 *       PCT percent duplicates and forgeries, and of Apple's callbacks PCT
 *       percent TEST notifications, which ingest acknowledges without
 *       producing) and DIR/manifest.tsv: file, channel, accept|reject,
 *       payment|refund|test
 *   ps-channel-sim send --url URL --dir DIR [--concurrency C] [--attempts N]
 *                       [--backoff-ms MS]
 *       sends every request file the way a channel does: a transient failure
 *       (503, no connection, timeout) is retried with exponential backoff up
 *       to N attempts; prints accepted / rejected / retried counts and, with
 *       a manifest, how many answers contradict it
 *
 * Percentages are integers (no floating point in this code base). Exit
 * status: 0 done (for send: every request got a final answer and none
 * contradicts the manifest), 1 failure, 2 usage error.
 */
#include "sim_alipay.h"
#include "sim_apple.h"
#include "sim_wechat.h"

#include "answer.h"
#include "reqfile.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define PROG "ps-channel-sim"
#define PATH_BYTES_MAX 4096
#define SEND_THREADS_MAX 64
#define SEND_TIMEOUT_MS 30000
#define SIM_MCH_ID "1900000001"
#define SIM_APPID "wxd678efh567hg6787"
#define SIM_ALIPAY_APP_ID "2021000000000001"
#define SIM_APPLE_BUNDLE "com.example"
#define SIM_APPLE_APP_ID 1234

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct opts {
    const char *out, *keys, *dir, *url, *brokers, *topic;
    long long port, count, duplicates, forgeries, tests, seed, concurrency, attempts, backoff_ms;
} opts_t;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

/* ---- files ---- */

static void path_join(char *out, const char *dir, const char *name)
{
    snprintf(out, PATH_BYTES_MAX, "%s/%s", dir, name);
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_BYTES_MAX];
    FILE *f;

    path_join(path, dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        return fail("could not create \"%s\": %s", path, strerror(errno));
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
        return fail("could not write \"%s\"", path);
    return EXIT_OK;
}

static int write_buf(const char *dir, const char *name, const ps_buf_t *b)
{
    return write_file(dir, name, b->data != NULL ? (const void *)b->data : "", b->len);
}

/* Writes a PEM private key (cert NULL) or certificate into dir/name. */
static int write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert)
{
    ps_buf_t b;
    ps_err_t err;
    int rc;

    ps_buf_init(&b, 64 * 1024);
    err = cert != NULL ? sim_wechat_pem_cert(cert, &b) : sim_wechat_pem_private_key(key, &b);
    rc = err == PS_OK ? write_buf(dir, name, &b) : fail("could not encode %s", name);
    ps_buf_deinit(&b);
    return rc;
}

static EVP_PKEY *read_key(const char *dir, const char *name)
{
    char path[PATH_BYTES_MAX];
    EVP_PKEY *k = NULL;
    FILE *f;

    path_join(path, dir, name);
    f = fopen(path, "rb");
    if (f != NULL) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (k == NULL)
        fail("could not read private key \"%s\"", path);
    return k;
}

static X509 *read_cert(const char *dir, const char *name)
{
    char path[PATH_BYTES_MAX];
    X509 *c = NULL;
    FILE *f;

    path_join(path, dir, name);
    f = fopen(path, "rb");
    if (f != NULL) {
        c = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (c == NULL)
        fail("could not read certificate \"%s\"", path);
    return c;
}

/* Reads a small text file (an id or a key) without its line end. */
static int read_text(const char *dir, const char *name, char *out, size_t out_size)
{
    char path[PATH_BYTES_MAX];
    FILE *f;
    size_t n;

    path_join(path, dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return fail("could not open \"%s\": %s", path, strerror(errno));
    n = fread(out, 1, out_size - 1, f);
    fclose(f);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    return EXIT_OK;
}

/* ---- keys ---- */

static void random_alnum(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[64];

    PS_ASSERT(n <= sizeof(r));
    RAND_bytes(r, (int)n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    out[n] = '\0';
}

static int keys_wechat(const char *dir, int64_t now)
{
    char errstr[PS_ERRSTR_SIZE], apiv3[PS_WECHAT_APIV3_KEY_BYTES + 1], serial[41];
    uint8_t r[20];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = EXIT_FAIL;

    random_alnum(apiv3, PS_WECHAT_APIV3_KEY_BYTES);
    RAND_bytes(r, sizeof(r));
    r[0] &= 0x7f; /* a positive serial */
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(serial + 2 * i, 3, "%02X", r[i]);
    if (sim_wechat_key_generate(&key, errstr, sizeof(errstr)) != PS_OK ||
        sim_wechat_cert_generate(key, serial, now - 86400, now + 5 * 365 * 86400, &cert, errstr,
                                 sizeof(errstr)) != PS_OK) {
        fail("could not generate wechat keys: %s", errstr);
        goto out;
    }
    if (write_file(dir, "wechat_apiv3.key", apiv3, strlen(apiv3)) == EXIT_OK &&
        write_file(dir, "wechat_serial", serial, strlen(serial)) == EXIT_OK &&
        write_pem(dir, "wechat_platform_key.pem", key, NULL) == EXIT_OK &&
        write_pem(dir, "wechat_platform_cert.pem", NULL, cert) == EXIT_OK)
        rc = EXIT_OK;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

static int keys_alipay(const char *dir)
{
    char errstr[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];
    sim_alipay_keys_t k = {0};
    int rc = EXIT_FAIL;

    path_join(path, dir, "alipay_public_key.pem");
    if (sim_alipay_keys_generate(&k, errstr, sizeof(errstr)) != PS_OK ||
        sim_alipay_keys_write_public(&k, path, errstr, sizeof(errstr)) != PS_OK)
        fail("could not generate alipay keys: %s", errstr);
    else
        rc = write_pem(dir, "alipay_private_key.pem", k.alipay_key, NULL);
    sim_alipay_keys_deinit(&k);
    return rc;
}

static int keys_apple(const char *dir, int64_t now)
{
    char errstr[PS_ERRSTR_SIZE];
    sim_apple_keys_t k = {0};
    int rc = EXIT_FAIL;

    if (sim_apple_keys_generate(now - 86400, now + 365 * 86400, &k, errstr, sizeof(errstr)) !=
        PS_OK) {
        fail("could not generate apple keys: %s", errstr);
        goto out;
    }
    if (write_pem(dir, "apple_root_key.pem", k.root_key, NULL) == EXIT_OK &&
        write_pem(dir, "apple_intermediate_key.pem", k.intermediate_key, NULL) == EXIT_OK &&
        write_pem(dir, "apple_leaf_key.pem", k.leaf_key, NULL) == EXIT_OK &&
        write_pem(dir, "apple_root.pem", NULL, k.root) == EXIT_OK &&
        write_pem(dir, "apple_intermediate.pem", NULL, k.intermediate) == EXIT_OK &&
        write_pem(dir, "apple_leaf.pem", NULL, k.leaf) == EXIT_OK)
        rc = EXIT_OK;
out:
    sim_apple_keys_deinit(&k);
    return rc;
}

static int keys_config(const opts_t *o)
{
    char text[8192];
    const char *d = o->out;
    int n = snprintf(
        text, sizeof(text),
        "# Written by ps-channel-sim keys: an ingest that trusts exactly these test keys.\n"
        "http.listen_address = 127.0.0.1\nhttp.port = %lld\n"
        "topic.callbacks = '%s'\nkafka.bootstrap.servers = '%s'\n"
        "wechat.apiv3_key_file = '%s/wechat_apiv3.key'\nwechat.mch_id = " SIM_MCH_ID "\n"
        "wechat.appid = " SIM_APPID "\n"
        "wechat.platform_cert_files = '%s/wechat_platform_cert.pem'\n"
        "alipay.app_id = " SIM_ALIPAY_APP_ID "\nalipay.public_key_file = '%s/alipay_public_key.pem'\n"
        "apple.root_cert_file = '%s/apple_root.pem'\napple.bundle_id = " SIM_APPLE_BUNDLE "\n"
        "apple.app_apple_id = %d\napple.environment = Sandbox\n",
        o->port, o->topic, o->brokers, d, d, d, d, SIM_APPLE_APP_ID);

    if (n < 0 || (size_t)n >= sizeof(text))
        return fail("configuration for \"%s\" is too long", d);
    return write_file(d, "ingest.conf", text, (size_t)n);
}

static int cmd_keys(const opts_t *o)
{
    int64_t now = (int64_t)time(NULL);

    if (o->out == NULL)
        return fail("keys needs --out DIR");
    if (mkdir(o->out, 0755) != 0 && errno != EEXIST)
        return fail("could not create \"%s\": %s", o->out, strerror(errno));
    if (keys_wechat(o->out, now) != EXIT_OK || keys_alipay(o->out) != EXIT_OK ||
        keys_apple(o->out, now) != EXIT_OK || keys_config(o) != EXIT_OK)
        return EXIT_FAIL;
    printf("keys and %s/ingest.conf written\n", o->out);
    return EXIT_OK;
}

/* ---- callbacks ---- */

typedef struct sim_keys {
    EVP_PKEY *wechat_key;
    char wechat_serial[PS_WECHAT_SERIAL_BYTES_MAX];
    char apiv3[PS_WECHAT_APIV3_KEY_BYTES + 8];
    sim_alipay_keys_t alipay;
    sim_apple_keys_t apple;
} sim_keys_t;

static void sim_keys_deinit(sim_keys_t *k)
{
    EVP_PKEY_free(k->wechat_key);
    sim_alipay_keys_deinit(&k->alipay);
    sim_apple_keys_deinit(&k->apple);
}

static int sim_keys_load(const char *dir, sim_keys_t *k)
{
    char errstr[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];

    memset(k, 0, sizeof(*k));
    if (read_text(dir, "wechat_serial", k->wechat_serial, sizeof(k->wechat_serial)) != EXIT_OK ||
        read_text(dir, "wechat_apiv3.key", k->apiv3, sizeof(k->apiv3)) != EXIT_OK)
        return EXIT_FAIL;
    if (strlen(k->apiv3) != PS_WECHAT_APIV3_KEY_BYTES)
        return fail("\"%s/wechat_apiv3.key\" does not hold a 32-byte key", dir);
    path_join(path, dir, "alipay_private_key.pem");
    if (sim_alipay_keys_load(&k->alipay, path, errstr, sizeof(errstr)) != PS_OK)
        return fail("%s", errstr);
    k->wechat_key = read_key(dir, "wechat_platform_key.pem");
    k->apple.root_key = read_key(dir, "apple_root_key.pem");
    k->apple.intermediate_key = read_key(dir, "apple_intermediate_key.pem");
    k->apple.leaf_key = read_key(dir, "apple_leaf_key.pem");
    k->apple.root = read_cert(dir, "apple_root.pem");
    k->apple.intermediate = read_cert(dir, "apple_intermediate.pem");
    k->apple.leaf = read_cert(dir, "apple_leaf.pem");
    if (k->wechat_key == NULL || k->apple.root_key == NULL || k->apple.intermediate_key == NULL ||
        k->apple.leaf_key == NULL || k->apple.root == NULL || k->apple.intermediate == NULL ||
        k->apple.leaf == NULL)
        return EXIT_FAIL;
    return EXIT_OK;
}

/* What one generated callback is: which event, and whether it is forged. */
typedef struct gen {
    long long n;   /* payment number: ids derive from it */
    long long seed;
    bool refund;
    bool forged;
    int64_t now;
    bool test; /* Apple TEST notification */
} gen_t;

static ps_err_t build_wechat(const sim_keys_t *k, const gen_t *g, sim_request_t *r, char *errstr,
                             size_t errstr_size)
{
    char id[64], order[64], txn[64], refund_no[64], refund_id[64], account[32];
    sim_wechat_keys_t keys = {k->wechat_key, k->wechat_serial, {0}};
    sim_wechat_params_t p = {0};
    ps_err_t err;

    memcpy(keys.apiv3_key, k->apiv3, PS_WECHAT_APIV3_KEY_BYTES);
    snprintf(id, sizeof(id), "EV-sim-%lld-%lld%s", g->seed, g->n, g->refund ? "-r" : "");
    snprintf(order, sizeof(order), "W%lld-%lld", g->seed, g->n);
    snprintf(txn, sizeof(txn), "4200%lld%08lld", g->seed % 1000, g->n);
    snprintf(refund_no, sizeof(refund_no), "WR%lld-%lld", g->seed, g->n);
    snprintf(refund_id, sizeof(refund_id), "5030%lld%08lld", g->seed % 1000, g->n);
    snprintf(account, sizeof(account), "player-%lld", g->n % 97);
    p.event = g->refund ? SIM_WECHAT_REFUND_SUCCESS : SIM_WECHAT_TRANSACTION_SUCCESS;
    p.event_id = id;
    p.mch_id = SIM_MCH_ID;
    p.appid = SIM_APPID;
    p.out_trade_no = order;
    p.transaction_id = txn;
    p.amount_total = 600 + g->n % 1000;
    p.account_id = account;
    p.event_time_s = g->now;
    p.out_refund_no = refund_no;
    p.refund_id = refund_id;
    p.refund_amount = 100;
    p.timestamp_s = g->now;
    err = sim_wechat_build(&keys, &p, r, errstr, errstr_size);
    if (err == PS_OK && g->forged)
        err = sim_wechat_forge(r, SIM_WECHAT_FORGE_TAMPER_BODY);
    return err;
}

static ps_err_t build_alipay(const sim_keys_t *k, const gen_t *g, sim_request_t *r,
                             char *errstr, size_t errstr_size)
{
    char notify[64], order[64], trade[64], biz[64], account[32];
    sim_alipay_params_t p;

    sim_alipay_params_default(&p);
    snprintf(notify, sizeof(notify), "sim%lld%012lld%s", g->seed, g->n, g->refund ? "r" : "");
    snprintf(order, sizeof(order), "A%lld-%lld", g->seed, g->n);
    snprintf(trade, sizeof(trade), "2023%lld%016lld", g->seed % 1000, g->n);
    snprintf(biz, sizeof(biz), "AR%lld-%lld", g->seed, g->n);
    snprintf(account, sizeof(account), "player-%lld", g->n % 97);
    p.event = g->refund ? SIM_ALIPAY_PARTIAL_REFUND : SIM_ALIPAY_PAYMENT;
    p.forgery = g->forged ? SIM_ALIPAY_TAMPER_AMOUNT : SIM_ALIPAY_GENUINE;
    p.app_id = SIM_ALIPAY_APP_ID;
    p.notify_id = notify;
    p.out_trade_no = order;
    p.trade_no = trade;
    p.out_biz_no = biz;
    p.account = account;
    p.total_minor = 600 + g->n % 1000;
    p.refund_total_minor = 100;
    p.notify_time_s = g->now;
    p.paid_time_s = g->now - 1;
    p.refund_time_ms = g->now * 1000;
    return sim_alipay_build(&k->alipay, &p, r, errstr, errstr_size);
}

static ps_err_t build_apple(const sim_keys_t *k, const gen_t *g, sim_request_t *r, char *errstr,
                            size_t errstr_size)
{
    char uuid[64], txn[32], orig[32], token[64];
    sim_apple_params_t p;

    sim_apple_params_default(&p);
    snprintf(uuid, sizeof(uuid), "%08llx-0000-4000-8000-%012llx",
             (unsigned long long)(g->seed & 0xffffffff), (unsigned long long)g->n * 2 + g->refund);
    snprintf(orig, sizeof(orig), "20%06lld%08lld", g->seed % 1000000, g->n);
    snprintf(txn, sizeof(txn), "%s", orig);
    snprintf(token, sizeof(token), "7e3fb20b-4cdb-47cc-936d-%012lld", g->n % 97);
    p.notification_type = g->refund ? "REFUND" : "ONE_TIME_CHARGE";
    p.notification_uuid = uuid;
    p.signed_date_ms = g->now * 1000;
    p.bundle_id = SIM_APPLE_BUNDLE;
    p.app_apple_id = SIM_APPLE_APP_ID;
    p.transaction_id = txn;
    p.original_transaction_id = orig;
    p.app_account_token = token;
    p.purchase_date_ms = (g->now - 60) * 1000;
    p.revocation_date_ms = g->refund ? g->now * 1000 : 0;
    p.forgery = g->forged ? SIM_APPLE_WRONG_KEY : SIM_APPLE_GENUINE;
    if (g->test) {
        p.notification_type = "TEST";
        p.with_transaction = false;
    }
    return sim_apple_build(&k->apple, &p, r, errstr, errstr_size);
}

static int write_request(const char *dir, const char *name, const sim_request_t *r)
{
    ps_buf_t raw;
    int rc;

    ps_buf_init(&raw, SIM_RAW_REQUEST_BYTES_MAX);
    rc = sim_request_write_raw(r, &raw) == PS_OK ? write_buf(dir, name, &raw)
                                                 : fail("request %s too large", name);
    ps_buf_deinit(&raw);
    return rc;
}

/* A small deterministic generator (xorshift64*): integers only. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int emit(const sim_keys_t *k, const opts_t *o, FILE *manifest, long long index,
                int channel, const gen_t *g, const char *what)
{
    static const char *const names[] = {"wechat", "alipay", "apple"};
    char errstr[PS_ERRSTR_SIZE], name[128];
    sim_request_t r;
    ps_err_t err;
    int rc;

    sim_request_init(&r);
    err = channel == 0   ? build_wechat(k, g, &r, errstr, sizeof(errstr))
          : channel == 1 ? build_alipay(k, g, &r, errstr, sizeof(errstr))
                         : build_apple(k, g, &r, errstr, sizeof(errstr));
    if (err != PS_OK) {
        sim_request_deinit(&r);
        return fail("could not build a %s callback: %s", names[channel], errstr);
    }
    snprintf(name, sizeof(name), "%07lld-%s-%s.http", index, names[channel], what);
    rc = write_request(o->out, name, &r);
    if (rc == EXIT_OK)
        fprintf(manifest, "%s\t%s\t%s\t%s\n", name, names[channel],
                g->forged ? "reject" : "accept",
                g->test ? "test" : g->refund ? "refund" : "payment");
    sim_request_deinit(&r);
    return rc;
}

static int cmd_callbacks(const opts_t *o)
{
    char path[PATH_BYTES_MAX];
    uint64_t rs = (uint64_t)o->seed * 2654435761u + 88172645463325252ULL;
    sim_keys_t k;
    FILE *manifest = NULL;
    long long i = 0, n = 0;
    int rc = EXIT_FAIL;

    if (o->keys == NULL || o->out == NULL || o->count <= 0 || o->count > PS_SIM_FILES_MAX ||
        o->duplicates < 0 || o->duplicates > 100 || o->forgeries < 0 || o->forgeries > 100 ||
        o->tests < 0 || o->tests > 100)
        return fail("callbacks needs --keys DIR --out DIR --count 1..%d and percentages "
                    "0..100", PS_SIM_FILES_MAX);
    if (mkdir(o->out, 0755) != 0 && errno != EEXIST)
        return fail("could not create \"%s\": %s", o->out, strerror(errno));
    if (sim_keys_load(o->keys, &k) != EXIT_OK)
        goto out;
    path_join(path, o->out, "manifest.tsv");
    manifest = fopen(path, "w");
    if (manifest == NULL) {
        fail("could not create \"%s\": %s", path, strerror(errno));
        goto out;
    }
    /* Payments in turn over the three channels; every fifth payment is
     * followed by a refund of that very payment, as a channel would send it.
     * Duplicates re-send a genuine callback; forgeries are an attacker's extra
     * callbacks beside the genuine stream, never in place of it. */
    while (i < o->count) {
        gen_t g = {n++, o->seed, false, false, (int64_t)time(NULL), false};
        int ch = (int)(g.n % 3);
        bool with_refund = g.n % 5 == 4;

        for (int step = 0; step < (with_refund ? 2 : 1) && i < o->count; step++) {
            g.refund = step == 1;
            g.forged = false;
            g.test = ch == 2 && !g.refund && (long long)(next_rand(&rs) % 100) < o->tests;
            if (emit(&k, o, manifest, i++, ch, &g, g.test ? "test" : "ok") != EXIT_OK)
                goto out;
            if (i < o->count && (long long)(next_rand(&rs) % 100) < o->duplicates &&
                emit(&k, o, manifest, i++, ch, &g, "dup") != EXIT_OK)
                goto out;
            if (i < o->count && (long long)(next_rand(&rs) % 100) < o->forgeries) {
                g.forged = true;
                if (emit(&k, o, manifest, i++, ch, &g, "forged") != EXIT_OK)
                    goto out;
            }
            if (g.test)
                break; /* a TEST notification has no payment to refund */
        }
    }
    printf("%lld callbacks written to %s\n", i, o->out);
    rc = EXIT_OK;
out:
    if (manifest != NULL && fclose(manifest) != 0)
        rc = fail("could not write the manifest in \"%s\"", o->out);
    sim_keys_deinit(&k);
    return rc;
}

/* ---- send ---- */

typedef struct send_item {
    char name[128];
    bool expect_accept;
    bool has_expect;
} send_item_t;

typedef struct send_state {
    const opts_t *o;
    send_item_t *items;
    long long count;
    atomic_llong next;
    atomic_llong accepted, rejected, retried, gave_up, mismatches;
} send_state_t;

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    ps_buf_t *b = ud;

    (void)ps_buf_append(b, p, size * n); /* answers are short; the rest is not needed */
    return size * n;
}

/* One attempt; *status 0 means no HTTP answer at all. */
static void post_once(CURL *curl, const char *url, const ingest_reqfile_t *rf, long *status,
                      ps_buf_t *answer)
{
    struct curl_slist *hl = NULL;
    char line[PS_REQFILE_LINE_BYTES_MAX + 4];
    char full[PATH_BYTES_MAX];

    snprintf(full, sizeof(full), "%s%s", url, rf->path);
    for (size_t i = 0; i < rf->header_count; i++) {
        const char *n = rf->headers[i].name;
        if (strcasecmp(n, "Host") == 0 || strcasecmp(n, "Content-Length") == 0 ||
            strcasecmp(n, "Connection") == 0)
            continue;
        snprintf(line, sizeof(line), "%s: %s", n, rf->headers[i].value);
        hl = curl_slist_append(hl, line);
    }
    hl = curl_slist_append(hl, "Expect:"); /* channels do not wait for 100-continue */
    ps_buf_reset(answer);
    curl_easy_setopt(curl, CURLOPT_URL, full);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)rf->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)rf->body_len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)SEND_TIMEOUT_MS);
    *status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hl);
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Sends one file until a final answer or the attempts run out. */
static void send_one(send_state_t *st, CURL *curl, const send_item_t *it)
{
    char path[PATH_BYTES_MAX], errstr[PS_ERRSTR_SIZE];
    ingest_reqfile_t rf;
    ps_channel_t ch;
    ps_buf_t answer;
    long long backoff = st->o->backoff_ms;
    long status = 0;
    int verdict = -1; /* 1 accepted, 0 rejected */

    memset(&rf, 0, sizeof(rf));
    ps_buf_init(&answer, PS_HTTP_ANSWER_BYTES_MAX);
    path_join(path, st->o->dir, it->name);
    if (ingest_reqfile_load(path, &rf, errstr, sizeof(errstr)) != PS_OK ||
        strncmp(rf.path, "/v1/notify/", 11) != 0 || ps_channel_parse(rf.path + 11, &ch) != PS_OK) {
        fprintf(stderr, PROG ": skipping \"%s\": %s\n", path, errstr);
        atomic_fetch_add(&st->gave_up, 1);
        goto out;
    }
    for (long long a = 0; a < st->o->attempts && verdict < 0; a++) {
        if (a > 0) {
            atomic_fetch_add(&st->retried, 1);
            sleep_ms(backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
        post_once(curl, st->o->url, &rf, &status, &answer);
        if (ingest_answer_is_success(ch, (unsigned)status, answer.data, answer.len))
            verdict = 1;
        else if (status != 0 && status != 503) /* a verdict, not a transient failure */
            verdict = 0;
    }
    if (verdict < 0)
        atomic_fetch_add(&st->gave_up, 1);
    else
        atomic_fetch_add(verdict ? &st->accepted : &st->rejected, 1);
    if (verdict >= 0 && it->has_expect && (verdict == 1) != it->expect_accept) {
        atomic_fetch_add(&st->mismatches, 1);
        fprintf(stderr, PROG ": %s was %s, expected %s (status %ld)\n", it->name,
                verdict ? "accepted" : "rejected", it->expect_accept ? "accept" : "reject", status);
    }
out:
    ps_buf_deinit(&answer);
    ingest_reqfile_deinit(&rf);
}

static void *send_worker(void *arg)
{
    send_state_t *st = arg;
    CURL *curl = curl_easy_init();
    long long i;

    PS_ASSERT(curl != NULL);
    while ((i = atomic_fetch_add(&st->next, 1)) < st->count)
        send_one(st, curl, &st->items[i]);
    curl_easy_cleanup(curl);
    return NULL;
}

/* Reads DIR/manifest.tsv (as written by `callbacks`) into st->items. */
static int load_manifest(send_state_t *st)
{
    char path[PATH_BYTES_MAX], line[512];
    long long cap = 1024;
    FILE *f;

    path_join(path, st->o->dir, "manifest.tsv");
    f = fopen(path, "r");
    if (f == NULL)
        return fail("could not open \"%s\": %s", path, strerror(errno));
    st->items = ps_calloc((size_t)cap, sizeof(*st->items));
    while (fgets(line, sizeof(line), f) != NULL && st->count < PS_SIM_FILES_MAX) {
        char *tab = strchr(line, '\t');
        send_item_t *it;
        if (tab == NULL || (size_t)(tab - line) >= sizeof(it->name))
            continue;
        if (st->count == cap) {
            cap *= 2;
            st->items = ps_realloc(st->items, (size_t)cap * sizeof(*st->items));
        }
        it = &st->items[st->count++];
        memset(it, 0, sizeof(*it));
        memcpy(it->name, line, (size_t)(tab - line));
        it->has_expect = true;
        it->expect_accept = strstr(tab, "\taccept\t") != NULL;
    }
    fclose(f);
    return EXIT_OK;
}

static int cmd_send(const opts_t *o)
{
    send_state_t st;
    pthread_t threads[SEND_THREADS_MAX];
    long long nt = o->concurrency;

    memset(&st, 0, sizeof(st));
    st.o = o;
    if (o->url == NULL || o->dir == NULL || nt < 1 || nt > SEND_THREADS_MAX ||
        o->attempts < 1 || o->attempts > PS_SIM_SEND_ATTEMPTS_MAX || o->backoff_ms < 0)
        return fail("send needs --url URL --dir DIR, --concurrency 1..%d, --attempts 1..%d",
                    SEND_THREADS_MAX, PS_SIM_SEND_ATTEMPTS_MAX);
    if (load_manifest(&st) != EXIT_OK)
        return EXIT_FAIL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (long long t = 0; t < nt; t++)
        PS_ASSERT(pthread_create(&threads[t], NULL, send_worker, &st) == 0);
    for (long long t = 0; t < nt; t++)
        pthread_join(threads[t], NULL);
    curl_global_cleanup();
    printf("sent %lld: accepted %lld, rejected %lld, retried %lld, gave up %lld, "
           "mismatches %lld\n",
           st.count, (long long)st.accepted, (long long)st.rejected, (long long)st.retried,
           (long long)st.gave_up, (long long)st.mismatches);
    ps_free(st.items);
    return st.gave_up == 0 && st.mismatches == 0 ? EXIT_OK : EXIT_FAIL;
}

/* ---- command line ---- */

static int usage(FILE *out, int rc)
{
    fprintf(out,
            "Usage: " PROG " keys --out DIR [--port P] [--brokers B] [--topic T]\n"
            "       " PROG " callbacks --keys DIR --out DIR --count N [--duplicates PCT]\n"
            "                          [--forgeries PCT] [--tests PCT] [--seed S]\n"
            "       " PROG " send --url URL --dir DIR [--concurrency C] [--attempts N]\n"
            "                     [--backoff-ms MS]\n");
    return rc;
}

static int parse_num(const char *s, long long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return fail("invalid number \"%s\"", s);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", 1, NULL, 'o'},        {"keys", 1, NULL, 'k'},       {"dir", 1, NULL, 'd'},
        {"url", 1, NULL, 'u'},        {"brokers", 1, NULL, 'b'},    {"topic", 1, NULL, 't'},
        {"port", 1, NULL, 'p'},       {"count", 1, NULL, 'n'},      {"duplicates", 1, NULL, 'D'},
        {"forgeries", 1, NULL, 'F'},  {"seed", 1, NULL, 's'},       {"concurrency", 1, NULL, 'c'},
        {"attempts", 1, NULL, 'a'},   {"backoff-ms", 1, NULL, 'B'}, {"help", 0, NULL, 'h'},
        {"tests", 1, NULL, 'T'},      {NULL, 0, NULL, 0}};
    opts_t o = {.brokers = "127.0.0.1:19092", .topic = "paystream.callbacks", .port = 8080,
                .seed = 1, .concurrency = 4, .attempts = 8, .backoff_ms = 200};
    long long *num;
    int c;

    if (argc < 2)
        return usage(stderr, EXIT_USAGE);
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        num = NULL;
        switch (c) {
        case 'o': o.out = optarg; break;
        case 'k': o.keys = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'u': o.url = optarg; break;
        case 'b': o.brokers = optarg; break;
        case 't': o.topic = optarg; break;
        case 'p': num = &o.port; break;
        case 'n': num = &o.count; break;
        case 'D': num = &o.duplicates; break;
        case 'F': num = &o.forgeries; break;
        case 'T': num = &o.tests; break;
        case 's': num = &o.seed; break;
        case 'c': num = &o.concurrency; break;
        case 'a': num = &o.attempts; break;
        case 'B': num = &o.backoff_ms; break;
        case 'h': return usage(stdout, EXIT_OK);
        default: return usage(stderr, EXIT_USAGE);
        }
        if (num != NULL && parse_num(optarg, num) != EXIT_OK)
            return EXIT_USAGE;
    }
    if (optind < argc)
        return usage(stderr, EXIT_USAGE);
    if (strcmp(argv[1], "keys") == 0)
        return cmd_keys(&o);
    if (strcmp(argv[1], "callbacks") == 0)
        return cmd_callbacks(&o);
    if (strcmp(argv[1], "send") == 0)
        return cmd_send(&o);
    return usage(stderr, EXIT_USAGE);
}
