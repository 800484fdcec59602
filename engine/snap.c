/*
 * snap.c: snapshots in the store: put, get (newest valid at or before a
 * position and time, skipping corrupt ones), get by id, list, delete.
 *
 * Callers: the engine (snapshot thread: snap_put; board loads and
 * point-in-time restore: snap_get_latest), wbctl (list, get by id, delete).
 *
 * Invariants:
 *   - snap_put compresses before it opens the write transaction; the txn
 *     only assigns the id (from "store/next_snap_id", so ids never repeat
 *     even after deletes), patches it into the value, and writes the value
 *     and its id index entry. Either both entries and the counter commit, or
 *     nothing does.
 *   - A get returns state only after every check of the value format passed
 *     AND the header agrees with its key (board, pos, id); otherwise the
 *     snapshot counts as corrupt.
 *   - Returned memory is malloc'd and owned by the caller; nothing returned
 *     points into the LMDB map (those pointers die with the read txn).
 */
#include "snap_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snap_format.h"
#include "wb_error.h"

void snap_prune_policy_init(snap_prune_policy *p)
{
    memset(p, 0, sizeof *p);
    p->keep_last = 3;
}

void snap_loaded_free(snap_loaded *l)
{
    if (!l)
        return;
    free(l->state);
    free(l->vv);
    memset(l, 0, sizeof *l);
}

/* ---- put --------------------------------------------------------------- */

static int put_value(snap_store *s, const char *board, size_t blen,
                     uint8_t *value, size_t vlen, uint64_t pos, uint64_t *id)
{
    MDB_txn *txn;
    int rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    uint64_t next = 1;
    rc = snap_node_get_u64(s, txn, SNAP_NODE_KEY_NEXT_ID, &next);
    if (rc == WB_ENOTFOUND)
        rc = 0;
    uint8_t key[SNAP_KEY_MAX], idkey[8];
    snap_value_set_id(value, next);
    MDB_val k = {snap_key_make(key, board, blen, pos, next), key};
    MDB_val d = {vlen, value};
    snap_be64(idkey, next);
    MDB_val ik = {8, idkey};
    if (rc == 0)
        rc = snap_map_err(mdb_put(txn, s->db_snap, &k, &d, MDB_NOOVERWRITE));
    if (rc == 0)
        rc = snap_map_err(mdb_put(txn, s->db_id, &ik, &k, MDB_NOOVERWRITE));
    if (rc == 0)
        rc = snap_node_put_u64(s, txn, SNAP_NODE_KEY_NEXT_ID, next + 1);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = snap_txn_commit(txn);
    if (rc == 0)
        *id = next;
    return rc;
}

int snap_put(snap_store *s, const char *board, const void *state, size_t len,
             uint64_t pos, const void *vv, size_t vv_len, uint32_t elements,
             int64_t created_us, uint64_t *snap_id)
{
    int blen = snap_board_check(board);
    if (blen < 0)
        return blen;
    if (s->opt.read_only)
        return -EACCES;
    if (len > s->opt.max_state || vv_len > SNAP_VV_MAX)
        return WB_ETOOBIG;
    if ((len && !state) || (vv_len && !vv))
        return WB_EINVAL;
    snap_value_fields f = {
        .id = 0,
        .pos = pos,
        .created_us = created_us ? created_us : snap_now_us(),
        .elements = elements,
        .board = board,
    };
    uint8_t *value;
    size_t vlen;
    int rc = snap_value_encode(&f, state, len, vv, vv_len, s->opt.zstd_level,
                               &value, &vlen);
    if (rc != 0)
        return rc;
    uint64_t id = 0;
    rc = put_value(s, board, (size_t)blen, value, vlen, pos, &id);
    free(value);
    if (rc == 0) {
        atomic_fetch_add(&s->puts, 1);
        if (snap_id)
            *snap_id = id;
    }
    return rc;
}

/* ---- reading one value ------------------------------------------------- */

static void info_from_view(snap_info *info, const snap_value_view *v)
{
    info->created_us = v->created_us;
    info->elements = v->elements;
    info->vv_len = v->vv_len;
    info->raw_size = v->raw_size;
    info->stored_size = v->stored_size;
    info->value_size = v->value_len;
    info->checksum = v->state_hash;
}

