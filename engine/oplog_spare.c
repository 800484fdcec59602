/*
 * oplog_spare.c: the helper thread that prepares the next segment file
 * ahead of need, and the writer's side of the hand-over.
 *
 * Zero-filling a 64 MiB segment and syncing it takes tens of milliseconds:
 * on the writer thread that would stall every acknowledgement at each roll,
 * so the writer asks for a spare when its segment is half full
 * (oplog_spare_request) and takes it at the roll (oplog_spare_take).
 *
 * Pacing. oplog_segment_prepare writes the zeros through the wb_io table we
 * give it; we give it one that fdatasyncs the spare every
 * OPLOG_SPARE_SYNC_CHUNK bytes. One fdatasync of 64 MiB at the end puts
 * that much writeback in front of the log's own fdatasyncs (measured on
 * the 2-core VM at 7M records/s: ack p99 about 25 ms; with 256 KiB steps
 * about 2-5 ms; 1 MiB and 4 MiB steps were in between): a log fdatasync
 * then waits behind at most one step. Everything still goes through the
 * log's table (fault injection sees every call).
 *
 * Hand-over state (spare_fd, spare_rc, spare_want, spare_busy, spare_retry)
 * lives in the oplog and is guarded by spare_mu.
 */
#include <errno.h>

#include "oplog_internal.h"
#include "oplog_writer_int.h"
#include "wb_error.h"

#define OPLOG_SPARE_SYNC_CHUNK (256u << 10)

struct paced_io {
    wb_io io;          /* ctx points here */
    const wb_io *base; /* the log's table; borrowed */
    uint64_t dirty;    /* bytes written since the last fdatasync */
};

static const wb_io *base_of(const wb_io *io)
{
    return ((const struct paced_io *)io->ctx)->base;
}

static int p_open(const wb_io *io, const char *path, int flags, mode_t mode)
{
    return base_of(io)->open(base_of(io), path, flags, mode);
}

static int p_close(const wb_io *io, int fd)
{
    return base_of(io)->close(base_of(io), fd);
}

static ssize_t p_pread(const wb_io *io, int fd, void *buf, size_t n,
                       off_t off)
{
    return base_of(io)->pread(base_of(io), fd, buf, n, off);
}

static ssize_t p_pwrite(const wb_io *io, int fd, const void *buf, size_t n,
                        off_t off)
{
    struct paced_io *p = io->ctx;
    ssize_t w = p->base->pwrite(p->base, fd, buf, n, off);
    if (w > 0) {
        p->dirty += (uint64_t)w;
        if (p->dirty >= OPLOG_SPARE_SYNC_CHUNK) {
            p->dirty = 0;
            int rc = p->base->fdatasync(p->base, fd);
            if (rc)
                return rc;
        }
    }
    return w;
}

static int p_fdatasync(const wb_io *io, int fd)
{
    ((struct paced_io *)io->ctx)->dirty = 0;
    return base_of(io)->fdatasync(base_of(io), fd);
}

static int p_ftruncate(const wb_io *io, int fd, off_t len)
{
    return base_of(io)->ftruncate(base_of(io), fd, len);
}

static int p_rename(const wb_io *io, const char *from, const char *to)
{
    return base_of(io)->rename(base_of(io), from, to);
}

static int p_unlink(const wb_io *io, const char *path)
{
    return base_of(io)->unlink(base_of(io), path);
}

static int p_fsync_dir(const wb_io *io, const char *dir)
{
    return base_of(io)->fsync_dir(base_of(io), dir);
}

static void paced_init(struct paced_io *p, const wb_io *base)
{
    p->base = base;
    p->dirty = 0;
    p->io = (wb_io){.open = p_open,
                    .close = p_close,
                    .pread = p_pread,
                    .pwrite = p_pwrite,
                    .fdatasync = p_fdatasync,
                    .ftruncate = p_ftruncate,
                    .rename = p_rename,
                    .unlink = p_unlink,
                    .fsync_dir = p_fsync_dir,
                    .uring_result = NULL,
                    .ctx = p};
}

static void *spare_main(void *arg)
{
    oplog *log = arg;
    struct paced_io paced;
    paced_init(&paced, log->io);
    pthread_mutex_lock(&log->spare_mu);
    while (!log->spare_stop) {
        if (!log->spare_want) {
            pthread_cond_wait(&log->spare_cv, &log->spare_mu);
            continue;
        }
        log->spare_want = 0;
        log->spare_busy = 1;
        pthread_mutex_unlock(&log->spare_mu);
        int fd = -1;
        paced.dirty = 0;
        int rc = oplog_segment_prepare(&paced.io, log->dir,
                                       log->opt.segment_size, &fd);
        pthread_mutex_lock(&log->spare_mu);
        log->spare_busy = 0;
        if (rc == 0) {
            log->spare_fd = fd;
            log->spare_retry = 0;
        } else {
            log->spare_rc = rc;
        }
        oplog_flush_wake(&log->fl); /* a roll may be waiting */
    }
    pthread_mutex_unlock(&log->spare_mu);
    return NULL;
}

int oplog_spare_start(oplog *log)
{
    if (pthread_create(&log->spare_thread, NULL, spare_main, log) != 0)
        return WB_ENOMEM;
    log->spare_started = 1;
    return 0;
}

void oplog_spare_stop(oplog *log)
{
    if (!log->spare_started)
        return;
    pthread_mutex_lock(&log->spare_mu);
    log->spare_stop = 1;
    pthread_cond_signal(&log->spare_cv);
    pthread_mutex_unlock(&log->spare_mu);
    pthread_join(log->spare_thread, NULL);
    log->spare_started = 0;
}

/* Caller holds spare_mu. */
static void spare_request_locked(oplog *log)
{
    if (log->spare_fd >= 0 || log->spare_want || log->spare_busy ||
        log->spare_rc)
        return;
    log->spare_want = 1;
    pthread_cond_signal(&log->spare_cv);
}

void oplog_spare_request(oplog *log)
{
    pthread_mutex_lock(&log->spare_mu);
    spare_request_locked(log);
    pthread_mutex_unlock(&log->spare_mu);
}

int oplog_spare_take(oplog *log, int *fd)
{
    int rc = 0;
    pthread_mutex_lock(&log->spare_mu);
    if (log->spare_fd >= 0) {
        *fd = log->spare_fd;
        log->spare_fd = -1;
        rc = 1;
    } else if (log->spare_rc && !log->spare_retry) {
        /* The failed attempt ran ahead of need; space may have come back
         * since: try once more now that a roll needs it. */
        log->spare_rc = 0;
        log->spare_retry = 1;
        spare_request_locked(log);
    } else if (log->spare_rc) {
        rc = log->spare_rc;
        log->spare_rc = 0; /* the next roll asks again */
        log->spare_retry = 0;
    } else {
        spare_request_locked(log);
    }
    pthread_mutex_unlock(&log->spare_mu);
    return rc;
}
