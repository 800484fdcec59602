/*
 * oplog_reader.c: sequential reader over the segment files of an oplog
 * directory (used by the mirror, restore, replication catch-up and wbctl).
 *
 * The reader maps one segment at a time read-only and validates every record
 * it passes (framing, checksum, seq continuity within and across segments).
 * It never writes and shares nothing with the writer, so it is safe while a
 * node appends to the same directory; it then sees a prefix of the log.
 *
 * Tail rules (oplog_format.h): in the NEWEST segment, a record that does not
 * validate is "not written yet" when no valid record follows it, and records
 * after the last BATCH_END are held back until their batch end is written;
 * both end the log for now (next() returns 0 and a later call continues from
 * the same place). So does an all-zero record header there, without looking
 * further: checking the rest of a 64 MiB segment on every poll of a tailing
 * reader would cost too much; recovery and verify report a zero header that
 * valid records follow, and a reader reports it once the segment is sealed. Once a later segment exists the current one is sealed:
 * whatever does not validate there is corruption. Before trusting "sealed",
 * the current offset is read again, because the writer may have completed a
 * record there just before it rolled.
 *
 * It sees what has been WRITTEN (the page cache), which can be ahead of
 * what is durable: a reader in the node that must only pass on durable
 * records (the mirror, replication) stops at oplog_durable_seq().
 *
 * A reader that falls behind retention (its segment and the next one
 * deleted while it reads) stops with WB_ESTALE, not WB_ECORRUPT. A reader
 * opened below the oldest segment starts at the oldest record: the caller
 * sees the first seq it gets.
 *
 * Not thread-safe: one reader per thread. Payload pointers point into the
 * mapping and stay valid until the next call on the reader.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

struct oplog_reader {
    char dir[PATH_MAX];
    uint64_t from_seq;  /* records below it are validated, not returned */
    uint64_t expect;    /* seq the next record must carry */
    int have_seg;       /* a segment is mapped */
    uint64_t seg_first;
    char path[PATH_MAX];
    oplog_seg_map map;
    uint64_t off;       /* next record's offset in the mapped segment */
    uint64_t safe_off;  /* records ending here or before: batch end seen */
    int sealed;         /* a later segment exists */
    int failed;         /* sticky error, 0 while healthy */
    uint64_t where_off;
    const char *reason;
};

/* Segment to start from: the last whose first seq <= want, else the
 * oldest. Returns 0 and *first, WB_ENOTFOUND if there is none. */
static int pick_segment(const char *dir, uint64_t want, int after,
                        uint64_t *first)
{
    uint64_t *v;
    size_t n;
    int rc = oplog_segment_list(dir, &v, &n);
    if (rc)
        return rc;
    rc = WB_ENOTFOUND;
    if (after) { /* the next segment after `want` */
        for (size_t i = 0; i < n; i++)
            if (v[i] > want) {
                *first = v[i];
                rc = 0;
                break;
            }
    } else if (n) {
        size_t lo = 0, hi = n; /* binary search: last v[i] <= want */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (v[mid] <= want)
                lo = mid;
            else
                hi = mid;
        }
        *first = v[lo];
        rc = 0;
    }
    free(v);
    return rc;
}

static int fail(oplog_reader *r, int code, uint64_t off, const char *why)
{
    r->failed = code;
    r->where_off = off;
    r->reason = why;
    return code;
}

static int map_segment(oplog_reader *r, uint64_t first)
{
    if (r->have_seg)
        oplog_seg_map_close(&r->map);
    r->have_seg = 0;
    oplog_segment_path(r->dir, first, r->path);
    int rc = oplog_seg_map_open(r->path, &r->map);
    if (rc)
        return fail(r, rc, 0, "cannot map segment");
    r->have_seg = 1;
    oplog_seg_header h;
    rc = oplog_seg_header_decode(r->map.data, r->map.size, &h);
    if (rc == 0 && h.first_seq != first)
        rc = WB_ECORRUPT;
    if (rc == 0 && h.segment_size != r->map.size)
        rc = h.segment_size > r->map.size ? WB_ETRUNCATED : WB_ECORRUPT;
    if (rc)
        return fail(r, rc, 0, "bad segment header");
    r->seg_first = first;
    r->off = OPLOG_SEG_HEADER_SIZE;
    r->safe_off = 0;
    r->sealed = 0;
    return 0;
}

