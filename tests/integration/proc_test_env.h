/*
 * Shared set-up of the processor's integration tests (test_proc_*.c): a
 * throwaway database per test program, migrated with the real migrations, and
 * unique topic names, so that tests never touch the shared "paystream"
 * database or each other's topics. Header-only: each test is one program.
 */
#ifndef PROC_TEST_ENV_H
#define PROC_TEST_ENV_H

#include "migrate.h"
#include "test.h"

#include <paystream/limits.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct proc_test_db {
    char name[96];
    char *conninfo; /* owned: the admin conninfo with dbname replaced */
    const char *admin_conninfo;
} proc_test_db_t;

/* Runs one statement on the admin database; exits the test on failure. */
static inline void proc_test_admin(const char *admin_conninfo, const char *sql)
{
    char errstr[PS_ERRSTR_SIZE];
    PGconn *conn = NULL;

    if (ps_pg_connect(admin_conninfo, &conn, errstr, sizeof(errstr)) != PS_OK ||
        ps_pg_exec(conn, sql, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s: %s\n", sql, errstr);
        PQfinish(conn);
        exit(1);
    }
    PQfinish(conn);
}

/* Creates and migrates proc_test_<pid>_<n>; exits the test on failure. */
static inline void proc_test_db_create(proc_test_db_t *db, int n)
{
    char sql[160], errstr[PS_ERRSTR_SIZE], dir[1024];
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    db->admin_conninfo = test_require_env("PAYSTREAM_TEST_PG");
    snprintf(db->name, sizeof(db->name), "proc_test_%ld_%d", (long)getpid(), n);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    proc_test_admin(db->admin_conninfo, sql);
    snprintf(dir, sizeof(dir), "%s/schemas/postgres", src != NULL ? src : ".");
    if (ps_pg_conninfo_set(db->admin_conninfo, "dbname", db->name, &db->conninfo, errstr,
                           sizeof(errstr)) != PS_OK ||
        proc_migrate(db->conninfo, dir, NULL, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "could not prepare test database \"%s\": %s\n", db->name, errstr);
        exit(1);
    }
}

static inline void proc_test_db_drop(proc_test_db_t *db)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    proc_test_admin(db->admin_conninfo, sql);
    ps_free(db->conninfo);
    db->conninfo = NULL;
}

/* Connects to the test database; exits the test on failure. */
static inline PGconn *proc_test_connect(const proc_test_db_t *db)
{
    char errstr[PS_ERRSTR_SIZE];
    PGconn *conn = NULL;

    if (ps_pg_connect(db->conninfo, &conn, errstr, sizeof(errstr)) != PS_OK) {
        fprintf(stderr, "%s\n", errstr);
        exit(1);
    }
    return conn;
}

/* A scalar query's int64 result, or -999 when it fails (a check then fails). */
static inline long long proc_test_scalar(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    long long v = -999;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, PQerrorMessage(conn));
    PQclear(res);
    return v;
}

#endif
