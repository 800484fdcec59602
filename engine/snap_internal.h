/*
 * snap_internal.h: what the snapshot store's files share; not for use
 * outside engine/snap*.c (and their tests).
 *
 *   snap_format.h/snap_codec.c  the snapshot value: layout, encode, parse,
 *                               bounded decompression
 *   snap_store.c                the LMDB environment: open/close, named
 *                               databases, transactions, error mapping, keys
 *   snap.c                      snapshots: put, get (with corrupt fallback),
 *                               list, delete
 *   snap_prune.c                pruning policy and snap_min_pos
 *   snap_meta.c                 board metadata, node records, cursors, kv
 */
#ifndef WB_SNAP_INTERNAL_H
#define WB_SNAP_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "snap.h"

/* Keys of the "snap" database: board, 0x00, BE64 pos, BE64 id. */
#define SNAP_KEY_MAX (SNAP_BOARD_ID_MAX + 17u)

/* Keys of the "node" database. */
#define SNAP_NODE_KEY_NEXT_ID "store/next_snap_id"
#define SNAP_NODE_KEY_VERSION "store/version"
#define SNAP_NODE_KEY_NODE_ID "node/id"
#define SNAP_NODE_KEY_APPLIED "node/applied_pos"
#define SNAP_NODE_PREFIX_CURSOR "cursor/"
#define SNAP_NODE_PREFIX_KV "kv/"
#define SNAP_STORE_VERSION 1u

struct snap_store {
    MDB_env *env;
    MDB_dbi db_snap;  /* snapshot key -> value */
    MDB_dbi db_id;    /* BE64 id -> snapshot key */
    MDB_dbi db_board; /* board id -> metadata record */
    MDB_dbi db_node;  /* node records */
    snap_options opt; /* immutable after open */
    /* Statistics, any thread. */
    atomic_uint_fast64_t puts;
    atomic_uint_fast64_t loads;
    atomic_uint_fast64_t corrupt_skipped;
    atomic_uint_fast64_t pruned;
};

/* Maps an LMDB return code (MDB_* or a positive errno) to wb_error.h; the
 * table is in snap.h's header comment. */
int snap_map_err(int mdb_rc);

/* Begins a read-only or a write transaction (write on a read-only store:
 * -EACCES). *txn is set only on success. */
int snap_txn_read(snap_store *s, MDB_txn **txn);
int snap_txn_write(snap_store *s, MDB_txn **txn);

/* Commits (the txn is freed either way); returns the mapped error. */
int snap_txn_commit(MDB_txn *txn);

/* Checks a board id (1..64 bytes, NUL-terminated); returns its length or
 * WB_EINVAL. */
int snap_board_check(const char *board);

/* Builds a snapshot key into out (SNAP_KEY_MAX bytes); returns its length. */
size_t snap_key_make(uint8_t *out, const char *board, size_t blen,
                     uint64_t pos, uint64_t id);

/* Splits a snapshot key; board receives the NUL-terminated id. Returns 0 or
 * WB_ECORRUPT for a key that is not of the form above. */
int snap_key_parse(const MDB_val *key, char *board, uint64_t *pos,
                   uint64_t *id);

/* 1 if key belongs to board (blen bytes), else 0. */
int snap_key_is_board(const MDB_val *key, const char *board, size_t blen);

void snap_be64(uint8_t *p, uint64_t v);
uint64_t snap_get_be64(const uint8_t *p);

/* Node-db u64 records (8 bytes LE) within a transaction. */
int snap_node_get_u64(snap_store *s, MDB_txn *txn, const char *key,
                      uint64_t *v);
int snap_node_put_u64(snap_store *s, MDB_txn *txn, const char *key,
                      uint64_t v);

/* Decodes a board metadata record (snap_meta.c); m->board is left as is.
 * Returns 0, WB_EBADVERSION or WB_ECORRUPT. */
int snap_board_decode(const MDB_val *d, snap_board_meta *m);

/* Wall clock, unix microseconds. */
int64_t snap_now_us(void);

#endif /* WB_SNAP_INTERNAL_H */
