/*
 * dur_hist.h: a fixed-bucket duration histogram kept in atomics (public
 * API, prefix dur_hist_).
 *
 * The engine measures latencies it owns (the oplog writer's fdatasync, the
 * engine thread's apply of a durable batch) without knowing the network's
 * metrics registry: it counts them here, and the node copies the counts
 * into its Prometheus series at scrape time (oplog_get_stats,
 * engine_get_stats). Upper bounds, inclusive (le), in nanoseconds:
 *
 *   50us 100us 250us 500us 1ms 2.5ms 5ms 10ms 25ms 50ms 100ms 250ms 1s +Inf
 *
 * Threads: dur_hist_observe from one or more threads, lock-free; readers
 * from any thread. A read is not a snapshot across buckets (an observation
 * may land between two loads), but count is the sum of the buckets read, so
 * each result is self-consistent.
 */
#ifndef WB_DUR_HIST_H
#define WB_DUR_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define DUR_HIST_BOUNDS 13u
#define DUR_HIST_BUCKETS (DUR_HIST_BOUNDS + 1u) /* the last one is +Inf */

extern const uint64_t dur_hist_bounds_ns[DUR_HIST_BOUNDS];

typedef struct dur_hist {
    _Atomic uint64_t bucket[DUR_HIST_BUCKETS]; /* NOT cumulative */
    _Atomic uint64_t sum_ns;
} dur_hist;

typedef struct dur_hist_counts {
    uint64_t bucket[DUR_HIST_BUCKETS]; /* NOT cumulative; last: +Inf */
    uint64_t sum_ns;
    uint64_t count; /* sum of bucket[] */
} dur_hist_counts;

/* Records one duration. h must be zero-initialised before first use. */
void dur_hist_observe(dur_hist *h, uint64_t ns);

/* Copies the counts into *out. */
void dur_hist_read(const dur_hist *h, dur_hist_counts *out);

#endif /* WB_DUR_HIST_H */
