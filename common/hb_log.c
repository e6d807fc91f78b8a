/* hb_log.c — the logging sink and line formatter (see hb_log.h). */
#include "hb_log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

hb_log_level_t hb_log_threshold = HB_LOG_INFO;

static char s_identity[64] = "hobbes";
static hb_log_sink_fn s_sink;
static void *s_sink_arg;

static const char *s_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void
hb_log_set_identity(const char *identity)
{
    snprintf(s_identity, sizeof s_identity, "%s", identity ? identity : "hobbes");
}

void
hb_log_set_level(hb_log_level_t level)
{
    hb_log_threshold = level;
}

int
hb_log_level_parse(const char *name)
{
    static const char *lower[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= HB_LOG_OFF; i++)
        if (name && strcmp(name, lower[i]) == 0)
            return i;
    return -1;
}

void
hb_log_set_sink(hb_log_sink_fn sink, void *arg)
{
    s_sink = sink;
    s_sink_arg = arg;
}

void
hb_log_write(hb_log_level_t level, const char *file, int line, const char *fmt, ...)
{
    char buf[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n =
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s [%s:%d] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (int)(tv.tv_usec / 1000), s_identity,
                 s_level_names[level <= HB_LOG_OFF ? level : HB_LOG_OFF], base, line);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (s_sink)
        s_sink(s_sink_arg, level, buf);
    else
        fprintf(stderr, "%s\n", buf);
}
