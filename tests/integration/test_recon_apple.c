/*
 * paystream-reconciler on an Apple statement (App Store Server API
 * transaction history): the signed transactions are verified by the ingest's
 * Apple verifier with the configured root, so a history page holding the
 * conformance AG2 transaction (payment + revocation) is diffed against an
 * empty ledger in a dry run (exit 3: two MISSING_IN_LEDGER rows, nothing
 * emitted), and the same page against a reconciler without a trusted Apple
 * root is refused before anything is diffed (exit 1).
 */
#include "proc_test_env.h"

#include <paystream/base64.h>

#include <jansson.h>
#include <sys/wait.h>

static proc_test_db_t db;
static char page_path[256], out_path[256];
static const char *src, *bin; /* PAYSTREAM_SOURCE_DIR, PAYSTREAM_BUILD_DIR */

/* The AG2 notification's nested signed transaction, as a one-page history. */
static int write_history(void)
{
    char path[4096];
    json_error_t jerr;
    json_t *outer, *notif, *page;
    ps_buf_t payload;
    const char *jws, *dot1, *dot2;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tests/data/statements/apple_AG2_refund.body.json", src);
    outer = json_load_file(path, 0, &jerr);
    if (outer == NULL)
        return -1;
    jws = json_string_value(json_object_get(outer, "signedPayload"));
    dot1 = jws != NULL ? strchr(jws, '.') : NULL;
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL)
        return -1;
    ps_buf_init(&payload, 64 * 1024);
    if (ps_base64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), PS_BASE64_URL, &payload, NULL, 0) !=
        PS_OK)
        return -1;
    notif = json_loadb((const char *)payload.data, payload.len, 0, &jerr);
    page = json_pack("{s:s, s:b, s:s, s:I, s:s, s:[O]}", "revision", "r1", "hasMore", 0,
                     "bundleId", "com.example", "appAppleId", (json_int_t)1234, "environment",
                     "Sandbox", "signedTransactions",
                     json_object_get(json_object_get(notif, "data"), "signedTransactionInfo"));
    f = fopen(page_path, "w");
    if (page == NULL || f == NULL || json_dumpf(page, f, JSON_COMPACT) != 0)
        return -1;
    fclose(f);
    json_decref(page);
    json_decref(notif);
    json_decref(outer);
    ps_buf_deinit(&payload);
    return 0;
}

/* Runs the reconciler with root (or no root) configured; returns its exit code. */
static int run_reconciler(const char *root)
{
    char cmd[8192];
    int rc;

    snprintf(cmd, sizeof(cmd),
             "PAYSTREAM_PG_CONNINFO='%s' PAYSTREAM_APPLE_ROOT_CERT_FILE='%s' "
             "PAYSTREAM_APPLE_BUNDLE_ID=com.example PAYSTREAM_APPLE_ENVIRONMENT=Sandbox "
             "PAYSTREAM_APPLE_X509_STRICT=off PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS='%s' "
             "'%s/reconciler/paystream-reconciler' run --channel apple --statement '%s' "
             "--dry-run > '%s' 2>&1",
             db.conninfo, root, test_require_env("PAYSTREAM_TEST_KAFKA"), bin, page_path,
             out_path);
    rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int output_has(const char *needle)
{
    char buf[16384];
    size_t n;
    FILE *f = fopen(out_path, "r");

    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strstr(buf, needle) == NULL) {
        fprintf(stderr, "reconciler output lacks \"%s\":\n%s\n", needle, buf);
        return 0;
    }
    return 1;
}

/* Goal: a verified Apple history is diffed: two rows missing in the ledger. */
static void test_verified_history_diffed(void)
{
    char root[4096];
    PGconn *conn;

    snprintf(root, sizeof(root), "%s/tests/data/statements/apple_testCA.der", src);
    CHECK_INT(run_reconciler(root), 3);
    CHECK(output_has("MISSING_IN_LEDGER"));
    conn = proc_test_connect(&db);
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM recon_commands"), 0);
    PQfinish(conn);
}

/* Goal: without a trusted root the statement is refused before any diff. */
static void test_untrusted_refused(void)
{
    CHECK_INT(run_reconciler(""), 1);
    CHECK(output_has("apple"));
}

int main(void)
{
    src = getenv("PAYSTREAM_SOURCE_DIR");
    bin = getenv("PAYSTREAM_BUILD_DIR");
    if (src == NULL || bin == NULL) {
        fprintf(stderr, "PAYSTREAM_SOURCE_DIR and PAYSTREAM_BUILD_DIR are set by CTest\n");
        return 1;
    }
    snprintf(page_path, sizeof(page_path), "/tmp/ps-recon-apple-%ld.json", (long)getpid());
    snprintf(out_path, sizeof(out_path), "/tmp/ps-recon-apple-%ld.out", (long)getpid());
    proc_test_db_create(&db, 1);
    if (write_history() != 0) {
        fprintf(stderr, "could not build the Apple history page from the AG2 vector\n");
        return 1;
    }
    RUN(test_verified_history_diffed);
    RUN(test_untrusted_refused);
    unlink(page_path);
    unlink(out_path);
    proc_test_db_drop(&db);
    return test_summary();
}
