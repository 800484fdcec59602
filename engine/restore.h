/*
 * restore.h: point-in-time restore of one board from the snapshot store
 * plus oplog replay, and forking a restored state under a new board id
 * (public API). No engine thread: wbctl, tests and the engine use it alike.
 * The algorithm and its guarantees are written down in docs/restore.md.
 *
 * Targets:
 *   RESTORE_LATEST    everything in the log
 *   RESTORE_SNAPSHOT  exactly the state stored in snapshot `snap_id`
 *   RESTORE_SEQ       the state after every record with local seq <= seq
 *   RESTORE_TIME      the state after every record with time_us <= time_us
 *
 * Algorithm: the newest snapshot of the board at or before the target
 * (by pos for SEQ, by created_us for TIME) whose checks hold, then the
 * records after its position, in seq order, through the target: only
 * records of type WB_REC_OPS whose batch is for this board are decoded and
 * applied. Other boards' batches are skipped after reading their board id
 * (they are still read and checksummed by the reader).
 *
 * Errors (0 or a negative code of wb_error.h):
 *   WB_EINVAL      bad argument (also: snapshot id of another board)
 *   WB_ENOTFOUND   no snapshot and no record of the board at or before the
 *                  target (the board did not exist then), or the snapshot
 *                  id of a SNAPSHOT target does not exist
 *   WB_ENOHISTORY  the replay would have to start before the oldest record
 *                  still in the oplog (segments retained away) and no
 *                  snapshot covers that part
 *   WB_ECORRUPT    the oplog is corrupt where replay read it, or a record of
 *                  the board does not decode or apply; out->where names the
 *                  segment file, byte offset and seq. Nothing past that
 *                  point is applied and no board is returned.
 *   the snapshot store's and reader's errors (I/O, WB_ENOMEM, ...)
 *
 * Threads: reentrant; the snapshot store may be shared (snap.h), the oplog
 * directory may be live (the reader sees a durable prefix).
 */
#ifndef WB_RESTORE_H
#define WB_RESTORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "snap.h"

typedef enum restore_kind {
    RESTORE_LATEST = 0,
    RESTORE_SNAPSHOT = 1,
    RESTORE_SEQ = 2,
    RESTORE_TIME = 3,
} restore_kind;

typedef struct restore_target {
    restore_kind kind;
    uint64_t snap_id; /* RESTORE_SNAPSHOT */
    uint64_t seq;     /* RESTORE_SEQ */
    int64_t time_us;  /* RESTORE_TIME: unix microseconds */
} restore_target;

/* Decodes snapshot state bytes into a board. The default is
 * board_state_decode with default limits; a caller whose snapshots wrap the
 * board state (extra engine data) passes its own. */
typedef int (*restore_decode_fn)(const uint8_t *buf, size_t len,
                                 board **out);

/* Called during replay after each oplog record read, with its seq (for
 * progress displays, e.g. wbctl's bar); runs on the caller's thread. */
typedef void (*restore_progress_fn)(void *arg, uint64_t seq);

typedef struct restore_options {
    restore_decode_fn decode; /* NULL: board_state_decode(.., NULL, ..) */
    restore_progress_fn progress; /* NULL: none */
    void *progress_arg;
} restore_options;

/* Where replay stopped on an error (segment file, byte offset, seq) and
 * why. */
typedef struct restore_where {
    char segment[PATH_MAX]; /* "" when the error is not in the oplog */
    uint64_t offset;
    uint64_t seq;
    int code;               /* the underlying error (reader, codec, board) */
    char detail[256];
} restore_where;

typedef struct restore_result {
    board *board;            /* OWNED BY THE CALLER (board_free); NULL on error */
    int has_snapshot;        /* 1 if a snapshot was the starting point */
    uint64_t snap_id;        /* that snapshot (valid iff has_snapshot) */
    uint64_t snap_pos;       /* its oplog position; replay began after it */
    uint32_t skipped_snapshots; /* newer matching snapshots that failed
                                   their checks (or did not decode) */
    uint64_t skipped_ids[SNAP_SKIPPED_MAX]; /* the first of them */
    uint64_t records_read;   /* oplog records read during replay (any type) */
    uint64_t records_applied; /* WB_REC_OPS records of this board applied */
    uint64_t ops_applied;    /* ops in them */
    uint64_t last_seq;       /* seq of the last record applied (0: none;
                                then the snapshot's pos is the state's) */
    uint64_t end_seq;        /* seq of the last record read (any board) */
    restore_where where;     /* filled on an oplog/replay error */
} restore_result;

/* Restores board_name to target t. store may be NULL (replay from the start
 * of the log only); opts may be NULL. On success out->board is a new board
 * owned by the caller. On error out->board is NULL and the other fields
 * say how far it got (out->where for replay errors). */
int restore_board(snap_store *store, const char *oplog_dir,
                  const char *board_name, const restore_target *t,
                  const restore_options *opts, restore_result *out);

/* Frees out->board (if any) and zeroes *out. */
void restore_result_free(restore_result *out);

/* The state bytes of board b renamed to new_id: the same records, property
 * values, stamps, tombstones and version vector, under another id. Done on
 * the canonical encoding (the id is a field of the state header, see
 * board_state.c) and checked by decoding the result. malloc'd into *out
 * (caller frees), *len bytes. 0, WB_EINVAL (bad id), WB_ENOMEM, or a
 * decode error if the state is not what board_state_decode accepts. */
int restore_rename_state(const board *b, const char *new_id, uint8_t **out,
                         size_t *len);

typedef struct restore_fork_result {
    restore_result restored; /* the source restore (board freed by
                                restore_fork_result_free) */
    uint64_t fork_snap_id;   /* the snapshot written for the new board */
    uint64_t fork_pos;       /* its position */
    uint64_t state_hash;     /* board_state_hash of the new board */
} restore_fork_result;

/* Fork: restores board_name to t (from src and oplog_dir), renames the state
 * to new_id and writes it as a snapshot of new_id into dst (may be src) at
 * position pos, or, when pos is 0, at the current end of the oplog (the seq
 * of its last record), so that the new board starts from the restored state
 * and its own later ops follow. The new board shares no history with the
 * source: its snapshot holds the source's stamps and version vector (so
 * the fork merges with replicated copies of the same ops), and no oplog
 * record names it. new_id must differ from board_name and must have no
 * snapshot in dst yet (WB_EEXIST). dst must be writable by this process
 * (one writer process per store: not a running node's store from wbctl).
 * Returns 0 or an error of restore_board, restore_rename_state or
 * snap_put. */
int restore_fork(snap_store *src, const char *oplog_dir, const char *board_name,
                 const restore_target *t, const restore_options *opts,
                 const char *new_id, snap_store *dst, uint64_t pos,
                 restore_fork_result *out);

void restore_fork_result_free(restore_fork_result *out);

/* Reads the board id of an encoded batch without decoding it (version
 * byte, then the id). 0 and a view into buf, or the codec's error. */
int restore_batch_board(const uint8_t *buf, size_t len, const char **id,
                        size_t *id_len);

#endif /* WB_RESTORE_H */
