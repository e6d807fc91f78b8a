/* hb_log.h — leveled logging with process identity and [file:line].
 *
 * hb_log(level, fmt, ...) skips evaluating its arguments when the level is
 * below the threshold. Output is one line per event:
 *   2026-11-24T05:47:41.123Z seq r0p1 WARN [batcher.c:88] message
 * The sink defaults to stderr; tests install their own with hb_log_set_sink
 * to capture lines. Not thread-safe to reconfigure while other threads log;
 * hb_log itself may be called from any thread.
 */
#ifndef HB_LOG_H
#define HB_LOG_H

#include <stdarg.h>

typedef enum {
    HB_LOG_DEBUG = 0,
    HB_LOG_INFO = 1,
    HB_LOG_WARN = 2,
    HB_LOG_ERROR = 3,
    HB_LOG_OFF = 4,
} hb_log_level_t;

/* A sink receives the fully formatted line without trailing newline. */
typedef void (*hb_log_sink_fn)(void *arg, hb_log_level_t level, const char *line);

extern hb_log_level_t hb_log_threshold;

/* Sets the identity printed on every line, e.g. "seq r0p1". Copied. */
void hb_log_set_identity(const char *identity);
/* Sets the minimum level printed. */
void hb_log_set_level(hb_log_level_t level);
/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int hb_log_level_parse(const char *name);
/* Replaces the sink; NULL restores stderr. */
void hb_log_set_sink(hb_log_sink_fn sink, void *arg);

void hb_log_write(hb_log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define hb_log(level, ...)                                                               \
    do {                                                                                 \
        if ((level) >= hb_log_threshold)                                                 \
            hb_log_write((level), __FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)

#define hb_debug(...) hb_log(HB_LOG_DEBUG, __VA_ARGS__)
#define hb_info(...)  hb_log(HB_LOG_INFO, __VA_ARGS__)
#define hb_warn(...)  hb_log(HB_LOG_WARN, __VA_ARGS__)
#define hb_error(...) hb_log(HB_LOG_ERROR, __VA_ARGS__)

#endif
