/*
 * log_internal.h: line formatting shared by log.c and its tests (not
 * public). log_format.c renders; log.c decides whether and where to write.
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

#endif /* WB_LOG_INTERNAL_H */
