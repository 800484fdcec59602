/*
 * oplog_writer.c: the oplog's writer thread: group commit, segment rolls,
 * and what happens when the disk says no.
 *
 * The loop (oplog_writer_main) does, until the log is closed and drained:
 *
 *   sync       submit an fdatasync if one is due and none is in flight: in
 *              ALWAYS whenever written data is not yet covered; in INTERVAL
 *              every sync_interval_ms; before a roll and at close always;
 *   build      if no write is in flight and a flush slot is free, take what
 *              producers queued meanwhile, encode it into the next flush
 *              (never across a segment end) and submit its write;
 *   complete   hand finished flushes' batches to their callbacks, oldest
 *              first (a flush is finished when it and every older one are:
 *              ALWAYS: covered by a successful fdatasync; INTERVAL/NONE:
 *              written), and advance durable_seq;
 *   wait       sleep until a completion or a producer's wake-up.
 *
 * So at most one write and one fdatasync are in flight; batch N+1 is
 * encoded and written while N's fdatasync runs, and the next fdatasync
 * covers every write that finished before it started (group commit with
 * fsync coalescing). Writes are strictly sequential in file order, so a
 * crash can never leave a valid record after a hole.
 *
 * Sequence numbers are stamped by oplog_queue_push, in queue order; the
 * writer encodes them as stamped. Invariants:
 *   1. Flushes are built, written and completed in id order, and ids order
 *      seqs: the records of flush k all precede those of flush k+1.
 *   2. write_off only advances when a flush is built, and moves back only
 *      on ENOSPC (to that flush's offset, after zeroing what it wrote).
 *   3. durable_seq only grows, and only to the last seq of a batch whose
 *      completion reported 0.
 *
 * Rolls. A batch that does not fit in the rest of the segment goes to a
 * fresh one: the writer waits for in-flight I/O, fdatasyncs the old
 * segment, activates the spare prepared ahead by the helper thread
 * (oplog_spare.c; asked for the next one right after each roll) and
 * continues at its first record offset. A batch larger
 * than a whole segment starts on a fresh segment and is split at record
 * boundaries; only such a batch spans segments (a crash in the middle of it
 * can keep its first part: the atomicity promise holds per segment).
 *
 * Failures:
 *   - a write or fdatasync error other than ENOSPC: the failed state. The
 *     flushes the failed operation covered complete with WB_EIO, every later
 *     one and everything queued with WB_EFAILED, the queue refuses appends.
 *     Nothing is retried; oplog_close + oplog_open recover what is valid.
 *   - ENOSPC on a write (or when preparing/activating the next segment):
 *     the bytes of that flush are zeroed back and synced, write_off returns
 *     to the flush's offset, and that flush plus everything queued behind it
 *     complete with WB_EFULL. The queue's next seq is rewound to the flush's
 *     first seq: the failed batches' seqs are reused by later appends (so
 *     the log never has a gap; a caller that got WB_EFULL must not keep the
 *     seq it was given). Later appends are tried again. If the zeroing
 *     fails, or the flush began inside a batch that spans segments, the log
 *     enters the failed state instead.
 *   - short writes are continued from where they stopped; a write of 0
 *     bytes counts as EIO.
 */
#include "oplog_writer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct oplog_flush *flush_at(oplog *log, uint64_t id)
{
    return &log->flushes[id % OPLOG_NFLUSH];
}

/* ---- completion ------------------------------------------------------- */

static void batch_complete(oplog *log, struct oplog_batch *b, int status)
{
    if (status == 0) {
        atomic_store_explicit(&log->durable_seq, b->first_seq + b->n - 1,
                              memory_order_release);
        atomic_fetch_add_explicit(&log->durable_records, b->n,
                                  memory_order_relaxed);
    }
    if (b->done)
        b->done(b->arg, b->first_seq, b->first_seq + b->n - 1, status);
    free(b);
}

static void complete_list(oplog *log, struct oplog_batch *b, int status)
{
    while (b) {
        struct oplog_batch *next = b->next;
        batch_complete(log, b, status ? status : b->status);
        b = next;
    }
}

