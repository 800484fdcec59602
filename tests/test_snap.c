/*
 * test_snap.c: the snapshot store: put/get equality, latest at or before a
 * position and a time, list order, delete, corrupt-snapshot fallback, the
 * value decoder's distinct errors, pruning, snap_min_pos.
 * (Metadata and node records: test_snap_meta.c; processes and threads:
 * test_snap_concurrency.c; SIGKILL: test_snap_crash.c.)
 */
#include <errno.h>
#include <stdint.h>

#include <xxhash.h>

#include "snap.h"
#include "snap_format.h"
#include "snap_internal.h"
#include "snap_testgen.h"
#include "wbtest.h"

static snap_store *open_store(const char *dir)
{
    snap_options o;
    snap_options_init(&o);
    o.map_size = 256u << 20;
    o.no_sync = 1; /* durability is test_snap_crash's job */
    snap_store *s = NULL;
    int rc = snap_store_open(dir, &o, &s);
    if (rc != 0)
        fprintf(stderr, "snap_store_open: %s\n", wb_strerror(rc));
    return s;
}

/* Puts a generated state of len bytes (seed = pos) and returns its id. */
static uint64_t put_gen(snap_store *s, const char *board, uint64_t pos,
                        size_t len, int64_t t)
{
    uint8_t *buf = malloc(len ? len : 1);
    snap_gen(pos, buf, len);
    char vv[32];
    int vl = snprintf(vv, sizeof vv, "vv:%" PRIu64, pos);
    uint64_t id = 0;
    int rc = snap_put(s, board, buf, len, pos, vv, (size_t)vl, (uint32_t)pos,
                      t, &id);
    free(buf);
    if (rc != 0)
        fprintf(stderr, "snap_put(%s, %" PRIu64 "): %s\n", board, pos,
                wb_strerror(rc));
    return rc == 0 ? id : 0;
}

/* 1 if l holds exactly what put_gen(pos, len) stored. */
static int loaded_matches(const snap_loaded *l, uint64_t pos, size_t len)
{
    if (l->info.pos != pos || l->state_len != len || l->info.raw_size != len)
        return 0;
    uint8_t *want = malloc(len ? len : 1);
    snap_gen(pos, want, len);
    int ok = len == 0 ? l->state == NULL : memcmp(want, l->state, len) == 0;
    free(want);
    char vv[32];
    int vl = snprintf(vv, sizeof vv, "vv:%" PRIu64, pos);
    return ok && l->vv_len == (size_t)vl && memcmp(l->vv, vv, (size_t)vl) == 0 &&
           l->info.elements == (uint32_t)pos;
}

