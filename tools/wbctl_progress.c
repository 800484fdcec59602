/*
 * wbctl_progress.c: a one-line progress bar on stderr for long operations
 * (stats, compact --retain-seconds, verify, restore/export replay, seed).
 * Only when stderr is a terminal (and WBCTL_NO_PROGRESS is unset): scripts
 * and logs never see it. Redrawn at
 * most every 100 ms with "\r"; wbctl_progress_end erases the line, so the
 * real output is left as if there had been no bar.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wbctl.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wbctl_progress_begin(wbctl_progress *p, const char *label)
{
    p->on = isatty(STDERR_FILENO) && !getenv("WBCTL_NO_PROGRESS");
    p->label = label;
    p->last_ns = 0;
    p->drawn = 0;
}

void wbctl_progress_update(wbctl_progress *p, uint64_t done, uint64_t total)
{
    if (!p->on)
        return;
    uint64_t now = mono_ns();
    if (p->drawn && now - p->last_ns < 100000000u)
        return;
    p->last_ns = now;
    p->drawn = 1;
    if (total < done)
        total = done;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 0;
    char bar[31];
    for (unsigned i = 0; i < 30; i++)
        bar[i] = i < pct * 30 / 100 ? '#' : ' ';
    bar[30] = 0;
    fprintf(stderr, "\r%s [%s] %3u%% (%llu/%llu)", p->label, bar, pct,
            (unsigned long long)done, (unsigned long long)total);
    fflush(stderr);
}

void wbctl_progress_end(wbctl_progress *p)
{
    if (p->on && p->drawn)
        fputs("\r\033[K", stderr);
    p->drawn = 0;
}
