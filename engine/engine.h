/*
 * engine.h: the engine loop (public API): one thread that owns the boards,
 * stamps local ops, logs them durably, applies them and tells the network
 * layer (acks to the sender, ops to the board's subscribers).
 *
 * Life of a local op (DESIGN.md section 4; details in docs/engine.md):
 *
 *   any thread: engine_submit(batch)  --bounded MPSC queue-->
 *   engine thread: load board, validate (board limits), dedupe by
 *     (user, client op id), stamp (HLC, this node, next oseq), encode,
 *     oplog_append_batch (one record per board batch; every board batch
 *     taken in one loop turn goes into ONE append call)
 *   oplog writer thread: write + fdatasync (group commit), completion
 *     --completion list + condvar-->
 *   engine thread: apply to the board, on_ops (broadcast), on_ack.
 *
 * The engine thread never waits for an fsync: it keeps taking submissions
 * while earlier appends are in flight, so batches form naturally.
 *
 * Threads. engine_submit*, engine_call, engine_stats, engine_set_floor,
 * engine_retention_floor and engine_compact may be called from any thread.
 * Callbacks run ON THE ENGINE THREAD and must not block; they may call the
 * engine-thread functions below (engine_board_*) but not engine_call nor
 * engine_close. Functions marked "engine thread" return WB_EINVAL
 * elsewhere; from other threads wrap them in engine_call.
 *
 * Durability. An ack with status 0 means the ops are in the oplog per its
 * sync policy (OPLOG_SYNC_ALWAYS: fdatasync'd). The ops of one submitted
 * batch are logged as one record: after a crash all of them or none.
 */
#ifndef WB_ENGINE_H
#define WB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "op.h"
#include "oplog.h"
#include "snap.h"
#include "vv.h"

typedef struct engine engine;

enum engine_log_level {
    ENGINE_LOG_DEBUG = 0,
    ENGINE_LOG_INFO = 1,
    ENGINE_LOG_WARN = 2,
    ENGINE_LOG_ERROR = 3,
};

/* What an ack reports. Everything is borrowed for the duration of the call. */
typedef struct engine_ack {
    int status;            /* 0, or the typed error (nothing was logged) */
    const wb_batch *batch; /* the submitted batch; with status 0 every op
                              carries its stamp (a resend: the original's) */
    uint64_t first_seq;    /* oplog seq of the record (0: nothing new logged) */
    uint32_t duplicates;   /* ops answered from the dedupe window */
} engine_ack;

typedef struct engine_callbacks {
    void *ctx;
    /* A local submission finished (durable and applied, or rejected). */
    void (*on_ack)(void *ctx, uint64_t token, const engine_ack *ack);
    /* Ops applied to a board, in apply order: the stamped batch as logged
     * and its encoding (the oplog payload), and its oplog seq. */
    void (*on_ops)(void *ctx, const char *board_id, const wb_batch *applied,
                   const uint8_t *enc, size_t len, uint64_t seq);
    /* A board was loaded (loaded = 1) or evicted (0). Optional. */
    void (*on_board)(void *ctx, const char *board_id, int loaded);
    /* Structured event: event is a short name ("snapshot.write",
     * "snapshot.corrupt_skipped", "recovery.done", ...), detail is
     * "key=value ..." text. Optional. */
    void (*on_log)(void *ctx, int level, const char *event,
                   const char *detail);
    /* The engine thread delivered a turn's on_ack / on_ops calls (or ran
     * engine_call functions): a consumer that gathers what they hand over
     * can pass it on in one go, with one wake-up. Optional. */
    void (*on_turn)(void *ctx);
} engine_callbacks;