int oplog_reader_open(const char *dir, uint64_t from_seq, oplog_reader **out)
{
    oplog_reader *r = calloc(1, sizeof *r);
    if (!r)
        return WB_ENOMEM;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->from_seq = from_seq ? from_seq : 1;
    uint64_t first;
    int rc = pick_segment(dir, r->from_seq, 0, &first);
    if (rc == 0) {
        rc = map_segment(r, first);
        r->expect = first;
    } else if (rc == WB_ENOTFOUND) {
        rc = 0; /* empty log: segments may appear later */
    }
    if (rc) {
        oplog_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Offset just past the first BATCH_END record at or after off (valid,
 * contiguous records only), or 0 if there is none yet. If the batch is cut
 * short by an invalid record that a valid one follows (corruption, not a
 * write in progress), returns that record's offset: the records before it
 * are returned and the error surfaces when the reader gets there. */
static uint64_t batch_end_after(const oplog_reader *r, uint64_t off,
                                uint64_t seq)
{
    for (;;) {
        oplog_record rec;
        size_t sz;
        if (oplog_record_decode(r->map.data + off, r->map.size - off, &rec,
                                &sz, NULL) != 1 || rec.seq != seq)
            return oplog_find_later_record(r->map.data, r->map.size, off + 8,
                                           off, seq) ? off : 0;
        off += sz;
        seq++;
        if (rec.flags & OPLOG_FLAG_BATCH_END)
            return off;
    }
}

/* Does a later segment exist? Updates r->sealed. */
static void refresh_sealed(oplog_reader *r)
{
    uint64_t next;
    if (!r->sealed && pick_segment(r->dir, r->seg_first, 1, &next) == 0)
        r->sealed = 1;
}

/* At the end of the mapped segment's data (dec: the decode result there).
 * Returns 1 to retry at the same place, 0 for "end of log for now", or an
 * error. Moves to the next segment when this one is sealed. */
static int at_segment_end(oplog_reader *r, int dec, const char *why)
{
    if (!r->sealed) {
        refresh_sealed(r);
        if (r->sealed)
            return 1; /* read the place again now that the segment is done */
        if (dec == 0)
            return 0;
        if (!oplog_find_later_record(r->map.data, r->map.size, r->off + 8,
                                     r->off, r->expect))
            return 0; /* being written right now, or a torn tail */
        oplog_record rec;
        size_t sz;
        if (oplog_record_decode(r->map.data + r->off, r->map.size - r->off,
                                &rec, &sz, NULL) == 1 && rec.seq == r->expect)
            return 1; /* completed while we looked further */
        return fail(r, WB_ECORRUPT, r->off, why);
    }
    if (dec != 0)
        return fail(r, WB_ECORRUPT, r->off, why);
    if (oplog_find_later_record(r->map.data, r->map.size, r->off + 8, r->off,
                                r->expect))
        return fail(r, WB_ECORRUPT, r->off,
                    "zero record header before valid records");
    uint64_t next;
    int rc = pick_segment(r->dir, r->seg_first, 1, &next);
    if (rc)
        return fail(r, rc == WB_ENOTFOUND ? WB_ECORRUPT : rc, r->off,
                    "next segment vanished");
    if (next != r->expect) {
        /* Our segment unlinked under us and its successor too: retention
         * ran past this reader. Not corruption: the records are gone. */
        if (access(r->path, F_OK) != 0 && errno == ENOENT)
            return fail(r, WB_ESTALE, r->off,
                        "records after this segment were deleted by "
                        "retention while it was read");
        return fail(r, WB_ECORRUPT, r->off,
                    "sequence gap: next segment does not follow this one");
    }
    rc = map_segment(r, next);
    return rc ? rc : 1;
}

int oplog_reader_next(oplog_reader *r, oplog_record *rec)
{
    if (r->failed)
        return r->failed;
    if (!r->have_seg) {
        uint64_t first;
        int rc = pick_segment(r->dir, r->from_seq, 0, &first);
        if (rc == WB_ENOTFOUND)
            return 0;
        if (rc || (rc = map_segment(r, first)) != 0)
            return rc;
        r->expect = first;
    }
    for (;;) {
        const uint8_t *p = r->map.data + r->off;
        size_t left = r->map.size - r->off;
        size_t sz = 0;
        const char *why = NULL;
        int dec = oplog_record_decode(p, left, rec, &sz, &why);
        if (dec == 1 && rec->seq != r->expect) {
            dec = WB_ECORRUPT;
            why = "sequence number out of order";
        }
        if (dec != 1) {
            int rc = at_segment_end(r, dec, why);
            if (rc == 1)
                continue;
            return rc;
        }
        uint64_t end = r->off + sz;
        if (!(rec->flags & OPLOG_FLAG_BATCH_END) && end > r->safe_off &&
            !r->sealed) {
            uint64_t safe = batch_end_after(r, r->off, r->expect);
            if (!safe) {
                refresh_sealed(r);
                if (!r->sealed)
                    return 0; /* its batch is still being written */
                continue; /* re-read: the segment is complete now */
            }
            r->safe_off = safe;
        }
        r->where_off = r->off;
        r->off = end;
        r->expect++;
        if (rec->seq >= r->from_seq)
            return 1;
    }
}

const char *oplog_reader_where(const oplog_reader *r, uint64_t *offset)
{
    if (offset)
        *offset = r->where_off;
    return r->have_seg || r->failed ? r->path : r->dir;
}

const char *oplog_reader_reason(const oplog_reader *r)
{
    return r->failed ? (r->reason ? r->reason : wb_strerror(r->failed)) : NULL;
}

void oplog_reader_close(oplog_reader *r)
{
    if (!r)
        return;
    if (r->have_seg)
        oplog_seg_map_close(&r->map);
    free(r);
}
