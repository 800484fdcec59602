/*
 * wbl_hist.h: an HDR-style log-linear latency histogram (prefix wbl_hist_).
 *
 * Values are microseconds (uint64). Below 2^WBL_HIST_SUB_BITS every value
 * has its own bucket; above, each power of two is split into
 * 2^(WBL_HIST_SUB_BITS-1) equal buckets, so a quantile is exact to about
 * 1.6% (the bucket's upper bound is reported, never an underestimate).
 * Fixed size (no allocation), mergeable by adding counts. One histogram per
 * thread; merged by the main thread after the workers stop.
 */
#ifndef WBL_HIST_H
#define WBL_HIST_H

#include <stdint.h>

#define WBL_HIST_SUB_BITS 7u
#define WBL_HIST_BUCKETS 3840u

typedef struct wbl_hist {
    uint64_t count;
    uint64_t max;
    uint64_t sum;
    uint64_t b[WBL_HIST_BUCKETS];
} wbl_hist;

void wbl_hist_add(wbl_hist *h, uint64_t us);
void wbl_hist_merge(wbl_hist *into, const wbl_hist *from);
/* The value at quantile q (0..1) in microseconds: the upper bound of the
 * bucket holding it (max for q = 1). 0 when empty. */
uint64_t wbl_hist_quantile(const wbl_hist *h, double q);

#endif /* WBL_HIST_H */
