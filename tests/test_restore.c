/*
 * test_restore.c: point-in-time restore and fork (engine/restore.h).
 *
 * A realistic history is written with the real oplog writer: WB_REC_OPS
 * records for three interleaved boards (creates of every element type,
 * moves, restyles, text edits, deletes and resurrections; stamps from
 * three origin nodes, some of them late, as replicated ops arrive), plus a
 * few records of another type. A reference board per board id is kept in
 * memory alongside; at checkpoints its state hash, the seq and a wall-clock
 * instant between two records are recorded, and snapshots (board_state_encode
 * of the reference) are stored at some checkpoints. Restores to every kind of
 * target must then reproduce the reference hashes exactly, whichever
 * snapshot they start from.
 *
 *   test_restore --make-ops-log DIR   writes such a history into DIR (for
 *                                     tests/test_wbctl_ops.sh), prints what
 *                                     each record holds, and exits
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <time.h>

#include "board.h"
#include "codec.h"
#include "hlc.h"
#include "oplog.h"
#include "restore.h"
#include "snap.h"
#include "snap_format.h"
#include "snap_internal.h"
#include "vv.h"
#include "wb_records.h"
#include "wbtest.h"

#define NB 3          /* boards */
#define NELEM 40      /* element ids per board */
#define NCP 10        /* checkpoints */
#define OTHER_TYPE 9u /* a record type restore must ignore */

static const char *board_names[NB] = {"alpha", "beta", "gamma"};

typedef struct hist {
    uint64_t nrec;              /* records written: seqs 1..nrec */
    uint64_t cp_seq[NCP];       /* last seq of checkpoint k */
    int64_t cp_time[NCP];       /* a wall instant after cp_seq, before +1 */
    uint64_t cp_hash[NCP][NB];  /* reference state hash at cp_seq */
    uint64_t cp_recs[NCP][NB];  /* ops records of the board <= cp_seq */
    uint64_t final_hash[NB];
    uint64_t final_recs[NB];
    uint64_t snap_id[NCP][NB];  /* 0: no snapshot at this checkpoint */
} hist;

static uint64_t rng_s;
static FILE *g_trace; /* --make-ops-log: one line per record written */

