/*
 * repl_entry.h: the records of a replication stream entry (the "r" field of
 * wb:ops:<shard>, repl_internal.h): a sequence of (u32 little-endian
 * length, encoded op batch). The bytes come from Redis, so nothing in them
 * is trusted: every length is checked against what is left. Also the
 * presence messages of Redis pub/sub (repl_presence.c).
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

/* A presence message of channel wb:presence (repl_presence.c):
 * "<origin id>:<board id>\n<server presence frame>". Checks every part:
 * the origin is a number other than self, the board id a board id, the
 * frame at most REPL_PRESENCE_MAX bytes and a well-formed server presence
 * frame (nothing else may reach clients this way). Returns 0 with the
 * board id copied into board_id (WB_MAX_ID_LEN + 1 bytes) and *frame, *flen
 * pointing into msg; WB_EINVAL for our own messages; WB_EMALFORMED,
 * WB_ETOOBIG or the frame decoder's error otherwise. */
#define REPL_PRESENCE_MAX 8192u
int repl_presence_parse(const char *msg, size_t len, uint64_t self,
                        char *board_id, const uint8_t **frame, size_t *flen);

#endif /* WB_REPL_ENTRY_H */
