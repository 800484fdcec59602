/*
 * oplog_check.c: offline verify and repair of an oplog directory (wbctl
 * verify / repair). The directory must not be in use by a writer for repair.
 *
 * verify checks every segment in full, which open-time recovery does not:
 * headers, every record (framing, checksum, seq), seq continuity between
 * segments, one node id for all. Each problem is reported once, with the
 * segment file, byte offset and reason; after a problem in a segment the
 * check goes on with the next segment, so one run lists them all.
 *
 * repair classifies the problems: a torn tail or an unfinished batch at the
 * end of the newest segment is what a crash leaves behind and is always cut
 * (through oplog_recover). Anything else is mid-log corruption: refused
 * without force; with force the log is cut at the first such place (rest of
 * that segment zeroed, all later segments deleted), then the tail is fixed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

/* The first mid-log problem found by check_all, where repair would cut. */
typedef struct check_cut {
    int found;
    size_t seg;    /* index into the segment list */
    uint64_t off;  /* byte offset in that segment (0: drop the whole file) */
    int code;
    char reason[300];
} check_cut;

static void report(oplog_problem_fn cb, void *arg, const char *path,
                   uint64_t off, int code, const char *reason)
{
    if (cb)
        cb(arg, path, off, code, reason);
}

static void note_cut(check_cut *cut, size_t seg, uint64_t off, int code,
                     const char *reason)
{
    if (cut->found)
        return;
    cut->found = 1;
    cut->seg = seg;
    cut->off = off;
    cut->code = code;
    snprintf(cut->reason, sizeof cut->reason, "%s", reason);
}

/* Reports the record-level problems of one scanned segment. Returns the
 * number reported. */
static int check_records(const oplog_seg_check *c, size_t i, size_t n,
                         oplog_problem_fn cb, void *arg, check_cut *cut)
{
    const oplog_scan *s = &c->scan;
    char msg[300];
    int newest = i + 1 == n;
    if (s->stop == OPLOG_STOP_CORRUPT) {
        snprintf(msg, sizeof msg, "%s (valid record at offset %" PRIu64
                 " follows)", s->reason, s->later_off);
        report(cb, arg, c->path, s->bad_off, WB_ECORRUPT, msg);
        note_cut(cut, i, s->bad_off, WB_ECORRUPT, msg);
        return 1;
    }
    if (s->stop == OPLOG_STOP_TORN) {
        snprintf(msg, sizeof msg, "torn tail%s: %s",
                 newest ? "" : " in a sealed segment", s->reason);
        report(cb, arg, c->path, s->bad_off, newest ? s->code : WB_ECORRUPT,
               msg);
        if (!newest)
            note_cut(cut, i, s->bad_off, WB_ECORRUPT, msg);
        return 1;
    }
    if (newest && s->stop == OPLOG_STOP_STRAY) {
        report(cb, arg, c->path, s->bad_off, s->code, s->reason);
        return 1;
    }
    if (newest && s->batch_off < s->end_off) {
        snprintf(msg, sizeof msg,
                 "unfinished batch: %" PRIu64 " records without BATCH_END",
                 s->records - s->batch_records);
        report(cb, arg, c->path, s->batch_off, WB_ETRUNCATED, msg);
        return 1;
    }
    return 0;
}

/* Optional progress report of check_all (verify only). */
typedef struct check_progress {
    oplog_progress_fn fn;
    void *arg;
} check_progress;

/* Checks every segment; returns the problem count or an error. */
static int check_all(const char *dir, const uint64_t *firsts, size_t n,
                     oplog_problem_fn cb, void *arg, check_cut *cut,
                     const check_progress *prog)
{
    int problems = 0, have_prev = 0;
    uint64_t prev_last = 0, node = 0;
    char msg[300];
    for (size_t i = 0; i < n; i++) {
        oplog_seg_check c;
        int rc = oplog_seg_check_open(dir, firsts[i], 0, &c);
        if (rc) {
            oplog_seg_check_close(&c);
            return rc;
        }
        if (c.rc) {
            snprintf(msg, sizeof msg, "segment header: %s", wb_strerror(c.rc));
            report(cb, arg, c.path, 0, c.rc, msg);
            note_cut(cut, i, 0, c.rc, msg);
            problems++;
            have_prev = 0;
            oplog_seg_check_close(&c);
            continue;
        }
        if (i == 0)
            node = c.hdr.node_id;
        if (c.hdr.node_id != node) {
            snprintf(msg, sizeof msg, "node id %" PRIu64 " differs from %"
                     PRIu64 " in the first segment", c.hdr.node_id, node);
            report(cb, arg, c.path, OPLOG_SH_NODE_ID, WB_ENODEID, msg);
            note_cut(cut, i, 0, WB_ENODEID, msg);
            problems++;
        }
        if (have_prev && c.first != prev_last + 1) {
            snprintf(msg, sizeof msg, "sequence gap: previous segment ends at "
                     "seq %" PRIu64 ", this one starts at %" PRIu64,
                     prev_last, c.first);
            report(cb, arg, c.path, 0, WB_ECORRUPT, msg);
            note_cut(cut, i, 0, WB_ECORRUPT, msg);
            problems++;
        }
        problems += check_records(&c, i, n, cb, arg, cut);
        have_prev = c.scan.stop == OPLOG_STOP_END ||
                    c.scan.stop == OPLOG_STOP_STRAY;
        prev_last = c.scan.last_seq;
        oplog_seg_check_close(&c);
        if (prog && prog->fn)
            prog->fn(prog->arg, i + 1, n);
    }
    return problems;
}

