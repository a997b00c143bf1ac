/*
 * Integration test of `paystream-reconciler run --fetch` (real PostgreSQL):
 * the program downloads yesterday-style WeChat bills from the simulated
 * channel's bill endpoints (tools/sim/sim_bills.c, served from this test
 * process) with the recon.wechat.* keys, verifies them, and diffs them; a
 * missing key or a day without a bill is a clear error (exit 1), --fetch
 * without a day window a usage error (exit 2).
 */
#include "sim_bills.h"
#include "test_recon_env.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define DATE "2026-03-10"
#define MCH "1230000109"

static char dir[256], prog[1024];

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

static void write_text(const char *path, const char *text)
{
    PS_ASSERT(sim_bills_write_file(path, (const uint8_t *)text, strlen(text)) == PS_OK);
}

static int run_prog(const char *config, const char *args, const char *err_path)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd), "%s --config %s run --channel wechat %s > /dev/null 2> %s", prog,
             config, args, err_path);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "rb");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Goal: the fetched bill is diffed (a missing ledger payment is found); errors are clear. */
static void test_fetch(void)
{
    proc_test_db_t db;
    sim_bills_server_t *server = NULL;
    EVP_PKEY *merchant = EVP_RSA_gen(2048), *platform = EVP_RSA_gen(2048);
    char *merchant_priv = pem_of(merchant, true), *merchant_pub = pem_of(merchant, false);
    char *platform_priv = pem_of(platform, true), *platform_pub = pem_of(platform, false);
    char path[512], config[512], err_path[512], errstr[PS_ERRSTR_SIZE];
    sim_bill_synth_t s = {.rows = 20, .prefix = "F"};
    int64_t day_end = 0;
    ps_buf_t bill;

    sim_bills_server_params_t sp = {.wechat_mch_id = MCH, .merchant_cert_pem = merchant_pub,
                                    .platform_private_key_pem = platform_priv};
    REQUIRE(sim_bills_server_start(&sp, &server, errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(recon_statement_shanghai_day(DATE, &s.day_start_us, &day_end, errstr,
                                         sizeof(errstr)) == PS_OK);
    sim_bill_params_t p = {.merchant_id = MCH, .bill_date = DATE, .rows = s.rows,
                           .row_fn = sim_bills_synth_row, .opaque = &s};
    ps_buf_init(&bill, 1024 * 1024);
    REQUIRE(sim_bills_write_wechat(&p, &bill) == PS_OK);
    sim_bills_server_set_wechat_bill(server, DATE, bill.data, bill.len);
    ps_buf_deinit(&bill);

    proc_test_db_create(&db, 0);
    PGconn *conn = proc_test_connect(&db);
    for (size_t i = 1; i < s.rows; i++) { /* row 0 is missing in the ledger */
        sim_bill_row_t row;
        memset(&row, 0, sizeof(row));
        sim_bills_synth_row(&s, i, &row);
        rt_pay(conn, "WECHAT", row.merchant_order_no, row.channel_txn_id, "PAID",
               row.amount_minor, 0, "CNY", row.time_us);
    }
    PQfinish(conn);
    snprintf(path, sizeof(path), "%s/merchant.pem", dir);
    write_text(path, merchant_priv);
    snprintf(path, sizeof(path), "%s/platform.pem", dir);
    write_text(path, platform_pub);
    snprintf(config, sizeof(config), "%s/fetch.conf", dir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", dir);
    FILE *f = fopen(config, "w");
    REQUIRE(f != NULL);
    fputs("pg.conninfo = '", f);
    for (const char *c = db.conninfo; *c != '\0'; c++)
        fputs(*c == '\'' ? "''" : (char[2]){*c, '\0'}, f);
    fprintf(f, "'\nrecon.grace_s = 0\nrecon.wechat.mch_id = " MCH "\n"
               "recon.wechat.merchant_serial = F5765756002FDD77\n"
               "recon.wechat.merchant_key_file = %s/merchant.pem\n"
               "recon.wechat.platform_cert_file = %s/platform.pem\n"
               "recon.wechat.api_base_url = %s\n",
            dir, dir, sim_bills_server_url(server));
    fclose(f);

    CHECK_INT(run_prog(config, "--fetch --window " DATE " --dry-run", err_path), 3);
    CHECK_INT(run_prog(config, "--fetch --window 2026-03-11 --dry-run", err_path), 1);
    CHECK_CONTAINS(slurp(err_path), "could not fetch the WECHAT bill of 2026-03-11");
    CHECK_INT(run_prog(config, "--fetch --dry-run", err_path), 2);
    CHECK_CONTAINS(slurp(err_path), "--fetch needs --window");
    CHECK_INT(run_prog(config, "--fetch --statement x.csv --window " DATE, err_path), 2);

    sim_bills_server_stop(server);
    proc_test_db_drop(&db);
    EVP_PKEY_free(merchant);
    EVP_PKEY_free(platform);
    ps_free(merchant_priv);
    ps_free(merchant_pub);
    ps_free(platform_priv);
    ps_free(platform_pub);
}

int main(void)
{
    const char *bd = getenv("PAYSTREAM_BUILD_DIR");
    char cmd[320];

    snprintf(prog, sizeof(prog), "%s/reconciler/paystream-reconciler", bd != NULL ? bd : ".");
    snprintf(dir, sizeof(dir), "/tmp/recon_fetch_%ld", (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 1;
    }
    RUN(test_fetch);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
