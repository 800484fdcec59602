/*
 * engine_dedupe.c: the window of recent (user, client op id) pairs.
 *
 * A client that reconnects resends the ops it has no ack for. The engine
 * remembers the stamp it gave each of the last `cap` local ops, keyed by
 * XXH3(user id, seeded with the client op id) plus the op id itself, so a
 * resend is acked with the original stamp and not logged again. (Two users
 * colliding on 64 bits of hash AND op id is treated as impossible.)
 *
 * Layout: a FIFO ring of entries (the oldest is overwritten when full) and
 * a chained hash index over it (bucket heads, per-entry next). Owned by the
 * engine thread. Rebuilt at startup from the replayed oplog tail.
 */
#include <stdlib.h>
#include <xxhash.h>

#include "engine_internal.h"
#include "wb_error.h"

static uint64_t dd_key(wb_str user, uint64_t cid)
{
    return XXH3_64bits_withSeed(user.ptr ? user.ptr : "", user.len, cid);
}

int eng_dedupe_init(eng_dedupe *d, uint32_t cap)
{
    uint32_t nb = 64;
    while (nb < cap && nb < (1u << 30))
        nb <<= 1;
    d->ents = calloc(cap, sizeof *d->ents);
    d->buckets = malloc((size_t)nb * sizeof *d->buckets);
    if (!d->ents || !d->buckets) {
        eng_dedupe_free(d);
        return WB_ENOMEM;
    }
    for (uint32_t i = 0; i < nb; i++)
        d->buckets[i] = -1;
    d->cap = cap;
    d->nbuckets = nb;
    d->next = 0;
    return 0;
}

void eng_dedupe_free(eng_dedupe *d)
{
    free(d->ents);
    free(d->buckets);
    d->ents = NULL;
    d->buckets = NULL;
}

static void dd_unlink(eng_dedupe *d, int32_t idx)
{
    eng_dedupe_ent *en = &d->ents[idx];
    int32_t *link = &d->buckets[en->key & (d->nbuckets - 1)];
    while (*link != -1) {
        if (*link == idx) {
            *link = en->next;
            break;
        }
        link = &d->ents[*link].next;
    }
    en->used = 0;
}

static int32_t dd_lookup(const eng_dedupe *d, uint64_t key, uint64_t cid)
{
    int32_t i = d->buckets[key & (d->nbuckets - 1)];
    while (i != -1) {
        const eng_dedupe_ent *en = &d->ents[i];
        if (en->key == key && en->cid == cid)
            return i;
        i = en->next;
    }
    return -1;
}

int eng_dedupe_find(const eng_dedupe *d, wb_str user, uint64_t cid,
                    wb_stamp *stamp)
{
    if (!d->cap)
        return 0;
    int32_t i = dd_lookup(d, dd_key(user, cid), cid);
    if (i < 0)
        return 0;
    *stamp = d->ents[i].stamp;
    return 1;
}

void eng_dedupe_put(eng_dedupe *d, wb_str user, uint64_t cid,
                    const wb_stamp *stamp)
{
    if (!d->cap)
        return;
    uint64_t key = dd_key(user, cid);
    int32_t i = dd_lookup(d, key, cid);
    if (i >= 0) {
        d->ents[i].stamp = *stamp;
        return;
    }
    i = (int32_t)d->next;
    d->next = (d->next + 1) % d->cap;
    if (d->ents[i].used)
        dd_unlink(d, i);
    eng_dedupe_ent *en = &d->ents[i];
    en->key = key;
    en->cid = cid;
    en->stamp = *stamp;
    en->used = 1;
    int32_t *head = &d->buckets[key & (d->nbuckets - 1)];
    en->next = *head;
    *head = i;
}

void eng_dedupe_forget(eng_dedupe *d, wb_str user, uint64_t cid)
{
    if (!d->cap)
        return;
    int32_t i = dd_lookup(d, dd_key(user, cid), cid);
    if (i >= 0)
        dd_unlink(d, i);
}
