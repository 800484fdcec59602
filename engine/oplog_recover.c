/*
 * oplog_recover.c: open-time recovery of an oplog directory (called by
 * oplog_open on the opening thread, before the writer thread starts).
 *
 * Steps:
 *   1. Delete a leftover spare (a crash during oplog_segment_prepare, or a
 *      spare that was never activated: it holds no records).
 *   2. Check the header of every segment (magic, version, checksum, node id,
 *      first seq = file name, file size = segment size). Reads 64 bytes per
 *      file: opening stays fast however long the log is.
 *   3. Fully scan the newest segment and the one before it (the only ones a
 *      crash can have left mid-write, and the pair whose seq continuity
 *      decides where the writer resumes). Older segments are checked in full
 *      by oplog_verify and by every reader.
 *   4. Apply the tail rules of oplog_format.h: a torn tail of the newest
 *      segment is zeroed from its start to the end of written data; then a
 *      trailing batch without its BATCH_END record is zeroed too; one
 *      fdatasync. Mid-log corruption (an invalid record followed by a valid
 *      one, a torn tail in a non-newest segment, a seq gap between segments)
 *      is WB_ECORRUPT naming file and offset; with repair the log is cut
 *      there (rest of that segment zeroed, later segments deleted) and the
 *      steps run again on what is left.
 *
 * Invariant on success: the newest segment holds records first..next_seq-1,
 * every one valid, the last one carrying BATCH_END, followed only by zeros
 * from tail->write_off to the end of the file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void append_detail(oplog_recovery *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void append_detail(oplog_recovery *rec, const char *fmt, ...)
{
    size_t used = strlen(rec->detail);
    if (used && used + 3 < sizeof rec->detail) {
        memcpy(rec->detail + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= sizeof rec->detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->detail + used, sizeof rec->detail - used, fmt, ap);
    va_end(ap);
}

/* Cuts the log at (segment firsts[i], off): zeroes the rest of that segment
 * and deletes every later segment. */
static int cut_log(const wb_io *io, const char *dir, const uint64_t *firsts,
                   size_t n, size_t i, const oplog_seg_check *c, uint64_t off)
{
    uint64_t end = c->scan.data_end > off ? c->scan.data_end : off;
    int rc = oplog_zero_range(io, c->path, off, end);
    for (size_t j = n; rc == 0 && j-- > i + 1;) {
        char path[PATH_MAX];
        oplog_segment_path(dir, firsts[j], path);
        rc = io->unlink(io, path);
    }
    if (rc == 0 && i + 1 < n)
        rc = io->fsync_dir(io, dir);
    return rc;
}

