/*
 * repl_entry.h: the records of a replication stream entry (the "r" field of
 * wb:ops:<shard>, repl_internal.h): a sequence of (u32 little-endian
 * length, encoded op batch). The bytes come from Redis, so nothing in them
 * is trusted: every length is checked against what is left.
 */
#ifndef WB_REPL_ENTRY_H
#define WB_REPL_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* Called with one record's bytes (borrowed: valid during the call). A
 * nonzero return stops the walk and is returned by repl_entry_records. */
typedef int (*repl_entry_fn)(void *arg, const uint8_t *rec, uint32_t len);

/* Hands each record of p[0..len) to fn in order. Returns 0 when the bytes
 * end exactly after a record, fn's first nonzero result, or WB_ETRUNCATED
 * when a length runs past the end or 1..3 bytes are left over (the records
 * before it were handed to fn already). *nrec (may be NULL): records
 * handed to fn. */
int repl_entry_records(const uint8_t *p, size_t len, repl_entry_fn fn,
                       void *arg, size_t *nrec);

#endif /* WB_REPL_ENTRY_H */
