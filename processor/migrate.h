/*
 * `paystream-processor migrate`: applies the numbered SQL migrations in
 * schemas/postgres to a database (see schemas/postgres/README.md).
 */
#ifndef PROC_MIGRATE_H
#define PROC_MIGRATE_H

#include <paystream/err.h>

#include <stddef.h>
#include <stdio.h>

/*
 * Applies every pending NNN_name.sql file of migrations_dir, in numeric
 * order, each in its own transaction together with its schema_migrations row
 * (version, name, sha256, applied_at). Concurrent runners are serialized by a
 * PostgreSQL advisory lock. Writes one line per migration ("applied ..." or
 * "skipped ...") and a summary to progress (may be NULL).
 *
 * Errors (errstr says which file and why):
 *   PS_ERR_INVALID   a bad file name in the directory (only README.md and
 *                    NNN_name.sql files are allowed), duplicate or missing
 *                    numbers, a NUL byte in a file, an applied migration
 *                    whose file changed (checksum), was renamed or is gone
 *   PS_ERR_TOO_LARGE more than PS_MIGRATIONS_MAX files, or a file over
 *                    PS_MIGRATION_FILE_BYTES_MAX
 *   PS_ERR_IO        the directory or a file cannot be read
 *   PS_ERR_PG / PS_ERR_RETRIABLE  the database refused a statement, e.g.
 *                    `could not apply migration "002_x.sql": ERROR 42P07: ...`
 *   PS_ERR_TIMEOUT   another runner held the lock for PS_MIGRATE_LOCK_TIMEOUT_MS
 * A failed migration is rolled back entirely; earlier ones stay applied.
 * conninfo, migrations_dir and progress are borrowed.
 * @locality any thread (opens its own connection)
 */
ps_err_t proc_migrate(const char *conninfo, const char *migrations_dir, FILE *progress,
                      char *errstr, size_t errstr_size);

#endif