int oplog_verify_progress(const char *dir, oplog_problem_fn cb, void *arg,
                          oplog_progress_fn progress, void *progress_arg)
{
    uint64_t *firsts;
    size_t n;
    int rc = oplog_segment_list(dir, &firsts, &n);
    if (rc)
        return rc;
    check_progress prog = {progress, progress_arg};
    rc = check_all(dir, firsts, n, cb, arg, &(check_cut){0}, &prog);
    free(firsts);
    return rc;
}

int oplog_verify(const char *dir, oplog_problem_fn cb, void *arg)
{
    return oplog_verify_progress(dir, cb, arg, NULL, NULL);
}

/* Cuts the log at cut: zeroes segment cut->seg from cut->off (or deletes it
 * when the offset is 0), deletes every later segment. */
static int apply_cut(const wb_io *io, const char *dir, const uint64_t *firsts,
                     size_t n, const check_cut *cut)
{
    int rc = 0;
    for (size_t j = n; rc == 0 && j-- > cut->seg;) {
        char path[PATH_MAX];
        oplog_segment_path(dir, firsts[j], path);
        if (j == cut->seg && cut->off >= OPLOG_SEG_HEADER_SIZE) {
            oplog_seg_check c;
            rc = oplog_seg_check_open(dir, firsts[j], 0, &c);
            uint64_t end = c.scan.data_end > cut->off ? c.scan.data_end
                                                       : cut->off;
            if (rc == 0 && c.rc == 0)
                rc = oplog_zero_range(io, path, cut->off, end);
            oplog_seg_check_close(&c);
        } else {
            rc = io->unlink(io, path);
        }
    }
    if (rc == 0)
        rc = io->fsync_dir(io, dir);
    return rc;
}

/* Takes the directory lock the node holds while it runs (oplog_open's
 * flock on DIR/LOCK), so that repair never edits a log in use. Returns the
 * lock's fd, WB_EBUSY, or a negative errno. */
static int lock_dir(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? WB_EBUSY : -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static int repair_locked(const char *dir, int force, oplog_problem_fn cb,
                         void *arg);

int oplog_repair(const char *dir, int force, oplog_problem_fn cb, void *arg)
{
    uint64_t *firsts;
    size_t n;
    int rc = oplog_segment_list(dir, &firsts, &n); /* ENOENT before LOCK */
    if (rc)
        return rc;
    free(firsts);
    int fd = lock_dir(dir);
    if (fd < 0) {
        if (fd == WB_EBUSY)
            report(cb, arg, dir, 0, fd, "log in use by a running node");
        return fd;
    }
    rc = repair_locked(dir, force, cb, arg);
    close(fd);
    return rc;
}

static int repair_locked(const char *dir, int force, oplog_problem_fn cb,
                         void *arg)
{
    const wb_io *io = wb_io_default();
    uint64_t *firsts;
    size_t n;
    int rc = oplog_segment_list(dir, &firsts, &n);
    if (rc)
        return rc;
    check_cut cut = {0};
    rc = check_all(dir, firsts, n, NULL, NULL, &cut, NULL);
    if (rc >= 0 && cut.found) {
        char path[PATH_MAX], msg[700];
        oplog_segment_path(dir, firsts[cut.seg], path);
        if (!force) {
            snprintf(msg, sizeof msg, "%s; mid-log corruption: not repaired "
                     "(use force to cut the log here, losing what follows)",
                     cut.reason);
            report(cb, arg, path, cut.off, cut.code, msg);
            free(firsts);
            return WB_ECORRUPT;
        }
        rc = apply_cut(io, dir, firsts, n, &cut);
        if (rc == 0) {
            snprintf(msg, sizeof msg, "cut the log here (%s); %zu later "
                     "segment(s) deleted", cut.reason, n - cut.seg - 1);
            report(cb, arg, path, cut.off, cut.code, msg);
        }
    }
    free(firsts);
    if (rc < 0)
        return rc;
    oplog_tail tail;
    oplog_recovery rec;
    char err[PATH_MAX + 256];
    rc = oplog_recover(io, dir, 0, 0, &tail, &rec, err, sizeof err);
    if (rc) {
        report(cb, arg, dir, 0, rc, err);
        return rc;
    }
    if (rec.detail[0])
        report(cb, arg, tail.path, tail.write_off, 0, rec.detail);
    return 0;
}
