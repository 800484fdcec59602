/*
 * oplog_flush.c: write/fdatasync submission for the oplog writer, through
 * io_uring or through the wb_io table (fallback). See oplog_flush.h.
 *
 * Invariants:
 *   1. Every io_uring write/fsync completion is passed through
 *      io->uring_result (if set) exactly once before it is reported.
 *   2. In the fallback every operation is one io->pwrite or io->fdatasync
 *      call; short writes are reported as such (the writer continues them).
 *   3. With io_uring, one read of the eventfd is armed whenever the writer
 *      waits, so a wake-up is never lost: a write to the eventfd before the
 *      read is armed stays readable until it is.
 */
#include "oplog_flush.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define OPLOG_RING_ENTRIES 16

static int env_forces_fallback(void)
{
    const char *v = getenv("WB_OPLOG_NO_URING");
    return v && *v && strcmp(v, "0") != 0;
}

int oplog_flush_init(oplog_flusher *f, const wb_io *io, int no_uring)
{
    memset(f, 0, sizeof *f);
    f->io = io;
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0)
        return -errno;
    if (!no_uring && !env_forces_fallback() &&
        io_uring_queue_init(OPLOG_RING_ENTRIES, &f->ring, 0) == 0)
        f->uring = 1;
    return 0;
}

void oplog_flush_destroy(oplog_flusher *f)
{
    if (f->uring)
        io_uring_queue_exit(&f->ring);
    if (f->efd >= 0)
        close(f->efd);
    f->efd = -1;
    f->uring = 0;
}

void oplog_flush_wake(oplog_flusher *f)
{
    uint64_t one = 1;
    ssize_t w = write(f->efd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already non-zero, a wake is pending */
}

static struct io_uring_sqe *ring_sqe(oplog_flusher *f)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
    if (!sqe) {
        io_uring_submit(&f->ring);
        sqe = io_uring_get_sqe(&f->ring);
    }
    return sqe;
}

static void fallback_push(oplog_flusher *f, enum oplog_cq_kind kind, int res)
{
    f->done[f->ndone].kind = kind;
    f->done[f->ndone].res = res;
    f->ndone++;
}

int oplog_flush_write(oplog_flusher *f, int fd, const void *buf, size_t n,
                      uint64_t off)
{
    f->write_fd = fd;
    if (!f->uring) {
        ssize_t w;
        do
            w = f->io->pwrite(f->io, fd, buf, n, (off_t)off);
        while (w == -EINTR);
        fallback_push(f, OPLOG_CQ_WRITE, (int)w);
        return 0;
    }
    struct io_uring_sqe *sqe = ring_sqe(f);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_write(sqe, fd, buf, (unsigned)n, off);
    io_uring_sqe_set_data64(sqe, OPLOG_CQ_WRITE);
    int rc = io_uring_submit(&f->ring);
    return rc < 0 ? rc : 0;
}

int oplog_flush_fsync(oplog_flusher *f, int fd)
{
    f->fsync_fd = fd;
    if (!f->uring) {
        fallback_push(f, OPLOG_CQ_FSYNC, f->io->fdatasync(f->io, fd));
        return 0;
    }
    struct io_uring_sqe *sqe = ring_sqe(f);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, OPLOG_CQ_FSYNC);
    int rc = io_uring_submit(&f->ring);
    return rc < 0 ? rc : 0;
}

