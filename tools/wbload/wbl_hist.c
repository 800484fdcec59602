/*
 * wbl_hist.c: the log-linear histogram of wbl_hist.h.
 *
 * Index of v: v itself below SUB = 2^S; else with m = msb(v) and
 * b = m - (S - 1) >= 1, the top S bits sub = v >> b lie in [SUB/2, SUB)
 * and idx = b * SUB/2 + sub. Bucket idx covers [sub << b, (sub+1) << b).
 */
#include <string.h>

#include "wbl_hist.h"

#define SUB (1u << WBL_HIST_SUB_BITS)
#define HALF (SUB / 2u)

static unsigned hist_index(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v);
    unsigned b = m - (WBL_HIST_SUB_BITS - 1u);
    unsigned idx = b * HALF + (unsigned)(v >> b);
    return idx < WBL_HIST_BUCKETS ? idx : WBL_HIST_BUCKETS - 1u;
}

static uint64_t hist_upper(unsigned idx)
{
    if (idx < SUB)
        return idx;
    unsigned b = idx / HALF - 1u;
    uint64_t sub = idx - (uint64_t)b * HALF;
    return ((sub + 1u) << b) - 1u;
}

void wbl_hist_add(wbl_hist *h, uint64_t us)
{
    h->b[hist_index(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void wbl_hist_merge(wbl_hist *into, const wbl_hist *from)
{
    for (unsigned i = 0; i < WBL_HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t wbl_hist_quantile(const wbl_hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q >= 1.0)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < WBL_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t up = hist_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
