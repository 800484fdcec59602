/*
 * snap_prune.c: which snapshots to keep (snap_prune) and how far back the
 * oplog is still needed (snap_min_pos).
 *
 * Callers: the engine's maintenance (after a snapshot, periodically) and
 * wbctl.
 *
 * Policy, per board, over its snapshots in key order (pos, then id): keep
 *   (a) the newest keep_last (at least 1),
 *   (b) every one created within keep_seconds before now,
 *   (c) for each of the last hourly_hours hours, the newest created in it,
 *   (d) the newest that passes every check (found by snap_get_latest in a
 *       read transaction BEFORE the write transaction, so the writer lock is
 *       not held across decompression),
 * and delete the rest in one write transaction per board. A snapshot whose
 * header does not parse has no known time: only (a) can keep it.
 */
#include "snap_internal.h"

#include <stdlib.h>
#include <string.h>

#include "snap_format.h"
#include "wb_error.h"

#define HOUR_US (3600ll * 1000000ll)

typedef struct prune_entry {
    uint64_t pos;
    uint64_t id;
    int64_t created_us;
    int header_ok;
    int keep;
} prune_entry;

typedef struct prune_set {
    prune_entry *v;
    size_t n, cap;
} prune_set;

static int set_push(prune_set *set, const prune_entry *e)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        prune_entry *v = realloc(set->v, cap * sizeof *v);
        if (!v)
            return WB_ENOMEM;
        set->v = v;
        set->cap = cap;
    }
    set->v[set->n++] = *e;
    return 0;
}

/* Reads the board's snapshots (ascending) into set. */
static int collect(snap_store *s, MDB_txn *txn, const char *board,
                   size_t blen, prune_set *set)
{
    MDB_cursor *c;
    int rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &c));
    if (rc != 0)
        return rc;
    uint8_t prefix[SNAP_KEY_MAX];
    memcpy(prefix, board, blen);
    prefix[blen] = 0;
    MDB_val k = {blen + 1, prefix}, d;
    int mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && mrc == 0 && snap_key_is_board(&k, board, blen)) {
        prune_entry e = {0};
        char b[SNAP_BOARD_ID_MAX + 1];
        snap_value_view v;
        if (snap_key_parse(&k, b, &e.pos, &e.id) == 0) {
            e.header_ok = snap_value_parse(d.mv_data, d.mv_size,
                                           s->opt.max_state, &v) == 0;
            e.created_us = e.header_ok ? v.created_us : INT64_MIN;
            rc = set_push(set, &e);
        }
        mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = snap_map_err(mrc);
    return rc;
}

static void mark_keep(prune_set *set, const snap_prune_policy *p,
                      uint64_t good_id)
{
    int64_t now = p->now_us ? p->now_us : snap_now_us();
    uint32_t last = p->keep_last ? p->keep_last : 1;
    int64_t hour_floor = now - (int64_t)p->hourly_hours * HOUR_US;
    int64_t prev_bucket = INT64_MIN;
    /* Newest first: the first seen in an hour bucket is its newest. */
    for (size_t i = set->n; i-- > 0;) {
        prune_entry *e = &set->v[i];
        if (set->n - i <= last || e->id == good_id)
            e->keep = 1;
        if (!e->header_ok)
            continue;
        if (p->keep_seconds > 0 &&
            e->created_us >= now - p->keep_seconds * 1000000)
            e->keep = 1;
        if (p->hourly_hours > 0 && e->created_us >= hour_floor &&
            e->created_us <= now) {
            int64_t bucket = e->created_us / HOUR_US;
            if (bucket != prev_bucket)
                e->keep = 1;
            prev_bucket = bucket;
        }
    }
}

static int delete_unkept(snap_store *s, MDB_txn *txn, const char *board,
                         size_t blen, const prune_set *set, uint32_t *n)
{
    for (size_t i = 0; i < set->n; i++) {
        const prune_entry *e = &set->v[i];
        if (e->keep)
            continue;
        uint8_t key[SNAP_KEY_MAX], idkey[8];
        MDB_val k = {snap_key_make(key, board, blen, e->pos, e->id), key};
        snap_be64(idkey, e->id);
        MDB_val ik = {8, idkey};
        int rc = snap_map_err(mdb_del(txn, s->db_snap, &k, NULL));
        if (rc == 0) {
            rc = snap_map_err(mdb_del(txn, s->db_id, &ik, NULL));
            if (rc == WB_ENOTFOUND)
                rc = 0; /* index entry already gone: nothing to undo */
        }
        if (rc != 0)
            return rc;
        (*n)++;
    }
    return 0;
}

static int prune_board(snap_store *s, const char *board,
                       const snap_prune_policy *p, uint32_t *deleted)
{
    int blen = snap_board_check(board);
    if (blen < 0)
        return blen;
    snap_loaded good;
    int rc = snap_get_latest(s, board, UINT64_MAX, INT64_MAX, &good);
    if (rc != 0 && rc != WB_ENOTFOUND)
        return rc;
    uint64_t good_id = rc == 0 ? good.info.id : 0;
    snap_loaded_free(&good);
    MDB_txn *txn;
    rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    prune_set set = {0};
    uint32_t n = 0;
    rc = collect(s, txn, board, (size_t)blen, &set);
    if (rc == 0) {
        mark_keep(&set, p, good_id);
        rc = delete_unkept(s, txn, board, (size_t)blen, &set, &n);
    }
    free(set.v);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = snap_txn_commit(txn);
    if (rc == 0) {
        *deleted += n;
        atomic_fetch_add(&s->pruned, n);
    }
    return rc;
}

