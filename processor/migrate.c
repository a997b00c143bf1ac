/*
 * Schema migrations (see migrate.h and schemas/postgres/README.md).
 *
 * Two halves: the directory side reads and validates every file before the
 * database is touched (so a bad name or an oversized file changes nothing),
 * and the database side serializes runners with an advisory lock, checks
 * the applied history against the files, then applies what is pending, one
 * transaction per file. Migrations are append-only: a checksum mismatch on
 * an applied file is an error, never a silent re-apply.
 */
#include "migrate.h"

#include <paystream/assert.h>
#include <paystream/buf.h>
#include <paystream/limits.h>
#include <paystream/log.h>
#include <paystream/mem.h>
#include <paystream/pg.h>

#include <openssl/evp.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Session advisory lock key shared by every migrate runner: the ASCII bytes
 * of "psmigrat". Any constant works as long as nothing else uses it.
 */
#define MIGRATE_LOCK_KEY "8102940454044197236"
/* sha256 in lower-case hex, NUL included. */
#define SHA256_HEX_BYTES 65

typedef struct migration {
    int version;
    char name[PS_MIGRATION_NAME_BYTES_MAX];
    char *sql; /* owned, NUL-terminated */
    size_t sql_len;
    char sha256[SHA256_HEX_BYTES];
} migration_t;

typedef struct migration_set {
    migration_t *items; /* owned, sorted by version */
    size_t count;
} migration_set_t;

static void set_deinit(migration_set_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        ps_free(set->items[i].sql);
    ps_free(set->items);
    set->items = NULL;
    set->count = 0;
}

/* NNN_name.sql with name in [a-z0-9_]+; writes the number to *version. */
static bool parse_name(const char *name, int *version)
{
    size_t len = strlen(name);

    if (len < 9 || len >= PS_MIGRATION_NAME_BYTES_MAX || strcmp(name + len - 4, ".sql") != 0)
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
    }
    if (name[3] != '_')
        return false;
    for (size_t i = 4; i < len - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    *version = (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
    return *version > 0;
}

static void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    PS_ASSERT(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) == 1);
    PS_ASSERT(md_len == 32);
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[64] = '\0';
}

/* Reads one regular file, bounded, into m->sql and checksums it. */
static ps_err_t read_migration(const char *dir, migration_t *m, char *errstr, size_t errstr_size)
{
    char path[PATH_MAX], chunk[8192];
    ps_buf_t buf;
    struct stat st;
    FILE *f = NULL;
    size_t n;
    ps_err_t err = PS_OK;

    ps_buf_init(&buf, PS_MIGRATION_FILE_BYTES_MAX);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, m->name) >= sizeof(path)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "migration path too long in directory \"%s\"", dir);
        goto out;
    }
    errno = 0;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (f = fopen(path, "rb")) == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not read migration \"%s\": %s",
                            path, errno != 0 ? strerror(errno) : "not a regular file");
        goto out;
    }
    while (err == PS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        err = ps_buf_append(&buf, chunk, n);
    if (err != PS_OK) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "migration \"%s\" is larger than %d bytes "
                            "(PS_MIGRATION_FILE_BYTES_MAX)",
                            m->name, PS_MIGRATION_FILE_BYTES_MAX);
        goto out;
    }
    if (ferror(f)) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_IO, "could not read migration \"%s\": %s",
                            path, strerror(errno));
        goto out;
    }
    /* PQexec stops at a NUL byte: the rest of the file would silently not run. */
    if (buf.len > 0 && memchr(buf.data, '\0', buf.len) != NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "migration \"%s\" contains a NUL byte", m->name);
        goto out;
    }
    sha256_hex(buf.data != NULL ? buf.data : (const uint8_t *)"", buf.len, m->sha256);
    m->sql = (char *)ps_buf_steal(&buf, &m->sql_len);
out:
    if (f != NULL)
        fclose(f);
    ps_buf_deinit(&buf);
    return err;
}

