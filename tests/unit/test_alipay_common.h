/*
 * Helpers shared by the Alipay verifier tests (test_alipay_*.c): locating the
 * conformance vectors, writing temporary key and config files, creating a
 * verifier from a configuration as the service does, and running one body
 * through it. Header-only so each test stays one program.
 */
#ifndef TEST_ALIPAY_COMMON_H
#define TEST_ALIPAY_COMMON_H

#include "alipay.h"
#include "config.h"
#include "test.h"

#include <openssl/pem.h>
#include <paystream/assert.h>
#include <paystream/config.h>
#include <paystream/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Files a test created, removed by test_alipay_cleanup(). */
#define TEST_ALIPAY_TEMP_FILES_MAX 32
static char test_alipay_temps[TEST_ALIPAY_TEMP_FILES_MAX][64];
static int test_alipay_temp_count;

/* ../shared/conformance next to the source tree, or NULL (SKIP printed once). */
static inline const char *test_alipay_conformance_dir(void)
{
    static char dir[4096];
    static int state; /* 0 unknown, 1 found, 2 absent */
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    if (state == 0) {
        snprintf(dir, sizeof(dir), "%s/../shared/conformance/alipay/README.txt",
                 src != NULL ? src : ".");
        state = access(dir, R_OK) == 0 ? 1 : 2;
        snprintf(dir, sizeof(dir), "%s/../shared/conformance", src != NULL ? src : ".");
        if (state == 2)
            printf("SKIP: ../shared/conformance not found (vectors not run)\n");
    }
    return state == 1 ? dir : NULL;
}

/* Whole file as an owned NUL-terminated string (NULL if unreadable). */
static inline char *test_alipay_read(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    ps_buf_t b;
    char chunk[4096];
    size_t n;

    if (f == NULL)
        return NULL;
    ps_buf_init(&b, 1024 * 1024);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ps_buf_append(&b, chunk, n);
    fclose(f);
    return (char *)ps_buf_steal(&b, len_out);
}

/* Writes text to a new temporary file; returns its path (static storage). */
static inline const char *test_alipay_temp(const char *text, size_t len)
{
    char *path;
    int fd;
    FILE *f;

    PS_ASSERT(test_alipay_temp_count < TEST_ALIPAY_TEMP_FILES_MAX);
    path = test_alipay_temps[test_alipay_temp_count++];
    snprintf(path, 64, "/tmp/ps-test-alipay-XXXXXX");
    fd = mkstemp(path);
    PS_ASSERT(fd >= 0);
    f = fdopen(fd, "wb");
    PS_ASSERT(f != NULL);
    PS_ASSERT(fwrite(text, 1, len, f) == len);
    fclose(f);
    return path;
}

/* A PEM public key file of key. */
static inline const char *test_alipay_temp_pubkey(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    const char *path;

    PS_ASSERT(bio != NULL && PEM_write_bio_PUBKEY(bio, key) == 1);
    len = BIO_get_mem_data(bio, &pem);
    path = test_alipay_temp(pem, (size_t)len);
    BIO_free(bio);
    return path;
}

static inline void test_alipay_cleanup(void)
{
    for (int i = 0; i < test_alipay_temp_count; i++)
        unlink(test_alipay_temps[i]);
    test_alipay_temp_count = 0;
}

/* Loads a config with the given alipay.* values and creates the verifier. */
static inline ps_err_t test_alipay_new(const char *app_id, const char *key, const char *prev,
                                const char *seller, ingest_alipay_t **out, char *err,
                                size_t err_size)
{
    char text[16384], *envp[] = {NULL};
    ps_config_t *cfg = NULL;
    const char *path;
    ps_err_t rc;

    snprintf(text, sizeof(text),
             "alipay.app_id = '%s'\nalipay.public_key_file = '%s'\n"
             "alipay.previous_public_key_file = '%s'\nalipay.seller_id = '%s'\n",
             app_id, key, prev != NULL ? prev : "", seller != NULL ? seller : "");
    path = test_alipay_temp(text, strlen(text));
    rc = ps_config_load(ingest_config_table, ingest_config_key_count, path, envp, &cfg, err,
                        err_size);
    if (rc != PS_OK)
        return rc;
    rc = ingest_alipay_new(cfg, out, err, err_size);
    ps_config_destroy(cfg); /* the verifier keeps copies of what it needs */
    return rc;
}

/* Runs one body through v with a form Content-Type at a fixed clock. */
static inline void test_alipay_run(ingest_alipay_t *v, const void *body, size_t len,
                            ingest_result_t *res)
{
    ps_header_t headers[] = {
        {(char *)"Content-Type", (char *)"application/x-www-form-urlencoded; charset=utf-8"},
        {(char *)"User-Agent", (char *)"Mozilla/4.0"},
    };
    ingest_request_t req = {.method = "POST",
                            .path = "/v1/notify/alipay",
                            .headers = headers,
                            .header_count = 2,
                            .body = body,
                            .body_len = len,
                            .now_s = 1700000000};

    CHECK_INT(ingest_alipay_verify(v, &req, res), PS_OK);
}

/* Prints the reason of an unexpected verdict, to make failures readable. */
#define CHECK_VERDICT(res, verdict_, label_)                                             \
    do {                                                                                 \
        CHECK_INT((res)->verdict, verdict_);                                             \
        CHECK_STR((res)->reason_label, label_);                                          \
        if ((res)->verdict != (verdict_))                                                \
            fprintf(stderr, "  reason: %s\n", (res)->reason);                           \
    } while (0)

#endif
