/*
 * log_span.c: the budget of span records (log.h, wblog_emit_span).
 *
 * One-second windows of the log's monotonic clock: a window admits up to
 * `rate` spans; the rest are counted. The count is reported by the first
 * span of a later window or by wblog_flush_suppressed (the server's 1 s
 * timer), whichever comes first, so a burst that stops is still reported.
 * One mutex, held only for the bookkeeping; formatting and write(2) happen
 * outside it (log.c).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "log_internal.h"

static _Atomic unsigned span_rate = 1000;
static pthread_mutex_t span_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t span_window; /* start of the current window, ms */
static unsigned span_written;
static uint64_t span_dropped;

void wblog_set_span_rate(unsigned per_sec)
{
    pthread_mutex_lock(&span_mu);
    atomic_store(&span_rate, per_sec);
    span_window = 0;
    span_written = 0;
    pthread_mutex_unlock(&span_mu);
}

static void span_report(uint64_t dropped, unsigned rate)
{
    wblog_field f[] = {WBF_UINT("dropped", dropped),
                       WBF_UINT("spanRate", rate)};
    wblog_write_now(WBLOG_WARN, "span records dropped over the span rate", f,
                    2);
}

/* Under span_mu: starts a new window if the current one is over; returns
 * the drop count to report (0: none). */
static uint64_t span_roll(uint64_t now)
{
    uint64_t owed = 0;
    if (now - span_window >= 1000) {
        owed = span_dropped;
        span_dropped = 0;
        span_window = now;
        span_written = 0;
    }
    return owed;
}

void wblog_emit_span(const wblog_field *fields, size_t n)
{
    unsigned rate = atomic_load(&span_rate);
    if (!wblog_enabled(WBLOG_INFO))
        return;
    uint64_t now = wblog_mono_ms();
    pthread_mutex_lock(&span_mu);
    uint64_t owed = span_roll(now);
    int admit = span_written < rate;
    if (admit)
        span_written++;
    else if (rate)
        span_dropped++;
    pthread_mutex_unlock(&span_mu);
    if (owed)
        span_report(owed, rate);
    if (admit)
        wblog_write_now(WBLOG_INFO, "span", fields, n);
}

size_t wblog_flush_spans(void)
{
    uint64_t now = wblog_mono_ms();
    pthread_mutex_lock(&span_mu);
    uint64_t owed = span_dropped ? span_roll(now) : 0;
    pthread_mutex_unlock(&span_mu);
    if (!owed)
        return 0;
    span_report(owed, atomic_load(&span_rate));
    return 1;
}
