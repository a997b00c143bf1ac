/*
 * The processor end to end, with real Kafka and PostgreSQL: generated
 * callbacks (duplicates, reorderings, second notifications, refunds), poison
 * messages and commands are produced; paystream-processor runs as a child
 * process; the ledger must equal the expectation computed from the input
 * alone (proc_gen.h), cent for cent, and `audit` must pass.
 *
 * Without arguments (integration label) it runs the loop test: exact ledger,
 * duplicates absorbed, poison dead-lettered with the offsets advancing past
 * it, metrics served, SIGTERM exits 0, a restart re-applies nothing,
 * dead-letters list / redrive.
 *
 * With an argument it runs one fault scenario for the system label (these
 * are system tests compiled here because only tests/integration is built;
 * the shell scripts under tests/system run this program with a mode):
 *   crash          100,000 events, kill -9 at random moments >= 20 times
 *   zombie         two instances, one SIGSTOPped past its session timeout
 *   restart        PostgreSQL or Kafka restarted mid-run by the shell command
 *                  in PROC_FAULT_RESTART_CMD
 */
#include "proc_gen.h"
#include "proc_test_env.h"

#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/kafka.h>

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

static proc_test_db_t db;
static const char *brokers;
static char bin[1024], log_path[1100];
static char topic_cb[96], topic_cmd[96], group[96];
static char errstr[PS_ERRSTR_SIZE];
static rd_kafka_t *prod;
static ps_kafka_delivery_t dlv;
static ps_avro_codec_t *codec;
static uint64_t produced, produced_cb;
static uint64_t rng_state;

#define WAIT_S_MAX 150 /* longest wait for the ledger to reach the expectation */

static uint64_t rnd(void)
{
    rng_state = proc_gen_mix(rng_state);
    return rng_state;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, errstr);
    exit(1);
}

/* ---- producing ---- */

static void produce_raw(const char *topic, const char *key, const void *val, size_t len)
{
    if (ps_kafka_produce(prod, topic, key, key != NULL ? strlen(key) : 0, val, len, 30000,
                         errstr, sizeof(errstr)) != PS_OK)
        die("produce");
    produced++;
    if (strcmp(topic, topic_cb) == 0)
        produced_cb++;
}

static int emit(void *opaque, const char *key, const ps_callback_event_t *ev)
{
    ps_buf_t *buf = opaque;

    if (ps_avro_encode_callback_event(codec, ev, buf, errstr, sizeof(errstr)) != PS_OK)
        die("encode");
    produce_raw(topic_cb, key, buf->data, buf->len);
    return 0;
}

static void flush(void)
{
    if (ps_kafka_flush(prod, &dlv, produced, 60000, errstr, sizeof(errstr)) != PS_OK)
        die("flush");
}

/* Generates payments [from, to) into g and produces them. */
static void generate(proc_gen_t *g, int64_t from, int64_t to)
{
    ps_buf_t buf;

    ps_buf_init(&buf, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int64_t j = from; j < to; j++)
        proc_gen_payment(g, j, emit, &buf);
    ps_buf_deinit(&buf);
    flush();
}

static void setup(int partitions)
{
    rd_kafka_conf_t *conf = NULL;
    const char *topics[2] = {topic_cb, topic_cmd};
    const char *bd = getenv("PAYSTREAM_BUILD_DIR");

    brokers = test_require_env("PAYSTREAM_TEST_KAFKA");
    snprintf(bin, sizeof(bin), "%s/processor/paystream-processor", bd != NULL ? bd : ".");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "cannot run \"%s\": set PAYSTREAM_BUILD_DIR (ctest does)\n", bin);
        exit(1);
    }
    snprintf(log_path, sizeof(log_path), "/tmp/proc_test_%ld.log", (long)getpid());
    snprintf(topic_cb, sizeof(topic_cb), "proc-test-%ld-callbacks", (long)getpid());
    snprintf(topic_cmd, sizeof(topic_cmd), "proc-test-%ld-commands", (long)getpid());
    snprintf(group, sizeof(group), "proc-test-%ld", (long)getpid());
    proc_test_db_create(&db, 1);
    if (ps_avro_codec_new(&codec, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_new(PS_KAFKA_PRODUCER, &conf, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) != PS_OK)
        die("setup");
    ps_kafka_conf_set_delivery(conf, &dlv);
    if (ps_kafka_new(PS_KAFKA_PRODUCER, &conf, &prod, errstr, sizeof(errstr)) != PS_OK ||
        ps_kafka_create_topics(prod, topics, 2, partitions, 1, 30000, errstr, sizeof(errstr)) !=
            PS_OK)
        die("setup kafka");
}