static int flush_finished(const oplog *log, const struct oplog_flush *f)
{
    if (f->status)
        return !(log->write_inflight && f->id == log->next_id - 1);
    if (log->opt.sync == OPLOG_SYNC_ALWAYS)
        return f->id <= log->synced_id;
    return f->id <= log->written_id;
}

static void writer_complete(oplog *log)
{
    for (;;) {
        struct oplog_batch *fb = log->failq;
        if (fb && fb->barrier <= log->oldest_id) {
            log->failq = fb->next;
            if (!log->failq)
                log->failq_tail = &log->failq;
            batch_complete(log, fb, fb->status);
            continue;
        }
        if (log->oldest_id == log->next_id)
            return;
        struct oplog_flush *f = flush_at(log, log->oldest_id);
        if (!flush_finished(log, f))
            return;
        struct oplog_batch *list = f->batches;
        f->batches = NULL;
        f->btail = &f->batches;
        log->oldest_id++;
        complete_list(log, list, f->status);
    }
}

/* Queues batches (already taken from the queue) to fail with status once
 * every flush built so far has completed. */
static void fail_later(oplog *log, struct oplog_batch *b, int status)
{
    while (b) {
        struct oplog_batch *next = b->next;
        b->next = NULL;
        b->status = status;
        b->barrier = log->next_id;
        *log->failq_tail = b;
        log->failq_tail = &b->next;
        b = next;
    }
}

/* ---- the failed state and ENOSPC ------------------------------------- */

/* Enters the failed state: every flush not yet durable and not covered by
 * the fsync in flight fails with WB_EFAILED (unless it has its own status),
 * and so does all input; the queue refuses appends from now on. */
static void fail_not_durable(oplog *log)
{
    for (uint64_t id = log->oldest_id; id < log->next_id; id++) {
        struct oplog_flush *f = flush_at(log, id);
        int covered = log->fsync_inflight && id <= log->sync_cover;
        if (f->status == 0 && !covered &&
            (log->opt.sync == OPLOG_SYNC_ALWAYS || id > log->written_id))
            f->status = WB_EFAILED;
    }
}

static void enter_failed(oplog *log, int code)
{
    if (!log->failed) {
        log->failed = 1;
        log->fail_code = code;
        atomic_store(&log->failed_pub, 1);
    }
    fail_not_durable(log);
    fail_later(log, log->in, WB_EFAILED);
    log->in = NULL;
    log->need_roll = 0;
    fail_later(log, oplog_queue_stop(&log->q, WB_EFAILED, 1), WB_EFAILED);
}

/* Every live flush from `from` on that has no status yet gets `status`. */
static void fail_flushes_from(oplog *log, uint64_t from, int status)
{
    for (uint64_t id = from; id < log->next_id; id++) {
        struct oplog_flush *f = flush_at(log, id);
        if (id >= log->oldest_id && f->status == 0)
            f->status = status;
    }
}

/* Fails every input batch with WB_EFULL and rewinds the next seq to seq:
 * the seqs are reused by later appends. */
static void fail_full_from(oplog *log, uint64_t seq)
{
    struct oplog_batch *in = log->in;
    log->in = NULL;
    log->need_roll = 0; /* the batch that wanted the roll is gone */
    fail_later(log, in, WB_EFULL);
    fail_later(log, oplog_queue_rewind(&log->q, seq), WB_EFULL);
}

static int zero_back(oplog *log, uint64_t off, size_t len)
{
    static const uint8_t zeros[65536];
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < len; done += sizeof zeros) {
        size_t n = len - done < sizeof zeros ? len - done : sizeof zeros;
        rc = wb_io_pwrite_all(log->io, log->seg_fd, zeros, n,
                              (off_t)(off + done));
    }
    if (rc == 0)
        rc = log->io->fdatasync(log->io, log->seg_fd);
    return rc;
}

static void write_enospc(oplog *log, struct oplog_flush *f)
{
    if (f->mid_batch || zero_back(log, f->off, f->len) != 0) {
        f->status = WB_EIO;
        enter_failed(log, WB_EIO);
        return;
    }
    log->write_off = f->off;
    f->status = WB_EFULL;
    fail_full_from(log, f->first_seq);
}

