/*
 * test_snap_meta.c: board metadata (round trip, paginated listing, record
 * versioning and forward compatibility) and node records (node id, applied
 * position, cursors, kv) surviving close and reopen.
 */
#include <errno.h>

#include "snap.h"
#include "snap_internal.h"
#include "wbtest.h"

static snap_store *open_store(const char *dir, int read_only)
{
    snap_options o;
    snap_options_init(&o);
    o.map_size = 64u << 20;
    o.read_only = read_only;
    snap_store *s = NULL;
    int rc = snap_store_open(dir, &o, &s);
    if (rc != 0)
        fprintf(stderr, "snap_store_open: %s\n", wb_strerror(rc));
    return s;
}

static void fill_meta(snap_board_meta *m, int i)
{
    memset(m, 0, sizeof *m);
    snprintf(m->board, sizeof m->board, "board-%03d", i);
    snprintf(m->title, sizeof m->title, "Title %d: é ✓", i);
    snprintf(m->owner, sizeof m->owner, "user-%d", i * 7);
    m->created_us = 1700000000000000ll + i;
    m->updated_us = m->created_us + 5;
    m->deleted = i % 2;
    /* binary settings, with a NUL inside */
    m->settings_len = (uint32_t)(i % 5) * 3;
    for (uint32_t j = 0; j < m->settings_len; j++)
        m->settings[j] = (char)(j * 31 + i);
}

static int meta_equal(const snap_board_meta *a, const snap_board_meta *b)
{
    return strcmp(a->board, b->board) == 0 && strcmp(a->title, b->title) == 0 &&
           strcmp(a->owner, b->owner) == 0 && a->created_us == b->created_us &&
           a->updated_us == b->updated_us && a->deleted == b->deleted &&
           a->settings_len == b->settings_len &&
           memcmp(a->settings, b->settings, a->settings_len) == 0;
}