static void teardown(void)
{
    const char *topics[2] = {topic_cb, topic_cmd};

    if (ps_kafka_delete_topics(prod, topics, 2, 30000, errstr, sizeof(errstr)) != PS_OK)
        fprintf(stderr, "warning: %s\n", errstr);
    rd_kafka_destroy(prod);
    ps_avro_codec_destroy(codec);
    proc_test_db_drop(&db);
}

/* ---- the processor as a child process ---- */

typedef struct spawn_opts {
    const char *instance;
    const char *static_id; /* group.instance.id, or NULL */
    int metrics_port;
    int batch_max;
} spawn_opts_t;

static pid_t spawn(const spawn_opts_t *o)
{
    char port[16], batch[16];
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    snprintf(port, sizeof(port), "%d", o->metrics_port);
    snprintf(batch, sizeof(batch), "%d", o->batch_max > 0 ? o->batch_max : 2000);
    setenv("PAYSTREAM_PG_CONNINFO", db.conninfo, 1);
    setenv("PAYSTREAM_TOPIC_CALLBACKS", topic_cb, 1);
    setenv("PAYSTREAM_TOPIC_COMMANDS", topic_cmd, 1);
    setenv("PAYSTREAM_PROCESSOR_GROUP", group, 1);
    setenv("PAYSTREAM_PROCESSOR_INSTANCE", o->instance, 1);
    setenv("PAYSTREAM_PROCESSOR_METRICS_PORT", port, 1);
    setenv("PAYSTREAM_PROCESSOR_BATCH_EVENTS_MAX", batch, 1);
    setenv("PAYSTREAM_PROCESSOR_RETRY_BACKOFF_MIN_MS", "50", 1);
    setenv("PAYSTREAM_PROCESSOR_RETRY_BACKOFF_MAX_MS", "1000", 1);
    setenv("PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS", brokers, 1);
    setenv("PAYSTREAM_KAFKA_SESSION_TIMEOUT_MS", "6000", 1);
    setenv("PAYSTREAM_KAFKA_HEARTBEAT_INTERVAL_MS", "1000", 1);
    if (o->static_id != NULL)
        setenv("PAYSTREAM_KAFKA_GROUP_INSTANCE_ID", o->static_id, 1);
    if (freopen(log_path, "a", stderr) == NULL)
        _exit(126);
    execl(bin, bin, "run", (char *)NULL);
    _exit(127);
}

/* Waits up to timeout_ms for pid; returns its wait status, or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int status = 0;

    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(50)) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
    }
    return -1;
}

/* SIGTERM must finish the batch, leave the group and exit 0. */
static void check_term(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    status = wait_exit(pid, 40000);
    CHECK(status != -1);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return;
    }
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

