/*
 * dur_hist.c: the fixed-bucket duration histogram of dur_hist.h. One
 * relaxed fetch_add per bucket and one for the sum: no ordering between
 * them is needed, since readers only want totals.
 */
#include "dur_hist.h"

const uint64_t dur_hist_bounds_ns[DUR_HIST_BOUNDS] = {
    50000,    100000,   250000,    500000,    1000000,   2500000,   5000000,
    10000000, 25000000, 50000000,  100000000, 250000000, 1000000000};

void dur_hist_observe(dur_hist *h, uint64_t ns)
{
    unsigned b = 0;
    while (b < DUR_HIST_BOUNDS && ns > dur_hist_bounds_ns[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void dur_hist_read(const dur_hist *ch, dur_hist_counts *out)
{
    dur_hist *h = (dur_hist *)ch; /* loads only; C11 atomics want non-const */
    out->count = 0;
    for (unsigned b = 0; b < DUR_HIST_BUCKETS; b++) {
        out->bucket[b] =
            atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        out->count += out->bucket[b];
    }
    out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}