static uint64_t rng(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- history generator --------------------------------------------------- */

typedef struct gen {
    uint64_t oseq[4];      /* per origin node 1..3 */
    uint64_t i;            /* record counter (drives the hlc) */
    char ids[8][8];        /* element ids of the batch being built */
    int32_t xy[8][40];     /* points of the batch being built */
    char text[8][32];
} gen;

static void gen_props(gen *g, int k, wb_props *p)
{
    uint64_t r = rng();
    memset(p, 0, sizeof *p);
    switch (r % 6) {
    case 0: /* create or resurrect with a full set of properties */
    case 1: {
        unsigned type = 1 + (unsigned)((r >> 8) % WB_ELEM_TYPE_MAX);
        p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                  WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
                  WB_PROP_BIT(WB_PROP_HEIGHT) |
                  WB_PROP_BIT(WB_PROP_STROKE_COLOR) | WB_PROP_BIT(WB_PROP_Z);
        p->type = (uint8_t)type;
        p->x = (int32_t)(r >> 16 & 0xfffff) - 500000;
        p->y = (int32_t)(r >> 36 & 0xfffff) - 500000;
        p->width = 100 + (int32_t)(r % 40000);
        p->height = 100 + (int32_t)(r % 30000);
        p->stroke_color = 0x1e1e1eff;
        p->z = (wb_str){"a0", 2};
        if (type == WB_ELEM_STROKE || type == WB_ELEM_LINE ||
            type == WB_ELEM_ARROW) {
            uint32_t n = 2 + (uint32_t)(r % 18);
            for (uint32_t j = 0; j < 2 * n; j++)
                g->xy[k][j] = (int32_t)(rng() % 20000) - 10000;
            p->mask |= WB_PROP_BIT(WB_PROP_POINTS);
            p->points = (wb_points){n, g->xy[k], NULL};
        }
        if (type == WB_ELEM_TEXT || type == WB_ELEM_STICKY) {
            int n = snprintf(g->text[k], sizeof g->text[k], "note %" PRIu64,
                             r % 1000);
            p->mask |= WB_PROP_BIT(WB_PROP_TEXT) | WB_PROP_BIT(WB_PROP_FONT_SIZE);
            p->text = (wb_str){g->text[k], (uint32_t)n};
            p->font_size = 1600;
        }
        break;
    }
    case 2:
    case 3: /* move */
        p->mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
        p->x = (int32_t)(r >> 8 & 0xffff);
        p->y = (int32_t)(r >> 24 & 0xffff);
        break;
    case 4: /* restyle */
        p->mask = WB_PROP_BIT(WB_PROP_FILL_COLOR) | WB_PROP_BIT(WB_PROP_OPACITY);
        p->fill_color = (uint32_t)(r >> 8) | 0xff;
        p->opacity = (uint8_t)(r >> 40) % 101;
        break;
    default: /* text edit (also on elements that are not text: allowed) */
        p->mask = WB_PROP_BIT(WB_PROP_TEXT);
        int n = snprintf(g->text[k], sizeof g->text[k], "edit %" PRIu64,
                         r % 100000);
        p->text = (wb_str){g->text[k], (uint32_t)n};
        break;
    }
}

/* Builds a batch of 1..4 stamped ops for board bi into ops[]. */
static void gen_batch(gen *g, int bi, wb_op *ops, wb_batch *b)
{
    uint32_t n = 1 + (uint32_t)(rng() % 4);
    g->i++;
    for (uint32_t k = 0; k < n; k++) {
        wb_op *op = &ops[k];
        memset(op, 0, sizeof *op);
        uint64_t r = rng();
        snprintf(g->ids[k], sizeof g->ids[k], "e%03u", (unsigned)(r % NELEM));
        op->elem = (wb_str){g->ids[k], (uint32_t)strlen(g->ids[k])};
        op->user = (wb_str){"u1", 2};
        op->client_op_id = g->i * 8 + k;
        op->has_stamp = 1;
        uint64_t node = 1 + (r >> 20) % 3;
        uint64_t ms = 1700000000000ull + g->i * 2;
        if ((r >> 30) % 8 == 0 && ms > 400) /* a late, replicated op */
            ms -= (r >> 33) % 400;
        op->stamp = (wb_stamp){HLC_MAKE(ms, k), node, ++g->oseq[node]};
        if ((r >> 40) % 10 == 0) {
            op->kind = WB_OP_DELETE;
        } else {
            op->kind = WB_OP_UPSERT;
            gen_props(g, (int)k, &op->props);
        }
    }
    b->board = (wb_str){board_names[bi], (uint32_t)strlen(board_names[bi])};
    b->nops = n;
    b->ops = ops;
    b->owner_ = NULL;
}

static int append_one(oplog *log, uint16_t type, const void *p, size_t len,
                      uint64_t want_seq)
{
    oplog_entry e = {type, p, (uint32_t)len};
    uint64_t seq = 0;
    int rc = oplog_append_batch(log, &e, 1, NULL, NULL, &seq);
    if (rc == 0 && seq != want_seq)
        rc = WB_EINVAL;
    return rc;
}

static int snapshot_ref(snap_store *st, const board *b, uint64_t pos,
                        int64_t created, uint64_t *id)
{
    uint8_t *state;
    size_t len;
    int rc = board_state_encode(b, &state, &len);
    if (rc)
        return rc;
    uint8_t vb[4096];
    size_t vlen = 0;
    rc = vv_encode(board_version(b), vb, sizeof vb, &vlen);
    if (rc == 0)
        rc = snap_put(st, board_id(b), state, len, pos, vb, vlen,
                      (uint32_t)board_element_count(b), created, id);
    free(state);
    return rc;
}

/* The checkpoint: hashes, an instant strictly between this record's time
 * and the next one's, and snapshots of the boards chosen by mask. */
static int checkpoint(hist *h, int k, board **ref, snap_store *st,
                      unsigned snap_mask)
{
    h->cp_seq[k] = h->nrec;
    for (int bi = 0; bi < NB; bi++) {
        int rc = board_state_hash(ref[bi], &h->cp_hash[k][bi]);
        if (rc)
            return rc;
        h->cp_recs[k][bi] = h->final_recs[bi];
    }
    usleep(300);
    h->cp_time[k] = wall_us();
    usleep(300);
    for (int bi = 0; bi < NB; bi++) {
        h->snap_id[k][bi] = 0;
        if (!st || !(snap_mask & (1u << bi)))
            continue;
        int rc = snapshot_ref(st, ref[bi], h->cp_seq[k], h->cp_time[k],
                              &h->snap_id[k][bi]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Which boards get a snapshot at checkpoint k: alpha at 2, 5 and 8, beta
 * at 5 and 8, gamma never. */
static unsigned snap_plan(int k)
{
    if (k == 2)
        return 1u;
    if (k == 5 || k == 8)
        return 3u;
    return 0;
}

/* Writes nrec records (NCP checkpoints evenly spaced, the last at nrec)
 * into dir; snapshots into st (may be NULL). */
static int make_history(const char *dir, uint64_t nrec, uint64_t seg_size,
                        snap_store *st, hist *h, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    rng_s = seed;
    board *ref[NB] = {0};
    oplog *log = NULL;
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.segment_size = seg_size;
    o.sync = OPLOG_SYNC_NONE;
    int rc = oplog_open(&o, &log, NULL, NULL, 0);
    for (int bi = 0; rc == 0 && bi < NB; bi++)
        rc = board_create(board_names[bi], strlen(board_names[bi]), NULL,
                          &ref[bi]);
    static gen g;
    memset(&g, 0, sizeof g);
    int k = 0;
    while (rc == 0 && h->nrec < nrec) {
        uint64_t r = rng();
        if (r % 29 == 0) { /* not an ops record */
            uint8_t junk[16];
            for (size_t j = 0; j < sizeof junk; j++)
                junk[j] = (uint8_t)rng();
            rc = append_one(log, OTHER_TYPE, junk, sizeof junk, h->nrec + 1);
            if (g_trace)
                fprintf(g_trace, "%" PRIu64 " other\n", h->nrec + 1);
        } else {
            int bi = (int)((r >> 8) % NB);
            wb_op ops[4];
            wb_batch b;
            gen_batch(&g, bi, ops, &b);
            uint8_t buf[8192];
            size_t len;
            rc = codec_encode_batch_into(&b, buf, sizeof buf, &len);
            if (rc == 0)
                rc = board_apply_batch(ref[bi], &b);
            if (rc == 0)
                rc = append_one(log, WB_REC_OPS, buf, len, h->nrec + 1);
            h->final_recs[bi]++;
            if (g_trace) {
                fprintf(g_trace, "%" PRIu64 " %s %" PRIu32, h->nrec + 1,
                        board_names[bi], b.nops);
                for (uint32_t j = 0; j < b.nops; j++)
                    fprintf(g_trace, " %s:%.*s",
                            ops[j].kind == WB_OP_DELETE ? "delete" : "upsert",
                            (int)ops[j].elem.len, ops[j].elem.ptr);
                fputc('\n', g_trace);
            }
        }
        if (rc == 0)
            h->nrec++;
        if (rc == 0 && h->nrec == (uint64_t)(k + 1) * nrec / NCP) {
            rc = checkpoint(h, k, ref, st, snap_plan(k));
            k++;
        }
    }
    for (int bi = 0; rc == 0 && bi < NB; bi++)
        rc = board_state_hash(ref[bi], &h->final_hash[bi]);
    for (int bi = 0; bi < NB; bi++)
        board_free(ref[bi]);
    if (log) {
        int crc = oplog_close(log);
        if (rc == 0)
            rc = crc;
    }
    return rc;
}

static snap_store *open_store(const char *dir)
{
    snap_options so;
    snap_options_init(&so);
    so.no_sync = 1;
    snap_store *s = NULL;
    return snap_store_open(dir, &so, &s) == 0 ? s : NULL;
}

static int restored_hash(const restore_result *res, uint64_t *h)
{
    return board_state_hash(res->board, h);
}

/* Newest checkpoint <= k with a snapshot of bi, or -1. */
static int expected_snap(const hist *h, int k, int bi)
{
    for (int j = k; j >= 0; j--)
        if (h->snap_id[j][bi])
            return j;
    return -1;
}

/* Shared fixture: one history with snapshots, built once per process. */
static hist H;
static char H_dir[512], H_log[600], H_snap[600];

static int fixture(void)
{
    static int built;
    if (built)
        return 0;
    snprintf(H_dir, sizeof H_dir, "%s", wb_test_tmpdir("restore"));
    snprintf(H_log, sizeof H_log, "%s/oplog", H_dir);
    snprintf(H_snap, sizeof H_snap, "%s/snap", H_dir);
    snap_store *st = open_store(H_snap);
    if (!st)
        return WB_EIO;
    int rc = make_history(H_log, 3000, 64 * 1024, st, &H, 42);
    snap_store_close(st);
    built = rc == 0;
    return rc;
}

/* ---- tests ----------------------------------------------------------------- */

/* The history itself: times are ordered around the checkpoint instants, so
 * "every record with time_us <= cp_time" is exactly "seq <= cp_seq". */
static void test_history_times(void)
{
    CHECK_OK(fixture());
    oplog_reader *r;
    CHECK_OK(oplog_reader_open(H_log, 1, &r));
    oplog_record rec;
    int rc, k = 0;
    uint64_t n = 0;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        n++;
        while (k < NCP && rec.seq > H.cp_seq[k])
            k++;
        if (k < NCP)
            CHECK_MSG(rec.time_us < H.cp_time[k] &&
                          (k == 0 || rec.time_us > H.cp_time[k - 1]),
                      "record %" PRIu64 " time out of its checkpoint", rec.seq);
    }
    oplog_reader_close(r);
    CHECK_OK(rc);
    CHECK_EQ_U64(n, H.nrec);
}

static void test_seq_targets_without_snapshots(void)
{
    CHECK_OK(fixture());
    for (int bi = 0; bi < NB; bi++)
        for (int k = 0; k < NCP; k++) {
            restore_target t = {.kind = RESTORE_SEQ, .seq = H.cp_seq[k]};
            restore_result res;
            CHECK_OK(restore_board(NULL, H_log, board_names[bi], &t, NULL, &res));
            uint64_t hash;
            CHECK_OK(restored_hash(&res, &hash));
            CHECK_MSG(hash == H.cp_hash[k][bi], "%s at seq %" PRIu64
                      ": hash differs", board_names[bi], H.cp_seq[k]);
            CHECK_EQ_INT(res.has_snapshot, 0);
            CHECK_EQ_U64(res.records_applied, H.cp_recs[k][bi]);
            CHECK_EQ_U64(res.records_read, H.cp_seq[k]);
            CHECK(res.last_seq <= H.cp_seq[k] && res.last_seq > 0);
            restore_result_free(&res);
        }
}

static void test_seq_targets_with_snapshots(void)
{
    CHECK_OK(fixture());
    snap_store *st = open_store(H_snap);
    CHECK(st);
    for (int bi = 0; bi < NB; bi++)
        for (int k = 0; k < NCP; k++) {
            restore_target t = {.kind = RESTORE_SEQ, .seq = H.cp_seq[k]};
            restore_result res;
            CHECK_OK(restore_board(st, H_log, board_names[bi], &t, NULL, &res));
            uint64_t hash;
            CHECK_OK(restored_hash(&res, &hash));
            CHECK_MSG(hash == H.cp_hash[k][bi], "%s at seq %" PRIu64
                      ": hash differs", board_names[bi], H.cp_seq[k]);
            int j = expected_snap(&H, k, bi);
            CHECK_EQ_INT(res.has_snapshot, j >= 0);
            if (j >= 0) {
                CHECK_EQ_U64(res.snap_id, H.snap_id[j][bi]);
                CHECK_EQ_U64(res.snap_pos, H.cp_seq[j]);
                /* only the records after the snapshot were replayed */
                CHECK_EQ_U64(res.records_read, H.cp_seq[k] - H.cp_seq[j]);
                CHECK_EQ_U64(res.records_applied,
                             H.cp_recs[k][bi] - H.cp_recs[j][bi]);
            }
            CHECK_EQ_INT(res.skipped_snapshots, 0);
            restore_result_free(&res);
        }
    /* A target between checkpoints (not a snapshot position). */
    restore_target t = {.kind = RESTORE_SEQ, .seq = H.cp_seq[6] + 7};
    restore_result a, b;
    CHECK_OK(restore_board(st, H_log, "alpha", &t, NULL, &a));
    CHECK_OK(restore_board(NULL, H_log, "alpha", &t, NULL, &b));
    uint64_t ha, hb;
    CHECK_OK(restored_hash(&a, &ha));
    CHECK_OK(restored_hash(&b, &hb));
    CHECK_EQ_U64(ha, hb);
    CHECK_EQ_U64(a.snap_pos, H.cp_seq[5]);
    restore_result_free(&a);
    restore_result_free(&b);
    snap_store_close(st);
}

static void test_before_first_snapshot(void)
{
    CHECK_OK(fixture());
    snap_store *st = open_store(H_snap);
    CHECK(st);
    /* alpha's first snapshot is at checkpoint 2: targets 0 and 1 and a
     * seq just below it replay from the start of the log. */
    uint64_t seqs[] = {H.cp_seq[0], H.cp_seq[1], H.cp_seq[2] - 1};
    for (size_t i = 0; i < 3; i++) {
        restore_target t = {.kind = RESTORE_SEQ, .seq = seqs[i]};
        restore_result res, ref;
        CHECK_OK(restore_board(st, H_log, "alpha", &t, NULL, &res));
        CHECK_EQ_INT(res.has_snapshot, 0);
        CHECK_EQ_U64(res.records_read, seqs[i]);
        CHECK_OK(restore_board(NULL, H_log, "alpha", &t, NULL, &ref));
        uint64_t h1, h2;
        CHECK_OK(restored_hash(&res, &h1));
        CHECK_OK(restored_hash(&ref, &h2));
        CHECK_EQ_U64(h1, h2);
        if (i < 2)
            CHECK_EQ_U64(h1, H.cp_hash[i][0]);
        restore_result_free(&res);
        restore_result_free(&ref);
    }
    /* Before the board's first record: it did not exist yet. */
    restore_target t0 = {.kind = RESTORE_SEQ, .seq = 0};
    restore_result res;
    CHECK_RC(restore_board(st, H_log, "alpha", &t0, NULL, &res), WB_ENOTFOUND);
    CHECK(res.board == NULL);
    restore_target tl = {.kind = RESTORE_LATEST};
    CHECK_RC(restore_board(st, H_log, "nosuchboard", &tl, NULL, &res),
             WB_ENOTFOUND);
    snap_store_close(st);
}

static void test_time_targets(void)
{
    CHECK_OK(fixture());
    snap_store *st = open_store(H_snap);
    CHECK(st);
    for (int bi = 0; bi < NB; bi++)
        for (int k = 0; k < NCP; k++) {
            restore_target t = {.kind = RESTORE_TIME, .time_us = H.cp_time[k]};
            restore_result res;
            CHECK_OK(restore_board(st, H_log, board_names[bi], &t, NULL, &res));
            uint64_t hash;
            CHECK_OK(restored_hash(&res, &hash));
            CHECK_MSG(hash == H.cp_hash[k][bi], "%s at time %" PRId64
                      " (cp %d): hash differs", board_names[bi], H.cp_time[k], k);
            int j = expected_snap(&H, k, bi);
            CHECK_EQ_INT(res.has_snapshot, j >= 0);
            if (j >= 0)
                CHECK_EQ_U64(res.snap_pos, H.cp_seq[j]);
            CHECK(res.last_seq <= H.cp_seq[k]);
            restore_result_free(&res);
        }
    /* Before every record. */
    restore_target t = {.kind = RESTORE_TIME, .time_us = H.cp_time[0] - 60000000};
    restore_result res;
    CHECK_RC(restore_board(st, H_log, "beta", &t, NULL, &res), WB_ENOTFOUND);
    snap_store_close(st);
}

static void test_snapshot_and_latest_targets(void)
{
    CHECK_OK(fixture());
    snap_store *st = open_store(H_snap);
    CHECK(st);
    for (int bi = 0; bi < NB; bi++)
        for (int k = 0; k < NCP; k++) {
            if (!H.snap_id[k][bi])
                continue;
            restore_target t = {.kind = RESTORE_SNAPSHOT,
                                .snap_id = H.snap_id[k][bi]};
            restore_result res;
            CHECK_OK(restore_board(st, H_log, board_names[bi], &t, NULL, &res));
            uint64_t hash;
            CHECK_OK(restored_hash(&res, &hash));
            CHECK_EQ_U64(hash, H.cp_hash[k][bi]);
            CHECK_EQ_U64(res.records_read, 0);
            CHECK_EQ_U64(res.snap_pos, H.cp_seq[k]);
            restore_result_free(&res);
            /* a snapshot id of another board is refused */
            const char *other = board_names[(bi + 1) % NB];
            CHECK_RC(restore_board(st, H_log, other, &t, NULL, &res), WB_EINVAL);
        }
    restore_target bad = {.kind = RESTORE_SNAPSHOT, .snap_id = 999999};
    restore_result res;
    CHECK_RC(restore_board(st, H_log, "alpha", &bad, NULL, &res), WB_ENOTFOUND);
    for (int bi = 0; bi < NB; bi++) {
        restore_target t = {.kind = RESTORE_LATEST};
        CHECK_OK(restore_board(st, H_log, board_names[bi], &t, NULL, &res));
        uint64_t hash;
        CHECK_OK(restored_hash(&res, &hash));
        CHECK_EQ_U64(hash, H.final_hash[bi]);
        CHECK_EQ_U64(res.end_seq, H.nrec);
        restore_result_free(&res);
        CHECK_OK(restore_board(NULL, H_log, board_names[bi], &t, NULL, &res));
        CHECK_OK(restored_hash(&res, &hash));
        CHECK_EQ_U64(hash, H.final_hash[bi]);
        CHECK_EQ_U64(res.records_applied, H.final_recs[bi]);
        restore_result_free(&res);
    }
    snap_store_close(st);
}

/* Flips byte off of snapshot id's stored value (raw LMDB write through the
 * store's environment, as test_snap.c does). */
static int corrupt_snapshot(snap_store *s, uint64_t id, size_t off)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint8_t idkey[8];
    snap_be64(idkey, id);
    MDB_val ik = {8, idkey}, k, d;
    rc = mdb_get(txn, s->db_id, &ik, &k);
    if (rc == 0)
        rc = mdb_get(txn, s->db_snap, &k, &d);
    uint8_t key[SNAP_KEY_MAX];
    uint8_t *copy = NULL;
    if (rc == 0) {
        memcpy(key, k.mv_data, k.mv_size);
        copy = malloc(d.mv_size);
        memcpy(copy, d.mv_data, d.mv_size);
        copy[off < d.mv_size ? off : d.mv_size - 1] ^= 0x5a;
        MDB_val kk = {k.mv_size, key}, dd = {d.mv_size, copy};
        rc = mdb_put(txn, s->db_snap, &kk, &dd, 0);
    }
    free(copy);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void test_corrupt_newest_snapshot(void)
{
    const char *dir = wb_test_tmpdir("restore-corrupt");
    char logd[600], snapd[600];
    snprintf(logd, sizeof logd, "%s/oplog", dir);
    snprintf(snapd, sizeof snapd, "%s/snap", dir);
    snap_store *st = open_store(snapd);
    CHECK(st);
    static hist h;
    CHECK_OK(make_history(logd, 1500, 64 * 1024, st, &h, 7));
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result good, res;
    CHECK_OK(restore_board(st, logd, "alpha", &t, NULL, &good));
    CHECK_EQ_U64(good.snap_id, h.snap_id[8][0]);
    CHECK_OK(corrupt_snapshot(st, h.snap_id[8][0], SNAP_VALUE_HEADER_SIZE + 40));
    CHECK_OK(restore_board(st, logd, "alpha", &t, NULL, &res));
    uint64_t hash;
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.final_hash[0]);
    CHECK_EQ_U64(res.snap_id, h.snap_id[5][0]);
    CHECK_EQ_INT(res.skipped_snapshots, 1);
    CHECK_EQ_U64(res.skipped_ids[0], h.snap_id[8][0]);
    CHECK(res.records_read > good.records_read); /* longer replay */
    CHECK_EQ_U64(res.records_read, h.nrec - h.cp_seq[5]);
    restore_result_free(&res);
    /* The same by time; and the corrupt snapshot as an explicit target. */
    restore_target tt = {.kind = RESTORE_TIME, .time_us = h.cp_time[9]};
    CHECK_OK(restore_board(st, logd, "alpha", &tt, NULL, &res));
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.cp_hash[9][0]);
    CHECK_EQ_INT(res.skipped_snapshots, 1);
    restore_result_free(&res);
    restore_target ts = {.kind = RESTORE_SNAPSHOT, .snap_id = h.snap_id[8][0]};
    CHECK_RC(restore_board(st, logd, "alpha", &ts, NULL, &res), WB_ECORRUPT);
    /* Both of the newest corrupt: back to the first one. */
    CHECK_OK(corrupt_snapshot(st, h.snap_id[5][0], 0));
    CHECK_OK(restore_board(st, logd, "alpha", &t, NULL, &res));
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.final_hash[0]);
    CHECK_EQ_U64(res.snap_id, h.snap_id[2][0]);
    CHECK_EQ_INT(res.skipped_snapshots, 2);
    restore_result_free(&res);
    restore_result_free(&good);
    snap_store_close(st);
    wb_test_rmtree(dir);
}

