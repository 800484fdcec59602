/*
 * oplog_testlog.h: builds oplog directories by hand for the oplog format,
 * recovery and reader tests (header only; included by tests/test_oplog_*.c).
 *
 * Logs are written with the format's own functions (oplog_segment_prepare /
 * activate, oplog_record_encode, pwrite), not with the writer, so that these
 * tests pin the on-disk side independently of the writer thread. Record
 * contents are a pure function of seq (tl_payload), so a test can check any
 * record it reads back without keeping a copy.
 */
#ifndef WB_OPLOG_TESTLOG_H
#define WB_OPLOG_TESTLOG_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

#define TL_MAX_RECS 4096
#define TL_MAX_SEGS 256
#define TL_TIME0 1700000000000000LL

typedef struct tl_rec {
    uint64_t seg_first; /* segment holding the record */
    uint64_t off;       /* byte offset in that segment */
    size_t size;        /* bytes on disk */
    uint16_t flags;
} tl_rec;

typedef struct tl_log {
    char dir[512];
    uint64_t node;
    uint64_t seg_size;
    uint64_t n;                  /* records written: seqs 1..n */
    tl_rec recs[TL_MAX_RECS + 1]; /* indexed by seq */
    size_t nsegs;
    uint64_t segs[TL_MAX_SEGS];   /* first seqs */
    uint64_t tail_off;            /* write offset in the newest segment */
} tl_log;

/* Payload of record seq: length 0..max_len-ish, bytes derived from seq. */
static inline uint32_t tl_payload(uint64_t seq, uint8_t *buf, uint32_t max_len)
{
    uint32_t len = (uint32_t)((seq * 37u) % 97u);
    if (len > max_len)
        len = max_len;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 7u + i * 13u + 1u);
    return len;
}

static inline uint16_t tl_type(uint64_t seq) { return (uint16_t)(seq % 5u + 1u); }

static inline void tl_seg_path(const tl_log *L, uint64_t first, char *out)
{
    oplog_segment_path(L->dir, first, out);
}

/* Writes records 1..nrecs into dir (which must exist), rolling to a new
 * segment when the next record does not fit. Every batch-th record carries
 * BATCH_END, and so does the last record of each segment and of the log,
 * unless unfinished: then the last `unfinished` records carry no BATCH_END.
 * Returns 0 or an error code. */
static inline int tl_build(tl_log *L, const char *dir, uint64_t node,
                           uint64_t seg_size, uint64_t nrecs, unsigned batch,
                           unsigned unfinished)
{
    memset(L, 0, sizeof *L);
    snprintf(L->dir, sizeof L->dir, "%s", dir);
    L->node = node;
    L->seg_size = seg_size;
    if (nrecs > TL_MAX_RECS)
        return WB_EINVAL;
    const wb_io *io = wb_io_default();
    int fd = -1;
    uint64_t off = 0;
    uint8_t payload[128], rec[256];
    for (uint64_t seq = 1; seq <= nrecs; seq++) {
        uint32_t len = tl_payload(seq, payload, sizeof payload);
        size_t size = oplog_record_size(len);
        if (fd < 0 || off + size > seg_size) {
            if (fd >= 0)
                close(fd);
            int rc = oplog_segment_prepare(io, dir, seg_size, &fd);
            char path[PATH_MAX];
            if (rc == 0)
                rc = oplog_segment_activate(io, dir, fd, node, seq, seg_size,
                                            path);
            if (rc)
                return rc;
            if (L->nsegs == TL_MAX_SEGS)
                return WB_EINVAL;
            L->segs[L->nsegs++] = seq;
            off = OPLOG_SEG_HEADER_SIZE;
        }
        uint16_t flags = 0;
        uint64_t nlen = tl_payload(seq + 1, payload, sizeof payload);
        int last_in_seg = seq == nrecs ||
                          off + size + oplog_record_size((uint32_t)nlen) > seg_size;
        if ((batch && seq % batch == 0) || last_in_seg)
            flags = OPLOG_FLAG_BATCH_END;
        if (unfinished && seq + unfinished > nrecs)
            flags = 0;
        len = tl_payload(seq, payload, sizeof payload);
        oplog_record_encode(rec, seq, TL_TIME0 + (int64_t)seq, tl_type(seq),
                            flags, payload, len);
        int rc = wb_io_pwrite_all(io, fd, rec, size, (off_t)off);
        if (rc)
            return rc;
        L->recs[seq] = (tl_rec){L->segs[L->nsegs - 1], off, size, flags};
        off += size;
    }
    if (fd >= 0)
        close(fd);
    L->n = nrecs;
    L->tail_off = L->nsegs ? off : 0;
    return 0;
}

/* Checks that rec is exactly record seq as tl_build wrote it (flags aside).
 * Returns 1 if it matches. */
static inline int tl_matches(const oplog_record *rec, uint64_t seq)
{
    uint8_t payload[128];
    uint32_t len = tl_payload(seq, payload, sizeof payload);
    return rec->seq == seq && rec->len == len && rec->type == tl_type(seq) &&
           rec->time_us == TL_TIME0 + (int64_t)seq &&
           (len == 0 || memcmp(rec->payload, payload, len) == 0);
}

/* Reads/writes bytes of a file (test convenience; 0 or -1). */
static inline int tl_pwrite(const char *path, const void *buf, size_t n,
                            uint64_t off)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t w = pwrite(fd, buf, n, (off_t)off);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

static inline int tl_pread(const char *path, void *buf, size_t n, uint64_t off)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t r = pread(fd, buf, n, (off_t)off);
    close(fd);
    return r == (ssize_t)n ? 0 : -1;
}

/* Copies a whole file (0 or -1). */
static inline int tl_copy(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = (in < 0 || out < 0) ? -1 : 0;
    char buf[65536];
    ssize_t r;
    while (rc == 0 && (r = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

#endif /* WB_OPLOG_TESTLOG_H */
