/*
 * ratelimit.h: token buckets for ops, joins and sign-ins (public API).
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per second;
 * an action costing n tokens is allowed iff the bucket holds n, and then
 * takes them. Arithmetic is exact integer: the bucket counts nano-tokens
 * (1e-9 token), so refilling 10/s for 100 ms adds exactly one token, and
 * two runs with the same clock readings give the same answers.
 *
 * Time is always passed in (now_ns, a monotonic clock such as rl_now_ns()):
 * tests inject any clock they like, and a clock reading older than the
 * bucket's last one is treated as "no time passed" (never a refund).
 *
 * Two shapes:
 *  - rl_bucket: one bucket, embedded in its owner (the per-connection
 *    limit). Not thread-safe: the thread owning the connection uses it.
 *  - rl_table: buckets keyed by string (user id, IP address) in a bounded
 *    table. At most max_keys keys are held; a new key beyond that evicts the
 *    least recently used one. A bucket idle long enough to be full again is
 *    indistinguishable from an absent one, so rl_table_sweep() drops those
 *    without changing any answer. Evicting a key that is NOT yet full (only
 *    when more than max_keys keys are active at once) hands that key a full
 *    bucket when it comes back: size max_keys above the expected number of
 *    concurrently active users/IPs; rl_table_stats() counts such evictions
 *    so an operator can see it happen. Thread-safe (one mutex per table).
 *
 * rate 0 means "unlimited" (every take is allowed). burst 0 means burst 1.
 */
#ifndef WB_RATELIMIT_H
#define WB_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RL_KEY_MAX 255u /* bytes of a table key (user id, IP text) */

typedef struct rl_limit {
    uint32_t rate;  /* tokens per second; 0: unlimited */
    uint32_t burst; /* bucket capacity in tokens; 0 is taken as 1 */
} rl_limit;

typedef struct rl_bucket {
    uint64_t nanotokens; /* current content, <= burst * 1e9 */
    uint64_t last_ns;    /* clock reading of the last refill */
} rl_bucket;

/* CLOCK_MONOTONIC in nanoseconds: the clock the server passes in. */
uint64_t rl_now_ns(void);

/* Starts a bucket full at time now_ns. */
void rl_bucket_init(rl_bucket *b, const rl_limit *lim, uint64_t now_ns);

/* Takes n tokens if the bucket holds them: returns 1 (allowed, tokens
 * taken) or 0 (limited, bucket unchanged apart from the refill). */
int rl_bucket_take(rl_bucket *b, const rl_limit *lim, uint32_t n,
                   uint64_t now_ns);

/* Nanoseconds until n tokens will be available (0: available now;
 * UINT64_MAX: never, n exceeds the burst). For Retry-After. */
uint64_t rl_bucket_wait_ns(const rl_bucket *b, const rl_limit *lim,
                           uint32_t n, uint64_t now_ns);

typedef struct rl_table rl_table;

typedef struct rl_stats {
    uint64_t allowed, limited; /* answers given */
    uint64_t evicted_active;   /* keys evicted before their bucket was full */
    uint64_t swept;            /* full (idle) keys dropped */
    size_t keys;               /* keys held now */
} rl_stats;

/* Creates a table of at most max_keys (>= 1) keys sharing one limit.
 * Returns NULL if out of memory or max_keys is 0. */
rl_table *rl_table_new(rl_limit lim, size_t max_keys);

/* Frees the table and every key. NULL is ignored. */
void rl_table_free(rl_table *t);

/* Takes n tokens from key's bucket (created full on first use): returns 1
 * (allowed), 0 (limited), WB_ETOOBIG (key longer than RL_KEY_MAX bytes),
 * WB_EINVAL (empty key) or WB_ENOMEM. key is borrowed (copied if stored). */
int rl_table_take(rl_table *t, const char *key, uint32_t n, uint64_t now_ns);

/* Drops every key whose bucket is full again at now_ns; returns how many.
 * The server calls it from a timer; rl_table_take also evicts on demand. */
size_t rl_table_sweep(rl_table *t, uint64_t now_ns);

/* Copies the table's counters into *out. */
void rl_table_stats(rl_table *t, rl_stats *out);

#endif /* WB_RATELIMIT_H */