/* A snapshot whose store checksums hold but whose state does not decode
 * (a bug elsewhere) is skipped like a corrupt one. */
static void test_undecodable_snapshot_state(void)
{
    const char *dir = wb_test_tmpdir("restore-baddecode");
    char logd[600], snapd[600];
    snprintf(logd, sizeof logd, "%s/oplog", dir);
    snprintf(snapd, sizeof snapd, "%s/snap", dir);
    snap_store *st = open_store(snapd);
    CHECK(st);
    static hist h;
    CHECK_OK(make_history(logd, 600, 64 * 1024, st, &h, 11));
    uint64_t bad;
    CHECK_OK(snap_put(st, "alpha", "not a state", 11, h.cp_seq[9], NULL, 0, 0,
                      h.cp_time[9], &bad));
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    CHECK_OK(restore_board(st, logd, "alpha", &t, NULL, &res));
    uint64_t hash;
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.final_hash[0]);
    CHECK_EQ_INT(res.skipped_snapshots, 1);
    CHECK_EQ_U64(res.skipped_ids[0], bad);
    CHECK_EQ_U64(res.snap_id, h.snap_id[8][0]);
    restore_result_free(&res);
    snap_store_close(st);
    wb_test_rmtree(dir);
}

/* Oldest segment files deleted (retention): what needs them fails with a
 * typed error; what a snapshot covers still restores. */
