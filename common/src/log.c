/*
 * Line-oriented logging to stderr (see paystream/log.h).
 */
#include <paystream/log.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_component = "paystream";
static atomic_int log_level = PS_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void ps_log_set_component(const char *component)
{
    log_component = component;
}

void ps_log_set_level(ps_log_level_t level)
{
    atomic_store(&log_level, (int)level);
}

ps_log_level_t ps_log_get_level(void)
{
    return (ps_log_level_t)atomic_load(&log_level);
}

ps_err_t ps_log_level_parse(const char *s, ps_log_level_t *level_out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *level_out = (ps_log_level_t)i;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

void ps_log(ps_log_level_t level, const char *fmt, ...)
{
    char line[2048], stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if ((int)level < atomic_load(&log_level) || level > PS_LOG_ERROR)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000L,
                 level_names[level], log_component);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line under the stdio lock keeps threads from interleaving. */
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}
