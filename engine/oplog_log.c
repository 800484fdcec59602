/*
 * oplog_log.c: the oplog object's public life cycle: oplog_open (lock,
 * recovery, first segment, threads), the append entry points, statistics,
 * retention, oplog_close. The spare-segment helper thread is in
 * oplog_spare.c, the writer thread in oplog_writer.c.
 *
 * Threads: oplog_open/oplog_close run on the owner's thread; appends on any
 * producer thread (they touch only the queue and the atomics); the writer
 * thread is in oplog_writer.c, the spare thread in oplog_spare.c.
 *
 * Directory lock: DIR/LOCK is flock'ed (LOCK_EX | LOCK_NB) for the life of
 * the log, so a second writer, in this process or another, gets WB_EBUSY.
 * The kernel drops the lock when the process dies, so a crash never leaves
 * a stale lock behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "oplog_writer_int.h"
#include "wb_error.h"

#define OPLOG_DEFAULT_QUEUE_RECORDS 65536u
#define OPLOG_DEFAULT_QUEUE_BYTES (64u << 20)

void oplog_options_init(oplog_options *o)
{
    memset(o, 0, sizeof *o);
    o->segment_size = OPLOG_DEFAULT_SEGMENT_SIZE;
    o->sync = OPLOG_SYNC_ALWAYS;
    o->sync_interval_ms = 1000;
    o->queue_records = OPLOG_DEFAULT_QUEUE_RECORDS;
    o->queue_bytes = OPLOG_DEFAULT_QUEUE_BYTES;
}

/* ---- open ------------------------------------------------------------- */

static void wake_writer(void *arg)
{
    oplog_flush_wake(arg);
}

static int validate_options(const oplog_options *o)
{
    if (!o || !o->dir || !*o->dir || strlen(o->dir) >= PATH_MAX - 64)
        return WB_EINVAL;
    if (o->sync != OPLOG_SYNC_ALWAYS && o->sync != OPLOG_SYNC_INTERVAL &&
        o->sync != OPLOG_SYNC_NONE)
        return WB_EINVAL;
    return 0;
}

/* Copies the options, filling defaults and clamping the segment size to
 * [OPLOG_MIN_SEGMENT_SIZE, OPLOG_MAX_SEGMENT], a multiple of 8. */
static void setup_options(oplog *log, const oplog_options *o)
{
    log->opt = *o;
    snprintf(log->dir, sizeof log->dir, "%s", o->dir);
    log->opt.dir = log->dir;
    log->io = o->io ? o->io : wb_io_default();
    log->opt.io = log->io;
    uint64_t s = o->segment_size ? o->segment_size : OPLOG_DEFAULT_SEGMENT_SIZE;
    if (s < OPLOG_MIN_SEGMENT_SIZE)
        s = OPLOG_MIN_SEGMENT_SIZE;
    if (s > OPLOG_MAX_SEGMENT)
        s = OPLOG_MAX_SEGMENT;
    log->opt.segment_size = s & ~(uint64_t)7;
    if (!log->opt.sync_interval_ms)
        log->opt.sync_interval_ms = 1000;
    if (!log->opt.queue_records)
        log->opt.queue_records = OPLOG_DEFAULT_QUEUE_RECORDS;
    if (!log->opt.queue_bytes)
        log->opt.queue_bytes = OPLOG_DEFAULT_QUEUE_BYTES;
}

static int lock_dir(oplog *log)
{
    if (mkdir(log->dir, 0755) != 0 && errno != EEXIST)
        return -errno;
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/LOCK", log->dir);
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0)
        return -errno;
    if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? WB_EBUSY : -errno;
    return 0;
}

/* Opens the segment recovery found, or creates the first one. */
static int open_tail(oplog *log, const oplog_tail *t)
{
    if (t->has_segment) {
        int fd = log->io->open(log->io, t->path, O_RDWR, 0);
        if (fd < 0)
            return fd;
        log->seg_fd = fd;
        memcpy(log->seg_path, t->path, sizeof log->seg_path);
        log->seg_first = t->segment_first;
        log->seg_size = t->segment_size;
        log->write_off = t->write_off;
        return 0;
    }
    int fd = -1;
    int rc = oplog_segment_prepare(log->io, log->dir, log->opt.segment_size,
                                   &fd);
    if (rc)
        return rc;
    rc = oplog_segment_activate(log->io, log->dir, fd, log->opt.node_id,
                                t->next_seq, log->opt.segment_size,
                                log->seg_path);
    if (rc) {
        log->io->close(log->io, fd);
        return rc;
    }
    log->seg_fd = fd;
    log->seg_first = t->next_seq;
    log->seg_size = log->opt.segment_size;
    log->write_off = OPLOG_SEG_HEADER_SIZE;
    return 0;
}

static oplog *log_alloc(void)
{
    oplog *log = calloc(1, sizeof *log);
    if (!log)
        return NULL;
    log->lock_fd = -1;
    log->seg_fd = -1;
    log->spare_fd = -1;
    log->fl.efd = -1;
    log->next_id = log->oldest_id = 1;
    log->failq_tail = &log->failq;
    for (int i = 0; i < OPLOG_NFLUSH; i++)
        log->flushes[i].btail = &log->flushes[i].batches;
    pthread_mutex_init(&log->spare_mu, NULL);
    pthread_cond_init(&log->spare_cv, NULL);
    return log;
}

static void log_free(oplog *log)
{
    if (log->spare_fd >= 0)
        log->io->close(log->io, log->spare_fd);
    if (log->seg_fd >= 0)
        log->io->close(log->io, log->seg_fd);
    oplog_flush_destroy(&log->fl);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* drops the flock */
    for (int i = 0; i < OPLOG_NFLUSH; i++)
        free(log->flushes[i].buf);
    pthread_cond_destroy(&log->spare_cv);
    pthread_mutex_destroy(&log->spare_mu);
    free(log);
}