static void test_history_retained_away(void)
{
    const char *dir = wb_test_tmpdir("restore-retain");
    char logd[600], snapd[600];
    snprintf(logd, sizeof logd, "%s/oplog", dir);
    snprintf(snapd, sizeof snapd, "%s/snap", dir);
    snap_store *st = open_store(snapd);
    CHECK(st);
    static hist h;
    CHECK_OK(make_history(logd, 2000, 16 * 1024, st, &h, 5));
    /* Delete segments whose records all precede checkpoint 4. */
    oplog_options o;
    oplog_options_init(&o);
    o.dir = logd;
    o.node_id = 1;
    o.segment_size = 16 * 1024;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    int deleted = oplog_retain_from(log, h.cp_seq[4] + 1, NULL);
    CHECK_OK(oplog_close(log));
    CHECK_MSG(deleted > 0, "retain deleted nothing (%d)", deleted);
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(logd, 1, &r));
    CHECK_EQ_INT(oplog_reader_next(r, &rec), 1);
    uint64_t oldest = rec.seq;
    oplog_reader_close(r);
    CHECK(oldest > 1 && oldest <= h.cp_seq[4] + 1);

    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    /* gamma has no snapshot: needs seq 1. */
    CHECK_RC(restore_board(st, logd, "gamma", &t, NULL, &res), WB_ENOHISTORY);
    CHECK(res.board == NULL);
    CHECK(res.where.segment[0] != '\0');
    CHECK_EQ_U64(res.where.seq, oldest);
    /* alpha and beta: snapshot at checkpoint 8 covers it. */
    for (int bi = 0; bi < 2; bi++) {
        CHECK_OK(restore_board(st, logd, board_names[bi], &t, NULL, &res));
        uint64_t hash;
        CHECK_OK(restored_hash(&res, &hash));
        CHECK_EQ_U64(hash, h.final_hash[bi]);
        restore_result_free(&res);
    }
    /* alpha at checkpoint 3: its snapshot at 2 is older than the oldest
     * retained record -> the gap is detected. */
    restore_target t3 = {.kind = RESTORE_SEQ, .seq = h.cp_seq[3]};
    if (h.cp_seq[2] + 1 < oldest)
        CHECK_RC(restore_board(st, logd, "alpha", &t3, NULL, &res),
                 WB_ENOHISTORY);
    /* beta at checkpoint 3: no snapshot at all before it. */
    CHECK_RC(restore_board(st, logd, "beta", &t3, NULL, &res), WB_ENOHISTORY);
    snap_store_close(st);
    wb_test_rmtree(dir);
}