static int cmp_version(const void *a, const void *b)
{
    const migration_t *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

/* Collects the valid names of dir into set (sql not read yet). */
static ps_err_t list_names(const char *dir, migration_set_t *set, char *errstr,
                           size_t errstr_size)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    ps_err_t err = PS_OK;

    if (d == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_IO,
                             "could not open migrations directory \"%s\": %s", dir,
                             strerror(errno));
    set->items = ps_calloc(PS_MIGRATIONS_MAX, sizeof(migration_t));
    while (err == PS_OK && (de = readdir(d)) != NULL) {
        int version = 0;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "README.md") == 0)
            continue;
        if (!parse_name(de->d_name, &version))
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                "invalid migration file name \"%s\" in \"%s\": expected "
                                "NNN_name.sql (digits, then lower-case letters, digits, _)",
                                de->d_name, dir);
        else if (set->count == PS_MIGRATIONS_MAX)
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                "more than %d migrations in \"%s\" (PS_MIGRATIONS_MAX)",
                                PS_MIGRATIONS_MAX, dir);
        else {
            migration_t *m = &set->items[set->count++];
            m->version = version;
            /* parse_name checked that the name fits. */
            memcpy(m->name, de->d_name, strlen(de->d_name) + 1);
        }
    }
    closedir(d);
    return err;
}

/* Lists, orders and reads every migration of dir; checks numbering 1..N. */
static ps_err_t load_migrations(const char *dir, migration_set_t *set, char *errstr,
                                size_t errstr_size)
{
    ps_err_t err = list_names(dir, set, errstr, errstr_size);

    if (err != PS_OK)
        return err;
    qsort(set->items, set->count, sizeof(migration_t), cmp_version);
    for (size_t i = 0; i < set->count; i++) {
        migration_t *m = &set->items[i];
        if (i > 0 && m->version == set->items[i - 1].version)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "duplicate migration number %03d: \"%s\" and \"%s\"",
                                 m->version, set->items[i - 1].name, m->name);
        if (m->version != (int)i + 1)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 "migration %03zu is missing: next file is \"%s\"", i + 1,
                                 m->name);
        err = read_migration(dir, m, errstr, errstr_size);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

/* ---- database side ---- */

static ps_err_t take_lock(PGconn *conn, char *errstr, size_t errstr_size)
{
    char sql[128];
    PGresult *res = NULL;
    ps_err_t err;

    /* lock_timeout bounds the wait for a concurrent runner, then is reset
     * so that it does not apply to the migrations' own statements. */
    /* NOTICEs such as "already exists, skipping" are noise on every run. */
    snprintf(sql, sizeof(sql), "SET client_min_messages = warning; SET lock_timeout = %d",
             PS_MIGRATE_LOCK_TIMEOUT_MS);
    err = ps_pg_exec(conn, sql, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    res = PQexec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (strcmp(ps_pg_sqlstate(res), "55P03") == 0) {
            err = ps_errstr_set(errstr, errstr_size, PS_ERR_TIMEOUT,
                                "another migrate held it for %d ms (PS_MIGRATE_LOCK_TIMEOUT_MS)",
                                PS_MIGRATE_LOCK_TIMEOUT_MS);
            goto out;
        }
        err = ps_pg_result_error(conn, res, NULL, errstr, errstr_size);
        goto out;
    }
    err = ps_pg_exec(conn, "RESET lock_timeout", errstr, errstr_size);
out:
    PQclear(res);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, "could not take the migration lock");
    return PS_OK;
}

static const char create_history_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY CHECK (version > 0),"
    " name text NOT NULL UNIQUE,"
    " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Checks one applied row against the files; sets applied[version-1]. */
static ps_err_t check_applied_row(const migration_set_t *set, const char *dir, int version,
                                  const char *name, const char *sha256, bool *applied,
                                  char *errstr, size_t errstr_size)
{
    const migration_t *m;

    if (version < 1 || (size_t)version > set->count)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "database has migration %03d \"%s\" applied but \"%s\" has no "
                             "such file: the database is newer than these migrations",
                             version, name, dir);
    m = &set->items[version - 1];
    if (strcmp(m->name, name) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "migration %03d was applied as \"%s\" but the file is now \"%s\": "
                             "migrations are append-only",
                             version, name, m->name);
    if (strcmp(m->sha256, sha256) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             "migration \"%s\" changed after it was applied: checksum sha256 "
                             "%.12s... differs from the applied %.12s...; migrations are "
                             "append-only, add a new file instead",
                             name, m->sha256, sha256);
    applied[version - 1] = true;
    return PS_OK;
}

