/*
 * Fuzz target: one channel verifier (FUZZ_CHANNEL 0 WeChat, 1 Alipay,
 * 2 Apple; CMake builds fuzz_wechat, fuzz_alipay and fuzz_apple from this
 * file). At start-up it generates test keys with the channel simulator,
 * configures the verifier to trust them and makes signed genuine requests
 * as seeds. An input is a raw request file; one that does not parse as a
 * request is used as the body under the first seed's headers, so mutated
 * bodies still reach the signature and decoding code. Every input must get
 * a verdict (a REJECT with a label, or ACCEPT with a valid event), never a
 * crash, a leak or an internal error.
 */
#include "fuzz.h"

#include "config.h"
#include "reqfile.h"
#include "sim_alipay.h"
#include "sim_apple.h"
#include "sim_wechat.h"
#include "verifiers.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef FUZZ_CHANNEL
#define FUZZ_CHANNEL 0
#endif
#define FUZZ_SEEDS 4
#define PATH_BYTES_MAX 512

static ingest_verifiers_t *verifiers;
static ps_buf_t seeds[FUZZ_SEEDS];
static ingest_reqfile_t seed0; /* headers for inputs that are bare bodies */

static void write_text(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    PS_ASSERT(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

static void add_seed(size_t i, sim_request_t *r)
{
    ps_buf_init(&seeds[i], SIM_RAW_REQUEST_BYTES_MAX);
    PS_ASSERT(sim_request_write_raw(r, &seeds[i]) == PS_OK);
    sim_request_deinit(r);
}

static void setup_wechat(const char *dir, char *env, size_t env_size)
{
    char errstr[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];
    sim_wechat_keys_t keys = {NULL, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", {0}};
    int64_t now = (int64_t)time(NULL);
    X509 *cert = NULL;
    ps_buf_t pem;

    memset(keys.apiv3_key, 'k', sizeof(keys.apiv3_key));
    PS_ASSERT(sim_wechat_key_generate(&keys.sign_key, errstr, sizeof(errstr)) == PS_OK);
    PS_ASSERT(sim_wechat_cert_generate(keys.sign_key, keys.serial, now - 86400, now + 86400,
                                       &cert, errstr, sizeof(errstr)) == PS_OK);
    ps_buf_init(&pem, 64 * 1024);
    PS_ASSERT(sim_wechat_pem_cert(cert, &pem) == PS_OK);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    write_text(path, pem.data, pem.len);
    snprintf(path, sizeof(path), "%s/apiv3.key", dir);
    write_text(path, keys.apiv3_key, sizeof(keys.apiv3_key));
    snprintf(env, env_size, "wechat.apiv3_key_file = '%s/apiv3.key'\nwechat.mch_id = 1900000001\n"
             "wechat.platform_cert_files = '%s/cert.pem'\n", dir, dir);
    for (size_t i = 0; i < FUZZ_SEEDS; i++) {
        sim_wechat_params_t p = {.event = i % 2 ? SIM_WECHAT_REFUND_SUCCESS
                                                : SIM_WECHAT_TRANSACTION_SUCCESS,
                                 .event_id = "EV-fuzz", .mch_id = "1900000001",
                                 .out_trade_no = "F1", .transaction_id = "4200000001",
                                 .amount_total = 648, .account_id = "p1", .event_time_s = now,
                                 .out_refund_no = "R1", .refund_id = "5000001",
                                 .refund_amount = 100, .timestamp_s = now};
        sim_request_t r;
        sim_request_init(&r);
        PS_ASSERT(sim_wechat_build(&keys, &p, &r, errstr, sizeof(errstr)) == PS_OK);
        add_seed(i, &r);
    }
    ps_buf_deinit(&pem);
    X509_free(cert);
    EVP_PKEY_free(keys.sign_key);
}

static void setup_alipay(const char *dir, char *env, size_t env_size)
{
    char errstr[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];
    sim_alipay_keys_t keys = {0};

    PS_ASSERT(sim_alipay_keys_generate(&keys, errstr, sizeof(errstr)) == PS_OK);
    snprintf(path, sizeof(path), "%s/alipay.pem", dir);
    PS_ASSERT(sim_alipay_keys_write_public(&keys, path, errstr, sizeof(errstr)) == PS_OK);
    snprintf(env, env_size, "alipay.app_id = 2021000000000001\nalipay.public_key_file = '%s'\n",
             path);
    for (size_t i = 0; i < FUZZ_SEEDS; i++) {
        sim_alipay_params_t p;
        sim_request_t r;
        sim_alipay_params_default(&p);
        p.event = (sim_alipay_event_t)(i % 4);
        p.charset = i == 3 ? INGEST_CHARSET_GBK : INGEST_CHARSET_UTF8;
        sim_request_init(&r);
        PS_ASSERT(sim_alipay_build(&keys, &p, &r, errstr, sizeof(errstr)) == PS_OK);
        add_seed(i, &r);
    }
    sim_alipay_keys_deinit(&keys);
}

static void setup_apple(const char *dir, char *env, size_t env_size)
{
    char errstr[PS_ERRSTR_SIZE], path[PATH_BYTES_MAX];
    static const char *const types[] = {"ONE_TIME_CHARGE", "REFUND", "REFUND_REVERSED", "TEST"};
    int64_t now = (int64_t)time(NULL);
    sim_apple_keys_t keys = {0};

    PS_ASSERT(sim_apple_keys_generate(now - 86400, now + 86400, &keys, errstr, sizeof(errstr)) ==
              PS_OK);
    snprintf(path, sizeof(path), "%s/root.pem", dir);
    PS_ASSERT(sim_apple_write_root(&keys, path, errstr, sizeof(errstr)) == PS_OK);
    snprintf(env, env_size, "apple.root_cert_file = '%s'\napple.bundle_id = com.example\n"
             "apple.app_apple_id = 1234\napple.environment = Sandbox\n", path);
    for (size_t i = 0; i < FUZZ_SEEDS; i++) {
        sim_apple_params_t p;
        sim_request_t r;
        sim_apple_params_default(&p);
        p.notification_type = types[i];
        p.with_transaction = i != 3;
        p.signed_date_ms = now * 1000;
        p.revocation_date_ms = i == 1 ? now * 1000 : 0;
        sim_request_init(&r);
        PS_ASSERT(sim_apple_build(&keys, &p, &r, errstr, sizeof(errstr)) == PS_OK);
        add_seed(i, &r);
    }
    sim_apple_keys_deinit(&keys);
}

/* The harness is only meaningful if its genuine seeds verify. */
static void check_seeds(void)
{
    for (size_t i = 0; i < FUZZ_SEEDS; i++) {
        char errstr[PS_ERRSTR_SIZE];
        ingest_reqfile_t rf;
        ingest_request_t req;
        ingest_result_t res;
        memset(&rf, 0, sizeof(rf));
        memset(&res, 0, sizeof(res));
        PS_ASSERT(ingest_reqfile_parse(seeds[i].data, seeds[i].len, &rf, errstr,
                                       sizeof(errstr)) == PS_OK);
        ingest_reqfile_request(&rf, (int64_t)time(NULL), &req);
        PS_ASSERT(ingest_verifiers_verify(verifiers, (ps_channel_t)FUZZ_CHANNEL, &req, &res) ==
                  PS_OK);
        if (res.verdict == INGEST_REJECT) {
            fprintf(stderr, "fuzz setup: seed %zu rejected (%s): %s\n", i, res.reason_label,
                    res.reason);
            abort();
        }
        ingest_result_deinit(&res);
        ingest_reqfile_deinit(&rf);
    }
}

void fuzz_setup(void)
{
    static const char *const files[] = {"cert.pem", "apiv3.key", "alipay.pem", "root.pem",
                                        "ingest.conf"};
    char dir[] = "/tmp/ps-fuzz-XXXXXX", conf[PATH_BYTES_MAX], text[2048], errstr[PS_ERRSTR_SIZE];
    ps_config_t *cfg = NULL;

    PS_ASSERT(mkdtemp(dir) != NULL);
    if (FUZZ_CHANNEL == 0)
        setup_wechat(dir, text, sizeof(text));
    else if (FUZZ_CHANNEL == 1)
        setup_alipay(dir, text, sizeof(text));
    else
        setup_apple(dir, text, sizeof(text));
    snprintf(conf, sizeof(conf), "%s/ingest.conf", dir);
    write_text(conf, text, strlen(text));
    if (ps_config_load(ingest_config_table, ingest_config_key_count, conf, NULL, &cfg, errstr,
                       sizeof(errstr)) != PS_OK ||
        ingest_verifiers_new(cfg, &verifiers, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "fuzz setup: %s\n", errstr);
        abort();
    }
    ps_config_destroy(cfg);
    /* Keys are in memory now: leave nothing behind in /tmp. */
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_BYTES_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    PS_ASSERT(ingest_reqfile_parse(seeds[0].data, seeds[0].len, &seed0, errstr,
                                   sizeof(errstr)) == PS_OK);
    check_seeds();
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    for (size_t i = 0; i < FUZZ_SEEDS; i++)
        fn(seeds[i].data, seeds[i].len, opaque);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    ingest_reqfile_t rf;
    ingest_request_t req;
    ingest_result_t res;

    memset(&rf, 0, sizeof(rf));
    memset(&res, 0, sizeof(res));
    if (ingest_reqfile_parse(data, size, &rf, errstr, sizeof(errstr)) == PS_OK) {
        ingest_reqfile_request(&rf, (int64_t)time(NULL), &req);
    } else {
        ingest_reqfile_request(&seed0, (int64_t)time(NULL), &req);
        req.body = data;
        req.body_len = size;
    }
    PS_ASSERT(ingest_verifiers_verify(verifiers, (ps_channel_t)FUZZ_CHANNEL, &req, &res) ==
              PS_OK);
    if (res.verdict == INGEST_REJECT)
        PS_ASSERT(res.reason_label != NULL && res.reason[0] != '\0');
    if (res.verdict == INGEST_ACCEPT)
        PS_ASSERT(ps_avro_validate_callback_event(&res.ev, errstr, sizeof(errstr)) == PS_OK);
    ingest_result_deinit(&res);
    ingest_reqfile_deinit(&rf);
    return 0;
}