/* Flips a payload byte of record seq (found through the reader) in place. */
static int damage_record(const char *logd, uint64_t seq, char *seg,
                         size_t seglen, uint64_t *off)
{
    oplog_reader *r;
    int rc = oplog_reader_open(logd, seq, &r);
    if (rc)
        return rc;
    oplog_record rec;
    if ((rc = oplog_reader_next(r, &rec)) != 1) {
        oplog_reader_close(r);
        return rc ? rc : WB_ENOTFOUND;
    }
    snprintf(seg, seglen, "%s", oplog_reader_where(r, off));
    oplog_reader_close(r);
    int fd = open(seg, O_RDWR);
    if (fd < 0)
        return -errno;
    uint8_t byte;
    off_t at = (off_t)*off + 40; /* inside the record: header and payload */
    rc = pread(fd, &byte, 1, at) == 1 ? 0 : -EIO;
    byte ^= 0x20;
    if (rc == 0)
        rc = pwrite(fd, &byte, 1, at) == 1 ? 0 : -EIO;
    close(fd);
    return rc;
}

static void test_oplog_corruption_mid_replay(void)
{
    const char *dir = wb_test_tmpdir("restore-corrupt-log");
    char logd[600];
    snprintf(logd, sizeof logd, "%s/oplog", dir);
    static hist h;
    CHECK_OK(make_history(logd, 1200, 16 * 1024, NULL, &h, 3));
    uint64_t bad = h.cp_seq[4] + 3;
    char seg[4096];
    uint64_t off;
    CHECK_OK(damage_record(logd, bad, seg, sizeof seg, &off));
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    for (int bi = 0; bi < NB; bi++) {
        int rc = restore_board(NULL, logd, board_names[bi], &t, NULL, &res);
        CHECK_RC(rc, WB_ECORRUPT);
        CHECK(res.board == NULL);
        CHECK_STR(res.where.segment, seg);
        CHECK_EQ_U64(res.where.offset, off);
        CHECK(res.end_seq == bad - 1); /* nothing at or past it was used */
        CHECK(res.last_seq < bad);
    }
    /* Targets before the damage still restore exactly. */
    for (int bi = 0; bi < NB; bi++) {
        restore_target t4 = {.kind = RESTORE_SEQ, .seq = h.cp_seq[4]};
        CHECK_OK(restore_board(NULL, logd, board_names[bi], &t4, NULL, &res));
        uint64_t hash;
        CHECK_OK(restored_hash(&res, &hash));
        CHECK_EQ_U64(hash, h.cp_hash[4][bi]);
        restore_result_free(&res);
    }
    wb_test_rmtree(dir);
}