/* Board ids collected in a read txn, pruned one by one after it ended. */
typedef struct board_list {
    char (*ids)[SNAP_BOARD_ID_MAX + 1];
    size_t n, cap;
} board_list;

static int boards_push(board_list *l, const char *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *v = realloc(l->ids, cap * sizeof *l->ids);
        if (!v)
            return WB_ENOMEM;
        l->ids = v;
        l->cap = cap;
    }
    memcpy(l->ids[l->n++], b, SNAP_BOARD_ID_MAX + 1);
    return 0;
}

/* Walks the distinct boards of the snap database: fn(board, first pos). */
typedef int (*board_visit_fn)(void *arg, const char *board, uint64_t pos);

static int visit_boards(snap_store *s, MDB_txn *txn, board_visit_fn fn,
                        void *arg)
{
    MDB_cursor *c;
    int rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &c));
    if (rc != 0)
        return rc;
    MDB_val k, d;
    int mrc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (rc == 0 && mrc == 0) {
        char b[SNAP_BOARD_ID_MAX + 1];
        uint64_t pos, id;
        rc = snap_key_parse(&k, b, &pos, &id);
        if (rc == 0)
            rc = fn(arg, b, pos);
        /* Skip the rest of this board: the largest possible key of it. */
        uint8_t key[SNAP_KEY_MAX];
        MDB_val sk = {snap_key_make(key, b, strlen(b), UINT64_MAX, UINT64_MAX),
                      key};
        if (rc == 0) {
            mrc = mdb_cursor_get(c, &sk, &d, MDB_SET_RANGE);
            if (mrc == 0 && snap_key_is_board(&sk, b, strlen(b)))
                mrc = mdb_cursor_get(c, &sk, &d, MDB_NEXT);
            k = sk;
        }
    }
    mdb_cursor_close(c);
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = snap_map_err(mrc);
    return rc;
}

static int collect_board(void *arg, const char *board, uint64_t pos)
{
    return boards_push(arg, board);
}

int snap_prune(snap_store *s, const char *board, const snap_prune_policy *p,
               uint32_t *deleted)
{
    snap_prune_policy def;
    if (!p) {
        snap_prune_policy_init(&def);
        p = &def;
    }
    uint32_t n = 0;
    int rc;
    if (board) {
        rc = prune_board(s, board, p, &n);
    } else {
        board_list l = {0};
        MDB_txn *txn;
        rc = snap_txn_read(s, &txn);
        if (rc == 0) {
            rc = visit_boards(s, txn, collect_board, &l);
            mdb_txn_abort(txn);
        }
        for (size_t i = 0; rc == 0 && i < l.n; i++)
            rc = prune_board(s, l.ids[i], p, &n);
        free(l.ids);
    }
    if (deleted)
        *deleted = n;
    return rc;
}

/* ---- snap_min_pos ----------------------------------------------------------- */

static int min_first_pos(void *arg, const char *board, uint64_t pos)
{
    uint64_t *min = arg;
    if (pos < *min)
        *min = pos;
    return 0;
}

/* *found = 1 if a live board (metadata, not deleted) has no snapshot. */
static int live_board_without_snapshot(snap_store *s, MDB_txn *txn, int *found)
{
    MDB_cursor *bc, *sc;
    int rc = snap_map_err(mdb_cursor_open(txn, s->db_board, &bc));
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &sc));
    if (rc != 0) {
        mdb_cursor_close(bc);
        return rc;
    }
    MDB_val k, d;
    int mrc = mdb_cursor_get(bc, &k, &d, MDB_FIRST);
    *found = 0;
    while (mrc == 0 && !*found) {
        snap_board_meta m;
        char id[SNAP_BOARD_ID_MAX + 1];
        size_t blen = k.mv_size <= SNAP_BOARD_ID_MAX ? k.mv_size : 0;
        memcpy(id, k.mv_data, blen);
        id[blen] = 0;
        int deleted = snap_board_decode(&d, &m) == 0 && m.deleted;
        uint8_t prefix[SNAP_KEY_MAX];
        memcpy(prefix, id, blen);
        prefix[blen] = 0;
        MDB_val sk = {blen + 1, prefix}, sd;
        int src = mdb_cursor_get(sc, &sk, &sd, MDB_SET_RANGE);
        int has = src == 0 && snap_key_is_board(&sk, id, blen);
        if (!deleted && !has && blen > 0)
            *found = 1;
        mrc = mdb_cursor_get(bc, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(sc);
    mdb_cursor_close(bc);
    return (mrc == 0 || mrc == MDB_NOTFOUND) ? 0 : snap_map_err(mrc);
}

int snap_min_pos(snap_store *s, uint64_t *pos)
{
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    uint64_t min = UINT64_MAX;
    int orphan = 0;
    rc = visit_boards(s, txn, min_first_pos, &min);
    if (rc == 0)
        rc = live_board_without_snapshot(s, txn, &orphan);
    mdb_txn_abort(txn);
    if (rc != 0)
        return rc;
    *pos = (orphan || min == UINT64_MAX) ? 0 : min;
    return 0;
}
