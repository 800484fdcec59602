/*
 * oplog_flush.h: how the oplog writer submits its writes and fdatasyncs
 * (internal to engine/oplog*.c).
 *
 * Two back ends behind one completion-driven interface, so that the writer's
 * state machine is the same for both:
 *
 *   io_uring   write and fsync(IORING_FSYNC_DATASYNC) are submitted and
 *              complete asynchronously; every completion passes through
 *              io->uring_result (fault injection) before it is reported.
 *   fallback   (io_uring_queue_init failed, options.no_uring, or
 *              WB_OPLOG_NO_URING=1) io->pwrite / io->fdatasync run at
 *              submission, on the writer thread, and their results are
 *              reported by the next oplog_flush_wait() like completions.
 *
 * Wake-ups: an eventfd, written by oplog_flush_wake() from any thread,
 * ends a oplog_flush_wait() early (reported as OPLOG_CQ_WAKE). With
 * io_uring a read of the eventfd stays armed in the ring, so the writer
 * sleeps in exactly one place for I/O and for producers.
 *
 * Limits: at most one write and one fsync in flight (the writer's rule),
 * so completions carry only their kind. A canceled linked fsync
 * (-ECANCELED) is reported without passing through io->uring_result: it
 * did not happen.
 * Threads: everything but oplog_flush_wake() is writer-thread only.
 */
#ifndef WB_OPLOG_FLUSH_H
#define WB_OPLOG_FLUSH_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

#include "wb_io.h"

enum oplog_cq_kind {
    OPLOG_CQ_WAKE = 1,
    OPLOG_CQ_WRITE = 2,
    OPLOG_CQ_FSYNC = 3,
};

struct oplog_cq {
    enum oplog_cq_kind kind;
    int res; /* write: bytes or -errno; fsync: 0 or -errno */
};

typedef struct oplog_flusher {
    const wb_io *io;   /* borrowed */
    int uring;         /* 1: the ring below is live */
    struct io_uring ring;
    int efd;           /* eventfd for wake-ups */
    uint64_t efd_buf;  /* target of the armed eventfd read */
    int efd_armed;     /* a read of efd is in the ring */
    int write_fd;      /* fd of the write in flight (for uring_result) */
    int fsync_fd;      /* fd of the fsync in flight */
    struct oplog_cq done[4]; /* fallback: results not yet reported */
    int ndone;
} oplog_flusher;

/* Sets up the back end: io_uring unless no_uring (or the environment
 * forces the fallback, or the ring cannot be created). Returns 0 or a
 * negative errno (eventfd). */
int oplog_flush_init(oplog_flusher *f, const wb_io *io, int no_uring);
void oplog_flush_destroy(oplog_flusher *f);

/* Submits a write of n bytes at off (the buffer is borrowed until its
 * completion) / an fdatasync of fd. Returns 0, or a negative errno if the
 * submission itself failed (then no completion follows). */
int oplog_flush_write(oplog_flusher *f, int fd, const void *buf, size_t n,
                      uint64_t off);
int oplog_flush_fsync(oplog_flusher *f, int fd);

/* Submits a write and an fdatasync that starts when the write has fully
 * completed (IOSQE_IO_LINK; the fallback calls both in turn). Two
 * completions follow; if the write fails or is short, the fsync's result is
 * -ECANCELED and it did nothing. Saves a round trip through the writer
 * thread when no fsync is in flight. */
int oplog_flush_write_sync(oplog_flusher *f, int fd, const void *buf,
                           size_t n, uint64_t off);

/* Waits up to timeout_ms (-1: no limit, 0: poll) for completions; fills up
 * to max of them. Returns the number filled (0 on timeout). */
int oplog_flush_wait(oplog_flusher *f, int timeout_ms, struct oplog_cq *out,
                     int max);

/* Any thread: makes the writer's current or next wait return. */
void oplog_flush_wake(oplog_flusher *f);

#endif /* WB_OPLOG_FLUSH_H */
