/*
 * log.h: structured logs, one JSON object per line (public API, prefix
 * wblog_).
 *
 * Every line carries ts (RFC 3339, UTC, milliseconds), level and msg, then
 * the caller's typed fields in the order given:
 *
 *   {"ts":"2026-11-28T18:04:05.123Z","level":"warn","msg":"op rejected",
 *    "boardId":"b1","userId":"u42","opId":17,"err":"WB_ELIMIT",
 *    "errMsg":"board limit exceeded"}
 *
 * The runbook's fields are first class: WBF_BOARD ("boardId"), WBF_USER
 * ("userId"), WBF_OP ("opId", the client op id). The text format
 * (--log-format text) prints the same content for humans:
 *
 *   2026-11-28T18:04:05.123Z WARN op rejected boardId=b1 userId=u42 opId=17
 *
 * Guarantees:
 *  - Output is valid JSON and valid UTF-8 whatever the input: quotes,
 *    backslashes and control characters are escaped, invalid UTF-8 bytes
 *    become U+FFFD, a value longer than WBLOG_VALUE_MAX bytes is cut (at a
 *    character boundary) and ends in "...", a line never exceeds
 *    WBLOG_LINE_MAX bytes (fields that do not fit are dropped and
 *    "truncated":true is added).
 *  - Thread-safe: a line is formatted on the caller's stack and written
 *    with one write(2) (lines from different threads never interleave; a
 *    line <= PIPE_BUF is atomic even on a pipe). No allocation.
 *  - Flood control: after `burst` lines with the same level and msg within
 *    `window` ms, further ones are dropped and counted; the count is
 *    reported as one line {"msg":"suppressed similar messages",
 *    "similar":"<msg>","suppressed":N} when the window has passed (at the
 *    next such line, or wblog_flush_suppressed(), which the server calls
 *    from a timer). Bad input from a client cannot flood the log.
 *
 * Configuration (wblog_init, wblog_set_*) is meant for startup; changing it
 * while other threads log is safe (atomics) but lines in flight may use
 * either setting.
 */
#ifndef WB_LOG_H
#define WB_LOG_H

#include <stddef.h>
#include <stdint.h>

#define WBLOG_LINE_MAX 8192u  /* bytes of one line, newline included */
#define WBLOG_VALUE_MAX 2048u /* input bytes of one string value */

enum wblog_level { WBLOG_DEBUG, WBLOG_INFO, WBLOG_WARN, WBLOG_ERROR };
enum wblog_format { WBLOG_JSON, WBLOG_TEXT };

enum wblog_ftype {
    WBLOG_F_STR,  /* v.s: NUL-terminated, any bytes (NULL prints null) */
    WBLOG_F_INT,  /* v.i */
    WBLOG_F_UINT, /* v.u */
    WBLOG_F_DBL,  /* v.d: non-finite values print null */
    WBLOG_F_BOOL, /* v.b */
    WBLOG_F_ERR,  /* v.i: a wb_error code -> "err" (name) and "errMsg" */
};

typedef struct wblog_field {
    const char *key; /* borrowed; keys are escaped like values */
    enum wblog_ftype type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        int b;
    } v;
} wblog_field;

#define WBF_STR(k, x) ((wblog_field){.key = (k), .type = WBLOG_F_STR, .v.s = (x)})
#define WBF_INT(k, x) ((wblog_field){.key = (k), .type = WBLOG_F_INT, .v.i = (int64_t)(x)})
#define WBF_UINT(k, x) ((wblog_field){.key = (k), .type = WBLOG_F_UINT, .v.u = (uint64_t)(x)})
#define WBF_DBL(k, x) ((wblog_field){.key = (k), .type = WBLOG_F_DBL, .v.d = (double)(x)})
#define WBF_BOOL(k, x) ((wblog_field){.key = (k), .type = WBLOG_F_BOOL, .v.b = !!(x)})
#define WBF_ERR(rc) ((wblog_field){.key = "err", .type = WBLOG_F_ERR, .v.i = (rc)})
#define WBF_BOARD(id) WBF_STR("boardId", (id))
#define WBF_USER(id) WBF_STR("userId", (id))
#define WBF_OP(id) WBF_UINT("opId", (id))

/* WBLOG(level, msg) and WBLOGF(level, msg, WBF_..., ...): log a line if
 * level is enabled. Fields are evaluated only when it is. */
#define WBLOG(level, msg)                                                     \
    do {                                                                      \
        if (wblog_enabled(level))                                             \
            wblog_emit((level), (msg), NULL, 0);                              \
    } while (0)
#define WBLOGF(level, msg, ...)                                               \
    do {                                                                      \
        if (wblog_enabled(level)) {                                           \
            const wblog_field wblog_f_[] = {__VA_ARGS__};                     \
            wblog_emit((level), (msg), wblog_f_,                              \
                       sizeof wblog_f_ / sizeof wblog_f_[0]);                 \
        }                                                                     \
    } while (0)

/* Sets the output fd (default 2; borrowed, never closed), the lowest level
 * written (default info) and the format (default JSON). */
void wblog_init(int fd, enum wblog_level min, enum wblog_format format);

/* Flood control: at most burst lines per (level, msg) per window_ms.
 * burst 0 turns it off. Default: 20 per 10000 ms. */
void wblog_set_suppression(uint64_t window_ms, unsigned burst);

/* Test hooks: replace the monotonic clock (flood control windows) and the
 * wall clock (the ts field), both in milliseconds. NULL restores the
 * system clocks. */
void wblog_set_clocks(uint64_t (*mono_ms)(void), uint64_t (*wall_ms)(void));

/* 1 if a line at level would be written. */
int wblog_enabled(enum wblog_level level);

/* Formats and writes one line. fields may be NULL when n is 0. */
void wblog_emit(enum wblog_level level, const char *msg,
                const wblog_field *fields, size_t n);

/* Span records ({"msg":"span","span":"op.apply"|"board.join"|
 * "snapshot.write", trace ids, ...}): one per request, join or snapshot.
 * A trace with holes misleads, so they skip the per-message flood control
 * and have their own budget: at most wblog_set_span_rate(per_sec) a second
 * (default 1000; 0: no span records). The excess is counted and reported
 * once its one-second window has ended (warn "span records dropped over
 * the span rate", dropped, spanRate). Written at level info. */
void wblog_set_span_rate(unsigned per_sec);
void wblog_emit_span(const wblog_field *fields, size_t n);
#define WBLOG_SPAN(...)                                                       \
    do {                                                                      \
        if (wblog_enabled(WBLOG_INFO)) {                                      \
            const wblog_field wblog_f_[] = {__VA_ARGS__};                     \
            wblog_emit_span(wblog_f_, sizeof wblog_f_ / sizeof wblog_f_[0]);  \
        }                                                                     \
    } while (0)

/* Writes the pending "suppressed" reports (and the span report, above)
 * whose window has ended; returns how many lines it wrote. */
size_t wblog_flush_suppressed(void);

/* "debug", "info", "warn", "error" <-> level; "json", "text" <-> format.
 * The parsers return 0 or WB_EINVAL. */
const char *wblog_level_name(enum wblog_level level);
int wblog_level_parse(const char *s, enum wblog_level *out);
int wblog_format_parse(const char *s, enum wblog_format *out);

#endif /* WB_LOG_H */