static int check_headers(const char *dir, const uint64_t *firsts, size_t n,
                         uint64_t node_id, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        oplog_seg_header h;
        oplog_segment_path(dir, firsts[i], path);
        int rc = oplog_seg_header_read(path, node_id, firsts[i], &h);
        if (rc) {
            snprintf(err, errlen, "%s:0: segment header: %s", path,
                     wb_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Finds mid-log corruption in the last two segments. Returns 0 if none,
 * else fills *cut_seg (index) and *cut_off and the message. */
static int find_midlog(const oplog_seg_check *prev, const oplog_seg_check *last,
                       size_t n, size_t *cut_seg, uint64_t *cut_off,
                       char *msg, size_t msglen)
{
    if (prev) {
        const oplog_scan *s = &prev->scan;
        if (s->stop == OPLOG_STOP_TORN || s->stop == OPLOG_STOP_CORRUPT) {
            *cut_seg = n - 2;
            *cut_off = s->bad_off;
            snprintf(msg, msglen, "%s:%" PRIu64 ": %s (%s)", prev->path,
                     s->bad_off, s->reason,
                     s->stop == OPLOG_STOP_TORN
                         ? "torn tail in a sealed segment"
                         : "valid records follow");
            return 1;
        }
        if (last->first != s->last_seq + 1) {
            *cut_seg = n - 2;
            *cut_off = s->end_off;
            snprintf(msg, msglen,
                     "%s:%" PRIu64 ": sequence gap: segment ends at seq %"
                     PRIu64 ", next segment starts at %" PRIu64,
                     prev->path, s->end_off, s->last_seq, last->first);
            return 1;
        }
    }
    if (last->scan.stop == OPLOG_STOP_CORRUPT) {
        *cut_seg = n - 1;
        *cut_off = last->scan.bad_off;
        snprintf(msg, msglen, "%s:%" PRIu64 ": %s (valid record at %" PRIu64
                 " follows)", last->path, last->scan.bad_off,
                 last->scan.reason, last->scan.later_off);
        return 1;
    }
    return 0;
}

/* Cuts the torn tail and the unfinished batch of the newest segment and
 * fills tail. */
static int fix_tail(const wb_io *io, const oplog_seg_check *c,
                    oplog_tail *tail, oplog_recovery *rec)
{
    const oplog_scan *s = &c->scan;
    uint64_t keep = s->batch_off;
    uint64_t end = s->data_end > s->end_off ? s->data_end : s->end_off;
    if (s->stop == OPLOG_STOP_TORN || s->stop == OPLOG_STOP_STRAY) {
        rec->torn_bytes = end - s->end_off;
        append_detail(rec, "cut torn tail of %s at offset %" PRIu64
                      " (%" PRIu64 " bytes: %s)", base_name(c->path),
                      s->end_off, rec->torn_bytes, s->reason);
    }
    if (keep < s->end_off) {
        rec->dropped_records = (uint32_t)(s->records - s->batch_records);
        append_detail(rec, "dropped %u records of an unfinished batch at %s:%"
                      PRIu64, rec->dropped_records, base_name(c->path), keep);
    }
    if (end > keep) {
        int rc = oplog_zero_range(io, c->path, keep, end);
        if (rc)
            return rc;
    }
    tail->has_segment = 1;
    snprintf(tail->path, sizeof tail->path, "%s", c->path);
    tail->segment_first = c->first;
    tail->segment_size = c->hdr.segment_size;
    tail->write_off = keep;
    tail->next_seq = c->first + s->batch_records;
    return 0;
}

/* One pass over the listed segments. Returns 0 (tail filled), 1 (repair
 * cut the log: list again), or an error. */
static int recover_pass(const wb_io *io, const char *dir, uint64_t node_id,
                        int repair, const uint64_t *firsts, size_t n,
                        oplog_tail *tail, oplog_recovery *rec, char *err,
                        size_t errlen)
{
    oplog_seg_check prev, last;
    int have_prev = n >= 2, rc;
    memset(&prev, 0, sizeof prev);
    if (have_prev && (rc = oplog_seg_check_open(dir, firsts[n - 2], node_id,
                                                &prev)) != 0)
        goto out_prev;
    rc = oplog_seg_check_open(dir, firsts[n - 1], node_id, &last);
    if (rc)
        goto out_last;
    if ((rc = have_prev ? prev.rc : 0) != 0 || (rc = last.rc) != 0) {
        snprintf(err, errlen, "%s:0: segment header: %s",
                 prev.rc ? prev.path : last.path, wb_strerror(rc));
        goto out;
    }
    size_t cut_seg;
    uint64_t cut_off;
    char msg[PATH_MAX + 512];
    if (find_midlog(have_prev ? &prev : NULL, &last, n, &cut_seg, &cut_off,
                    msg, sizeof msg)) {
        snprintf(err, errlen, "%s", msg);
        rc = WB_ECORRUPT;
        if (!repair)
            goto out;
        rc = cut_log(io, dir, firsts, n, cut_seg,
                     cut_seg == n - 1 ? &last : &prev, cut_off);
        if (rc == 0) {
            rec->repaired = 1;
            append_detail(rec, "repair: cut log at %s", msg);
            rc = 1;
        }
        goto out;
    }
    rc = fix_tail(io, &last, tail, rec);
out:
    oplog_seg_check_close(&last);
out_last:
    if (have_prev)
        oplog_seg_check_close(&prev);
out_prev:
    if (rc < 0 && rc > WB_ERR_BASE && !err[0])
        snprintf(err, errlen, "%s: %s", dir, wb_strerror(rc));
    return rc;
}

int oplog_recover(const wb_io *io, const char *dir, uint64_t node_id,
                  int repair, oplog_tail *tail, oplog_recovery *rec,
                  char *err, size_t errlen)
{
    oplog_recovery local;
    char errbuf[PATH_MAX + 256];
    if (!rec)
        rec = &local;
    if (!err || !errlen) {
        err = errbuf;
        errlen = sizeof errbuf;
    }
    memset(tail, 0, sizeof *tail);
    memset(rec, 0, sizeof *rec);
    err[0] = '\0';
    if (!io)
        io = wb_io_default();

    char spare[PATH_MAX];
    snprintf(spare, sizeof spare, "%s/%s", dir, OPLOG_SPARE_NAME);
    if (access(spare, F_OK) == 0) {
        int rc = io->unlink(io, spare);
        if (rc)
            return rc;
        append_detail(rec, "deleted the unused spare segment " OPLOG_SPARE_NAME);
    }

    int rc;
    for (int pass = 0;; pass++) {
        uint64_t *firsts = NULL;
        size_t n = 0;
        rc = oplog_segment_list(dir, &firsts, &n);
        if (rc) {
            snprintf(err, errlen, "%s: %s", dir, wb_strerror(rc));
            return rc;
        }
        rec->segments = (uint32_t)n;
        if (n == 0) {
            tail->has_segment = 0;
            tail->next_seq = 1;
            free(firsts);
            return 0;
        }
        rc = check_headers(dir, firsts, n, node_id, err, errlen);
        if (rc == 0)
            rc = recover_pass(io, dir, node_id, repair, firsts, n, tail, rec,
                              err, errlen);
        tail->oldest_seq = firsts[0];
        free(firsts);
        if (rc != 1)
            break;
        if (pass > 100000) { /* each pass deletes or zeroes: cannot loop */
            rc = WB_ECORRUPT;
            break;
        }
        err[0] = '\0';
    }
    if (rc)
        return rc;
    rec->last_seq = tail->next_seq - 1;
    rec->first_seq = rec->last_seq ? tail->oldest_seq : 0;
    return 0;
}
