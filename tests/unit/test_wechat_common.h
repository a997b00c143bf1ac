/*
 * Helpers shared by the WeChat verifier tests (test_wechat_*.c): building a
 * verifier from wechat.* settings given as PAYSTREAM_* environment entries
 * (no process environment leaks in), locating the conformance vectors,
 * reading files, turning a vector's .headers.json into request headers, and
 * the test keys the simulator signs with. Header-only: each test is one
 * program.
 */
#ifndef TEST_WECHAT_COMMON_H
#define TEST_WECHAT_COMMON_H

#include "test.h"

#include "config.h"
#include "sim_wechat.h"
#include "verify.h"
#include "wechat.h"
#include "wechat_certs.h"

#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/config.h>
#include <paystream/mem.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TW_PATH_MAX 1024
#define TW_ENV_MAX 32
#define TW_HEADERS_MAX 16
#define TW_APIV3_KEY "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
#define TW_MCH_ID "1230000109"

static char tw_tmp_dir[TW_PATH_MAX / 2];

/* A private temporary directory, removed by tw_cleanup. */
static inline const char *tw_tmp(void)
{
    if (tw_tmp_dir[0] == '\0') {
        snprintf(tw_tmp_dir, sizeof(tw_tmp_dir), "/tmp/ps_wechat_test.XXXXXX");
        if (mkdtemp(tw_tmp_dir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tw_tmp_dir;
}

static inline void tw_cleanup(void)
{
    char cmd[TW_PATH_MAX + 16];

    if (tw_tmp_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tw_tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tw_tmp_dir);
    }
}

/* Writes len bytes to tmp/name and returns the path (static buffer rotation). */
static inline const char *tw_write(const char *name, const void *data, size_t len)
{
    static char paths[8][TW_PATH_MAX];
    static int next;
    char *path = paths[next++ % 8];
    FILE *f;

    if (strlen(name) > TW_PATH_MAX / 4)
        exit(1);
    snprintf(path, TW_PATH_MAX, "%s/%.256s", tw_tmp(), name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    return path;
}

/* Reads a whole file into buf (initialized here, capped at 1 MiB). */
static inline bool tw_read(const char *path, ps_buf_t *buf)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    ps_buf_init(buf, 1024 * 1024);
    if (f == NULL)
        return false;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ps_buf_append(buf, chunk, n);
    fclose(f);
    return true;
}

/* $PAYSTREAM_SOURCE_DIR/../shared/conformance/wechat, or NULL when absent. */
static inline const char *tw_vectors(void)
{
    static char dir[TW_PATH_MAX];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    struct stat st;

    snprintf(dir, sizeof(dir), "%.512s/../shared/conformance/wechat", src ? src : ".");
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

static inline const char *tw_vector_path(const char *name)
{
    static char paths[8][TW_PATH_MAX];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, TW_PATH_MAX, "%.600s/%.300s", tw_vectors(), name);
    return path;
}

/*
 * Creates a verifier from "wechat.key=value" settings (NULL-terminated). The
 * APIv3 key file is written from apiv3_key unless NULL (channel disabled).
 */
static inline ps_err_t tw_verifier(const char *apiv3_key, const char *const *settings,
                            ingest_wechat_t **out, char *err, size_t err_size)
{
    char env_text[TW_ENV_MAX][TW_PATH_MAX];
    char *envp[TW_ENV_MAX + 1];
    size_t n = 0;
    ps_config_t *cfg = NULL;
    ps_err_t rc;

    if (apiv3_key != NULL)
        snprintf(env_text[n++], TW_PATH_MAX, "PAYSTREAM_WECHAT_APIV3_KEY_FILE=%s",
                 tw_write("apiv3.key", apiv3_key, strlen(apiv3_key)));
    for (size_t i = 0; settings != NULL && settings[i] != NULL && n < TW_ENV_MAX; i++) {
        char *p = env_text[n++];
        const char *eq = strchr(settings[i], '=');
        size_t klen = eq ? (size_t)(eq - settings[i]) : strlen(settings[i]);
        int len = snprintf(p, TW_PATH_MAX, "PAYSTREAM_");
        for (size_t k = 0; k < klen && len < TW_PATH_MAX - 1; k++) {
            char c = settings[i][k];
            p[len++] = c == '.' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
        snprintf(p + len, (size_t)(TW_PATH_MAX - len), "%s", eq ? eq : "=");
    }
    for (size_t i = 0; i < n; i++)
        envp[i] = env_text[i];
    envp[n] = NULL;
    rc = ps_config_load(ingest_config_table, ingest_config_key_count, NULL, envp, &cfg, err,
                        err_size);
    if (rc == PS_OK)
        rc = ingest_wechat_new(cfg, out, err, err_size);
    ps_config_destroy(cfg);
    return rc;
}

/* Request headers from a vector's .headers.json (names and values owned). */
typedef struct tw_headers {
    ps_header_t h[TW_HEADERS_MAX];
    size_t count;
} tw_headers_t;

static inline bool tw_headers_load(const char *path, tw_headers_t *out)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *value;
    const char *key;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return false;
    json_object_foreach(root, key, value)
    {
        if (out->count < TW_HEADERS_MAX && json_is_string(value)) {
            out->h[out->count].name = ps_strdup(key);
            out->h[out->count].value = ps_strdup(json_string_value(value));
            out->count++;
        }
    }
    json_decref(root);
    return true;
}

static inline void tw_headers_free(tw_headers_t *hs)
{
    for (size_t i = 0; i < hs->count; i++) {
        ps_free(hs->h[i].name);
        ps_free(hs->h[i].value);
    }
    hs->count = 0;
}

/* Verifies body with headers at now_s. */
static inline void tw_verify(ingest_wechat_t *v, const tw_headers_t *hs, const ps_buf_t *body,
                      int64_t now_s, ingest_result_t *res)
{
    ingest_request_t req = {.method = "POST",
                            .path = "/v1/notify/wechat",
                            .headers = hs->h,
                            .header_count = hs->count,
                            .body = body->data ? body->data : (const uint8_t *)"",
                            .body_len = body->len,
                            .now_s = now_s};

    CHECK_INT(ingest_wechat_verify(v, &req, res), PS_OK);
}

/* Verifies a simulated request at now_s. */
static inline void tw_verify_sim(ingest_wechat_t *v, const sim_request_t *r, int64_t now_s,
                          ingest_result_t *res)
{
    ingest_request_t req;

    sim_request_to_ingest(r, now_s, &req);
    CHECK_INT(ingest_wechat_verify(v, &req, res), PS_OK);
}

/* The event satisfies the Avro contract (received_time stamped as the HTTP tier would). */
static inline void tw_check_avro(const ps_callback_event_t *ev)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_err_t rc = ps_avro_validate_callback_event(ev, err, sizeof(err));

    if (rc != PS_OK)
        fprintf(stderr, "avro: %s\n", err);
    CHECK_INT(rc, PS_OK);
}

#define CHECK_REJECT(res, label)                                                         \
    do {                                                                                 \
        CHECK_INT((res).verdict, INGEST_REJECT);                                         \
        CHECK_STR((res).reason_label, (label));                                          \
    } while (0)

#endif