int oplog_flush_write_sync(oplog_flusher *f, int fd, const void *buf,
                           size_t n, uint64_t off)
{
    f->write_fd = f->fsync_fd = fd;
    if (!f->uring) {
        ssize_t w;
        do
            w = f->io->pwrite(f->io, fd, buf, n, (off_t)off);
        while (w == -EINTR);
        fallback_push(f, OPLOG_CQ_WRITE, (int)w);
        fallback_push(f, OPLOG_CQ_FSYNC, w == (ssize_t)n
                                             ? f->io->fdatasync(f->io, fd)
                                             : -ECANCELED);
        return 0;
    }
    if (io_uring_sq_space_left(&f->ring) < 2)
        io_uring_submit(&f->ring);
    struct io_uring_sqe *w = io_uring_get_sqe(&f->ring);
    struct io_uring_sqe *s = w ? io_uring_get_sqe(&f->ring) : NULL;
    if (!s)
        return -EBUSY; /* cannot happen with the space checked above */
    io_uring_prep_write(w, fd, buf, (unsigned)n, off);
    io_uring_sqe_set_data64(w, OPLOG_CQ_WRITE);
    w->flags |= IOSQE_IO_LINK;
    io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(s, OPLOG_CQ_FSYNC);
    int rc = io_uring_submit(&f->ring);
    return rc < 0 ? rc : 0;
}

static int fallback_wait(oplog_flusher *f, int timeout_ms,
                         struct oplog_cq *out, int max)
{
    if (f->ndone > 0) {
        int n = f->ndone < max ? f->ndone : max;
        memcpy(out, f->done, (size_t)n * sizeof *out);
        memmove(f->done, f->done + n, (size_t)(f->ndone - n) * sizeof *out);
        f->ndone -= n;
        return n;
    }
    struct pollfd p = {.fd = f->efd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    uint64_t v;
    ssize_t r = read(f->efd, &v, sizeof v);
    (void)r;
    out[0].kind = OPLOG_CQ_WAKE;
    out[0].res = 0;
    return 1;
}

static void ring_arm_wake(oplog_flusher *f)
{
    if (f->efd_armed)
        return;
    struct io_uring_sqe *sqe = ring_sqe(f);
    if (!sqe)
        return; /* retried at the next wait */
    io_uring_prep_read(sqe, f->efd, &f->efd_buf, sizeof f->efd_buf, 0);
    io_uring_sqe_set_data64(sqe, OPLOG_CQ_WAKE);
    f->efd_armed = 1;
}

/* Converts one CQE into a report, through the injector. */
static struct oplog_cq ring_report(oplog_flusher *f, struct io_uring_cqe *c)
{
    struct oplog_cq r = {.kind = (enum oplog_cq_kind)io_uring_cqe_get_data64(c),
                         .res = c->res};
    if (r.kind == OPLOG_CQ_WAKE) {
        f->efd_armed = 0;
        r.res = 0;
    } else if (f->io->uring_result && r.res != -ECANCELED) {
        int write = r.kind == OPLOG_CQ_WRITE;
        r.res = f->io->uring_result(f->io,
                                    write ? WB_IO_OP_WRITE : WB_IO_OP_FSYNC,
                                    write ? f->write_fd : f->fsync_fd, r.res);
    }
    return r;
}

static int ring_wait(oplog_flusher *f, int timeout_ms, struct oplog_cq *out,
                     int max)
{
    struct io_uring_cqe *cqe = NULL;
    ring_arm_wake(f);
    io_uring_submit(&f->ring);
    int rc;
    if (timeout_ms < 0) {
        rc = io_uring_wait_cqe(&f->ring, &cqe);
    } else if (timeout_ms == 0) {
        rc = io_uring_peek_cqe(&f->ring, &cqe);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (timeout_ms % 1000) *
                                                  1000000L};
        rc = io_uring_wait_cqe_timeout(&f->ring, &cqe, &ts);
    }
    if (rc < 0)
        return 0; /* -ETIME, -EAGAIN, -EINTR: nothing to report */
    int n = 0;
    while (n < max && io_uring_peek_cqe(&f->ring, &cqe) == 0 && cqe) {
        out[n++] = ring_report(f, cqe);
        io_uring_cqe_seen(&f->ring, cqe);
    }
    return n;
}

int oplog_flush_wait(oplog_flusher *f, int timeout_ms, struct oplog_cq *out,
                     int max)
{
    if (max <= 0)
        return 0;
    return f->uring ? ring_wait(f, timeout_ms, out, max)
                    : fallback_wait(f, timeout_ms, out, max);
}
