/*
 * oplog_internal.h: what the oplog's files share with each other; not for
 * use outside engine/oplog*.c (and their tests).
 *
 *   oplog_format.h/.c   the on-disk layout: segment header, record framing,
 *                       encode/validate (the normative layout comment lives
 *                       in oplog_format.h and docs/oplog-format.md)
 *   oplog_segment.c     segment files: naming, listing, prepare (zero-fill
 *                       ahead of use), activate, retention
 *   oplog_recover.c     open-time recovery of the newest segment
 *   oplog_check.c       offline verify and repair (wbctl)
 *   oplog_reader.c      sequential reader across segments
 *   oplog_writer.c      the writer thread, queue, group commit, io_uring and
 *                       the pwrite fallback; oplog_open/append/close
 */
#ifndef WB_OPLOG_INTERNAL_H
#define WB_OPLOG_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "oplog.h"
#include "wb_io.h"

/* ---- format (oplog_format.c) ---------------------------------------- */

/* Bytes a record with an len-byte payload occupies on disk (header,
 * payload, zero padding, checksum; a multiple of 8). */
size_t oplog_record_size(uint32_t len);

/* Encodes one record into dst (which has oplog_record_size(len) bytes) and
 * returns the bytes written. */
size_t oplog_record_encode(uint8_t *dst, uint64_t seq, int64_t time_us,
                           uint16_t type, uint16_t flags, const void *payload,
                           uint32_t len);

/* ---- segments (oplog_segment.c) ------------------------------------- */

/* Path of the segment whose first record is first_seq, into out (PATH_MAX). */
void oplog_segment_path(const char *dir, uint64_t first_seq, char *out);

/* Lists the segment files of dir as their first sequence numbers, sorted
 * ascending. *firsts is malloc'd (caller frees). */
int oplog_segment_list(const char *dir, uint64_t **firsts, size_t *n);

/* Creates the spare segment file for dir: size bytes, zero-filled through
 * pwrite (not a sparse file: fdatasync into written blocks is about twice as
 * fast as into a growing file) and fdatasync'd, under a temporary name.
 * *fd receives a read-write descriptor. Called by the writer ahead of need. */
int oplog_segment_prepare(const wb_io *io, const char *dir, uint64_t size,
                          int *fd);

/* Turns the prepared spare (fd) into the segment starting at first_seq:
 * writes and syncs its header, renames it to its final name and syncs the
 * directory. path_out (PATH_MAX) receives the final path. */
int oplog_segment_activate(const wb_io *io, const char *dir, int fd,
                           uint64_t node_id, uint64_t first_seq,
                           uint64_t size, char *path_out);

/* Deletes segments all of whose records are below keep_from, never the one
 * starting at active_first. Returns the count deleted; *freed gets bytes. */
int oplog_segment_retain(const wb_io *io, const char *dir, uint64_t keep_from,
                         uint64_t active_first, uint64_t *freed);

/* ---- recovery (oplog_recover.c) ------------------------------------- */

/* Where the writer resumes after recovery. */
typedef struct oplog_tail {
    int has_segment;        /* 0: directory empty, start at seq 1 */
    char path[PATH_MAX];    /* newest segment */
    uint64_t segment_first; /* its first sequence number */
    uint64_t segment_size;  /* its file size */
    uint64_t write_off;     /* byte offset where the next record goes */
    uint64_t next_seq;      /* sequence number of the next record */
    uint64_t oldest_seq;    /* first record of the oldest segment */
} oplog_tail;

/* Recovers dir for writing: validates every segment header (node_id must
 * match unless it is 0), scans the newest segment, cuts a torn tail (and a
 * trailing batch without its BATCH_END record) by zeroing it and syncing,
 * and fills *tail. Mid-log corruption: WB_ECORRUPT with err naming segment
 * and offset, unless repair, which cuts the log there and says so in rec. */
int oplog_recover(const wb_io *io, const char *dir, uint64_t node_id,
                  int repair, oplog_tail *tail, oplog_recovery *rec,
                  char *err, size_t errlen);

#endif /* WB_OPLOG_INTERNAL_H */