static int start_threads(oplog *log)
{
    int rc = oplog_spare_start(log);
    if (rc)
        return rc;
    if (pthread_create(&log->writer, NULL, oplog_writer_main, log) != 0)
        return WB_ENOMEM;
    log->writer_started = 1;
    oplog_queue_set_writer(&log->q, log->writer);
    return 0;
}

int oplog_open(const oplog_options *o, oplog **out, oplog_recovery *rec,
               char *err, size_t errlen)
{
    int rc = validate_options(o);
    if (rc)
        return rc;
    oplog *log = log_alloc();
    if (!log)
        return WB_ENOMEM;
    setup_options(log, o);
    oplog_tail tail;
    int queue_ready = 0;
    rc = lock_dir(log);
    if (rc)
        goto fail;
    rc = oplog_recover(log->io, log->dir, log->opt.node_id, log->opt.repair,
                       &tail, rec, err, errlen);
    if (rc)
        goto fail;
    rc = open_tail(log, &tail);
    if (rc)
        goto fail;
    atomic_store(&log->active_first, log->seg_first);
    atomic_store(&log->durable_seq, tail.next_seq - 1);
    rc = oplog_flush_init(&log->fl, log->io, log->opt.no_uring);
    if (rc)
        goto fail;
    oplog_queue_init(&log->q, tail.next_seq, log->opt.queue_records,
                     log->opt.queue_bytes, wake_writer, &log->fl);
    queue_ready = 1;
    rc = start_threads(log);
    if (rc)
        goto fail;
    *out = log;
    return 0;
fail:
    if (log->writer_started) {
        atomic_store(&log->closing, 1);
        oplog_queue_stop(&log->q, WB_ECLOSED, 0);
        oplog_flush_wake(&log->fl);
        pthread_join(log->writer, NULL);
    }
    oplog_spare_stop(log);
    if (queue_ready)
        oplog_queue_destroy(&log->q);
    log_free(log);
    return rc;
}

/* ---- append ----------------------------------------------------------- */

static int validate_entries(const oplog *log, const oplog_entry *e, size_t n)
{
    if (!e || n == 0 || n > UINT32_MAX)
        return WB_EINVAL;
    size_t room = log->opt.segment_size - OPLOG_SEG_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        if (e[i].len > OPLOG_MAX_PAYLOAD || (e[i].len && !e[i].payload))
            return WB_EINVAL;
        if (oplog_record_size(e[i].len) > room)
            return WB_EINVAL;
    }
    return 0;
}

int oplog_append_batch(oplog *log, const oplog_entry *entries, size_t n,
                       oplog_done_fn done, void *arg, uint64_t *first_seq)
{
    if (!log)
        return WB_EINVAL;
    int rc = validate_entries(log, entries, n);
    if (rc)
        return rc;
    struct oplog_batch *b = oplog_batch_new(entries, n, done, arg);
    if (!b)
        return WB_ENOMEM;
    rc = oplog_queue_push(&log->q, b, first_seq);
    if (rc)
        free(b);
    return rc;
}

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    int status;
};

static void sync_done(void *arg, uint64_t first, uint64_t last, int status)
{
    struct sync_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->finished = 1;
    w->status = status;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int oplog_append_sync(oplog *log, uint16_t type, const void *payload,
                      uint32_t len, uint64_t *seq)
{
    if (!log)
        return WB_EINVAL;
    if (pthread_equal(pthread_self(), log->writer))
        return WB_EAGAIN; /* would wait for itself */
    struct sync_wait w = {.finished = 0, .status = 0};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    oplog_entry e = {.type = type, .payload = payload, .len = len};
    int rc = oplog_append_batch(log, &e, 1, sync_done, &w, seq);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.finished)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* ---- queries ---------------------------------------------------------- */

uint64_t oplog_durable_seq(const oplog *log)
{
    return atomic_load_explicit(&log->durable_seq, memory_order_acquire);
}

uint64_t oplog_next_seq(const oplog *log)
{
    return atomic_load_explicit(&log->q.next_seq_pub, memory_order_acquire);
}

int oplog_retain_from(oplog *log, uint64_t keep_from, uint64_t *freed)
{
    if (!log)
        return WB_EINVAL;
    return oplog_segment_retain(log->io, log->dir, keep_from,
                                atomic_load(&log->active_first), freed);
}

void oplog_get_stats(const oplog *log, oplog_stats *out)
{
    memset(out, 0, sizeof *out);
    out->appended_records = atomic_load(&log->q.appended);
    out->durable_records = atomic_load(&log->durable_records);
    out->batches = atomic_load(&log->batches_written);
    out->fsyncs = atomic_load(&log->fsyncs);
    out->queue_records = atomic_load(&log->q.nrec_pub);
    out->bytes_written = atomic_load(&log->bytes_written);
    out->segments_rolled = atomic_load(&log->segments_rolled);
    out->failed = atomic_load(&log->failed_pub);
    out->uring = log->fl.uring;
    dur_hist_read(&log->fsync_hist, &out->fsync);
}

/* ---- close ------------------------------------------------------------ */

int oplog_close(oplog *log)
{
    if (!log)
        return WB_EINVAL;
    atomic_store(&log->closing, 1);
    oplog_queue_stop(&log->q, WB_ECLOSED, 0);
    oplog_flush_wake(&log->fl);
    pthread_join(log->writer, NULL);
    oplog_spare_stop(log);
    int rc = log->failed ? log->fail_code : 0;
    oplog_queue_destroy(&log->q);
    log_free(log);
    return rc;
}