/* Parses a value and checks that its header agrees with its key; fills the
 * key fields of info always and the header fields when the parse held. */
static int parse_entry(snap_store *s, const MDB_val *k, const MDB_val *d,
                       snap_value_view *v, snap_info *info)
{
    memset(info, 0, sizeof *info);
    int rc = snap_key_parse(k, info->board, &info->pos, &info->id);
    if (rc != 0)
        return rc;
    rc = snap_value_parse(d->mv_data, d->mv_size, s->opt.max_state, v);
    if (rc != 0)
        return rc;
    info_from_view(info, v);
    if (v->id != info->id || v->pos != info->pos ||
        v->board_len != strlen(info->board) ||
        memcmp(v->board, info->board, v->board_len) != 0)
        return WB_ECORRUPT;
    return 0;
}

/* Decodes the body of a parsed entry into out (state and vv copied). */
static int load_entry(const snap_value_view *v, const snap_info *info,
                      snap_loaded *out)
{
    uint8_t *state;
    int rc = snap_value_decode_state(v, &state);
    if (rc != 0)
        return rc;
    uint8_t *vv = NULL;
    if (v->vv_len) {
        vv = malloc(v->vv_len);
        if (!vv) {
            free(state);
            return WB_ENOMEM;
        }
        memcpy(vv, v->vv, v->vv_len);
    }
    out->info = *info;
    out->state = state;
    out->state_len = (size_t)v->raw_size;
    out->vv = vv;
    out->vv_len = v->vv_len;
    return 0;
}

/* ---- get latest ---------------------------------------------------------- */

static void note_skipped(snap_store *s, snap_loaded *out, uint64_t id, int rc)
{
    if (out->skipped < SNAP_SKIPPED_MAX) {
        out->skipped_ids[out->skipped] = id;
        out->skipped_codes[out->skipped] = rc;
    }
    out->skipped++;
    atomic_fetch_add(&s->corrupt_skipped, 1);
}

/* Positions c on the newest key of board with pos <= max_pos. Returns 0
 * (positioned, k and d filled) or WB_ENOTFOUND. */
static int seek_newest(MDB_cursor *c, const char *board, size_t blen,
                       uint64_t max_pos, MDB_val *k, MDB_val *d)
{
    uint8_t key[SNAP_KEY_MAX];
    k->mv_size = snap_key_make(key, board, blen, max_pos, UINT64_MAX);
    k->mv_data = key;
    int rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
    if (rc == 0 && k->mv_size == blen + 17 &&
        memcmp(k->mv_data, key, k->mv_size) == 0)
        return 0; /* exact hit: pos == max_pos, id == UINT64_MAX */
    rc = mdb_cursor_get(c, k, d, rc == 0 ? MDB_PREV : MDB_LAST);
    if (rc != 0)
        return snap_map_err(rc);
    return snap_key_is_board(k, board, blen) ? 0 : WB_ENOTFOUND;
}

/* Walks back from the newest candidate until one loads. */
static int scan_latest(snap_store *s, MDB_cursor *c, const char *board,
                       size_t blen, uint64_t max_pos, int64_t max_time,
                       snap_loaded *out)
{
    MDB_val k, d;
    int rc = seek_newest(c, board, blen, max_pos, &k, &d);
    while (rc == 0) {
        snap_value_view v;
        snap_info info;
        int bad = parse_entry(s, &k, &d, &v, &info);
        if (bad == 0 && v.created_us > max_time)
            bad = 1; /* too new: not a candidate, not corrupt */
        else if (bad == 0)
            bad = load_entry(&v, &info, out);
        if (bad == 0)
            return 0;
        if (bad == WB_ENOMEM)
            return bad;
        if (bad < 0)
            note_skipped(s, out, info.id, bad);
        rc = snap_map_err(mdb_cursor_get(c, &k, &d, MDB_PREV));
        if (rc == 0 && !snap_key_is_board(&k, board, blen))
            rc = WB_ENOTFOUND;
    }
    return rc;
}

