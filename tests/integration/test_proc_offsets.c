/*
 * Offsets-in-PostgreSQL protocol of the processor (processor/offsets.c)
 * against a real PostgreSQL: claim inserts or bumps the owner token, the
 * compare-and-set matches only with the current token and the expected
 * stored offset, a stale owner (zombie) is fenced, a multi-partition CAS is
 * all-or-nothing, and a claim waits for an in-flight apply transaction then
 * sees its offset.
 */
#include "offsets.h"
#include "proc_test_env.h"

#include <paystream/pg.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static proc_test_db_t db;
static char errstr[PS_ERRSTR_SIZE];

#define GROUP "g-test"

static long long stored(PGconn *conn, const char *topic, int partition, const char *col)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT %s FROM kafka_offsets WHERE consumer_group = '" GROUP
             "' AND topic = '%s' AND partition = %d",
             col, topic, partition);
    return proc_test_scalar(conn, sql);
}

/* A first claim inserts rows at -2 (beginning) with token 1; a second bumps the token only. */
static void test_claim_inserts_then_bumps(void)
{
    PGconn *conn = proc_test_connect(&db);
    proc_offset_t offs[2] = {{.topic = "t.claim", .partition = 0},
                             {.topic = "t.claim", .partition = 3}};

    CHECK_INT(proc_offsets_claim(conn, GROUP, "a:1", offs, 2, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(offs[0].next_offset, PROC_OFFSET_BEGINNING);
    CHECK_INT(offs[1].next_offset, PROC_OFFSET_BEGINNING);
    CHECK_INT(offs[0].token, 1);
    CHECK_INT(offs[1].token, 1);
    CHECK_INT(proc_offsets_claim(conn, GROUP, "b:2", offs, 2, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(offs[0].token, 2);
    CHECK_INT(offs[1].token, 2);
    CHECK_INT(offs[1].next_offset, PROC_OFFSET_BEGINNING);
    CHECK_INT(stored(conn, "t.claim", 3, "owner_token"), 2);
    CHECK_INT(proc_test_scalar(conn, "SELECT count(*) FROM kafka_offsets WHERE owner = 'b:2'"), 2);
    PQfinish(conn);
}

/* CAS from -2 stores the real offset; stale tokens and wrong expectations match nothing. */
static void test_cas_token_and_expected(void)
{
    PGconn *conn = proc_test_connect(&db);
    proc_offset_t o = {.topic = "t.cas", .partition = 1};
    size_t fenced = 99;

    REQUIRE(proc_offsets_claim(conn, GROUP, "a:1", &o, 1, errstr, sizeof(errstr)) == PS_OK);
    o.new_next = 42; /* first consumed offset was 0..41: store the real position */
    CHECK_INT(proc_offsets_cas(conn, GROUP, &o, 1, NULL, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(stored(conn, "t.cas", 1, "next_offset"), 42);

    /* Expected offset wrong (a gap or an overlap): fenced, nothing changes. */
    o.next_offset = 40;
    o.new_next = 50;
    CHECK_INT(proc_offsets_cas(conn, GROUP, &o, 1, &fenced, errstr, sizeof(errstr)),
              PS_ERR_FENCED);
    CHECK_INT(fenced, 0);
    CHECK_CONTAINS(errstr, "fenced on partition 1 of topic \"t.cas\"");
    CHECK_INT(stored(conn, "t.cas", 1, "next_offset"), 42);

    /* Stale token: fenced. */
    o.next_offset = 42;
    o.token = o.token - 1;
    CHECK_INT(proc_offsets_cas(conn, GROUP, &o, 1, NULL, errstr, sizeof(errstr)), PS_ERR_FENCED);
    CHECK_INT(stored(conn, "t.cas", 1, "next_offset"), 42);

    /* Right token and expectation: moves. */
    o.token = o.token + 1;
    CHECK_INT(proc_offsets_cas(conn, GROUP, &o, 1, NULL, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(stored(conn, "t.cas", 1, "next_offset"), 50);
    PQfinish(conn);
}

/* A zombie (older claim) is fenced once a new owner claimed; the new owner continues. */
static void test_zombie_fenced(void)
{
    PGconn *a = proc_test_connect(&db), *b = proc_test_connect(&db);
    proc_offset_t za = {.topic = "t.zombie", .partition = 0}, zb = za;

    REQUIRE(proc_offsets_claim(a, GROUP, "a:1", &za, 1, errstr, sizeof(errstr)) == PS_OK);
    za.new_next = 10;
    REQUIRE(proc_offsets_cas(a, GROUP, &za, 1, NULL, errstr, sizeof(errstr)) == PS_OK);
    za.next_offset = 10;
    /* b takes over while a is stopped */
    REQUIRE(proc_offsets_claim(b, GROUP, "b:2", &zb, 1, errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(zb.next_offset, 10);
    CHECK(zb.token > za.token);
    /* a wakes up and tries to commit the batch 10..19 inside a transaction */
    REQUIRE(ps_pg_exec(a, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    za.new_next = 20;
    CHECK_INT(proc_offsets_cas(a, GROUP, &za, 1, NULL, errstr, sizeof(errstr)), PS_ERR_FENCED);
    CHECK_INT(ps_pg_exec(a, "ROLLBACK", errstr, sizeof(errstr)), PS_OK);
    zb.new_next = 15;
    CHECK_INT(proc_offsets_cas(b, GROUP, &zb, 1, NULL, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(stored(b, "t.zombie", 0, "next_offset"), 15);
    za.next_offset = 0;
    za.token = 0;
    CHECK_INT(proc_offsets_read(a, GROUP, &za, 1, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(za.next_offset, 15);
    CHECK_INT(za.token, zb.token);
    PQfinish(a);
    PQfinish(b);
}

/* A batch over two partitions where one is fenced: the caller rolls back, neither moves. */
static void test_cas_all_or_nothing(void)
{
    PGconn *conn = proc_test_connect(&db);
    proc_offset_t offs[2] = {{.topic = "t.multi", .partition = 0},
                             {.topic = "t.multi", .partition = 1}};
    size_t fenced = 99;

    REQUIRE(proc_offsets_claim(conn, GROUP, "a:1", offs, 2, errstr, sizeof(errstr)) == PS_OK);
    offs[0].new_next = 5;
    offs[1].new_next = 7;
    offs[1].token = 77; /* not ours */
    REQUIRE(ps_pg_exec(conn, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(proc_offsets_cas(conn, GROUP, offs, 2, &fenced, errstr, sizeof(errstr)),
              PS_ERR_FENCED);
    CHECK_INT(fenced, 1);
    REQUIRE(ps_pg_exec(conn, "ROLLBACK", errstr, sizeof(errstr)) == PS_OK);
    CHECK_INT(stored(conn, "t.multi", 0, "next_offset"), -2);
    CHECK_INT(stored(conn, "t.multi", 1, "next_offset"), -2);
    PQfinish(conn);
}

typedef struct claimer {
    const char *conninfo;
    proc_offset_t off;
    ps_err_t err;
    atomic_int done;
} claimer_t;

static void *claim_thread(void *arg)
{
    claimer_t *c = arg;
    char e[PS_ERRSTR_SIZE];
    PGconn *conn = NULL;

    c->err = ps_pg_connect(c->conninfo, &conn, e, sizeof(e));
    if (c->err == PS_OK)
        c->err = proc_offsets_claim(conn, GROUP, "b:2", &c->off, 1, e, sizeof(e));
    PQfinish(conn);
    atomic_store(&c->done, 1);
    return NULL;
}

/*
 * The old owner has already done its CAS but not committed when the new owner
 * claims: the claim waits for the row lock and then reads the committed
 * offset, so the batch the old owner legitimately applied is not redone.
 */
static void test_claim_waits_for_inflight_commit(void)
{
    PGconn *a = proc_test_connect(&db);
    claimer_t c = {.conninfo = db.conninfo, .off = {.topic = "t.wait", .partition = 0}};
    proc_offset_t o = {.topic = "t.wait", .partition = 0};
    pthread_t th;

    REQUIRE(proc_offsets_claim(a, GROUP, "a:1", &o, 1, errstr, sizeof(errstr)) == PS_OK);
    REQUIRE(ps_pg_exec(a, "BEGIN", errstr, sizeof(errstr)) == PS_OK);
    o.new_next = 100;
    REQUIRE(proc_offsets_cas(a, GROUP, &o, 1, NULL, errstr, sizeof(errstr)) == PS_OK);
    atomic_init(&c.done, 0);
    REQUIRE(pthread_create(&th, NULL, claim_thread, &c) == 0);
    usleep(300 * 1000);
    CHECK_INT(atomic_load(&c.done), 0); /* blocked on the row lock */
    CHECK_INT(ps_pg_exec(a, "COMMIT", errstr, sizeof(errstr)), PS_OK);
    pthread_join(th, NULL);
    CHECK_INT(c.err, PS_OK);
    CHECK_INT(c.off.next_offset, 100);
    CHECK_INT(c.off.token, o.token + 1);
    PQfinish(a);
}

/* Bad arguments and hostile topic names: clear errors, no crash, exact round trip. */
static void test_bad_input(void)
{
    PGconn *conn = proc_test_connect(&db);
    proc_offset_t bad = {.topic = "", .partition = 0};
    proc_offset_t neg = {.topic = "t", .partition = -1};
    proc_offset_t odd = {.topic = "we\"ird\\to,pic{}NULL", .partition = 2};
    proc_offset_t missing = {.topic = "t.none", .partition = 0};
    char longname[PS_PROC_TOPIC_BYTES_MAX + 10];

    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &bad, 1, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "invalid partition 0 of topic \"\"");
    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &neg, 1, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &neg, 0, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_CONTAINS(errstr, "0 partitions given");
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    bad.topic = longname;
    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &bad, 1, errstr, sizeof(errstr)),
              PS_ERR_INVALID);
    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &odd, 1, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(odd.token, 1);
    odd.new_next = 3;
    CHECK_INT(proc_offsets_cas(conn, GROUP, &odd, 1, NULL, errstr, sizeof(errstr)), PS_OK);
    odd.next_offset = 0;
    CHECK_INT(proc_offsets_read(conn, GROUP, &odd, 1, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(odd.next_offset, 3);
    CHECK_INT(proc_offsets_read(conn, GROUP, &missing, 1, errstr, sizeof(errstr)),
              PS_ERR_NOT_FOUND);
    CHECK_CONTAINS(errstr, "no stored offset for partition 0 of topic \"t.none\"");
    PQfinish(conn);
}

/* A broken connection is retriable, so the loop reconnects instead of dying. */
static void test_lost_connection_retriable(void)
{
    PGconn *conn = proc_test_connect(&db), *killer = proc_test_connect(&db);
    proc_offset_t o = {.topic = "t.lost", .partition = 0};
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(conn));
    REQUIRE(proc_test_scalar(killer, "SELECT 1") == 1);
    PQclear(PQexec(killer, sql));
    CHECK_INT(proc_offsets_claim(conn, GROUP, "a", &o, 1, errstr, sizeof(errstr)),
              PS_ERR_RETRIABLE);
    CHECK_CONTAINS(errstr, "could not claim offsets of group");
    PQfinish(conn);
    PQfinish(killer);
}

int main(void)
{
    proc_test_db_create(&db, 1);
    RUN(test_claim_inserts_then_bumps);
    RUN(test_cas_token_and_expected);
    RUN(test_zombie_fenced);
    RUN(test_cas_all_or_nothing);
    RUN(test_claim_waits_for_inflight_commit);
    RUN(test_bad_input);
    RUN(test_lost_connection_retriable);
    proc_test_db_drop(&db);
    return test_summary();
}
