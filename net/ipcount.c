/*
 * ipcount.c: open connections per client IP (see ipcount.h).
 *
 * Buckets double when the entries reach twice their number (chains stay
 * short); they never shrink (a table sized for a peak costs 8 bytes a
 * bucket).
 */
#include "ipcount.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <xxhash.h>

#define IPC_TEXT_MAX 63u

struct ipc_entry {
    ipc_entry *next;
    uint64_t hash;
    uint32_t count;
    char ip[IPC_TEXT_MAX + 1];
};

struct ipc_table {
    ipc_entry **b;
    size_t nb; /* power of two */
    size_t n;  /* entries */
    uint64_t seed;
};

ipc_table *ipc_new(void)
{
    ipc_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nb = 64;
    t->b = calloc(t->nb, sizeof *t->b);
    if (!t->b) {
        free(t);
        return NULL;
    }
    if (getrandom(&t->seed, sizeof t->seed, 0) != (ssize_t)sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
    return t;
}

void ipc_free(ipc_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nb; i++)
        for (ipc_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->b);
    free(t);
}

static ipc_entry *find(const ipc_table *t, const char *ip, size_t len,
                       uint64_t h)
{
    for (ipc_entry *e = t->b[h & (t->nb - 1)]; e; e = e->next)
        if (e->hash == h && !strncmp(e->ip, ip, len) && !e->ip[len])
            return e;
    return NULL;
}

static void grow(ipc_table *t)
{
    size_t nb = t->nb * 2;
    ipc_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nb; i++)
        for (ipc_entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

ipc_entry *ipc_acquire(ipc_table *t, const char *ip, uint32_t max, int *full)
{
    *full = 0;
    size_t len = strnlen(ip, IPC_TEXT_MAX + 1);
    if (len > IPC_TEXT_MAX)
        len = IPC_TEXT_MAX; /* longer keys share their first 63 bytes */
    uint64_t h = XXH3_64bits_withSeed(ip, len, t->seed);
    ipc_entry *e = find(t, ip, len, h);
    if (e) {
        if (e->count >= max) {
            *full = 1;
            return NULL;
        }
        e->count++;
        return e;
    }
    if (max == 0) {
        *full = 1;
        return NULL;
    }
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->ip, ip, len);
    e->hash = h;
    e->count = 1;
    e->next = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = e;
    if (++t->n > 2 * t->nb)
        grow(t);
    return e;
}

void ipc_release(ipc_table *t, ipc_entry *e)
{
    if (!e || --e->count)
        return;
    ipc_entry **pp = &t->b[e->hash & (t->nb - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    t->n--;
    free(e);
}

size_t ipc_addresses(const ipc_table *t)
{
    return t->n;
}

uint32_t ipc_count(const ipc_table *t, const char *ip)
{
    size_t len = strnlen(ip, IPC_TEXT_MAX + 1);
    if (len > IPC_TEXT_MAX)
        len = IPC_TEXT_MAX;
    ipc_entry *e = find(t, ip, len, XXH3_64bits_withSeed(ip, len, t->seed));
    return e ? e->count : 0;
}
