/*
 * log.c: where log lines go and which are written (level filter, flood
 * control); log_format.c renders them.
 *
 * Flood control keeps a small direct-mapped table (WBLOG_SUPPRESS_SLOTS)
 * keyed by a hash of (level, msg). A slot holds the current window's start,
 * lines written in it, lines dropped in it and a copy of msg (for the
 * report). When a different message takes a slot, or a window ends, a
 * pending drop count is reported first (two messages sharing a slot reset
 * each other's window: messages are constants of the code, so a client
 * cannot pick colliding ones, and memory stays bounded whatever the
 * number of distinct messages). The table is guarded by one mutex,
 * held only for the bookkeeping; formatting and write(2) happen outside
 * it. Settings are atomics, so any thread may read them without a lock.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log_internal.h"
#include "wb_error.h"

#define WBLOG_SUPPRESS_SLOTS 64u
#define WBLOG_MSG_COPY 128u

static _Atomic int log_fd = 2;
static _Atomic int log_min = WBLOG_INFO;
static _Atomic int log_format = WBLOG_JSON;
static _Atomic uint64_t log_window_ms = 10000;
static _Atomic unsigned log_burst = 20;
static uint64_t (*_Atomic log_mono)(void);
static uint64_t (*_Atomic log_wall)(void);

typedef struct suppress_slot {
    uint64_t hash;         /* 0: empty */
    uint64_t window_start; /* monotonic ms */
    unsigned written;
    uint64_t dropped;
    enum wblog_level level;
    char msg[WBLOG_MSG_COPY];
} suppress_slot;

static pthread_mutex_t suppress_mu = PTHREAD_MUTEX_INITIALIZER;
static suppress_slot suppress_tab[WBLOG_SUPPRESS_SLOTS];

/* A report owed for a slot: copied out under the lock, written after. */
typedef struct suppress_report {
    uint64_t dropped;
    enum wblog_level level;
    char msg[WBLOG_MSG_COPY];
} suppress_report;

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_mono(void)
{
    uint64_t (*f)(void) = atomic_load(&log_mono);
    return f ? f() : clock_ms(CLOCK_MONOTONIC);
}

static uint64_t now_wall(void)
{
    uint64_t (*f)(void) = atomic_load(&log_wall);
    return f ? f() : clock_ms(CLOCK_REALTIME);
}

void wblog_init(int fd, enum wblog_level min, enum wblog_format format)
{
    atomic_store(&log_fd, fd);
    atomic_store(&log_min, (int)min);
    atomic_store(&log_format, (int)format);
}

void wblog_set_suppression(uint64_t window_ms, unsigned burst)
{
    pthread_mutex_lock(&suppress_mu);
    atomic_store(&log_window_ms, window_ms);
    atomic_store(&log_burst, burst);
    memset(suppress_tab, 0, sizeof suppress_tab);
    pthread_mutex_unlock(&suppress_mu);
}

void wblog_set_clocks(uint64_t (*mono_ms)(void), uint64_t (*wall_ms)(void))
{
    atomic_store(&log_mono, mono_ms);
    atomic_store(&log_wall, wall_ms);
}

int wblog_enabled(enum wblog_level level)
{
    return (int)level >= atomic_load(&log_min);
}

/* One write(2) for the whole line; retried only on EINTR or a short write
 * (a log line is never worth blocking a server on EAGAIN). */
static void write_line(const char *buf, size_t n)
{
    int fd = atomic_load(&log_fd);
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

static void emit_now(enum wblog_level level, const char *msg,
                     const wblog_field *fields, size_t n)
{
    wblog_line l;
    wblog_format_line(&l, (enum wblog_format)atomic_load(&log_format), level,
                      now_wall(), msg, fields, n);
    write_line(l.buf, l.len);
}

void wblog_write_now(enum wblog_level level, const char *msg,
                     const wblog_field *fields, size_t n)
{
    emit_now(level, msg, fields, n);
}

uint64_t wblog_mono_ms(void)
{
    return now_mono();
}

static void emit_report(const suppress_report *r)
{
    wblog_field f[] = {WBF_STR("similar", r->msg),
                       WBF_UINT("suppressed", r->dropped),
                       WBF_UINT("windowMs", atomic_load(&log_window_ms))};
    emit_now(r->level, "suppressed similar messages", f, 3);
}

static uint64_t msg_hash(enum wblog_level level, const char *msg)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)level;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* Moves a slot's pending drop count into *r (r->dropped 0: none). */
static void take_report(suppress_slot *s, suppress_report *r)
{
    r->dropped = s->dropped;
    r->level = s->level;
    memcpy(r->msg, s->msg, sizeof r->msg);
    s->dropped = 0;
}

/* Decides whether (level, msg) may be written now; 1 yes, 0 dropped. */
static int suppress_admit(enum wblog_level level, const char *msg,
                          suppress_report *r)
{
    unsigned burst = atomic_load(&log_burst);
    r->dropped = 0;
    if (burst == 0)
        return 1;
    uint64_t h = msg_hash(level, msg), now = now_mono();
    uint64_t window = atomic_load(&log_window_ms);
    pthread_mutex_lock(&suppress_mu);
    suppress_slot *s = &suppress_tab[h % WBLOG_SUPPRESS_SLOTS];
    if (s->hash != h || now - s->window_start >= window) {
        if (s->hash && s->dropped)
            take_report(s, r);
        if (s->hash != h) {
            s->hash = h;
            s->level = level;
            snprintf(s->msg, sizeof s->msg, "%s", msg);
        }
        s->window_start = now;
        s->written = 0;
        s->dropped = 0;
    }
    int admit = s->written < burst;
    if (admit)
        s->written++;
    else
        s->dropped++;
    pthread_mutex_unlock(&suppress_mu);
    return admit;
}

void wblog_emit(enum wblog_level level, const char *msg,
                const wblog_field *fields, size_t n)
{
    if (!wblog_enabled(level))
        return;
    if (!msg)
        msg = "";
    suppress_report r;
    int admit = suppress_admit(level, msg, &r);
    if (r.dropped)
        emit_report(&r);
    if (admit)
        emit_now(level, msg, fields, n);
}

size_t wblog_flush_suppressed(void)
{
    suppress_report pending[WBLOG_SUPPRESS_SLOTS];
    size_t count = 0;
    uint64_t now = now_mono(), window = atomic_load(&log_window_ms);
    pthread_mutex_lock(&suppress_mu);
    for (size_t i = 0; i < WBLOG_SUPPRESS_SLOTS; i++) {
        suppress_slot *s = &suppress_tab[i];
        if (s->hash && s->dropped && now - s->window_start >= window) {
            take_report(s, &pending[count++]);
            s->window_start = now;
            s->written = 0;
        }
    }
    pthread_mutex_unlock(&suppress_mu);
    for (size_t i = 0; i < count; i++)
        emit_report(&pending[i]);
    return count + wblog_flush_spans();
}

int wblog_level_parse(const char *s, enum wblog_level *out)
{
    for (int l = WBLOG_DEBUG; l <= WBLOG_ERROR; l++)
        if (strcmp(s, wblog_level_name((enum wblog_level)l)) == 0) {
            *out = (enum wblog_level)l;
            return 0;
        }
    return WB_EINVAL;
}

int wblog_format_parse(const char *s, enum wblog_format *out)
{
    if (strcmp(s, "json") == 0)
        *out = WBLOG_JSON;
    else if (strcmp(s, "text") == 0)
        *out = WBLOG_TEXT;
    else
        return WB_EINVAL;
    return 0;
}
