/*
 * snap.h: the snapshot store (public API).
 *
 * One LMDB environment in a directory (e.g. DATA_DIR/snapshots/: data.mdb
 * and lock.mdb) holds four named databases:
 *
 *   "snap"     point-in-time snapshots of boards. Key: board id, 0x00,
 *              big-endian u64 oplog position, big-endian u64 snapshot id;
 *              so "all snapshots of B" and "newest of B at or before P" are
 *              range scans. Value: the snapshot value (docs/snapshot-format.md
 *              and snap_format.h): a checksummed header, the board id, the
 *              version vector bytes and the zstd-compressed board state.
 *   "snap_id"  big-endian u64 snapshot id -> key in "snap".
 *   "board"    board id -> board metadata (versioned, tagged fields).
 *   "node"     node-level records: node id, the oplog position up to which
 *              state was last applied, named cursors ("replication/<shard>",
 *              "mirror", "publish") and a generic key -> small blob table;
 *              plus the store's own counters (next snapshot id).
 *
 * The store treats the board state and the version vector as OPAQUE bytes
 * (board_state_encode and vv_encode produce them elsewhere).
 *
 * Positions. A snapshot "covers" position pos: every op with local oplog
 * seq <= pos is in it; restore replays the ops with seq > pos.
 *
 * Threads. Every function may be called from any thread on one shared
 * snap_store (the environment is opened with MDB_NOTLS). Readers
 * (snap_get_*, snap_list, snap_board_get/list, snap_cursor_get, ...) run
 * in parallel with each other and with one writer. Writers (snap_put,
 * snap_delete, snap_prune, snap_board_put, snap_cursor_set, ...) serialize
 * on LMDB's writer lock; snap_put compresses BEFORE it takes that lock, so
 * the lock is held only to copy the value into the map and commit.
 * snap_store_close() must not run concurrently with any other call.
 *
 * Processes. One writer process per directory (the node); others open it
 * with options.read_only (wbctl while the node runs) and see everything
 * committed. LMDB forbids opening the same environment twice in ONE
 * process: keep one snap_store per directory per process.
 *
 * Durability. A call that returns 0 after a write has committed it durably
 * (LMDB syncs at commit) unless options.no_sync. A failed write transaction
 * is aborted: nothing of it is visible, ever.
 *
 * Errors (all functions return 0 or a negative code of wb_error.h). LMDB
 * errors are mapped: MDB_MAP_FULL -> WB_EFULL, MDB_NOTFOUND -> WB_ENOTFOUND,
 * MDB_TXN_FULL -> WB_ETOOBIG, MDB_KEYEXIST -> WB_EEXIST (a key that must
 * be new exists: a damaged id counter), MDB_READERS_FULL -> WB_EBUSY,
 * MDB_INVALID ->
 * WB_EBADMAGIC, MDB_VERSION_MISMATCH -> WB_EBADVERSION, MDB_CORRUPTED and
 * MDB_PAGE_NOTFOUND -> WB_ECORRUPT, a system errno e -> -e (ENOSPC ->
 * WB_EFULL), any other MDB_* code -> WB_EIO. A write on a read-only store
 * returns -EACCES.
 */
#ifndef WB_SNAP_H
#define WB_SNAP_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_BOARD_ID_MAX 64u                  /* bytes, no NUL inside */
#define SNAP_VV_MAX 65535u                     /* bytes of version vector */
#define SNAP_DEFAULT_MAX_STATE (1ull << 30)    /* 1 GiB uncompressed */
#define SNAP_DEFAULT_MAP_SIZE (8ull << 30)     /* 8 GiB; file grows lazily */
#define SNAP_DEFAULT_ZSTD_LEVEL 1
#define SNAP_SKIPPED_MAX 8u   /* skipped snapshot ids reported per get */

#define SNAP_TITLE_MAX 256u    /* bytes of a board title */
#define SNAP_USER_MAX 128u     /* bytes of an owner user id */
#define SNAP_SETTINGS_MAX 4096u /* bytes of per-board setting overrides */
#define SNAP_NAME_MAX 128u     /* bytes of a cursor or kv key */
#define SNAP_BLOB_MAX 4096u    /* bytes of a kv value */

typedef struct snap_store snap_store;

typedef struct snap_options {
    uint64_t map_size;      /* LMDB map size; default SNAP_DEFAULT_MAP_SIZE */
    uint64_t max_state;     /* cap on a state's uncompressed size, on write
                               and read; default SNAP_DEFAULT_MAX_STATE */
    int zstd_level;         /* default 1 */
    int read_only;          /* MDB_RDONLY: the store must exist */
    int no_sync;            /* MDB_NOSYNC: tests and benchmarks only */
} snap_options;

