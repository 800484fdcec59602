/*
 * engine_internal.h: what the engine's files share; not for use outside
 * engine/engine*.c.
 *
 *   engine.c           open/close, the engine thread's loop, engine_call,
 *                      stats, retention floors
 *   engine_queue.c     the bounded submit queue (any thread -> engine)
 *   engine_ingest.c    local and remote submissions: validate, dedupe,
 *                      stamp, encode, append; completions: apply, ack
 *   engine_dedupe.c    the (user, client op id) window
 *   engine_boards.c    board cache: lookup, cold load, LRU, memory budget,
 *                      eviction, the resume ring, since/state/json
 *   engine_snapshot.c  snapshot policy (engine thread) and snapshot thread
 *   engine_recover.c   startup replay from the clean position
 *
 * Ownership: every field not marked otherwise belongs to the engine thread.
 * Fields marked [mu] are protected by engine.mu.
 */
#ifndef WB_ENGINE_INTERNAL_H
#define WB_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "board.h"
#include "engine.h"
#include "hlc.h"
#include "oplog.h"
#include "snap.h"
#include "vv.h"

/* ---- submit queue (engine_queue.c) ------------------------------------ */

enum eng_sub_kind { ENG_SUB_LOCAL = 1, ENG_SUB_REMOTE = 2, ENG_SUB_CALL = 3 };

typedef struct eng_call {
    engine_fn fn;
    void *arg;
    int state;  /* [mu] 0 queued, 1 running, 2 done, 3 cancelled */
    int result; /* [mu] */
    int refs;   /* [mu] waiter + queue */
} eng_call;

/* token of a REMOTE submission: log its ops even at or below the board's
 * vector (engine_submit_remote_force). */
#define ENG_REMOTE_FORCE 1u

typedef struct eng_sub {
    int kind;
    wb_batch *batch; /* owned (LOCAL, REMOTE) */
    uint64_t token;  /* LOCAL: the ack's; REMOTE: 0 or ENG_REMOTE_FORCE */
    eng_call *call;  /* CALL */
} eng_sub;

typedef struct eng_queue {
    eng_sub *slots;
    uint32_t cap, head, n; /* [mu] */
} eng_queue;

int eng_queue_init(eng_queue *q, uint32_t cap);
void eng_queue_free(eng_queue *q);
int eng_queue_push(eng_queue *q, const eng_sub *s);  /* [mu] held; WB_EAGAIN */
int eng_queue_pop(eng_queue *q, eng_sub *out);       /* [mu] held; 1 or 0 */

/* ---- dedupe window (engine_dedupe.c) ---------------------------------- */

typedef struct eng_dedupe_ent {
    uint64_t key;    /* XXH3 of the user id seeded with the client op id */
    uint64_t cid;
    wb_stamp stamp;
    int32_t next;    /* chain in the bucket, -1 end */
    int used;
} eng_dedupe_ent;

typedef struct eng_dedupe {
    eng_dedupe_ent *ents; /* FIFO ring of cap entries */
    int32_t *buckets;     /* nbuckets heads */
    uint32_t cap, nbuckets, next;
} eng_dedupe;

int eng_dedupe_init(eng_dedupe *d, uint32_t cap);
void eng_dedupe_free(eng_dedupe *d);
/* Looks up (user, cid): 1 and *stamp if present, else 0. */
int eng_dedupe_find(const eng_dedupe *d, wb_str user, uint64_t cid,
                    wb_stamp *stamp);
/* Inserts (overwriting the oldest entry when full). */
void eng_dedupe_put(eng_dedupe *d, wb_str user, uint64_t cid,
                    const wb_stamp *stamp);
/* Forgets (user, cid) if present (its append failed). */
void eng_dedupe_forget(eng_dedupe *d, wb_str user, uint64_t cid);

/* ---- boards (engine_boards.c) ----------------------------------------- */

typedef struct eng_ring_ent {
    uint8_t *enc;   /* owned */
    size_t len;
    uint64_t seq;
    uint32_t nops;
    vv ops;         /* per origin, the highest oseq in this batch */
} eng_ring_ent;