/* An ops record with a valid checksum whose batch does not decode. */
static void test_undecodable_ops_record(void)
{
    const char *dir = wb_test_tmpdir("restore-badops");
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static gen g;
    memset(&g, 0, sizeof g);
    rng_s = 99;
    wb_op ops[4];
    wb_batch b;
    gen_batch(&g, 0, ops, &b);
    uint8_t buf[8192];
    size_t len;
    CHECK_OK(codec_encode_batch_into(&b, buf, sizeof buf, &len));
    CHECK_OK(append_one(log, WB_REC_OPS, buf, len, 1));
    CHECK_OK(append_one(log, OTHER_TYPE, "\xff\xff", 2, 2)); /* ignored */
    static const uint8_t beta_junk[] = {1, 4, 'b', 'e', 't', 'a', 0xff, 0xff};
    CHECK_OK(append_one(log, WB_REC_OPS, beta_junk, sizeof beta_junk, 3));
    static const uint8_t alpha_junk[] = {1, 5, 'a', 'l', 'p', 'h', 'a', 0xff};
    CHECK_OK(append_one(log, WB_REC_OPS, alpha_junk, sizeof alpha_junk, 4));
    CHECK_OK(oplog_close(log));
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    CHECK_RC(restore_board(NULL, dir, "alpha", &t, NULL, &res), WB_ECORRUPT);
    CHECK_EQ_U64(res.where.seq, 4);
    CHECK(strstr(res.where.segment, ".wbseg") != NULL);
    CHECK(res.where.code != 0 && res.where.code != WB_ECORRUPT);
    restore_target t3 = {.kind = RESTORE_SEQ, .seq = 3};
    CHECK_OK(restore_board(NULL, dir, "alpha", &t3, NULL, &res));
    CHECK_EQ_U64(res.records_applied, 1);
    CHECK_EQ_U64(res.ops_applied, b.nops);
    restore_result_free(&res);
    /* beta's undecodable batch is beta's problem: */
    CHECK_RC(restore_board(NULL, dir, "beta", &t, NULL, &res), WB_ECORRUPT);
    CHECK_EQ_U64(res.where.seq, 3);
    wb_test_rmtree(dir);
}

static void test_bad_arguments(void)
{
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    CHECK_RC(restore_board(NULL, "/nonexistent", "bad id!", &t, NULL, &res),
             WB_EINVAL);
    CHECK_RC(restore_board(NULL, NULL, "a", &t, NULL, &res), WB_EINVAL);
    restore_target ts = {.kind = RESTORE_SNAPSHOT, .snap_id = 1};
    CHECK_RC(restore_board(NULL, "/nonexistent", "a", &ts, NULL, &res),
             WB_EINVAL);
    restore_target tx = {.kind = (restore_kind)7};
    CHECK_RC(restore_board(NULL, "/nonexistent", "a", &tx, NULL, &res),
             WB_EINVAL);
    const char *id;
    size_t n;
    CHECK_RC(restore_batch_board((const uint8_t *)"\x02\x01x", 3, &id, &n),
             WB_EBADVERSION);
    CHECK_RC(restore_batch_board((const uint8_t *)"\x01\x05xy", 4, &id, &n),
             WB_ETRUNCATED);
    CHECK_RC(restore_batch_board((const uint8_t *)"\x01\x80\x01", 3, &id, &n),
             WB_ETOOBIG);
    CHECK_OK(restore_batch_board((const uint8_t *)"\x01\x02xy\x01", 5, &id, &n));
    CHECK(n == 2 && memcmp(id, "xy", 2) == 0);
}

/* Fork: same records, values, stamps, tombstones and version vector under
 * a new id, as a snapshot in another store. */
static int same_element(const board *a, const board *b, const char *id,
                        int *visible)
{
    size_t n = strlen(id);
    wb_props pa, pb;
    int ra = board_get_element(a, id, n, &pa);
    int rb = board_get_element(b, id, n, &pb);
    if (ra != rb)
        return 0;
    *visible = ra == 0;
    wb_stamp ta, tb;
    ra = board_get_tombstone(a, id, n, &ta);
    rb = board_get_tombstone(b, id, n, &tb);
    if (ra != rb || (ra == 0 && wb_stamp_cmp(&ta, &tb) != 0))
        return 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        ra = board_get_stamp(a, id, n, k, &ta);
        rb = board_get_stamp(b, id, n, k, &tb);
        if (ra != rb || (ra == 0 && wb_stamp_cmp(&ta, &tb) != 0))
            return 0;
    }
    return 1;
}