/* ---- completions of writes and fsyncs ------------------------------- */

static int submit_write(oplog *log, struct oplog_flush *f)
{
    log->write_inflight = 1;
    int rc = oplog_flush_write(&log->fl, log->seg_fd, f->buf + f->done,
                               f->len - f->done, f->off + f->done);
    if (rc)
        log->write_inflight = 0;
    return rc;
}

static void on_write(oplog *log, int res)
{
    struct oplog_flush *f = flush_at(log, log->next_id - 1);
    log->write_inflight = 0;
    if (f->status == 0 && res > 0 && f->done + (size_t)res < f->len) {
        f->done += (size_t)res; /* short write: continue it */
        if (submit_write(log, f) == 0)
            return;
        res = -EIO;
    }
    log->written_id = f->id;
    if (f->status)
        return; /* already failed by an fsync error */
    if (res == -ENOSPC) {
        write_enospc(log, f);
    } else if (res <= 0) {
        f->status = WB_EIO;
        enter_failed(log, WB_EIO);
    } else {
        f->done = f->len;
        atomic_fetch_add_explicit(&log->bytes_written, f->len,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&log->batches_written, 1,
                                  memory_order_relaxed);
    }
}

static void on_fsync(oplog *log, int res)
{
    log->fsync_inflight = 0;
    if (res == -ECANCELED) {
        /* Linked to a write that failed or was short: it did not run. */
        if (log->failed)
            fail_not_durable(log); /* what it covered will not be synced */
        return;
    }
    atomic_fetch_add_explicit(&log->fsyncs, 1, memory_order_relaxed);
    dur_hist_observe(&log->fsync_hist, mono_ns() - log->fsync_start_ns);
    if (res == 0) {
        /* A linked fsync covers its write only if the writer believed
         * that write complete (an injector may have claimed less). */
        uint64_t cover = log->sync_cover;
        if (cover > log->written_id)
            cover = log->written_id;
        if (cover > log->synced_id)
            log->synced_id = cover;
        return;
    }
    /* Covered flushes: WB_EIO; later ones: WB_EFAILED. No retry. */
    for (uint64_t id = log->oldest_id; id <= log->sync_cover; id++)
        if (flush_at(log, id)->status == 0)
            flush_at(log, id)->status = WB_EIO;
    fail_flushes_from(log, log->sync_cover + 1, WB_EFAILED);
    log->synced_id = log->sync_cover;
    enter_failed(log, WB_EIO);
}

/* ---- sync ------------------------------------------------------------- */

static void submit_fsync(oplog *log)
{
    log->sync_cover = log->written_id;
    log->fsync_inflight = 1;
    log->fsync_start_ns = mono_ns();
    if (oplog_flush_fsync(&log->fl, log->seg_fd) != 0) {
        log->fsync_inflight = 0;
        on_fsync(log, -EIO);
    }
}

static void writer_sync(oplog *log)
{
    if (log->failed || log->fsync_inflight ||
        log->written_id <= log->synced_id)
        return;
    int due = log->opt.sync == OPLOG_SYNC_ALWAYS || log->need_roll ||
              atomic_load(&log->closing);
    if (log->opt.sync == OPLOG_SYNC_INTERVAL && mono_ns() >= log->next_sync_ns)
        due = 1;
    if (!due)
        return;
    if (log->opt.sync == OPLOG_SYNC_INTERVAL)
        log->next_sync_ns = mono_ns() +
                            (uint64_t)log->opt.sync_interval_ms * 1000000u;
    submit_fsync(log);
}

/* ---- roll ------------------------------------------------------------- */

static uint64_t next_record_seq(const oplog *log)
{
    return log->in->first_seq + log->in->next_rec;
}

/* Fails the input after the next segment could not be made ready. */
static void roll_failed(oplog *log, int rc)
{
    if (rc == -ENOSPC && log->in->next_rec == 0)
        fail_full_from(log, log->in->first_seq);
    else
        enter_failed(log, WB_EIO);
}

/* Tries to move to a fresh segment. Returns 1 when done, 0 when it must
 * wait (I/O in flight, old segment not yet synced, spare not ready) or
 * failed. */
