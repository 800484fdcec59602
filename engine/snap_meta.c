/*
 * snap_meta.c: board metadata and node-level records in the snapshot store.
 *
 * Callers: the engine (board create/rename/delete, applied position at
 * snapshot and shutdown), replication and mirror threads (their cursors),
 * the REST API through the engine (board listing), wbctl.
 *
 * Board record ("board" database, key = board id), versioned and made of
 * length-prefixed tagged fields so that later versions can add fields that
 * older readers skip:
 *
 *   u8  version = 1
 *   repeated: u16 tag, u32 len, len bytes      (little-endian)
 *     tag 1 title      UTF-8 bytes (<= 256)
 *     tag 2 owner      user id bytes (<= 128)
 *     tag 3 created    i64 unix microseconds (len 8)
 *     tag 4 updated    i64 unix microseconds (len 8)
 *     tag 5 deleted    u8 0/1 (len 1)
 *     tag 6 settings   opaque bytes (<= 4096)
 *     other tags       skipped (forward compatibility)
 *
 * A field that overruns the record, a known tag with a bad length, or a
 * version other than 1 make the record unreadable (WB_ECORRUPT /
 * WB_EBADVERSION); the reader never reads past the record.
 *
 * Node records ("node" database): fixed keys of snap_internal.h for the
 * node id and the applied position (u64 LE), "cursor/<name>" for u64
 * cursors and "kv/<key>" for blobs.
 */
#include "snap_internal.h"

#include <stdlib.h>
#include <string.h>

#include "wb_error.h"

#define BOARD_REC_VERSION 1u
enum {
    TAG_TITLE = 1,
    TAG_OWNER = 2,
    TAG_CREATED = 3,
    TAG_UPDATED = 4,
    TAG_DELETED = 5,
    TAG_SETTINGS = 6,
};
#define FIELD_HDR 6u
#define BOARD_REC_MAX                                                       \
    (1 + 6 * FIELD_HDR + SNAP_TITLE_MAX + SNAP_USER_MAX + 8 + 8 + 1 +      \
     SNAP_SETTINGS_MAX)

/* ---- board record codec ---------------------------------------------- */

static size_t put_field(uint8_t *p, uint16_t tag, const void *v, uint32_t n)
{
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    for (int i = 0; i < 4; i++)
        p[2 + i] = (uint8_t)(n >> (8 * i));
    if (n)
        memcpy(p + FIELD_HDR, v, n);
    return FIELD_HDR + n;
}

static size_t put_i64_field(uint8_t *p, uint16_t tag, int64_t x)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)x >> (8 * i));
    return put_field(p, tag, b, 8);
}

static int64_t get_i64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

static size_t board_encode(const snap_board_meta *m, uint8_t *out)
{
    size_t n = 0;
    uint8_t del = m->deleted ? 1 : 0;
    out[n++] = BOARD_REC_VERSION;
    n += put_field(out + n, TAG_TITLE, m->title, (uint32_t)strlen(m->title));
    n += put_field(out + n, TAG_OWNER, m->owner, (uint32_t)strlen(m->owner));
    n += put_i64_field(out + n, TAG_CREATED, m->created_us);
    n += put_i64_field(out + n, TAG_UPDATED, m->updated_us);
    n += put_field(out + n, TAG_DELETED, &del, 1);
    n += put_field(out + n, TAG_SETTINGS, m->settings, m->settings_len);
    return n;
}

/* Copies a string field into dst (cap bytes including the NUL). */
static int take_string(char *dst, size_t cap, const uint8_t *v, uint32_t n)
{
    if (n >= cap || memchr(v, 0, n) != NULL)
        return WB_ECORRUPT;
    memcpy(dst, v, n);
    dst[n] = 0;
    return 0;
}

static int take_field(snap_board_meta *m, uint16_t tag, const uint8_t *v,
                      uint32_t n)
{
    switch (tag) {
    case TAG_TITLE:
        return take_string(m->title, sizeof m->title, v, n);
    case TAG_OWNER:
        return take_string(m->owner, sizeof m->owner, v, n);
    case TAG_CREATED:
    case TAG_UPDATED:
        if (n != 8)
            return WB_ECORRUPT;
        *(tag == TAG_CREATED ? &m->created_us : &m->updated_us) = get_i64(v);
        return 0;
    case TAG_DELETED:
        if (n != 1 || v[0] > 1)
            return WB_ECORRUPT;
        m->deleted = v[0];
        return 0;
    case TAG_SETTINGS:
        if (n > SNAP_SETTINGS_MAX)
            return WB_ECORRUPT;
        memcpy(m->settings, v, n);
        m->settings_len = n;
        return 0;
    default:
        return 0; /* a later version's field: skip */
    }
}

