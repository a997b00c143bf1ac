/*
 * Helpers shared by the Apple verifier tests (test_apple_*.c): reading
 * vector files, building an ingest configuration for the apple.* keys from a
 * synthetic environment, and running one verification of a body.
 */
#ifndef TEST_APPLE_UTIL_H
#define TEST_APPLE_UTIL_H

#include "apple.h"
#include "config.h"
#include "verify.h"

#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/config.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Vector files are small; this bounds what a test reads. */
#define TU_FILE_BYTES_MAX (256 * 1024)

/* Reads path into out (initialized here, cap TU_FILE_BYTES_MAX); trailing
 * CR/LF stripped when strip_newline (the .jws files end with one). */
static inline bool tu_read_file(const char *path, bool strip_newline, ps_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    bool ok = f != NULL;

    ps_buf_init(out, TU_FILE_BYTES_MAX);
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ok = ps_buf_append(out, chunk, n) == PS_OK;
    if (f != NULL)
        fclose(f);
    while (ok && strip_newline && out->len > 0 &&
           (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
        out->data[--out->len] = '\0';
    if (!ok)
        fprintf(stderr, "could not read \"%s\"\n", path);
    return ok;
}

/* The conformance directory, or NULL (with the SKIP line) when absent. */
static inline const char *tu_conformance_dir(void)
{
    static char dir[1024];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/../shared/conformance", src ? src : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: ../shared/conformance not found (vectors not run)\n");
        return NULL;
    }
    return dir;
}

/* Loads the ingest configuration with the apple.* keys given (NULL: default). */
static inline ps_config_t *tu_apple_config(const char *root, const char *bundle,
                                           const char *env, const char *app_id,
                                           const char *strict, const char *cache)
{
    static char vars[6][1200];
    char *envp[7];
    size_t n = 0;
    ps_config_t *cfg = NULL;
    char errstr[PS_ERRSTR_SIZE];
    const char *names[6] = {"ROOT_CERT_FILE", "BUNDLE_ID", "ENVIRONMENT",
                            "APP_APPLE_ID", "X509_STRICT", "CHAIN_CACHE_ENTRIES"};
    const char *values[6] = {root, bundle, env, app_id, strict, cache};

    for (size_t i = 0; i < 6; i++) {
        if (values[i] == NULL)
            continue;
        snprintf(vars[n], sizeof(vars[n]), "PAYSTREAM_APPLE_%s=%s", names[i], values[i]);
        envp[n] = vars[n];
        n++;
    }
    envp[n] = NULL;
    if (ps_config_load(ingest_config_table, ingest_config_key_count, NULL, envp, &cfg, errstr,
                       sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "config: %s\n", errstr);
        return NULL;
    }
    return cfg;
}

/* A verifier from tu_apple_config's arguments; NULL (message printed) on failure. */
static inline ingest_apple_t *tu_apple_new(const char *root, const char *bundle,
                                           const char *env, const char *app_id,
                                           const char *strict, const char *cache)
{
    ps_config_t *cfg = tu_apple_config(root, bundle, env, app_id, strict, cache);
    ingest_apple_t *v = NULL;
    char errstr[PS_ERRSTR_SIZE];

    if (cfg != NULL && ingest_apple_new(cfg, &v, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "ingest_apple_new: %s\n", errstr);
        v = NULL;
    }
    ps_config_destroy(cfg);
    return v;
}

/* Verifies body[0..len) as a POST to /v1/notify/apple at now_s; res is the caller's. */
static inline ps_err_t tu_verify(ingest_apple_t *v, const void *body, size_t len, int64_t now_s,
                                 ingest_result_t *res)
{
    ingest_request_t req = {.method = "POST",
                            .path = "/v1/notify/apple",
                            .headers = NULL,
                            .header_count = 0,
                            .body = body,
                            .body_len = len,
                            .now_s = now_s};

    return ingest_apple_verify(v, &req, res);
}

/* Wraps a compact JWS text as Apple's body {"signedPayload":"..."} into out. */
static inline void tu_body_of_jws(const char *jws, ps_buf_t *out)
{
    ps_buf_init(out, TU_FILE_BYTES_MAX);
    ps_buf_appendf(out, "{\"signedPayload\":\"%s\"}", jws);
}

/* Whether an accepted event satisfies the Avro contract. */
static inline bool tu_event_valid(const ps_callback_event_t *ev)
{
    char errstr[PS_ERRSTR_SIZE];

    if (ps_avro_validate_callback_event(ev, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "event breaks the contract: %s\n", errstr);
        return false;
    }
    return true;
}

#endif