int snap_get_latest(snap_store *s, const char *board, uint64_t max_pos,
                    int64_t max_time_us, snap_loaded *out)
{
    memset(out, 0, sizeof *out);
    int blen = snap_board_check(board);
    if (blen < 0)
        return blen;
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &c));
    if (rc == 0) {
        rc = scan_latest(s, c, board, (size_t)blen, max_pos, max_time_us,
                         out);
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    if (rc == 0)
        atomic_fetch_add(&s->loads, 1);
    return rc;
}

int snap_latest_info(snap_store *s, const char *board, uint64_t max_pos,
                     snap_info *out)
{
    int blen = snap_board_check(board);
    if (blen < 0)
        return blen;
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &c));
    if (rc == 0) {
        MDB_val k, d;
        rc = seek_newest(c, board, (size_t)blen, max_pos, &k, &d);
        snap_value_view v;
        while (rc == 0 && parse_entry(s, &k, &d, &v, out) != 0) {
            rc = snap_map_err(mdb_cursor_get(c, &k, &d, MDB_PREV));
            if (rc == 0 && !snap_key_is_board(&k, board, (size_t)blen))
                rc = WB_ENOTFOUND;
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- by id, list, delete --------------------------------------------------- */

int snap_get_by_id(snap_store *s, uint64_t id, snap_loaded *out)
{
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    uint8_t idkey[8];
    snap_be64(idkey, id);
    MDB_val ik = {8, idkey}, k, d;
    rc = snap_map_err(mdb_get(txn, s->db_id, &ik, &k));
    if (rc == 0)
        rc = snap_map_err(mdb_get(txn, s->db_snap, &k, &d));
    snap_value_view v;
    snap_info info;
    if (rc == 0)
        rc = parse_entry(s, &k, &d, &v, &info);
    if (rc == 0 && info.id != id)
        rc = WB_ECORRUPT;
    if (rc == 0)
        rc = load_entry(&v, &info, out);
    mdb_txn_abort(txn);
    if (rc == 0)
        atomic_fetch_add(&s->loads, 1);
    return rc;
}

static int list_cursor(snap_store *s, MDB_cursor *c, const char *board,
                       int blen, snap_list_fn cb, void *arg)
{
    MDB_val k, d;
    uint8_t prefix[SNAP_KEY_MAX];
    int rc;
    if (board) {
        memcpy(prefix, board, (size_t)blen);
        prefix[blen] = 0;
        k.mv_size = (size_t)blen + 1;
        k.mv_data = prefix;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    }
    while (rc == 0) {
        if (board && !snap_key_is_board(&k, board, (size_t)blen))
            return 0;
        snap_value_view v;
        snap_info info;
        info.status = parse_entry(s, &k, &d, &v, &info);
        int stop = cb(arg, &info);
        if (stop != 0)
            return stop;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : snap_map_err(rc);
}

int snap_list(snap_store *s, const char *board, snap_list_fn cb, void *arg)
{
    int blen = 0;
    if (board && (blen = snap_board_check(board)) < 0)
        return blen;
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    rc = snap_map_err(mdb_cursor_open(txn, s->db_snap, &c));
    if (rc == 0) {
        rc = list_cursor(s, c, board, blen, cb, arg);
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

int snap_delete(snap_store *s, uint64_t id)
{
    MDB_txn *txn;
    int rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    uint8_t idkey[8];
    snap_be64(idkey, id);
    MDB_val ik = {8, idkey}, k;
    rc = snap_map_err(mdb_get(txn, s->db_id, &ik, &k));
    if (rc == 0) {
        /* k points into the map; copy it before the map changes. */
        uint8_t key[SNAP_KEY_MAX];
        if (k.mv_size > SNAP_KEY_MAX)
            rc = WB_ECORRUPT;
        else
            memcpy(key, k.mv_data, k.mv_size);
        MDB_val kk = {k.mv_size, key};
        if (rc == 0)
            rc = snap_map_err(mdb_del(txn, s->db_snap, &kk, NULL));
        if (rc == 0)
            rc = snap_map_err(mdb_del(txn, s->db_id, &ik, NULL));
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}
