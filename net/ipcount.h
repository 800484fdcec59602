/*
 * ipcount.h: open connections per client IP, for the cap on concurrent
 * WebSocket connections from one address (--max-conns-per-ip).
 *
 * A chained hash table of (IP text, count) entries; an entry exists while
 * its count is above zero, so memory follows the number of distinct
 * addresses connected, never the number that ever were. The hash is XXH3
 * with a random seed per table (clients pick their addresses within a
 * range, so chains must not be floodable by collisions). Not thread-safe:
 * the service thread owns it.
 */
#ifndef WB_IPCOUNT_H
#define WB_IPCOUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ipc_table ipc_table;
typedef struct ipc_entry ipc_entry; /* a handle for ipc_release */

/* NULL on ENOMEM. */
ipc_table *ipc_new(void);
void ipc_free(ipc_table *t);

/* Counts one more connection from ip (NUL-terminated text, at most 63
 * bytes) if it has fewer than max: returns its entry (keep it for
 * ipc_release). NULL when ip already has max (or on ENOMEM, *full == 0). */
ipc_entry *ipc_acquire(ipc_table *t, const char *ip, uint32_t max, int *full);

/* One connection of e's address closed; e is freed at zero. */
void ipc_release(ipc_table *t, ipc_entry *e);

/* Distinct addresses with connections; connections of one address. */
size_t ipc_addresses(const ipc_table *t);
uint32_t ipc_count(const ipc_table *t, const char *ip);

#endif /* WB_IPCOUNT_H */