int snap_board_decode(const MDB_val *d, snap_board_meta *m)
{
    const uint8_t *p = d->mv_data;
    size_t len = d->mv_size, off = 1;
    char board[SNAP_BOARD_ID_MAX + 1];
    memcpy(board, m->board, sizeof board);
    memset(m, 0, sizeof *m);
    memcpy(m->board, board, sizeof board);
    if (len < 1)
        return WB_ECORRUPT;
    if (p[0] != BOARD_REC_VERSION)
        return WB_EBADVERSION;
    while (off < len) {
        if (len - off < FIELD_HDR)
            return WB_ECORRUPT;
        uint16_t tag = (uint16_t)(p[off] | (p[off + 1] << 8));
        uint32_t n = (uint32_t)p[off + 2] | (uint32_t)p[off + 3] << 8 |
                     (uint32_t)p[off + 4] << 16 | (uint32_t)p[off + 5] << 24;
        off += FIELD_HDR;
        if (len - off < n)
            return WB_ECORRUPT;
        int rc = take_field(m, tag, p + off, n);
        if (rc != 0)
            return rc;
        off += n;
    }
    return 0;
}

/* ---- board API ----------------------------------------------------------- */

static int board_key(const char *board, MDB_val *k)
{
    int blen = snap_board_check(board);
    if (blen < 0)
        return blen;
    k->mv_size = (size_t)blen;
    k->mv_data = (void *)board;
    return 0;
}

int snap_board_put(snap_store *s, const snap_board_meta *m)
{
    MDB_val k;
    int rc = board_key(m->board, &k);
    if (rc != 0)
        return rc;
    if (strnlen(m->title, sizeof m->title) > SNAP_TITLE_MAX ||
        strnlen(m->owner, sizeof m->owner) > SNAP_USER_MAX ||
        m->settings_len > SNAP_SETTINGS_MAX)
        return WB_ETOOBIG;
    uint8_t *buf = malloc(BOARD_REC_MAX);
    if (!buf)
        return WB_ENOMEM;
    MDB_val d = {board_encode(m, buf), buf};
    MDB_txn *txn;
    rc = snap_txn_write(s, &txn);
    if (rc == 0) {
        rc = snap_map_err(mdb_put(txn, s->db_board, &k, &d, 0));
        if (rc == 0)
            rc = snap_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    free(buf);
    return rc;
}

int snap_board_get(snap_store *s, const char *board, snap_board_meta *out)
{
    MDB_val k, d;
    int rc = board_key(board, &k);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_get(txn, s->db_board, &k, &d));
    if (rc == 0) {
        memcpy(out->board, board, k.mv_size);
        out->board[k.mv_size] = 0;
        rc = snap_board_decode(&d, out);
    }
    mdb_txn_abort(txn);
    return rc;
}

int snap_board_delete(snap_store *s, const char *board)
{
    MDB_val k;
    int rc = board_key(board, &k);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_del(txn, s->db_board, &k, NULL));
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}

/* Positions c on the first board strictly after `after`. */
static int seek_after(MDB_cursor *c, const char *after, MDB_val *k,
                      MDB_val *d)
{
    if (!after || !*after)
        return mdb_cursor_get(c, k, d, MDB_FIRST);
    k->mv_size = strnlen(after, SNAP_BOARD_ID_MAX);
    k->mv_data = (void *)after;
    size_t alen = k->mv_size;
    int rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
    if (rc == 0 && k->mv_size == alen && memcmp(k->mv_data, after, alen) == 0)
        rc = mdb_cursor_get(c, k, d, MDB_NEXT);
    return rc;
}

