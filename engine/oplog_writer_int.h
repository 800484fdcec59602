/*
 * oplog_writer_int.h: the oplog object shared by oplog_writer.c (the writer
 * thread: group commit, rolls, failures), oplog_log.c (open, append,
 * close) and oplog_spare.c (the spare-segment helper thread). Internal to
 * engine/oplog*.c.
 *
 * Who owns what:
 *   - fields under "writer thread" are read and written only by the writer
 *     thread once it runs (oplog_open sets them before starting it, and
 *     oplog_close reads them after joining it);
 *   - fields under "spare" are guarded by spare_mu;
 *   - the _Atomic fields may be read by any thread.
 */
#ifndef WB_OPLOG_WRITER_INT_H
#define WB_OPLOG_WRITER_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dur_hist.h"
#include "oplog.h"
#include "oplog_flush.h"
#include "oplog_queue.h"

/* Flushes that may be alive at once: written but not yet synced, plus the
 * one being written. Enough to keep writing while an fdatasync runs. */
#define OPLOG_NFLUSH 8
/* A flush stops growing at this many bytes unless a single record is
 * larger (it then holds just that record). */
#define OPLOG_FLUSH_MAX (1u << 20)
#define OPLOG_MAX_SEGMENT (1ull << 30) /* clamp for options.segment_size */

/* One write unit: encoded records bound for one segment at one offset. */
struct oplog_flush {
    uint8_t *buf;     /* owned; grows to the largest flush built */
    size_t cap;
    size_t len;       /* bytes encoded */
    size_t done;      /* bytes the kernel has confirmed written */
    uint64_t off;     /* file offset of buf[0] */
    uint64_t id;      /* flush number, 1, 2, ... */
    uint64_t first_seq, last_seq; /* records in this flush */
    int mid_batch;    /* first record continues a batch of an earlier flush */
    int status;       /* 0, or the failure decided for it */
    struct oplog_batch *batches; /* batches whose last record is here */
    struct oplog_batch **btail;
};

struct oplog {
    oplog_options opt; /* copy; opt.dir points at dir below */
    char dir[PATH_MAX];
    const wb_io *io;
    int lock_fd;
    oplog_queue q;
    oplog_flusher fl;
    pthread_t writer;
    int writer_started;

    /* writer thread */
    struct oplog_batch *in;   /* taken from the queue, not fully encoded */
    struct oplog_batch *failq; /* failed early; complete in order */
    struct oplog_batch **failq_tail;
    struct oplog_flush flushes[OPLOG_NFLUSH]; /* flush id lives at id % N */
    uint64_t next_id;     /* id of the next flush to build */
    uint64_t oldest_id;   /* oldest flush not yet completed */
    uint64_t written_id;  /* every flush <= this has finished its write */
    uint64_t synced_id;   /* every flush <= this is covered by an fsync */
    uint64_t sync_cover;  /* written_id when the fsync in flight started */
    int write_inflight, fsync_inflight;
    uint64_t fsync_start_ns; /* when the fsync in flight was submitted */
    int seg_fd;
    char seg_path[PATH_MAX];
    uint64_t seg_first, seg_size, write_off;
    int need_roll;
    uint64_t next_sync_ns; /* OPLOG_SYNC_INTERVAL: when to fsync next */
    int failed;
    int fail_code;         /* first failure (returned by oplog_close) */

    /* spare segment, prepared ahead by the helper thread */
    pthread_t spare_thread;
    int spare_started;
    pthread_mutex_t spare_mu;
    pthread_cond_t spare_cv;
    int spare_want, spare_busy, spare_stop;
    int spare_fd;          /* ready spare, or -1 */
    int spare_rc;          /* error of the last attempt, or 0 */
    int spare_retry;       /* a roll asked again after a failed attempt */

    _Atomic int closing;
    _Atomic int failed_pub;
    _Atomic uint64_t durable_seq;
    _Atomic uint64_t durable_records;
    _Atomic uint64_t batches_written;
    _Atomic uint64_t fsyncs;
    dur_hist fsync_hist;   /* fdatasync submit -> completion */
    _Atomic uint64_t bytes_written;
    _Atomic uint64_t segments_rolled;
    _Atomic uint64_t active_first;
};

/* The writer thread's body (oplog_writer.c); arg is the oplog. */
void *oplog_writer_main(void *arg);

/* Starts / stops the spare-segment helper thread (oplog_spare.c). */
int oplog_spare_start(oplog *log);
void oplog_spare_stop(oplog *log);

/* Asks the helper thread for a spare segment if none is ready or coming
 * (oplog_spare.c). Writer thread. */
void oplog_spare_request(oplog *log);

/* Takes the ready spare: 1 with *fd set, 0 if not ready yet (requested),
 * or a negative error from the last attempt (cleared). Writer thread. */
int oplog_spare_take(oplog *log, int *fd);

#endif /* WB_OPLOG_WRITER_INT_H */