static void test_fork(void)
{
    CHECK_OK(fixture());
    snap_store *st = open_store(H_snap);
    CHECK(st);
    const char *dir = wb_test_tmpdir("restore-fork");
    snap_store *dst = open_store(dir);
    CHECK(dst);
    restore_target t = {.kind = RESTORE_SEQ, .seq = H.cp_seq[6] + 11};
    restore_fork_result fr;
    CHECK_OK(restore_fork(st, H_log, "alpha", &t, NULL, "alpha-copy_1", dst, 0,
                          &fr));
    CHECK_EQ_U64(fr.fork_pos, H.nrec); /* the current end of the log */
    const board *src = fr.restored.board;
    /* Load the fork as a restore of the new board would. */
    restore_target tl = {.kind = RESTORE_LATEST};
    restore_result res;
    CHECK_OK(restore_board(dst, H_log, "alpha-copy_1", &tl, NULL, &res));
    CHECK_EQ_INT(res.has_snapshot, 1);
    CHECK_EQ_U64(res.snap_id, fr.fork_snap_id);
    CHECK_EQ_U64(res.records_applied, 0);
    const board *fb = res.board;
    CHECK_STR(board_id(fb), "alpha-copy_1");
    uint64_t hf;
    CHECK_OK(board_state_hash(fb, &hf));
    CHECK_EQ_U64(hf, fr.state_hash);
    CHECK_EQ_U64(board_element_count(fb), board_element_count(src));
    CHECK_EQ_U64(board_record_count(fb), board_record_count(src));
    CHECK(vv_compare(board_version(fb), board_version(src)) == VV_EQUAL);
    int visible = 0;
    for (int i = 0; i < NELEM; i++) {
        char id[8];
        snprintf(id, sizeof id, "e%03d", i);
        int v;
        CHECK_MSG(same_element(src, fb, id, &v), "element %s differs", id);
        visible += v;
    }
    CHECK_EQ_INT(visible, (int)board_element_count(src));
    /* JSON equal modulo the id; state hash equal after renaming back. */
    char *ja, *jb;
    CHECK_OK(board_to_json(src, &ja, NULL));
    CHECK_OK(board_to_json(fb, &jb, NULL));
    char *pa = strstr(ja, "\"elements\""), *pb = strstr(jb, "\"elements\"");
    CHECK(pa && pb);
    int same = strcmp(pa, pb) == 0;
    free(ja);
    free(jb);
    CHECK_MSG(same, "fork JSON differs beyond the id");
    uint8_t *back;
    size_t blen;
    CHECK_OK(restore_rename_state(fb, "alpha", &back, &blen));
    board *bb;
    CHECK_OK(board_state_decode(back, blen, NULL, &bb));
    free(back);
    uint64_t h1, h2;
    CHECK_OK(board_state_hash(bb, &h1));
    CHECK_OK(board_state_hash(src, &h2));
    board_free(bb);
    CHECK_EQ_U64(h1, h2);
    restore_result_free(&res);
    /* Forking onto an id that has snapshots, or onto itself, is refused. */
    restore_fork_result fr2;
    CHECK_RC(restore_fork(st, H_log, "alpha", &t, NULL, "alpha-copy_1", dst, 0,
                          &fr2), WB_EEXIST);
    CHECK_RC(restore_fork(st, H_log, "alpha", &t, NULL, "alpha", dst, 0, &fr2),
             WB_EINVAL);
    CHECK_RC(restore_fork(st, H_log, "alpha", &t, NULL, "bad id", dst, 0, &fr2),
             WB_EINVAL);
    /* Explicit position, same store. */
    CHECK_OK(restore_fork(st, H_log, "beta", &tl, NULL, "beta2", st, 12345,
                          &fr2));
    CHECK_EQ_U64(fr2.fork_pos, 12345);
    uint64_t hb;
    CHECK_OK(board_state_hash(fr2.restored.board, &hb));
    CHECK_EQ_U64(hb, H.final_hash[1]);
    snap_info info;
    CHECK_OK(snap_latest_info(st, "beta2", UINT64_MAX, &info));
    CHECK_EQ_U64(info.pos, 12345);
    CHECK_EQ_U64(info.elements, board_element_count(fr2.restored.board));
    CHECK_OK(snap_delete(st, fr2.fork_snap_id));
    restore_fork_result_free(&fr2);
    restore_fork_result_free(&fr);
    snap_store_close(dst);
    snap_store_close(st);
    wb_test_rmtree(dir);
}

/* Snapshots whose state is wrapped (engine data around the board state)
 * are read through the decode hook; without it they count as undecodable. */
static int unwrap_decode(const uint8_t *buf, size_t len, board **out)
{
    if (len < 4 || memcmp(buf, "WRAP", 4) != 0)
        return WB_EBADMAGIC;
    return board_state_decode(buf + 4, len - 4, NULL, out);
}

static void test_decode_hook(void)
{
    const char *dir = wb_test_tmpdir("restore-hook");
    char logd[600], snapd[600];
    snprintf(logd, sizeof logd, "%s/oplog", dir);
    snprintf(snapd, sizeof snapd, "%s/snap", dir);
    static hist h;
    CHECK_OK(make_history(logd, 400, 64 * 1024, NULL, &h, 21));
    snap_store *st = open_store(snapd);
    CHECK(st);
    /* the wrapped state of beta at checkpoint 6, from a plain replay */
    restore_target t6 = {.kind = RESTORE_SEQ, .seq = h.cp_seq[6]};
    restore_result res;
    CHECK_OK(restore_board(NULL, logd, "beta", &t6, NULL, &res));
    uint8_t *state;
    size_t len;
    CHECK_OK(board_state_encode(res.board, &state, &len));
    restore_result_free(&res);
    uint8_t *wrapped = malloc(len + 4);
    CHECK(wrapped);
    memcpy(wrapped, "WRAP", 4);
    memcpy(wrapped + 4, state, len);
    free(state);
    uint64_t id;
    int rc = snap_put(st, "beta", wrapped, len + 4, h.cp_seq[6], NULL, 0, 0,
                      h.cp_time[6], &id);
    free(wrapped);
    CHECK_OK(rc);
    restore_target t = {.kind = RESTORE_LATEST};
    restore_options o = {.decode = unwrap_decode};
    CHECK_OK(restore_board(st, logd, "beta", &t, &o, &res));
    uint64_t hash;
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.final_hash[1]);
    CHECK_EQ_U64(res.snap_id, id);
    CHECK_EQ_U64(res.records_read, h.nrec - h.cp_seq[6]);
    restore_result_free(&res);
    /* Without the hook: skipped as undecodable, full replay, same state. */
    CHECK_OK(restore_board(st, logd, "beta", &t, NULL, &res));
    CHECK_OK(restored_hash(&res, &hash));
    CHECK_EQ_U64(hash, h.final_hash[1]);
    CHECK_EQ_INT(res.has_snapshot, 0);
    CHECK_EQ_INT(res.skipped_snapshots, 1);
    restore_result_free(&res);
    snap_store_close(st);
    wb_test_rmtree(dir);
}

/* Restores run while a writer appends to the same directory (what wbctl
 * does beside a live node): each sees a prefix of the log, and its state is
 * exactly the reference state of that prefix. */
#define LIVE_RECS 1500
#define LIVE_MAX_RESTORES 64

typedef struct live_ctx {
    const char *dir;
    volatile int stop;
    int n;
    int rc[LIVE_MAX_RESTORES];
    uint64_t end_seq[LIVE_MAX_RESTORES];
    uint64_t hash[LIVE_MAX_RESTORES];
} live_ctx;

