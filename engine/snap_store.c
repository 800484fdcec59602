/*
 * snap_store.c: the snapshot store's LMDB environment (see snap.h for what
 * the store holds and its thread rules; snap_internal.h for the file map).
 *
 * Opens one environment per directory with MDB_NOTLS (a read transaction is
 * tied to its MDB_txn, not to the thread, so any thread may read while a
 * snapshot thread writes) and up to 4 named databases, created by a writer
 * open and merely opened by a read-only one. Also the helpers every snap
 * file uses: error mapping, transaction begin/commit, keys.
 *
 * I/O. LMDB does its own file I/O (mmap, pwrite, fdatasync), so the store
 * cannot sit on the wb_io table the oplog uses for fault injection; its
 * failure paths are tested instead with a map too small for a write
 * (WB_EFULL, the txn aborted and nothing left of it) and by SIGKILLing a
 * writer mid-commit (tests/test_snap_crash.c). LMDB's own guarantees do the
 * rest: a commit is atomic, and a torn commit leaves the previous one.
 *
 * Invariants:
 *   - DBI handles are opened once at open, in a transaction that commits,
 *     and are then read-only for the life of the store (LMDB's rule).
 *   - Stale reader slots of crashed processes are cleared at open
 *     (mdb_reader_check), so a SIGKILLed node cannot pin old pages.
 *   - "store/version" in the node database is SNAP_STORE_VERSION; any other
 *     value refuses the open with WB_EBADVERSION.
 */
#include "snap_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "wb_error.h"

void snap_options_init(snap_options *o)
{
    memset(o, 0, sizeof *o);
    o->map_size = SNAP_DEFAULT_MAP_SIZE;
    o->max_state = SNAP_DEFAULT_MAX_STATE;
    o->zstd_level = SNAP_DEFAULT_ZSTD_LEVEL;
}

int snap_map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return WB_ENOTFOUND;
    case MDB_MAP_FULL:
    case ENOSPC:
        return WB_EFULL;
    case MDB_TXN_FULL:
        return WB_ETOOBIG;
    case MDB_KEYEXIST:
        return WB_EEXIST;
    case MDB_READERS_FULL:
        return WB_EBUSY;
    case MDB_INVALID:
        return WB_EBADMAGIC;
    case MDB_VERSION_MISMATCH:
        return WB_EBADVERSION;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return WB_ECORRUPT;
    default:
        if (rc > 0 && rc < 4096)
            return -rc; /* a system errno */
        return WB_EIO;
    }
}

int snap_txn_read(snap_store *s, MDB_txn **txn)
{
    return snap_map_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn));
}

int snap_txn_write(snap_store *s, MDB_txn **txn)
{
    if (s->opt.read_only)
        return -EACCES;
    return snap_map_err(mdb_txn_begin(s->env, NULL, 0, txn));
}

int snap_txn_commit(MDB_txn *txn)
{
    return snap_map_err(mdb_txn_commit(txn));
}

int64_t snap_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int snap_board_check(const char *board)
{
    if (!board)
        return WB_EINVAL;
    size_t n = strnlen(board, SNAP_BOARD_ID_MAX + 1);
    if (n == 0 || n > SNAP_BOARD_ID_MAX)
        return WB_EINVAL;
    return (int)n;
}

void snap_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t snap_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t snap_key_make(uint8_t *out, const char *board, size_t blen,
                     uint64_t pos, uint64_t id)
{
    memcpy(out, board, blen);
    out[blen] = 0;
    snap_be64(out + blen + 1, pos);
    snap_be64(out + blen + 9, id);
    return blen + 17;
}

int snap_key_parse(const MDB_val *key, char *board, uint64_t *pos,
                   uint64_t *id)
{
    const uint8_t *k = key->mv_data;
    if (key->mv_size < 18 || key->mv_size > SNAP_KEY_MAX)
        return WB_ECORRUPT;
    size_t blen = key->mv_size - 17;
    if (k[blen] != 0 || memchr(k, 0, blen) != NULL)
        return WB_ECORRUPT;
    memcpy(board, k, blen);
    board[blen] = 0;
    *pos = snap_get_be64(k + blen + 1);
    *id = snap_get_be64(k + blen + 9);
    return 0;
}

int snap_key_is_board(const MDB_val *key, const char *board, size_t blen)
{
    const uint8_t *k = key->mv_data;
    return key->mv_size == blen + 17 && memcmp(k, board, blen) == 0 &&
           k[blen] == 0;
}

