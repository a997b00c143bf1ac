/*
 * The per-channel advisory lock (lock.h).
 */
#include "lock.h"

#include <paystream/pg.h>

#include <stdio.h>

static ps_err_t lock_call(PGconn *conn, const char *fn, ps_channel_t channel, bool *result,
                          char *errstr, size_t errstr_size)
{
    char sql[96], cls[16], ch[16];
    const char *params[2] = {cls, ch};
    PGresult *res = NULL;
    ps_err_t err;

    snprintf(sql, sizeof(sql), "SELECT %s($1::int4, $2::int4)", fn);
    snprintf(cls, sizeof(cls), "%d", RECON_LOCK_CLASS);
    snprintf(ch, sizeof(ch), "%d", (int)channel);
    err = ps_pg_exec_params(conn, sql, 2, params, &res, errstr, errstr_size);
    if (err != PS_OK) {
        ps_errstr_prefix(errstr, errstr_size, err, "could not call %s for channel \"%s\"", fn,
                         ps_channel_name(channel));
        return err;
    }
    *result = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return PS_OK;
}

ps_err_t recon_lock_try(PGconn *conn, ps_channel_t channel, bool *got, char *errstr,
                        size_t errstr_size)
{
    return lock_call(conn, "pg_try_advisory_lock", channel, got, errstr, errstr_size);
}

ps_err_t recon_lock_release(PGconn *conn, ps_channel_t channel, char *errstr,
                            size_t errstr_size)
{
    bool released = false;

    return lock_call(conn, "pg_advisory_unlock", channel, &released, errstr, errstr_size);
}
