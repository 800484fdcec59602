/*
 * hlc.c: the hybrid logical clock (see hlc.h for the format and the
 * invariants; Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * The clock keeps only the last value it handed out. A new value takes the
 * larger of the wall clock and the last physical time; if the physical
 * part did not move, the logical counter goes up by one; when the counter
 * is exhausted the physical part is pushed one millisecond ahead. So the
 * sequence of returned values is strictly increasing, which is all the
 * stamp order needs; closeness to the wall clock is best effort.
 */
#include <errno.h>
#include <time.h>

#include "hlc.h"

void hlc_init(hlc_clock *c, uint64_t last)
{
    c->last = last;
}

uint64_t hlc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The smallest value > floor whose physical part is at least wall_ms. */
static uint64_t hlc_next(uint64_t floor, uint64_t wall_ms)
{
    if (wall_ms > HLC_MAX_PHYS)
        wall_ms = HLC_MAX_PHYS;
    uint64_t phys = HLC_PHYS(floor);
    if (wall_ms > phys)
        return HLC_MAKE(wall_ms, 0);
    if (HLC_LOGICAL(floor) < HLC_LOGICAL_MASK)
        return floor + 1;
    if (phys >= HLC_MAX_PHYS)
        return floor; /* saturated (year 10889, or a hostile peer) */
    return HLC_MAKE(phys + 1, 0); /* counter exhausted: step ahead */
}

uint64_t hlc_now(hlc_clock *c, uint64_t wall_ms)
{
    c->last = hlc_next(c->last, wall_ms);
    return c->last;
}

int hlc_update(hlc_clock *c, uint64_t remote, uint64_t wall_ms,
               uint64_t max_drift_ms, uint64_t *out)
{
    if (max_drift_ms && HLC_PHYS(remote) > wall_ms &&
        HLC_PHYS(remote) - wall_ms > max_drift_ms)
        return -ERANGE;
    uint64_t floor = remote > c->last ? remote : c->last;
    c->last = hlc_next(floor, wall_ms);
    if (out)
        *out = c->last;
    return 0;
}
