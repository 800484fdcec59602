/*
 * oplog.h: the node's durable, append-only operation log (public API).
 *
 * The oplog is a directory of segment files (format: docs/oplog-format.md and
 * oplog_format.h). Records carry a local sequence number (1, 2, 3, ... with
 * no gaps, assigned at append), a wall-clock timestamp, a 16-bit type, flags
 * and an opaque payload (the engine stores encoded ops; the oplog does not
 * look inside).
 *
 * Threads. One writer thread, owned by the oplog, does all writes. Any
 * number of producer threads call oplog_append_batch(); records are copied
 * into a bounded queue, so the caller's buffers are borrowed only for the
 * call. The writer takes whatever is queued while the previous flush is in
 * flight, writes it as one batch and fdatasyncs it (group commit) through
 * io_uring, or pwrite + fdatasync where io_uring is unavailable
 * (WB_OPLOG_NO_URING=1 in the environment, or options.no_uring, forces the
 * fallback). Completion callbacks run on the writer thread and must not
 * block; a callback may call oplog_append_batch() only if the queue has room
 * (otherwise it gets WB_EAGAIN rather than deadlocking).
 *
 * Durability (options.sync):
 *   OPLOG_SYNC_ALWAYS    (default) a record is completed only after the
 *                        fdatasync that covers it has returned success.
 *   OPLOG_SYNC_INTERVAL  completed once written to the page cache; an
 *                        fdatasync runs every sync_interval_ms. A machine
 *                        crash (not a process crash) can lose the last
 *                        sync_interval_ms of completed records.
 *   OPLOG_SYNC_NONE      never fdatasync except at close; tests and
 *                        benchmarks only.
 *
 * Atomicity. The records of one oplog_append_batch() call are written
 * together; the last carries OPLOG_FLAG_BATCH_END. Recovery drops a trailing
 * batch whose end record is missing, so after a crash a batch is either
 * wholly in the log or not at all. (Exception: a batch larger than a whole
 * segment is split across segments at record boundaries, and a crash can
 * keep the part in the older segments.)
 *
 * Failure. After a failed write or fdatasync the log enters the failed state:
 * every pending and later append completes with WB_EIO or WB_EFAILED, until
 * the log is closed and reopened (recovery then keeps exactly what is valid
 * on disk). No fsync is retried-and-pretended. ENOSPC is different: the
 * batch that hit it completes with WB_EFULL, nothing on disk is left
 * half-valid, and later appends are tried again (they succeed once space is
 * freed). Every batch queued behind it completes with WB_EFULL too, and
 * their sequence numbers are given again to later appends (the log never
 * has a gap): a seq reported with WB_EFULL names nothing.
 */
#ifndef WB_OPLOG_H
#define WB_OPLOG_H

#include <stddef.h>
#include <stdint.h>

#include "dur_hist.h"
#include "wb_io.h"

#define OPLOG_DEFAULT_SEGMENT_SIZE (64u << 20)
#define OPLOG_MAX_PAYLOAD (4u << 20) /* bytes in one record's payload */

#define OPLOG_FLAG_BATCH_END 0x0001u /* last record of an append batch */

typedef struct oplog oplog;
typedef struct oplog_reader oplog_reader;

typedef enum oplog_sync_mode {
    OPLOG_SYNC_ALWAYS = 0,
    OPLOG_SYNC_INTERVAL = 1,
    OPLOG_SYNC_NONE = 2,
} oplog_sync_mode;

typedef struct oplog_options {
    const char *dir;           /* data directory for segments (created) */
    uint64_t node_id;          /* stamped in every segment header */
    uint64_t segment_size;     /* roll size; default 64 MiB */
    oplog_sync_mode sync;      /* default OPLOG_SYNC_ALWAYS */
    unsigned sync_interval_ms; /* for OPLOG_SYNC_INTERVAL; default 1000 */
    uint32_t queue_records;    /* queue capacity in records; default 65536 */
    uint32_t queue_bytes;      /* queue capacity in payload bytes; 64 MiB */
    int repair;                /* open anyway: truncate at mid-log corruption
                                  (losing what follows; reported) */
    int no_uring;              /* force the pwrite + fdatasync path */
    const wb_io *io;           /* NULL: wb_io_default() */
} oplog_options;

/* One record to append. Borrowed for the duration of the call. */
typedef struct oplog_entry {
    uint16_t type;
    const void *payload;
    uint32_t len; /* <= OPLOG_MAX_PAYLOAD */
} oplog_entry;

/* A record read back. payload is borrowed from the reader and valid until
 * the next oplog_reader_next() or oplog_reader_close() on it. */
typedef struct oplog_record {
    uint64_t seq;
    int64_t time_us; /* wall clock, microseconds since the Unix epoch */
    uint16_t type;
    uint16_t flags;
    uint32_t len;
    const uint8_t *payload;
} oplog_record;

/* Completion of one append batch, called once on the writer thread.
 * status: 0 (durable per the sync mode), WB_EIO, WB_EFAILED, WB_EFULL, or
 * WB_ECLOSED (log closed before the batch was written; not on disk).
 * first_seq..last_seq are the sequence numbers the batch was given. */
typedef void (*oplog_done_fn)(void *arg, uint64_t first_seq,
                              uint64_t last_seq, int status);