static void kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Runs `paystream-processor <args>` against the test database; returns the exit code. */
static int run_cli(const char *args, char *out, size_t out_size)
{
    char cmd[4096];
    FILE *p;
    size_t n = 0;
    int status;

    snprintf(cmd, sizeof(cmd),
             "PAYSTREAM_PG_CONNINFO='%s' PAYSTREAM_KAFKA_BOOTSTRAP_SERVERS='%s' %s %s 2>&1",
             db.conninfo, brokers, bin, args);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    if (out != NULL && out_size > 0) {
        n = fread(out, 1, out_size - 1, p);
        out[n] = '\0';
    }
    status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- waiting and checking ---- */

static bool wait_applied(PGconn *conn, long long events, long long journals, int timeout_s)
{
    long long e = -1, j = -1;

    for (int64_t end = now_ms() + timeout_s * 1000LL; now_ms() < end; sleep_ms(200)) {
        e = proc_test_scalar(conn, "SELECT count(*) FROM payment_events");
        j = proc_test_scalar(conn, "SELECT count(*) FROM journals");
        if (e >= events && j >= journals)
            return true;
    }
    fprintf(stderr, "timed out: %lld of %lld events, %lld of %lld journals applied\n", e, events,
            j, journals);
    return false;
}

static long long count_where(PGconn *conn, const char *table, const char *where)
{
    char sql[512];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", table, where);
    return proc_test_scalar(conn, sql);
}

/* Every account balance equals the expectation of g, and nothing else holds money. */
static void check_ledger(PGconn *conn, const proc_gen_t *g)
{
    PGresult *res = PQexec(conn, "SELECT account_id, currency, balance_minor FROM accounts");
    long long nonzero_expected = 0, matched = 0;

    REQUIRE(PQresultStatus(res) == PGRES_TUPLES_OK);
    for (int p = 0; p < PROC_GEN_PLAYERS; p++)
        nonzero_expected += (g->player_balance[p][0] != 0) + (g->player_balance[p][1] != 0);
    for (int c = 0; c < PS_CHANNEL_COUNT; c++)
        nonzero_expected += g->clearing_balance[c] != 0;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *acct = PQgetvalue(res, r, 0);
        bool usd = strcmp(PQgetvalue(res, r, 1), "USD") == 0;
        long long bal = strtoll(PQgetvalue(res, r, 2), NULL, 10), want = 0;
        if (strncmp(acct, "player-", 7) == 0)
            want = g->player_balance[strtol(acct + 7, NULL, 10) % PROC_GEN_PLAYERS][usd];
        for (int c = 0; c < PS_CHANNEL_COUNT; c++) {
            char name[64];
            snprintf(name, sizeof(name), "clearing:%s", ps_channel_name((ps_channel_t)c));
            if (strcmp(acct, name) == 0)
                want = g->clearing_balance[c];
        }
        if (bal != want)
            fprintf(stderr, "account \"%s\" %s: balance %lld, expected %lld\n", acct,
                    PQgetvalue(res, r, 1), bal, want);
        CHECK(bal == want);
        matched += want != 0 && bal == want;
    }
    CHECK_INT(matched, nonzero_expected);
    PQclear(res);
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM journals"), g->journals);
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM payment_events"), g->events_distinct);
    CHECK_INT(count_where(conn, "payments", "state = 'REFUNDED'"), g->full_refunds);
    CHECK_INT(count_where(conn, "payments", "state = 'PARTIALLY_REFUNDED'"), g->partial_refunds);
    CHECK_INT(count_where(conn, "payments", "state = 'PAID'"), g->payments - g->refunds);
    CHECK_INT(count_where(conn, "accounts a",
                          "balance_minor <> (SELECT coalesce(sum(e.amount_minor), 0) FROM "
                          "ledger_entries e WHERE e.account_id = a.account_id AND "
                          "e.currency = a.currency)"),
              0);
}

static void check_audit(void)
{
    char out[8192];
    int rc = run_cli("audit", out, sizeof(out));

    if (rc != 0)
        fprintf(stderr, "audit failed (exit %d):\n%s\n", rc, out);
    CHECK_INT(rc, 0);
}

/* The stored offsets of the callbacks topic cover every message produced to it. */
static void check_offsets_at_end(PGconn *conn)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT sum(greatest(next_offset, 0)) FROM kafka_offsets WHERE consumer_group = "
             "'%s' AND topic = '%s'",
             group, topic_cb);
    CHECK_INT(proc_test_scalar(conn, sql), (long long)produced_cb);
}

/* ---- the loop test (integration) ---- */