static void test_board_round_trip(void)
{
    const char *dir = wb_test_tmpdir("snapmeta-rt");
    snap_store *s = open_store(dir, 0);
    CHECK(s);
    static snap_board_meta m, got;
    fill_meta(&m, 4);
    m.settings_len = SNAP_SETTINGS_MAX;
    memset(m.settings, 'z', SNAP_SETTINGS_MAX);
    memset(m.title, 't', SNAP_TITLE_MAX);
    m.title[SNAP_TITLE_MAX] = 0;
    CHECK_OK(snap_board_put(s, &m));
    CHECK_OK(snap_board_get(s, m.board, &got));
    CHECK(meta_equal(&m, &got));
    /* Replace. */
    m.deleted = 0;
    strcpy(m.title, "renamed");
    m.settings_len = 0;
    CHECK_OK(snap_board_put(s, &m));
    CHECK_OK(snap_board_get(s, m.board, &got));
    CHECK(meta_equal(&m, &got));
    CHECK_RC(snap_board_get(s, "missing", &got), WB_ENOTFOUND);
    /* Bounds. */
    m.settings_len = SNAP_SETTINGS_MAX + 1;
    CHECK_RC(snap_board_put(s, &m), WB_ETOOBIG);
    m.settings_len = 0;
    memset(m.owner, 'o', sizeof m.owner); /* not terminated within bound */
    CHECK_RC(snap_board_put(s, &m), WB_ETOOBIG);
    strcpy(m.owner, "ok");
    m.board[0] = 0;
    CHECK_RC(snap_board_put(s, &m), WB_EINVAL);
    /* Delete. */
    CHECK_OK(snap_board_delete(s, "board-004"));
    CHECK_RC(snap_board_get(s, "board-004", &got), WB_ENOTFOUND);
    CHECK_RC(snap_board_delete(s, "board-004"), WB_ENOTFOUND);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

typedef struct page {
    int n;
    char last[SNAP_BOARD_ID_MAX + 1];
    int bad;
    int seen[64];
} page;

static int page_cb(void *arg, const snap_board_meta *m)
{
    page *p = arg;
    int i = atoi(m->board + 6);
    snap_board_meta want;
    fill_meta(&want, i);
    if (!meta_equal(&want, m) || strcmp(m->board, p->last) <= 0)
        p->bad++;
    if (i >= 0 && i < 64)
        p->seen[i]++;
    strcpy(p->last, m->board);
    p->n++;
    return 0;
}

static void test_board_list_paginated(void)
{
    const char *dir = wb_test_tmpdir("snapmeta-list");
    snap_store *s = open_store(dir, 0);
    CHECK(s);
    /* Inserted in a scrambled order. */
    for (int k = 0; k < 25; k++) {
        snap_board_meta m;
        fill_meta(&m, (k * 7) % 25);
        CHECK_OK(snap_board_put(s, &m));
    }
    page p = {0};
    int sizes[4], pages = 0;
    for (; pages < 4; pages++) {
        int before = p.n;
        int rc = snap_board_list(s, p.last, 10, page_cb, &p);
        CHECK_MSG(rc >= 0, "list: %s", wb_strerror(rc));
        CHECK_EQ_INT(rc, p.n - before);
        sizes[pages] = rc;
        if (rc == 0)
            break;
    }
    CHECK_EQ_INT(p.bad, 0);
    CHECK(sizes[0] == 10 && sizes[1] == 10 && sizes[2] == 5 && sizes[3] == 0);
    for (int i = 0; i < 25; i++)
        CHECK_MSG(p.seen[i] == 1, "board %d seen %d times", i, p.seen[i]);
    page all = {0};
    CHECK_EQ_INT(snap_board_list(s, NULL, 0, page_cb, &all), 25);
    page tail = {0};
    strcpy(tail.last, "board-022");
    CHECK_EQ_INT(snap_board_list(s, "board-022", 0, page_cb, &tail), 2);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

/* Writes a raw board record through the store's environment. */
static int put_raw_board(snap_store *s, const char *board, const void *rec,
                         size_t n)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {strlen(board), (void *)board}, d = {n, (void *)rec};
    rc = mdb_put(txn, s->db_board, &k, &d, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void test_board_record_versions(void)
{
    const char *dir = wb_test_tmpdir("snapmeta-ver");
    snap_store *s = open_store(dir, 0);
    CHECK(s);
    snap_board_meta got;
    /* v1 with an unknown tag 99 between known ones: skipped. */
    const uint8_t fwd[] = {1,  1, 0, 2, 0, 0, 0, 'h', 'i', /* title "hi" */
                           99, 0, 3, 0, 0, 0, 1, 2, 3,    /* unknown */
                           5,  0, 1, 0, 0, 0, 1};         /* deleted */
    CHECK_OK(put_raw_board(s, "fwd", fwd, sizeof fwd));
    CHECK_OK(snap_board_get(s, "fwd", &got));
    CHECK(strcmp(got.title, "hi") == 0 && got.deleted == 1 &&
          got.owner[0] == 0 && strcmp(got.board, "fwd") == 0);
    const uint8_t v2[] = {2, 1, 0, 0, 0, 0, 0};
    CHECK_OK(put_raw_board(s, "v2", v2, sizeof v2));
    CHECK_RC(snap_board_get(s, "v2", &got), WB_EBADVERSION);
    const uint8_t overrun[] = {1, 1, 0, 200, 0, 0, 0, 'x'};
    CHECK_OK(put_raw_board(s, "over", overrun, sizeof overrun));
    CHECK_RC(snap_board_get(s, "over", &got), WB_ECORRUPT);
    const uint8_t badlen[] = {1, 3, 0, 4, 0, 0, 0, 1, 2, 3, 4};
    CHECK_OK(put_raw_board(s, "badlen", badlen, sizeof badlen));
    CHECK_RC(snap_board_get(s, "badlen", &got), WB_ECORRUPT);
    const uint8_t cut[] = {1, 1, 0};
    CHECK_OK(put_raw_board(s, "cut", cut, sizeof cut));
    CHECK_RC(snap_board_get(s, "cut", &got), WB_ECORRUPT);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_node_records_survive_reopen(void)
{
    const char *dir = wb_test_tmpdir("snapmeta-node");
    snap_store *s = open_store(dir, 0);
    CHECK(s);
    uint64_t v;
    CHECK_RC(snap_node_id_get(s, &v), WB_ENOTFOUND);
    CHECK_RC(snap_applied_pos_get(s, &v), WB_ENOTFOUND);
    CHECK_RC(snap_cursor_get(s, "mirror", &v), WB_ENOTFOUND);
    CHECK_OK(snap_node_id_set(s, 0xABCDEF0123456789ull));
    CHECK_OK(snap_applied_pos_set(s, 1234567));
    CHECK_OK(snap_cursor_set(s, "mirror", 42));
    CHECK_OK(snap_cursor_set(s, "publish", 43));
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "replication/%d", i);
        CHECK_OK(snap_cursor_set(s, name, 1000u + (unsigned)i));
    }
    CHECK_OK(snap_cursor_set(s, "mirror", 44)); /* overwrite */
    CHECK_OK(snap_kv_put(s, "redis/stream/0", "1700000000000-5", 15));
    CHECK_OK(snap_kv_put(s, "empty", NULL, 0));
    CHECK_RC(snap_cursor_set(s, "", 1), WB_EINVAL);
    char longname[SNAP_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_RC(snap_cursor_set(s, longname, 1), WB_EINVAL);
    static char big[SNAP_BLOB_MAX + 1];
    CHECK_RC(snap_kv_put(s, "big", big, sizeof big), WB_ETOOBIG);
    snap_store_close(s);

    s = open_store(dir, 0);
    CHECK(s);
    CHECK_OK(snap_node_id_get(s, &v));
    CHECK_EQ_U64(v, 0xABCDEF0123456789ull);
    CHECK_OK(snap_applied_pos_get(s, &v));
    CHECK_EQ_U64(v, 1234567);
    CHECK_OK(snap_cursor_get(s, "mirror", &v));
    CHECK_EQ_U64(v, 44);
    CHECK_OK(snap_cursor_get(s, "publish", &v));
    CHECK_EQ_U64(v, 43);
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "replication/%d", i);
        CHECK_OK(snap_cursor_get(s, name, &v));
        CHECK_EQ_U64(v, 1000u + (unsigned)i);
    }
    char buf[64];
    size_t len = 0;
    CHECK_OK(snap_kv_get(s, "redis/stream/0", buf, sizeof buf, &len));
    CHECK(len == 15 && memcmp(buf, "1700000000000-5", 15) == 0);
    CHECK_RC(snap_kv_get(s, "redis/stream/0", buf, 4, &len), WB_ETOOBIG);
    CHECK_EQ_INT(len, 15);
    CHECK_OK(snap_kv_get(s, "empty", buf, sizeof buf, &len));
    CHECK_EQ_INT(len, 0);
    CHECK_OK(snap_kv_delete(s, "empty"));
    CHECK_RC(snap_kv_get(s, "empty", buf, sizeof buf, &len), WB_ENOTFOUND);
    /* A kv key never aliases a cursor of the same name. */
    CHECK_RC(snap_kv_get(s, "mirror", buf, sizeof buf, &len), WB_ENOTFOUND);
    snap_store_close(s);

    /* Read-only: reads work, writes are refused. */
    s = open_store(dir, 1);
    CHECK(s);
    CHECK_OK(snap_cursor_get(s, "mirror", &v));
    CHECK_EQ_U64(v, 44);
    CHECK_RC(snap_cursor_set(s, "mirror", 1), -EACCES);
    CHECK_RC(snap_put(s, "b", "x", 1, 1, NULL, 0, 0, 0, NULL), -EACCES);
    snap_store_close(s);
    wb_test_rmtree(dir);
}

static void test_open_errors(void)
{
    const char *dir = wb_test_tmpdir("snapmeta-open");
    char path[600];
    snprintf(path, sizeof path, "%s/none", dir);
    snap_store *s = NULL;
    snap_options o;
    snap_options_init(&o);
    o.read_only = 1;
    CHECK_RC(snap_store_open(path, &o, &s), WB_ENOTFOUND);
    CHECK(s == NULL);
    CHECK_RC(snap_store_open("", NULL, &s), WB_EINVAL);
    /* A store written by a future version is refused. */
    s = open_store(path, 0);
    CHECK(s);
    MDB_txn *txn;
    CHECK_OK(mdb_txn_begin(s->env, NULL, 0, &txn));
    CHECK_OK(snap_node_put_u64(s, txn, SNAP_NODE_KEY_VERSION, 2));
    CHECK_OK(mdb_txn_commit(txn));
    snap_store_close(s);
    s = NULL;
    CHECK_RC(snap_store_open(path, NULL, &s), WB_EBADVERSION);
    /* Not an LMDB file. */
    char f[700];
    snprintf(f, sizeof f, "%s/junk", dir);
    mkdir(f, 0755);
    snprintf(f, sizeof f, "%s/junk/data.mdb", dir);
    FILE *fp = fopen(f, "w");
    CHECK(fp);
    for (int i = 0; i < 8192; i++)
        fputc('j', fp);
    fclose(fp);
    snprintf(f, sizeof f, "%s/junk", dir);
    CHECK_RC(snap_store_open(f, NULL, &s), WB_EBADMAGIC);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_board_round_trip);
    WB_RUN(test_board_list_paginated);
    WB_RUN(test_board_record_versions);
    WB_RUN(test_node_records_survive_reopen);
    WB_RUN(test_open_errors);
    return wb_test_summary();
}