/* What is known of a snapshot from its key and header (no body check). */
typedef struct snap_info {
    uint64_t id;            /* monotonic per store, from 1 */
    char board[SNAP_BOARD_ID_MAX + 1];
    uint64_t pos;           /* oplog position covered */
    int64_t created_us;     /* unix microseconds */
    uint32_t elements;      /* element count given by the caller */
    uint32_t vv_len;        /* bytes of version vector */
    uint64_t raw_size;      /* uncompressed state bytes */
    uint64_t stored_size;   /* compressed state bytes as stored */
    uint64_t value_size;    /* whole value in LMDB (header + all) */
    uint64_t checksum;      /* XXH3-64 of the uncompressed state */
    int status;             /* 0, or the header's decode error (snap_list) */
} snap_info;

/* A loaded snapshot. state and vv are malloc'd and OWNED BY THE CALLER:
 * release with snap_loaded_free(). */
typedef struct snap_loaded {
    snap_info info;
    uint8_t *state;         /* info.raw_size bytes (NULL when 0) */
    size_t state_len;
    uint8_t *vv;            /* info.vv_len bytes (NULL when 0) */
    size_t vv_len;
    /* Newer snapshots that matched the target but failed their checks and
     * were skipped (snap_get_latest only). skipped counts all of them; the
     * first SNAP_SKIPPED_MAX ids and errors are listed. */
    uint32_t skipped;
    uint64_t skipped_ids[SNAP_SKIPPED_MAX];
    int skipped_codes[SNAP_SKIPPED_MAX];
} snap_loaded;

/* Fills o with the defaults. */
void snap_options_init(snap_options *o);

/* Opens the store in dir, creating the directory (one level) and the
 * databases if needed (not with read_only). o may be NULL (defaults).
 * Returns 0 and *out, WB_EINVAL, WB_ENOTFOUND (read_only and no store),
 * or a mapped LMDB/system error. */
int snap_store_open(const char *dir, const snap_options *o, snap_store **out);

/* Closes and frees the store (NULL is fine). No call may be in flight. */
void snap_store_close(snap_store *s);

/* ---- snapshots --------------------------------------------------------- */

/* Stores a snapshot of board: compresses state (len bytes) at the store's
 * zstd level, then one write transaction assigns the id and commits. All
 * inputs are borrowed for the call. vv may be NULL when vv_len is 0.
 * created_us 0 means "now". *snap_id (may be NULL) receives the new id.
 * Returns 0, WB_EINVAL (bad board id), WB_ETOOBIG (len > max_state or
 * vv_len > SNAP_VV_MAX), WB_ENOMEM, WB_EFULL (map full), -EACCES (read-only)
 * or a mapped LMDB error. */
int snap_put(snap_store *s, const char *board, const void *state, size_t len,
             uint64_t pos, const void *vv, size_t vv_len, uint32_t elements,
             int64_t created_us, uint64_t *snap_id);

/* Loads the newest snapshot of board with pos <= max_pos and created_us <=
 * max_time_us (UINT64_MAX / INT64_MAX: no bound) whose header, body and
 * checksums all hold. Newer matching snapshots that fail are SKIPPED and
 * reported in out->skipped* (and counted in the store's stats); corrupt
 * state is never returned. A snapshot whose header does not decode has no
 * known time, so it is reported as skipped whatever max_time_us is. Returns 0 with *out filled (free it with
 * snap_loaded_free), or WB_ENOTFOUND when no valid snapshot matches (out
 * then still reports what was skipped; state is NULL), or an error. */
int snap_get_latest(snap_store *s, const char *board, uint64_t max_pos,
                    int64_t max_time_us, snap_loaded *out);

/* Loads snapshot id with all checks. Returns 0, WB_ENOTFOUND, or the
 * decode error (WB_EBADMAGIC, WB_EBADVERSION, WB_ECORRUPT, WB_ETRUNCATED,
 * WB_ETOOBIG) of a damaged snapshot. */
int snap_get_by_id(snap_store *s, uint64_t id, snap_loaded *out);

/* Header only (no decompression): the newest snapshot of board at or
 * before max_pos whose header decodes. 0, WB_ENOTFOUND or an error. */
int snap_latest_info(snap_store *s, const char *board, uint64_t max_pos,
                     snap_info *out);

/* Frees what a get filled in and zeroes *l (NULL is fine). */
void snap_loaded_free(snap_loaded *l);

/* Calls cb for every snapshot of board (NULL: all boards), in order of
 * board id, then pos, then id, ascending, with the header's fields (a
 * damaged header gives info->status != 0 and only key fields). Bodies are
 * not checked. cb returns 0 to continue, non-zero to stop (that value is
 * returned). Runs in one read transaction: cb must not call write
 * functions of the same store. Returns 0, cb's value, or an error. */
typedef int (*snap_list_fn)(void *arg, const snap_info *info);
int snap_list(snap_store *s, const char *board, snap_list_fn cb, void *arg);

/* Deletes snapshot id. 0, WB_ENOTFOUND or an error. */
int snap_delete(snap_store *s, uint64_t id);

/* ---- pruning and oplog retention -------------------------------------- */