static int writer_roll(oplog *log)
{
    if (log->write_inflight || log->fsync_inflight)
        return 0;
    if (log->written_id > log->synced_id) {
        submit_fsync(log);
        return 0;
    }
    int fd = -1;
    int rc = oplog_spare_take(log, &fd);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        roll_failed(log, rc);
        return 0;
    }
    uint64_t first = next_record_seq(log);
    char path[PATH_MAX];
    rc = oplog_segment_activate(log->io, log->dir, fd, log->opt.node_id,
                                first, log->opt.segment_size, path);
    if (rc) {
        log->io->close(log->io, fd);
        roll_failed(log, rc);
        return 0;
    }
    log->io->close(log->io, log->seg_fd);
    log->seg_fd = fd;
    memcpy(log->seg_path, path, sizeof path);
    log->seg_first = first;
    log->seg_size = log->opt.segment_size;
    log->write_off = OPLOG_SEG_HEADER_SIZE;
    log->need_roll = 0;
    atomic_store(&log->active_first, first);
    atomic_fetch_add(&log->segments_rolled, 1);
    /* Start on the next spare now: at high rates (and with paced
     * zero-filling) half a segment's time is not always enough. */
    oplog_spare_request(log);
    return 1;
}

/* ---- build ------------------------------------------------------------ */

static int flush_reserve(struct oplog_flush *f, size_t more)
{
    if (f->len + more <= f->cap)
        return 0;
    size_t cap = f->cap ? f->cap : 65536;
    while (cap < f->len + more)
        cap *= 2;
    uint8_t *nb = realloc(f->buf, cap);
    if (!nb)
        return WB_ENOMEM;
    f->buf = nb;
    f->cap = cap;
    return 0;
}

/* Encodes records of b while they fit in avail bytes and the flush limit.
 * Returns 1 if b is now fully encoded. */
static int encode_batch(struct oplog_flush *f, struct oplog_batch *b,
                        uint64_t avail)
{
    while (b->next_rec < b->n) {
        const struct oplog_qrec *r = &b->recs[b->next_rec];
        size_t size = oplog_record_size(r->len);
        if (f->len + size > avail)
            return 0;
        if (f->len > 0 && f->len + size > OPLOG_FLUSH_MAX)
            return 0;
        if (flush_reserve(f, size) != 0)
            return 0;
        uint64_t seq = b->first_seq + b->next_rec;
        uint16_t flags = b->next_rec + 1 == b->n ? OPLOG_FLAG_BATCH_END : 0;
        oplog_record_encode(f->buf + f->len, seq, b->time_us, r->type, flags,
                            r->payload, r->len);
        if (f->len == 0) {
            f->first_seq = seq;
            f->mid_batch = b->next_rec > 0;
        }
        f->last_seq = seq;
        f->len += size;
        b->next_rec++;
    }
    return 1;
}

/* Fills f from log->in. Sets need_roll when the next batch wants a fresh
 * segment and f is still empty. */
static void flush_fill(oplog *log, struct oplog_flush *f)
{
    uint64_t avail = log->seg_size - log->write_off;
    int at_start = log->write_off == OPLOG_SEG_HEADER_SIZE;
    while (log->in) {
        struct oplog_batch *b = log->in;
        /* Whole batches per flush where possible: a batch split across
         * flushes could not be rolled back alone on ENOSPC. */
        if (b->next_rec == 0 && f->len > 0 &&
            f->len + b->enc_bytes > OPLOG_FLUSH_MAX)
            return;
        if (b->next_rec == 0 && f->len + b->enc_bytes > avail) {
            if (f->len > 0)
                return;
            /* Roll, unless the segment is still empty: then the batch
             * is larger than a segment and is split across segments. */
            if (!at_start) {
                log->need_roll = 1;
                return;
            }
        }
        size_t before = f->len;
        if (!encode_batch(f, b, avail)) {
            if (f->len == before && f->len == 0 && !at_start)
                log->need_roll = 1;
            return;
        }
        log->in = b->next;
        b->next = NULL;
        *f->btail = b;
        f->btail = &b->next;
    }
}