static ps_err_t read_history(PGconn *conn, const migration_set_t *set, const char *dir,
                             bool *applied, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL;
    ps_err_t err;

    err = ps_pg_exec(conn, create_history_sql, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec_params(conn,
                                "SELECT version, name, sha256 FROM schema_migrations "
                                "ORDER BY version",
                                0, NULL, &res, errstr, errstr_size);
    if (err != PS_OK) {
        err = ps_errstr_prefix(errstr, errstr_size, err, "could not read schema_migrations");
        goto out;
    }
    for (int row = 0; row < PQntuples(res) && err == PS_OK; row++) {
        long version = strtol(PQgetvalue(res, row, 0), NULL, 10);
        err = check_applied_row(set, dir, (int)version, PQgetvalue(res, row, 1),
                                PQgetvalue(res, row, 2), applied, errstr, errstr_size);
    }
out:
    PQclear(res);
    return err;
}

/* Runs one file and records it, in one transaction; rolls back on failure. */
static ps_err_t apply_one(PGconn *conn, const migration_t *m, char *errstr, size_t errstr_size)
{
    char version[16];
    const char *params[3] = {version, m->name, m->sha256};
    ps_err_t err;

    snprintf(version, sizeof(version), "%d", m->version);
    err = ps_pg_exec(conn, "BEGIN", errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec(conn, m->sql, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec_params(conn,
                                "INSERT INTO schema_migrations (version, name, sha256) "
                                "VALUES ($1::integer, $2, $3)",
                                3, params, NULL, errstr, errstr_size);
    if (err == PS_OK)
        err = ps_pg_exec(conn, "COMMIT", errstr, errstr_size);
    if (err != PS_OK) {
        char ignored[PS_ERRSTR_SIZE];
        /* The original error is the one worth reporting. */
        ps_pg_exec(conn, "ROLLBACK", ignored, sizeof(ignored));
        return ps_errstr_prefix(errstr, errstr_size, err, "could not apply migration \"%s\"",
                                m->name);
    }
    return PS_OK;
}

static ps_err_t apply_pending(PGconn *conn, const migration_set_t *set, const bool *applied,
                              FILE *progress, char *errstr, size_t errstr_size)
{
    size_t done = 0;

    for (size_t i = 0; i < set->count; i++) {
        const migration_t *m = &set->items[i];
        ps_err_t err;
        if (applied[i]) {
            if (progress != NULL)
                fprintf(progress, "skipped %s: already applied\n", m->name);
            continue;
        }
        err = apply_one(conn, m, errstr, errstr_size);
        if (err != PS_OK)
            return err;
        done++;
        if (progress != NULL)
            fprintf(progress, "applied %s (sha256 %.12s)\n", m->name, m->sha256);
    }
    if (progress != NULL) {
        if (done == 0)
            fprintf(progress, "nothing to apply: database is at version %zu\n", set->count);
        else
            fprintf(progress, "applied %zu migration%s: database is at version %zu\n", done,
                    done == 1 ? "" : "s", set->count);
    }
    return PS_OK;
}

/* Warns when the database sorts text by a locale: every key of the ledger
 * (order numbers, event ids, account ids) is an opaque identifier, and a
 * locale collation makes each index comparison a strcoll() (a tenth of the
 * apply's server CPU in bench/processor) and ties the indexes to the C
 * library's collation version (an upgrade that changes it corrupts them).
 * Only a warning: the schema is correct under any collation. */
static void check_collation(PGconn *conn)
{
    PGresult *res = PQexec(conn, "SELECT datcollate FROM pg_database "
                                 "WHERE datname = current_database()");

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        const char *c = PQgetvalue(res, 0, 0);

        if (strcmp(c, "C") != 0 && strcmp(c, "POSIX") != 0)
            ps_log_warn("database collation is \"%s\", not \"C\": ledger keys compare by "
                        "locale, slower and tied to the C library version; create the "
                        "database with LC_COLLATE 'C' (README.md, production deployment)", c);
    }
    PQclear(res);
}

ps_err_t proc_migrate(const char *conninfo, const char *migrations_dir, FILE *progress,
                      char *errstr, size_t errstr_size)
{
    migration_set_t set = {NULL, 0};
    PGconn *conn = NULL;
    bool *applied = NULL;
    ps_err_t err;

    PS_ASSERT(conninfo != NULL && migrations_dir != NULL);
    err = load_migrations(migrations_dir, &set, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    if (set.count == 0) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_NOT_FOUND,
                            "no migrations in \"%s\"", migrations_dir);
        goto out;
    }
    err = ps_pg_connect(conninfo, &conn, errstr, errstr_size);
    if (err == PS_OK)
        err = take_lock(conn, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    check_collation(conn);
    applied = ps_calloc(set.count, sizeof(bool));
    err = read_history(conn, &set, migrations_dir, applied, errstr, errstr_size);
    if (err == PS_OK)
        err = apply_pending(conn, &set, applied, progress, errstr, errstr_size);
out:
    /* Closing the session releases the advisory lock. */
    if (conn != NULL)
        PQfinish(conn);
    ps_free(applied);
    set_deinit(&set);
    return err;
}