static void produce_poison(void)
{
    static const uint8_t garbage[] = "not avro at all";
    uint8_t unknown_fp[20] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0};
    ps_callback_event_t ev;
    ps_buf_t buf;
    proc_gen_t scratch = {.seed = 999};

    produce_raw(topic_cb, "POISON:1", garbage, sizeof(garbage) - 1);
    produce_raw(topic_cb, "POISON:2", unknown_fp, sizeof(unknown_fp));
    /* A valid event cut short: header and fingerprint right, body truncated. */
    ps_buf_init(&buf, PS_AVRO_MESSAGE_BYTES_MAX);
    proc_gen_fill(&scratch, 1, 0, &ev);
    if (ps_avro_encode_callback_event(codec, &ev, &buf, errstr, sizeof(errstr)) != PS_OK)
        die("encode");
    produce_raw(topic_cb, "POISON:3", buf.data, buf.len / 2);
    ps_callback_event_deinit(&ev);
    ps_buf_deinit(&buf);
}

/* A COMPENSATE command, sent twice: one journal (player-001 CNY -777, clearing +777). */
static void produce_command(proc_gen_t *g)
{
    ps_ledger_command_t cmd;
    ps_buf_t buf;

    memset(&cmd, 0, sizeof(cmd));
    cmd.command_id = ps_strdup("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00");
    cmd.kind = PS_COMMAND_COMPENSATE;
    cmd.channel = PS_CHANNEL_WECHAT;
    cmd.payment_key = ps_strdup("CMD-ORDER-1");
    cmd.amount_minor = 777;
    memcpy(cmd.currency, "CNY", 4);
    cmd.account_id = ps_strdup("player-001");
    cmd.reason = ps_strdup("MISSING_IN_LEDGER: statement 7.77 CNY");
    cmd.recon_run_id = ps_strdup("run-test-1");
    cmd.created_time_us = PROC_GEN_BASE_TIME_US;
    ps_buf_init(&buf, PS_AVRO_MESSAGE_BYTES_MAX);
    if (ps_avro_encode_ledger_command(codec, &cmd, &buf, errstr, sizeof(errstr)) != PS_OK)
        die("encode command");
    produce_raw(topic_cmd, "WECHAT:CMD-ORDER-1", buf.data, buf.len);
    produce_raw(topic_cmd, "WECHAT:CMD-ORDER-1", buf.data, buf.len);
    ps_buf_deinit(&buf);
    ps_ledger_command_deinit(&cmd);
    g->player_balance[1][0] -= 777;
    g->clearing_balance[PS_CHANNEL_WECHAT] += 777;
    g->journals++;
    g->payments++; /* PAID, no refund */
}

/* The value of a series: "\n<series>" at a line start, so # HELP lines never match. */
static long long metric(const char *text, const char *series)
{
    char needle[256];
    const char *p;

    snprintf(needle, sizeof(needle), "\n%s", series);
    p = strstr(text, needle);
    return p == NULL ? -1 : strtoll(p + strlen(needle), NULL, 10);
}

static void check_metrics(int port, const proc_gen_t *g)
{
    char cmd[256], text[65536];
    size_t n;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/metrics", port);
    p = popen(cmd, "r");
    REQUIRE(p != NULL);
    n = fread(text, 1, sizeof(text) - 1, p);
    text[n] = '\0';
    pclose(p);
    CHECK_INT(metric(text, "paystream_processor_applied_total{kind=\"event\"} "),
              g->events_distinct);
    CHECK_INT(metric(text, "paystream_processor_duplicates_total{kind=\"event\"} "),
              g->duplicates);
    CHECK_INT(metric(text, "paystream_processor_dead_lettered_total "), 3);
    CHECK_INT(metric(text, "paystream_processor_journals_posted_total "), g->journals);
    CHECK_CONTAINS(text, "paystream_processor_batch_seconds_bucket");
    CHECK_CONTAINS(text, "paystream_processor_lag_messages{");
}