typedef struct eng_board {
    struct eng_board *hnext;              /* hash chain */
    struct eng_board *lru_prev, *lru_next; /* most recently used at head */
    char id[WB_MAX_ID_LEN + 1];
    board *b;
    vv logged;              /* board version + ops in flight (dedupe) */
    uint32_t inflight;      /* items in flight (pins the board) */
    uint32_t pending_creates; /* elements created by ops in flight */
    uint64_t snap_pos;      /* pos of the latest committed snapshot */
    uint64_t last_applied;  /* seq of the last record applied */
    uint64_t first_dirty;   /* lowest seq maybe not in a committed
                               snapshot; 0: clean */
    uint64_t dirty_since_ms;
    uint64_t ops_since_snap;
    uint64_t last_used_ms;
    int snap_inflight;
    int evict_wanted;
    size_t mem;             /* counted in engine.mem_used */
    eng_ring_ent *ring;     /* circular, ring_cap entries */
    uint32_t ring_cap, ring_head, ring_n;
    uint64_t ring_ops, ring_bytes;
    vv ring_base;           /* covers every op applied before the ring */
    int ring_stale;         /* ring_base could not be kept: since() is
                               always WB_ESTALE until reload */
} eng_board;

#define ENG_BUCKETS 4096u

/* Finds a loaded board (NULL if not loaded). */
eng_board *eng_board_find(engine *e, const char *id, size_t len);
/* Finds or loads (latest snapshot, or empty). Marks it used. */
int eng_board_acquire(engine *e, const char *id, size_t len, eng_board **out);
/* Frees a loaded board (must be unpinned). */
void eng_board_unload(engine *e, eng_board *bd);
/* Recounts bd->mem into engine.mem_used. */
void eng_board_account(engine *e, eng_board *bd);
/* Pushes an applied batch into the ring (takes enc). */
void eng_ring_push(engine *e, eng_board *bd, uint8_t *enc, size_t len,
                   uint64_t seq, const wb_batch *applied);
/* Eviction by idleness and budget; called from the loop's tick. */
void eng_boards_evict(engine *e, uint64_t now_ms, int all);
void eng_boards_free_all(engine *e);
/* Replays a board's records in (from, to] from the oplog (cold load after a
 * corrupt newest snapshot). */
int eng_board_replay_tail(engine *e, eng_board *bd, uint64_t from,
                          uint64_t to);

/* ---- in-flight appends (engine_ingest.c) ------------------------------ */

typedef struct eng_item {
    struct eng_item *next;
    int kind;                /* ENG_SUB_LOCAL / ENG_SUB_REMOTE */
    wb_batch *batch;         /* owned: the submitted batch */
    wb_batch logb;           /* what is logged (ops may be `filtered`) */
    wb_op *filtered;         /* malloc'd when some ops were dropped */
    uint8_t *enc;            /* encoding of logb (owned until the ring) */
    size_t enc_len;
    uint64_t token;
    uint64_t seq;            /* set when the group completes */
    uint32_t creates;
    uint32_t dups;
    eng_board *bd;
} eng_item;

typedef struct eng_group {
    struct eng_group *next;
    eng_item *items;         /* every item (logged or not) in order */
    uint32_t nlogged;
    uint64_t remote_ops;     /* ops of remote items in the append */
    int done;                /* [mu] */
    int status;              /* [mu] */
    uint64_t first_seq;      /* [mu] */
    engine *eng;
} eng_group;

/* Turns queued submissions into one append. */
void eng_ingest(engine *e, eng_sub *subs, size_t n);
/* Applies and acks completed groups at the head of the FIFO (mu NOT held). */
void eng_complete(engine *e);
/* Waits until nothing is in flight (engine thread). */
void eng_drain(engine *e);
/* Applies one stamped, logged record to its board (also replay); takes
 * enc (may be NULL) for the ring; live: call on_ops. */
int eng_apply_record(engine *e, eng_board *bd, const wb_batch *b,
                     uint8_t *enc, size_t len, uint64_t seq, int live);

/* ---- snapshots (engine_snapshot.c) ------------------------------------ */