static void test_put_get_sizes(void)
{
    const char *dir = wb_test_tmpdir("snap-sizes");
    snap_store *s = open_store(dir);
    CHECK(s);
    const size_t sizes[] = {0, 1, 17, 4096, 65537, 3u << 20, 9u << 20};
    uint64_t ids[7];
    for (int i = 0; i < 7; i++) {
        ids[i] = put_gen(s, "sizes", (uint64_t)i + 1, sizes[i], 1000 + i);
        CHECK_MSG(ids[i] != 0, "put %zu bytes failed", sizes[i]);
        CHECK_MSG(i == 0 || ids[i] > ids[i - 1], "ids not increasing");
    }
    for (int i = 0; i < 7; i++) {
        snap_loaded l;
        CHECK_OK(snap_get_by_id(s, ids[i], &l));
        int ok = loaded_matches(&l, (uint64_t)i + 1, sizes[i]);
        int compressed = l.info.stored_size < l.info.raw_size;
        snap_loaded_free(&l);
        CHECK_MSG(ok, "state of %zu bytes differs after get", sizes[i]);
        /* generated data is compressible: big ones must have shrunk */
        CHECK_MSG(sizes[i] < 4096 || compressed, "%zu bytes not compressed",
                  sizes[i]);
        CHECK_OK(snap_get_latest(s, "sizes", (uint64_t)i + 1, INT64_MAX, &l));
        ok = loaded_matches(&l, (uint64_t)i + 1, sizes[i]) &&
             l.info.id == ids[i] && l.skipped == 0;
        snap_loaded_free(&l);
        CHECK_MSG(ok, "latest at pos %d is not snapshot %d", i + 1, i);
    }
    /* Random bytes do not compress: stored raw, still equal. */
    uint8_t *rnd = malloc(100000);
    uint64_t seed = 42, id;
    for (size_t i = 0; i < 100000; i++)
        rnd[i] = (uint8_t)snap_gen_next(&seed);
    CHECK_OK(snap_put(s, "random", rnd, 100000, 5, NULL, 0, 0, 0, &id));
    snap_loaded l;
    CHECK_OK(snap_get_by_id(s, id, &l));
    int same = l.state_len == 100000 && memcmp(l.state, rnd, 100000) == 0 &&
               l.vv == NULL && l.info.created_us > 0;
    snap_loaded_free(&l);
    free(rnd);
    CHECK(same);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_put_rejects(void)
{
    const char *dir = wb_test_tmpdir("snap-rejects");
    snap_store *s = open_store(dir);
    CHECK(s);
    char long_id[80];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    CHECK_RC(snap_put(s, "", "a", 1, 1, NULL, 0, 0, 0, NULL), WB_EINVAL);
    CHECK_RC(snap_put(s, long_id, "a", 1, 1, NULL, 0, 0, 0, NULL), WB_EINVAL);
    CHECK_RC(snap_put(s, NULL, "a", 1, 1, NULL, 0, 0, 0, NULL), WB_EINVAL);
    CHECK_RC(snap_put(s, "b", "a", 1, 1, "v", 70000, 0, 0, NULL), WB_ETOOBIG);
    long_id[SNAP_BOARD_ID_MAX] = 0; /* exactly 64 bytes: fine */
    CHECK_OK(snap_put(s, long_id, "a", 1, 1, NULL, 0, 0, 0, NULL));
    snap_loaded l;
    CHECK_RC(snap_get_latest(s, "nope", UINT64_MAX, INT64_MAX, &l),
             WB_ENOTFOUND);
    CHECK_RC(snap_get_by_id(s, 999, &l), WB_ENOTFOUND);
    snap_store_close(s);
    snap_options o;
    snap_options_init(&o);
    o.max_state = 1000;
    CHECK_OK(snap_store_open(dir, &o, &s));
    uint8_t big[1001] = {0};
    CHECK_RC(snap_put(s, "b", big, sizeof big, 1, NULL, 0, 0, 0, NULL),
             WB_ETOOBIG);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_latest_pos_and_time(void)
{
    const char *dir = wb_test_tmpdir("snap-latest");
    snap_store *s = open_store(dir);
    CHECK(s);
    uint64_t id10 = put_gen(s, "b", 10, 500, 1000);
    uint64_t id20 = put_gen(s, "b", 20, 500, 2000);
    uint64_t id30 = put_gen(s, "b", 30, 500, 3000);
    /* Neighbours sharing a prefix or sorting around "b" must not leak in. */
    CHECK(put_gen(s, "bb", 15, 10, 1500) && put_gen(s, "a", 25, 10, 500) &&
          put_gen(s, "c", 5, 10, 100));
    struct {
        uint64_t max_pos;
        int64_t max_time;
        uint64_t want; /* id, 0: not found */
    } cases[] = {
        {UINT64_MAX, INT64_MAX, id30}, {30, INT64_MAX, id30},
        {29, INT64_MAX, id20},         {16, INT64_MAX, id10},
        {10, INT64_MAX, id10},         {9, INT64_MAX, 0},
        {UINT64_MAX, 2500, id20},      {UINT64_MAX, 2000, id20},
        {UINT64_MAX, 1999, id10},      {UINT64_MAX, 999, 0},
        {25, 1500, id10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snap_loaded l;
        int rc = snap_get_latest(s, "b", cases[i].max_pos, cases[i].max_time,
                                 &l);
        uint64_t got = rc == 0 ? l.info.id : 0;
        int ok = rc == 0 ? loaded_matches(&l, l.info.pos, 500) : 1;
        snap_loaded_free(&l);
        CHECK_MSG(rc == 0 || rc == WB_ENOTFOUND, "case %zu: %s", i,
                  wb_strerror(rc));
        CHECK_MSG(got == cases[i].want && ok,
                  "case %zu: got id %" PRIu64 ", want %" PRIu64, i, got,
                  cases[i].want);
    }
    /* Same position twice: the later id wins. */
    uint64_t id30b = put_gen(s, "b", 30, 500, 3100);
    snap_info info;
    CHECK_OK(snap_latest_info(s, "b", UINT64_MAX, &info));
    CHECK_EQ_U64(info.id, id30b);
    CHECK_EQ_INT(info.created_us, 3100);
    CHECK_OK(snap_latest_info(s, "b", 19, &info));
    CHECK_EQ_U64(info.id, id10);
    CHECK_RC(snap_latest_info(s, "b", 3, &info), WB_ENOTFOUND);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

typedef struct list_acc {
    int n;
    char boards[32][SNAP_BOARD_ID_MAX + 1];
    uint64_t pos[32], ids[32];
    int stop_after;
} list_acc;

static int list_cb(void *arg, const snap_info *info)
{
    list_acc *a = arg;
    if (a->n < 32) {
        strcpy(a->boards[a->n], info->board);
        a->pos[a->n] = info->pos;
        a->ids[a->n] = info->id;
    }
    a->n++;
    return a->stop_after && a->n >= a->stop_after ? 77 : 0;
}

static void test_list_order_and_delete(void)
{
    const char *dir = wb_test_tmpdir("snap-list");
    snap_store *s = open_store(dir);
    CHECK(s);
    /* Inserted out of order; positions above 255 test big-endian keys. */
    CHECK(put_gen(s, "c", 300, 10, 0) && put_gen(s, "a", 70000, 10, 0) &&
          put_gen(s, "a", 2, 10, 0) && put_gen(s, "b", 1, 10, 0) &&
          put_gen(s, "a", 256, 10, 0));
    list_acc a = {0};
    CHECK_OK(snap_list(s, NULL, list_cb, &a));
    CHECK_EQ_INT(a.n, 5);
    const char *wb[] = {"a", "a", "a", "b", "c"};
    const uint64_t wp[] = {2, 256, 70000, 1, 300};
    for (int i = 0; i < 5; i++)
        CHECK_MSG(strcmp(a.boards[i], wb[i]) == 0 && a.pos[i] == wp[i],
                  "entry %d: %s/%" PRIu64 ", want %s/%" PRIu64, i,
                  a.boards[i], a.pos[i], wb[i], wp[i]);
    list_acc one = {0};
    CHECK_OK(snap_list(s, "a", list_cb, &one));
    CHECK_EQ_INT(one.n, 3);
    list_acc stop = {.stop_after = 2};
    CHECK_RC(snap_list(s, NULL, list_cb, &stop), 77);
    CHECK_EQ_INT(stop.n, 2);
    /* Delete the middle "a"; ids stay monotonic after deleting the max. */
    CHECK_OK(snap_delete(s, one.ids[1]));
    CHECK_RC(snap_delete(s, one.ids[1]), WB_ENOTFOUND);
    snap_loaded l;
    CHECK_RC(snap_get_by_id(s, one.ids[1], &l), WB_ENOTFOUND);
    uint64_t max_id = 0;
    for (int i = 0; i < 5; i++)
        max_id = a.ids[i] > max_id ? a.ids[i] : max_id;
    CHECK_EQ_U64(one.ids[1], max_id); /* a/256 was put last: the max id */
    uint64_t nid = put_gen(s, "d", 1, 10, 0);
    CHECK_MSG(nid > max_id, "id %" PRIu64 " reused (max was %" PRIu64 ")",
              nid, max_id);
    list_acc after = {0};
    CHECK_OK(snap_list(s, "a", list_cb, &after));
    CHECK_EQ_INT(after.n, 2);
    CHECK_MSG(after.pos[0] == 2 && after.pos[1] == 70000, "wrong survivors");
    snap_store_close(s);
    wb_test_rmtree(dir);
}

/* Rewrites the stored value of snapshot id through a raw write txn on the
 * store's own environment: byte off XOR x (the test hook for corruption). */
static int corrupt_value(snap_store *s, uint64_t id, size_t off, uint8_t x)
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
    uint8_t *copy = NULL;
    uint8_t key[SNAP_KEY_MAX];
    if (rc == 0) {
        memcpy(key, k.mv_data, k.mv_size);
        copy = malloc(d.mv_size);
        memcpy(copy, d.mv_data, d.mv_size);
        if (off >= d.mv_size)
            off = d.mv_size - 1;
        copy[off] ^= x;
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

static void test_corrupt_fallback(void)
{
    const char *dir = wb_test_tmpdir("snap-corrupt");
    snap_store *s = open_store(dir);
    CHECK(s);
    uint64_t id1 = put_gen(s, "b", 10, 20000, 0);
    uint64_t id2 = put_gen(s, "b", 20, 20000, 0);
    uint64_t id3 = put_gen(s, "b", 30, 20000, 0);
    CHECK(id1 && id2 && id3);
    /* Newest: flip a byte deep in the compressed payload. */
    CHECK_OK(corrupt_value(s, id3, SNAP_VALUE_HEADER_SIZE + 40, 0x5a));
    snap_loaded l;
    CHECK_OK(snap_get_latest(s, "b", UINT64_MAX, INT64_MAX, &l));
    int ok = l.info.id == id2 && loaded_matches(&l, 20, 20000) &&
             l.skipped == 1 && l.skipped_ids[0] == id3 &&
             l.skipped_codes[0] == WB_ECORRUPT;
    snap_loaded_free(&l);
    CHECK_MSG(ok, "did not fall back to snapshot %" PRIu64, id2);
    CHECK_RC(snap_get_by_id(s, id3, &l), WB_ECORRUPT);
    /* Second newest: bad magic. */
    CHECK_OK(corrupt_value(s, id2, 0, 0xff));
    CHECK_OK(snap_get_latest(s, "b", UINT64_MAX, INT64_MAX, &l));
    ok = l.info.id == id1 && loaded_matches(&l, 10, 20000) &&
         l.skipped == 2 && l.skipped_ids[0] == id3 && l.skipped_ids[1] == id2 &&
         l.skipped_codes[1] == WB_EBADMAGIC;
    snap_loaded_free(&l);
    CHECK_MSG(ok, "did not fall back to snapshot %" PRIu64, id1);
    CHECK_RC(snap_get_by_id(s, id2, &l), WB_EBADMAGIC);
    snap_info info; /* header-only lookup skips the bad header only */
    CHECK_OK(snap_latest_info(s, "b", UINT64_MAX, &info));
    CHECK_EQ_U64(info.id, id3);
    /* Oldest: header field flipped -> nothing valid is left. */
    CHECK_OK(corrupt_value(s, id1, SNAP_OFF_POS, 0x01));
    CHECK_RC(snap_get_latest(s, "b", UINT64_MAX, INT64_MAX, &l), WB_ENOTFOUND);
    CHECK_EQ_INT(l.skipped, 3);
    CHECK(l.state == NULL);
    CHECK_EQ_INT(l.skipped_codes[2], WB_ECORRUPT);
    snap_stats st;
    snap_get_stats(s, &st);
    CHECK_EQ_U64(st.corrupt_skipped, 1 + 2 + 3);
    /* A listing still shows all three, flagged by their header status. */
    list_acc a = {0};
    CHECK_OK(snap_list(s, "b", list_cb, &a));
    CHECK_EQ_INT(a.n, 3);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

/* A header whose fields are patched and then re-sealed with a valid hash. */
static void reseal(uint8_t *v)
{
    uint64_t h = XXH3_64bits(v, SNAP_OFF_HEADER_HASH);
    for (int i = 0; i < 8; i++)
        v[SNAP_OFF_HEADER_HASH + i] = (uint8_t)(h >> (8 * i));
}

static int decode_all(const uint8_t *v, size_t n, uint64_t cap)
{
    snap_value_view view;
    int rc = snap_value_parse(v, n, cap, &view);
    if (rc != 0)
        return rc;
    uint8_t *st;
    rc = snap_value_decode_state(&view, &st);
    free(st);
    return rc;
}

static void test_value_decoder_errors(void)
{
    uint8_t state[5000];
    snap_gen(7, state, sizeof state);
    snap_value_fields f = {.id = 9, .pos = 77, .created_us = 5, .elements = 3,
                           .board = "board-1"};
    uint8_t *v;
    size_t n;
    CHECK_OK(snap_value_encode(&f, state, sizeof state, "VV", 2, 1, &v, &n));
    uint8_t *w = malloc(n + 1);
    CHECK_OK(decode_all(v, n, 0));
    snap_value_view view;
    CHECK_OK(snap_value_parse(v, n, 0, &view));
    CHECK(view.id == 9 && view.pos == 77 && view.elements == 3 &&
          view.board_len == 7 && view.vv_len == 2 &&
          (view.flags & SNAP_VALUE_FLAG_ZSTD) && view.raw_size == 5000);
    struct {
        const char *what;
        size_t off; /* byte to XOR with 0x10; SIZE_MAX: no flip */
        size_t len; /* length to decode */
        int reseal;
        int want;
    } cases[] = {
        {"magic", 1, n, 0, WB_EBADMAGIC},
        {"version", SNAP_OFF_VERSION, n, 0, WB_EBADVERSION},
        {"header field", SNAP_OFF_ELEMENTS, n, 0, WB_ECORRUPT},
        {"header hash", SNAP_OFF_HEADER_HASH, n, 0, WB_ECORRUPT},
        {"board byte", SNAP_VALUE_HEADER_SIZE + 2, n, 0, WB_ECORRUPT},
        {"vv byte", SNAP_VALUE_HEADER_SIZE + 8, n, 0, WB_ECORRUPT},
        {"payload byte", n - 20, n, 0, WB_ECORRUPT},
        {"last byte", n - 1, n, 0, WB_ECORRUPT},
        {"unknown flag", SNAP_OFF_FLAGS + 1, n, 1, WB_ECORRUPT},
        {"raw size", SNAP_OFF_RAW_SIZE, n, 1, WB_ECORRUPT},
        {"state hash", SNAP_OFF_STATE_HASH + 3, n, 1, WB_ECORRUPT},
        {"short of payload", SIZE_MAX, n - 1, 0, WB_ETRUNCATED},
        {"short of header", SIZE_MAX, SNAP_VALUE_HEADER_SIZE - 1, 0,
         WB_ETRUNCATED},
        {"only magic", SIZE_MAX, 5, 0, WB_ETRUNCATED},
        {"empty", SIZE_MAX, 0, 0, WB_ETRUNCATED},
        {"trailing byte", SIZE_MAX, n + 1, 0, WB_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(w, v, n);
        w[n] = 0;
        if (cases[i].off != SIZE_MAX)
            w[cases[i].off] ^= 0x10;
        if (cases[i].reseal)
            reseal(w);
        int rc = decode_all(w, cases[i].len, 0);
        CHECK_MSG(rc == cases[i].want, "%s: got %s, want %s", cases[i].what,
                  wb_errname(rc), wb_errname(cases[i].want));
    }
    /* The cap: raw_size above it is TOOBIG before anything is allocated. */
    CHECK_RC(decode_all(v, n, 4999), WB_ETOOBIG);
    CHECK_OK(decode_all(v, n, 5000));
    /* set_id keeps the value valid and changes only the id. */
    snap_value_set_id(v, 1234);
    CHECK_OK(snap_value_parse(v, n, 0, &view));
    CHECK_EQ_U64(view.id, 1234);
    free(w);
    free(v);
}

static void test_prune_keep_last(void)
{
    const char *dir = wb_test_tmpdir("snap-prune");
    snap_store *s = open_store(dir);
    CHECK(s);
    uint64_t ids[10];
    for (int i = 0; i < 10; i++)
        CHECK((ids[i] = put_gen(s, "p", (uint64_t)(i + 1) * 10, 100, 1000)));
    CHECK(put_gen(s, "q", 5, 100, 1000) && put_gen(s, "q", 6, 100, 1000));
    snap_prune_policy p;
    snap_prune_policy_init(&p);
    CHECK_EQ_INT(p.keep_last, 3);
    p.now_us = 10000;
    uint32_t deleted = 0;
    CHECK_OK(snap_prune(s, "p", &p, &deleted));
    CHECK_EQ_INT(deleted, 7);
    list_acc a = {0};
    CHECK_OK(snap_list(s, "p", list_cb, &a));
    CHECK_EQ_INT(a.n, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_U64(a.ids[i], ids[7 + i]);
    snap_loaded l;
    CHECK_RC(snap_get_by_id(s, ids[0], &l), WB_ENOTFOUND);
    /* Board "q" untouched by a per-board prune, then pruned by the all-
     * boards form (keep 1). */
    list_acc q = {0};
    CHECK_OK(snap_list(s, "q", list_cb, &q));
    CHECK_EQ_INT(q.n, 2);
    p.keep_last = 1;
    CHECK_OK(snap_prune(s, NULL, &p, &deleted));
    CHECK_EQ_INT(deleted, 2 + 1);
    list_acc all = {0};
    CHECK_OK(snap_list(s, NULL, list_cb, &all));
    CHECK_EQ_INT(all.n, 2);
    CHECK(all.ids[0] == ids[9] && all.pos[1] == 6);
    snap_stats st;
    snap_get_stats(s, &st);
    CHECK_EQ_U64(st.pruned, 10);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_prune_history(void)
{
    const char *dir = wb_test_tmpdir("snap-history");
    snap_store *s = open_store(dir);
    CHECK(s);
    const int64_t H = 3600ll * 1000000;
    const int64_t now = 1000 * H; /* on an hour boundary */
    /* One snapshot every 20 minutes for the last 6 hours: 18 of them,
     * created at now - 6h + 20min*k, k = 1..18 (the last one at now). */
    uint64_t ids[19];
    int64_t times[19];
    for (int k = 1; k <= 18; k++) {
        times[k] = now - 6 * H + k * (H / 3);
        CHECK((ids[k] = put_gen(s, "h", (uint64_t)k, 50, times[k])));
    }
    snap_prune_policy p;
    snap_prune_policy_init(&p);
    p.now_us = now;
    p.keep_last = 2;
    p.keep_seconds = 3600; /* last hour: k with times >= now - 1h */
    p.hourly_hours = 4;    /* newest per hour bucket since now - 4h */
    uint32_t deleted;
    CHECK_OK(snap_prune(s, "h", &p, &deleted));
    /* Expected, computed from the rules independently of the code. */
    int keep[19] = {0}, nkeep = 0;
    for (int k = 1; k <= 18; k++) {
        if (k > 16)
            keep[k] = 1;
        if (times[k] >= now - H)
            keep[k] = 1;
        if (times[k] >= now - 4 * H) {
            int newest_in_bucket = 1;
            for (int j = k + 1; j <= 18; j++)
                if (times[j] / H == times[k] / H)
                    newest_in_bucket = 0;
            if (newest_in_bucket)
                keep[k] = 1;
        }
        nkeep += keep[k];
    }
    CHECK_EQ_INT(deleted, 18 - nkeep);
    for (int k = 1; k <= 18; k++) {
        snap_loaded l;
        int rc = snap_get_by_id(s, ids[k], &l);
        snap_loaded_free(&l);
        CHECK_MSG(rc == (keep[k] ? 0 : WB_ENOTFOUND),
                  "snapshot k=%d: %s, want %s", k, wb_errname(rc),
                  keep[k] ? "kept" : "deleted");
    }
    /* Sanity of the expectation itself: something of each kind. */
    CHECK(nkeep > 2 && nkeep < 18);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_prune_keeps_newest_valid(void)
{
    const char *dir = wb_test_tmpdir("snap-prune-valid");
    snap_store *s = open_store(dir);
    CHECK(s);
    uint64_t id1 = put_gen(s, "v", 1, 3000, 0);
    uint64_t id2 = put_gen(s, "v", 2, 3000, 0);
    uint64_t id3 = put_gen(s, "v", 3, 3000, 0);
    CHECK(id1 && id2 && id3);
    CHECK_OK(corrupt_value(s, id3, SNAP_VALUE_HEADER_SIZE + 30, 0x33));
    snap_prune_policy p;
    snap_prune_policy_init(&p);
    p.keep_last = 1;
    uint32_t deleted;
    CHECK_OK(snap_prune(s, "v", &p, &deleted));
    CHECK_EQ_INT(deleted, 1); /* id1 only: id2 is the newest valid */
    snap_loaded l;
    CHECK_OK(snap_get_latest(s, "v", UINT64_MAX, INT64_MAX, &l));
    int ok = l.info.id == id2 && l.skipped == 1;
    snap_loaded_free(&l);
    CHECK(ok);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

/* A write that does not fit the map fails with WB_EFULL and leaves nothing
 * behind: no entry, no consumed id; the store keeps working. */
static void test_map_full_aborts_cleanly(void)
{
    const char *dir = wb_test_tmpdir("snap-full");
    snap_options o;
    snap_options_init(&o);
    o.map_size = 1u << 20;
    o.no_sync = 1;
    snap_store *s;
    CHECK_OK(snap_store_open(dir, &o, &s));
    uint64_t id1 = put_gen(s, "f", 1, 1000, 0);
    CHECK(id1);
    size_t big = 2u << 20;
    uint8_t *rnd = malloc(big);
    uint64_t seed = 7;
    for (size_t i = 0; i < big; i++)
        rnd[i] = (uint8_t)snap_gen_next(&seed);
    uint64_t id = 0;
    int rc = snap_put(s, "f", rnd, big, 2, NULL, 0, 0, 0, &id);
    free(rnd);
    CHECK_RC(rc, WB_EFULL);
    CHECK_EQ_U64(id, 0);
    list_acc a = {0};
    CHECK_OK(snap_list(s, NULL, list_cb, &a));
    CHECK_EQ_INT(a.n, 1);
    uint64_t id2 = put_gen(s, "f", 3, 1000, 0);
    CHECK_EQ_U64(id2, id1 + 1);
    snap_loaded l;
    CHECK_OK(snap_get_latest(s, "f", UINT64_MAX, INT64_MAX, &l));
    int ok = l.info.id == id2 && loaded_matches(&l, 3, 1000);
    snap_loaded_free(&l);
    CHECK(ok);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_min_pos(void)
{
    const char *dir = wb_test_tmpdir("snap-minpos");
    snap_store *s = open_store(dir);
    CHECK(s);
    uint64_t pos = 99;
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 0); /* empty store: keep everything */
    CHECK(put_gen(s, "a", 50, 10, 0) && put_gen(s, "a", 100, 10, 0) &&
          put_gen(s, "b", 70, 10, 0) && put_gen(s, "c", 60, 10, 0) &&
          put_gen(s, "c", 90, 10, 0));
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 50);
    snap_prune_policy p;
    snap_prune_policy_init(&p);
    p.keep_last = 1;
    CHECK_OK(snap_prune(s, NULL, &p, NULL));
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 70); /* a:100, b:70, c:90 */
    snap_board_meta m;
    memset(&m, 0, sizeof m);
    strcpy(m.board, "d"); /* a live board with no snapshot */
    CHECK_OK(snap_board_put(s, &m));
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 0);
    m.deleted = 1;
    CHECK_OK(snap_board_put(s, &m));
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 70);
    strcpy(m.board, "b"); /* metadata of a board that has snapshots */
    m.deleted = 0;
    CHECK_OK(snap_board_put(s, &m));
    CHECK_OK(snap_min_pos(s, &pos));
    CHECK_EQ_U64(pos, 70);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_put_get_sizes);
    WB_RUN(test_put_rejects);
    WB_RUN(test_latest_pos_and_time);
    WB_RUN(test_list_order_and_delete);
    WB_RUN(test_corrupt_fallback);
    WB_RUN(test_value_decoder_errors);
    WB_RUN(test_prune_keep_last);
    WB_RUN(test_prune_history);
    WB_RUN(test_prune_keeps_newest_valid);
    WB_RUN(test_min_pos);
    WB_RUN(test_map_full_aborts_cleanly);
    return wb_test_summary();
}