static void writer_build(oplog *log)
{
    if (log->failed || log->write_inflight)
        return;
    if (log->next_id - log->oldest_id >= OPLOG_NFLUSH)
        return;
    if (!log->in)
        log->in = oplog_queue_take(&log->q);
    if (!log->in)
        return;
    if (log->need_roll && !writer_roll(log))
        return;
    struct oplog_flush *f = flush_at(log, log->next_id);
    f->len = f->done = 0;
    f->status = 0;
    f->mid_batch = 0;
    f->batches = NULL;
    f->btail = &f->batches;
    flush_fill(log, f);
    if (f->len == 0) {
        if (log->need_roll && writer_roll(log))
            flush_fill(log, f);
        if (f->len == 0)
            return;
    }
    f->id = log->next_id++;
    f->off = log->write_off;
    log->write_off += f->len;
    if (log->write_off > log->seg_size / 2)
        oplog_spare_request(log); /* e.g. after a failed attempt */
    /* No fsync running: link one to this write (ALWAYS), saving a trip
     * through this thread; otherwise the next fsync covers it. */
    if (log->opt.sync == OPLOG_SYNC_ALWAYS && !log->fsync_inflight) {
        log->write_inflight = log->fsync_inflight = 1;
        log->sync_cover = f->id;
        log->fsync_start_ns = mono_ns(); /* includes its linked write */
        if (oplog_flush_write_sync(&log->fl, log->seg_fd, f->buf, f->len,
                                   f->off) == 0)
            return;
        log->write_inflight = log->fsync_inflight = 0;
        on_write(log, -EIO);
        return;
    }
    if (submit_write(log, f) != 0)
        on_write(log, -EIO);
}

/* ---- the loop ---------------------------------------------------------- */

static int writer_finished(oplog *log)
{
    if (!atomic_load(&log->closing))
        return 0;
    if (log->write_inflight || log->fsync_inflight || log->in ||
        log->failq || log->oldest_id != log->next_id)
        return 0;
    if (!log->failed && log->written_id > log->synced_id)
        return 0;
    return oplog_queue_empty(&log->q);
}

static int wait_timeout_ms(oplog *log)
{
    int t = 100; /* safety net; wake-ups normally end the wait */
    if (log->opt.sync == OPLOG_SYNC_INTERVAL &&
        log->written_id > log->synced_id) {
        uint64_t now = mono_ns();
        uint64_t left = log->next_sync_ns > now ? log->next_sync_ns - now : 0;
        if (left / 1000000u < (uint64_t)t)
            t = (int)(left / 1000000u) + 1;
    }
    return t;
}

static int can_build_now(oplog *log)
{
    if (log->failed || log->write_inflight ||
        log->next_id - log->oldest_id >= OPLOG_NFLUSH)
        return 0;
    if (log->need_roll)
        return 0; /* the roll waits for I/O or the spare: both wake us */
    return log->in != NULL || !oplog_queue_idle(&log->q);
}

static void writer_wait(oplog *log)
{
    if (can_build_now(log))
        return;
    if (atomic_load(&log->closing) && !log->write_inflight &&
        !log->fsync_inflight && !log->need_roll)
        return;
    struct oplog_cq cq[4];
    int n = oplog_flush_wait(&log->fl, wait_timeout_ms(log), cq, 4);
    for (int i = 0; i < n; i++) {
        if (cq[i].kind == OPLOG_CQ_WRITE)
            on_write(log, cq[i].res);
        else if (cq[i].kind == OPLOG_CQ_FSYNC)
            on_fsync(log, cq[i].res);
    }
}

void *oplog_writer_main(void *arg)
{
    oplog *log = arg;
    log->next_sync_ns = mono_ns() +
                        (uint64_t)log->opt.sync_interval_ms * 1000000u;
    /* I/O first, callbacks second: the next fdatasync and write are
     * already running while completions are handed out (a callback can be
     * slow, e.g. waking its producer). */
    for (;;) {
        writer_sync(log);
        writer_build(log);
        writer_complete(log);
        if (writer_finished(log))
            break;
        writer_wait(log);
    }
    return NULL;
}