typedef struct engine_options {
    const char *dir;          /* data directory: DIR/oplog, DIR/snap */
    uint64_t node_id;         /* 0: the stored one, or a random one once */
    oplog_options oplog;      /* dir and node_id are filled by the engine */
    int snap_no_sync;         /* snapshot store without fsync (tests) */
    board_limits limits;      /* limits of every board */
    uint32_t snap_every_ops;  /* snapshot after this many ops (at least the
                                 board's element count); default 10000 */
    uint32_t snap_every_ms;   /* ... or this long after the first unsnap-
                                 shotted op; default 60000 */
    uint32_t snap_keep;       /* snapshots kept per board; default 3 */
    uint64_t mem_budget;      /* bytes for loaded boards; default 256 MiB */
    uint32_t idle_evict_ms;   /* evict boards idle this long; default 300000;
                                 0: never by idleness */
    uint64_t tombstone_ms;    /* tombstone retention; default 7 days;
                                 0: never purge */
    uint32_t dedupe_window;   /* (user, client op id) entries; default 65536 */
    uint32_t queue_cap;       /* submit queue slots; default 4096 */
    uint32_t ring_ops;        /* resume ring per board: ops; default 4096 */
    uint64_t ring_bytes;      /* ... and bytes; default 1 MiB */
    uint64_t max_drift_ms;    /* HLC drift bound for remote stamps; 60000 */
} engine_options;

/* Fills o with defaults (dir stays NULL). */
void engine_options_init(engine_options *o);

/* Opens the stores in o->dir (created), recovers (replays the oplog from
 * the clean position), starts the engine and snapshot threads. cb is
 * copied (may be NULL). Returns 0 and *out, or an error (WB_ECORRUPT with
 * the oplog's place in the log callback). */
int engine_open(const engine_options *o, const engine_callbacks *cb,
                engine **out);

/* Graceful close: stops accepting (later submits get WB_ECLOSED), drains
 * the queue and every in-flight append (acking each), snapshots the dirty
 * boards, records the clean position, closes the oplog and the store.
 * Returns 0 or the first error met. Not from the engine thread. */
int engine_close(engine *e);

/* Submits a local batch (decoded by codec_decode_batch, ops unstamped or
 * stamped: stamps are replaced). The ops' user fields are the authenticated
 * user (the caller sets them). On 0 the engine owns batch and on_ack will
 * be called once with token; on error the caller keeps it. Returns 0,
 * WB_EAGAIN (queue full: back-pressure), WB_ECLOSED, WB_EINVAL. */
int engine_submit(engine *e, wb_batch *batch, uint64_t token);

/* Same, from encoded bytes (decoded here; decode errors are returned). */
int engine_submit_encoded(engine *e, const uint8_t *buf, size_t len,
                          uint64_t token);

/* Submits a replicated batch: every op stamped by another origin. Ops
 * already seen (oseq <= the board's version vector for that origin, counting
 * ops in flight) are dropped; the rest are logged under new local seqs,
 * applied and broadcast (no ack). Ownership as engine_submit. */
int engine_submit_remote(engine *e, wb_batch *batch);

/* Same, but ops at or below the board's version vector are logged and
 * applied again (LWW makes that a no-op for ops already there). For a
 * reader that re-reads after engine_stats.remote_lost grew: ops of the
 * lost batches are below the vector once later ops of their origin were
 * logged, so engine_submit_remote would drop them as seen. */
int engine_submit_remote_force(engine *e, wb_batch *batch);

/* Plugging (like the block layer's): between engine_plug and
 * engine_unplug, submissions from THIS thread are queued without waking
 * the engine thread; engine_unplug wakes it once if anything was queued.
 * For an event loop that submits many batches per turn (plug before the
 * turn's callbacks, unplug after): the engine takes them as one group
 * instead of waking for the first and racing the rest. A queue more than
 * half full wakes the engine anyway. One engine per thread at a time;
 * plugging another engine first unplugs the previous one. */
void engine_plug(engine *e);
void engine_unplug(engine *e);

/* 1 on the engine thread (callbacks, engine_call functions), else 0. */
int engine_on_thread(const engine *e);

/* Runs fn(e, arg) on the engine thread and waits for it at most timeout_ms
 * (0: 10 s). Returns fn's result, WB_ETIMEDOUT (fn did not start in time and
 * never will), or WB_ECLOSED. Not from the engine thread. */
typedef int (*engine_fn)(engine *e, void *arg);
int engine_call(engine *e, engine_fn fn, void *arg, unsigned timeout_ms);

/* Flush barrier: waits until every submission queued before this call
 * (local or remote) is durable in the oplog, at most timeout_ms (0: 10 s).
 * Returns 0, WB_ETIMEDOUT, WB_EFAILED (the oplog failed), WB_ECLOSED.
 * Not from the engine thread. (engine_flush.c has the one caveat.) */
int engine_flush(engine *e, unsigned timeout_ms);

/* ---- engine thread only ---------------------------------------------- */

