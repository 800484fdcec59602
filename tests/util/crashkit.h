/*
 * crashkit.h: known-content records and whole-log checks for the oplog
 * writer, fault and crash tests (tests only).
 *
 * Payloads are self-describing: a 16-byte head (producer id, counter,
 * length, and a check of the three) followed by bytes that are a pure
 * function of (producer, counter, index). So a record read back after a
 * crash proves by itself that it is intact, and says who wrote it; no copy
 * of what was written is needed.
 *
 * ck_read_all() reads a directory with the public reader
 * (oplog_reader_open/next) and checks, for every record: the payload is
 * intact, seqs are contiguous from the first record, and the last record
 * carries OPLOG_FLAG_BATCH_END. It calls cb for each record so a test can
 * match it against what it knows was acknowledged.
 */
#ifndef WB_CRASHKIT_H
#define WB_CRASHKIT_H

#include <stddef.h>
#include <stdint.h>

#include "oplog.h"

#define CK_MIN_PAYLOAD 16u

/* Fills buf[0..len) (len >= CK_MIN_PAYLOAD) for (producer, counter). */
void ck_payload_fill(uint8_t *buf, uint32_t len, uint32_t producer,
                     uint32_t counter);

/* Returns 0 if buf[0..len) is an intact ck payload (filling *producer and
 * *counter), -1 otherwise. */
int ck_payload_check(const uint8_t *buf, uint32_t len, uint32_t *producer,
                     uint32_t *counter);

/* A 64-bit hash of a payload (XXH3), for reporting over a pipe. */
uint64_t ck_hash(const void *buf, size_t len);

/* Per-record callback of ck_read_all; return non-zero to stop with it. */
typedef int (*ck_record_fn)(void *arg, const oplog_record *rec,
                            uint32_t producer, uint32_t counter);

typedef struct ck_summary {
    uint64_t records;
    uint64_t first_seq; /* 0 if none */
    uint64_t last_seq;
    char error[256];    /* what was wrong, empty if nothing */
} ck_summary;

/* Reads the whole log in dir. Returns 0 if every check held (sum filled),
 * or -1 with sum->error describing the first violation. cb may be NULL. */
int ck_read_all(const char *dir, ck_record_fn cb, void *arg, ck_summary *sum);

#endif /* WB_CRASHKIT_H */