static void *live_restorer(void *arg)
{
    live_ctx *c = arg;
    while (!c->stop && c->n < LIVE_MAX_RESTORES) {
        restore_target t = {.kind = RESTORE_LATEST};
        restore_result res;
        int rc = restore_board(NULL, c->dir, "alpha", &t, NULL, &res);
        c->rc[c->n] = rc;
        c->end_seq[c->n] = res.end_seq;
        if (rc == 0)
            rc = board_state_hash(res.board, &c->hash[c->n]);
        if (rc == 0 || c->rc[c->n] == 0)
            c->rc[c->n] = rc;
        restore_result_free(&res);
        c->n++;
        usleep(2000);
    }
    return NULL;
}

static void test_beside_live_writer(void)
{
    const char *dir = wb_test_tmpdir("restore-live");
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.segment_size = 32 * 1024;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static uint8_t *payload[LIVE_RECS + 1];
    static size_t plen[LIVE_RECS + 1];
    static int is_alpha[LIVE_RECS + 1];
    static gen g;
    memset(&g, 0, sizeof g);
    rng_s = 1234;
    static live_ctx c;
    memset(&c, 0, sizeof c);
    c.dir = dir;
    int rc = 0;
    /* the first record exists before the restorer starts */
    pthread_t th;
    int started = 0;
    for (uint64_t seq = 1; seq <= LIVE_RECS && rc == 0; seq++) {
        int bi = (int)(rng() % 2); /* alpha and beta */
        wb_op ops[4];
        wb_batch b;
        gen_batch(&g, bi, ops, &b);
        uint8_t buf[8192];
        size_t len;
        rc = codec_encode_batch_into(&b, buf, sizeof buf, &len);
        if (rc == 0 && !(payload[seq] = malloc(len)))
            rc = WB_ENOMEM;
        if (rc)
            break;
        memcpy(payload[seq], buf, len);
        plen[seq] = len;
        is_alpha[seq] = bi == 0;
        rc = append_one(log, WB_REC_OPS, buf, len, seq);
        if (rc == 0 && seq == 1) {
            CHECK_OK(oplog_close(log)); /* make record 1 visible, reopen */
            CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
            CHECK(pthread_create(&th, NULL, live_restorer, &c) == 0);
            started = 1;
        }
        if (seq % 50 == 0)
            usleep(1000);
    }
    c.stop = 1;
    if (started)
        pthread_join(th, NULL);
    CHECK_OK(oplog_close(log));
    CHECK_OK(rc);
    CHECK_MSG(c.n >= 3, "only %d restores ran", c.n);
    int partial = 0;
    for (int i = 0; i < c.n; i++) {
        CHECK(c.end_seq[i] >= 1 && c.end_seq[i] <= LIVE_RECS);
        partial += c.end_seq[i] < LIVE_RECS;
        int any_alpha = 0;
        for (uint64_t seq = 1; seq <= c.end_seq[i]; seq++)
            any_alpha |= is_alpha[seq];
        if (!any_alpha) { /* alpha did not exist yet in that prefix */
            CHECK_RC(c.rc[i], WB_ENOTFOUND);
            continue;
        }
        CHECK_MSG(c.rc[i] == 0, "restore %d: %s", i, wb_errname(c.rc[i]));
        board *ref;
        CHECK_OK(board_create("alpha", 5, NULL, &ref));
        for (uint64_t seq = 1; seq <= c.end_seq[i]; seq++) {
            if (!is_alpha[seq])
                continue;
            wb_batch *bt;
            int r2 = codec_decode_batch(payload[seq], plen[seq], &bt);
            if (r2 == 0)
                r2 = board_apply_batch(ref, bt);
            codec_batch_free(bt);
            if (r2) {
                board_free(ref);
                CHECK_OK(r2);
            }
        }
        uint64_t h = 0;
        int r3 = board_state_hash(ref, &h);
        board_free(ref);
        CHECK_OK(r3);
        CHECK_MSG(h == c.hash[i], "restore %d (prefix %" PRIu64 ") differs "
                  "from the reference of that prefix", i, c.end_seq[i]);
    }
    for (uint64_t seq = 1; seq <= LIVE_RECS; seq++)
        free(payload[seq]);
    fprintf(stderr, "  %d restores beside the writer, %d saw a partial log\n",
            c.n, partial);
    wb_test_rmtree(dir);
}

/* --make-ops-log DIR: a small history for the wbctl test; prints one line
 * per record: "SEQ other", "SEQ BOARD NOPS KIND:ELEM..." or, for the last
 * record (an ops record whose batch does not decode), "SEQ bad". */
static int make_ops_log(const char *dir)
{
    static hist h;
    g_trace = stdout;
    int rc = make_history(dir, 60, 4096, NULL, &h, 1);
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.segment_size = 4096;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log = NULL;
    if (rc == 0)
        rc = oplog_open(&o, &log, NULL, NULL, 0);
    static const uint8_t bad[] = {1, 4, 'z', 'e', 't', 'a', 0xff, 0xff};
    if (rc == 0)
        rc = append_one(log, WB_REC_OPS, bad, sizeof bad, h.nrec + 1);
    if (log) {
        int crc = oplog_close(log);
        if (rc == 0)
            rc = crc;
    }
    if (rc == 0)
        printf("%" PRIu64 " bad\n", h.nrec + 1);
    if (rc)
        fprintf(stderr, "make-ops-log: %s\n", wb_strerror(rc));
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--make-ops-log") == 0)
        return make_ops_log(argv[2]);
    WB_RUN(test_history_times);
    WB_RUN(test_seq_targets_without_snapshots);
    WB_RUN(test_seq_targets_with_snapshots);
    WB_RUN(test_before_first_snapshot);
    WB_RUN(test_time_targets);
    WB_RUN(test_snapshot_and_latest_targets);
    WB_RUN(test_corrupt_newest_snapshot);
    WB_RUN(test_undecodable_snapshot_state);
    WB_RUN(test_history_retained_away);
    WB_RUN(test_oplog_corruption_mid_replay);
    WB_RUN(test_undecodable_ops_record);
    WB_RUN(test_bad_arguments);
    WB_RUN(test_fork);
    WB_RUN(test_decode_hook);
    WB_RUN(test_beside_live_writer);
    if (H_dir[0])
        wb_test_rmtree(H_dir);
    return wb_test_summary();
}