int snap_node_get_u64(snap_store *s, MDB_txn *txn, const char *key,
                      uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = snap_map_err(mdb_get(txn, s->db_node, &k, &d));
    if (rc != 0)
        return rc;
    if (d.mv_size != 8)
        return WB_ECORRUPT;
    const uint8_t *p = d.mv_data;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    *v = x;
    return 0;
}

int snap_node_put_u64(snap_store *s, MDB_txn *txn, const char *key,
                      uint64_t v)
{
    uint8_t buf[8];
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(v >> (8 * i));
    MDB_val k = {strlen(key), (void *)key}, d = {8, buf};
    return snap_map_err(mdb_put(txn, s->db_node, &k, &d, 0));
}

/* Opens (or with a writer, creates) the four databases and checks the
 * store version, in one transaction. */
static int open_dbis(snap_store *s)
{
    unsigned flags = s->opt.read_only ? 0 : MDB_CREATE;
    MDB_txn *txn;
    int rc = snap_map_err(mdb_txn_begin(s->env, NULL,
                                        s->opt.read_only ? MDB_RDONLY : 0,
                                        &txn));
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_dbi_open(txn, "snap", flags, &s->db_snap));
    if (rc == 0)
        rc = snap_map_err(mdb_dbi_open(txn, "snap_id", flags, &s->db_id));
    if (rc == 0)
        rc = snap_map_err(mdb_dbi_open(txn, "board", flags, &s->db_board));
    if (rc == 0)
        rc = snap_map_err(mdb_dbi_open(txn, "node", flags, &s->db_node));
    uint64_t version = 0;
    if (rc == 0) {
        rc = snap_node_get_u64(s, txn, SNAP_NODE_KEY_VERSION, &version);
        if (rc == WB_ENOTFOUND && !s->opt.read_only) {
            version = SNAP_STORE_VERSION;
            rc = snap_node_put_u64(s, txn, SNAP_NODE_KEY_VERSION, version);
        }
        if (rc == 0 && version != SNAP_STORE_VERSION)
            rc = WB_EBADVERSION;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return snap_txn_commit(txn);
}

static int open_env(snap_store *s, const char *dir)
{
    int rc = snap_map_err(mdb_env_create(&s->env));
    if (rc != 0)
        return rc;
    rc = snap_map_err(mdb_env_set_maxdbs(s->env, 8));
    if (rc == 0)
        rc = snap_map_err(mdb_env_set_mapsize(s->env, s->opt.map_size));
    if (rc == 0)
        rc = snap_map_err(mdb_env_set_maxreaders(s->env, 256));
    unsigned flags = MDB_NOTLS;
    if (s->opt.read_only)
        flags |= MDB_RDONLY;
    if (s->opt.no_sync)
        flags |= MDB_NOSYNC;
    if (rc == 0)
        rc = snap_map_err(mdb_env_open(s->env, dir, flags, 0644));
    if (rc == -ENOENT && s->opt.read_only)
        rc = WB_ENOTFOUND;
    if (rc == 0) {
        int dead = 0;
        rc = snap_map_err(mdb_reader_check(s->env, &dead));
    }
    return rc;
}

int snap_store_open(const char *dir, const snap_options *o, snap_store **out)
{
    if (!dir || !*dir || !out)
        return WB_EINVAL;
    snap_store *s = calloc(1, sizeof *s);
    if (!s)
        return WB_ENOMEM;
    if (o)
        s->opt = *o;
    else
        snap_options_init(&s->opt);
    if (s->opt.map_size == 0)
        s->opt.map_size = SNAP_DEFAULT_MAP_SIZE;
    if (s->opt.max_state == 0)
        s->opt.max_state = SNAP_DEFAULT_MAX_STATE;
    int rc = 0;
    if (!s->opt.read_only && mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0)
        rc = open_env(s, dir);
    if (rc == 0)
        rc = open_dbis(s);
    if (rc != 0) {
        if (s->env)
            mdb_env_close(s->env);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void snap_store_close(snap_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    free(s);
}

void snap_get_stats(const snap_store *s, snap_stats *out)
{
    snap_store *m = (snap_store *)s; /* atomics: loads do not modify */
    out->puts = atomic_load(&m->puts);
    out->loads = atomic_load(&m->loads);
    out->corrupt_skipped = atomic_load(&m->corrupt_skipped);
    out->pruned = atomic_load(&m->pruned);
}
