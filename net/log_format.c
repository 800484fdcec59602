/*
 * log_format.c: renders one log line (JSON or text) into a fixed buffer.
 *
 * Invariants: the buffer is never overrun; every line ends in '\n'; a JSON
 * line is one valid JSON object in valid UTF-8. Room is kept at the end
 * (WBLOG_TAIL_ROOM) for the closing ',"truncated":true}\n', so a line that
 * runs out of room is still closed properly. A field is written whole or
 * not at all, except a string value cut by room, which ends in "...".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_internal.h"
#include "wb_error.h"

#define WBLOG_TAIL_ROOM 32u

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

const char *wblog_level_name(enum wblog_level level)
{
    return (unsigned)level <= WBLOG_ERROR ? level_names[level] : "?";
}

static size_t room(const wblog_line *l)
{
    size_t limit = WBLOG_LINE_MAX - WBLOG_TAIL_ROOM;
    return l->len < limit ? limit - l->len : 0;
}

static int put(wblog_line *l, const char *s, size_t n)
{
    if (l->full || n > room(l)) {
        l->full = 1;
        return -1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

static int puts_(wblog_line *l, const char *s)
{
    return put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 if invalid
 * (overlong, surrogate, above U+10FFFF, bad or missing continuation). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Escaped form of the character at s (consumed bytes in *used) in esc. */
static size_t escape_one(const unsigned char *s, size_t n, char esc[8],
                         size_t *used)
{
    unsigned char c = s[0];
    *used = 1;
    switch (c) {
    case '"': memcpy(esc, "\\\"", 2); return 2;
    case '\\': memcpy(esc, "\\\\", 2); return 2;
    case '\n': memcpy(esc, "\\n", 2); return 2;
    case '\r': memcpy(esc, "\\r", 2); return 2;
    case '\t': memcpy(esc, "\\t", 2); return 2;
    case '\b': memcpy(esc, "\\b", 2); return 2;
    case '\f': memcpy(esc, "\\f", 2); return 2;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(esc, 8, "\\u%04x", c);
        return 6;
    }
    size_t len = utf8_seq(s, n);
    if (len == 0) {
        memcpy(esc, "\\ufffd", 6); /* one replacement per bad byte */
        return 6;
    }
    memcpy(esc, s, len);
    *used = len;
    return len;
}

/* Writes s escaped, in quotes if quoted; cuts it at WBLOG_VALUE_MAX input
 * bytes or when room runs out, ending it in "...". */
static void put_escaped(wblog_line *l, const char *str, int quoted)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0;
    if (quoted && put(l, "\"", 1))
        return; /* nothing opened: the caller rolls back */
    while (i < n) {
        char esc[8];
        size_t used;
        size_t m = escape_one(s + i, n - i, esc, &used);
        /* keep room for "..." and the closing quote */
        if (i + used > WBLOG_VALUE_MAX || m + 4 > room(l)) {
            put(l, "...", 3);
            l->full = l->full || i + used <= WBLOG_VALUE_MAX;
            break;
        }
        put(l, esc, m);
        i += used;
    }
    if (quoted) /* always closed: one byte of the tail room at most */
        l->buf[l->len++] = '"';
}

static void fmt_double(char *buf, size_t cap, double d)
{
    snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, cap, "%.17g", d);
}

/* The value of a non-string field as text ("null" for bad doubles). */
static void scalar_text(const wblog_field *f, char *buf, size_t cap)
{
    switch (f->type) {
    case WBLOG_F_INT: snprintf(buf, cap, "%lld", (long long)f->v.i); break;
    case WBLOG_F_UINT:
        snprintf(buf, cap, "%llu", (unsigned long long)f->v.u);
        break;
    case WBLOG_F_DBL:
        if (isfinite(f->v.d))
            fmt_double(buf, cap, f->v.d);
        else
            snprintf(buf, cap, "null");
        break;
    case WBLOG_F_BOOL: snprintf(buf, cap, "%s", f->v.b ? "true" : "false"); break;
    default: snprintf(buf, cap, "null"); break;
    }
}

/* Text format: a value needs quotes unless it is plain printable ASCII
 * without '"', '=' or '\\'. */
static int text_plain(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
            return 0;
    }
    return 1;
}

static void put_key(wblog_line *l, enum wblog_format format, const char *k)
{
    if (format == WBLOG_JSON) {
        put(l, ",", 1);
        put_escaped(l, k, 1);
        put(l, ":", 1);
    } else {
        put(l, " ", 1);
        put_escaped(l, k, 0);
        put(l, "=", 1);
    }
}

static void put_str_value(wblog_line *l, enum wblog_format format,
                          const char *s)
{
    if (!s)
        puts_(l, "null");
    else if (format == WBLOG_TEXT && text_plain(s))
        put_escaped(l, s, 0);
    else
        put_escaped(l, s, 1);
}

static void put_field(wblog_line *l, enum wblog_format format,
                      const wblog_field *f)
{
    size_t mark = l->len;
    if (f->type == WBLOG_F_ERR) {
        put_key(l, format, "err");
        put_str_value(l, format, wb_errname((int)f->v.i));
        put_key(l, format, "errMsg");
        put_str_value(l, format, wb_strerror((int)f->v.i));
    } else {
        put_key(l, format, f->key ? f->key : "?");
        if (l->full) {
            l->len = mark;
            return;
        }
        if (f->type == WBLOG_F_STR) {
            size_t before = l->len;
            put_str_value(l, format, f->v.s);
            if (l->len == before)
                l->len = mark; /* no room for any of the value */
            return;            /* a cut string is kept */
        }
        char buf[40];
        scalar_text(f, buf, sizeof buf);
        puts_(l, buf);
    }
    if (l->full)
        l->len = mark; /* all or nothing */
}

static void put_ts(wblog_line *l, uint64_t wall_ms)
{
    time_t sec = (time_t)(wall_ms / 1000);
    struct tm tm;
    char buf[48];
    if (!gmtime_r(&sec, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
    puts_(l, buf);
}

size_t wblog_format_line(wblog_line *l, enum wblog_format format,
                         enum wblog_level level, uint64_t wall_ms,
                         const char *msg, const wblog_field *fields,
                         size_t n)
{
    l->len = 0;
    l->full = 0;
    if ((unsigned)level > WBLOG_ERROR)
        level = WBLOG_ERROR;
    if (format == WBLOG_JSON) {
        puts_(l, "{\"ts\":\"");
        put_ts(l, wall_ms);
        puts_(l, "\",\"level\":\"");
        puts_(l, level_names[level]);
        puts_(l, "\",\"msg\":");
        put_escaped(l, msg ? msg : "", 1);
    } else {
        put_ts(l, wall_ms);
        puts_(l, " ");
        puts_(l, level_upper[level]);
        puts_(l, " ");
        put_escaped(l, msg ? msg : "", 0);
    }
    for (size_t i = 0; i < n && !l->full; i++)
        put_field(l, format, &fields[i]);
    /* The tail room is ours now. */
    const char *tail;
    if (format == WBLOG_JSON)
        tail = l->full ? ",\"truncated\":true}\n" : "}\n";
    else
        tail = l->full ? " truncated=true\n" : "\n";
    memcpy(l->buf + l->len, tail, strlen(tail));
    l->len += strlen(tail);
    return l->len;
}