static void test_loop(void)
{
    proc_gen_t g = {.seed = 11};
    int port = 20000 + (int)(getpid() % 20000);
    spawn_opts_t o = {.instance = "loop-1", .metrics_port = port, .batch_max = 300};
    PGconn *conn = proc_test_connect(&db);
    char out[8192];
    pid_t pid;

    generate(&g, 0, 600);
    produce_poison();
    produce_command(&g);
    flush();
    pid = spawn(&o);
    CHECK(wait_applied(conn, g.events_distinct, g.journals, WAIT_S_MAX));
    CHECK(wait_applied(conn, g.events_distinct, g.journals, 5)); /* settle */
    sleep_ms(1500); /* one lag refresh */
    check_metrics(port, &g);
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM dead_letters"), 3);
    check_term(pid);
    check_ledger(conn, &g);
    check_offsets_at_end(conn);
    CHECK_INT(count_where(conn, "payment_events", "kafka_topic <> ''"), g.events_distinct);

    /* A restart resumes from the stored offsets: nothing is applied again. */
    generate(&g, 600, 700);
    o.instance = "loop-2";
    pid = spawn(&o);
    CHECK(wait_applied(conn, g.events_distinct, g.journals, WAIT_S_MAX));
    sleep_ms(1000);
    check_term(pid);
    check_ledger(conn, &g);
    check_offsets_at_end(conn);
    check_audit();

    /* dead-letters: list, then re-drive one; it comes back as a new dead letter. */
    CHECK_INT(run_cli("dead-letters list", out, sizeof(out)), 0);
    CHECK_CONTAINS(out, "3 dead letters");
    CHECK_CONTAINS(out, topic_cb);
    CHECK_INT(run_cli("dead-letters list --limit nope", out, sizeof(out)), 2);
    CHECK_INT(run_cli("dead-letters redrive", out, sizeof(out)), 2);
    CHECK_INT(run_cli("dead-letters bogus", out, sizeof(out)), 2);
    CHECK_INT(run_cli("dead-letters redrive --id 1", out, sizeof(out)), 0);
    CHECK_CONTAINS(out, "re-drove 1 dead letter");
    CHECK_INT(run_cli("dead-letters redrive --id 1", out, sizeof(out)), 0);
    CHECK_CONTAINS(out, "re-drove 0 dead letters");
    CHECK_INT(run_cli("dead-letters list --pending", out, sizeof(out)), 0);
    CHECK_CONTAINS(out, "2 dead letters");
    produced_cb++; /* the re-driven copy */
    pid = spawn(&o);
    for (int64_t end = now_ms() + 60000; now_ms() < end; sleep_ms(200)) {
        if (proc_test_scalar(conn, "SELECT count(*) FROM dead_letters") == 4)
            break;
    }
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM dead_letters"), 4);
    check_term(pid);
    check_offsets_at_end(conn);
    check_ledger(conn, &g);
    PQfinish(conn);
}

/* ---- fault scenarios (system) ---- */

/* Payments needed for about events_target events (1.65 events per payment on average). */
static int64_t payments_for(int64_t events_target)
{
    return events_target * 100 / 165;
}

/*
 * 100,000 events; the processor is killed with SIGKILL at a random moment
 * after each start, at least 20 times, and restarted; then it runs to the end.
 * Static group membership makes a restarted instance take its partitions back
 * without waiting for the dead one's session to expire.
 */
static void test_crash(void)
{
    proc_gen_t g = {.seed = 21};
    spawn_opts_t o = {.instance = "crash", .static_id = "crash-1", .batch_max = 1000};
    PGconn *conn = proc_test_connect(&db);
    int kills = 0;
    pid_t pid;

    generate(&g, 0, payments_for(100000));
    fprintf(stderr, "produced %" PRId64 " events (%" PRId64 " distinct) for %" PRId64
                    " payments\n",
            g.events_emitted, g.events_distinct, g.payments);
    CHECK(g.events_emitted >= 100000 - 1000);
    for (; kills < 20; kills++) {
        pid = spawn(&o);
        sleep_ms(400 + (int)(rnd() % 2600));
        kill9(pid);
        fprintf(stderr, "kill %d: %lld events applied so far\n", kills + 1,
                proc_test_scalar(conn, "SELECT count(*) FROM payment_events"));
    }
    pid = spawn(&o);
    CHECK(wait_applied(conn, g.events_distinct, g.journals, WAIT_S_MAX));
    sleep_ms(1000);
    check_term(pid);
    CHECK(kills >= 20);
    check_ledger(conn, &g);
    check_offsets_at_end(conn);
    check_audit();
    PQfinish(conn);
}