typedef struct snap_prune_policy {
    uint32_t keep_last;       /* newest K per board always kept; default 3 */
    int64_t keep_seconds;     /* also keep all created within this many
                                 seconds before now; default 0 (off) */
    uint32_t hourly_hours;    /* also keep the newest of each hour (hours
                                 aligned to the Unix epoch, UTC) created in
                                 the last H hours; default 0 (off) */
    int64_t now_us;           /* "now"; 0: the wall clock (tests set it) */
} snap_prune_policy;

void snap_prune_policy_init(snap_prune_policy *p);

/* Deletes the snapshots of board (NULL: every board) not kept by policy.
 * Besides the policy, the newest snapshot that passes all checks is never
 * deleted (so corrupt newer ones cannot push out the last good one).
 * *deleted (may be NULL) receives the count. One write transaction per
 * board. */
int snap_prune(snap_store *s, const char *board, const snap_prune_policy *p,
               uint32_t *deleted);

/* The oplog position up to which every board is covered by its OLDEST
 * retained snapshot: ops with seq <= *pos are in every board's oldest
 * snapshot, ops with seq > *pos may still be needed (so oplog retention may
 * drop seq <= *pos, i.e. oplog_retain_from(log, *pos + 1, ...)). A board
 * with metadata (not flagged deleted) but no snapshot needs everything:
 * then *pos is 0. An empty store also gives 0 (ops of boards the store does
 * not know yet may exist). */
int snap_min_pos(snap_store *s, uint64_t *pos);

/* ---- board metadata ----------------------------------------------------- */

typedef struct snap_board_meta {
    char board[SNAP_BOARD_ID_MAX + 1];
    char title[SNAP_TITLE_MAX + 1];
    char owner[SNAP_USER_MAX + 1]; /* owner user id */
    int64_t created_us;
    int64_t updated_us;
    int deleted;                   /* soft-delete flag */
    /* Per-board setting overrides, opaque to the store (e.g. JSON text);
     * not NUL-terminated necessarily: settings_len bytes. */
    uint32_t settings_len;
    char settings[SNAP_SETTINGS_MAX];
} snap_board_meta;

/* Creates or replaces the metadata of m->board. Strings must fit their
 * bounds (WB_ETOOBIG otherwise). */
int snap_board_put(snap_store *s, const snap_board_meta *m);

/* 0 and *out, or WB_ENOTFOUND, or WB_ECORRUPT/WB_EBADVERSION (bad record). */
int snap_board_get(snap_store *s, const char *board, snap_board_meta *out);

/* Removes the metadata record (hard delete; snapshots are kept). */
int snap_board_delete(snap_store *s, const char *board);

/* Lists up to limit boards (0: no limit) with id strictly after `after`
 * (NULL or "": from the first), in id order, through cb (0: continue,
 * non-zero: stop and return it). Page by passing the last id seen.
 * Returns the number listed, cb's non-zero value, or an error. */
typedef int (*snap_board_fn)(void *arg, const snap_board_meta *m);
int snap_board_list(snap_store *s, const char *after, uint32_t limit,
                    snap_board_fn cb, void *arg);

/* ---- node records ---------------------------------------------------------- */

/* The node's id (WB_ENOTFOUND before the first set). */
int snap_node_id_get(snap_store *s, uint64_t *id);
int snap_node_id_set(snap_store *s, uint64_t id);

/* The oplog position up to which state was last applied (replay starts
 * after it); WB_ENOTFOUND before the first set. */
int snap_applied_pos_get(snap_store *s, uint64_t *pos);
int snap_applied_pos_set(snap_store *s, uint64_t pos);

/* Named u64 cursors ("mirror", "publish", "replication/3", ...); names of
 * 1..SNAP_NAME_MAX bytes. get: WB_ENOTFOUND when never set. */
int snap_cursor_get(snap_store *s, const char *name, uint64_t *value);
int snap_cursor_set(snap_store *s, const char *name, uint64_t value);

/* Generic key -> small blob table (e.g. a Redis stream id as a cursor).
 * get copies up to cap bytes into buf and the full length into *len;
 * returns 0, WB_ENOTFOUND, or WB_ETOOBIG when cap is too small (*len set). */
int snap_kv_put(snap_store *s, const char *key, const void *val, size_t len);
int snap_kv_get(snap_store *s, const char *key, void *buf, size_t cap,
                size_t *len);
int snap_kv_delete(snap_store *s, const char *key);

/* ---- statistics ---------------------------------------------------------- */

typedef struct snap_stats {
    uint64_t puts;            /* snapshots committed by this handle */
    uint64_t loads;           /* snapshots returned by gets */
    uint64_t corrupt_skipped; /* snapshots skipped by snap_get_latest */
    uint64_t pruned;          /* snapshots deleted by snap_prune */
} snap_stats;

/* Counters of this handle since open (any thread; approximate). */
void snap_get_stats(const snap_store *s, snap_stats *out);

#endif /* WB_SNAP_H */
