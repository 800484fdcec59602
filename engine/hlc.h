/*
 * hlc.h: the hybrid logical clock that stamps ops (public API).
 *
 * A stamp's hlc is one uint64: the upper 48 bits are wall-clock
 * milliseconds since the Unix epoch (enough until the year 10889), the lower
 * 16 bits a logical counter that orders events within one millisecond (and
 * absorbs a wall clock that stands still or goes backwards). Comparing two
 * hlc values as integers compares them as (physical, logical).
 *
 * Invariants of one clock (hlc_clock): every value it returns is strictly
 * greater than every value it returned before and every remote value it was
 * given through hlc_update, whatever the wall clock does. When the logical
 * counter would overflow, the physical part is advanced by one millisecond
 * (the clock runs slightly ahead of the wall until the wall catches up).
 * The one exception: at the very top of the range (physical part 2^48-1 and
 * counter 0xFFFF, reachable only through a hostile remote value absorbed
 * without a drift bound) the clock saturates instead of wrapping to 0.
 *
 * Who calls it: the engine thread, which owns the node's clock (not
 * thread-safe; one clock per node, used by one thread): hlc_now() to stamp a
 * local op, hlc_update() for every op received from a peer node.
 */
#ifndef WB_HLC_H
#define WB_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS 16u
#define HLC_LOGICAL_MASK 0xFFFFull
#define HLC_MAX_PHYS ((1ull << 48) - 1)

#define HLC_MAKE(ms, logical) (((uint64_t)(ms) << HLC_LOGICAL_BITS) | ((uint64_t)(logical) & HLC_LOGICAL_MASK))
#define HLC_PHYS(h) ((uint64_t)(h) >> HLC_LOGICAL_BITS)
#define HLC_LOGICAL(h) ((uint64_t)(h) & HLC_LOGICAL_MASK)

typedef struct hlc_clock {
    uint64_t last; /* the last value returned (0: none yet) */
} hlc_clock;

/* Starts a clock after `last` (0 for a fresh clock; after a restart, pass
 * the highest hlc found in the node's own log so stamps keep increasing). */
void hlc_init(hlc_clock *c, uint64_t last);

/* Wall clock in milliseconds (CLOCK_REALTIME), for callers of hlc_now. */
uint64_t hlc_wall_ms(void);

/* Returns a new stamp for a local event at wall time wall_ms: strictly
 * greater than any value this clock returned or absorbed before. */
uint64_t hlc_now(hlc_clock *c, uint64_t wall_ms);

/* Absorbs a remote stamp received at wall time wall_ms: afterwards the
 * clock is greater than both its previous value and remote, and the new
 * value is returned through *out (may be NULL). If max_drift_ms is not 0
 * and remote's physical time is more than max_drift_ms ahead of wall_ms,
 * the clock is left unchanged and -ERANGE is returned (a peer with a wild
 * clock must not drag ours into the future); the caller decides what to do
 * with the op (it can still be applied: the merge does not need causality,
 * only a total order). Returns 0 or -ERANGE. */
int hlc_update(hlc_clock *c, uint64_t remote, uint64_t wall_ms,
               uint64_t max_drift_ms, uint64_t *out);

#endif /* WB_HLC_H */