/*
 * Two instances in one group; A is stopped past its session timeout, B takes
 * every partition (and bumps the owner tokens), A is continued: whatever A
 * had in flight must be fenced, nothing applied twice.
 */
static void test_zombie(void)
{
    proc_gen_t g = {.seed = 31};
    spawn_opts_t a = {.instance = "zombie-a", .batch_max = 500};
    spawn_opts_t b = {.instance = "zombie-b", .batch_max = 500};
    PGconn *conn = proc_test_connect(&db);
    pid_t pa, pb;

    generate(&g, 0, payments_for(20000));
    pa = spawn(&a);
    pb = spawn(&b);
    sleep_ms(9000); /* both joined and applying */
    generate(&g, payments_for(20000), payments_for(60000));
    kill(pa, SIGSTOP);
    fprintf(stderr, "stopped A with %lld events applied\n",
            proc_test_scalar(conn, "SELECT count(*) FROM payment_events"));
    sleep_ms(12000); /* > session.timeout.ms 6000: B takes over */
    generate(&g, payments_for(60000), payments_for(80000));
    kill(pa, SIGCONT);
    fprintf(stderr, "continued A with %lld events applied\n",
            proc_test_scalar(conn, "SELECT count(*) FROM payment_events"));
    CHECK(wait_applied(conn, g.events_distinct, g.journals, WAIT_S_MAX));
    sleep_ms(3000);
    check_term(pa);
    check_term(pb);
    check_ledger(conn, &g);
    check_offsets_at_end(conn);
    CHECK(count_where(conn, "kafka_offsets", "owner_token > 1") > 0); /* ownership moved */
    check_audit();
    PQfinish(conn);
}

/* A service restarted mid-run by PROC_FAULT_RESTART_CMD: nothing lost, nothing doubled. */
static void test_restart(void)
{
    const char *cmd = test_require_env("PROC_FAULT_RESTART_CMD");
    proc_gen_t g = {.seed = 41};
    spawn_opts_t o = {.instance = "restart", .batch_max = 1000};
    PGconn *conn;
    pid_t pid;
    int rc;

    generate(&g, 0, payments_for(30000));
    pid = spawn(&o);
    conn = proc_test_connect(&db);
    for (int64_t end = now_ms() + 60000; now_ms() < end; sleep_ms(100)) {
        if (proc_test_scalar(conn, "SELECT count(*) FROM payment_events") > 2000)
            break;
    }
    PQfinish(conn);
    fprintf(stderr, "restarting: %s\n", cmd);
    rc = system(cmd);
    CHECK_INT(rc, 0);
    generate(&g, payments_for(30000), payments_for(60000));
    conn = proc_test_connect(&db);
    CHECK(wait_applied(conn, g.events_distinct, g.journals, WAIT_S_MAX));
    sleep_ms(1000);
    check_term(pid);
    check_ledger(conn, &g);
    check_offsets_at_end(conn);
    check_audit();
    PQfinish(conn);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "loop";

    rng_state = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    fprintf(stderr, "mode %s, random seed %" PRIu64 "\n", mode, rng_state);
    setup(4);
    fprintf(stderr, "processor log: %s\n", log_path);
    if (strcmp(mode, "loop") == 0)
        RUN(test_loop);
    else if (strcmp(mode, "crash") == 0)
        RUN(test_crash);
    else if (strcmp(mode, "zombie") == 0)
        RUN(test_zombie);
    else if (strcmp(mode, "restart") == 0)
        RUN(test_restart);
    else
        fprintf(stderr, "unknown mode \"%s\"\n", mode), test_failed_count++;
    teardown();
    return test_summary();
}