typedef struct eng_snap_job {
    struct eng_snap_job *next;
    int kind;               /* 1 snapshot, 2 clean position */
    char board[WB_MAX_ID_LEN + 1];
    uint8_t *state;         /* owned */
    size_t len;
    uint8_t *vvb;           /* owned */
    size_t vv_len;
    uint64_t pos;
    uint32_t elements;
    uint64_t oseq, hlc;     /* kind 2 */
    uint64_t t0_ns;
    uint64_t duration_ns;
    int status;
} eng_snap_job;

int eng_snap_start(engine *e);
void eng_snap_stop(engine *e);
/* Takes a snapshot of bd if it is dirty and none is in flight. */
int eng_snap_board(engine *e, eng_board *bd);
/* Applies the policy (every N ops / T ms) to all boards. */
void eng_snap_policy(engine *e, uint64_t now_ms);
/* Handles finished jobs (engine thread). */
void eng_snap_results(engine *e, eng_snap_job *list);
/* Recomputes the clean position and persists it if it moved. */
void eng_clean_update(engine *e);
/* Waits for every queued snapshot job and handles the results. */
void eng_snap_wait(engine *e);
/* Snapshots every dirty board and waits for the commits. */
int eng_snap_all_wait(engine *e);

/* ---- recovery (engine_recover.c) -------------------------------------- */

int eng_recover(engine *e, uint64_t *records);

/* ---- the engine ------------------------------------------------------- */

#define ENG_MAX_FLOORS 16u

struct engine {
    engine_options opt;
    engine_callbacks cb;
    char dir_oplog[4096];
    char dir_snap[4096];
    uint64_t node_id;
    oplog *log;
    snap_store *store;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* engine thread wakes */
    pthread_cond_t call_cv;     /* engine_call waiters */
    eng_queue q;                /* [mu] */
    int closing;                /* [mu] submits refused */
    int stop;                   /* [mu] thread exits after draining */
    eng_snap_job *snap_done;    /* [mu] finished snapshot jobs */
    int wake;                   /* [mu] a completion arrived */

    /* in flight (engine thread; group done flags under mu) */
    eng_group *fifo_head, *fifo_tail;
    uint32_t groups_inflight;

    hlc_clock clock;
    uint64_t oseq;              /* last oseq given to a local op */
    uint64_t applied_seq;
    uint64_t clean_pos;         /* last persisted */
    eng_dedupe dedupe;

    eng_board *buckets[ENG_BUCKETS];
    eng_board *lru_head, *lru_tail;
    uint64_t nboards;
    uint64_t mem_used;
    uint64_t last_tick_ms, last_purge_ms;
    int replaying;
    int close_rc;               /* final snapshots at close */
    uint8_t keep[WB_MAX_OPS_PER_BATCH]; /* per-op scratch of eng_ingest */

    /* snapshot thread */
    pthread_t snap_thread;
    int snap_started;
    pthread_mutex_t smu;
    pthread_cond_t scv;
    eng_snap_job *sq_head, *sq_tail; /* [smu] */
    int snap_stop;                   /* [smu] */
    uint32_t snaps_inflight;         /* engine thread */

    /* floors [mu] */
    char floor_name[ENG_MAX_FLOORS][32];
    uint64_t floor_seq[ENG_MAX_FLOORS];

    /* stats: atomics, written by the engine thread, read anywhere */
    _Atomic uint64_t st_submitted, st_applied, st_rejected, st_dup,
        st_rdup, st_loaded, st_evicted, st_mem, st_snaps, st_snap_err,
        st_snap_sum, st_snap_last, st_snap_enc_last, st_recovery_ns,
        st_recovery_records, st_applied_seq, st_clean, st_qlen, st_turns;
    _Atomic uint64_t st_rlost; /* remote ops whose append failed */
    /* groups handed to the oplog / completed by it (either way); they
     * complete in append order. engine_flush waits on these. */
    _Atomic uint64_t grp_appended, grp_completed;
    dur_hist st_apply_hist; /* live apply of one durable batch (engine
                               thread writes, anyone reads) */
};

uint64_t eng_now_ms(void);
uint64_t eng_now_ns(void);
int eng_on_thread(const engine *e);
void eng_log(engine *e, int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* WB_ENGINE_INTERNAL_H */