static int list_boards(snap_store *s, MDB_txn *txn, const char *after,
                       uint32_t limit, snap_board_fn cb, void *arg)
{
    MDB_cursor *c;
    int rc = snap_map_err(mdb_cursor_open(txn, s->db_board, &c));
    if (rc != 0)
        return rc;
    snap_board_meta *m = malloc(sizeof *m);
    if (!m) {
        mdb_cursor_close(c);
        return WB_ENOMEM;
    }
    MDB_val k, d;
    int mrc = seek_after(c, after, &k, &d);
    int count = 0;
    while (mrc == 0 && (limit == 0 || (uint32_t)count < limit)) {
        size_t blen = k.mv_size <= SNAP_BOARD_ID_MAX ? k.mv_size : 0;
        memcpy(m->board, k.mv_data, blen);
        m->board[blen] = 0;
        rc = snap_board_decode(&d, m);
        if (rc == 0)
            rc = cb(arg, m);
        if (rc != 0)
            break;
        count++;
        mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    free(m);
    mdb_cursor_close(c);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = snap_map_err(mrc);
    return rc != 0 ? rc : count;
}

int snap_board_list(snap_store *s, const char *after, uint32_t limit,
                    snap_board_fn cb, void *arg)
{
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    rc = list_boards(s, txn, after, limit, cb, arg);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- node records ------------------------------------------------------- */

static int node_get(snap_store *s, const char *key, uint64_t *v)
{
    MDB_txn *txn;
    int rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    rc = snap_node_get_u64(s, txn, key, v);
    mdb_txn_abort(txn);
    return rc;
}

static int node_set(snap_store *s, const char *key, uint64_t v)
{
    MDB_txn *txn;
    int rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    rc = snap_node_put_u64(s, txn, key, v);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}

int snap_node_id_get(snap_store *s, uint64_t *id)
{
    return node_get(s, SNAP_NODE_KEY_NODE_ID, id);
}

int snap_node_id_set(snap_store *s, uint64_t id)
{
    return node_set(s, SNAP_NODE_KEY_NODE_ID, id);
}

int snap_applied_pos_get(snap_store *s, uint64_t *pos)
{
    return node_get(s, SNAP_NODE_KEY_APPLIED, pos);
}

int snap_applied_pos_set(snap_store *s, uint64_t pos)
{
    return node_set(s, SNAP_NODE_KEY_APPLIED, pos);
}

/* Builds prefix + name into out (SNAP_NAME_MAX + 8 bytes). */
static int named_key(char *out, const char *prefix, const char *name)
{
    size_t n = name ? strnlen(name, SNAP_NAME_MAX + 1) : 0;
    if (n == 0 || n > SNAP_NAME_MAX)
        return WB_EINVAL;
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    memcpy(out + p, name, n + 1);
    return 0;
}

int snap_cursor_get(snap_store *s, const char *name, uint64_t *value)
{
    char key[SNAP_NAME_MAX + 8];
    int rc = named_key(key, SNAP_NODE_PREFIX_CURSOR, name);
    return rc != 0 ? rc : node_get(s, key, value);
}

int snap_cursor_set(snap_store *s, const char *name, uint64_t value)
{
    char key[SNAP_NAME_MAX + 8];
    int rc = named_key(key, SNAP_NODE_PREFIX_CURSOR, name);
    return rc != 0 ? rc : node_set(s, key, value);
}

int snap_kv_put(snap_store *s, const char *key, const void *val, size_t len)
{
    char kb[SNAP_NAME_MAX + 8];
    int rc = named_key(kb, SNAP_NODE_PREFIX_KV, key);
    if (rc != 0)
        return rc;
    if (len > SNAP_BLOB_MAX)
        return WB_ETOOBIG;
    if (len && !val)
        return WB_EINVAL;
    MDB_val k = {strlen(kb), kb}, d = {len, (void *)(len ? val : "")};
    MDB_txn *txn;
    rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_put(txn, s->db_node, &k, &d, 0));
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}

int snap_kv_get(snap_store *s, const char *key, void *buf, size_t cap,
                size_t *len)
{
    char kb[SNAP_NAME_MAX + 8];
    int rc = named_key(kb, SNAP_NODE_PREFIX_KV, key);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = snap_txn_read(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {strlen(kb), kb}, d;
    rc = snap_map_err(mdb_get(txn, s->db_node, &k, &d));
    if (rc == 0) {
        *len = d.mv_size;
        if (d.mv_size > cap)
            rc = WB_ETOOBIG;
        else if (d.mv_size)
            memcpy(buf, d.mv_data, d.mv_size);
    }
    mdb_txn_abort(txn);
    return rc;
}

int snap_kv_delete(snap_store *s, const char *key)
{
    char kb[SNAP_NAME_MAX + 8];
    int rc = named_key(kb, SNAP_NODE_PREFIX_KV, key);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = snap_txn_write(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {strlen(kb), kb};
    rc = snap_map_err(mdb_del(txn, s->db_node, &k, NULL));
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}
