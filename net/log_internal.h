/*
 * log_internal.h: between log.c, log_format.c, log_span.c and their tests
 * (not public). log_format.c renders; log.c decides whether and where to
 * write; log_span.c budgets span records.
 */
#ifndef WB_LOG_INTERNAL_H
#define WB_LOG_INTERNAL_H

#include "log.h"

typedef struct wblog_line {
    char buf[WBLOG_LINE_MAX]; /* the line, '\n'-terminated, no NUL */
    size_t len;
    int full; /* room ran out: later fields dropped */
} wblog_line;

/* Renders one line into *l (which it resets) and returns l->len. */
size_t wblog_format_line(wblog_line *l, enum wblog_format format,
                         enum wblog_level level, uint64_t wall_ms,
                         const char *msg, const wblog_field *fields,
                         size_t n);

/* log.c: formats and writes one line now (no level check, no flood
 * control); the monotonic clock of the flood windows, in ms. */
void wblog_write_now(enum wblog_level level, const char *msg,
                     const wblog_field *fields, size_t n);
uint64_t wblog_mono_ms(void);

/* log_span.c: writes the pending "span records dropped" report if its
 * window has ended; 1 if it wrote one. */
size_t wblog_flush_spans(void);

#endif /* WB_LOG_INTERNAL_H */
