/*
 * ratelimit.c: token buckets and the bounded keyed table of ratelimit.h.
 *
 * Bucket arithmetic: content in nano-tokens, capacity burst * 1e9 (fits in
 * 64 bits for any uint32 burst). Refill adds elapsed_ns * rate nano-tokens,
 * saturating at capacity; the product is only formed when elapsed_ns is
 * below the time to fill the bucket, so it cannot overflow.
 *
 * Table: chained hash (FNV-1a) sized once for max_keys, plus an LRU list
 * threaded through the same entries (head = most recently used). Invariant:
 * every entry is on exactly one hash chain and in the LRU list, and
 * count <= max_keys. All of it under the table's mutex.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wb_error.h"

#define NS_PER_TOKEN 1000000000ull

uint64_t rl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rl_capacity(const rl_limit *lim)
{
    return (uint64_t)(lim->burst ? lim->burst : 1) * NS_PER_TOKEN;
}

static void rl_refill(rl_bucket *b, const rl_limit *lim, uint64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return; /* clock did not advance (or went back): no refill */
    uint64_t cap = rl_capacity(lim);
    if (lim->rate == 0) { /* unlimited: always full */
        b->nanotokens = cap;
        b->last_ns = now_ns;
        return;
    }
    uint64_t elapsed = now_ns - b->last_ns;
    b->last_ns = now_ns;
    uint64_t missing = cap - b->nanotokens;
    /* elapsed * rate >= missing, tested without forming the product. */
    if (elapsed >= (missing + lim->rate - 1) / lim->rate)
        b->nanotokens = cap;
    else
        b->nanotokens += elapsed * lim->rate;
}

void rl_bucket_init(rl_bucket *b, const rl_limit *lim, uint64_t now_ns)
{
    b->nanotokens = rl_capacity(lim);
    b->last_ns = now_ns;
}

int rl_bucket_take(rl_bucket *b, const rl_limit *lim, uint32_t n,
                   uint64_t now_ns)
{
    if (lim->rate == 0)
        return 1;
    rl_refill(b, lim, now_ns);
    uint64_t need = (uint64_t)n * NS_PER_TOKEN;
    if (b->nanotokens < need)
        return 0;
    b->nanotokens -= need;
    return 1;
}

uint64_t rl_bucket_wait_ns(const rl_bucket *b, const rl_limit *lim,
                           uint32_t n, uint64_t now_ns)
{
    if (lim->rate == 0)
        return 0;
    uint64_t need = (uint64_t)n * NS_PER_TOKEN;
    if (need > rl_capacity(lim))
        return UINT64_MAX;
    rl_bucket tmp = *b;
    rl_refill(&tmp, lim, now_ns);
    if (tmp.nanotokens >= need)
        return 0;
    uint64_t missing = need - tmp.nanotokens;
    return (missing + lim->rate - 1) / lim->rate;
}

/* ---- keyed table ---- */

typedef struct rl_entry {
    struct rl_entry *chain;          /* next on the same hash chain */
    struct rl_entry *prev, *next;    /* LRU list; head = most recent */
    uint64_t hash;
    rl_bucket bucket;
    char key[];                      /* NUL-terminated copy */
} rl_entry;

struct rl_table {
    pthread_mutex_t mu;
    rl_limit lim;
    size_t max_keys, count, nslots;
    rl_entry **slots;
    rl_entry *head, *tail;
    rl_stats stats;
};

static uint64_t rl_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

rl_table *rl_table_new(rl_limit lim, size_t max_keys)
{
    if (max_keys == 0 || max_keys > (SIZE_MAX / 4) / sizeof(rl_entry *))
        return NULL;
    rl_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nslots = 16;
    while (t->nslots < 2 * max_keys)
        t->nslots *= 2;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->lim = lim;
    t->max_keys = max_keys;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void rl_table_free(rl_table *t)
{
    if (!t)
        return;
    rl_entry *e = t->head;
    while (e) {
        rl_entry *next = e->next;
        free(e);
        e = next;
    }
    free(t->slots);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void lru_unlink(rl_table *t, rl_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(rl_table *t, rl_entry *e)
{
    e->prev = NULL;
    e->next = t->head;
    if (t->head)
        t->head->prev = e;
    t->head = e;
    if (!t->tail)
        t->tail = e;
}

static void rl_remove(rl_table *t, rl_entry *e)
{
    rl_entry **pp = &t->slots[e->hash & (t->nslots - 1)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(t, e);
    t->count--;
    free(e);
}

static int rl_is_full(const rl_table *t, const rl_entry *e, uint64_t now_ns)
{
    rl_bucket tmp = e->bucket;
    rl_refill(&tmp, &t->lim, now_ns);
    return tmp.nanotokens == rl_capacity(&t->lim);
}

static rl_entry *rl_lookup(rl_table *t, const char *key, size_t n,
                           uint64_t h)
{
    for (rl_entry *e = t->slots[h & (t->nslots - 1)]; e; e = e->chain)
        if (e->hash == h && strncmp(e->key, key, n + 1) == 0)
            return e;
    return NULL;
}

static rl_entry *rl_insert(rl_table *t, const char *key, size_t n,
                           uint64_t h, uint64_t now_ns)
{
    if (t->count >= t->max_keys) {
        rl_entry *victim = t->tail;
        if (!rl_is_full(t, victim, now_ns))
            t->stats.evicted_active++;
        rl_remove(t, victim);
    }
    rl_entry *e = malloc(sizeof *e + n + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, n + 1);
    e->hash = h;
    rl_bucket_init(&e->bucket, &t->lim, now_ns);
    size_t slot = h & (t->nslots - 1);
    e->chain = t->slots[slot];
    t->slots[slot] = e;
    lru_push_front(t, e);
    t->count++;
    return e;
}

int rl_table_take(rl_table *t, const char *key, uint32_t n, uint64_t now_ns)
{
    size_t len = strnlen(key, RL_KEY_MAX + 1);
    if (len == 0)
        return WB_EINVAL;
    if (len > RL_KEY_MAX)
        return WB_ETOOBIG;
    uint64_t h = rl_hash(key, len);
    pthread_mutex_lock(&t->mu);
    rl_entry *e = rl_lookup(t, key, len, h);
    if (e) {
        lru_unlink(t, e);
        lru_push_front(t, e);
    } else {
        e = rl_insert(t, key, len, h, now_ns);
    }
    int rc = WB_ENOMEM;
    if (e) {
        rc = rl_bucket_take(&e->bucket, &t->lim, n, now_ns);
        if (rc)
            t->stats.allowed++;
        else
            t->stats.limited++;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

size_t rl_table_sweep(rl_table *t, uint64_t now_ns)
{
    size_t dropped = 0;
    pthread_mutex_lock(&t->mu);
    rl_entry *e = t->tail;
    while (e) {
        rl_entry *prev = e->prev;
        if (rl_is_full(t, e, now_ns)) {
            rl_remove(t, e);
            dropped++;
        }
        e = prev;
    }
    t->stats.swept += dropped;
    pthread_mutex_unlock(&t->mu);
    return dropped;
}

void rl_table_stats(rl_table *t, rl_stats *out)
{
    pthread_mutex_lock(&t->mu);
    *out = t->stats;
    out->keys = t->count;
    pthread_mutex_unlock(&t->mu);
}