/* What recovery found at open; filled by oplog_open() when asked. */
typedef struct oplog_recovery {
    uint64_t first_seq;     /* oldest record on disk (0 if empty) */
    uint64_t last_seq;      /* newest valid record (0 if empty) */
    uint32_t segments;      /* segment files found */
    uint64_t torn_bytes;    /* bytes of torn tail cut back */
    uint32_t dropped_records; /* valid records of an unfinished batch */
    int repaired;           /* 1 if options.repair cut corruption away */
    char detail[256];       /* what was done, for the log */
} oplog_recovery;

/* Fills o with defaults (dir stays NULL: the caller must set it). */
void oplog_options_init(oplog_options *o);

/* Opens (creating if empty) the log in o->dir, runs recovery and starts the
 * writer thread. On mid-log corruption without o->repair returns
 * WB_ECORRUPT, and err (if not NULL, size errlen) names the segment file and
 * byte offset. rec (may be NULL) receives what recovery did.
 * Returns 0 or an error; *out is set only on success. */
int oplog_open(const oplog_options *o, oplog **out, oplog_recovery *rec,
               char *err, size_t errlen);

/* Appends n >= 1 entries as one batch. Assigns consecutive sequence
 * numbers, returned through first_seq (may be NULL); done (may be NULL) is
 * called once when the batch is durable or failed. Blocks while the queue is
 * full, unless called from the writer thread, where it returns WB_EAGAIN.
 * Returns 0, WB_EINVAL (too large), WB_EFAILED (log failed), WB_ECLOSED. */
int oplog_append_batch(oplog *log, const oplog_entry *entries, size_t n,
                       oplog_done_fn done, void *arg, uint64_t *first_seq);

/* Appends one entry and waits until it is durable. Returns the same codes as
 * a completion, and the sequence number through seq (may be NULL). From a
 * completion callback (the writer thread) it returns WB_EAGAIN: it would
 * wait for itself. */
int oplog_append_sync(oplog *log, uint16_t type, const void *payload,
                      uint32_t len, uint64_t *seq);

/* Highest sequence number completed successfully (0 if none). Any thread. */
uint64_t oplog_durable_seq(const oplog *log);

/* Sequence number the next appended record will get. Any thread. */
uint64_t oplog_next_seq(const oplog *log);

/* Deletes whole segments all of whose records have seq < keep_from. The
 * active segment is never deleted. Returns the number of segments deleted
 * or an error; freed (may be NULL) receives the bytes freed. */
int oplog_retain_from(oplog *log, uint64_t keep_from, uint64_t *freed);

/* Statistics for metrics (any thread; values are approximate snapshots). */
typedef struct oplog_stats {
    uint64_t appended_records;
    uint64_t durable_records;
    uint64_t batches;          /* flushes written */
    uint64_t fsyncs;
    uint64_t queue_records;    /* records waiting in the queue now */
    uint64_t bytes_written;
    uint64_t segments_rolled;
    int failed;                /* 1 when in the failed state */
    int uring;                 /* 1 when io_uring is in use */
    dur_hist_counts fsync;     /* the writer's fdatasyncs, submit to
                                  completion (io_uring or fallback; a sync
                                  linked to its write includes the write);
                                  failed ones too, cancelled ones not */
} oplog_stats;
void oplog_get_stats(const oplog *log, oplog_stats *out);

/* Stops accepting appends, writes and syncs everything queued (completing
 * each batch), stops the writer thread and frees the log. Returns 0 or the
 * error of the final flush. */
int oplog_close(oplog *log);

/* Opens a reader over the segment files in dir, positioned at the first
 * record with seq >= from_seq. Read-only: safe while a node appends to the
 * same directory (it sees a prefix of what is durable). */
int oplog_reader_open(const char *dir, uint64_t from_seq, oplog_reader **out);

/* Reads the next record. Returns 1 with *rec filled, 0 at the end of the
 * log, or an error (WB_ECORRUPT etc.; then oplog_reader_where() names the
 * place). A reader that returned an error stays failed. */
int oplog_reader_next(oplog_reader *r, oplog_record *rec);

/* The segment file and byte offset of the last record read or of the error.
 * Valid until the next call on r. */
const char *oplog_reader_where(const oplog_reader *r, uint64_t *offset);

void oplog_reader_close(oplog_reader *r);

/* Offline checks for wbctl (no writer; the directory must not be in use for
 * oplog_repair). Each problem is reported through cb with the segment file,
 * the byte offset and a reason; verify returns the number of problems (0:
 * clean) or an error that stopped the check. */
typedef void (*oplog_problem_fn)(void *arg, const char *segment,
                                 uint64_t offset, int code,
                                 const char *reason);
int oplog_verify(const char *dir, oplog_problem_fn cb, void *arg);

/* oplog_verify that also calls progress(progress_arg, done, total) after
 * each segment checked (done of total segments; for wbctl's bar). */
typedef void (*oplog_progress_fn)(void *arg, size_t done, size_t total);
int oplog_verify_progress(const char *dir, oplog_problem_fn cb, void *arg,
                          oplog_progress_fn progress, void *progress_arg);

/* Truncates torn tails; with force, also cuts the log at the first mid-log
 * corruption (everything after it is lost). Reports every action through cb.
 * Returns 0 if nothing was left to repair, WB_ECORRUPT if corruption remains
 * (without force), or an I/O error. */
int oplog_repair(const char *dir, int force, oplog_problem_fn cb, void *arg);

#endif /* WB_OPLOG_H */