/* The ops of board the holder of client_vv has not seen, in apply order:
 * cb once per applied batch (a batch partly seen is re-encoded with only
 * the missing ops). Loads the board if needed. Returns 0 (cb's non-zero
 * value stops and is returned), WB_ESTALE (the resume ring no longer goes
 * back to client_vv: send the full state), or an error. */
typedef int (*engine_since_fn)(void *arg, const uint8_t *enc, size_t len,
                               uint64_t seq);
int engine_board_since(engine *e, const char *board_id, const vv *client_vv,
                       engine_since_fn cb, void *arg);

/* Canonical state bytes (board_state_encode) and version vector of board,
 * borrowed for the call. Loads the board (an unknown board is empty). */
typedef int (*engine_state_fn)(void *arg, const uint8_t *state, size_t len,
                               const vv *version);
int engine_board_state(engine *e, const char *board_id, engine_state_fn cb,
                       void *arg);

/* board_to_json of board into *out (malloc'd, caller frees). */
int engine_board_json(engine *e, const char *board_id, char **out, size_t *len);

/* The loaded board (borrowed; valid until the engine thread returns to its
 * loop) after loading it. For tests and engine_call users. */
int engine_board_get(engine *e, const char *board_id, const board **out);

/* Snapshots every dirty board now and waits for the commits (tests, close).
 * Returns 0 or the first snapshot error. */
int engine_snapshot_all(engine *e);

/* Evicts every board that can be (snapshotting dirty ones first) and
 * waits. Returns the number of boards still loaded. */
int engine_evict_all(engine *e);

/* ---- any thread --------------------------------------------------------- */

/* Lowest oplog seq still needed: min over the snapshot store's min_pos + 1,
 * the clean position + 1 and the registered floors. */
uint64_t engine_retention_floor(engine *e);

/* Registers (or moves) a named floor: ops with seq >= floor are kept for
 * the named component (mirror, replication). seq 0 removes it. Up to 16
 * names of < 32 bytes; WB_ETOOBIG otherwise. */
int engine_set_floor(engine *e, const char *name, uint64_t seq);

/* Deletes oplog segments below the retention floor. Returns segments
 * deleted or an error. */
int engine_compact(engine *e);

typedef struct engine_stats {
    uint64_t queue_len;          /* submissions waiting */
    uint64_t turns;              /* times the engine thread woke and took
                                    its queue (ticks included): submissions
                                    per turn is how well plugging batches */
    uint64_t oplog_queue;        /* records in the oplog queue */
    uint64_t submitted;          /* batches accepted by engine_submit* */
    uint64_t ops_applied;        /* ops applied (local + remote + replay) */
    uint64_t ops_rejected;       /* ops of rejected batches */
    uint64_t ops_duplicate;      /* resends answered from the window */
    uint64_t remote_duplicate;   /* remote ops already seen */
    uint64_t remote_lost;        /* remote ops whose oplog append failed
                                    (never logged; engine_flush caveat) */
    uint64_t boards_loaded;
    uint64_t boards_evicted;
    uint64_t mem_used;           /* bytes of loaded boards + rings */
    uint64_t snapshots;          /* snapshots committed */
    uint64_t snapshot_errors;
    uint64_t snapshot_ns_sum;    /* sum of snapshot durations (encode to
                                    commit), for a histogram-ready export */
    uint64_t snapshot_ns_last;
    uint64_t snapshot_encode_ns_last; /* the engine-thread part */
    uint64_t recovery_ns;        /* open to ready */
    uint64_t recovery_records;   /* records replayed at open */
    uint64_t durable_seq;        /* oplog_durable_seq */
    uint64_t applied_seq;        /* highest seq applied */
    uint64_t clean_pos;          /* persisted clean position */
    uint64_t node_id;
    dur_hist_counts oplog_fsync; /* oplog_stats.fsync */
    dur_hist_counts op_apply;    /* engine thread: board_apply_batch of one
                                    durable batch, live only (not replay) */
} engine_stats;

void engine_get_stats(engine *e, engine_stats *out);

/* The engine's snapshot store (borrowed; valid until engine_close). Its
 * functions may be called from any thread (snap.h): the node reads and
 * writes board metadata and lists snapshots through it, since LMDB allows
 * one environment per process. */
snap_store *engine_snap_store(engine *e);

#endif /* WB_ENGINE_H */
