/*
 * test_engine_evict.c: the board cache and snapshots: evict + cold reload
 * keeps the state hash; memory stays under the budget with many boards;
 * the snapshot policy (every N ops, every T ms) fires; the oplog retention
 * floor is the minimum of what is still needed, and compaction honours it.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include "engine_testkit.h"
#include "restore.h"
#include "snap.h"
#include "wbtest.h"

static engine *open_with(engine_options *o, tk *t)
{
    engine_callbacks cb = tk_callbacks(t);
    engine *e = NULL;
    int rc = engine_open(o, &cb, &e);
    if (rc)
        fprintf(stderr, "engine_open: %s\n", wb_errname(rc));
    return e;
}

static int evict_all_fn(engine *e, void *arg)
{
    return engine_evict_all(e);
}

static int snap_all_fn(engine *e, void *arg)
{
    return engine_snapshot_all(e);
}

static int submit_board(engine *e, tk *t, const char *bid, int nops,
                        uint64_t cid0, size_t *acks)
{
    for (int i = 0; i < nops; i++) {
        wb_op op;
        char el[16];
        snprintf(el, sizeof el, "e%d", i % 10);
        tk_rect_op(&op, "u", el, cid0 + (uint64_t)i, (int32_t)(cid0 + (uint64_t)i), i);
        int rc = tk_submit(e, bid, &op, 1, cid0 + (uint64_t)i);
        if (rc)
            return rc;
    }
    *acks += (size_t)nops;
    return tk_wait_acks(t, *acks, 20000) ? 0 : WB_ETIMEDOUT;
}

static void test_evict_reload_same_hash(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-evict");
    engine_options o;
    tk_options(&o, dir);
    engine *e = open_with(&o, &t);
    CHECK(e);
    size_t acks = 0;
    CHECK_OK(submit_board(e, &t, "ev1", 40, 1, &acks));
    /* a delete, so tombstones go through the snapshot too */
    wb_op del;
    memset(&del, 0, sizeof del);
    del.kind = WB_OP_DELETE;
    del.client_op_id = 999;
    del.user = (wb_str){"u", 1};
    del.elem = (wb_str){"e3", 2};
    CHECK_OK(tk_submit(e, "ev1", &del, 1, 999));
    CHECK(tk_wait_acks(&t, ++acks, 10000));
    tk_read before;
    CHECK_OK(tk_read_board(e, "ev1", NULL, &before));
    CHECK_EQ_INT(before.count, 9);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.boards_loaded, 1);
    CHECK(st.mem_used > 0);
    CHECK_RC(engine_call(e, evict_all_fn, NULL, 10000), 0);
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.boards_loaded, 0);
    CHECK_EQ_U64(st.mem_used, 0);
    CHECK(st.snapshots >= 1);
    CHECK_EQ_U64(st.clean_pos, st.applied_seq);
    tk_read after;
    CHECK_OK(tk_read_board(e, "ev1", NULL, &after));
    CHECK_EQ_U64(after.hash, before.hash);
    CHECK(vv_compare(&after.version, &before.version) == VV_EQUAL);
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.boards_loaded, 1);
    vv_free(&after.version);
    /* New ops after a cold load continue the board. */
    CHECK_OK(submit_board(e, &t, "ev1", 5, 2000, &acks));
    CHECK_OK(tk_read_board(e, "ev1", "e1", &after));
    CHECK_EQ_INT(after.x, 2001);
    vv_free(&after.version);
    vv_free(&before.version);
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

static void test_memory_budget_many_boards(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-budget");
    engine_options o;
    tk_options(&o, dir);
    o.mem_budget = 256u << 10;
    engine *e = open_with(&o, &t);
    CHECK(e);
    enum { NB = 200 };
    size_t acks = 0;
    uint64_t peak = 0;
    for (int b = 0; b < NB; b++) {
        char bid[16];
        snprintf(bid, sizeof bid, "board%03d", b);
        CHECK_OK(submit_board(e, &t, bid, 20, (uint64_t)b * 100 + 1, &acks));
        engine_stats st;
        engine_get_stats(e, &st);
        if (st.mem_used > peak)
            peak = st.mem_used;
    }
    /* The loop evicts every 100 ms; dirty boards go after their snapshot. */
    engine_stats st;
    uint64_t end = tk_now_ms() + 10000;
    do {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        engine_get_stats(e, &st);
    } while (st.mem_used > o.mem_budget && tk_now_ms() < end);
    CHECK_MSG(st.mem_used <= o.mem_budget, "mem %llu > budget %llu",
              (unsigned long long)st.mem_used,
              (unsigned long long)o.mem_budget);
    CHECK(st.boards_evicted > 0);
    CHECK(st.boards_loaded < NB);
    fprintf(stderr, "  peak %llu bytes, settled %llu bytes, %llu loaded, "
            "%llu evictions\n", (unsigned long long)peak,
            (unsigned long long)st.mem_used,
            (unsigned long long)st.boards_loaded,
            (unsigned long long)st.boards_evicted);
    /* Every board comes back intact from its snapshot. */
    for (int b = 0; b < NB; b++) {
        char bid[16];
        snprintf(bid, sizeof bid, "board%03d", b);
        tk_read r;
        CHECK_OK(tk_read_board(e, bid, "e9", &r));
        CHECK_EQ_INT(r.count, 10);
        CHECK_EQ_INT(r.x, b * 100 + 1 + 19);
        vv_free(&r.version);
    }
    end = tk_now_ms() + 10000;
    do {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        engine_get_stats(e, &st);
    } while (st.mem_used > o.mem_budget && tk_now_ms() < end);
    CHECK(st.mem_used <= o.mem_budget);
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

static uint64_t snap_logs(tk *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->snapshot_logs;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static int wait_snap_logs(tk *t, uint64_t n, unsigned ms)
{
    uint64_t end = tk_now_ms() + ms;
    while (snap_logs(t) < n && tk_now_ms() < end) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return snap_logs(t) >= n;
}

static void test_snapshot_policy(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-policy");
    engine_options o;
    tk_options(&o, dir);
    o.snap_every_ops = 10;
    o.snap_every_ms = 0;
    engine *e = open_with(&o, &t);
    CHECK(e);
    size_t acks = 0;
    /* 9 ops: below the threshold, no snapshot however long we wait. */
    CHECK_OK(submit_board(e, &t, "p", 9, 1, &acks));
    CHECK(!wait_snap_logs(&t, 1, 400));
    for (int round = 1; round <= 3; round++) {
        CHECK_OK(submit_board(e, &t, "p", 10, (uint64_t)round * 100, &acks));
        CHECK_MSG(wait_snap_logs(&t, (uint64_t)round, 5000),
                  "no snapshot after round %d", round);
    }
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.snapshots, 3);
    CHECK(st.snapshot_ns_last > 0);
    CHECK(st.snapshot_ns_sum >= st.snapshot_ns_last);
    CHECK(st.snapshot_encode_ns_last > 0);
    CHECK_OK(engine_close(e));

    /* Time-based: one op, snapshot within snap_every_ms (+ a tick). */
    tk_reset(&t);
    o.snap_every_ops = 0;
    o.snap_every_ms = 200;
    e = open_with(&o, &t);
    CHECK(e);
    uint64_t base = snap_logs(&t);
    acks = 0;
    CHECK_OK(submit_board(e, &t, "q", 1, 5000, &acks));
    uint64_t t0 = tk_now_ms();
    CHECK(wait_snap_logs(&t, base + 1, 5000));
    CHECK(tk_now_ms() - t0 >= 100); /* not before the interval */
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

static int count_segments(const char *dir)
{
    char p[600];
    snprintf(p, sizeof p, "%s/oplog", dir);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strstr(de->d_name, ".wbseg") &&
            !strstr(de->d_name, "tmp") && !strstr(de->d_name, "spare"))
            n++;
    closedir(d);
    return n;
}

/* The seq of the first record at or after from (0: none). */
static uint64_t first_seq_from(const char *dir, uint64_t from)
{
    char p[600];
    snprintf(p, sizeof p, "%s/oplog", dir);
    oplog_reader *r;
    if (oplog_reader_open(p, from, &r) != 0)
        return 0;
    oplog_record rec;
    uint64_t seq = oplog_reader_next(r, &rec) == 1 ? rec.seq : 0;
    oplog_reader_close(r);
    return seq;
}

static void test_retention_floor(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-floor");
    engine_options o;
    tk_options(&o, dir);
    o.oplog.segment_size = 8192;
    o.snap_keep = 2;
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    engine *e = open_with(&o, &t);
    CHECK(e);
    /* Nothing snapshotted yet: everything is needed. */
    size_t acks = 0;
    CHECK_OK(submit_board(e, &t, "f", 200, 1, &acks));
    CHECK_EQ_U64(engine_retention_floor(e), 1);
    CHECK_RC(engine_call(e, snap_all_fn, NULL, 10000), 0);
    engine_stats st;
    engine_get_stats(e, &st);
    uint64_t p1 = st.clean_pos;
    CHECK_EQ_U64(p1, st.applied_seq);
    /* One snapshot at p1: floor p1 + 1. */
    CHECK_EQ_U64(engine_retention_floor(e), p1 + 1);
    CHECK_OK(submit_board(e, &t, "f", 300, 1000, &acks));
    CHECK_RC(engine_call(e, snap_all_fn, NULL, 10000), 0);
    engine_get_stats(e, &st);
    uint64_t p2 = st.clean_pos;
    CHECK(p2 > p1);
    /* Two snapshots kept: the older one (p1) still bounds the floor. */
    CHECK_EQ_U64(engine_retention_floor(e), p1 + 1);
    /* A registered floor lower than that wins. */
    CHECK_OK(engine_set_floor(e, "mirror", 5));
    CHECK_EQ_U64(engine_retention_floor(e), 5);
    int segs0 = count_segments(dir);
    CHECK(segs0 > 3);
    /* (a segment may hold seqs below 5 only: it may go) */
    int deleted = engine_compact(e);
    CHECK(deleted >= 0);
    CHECK_EQ_INT(count_segments(dir), segs0 - deleted);
    CHECK(first_seq_from(dir, 1) <= 5);
    int segs1 = segs0 - deleted;
    CHECK_EQ_U64(first_seq_from(dir, 5), 5);
    /* Dropped: segments wholly below p1 + 1 go, nothing at or above it. */
    CHECK_OK(engine_set_floor(e, "mirror", 0));
    deleted = engine_compact(e);
    CHECK_MSG(deleted > 0, "compact: %d", deleted);
    CHECK_EQ_INT(count_segments(dir), segs1 - deleted);
    CHECK(first_seq_from(dir, 1) > 5);
    CHECK(first_seq_from(dir, 1) <= p1 + 1);
    CHECK_EQ_U64(first_seq_from(dir, p1 + 1), p1 + 1);
    tk_read r;
    CHECK_OK(tk_read_board(e, "f", NULL, &r));
    uint64_t h = r.hash;
    vv_free(&r.version);
    CHECK_OK(engine_close(e));
    /* The compacted node restarts with the same state. */
    e = open_with(&o, &t);
    CHECK(e);
    CHECK_OK(tk_read_board(e, "f", NULL, &r));
    CHECK_EQ_U64(r.hash, h);
    vv_free(&r.version);
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

typedef struct find_snap {
    uint64_t newest_id, newest_pos;
    int n;
} find_snap;

static int find_snap_cb(void *arg, const snap_info *info)
{
    find_snap *f = arg;
    f->n++;
    if (info->pos >= f->newest_pos) {
        f->newest_pos = info->pos;
        f->newest_id = info->id;
    }
    return 0;
}

/* The newest snapshot is undecodable (and the one before it is gone): the
 * cold load falls back to an older snapshot and replays the board's
 * records after it from the oplog, ending at the same state. */
static void test_bad_snapshot_fallback(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-badsnap");
    engine_options o;
    tk_options(&o, dir);
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    o.snap_keep = 5;
    engine *e = open_with(&o, &t);
    CHECK(e);
    size_t acks = 0;
    CHECK_OK(submit_board(e, &t, "fb", 30, 1, &acks));
    CHECK_RC(engine_call(e, snap_all_fn, NULL, 10000), 0); /* S1 */
    CHECK_OK(submit_board(e, &t, "fb", 25, 100, &acks));
    tk_read r;
    CHECK_OK(tk_read_board(e, "fb", NULL, &r));
    uint64_t h = r.hash;
    vv_free(&r.version);
    CHECK_OK(engine_close(e)); /* S2 at close */

    char sdir[700];
    snprintf(sdir, sizeof sdir, "%s/snap", dir);
    snap_store *s;
    CHECK_OK(snap_store_open(sdir, NULL, &s));
    find_snap f = {0, 0, 0};
    CHECK_OK(snap_list(s, "fb", find_snap_cb, &f));
    CHECK_EQ_INT(f.n, 2);
    CHECK_OK(snap_delete(s, f.newest_id));
    static const char junk[] = "this is not a board state";
    CHECK_OK(snap_put(s, "fb", junk, sizeof junk, f.newest_pos, NULL, 0, 0,
                      0, NULL));
    snap_store_close(s);

    tk_reset(&t);
    e = open_with(&o, &t);
    CHECK(e);
    CHECK_OK(tk_read_board(e, "fb", "e9", &r));
    CHECK_EQ_U64(r.hash, h);
    CHECK_EQ_INT(r.x, 100 + 19);
    vv_free(&r.version);
    /* The board is dirty again (not covered by a good snapshot): a close
     * snapshots it, and the next open loads that one. */
    CHECK_OK(engine_close(e));
    e = open_with(&o, &t);
    CHECK(e);
    CHECK_OK(tk_read_board(e, "fb", NULL, &r));
    CHECK_EQ_U64(r.hash, h);
    vv_free(&r.version);
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

/* Child: 100 boards x 10 ops, no snapshot, then killed: everything is
 * left for the next open's replay. */
static void replay_child(const char *dir)
{
    tk t;
    tk_init(&t);
    engine_options o;
    tk_options(&o, dir);
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    o.mem_budget = 0;
    engine *e = open_with(&o, &t);
    if (!e)
        _exit(2);
    size_t acks = 0;
    for (int b = 0; b < 100; b++) {
        char bid[16];
        snprintf(bid, sizeof bid, "rp%03d", b);
        if (submit_board(e, &t, bid, 10, (uint64_t)b * 100 + 1, &acks))
            _exit(3);
    }
    raise(SIGKILL);
}

static void test_replay_keeps_budget(void)
{
    const char *d = wb_test_tmpdir("eng-rbudget");
    char dir[600];
    snprintf(dir, sizeof dir, "%s", d);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        replay_child(dir);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK_MSG(WIFSIGNALED(st), "replay child failed: %d", WEXITSTATUS(st));

    tk t;
    tk_init(&t);
    engine_options o;
    tk_options(&o, dir);
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    o.mem_budget = 64u << 10;
    engine *e = open_with(&o, &t);
    CHECK(e);
    engine_stats s;
    engine_get_stats(e, &s);
    CHECK_EQ_U64(s.recovery_records, 1000);
    uint64_t end = tk_now_ms() + 10000;
    while (s.mem_used > o.mem_budget && tk_now_ms() < end) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        engine_get_stats(e, &s);
    }
    CHECK_MSG(s.mem_used <= o.mem_budget, "mem %llu after replay",
              (unsigned long long)s.mem_used);
    CHECK(s.boards_evicted > 50);
    /* evicted while replaying, not only afterwards */
    fprintf(stderr, "  peak %llu boards loaded\n", (unsigned long long)t.peak_loaded);
    CHECK_MSG(t.peak_loaded <= 50, "peak %llu boards loaded",
              (unsigned long long)t.peak_loaded);
    for (int b = 0; b < 100; b++) {
        char bid[16];
        snprintf(bid, sizeof bid, "rp%03d", b);
        tk_read r;
        CHECK_OK(tk_read_board(e, bid, "e9", &r));
        CHECK_EQ_INT(r.count, 10);
        CHECK_EQ_INT(r.x, b * 100 + 10);
        vv_free(&r.version);
    }
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

/* What the engine leaves on disk is what restore (and wbctl) read: the
 * latest state, and the state at an earlier oplog position. */
static void test_restore_interop(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-restore");
    engine_options o;
    tk_options(&o, dir);
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    engine *e = open_with(&o, &t);
    CHECK(e);
    size_t acks = 0;
    CHECK_OK(submit_board(e, &t, "rs", 30, 1, &acks));
    CHECK_RC(engine_call(e, snap_all_fn, NULL, 10000), 0);
    engine_stats st;
    engine_get_stats(e, &st);
    uint64_t p1 = st.applied_seq;
    tk_read r;
    CHECK_OK(tk_read_board(e, "rs", NULL, &r));
    uint64_t h1 = r.hash;
    vv_free(&r.version);
    CHECK_OK(submit_board(e, &t, "rs", 20, 500, &acks));
    CHECK_OK(submit_board(e, &t, "other", 5, 900, &acks));
    CHECK_OK(tk_read_board(e, "rs", NULL, &r));
    uint64_t h2 = r.hash;
    vv_free(&r.version);
    CHECK(h1 != h2);
    CHECK_OK(engine_close(e));

    char sdir[700], odir[700];
    snprintf(sdir, sizeof sdir, "%s/snap", dir);
    snprintf(odir, sizeof odir, "%s/oplog", dir);
    snap_store *s;
    CHECK_OK(snap_store_open(sdir, NULL, &s));
    restore_target tl = {RESTORE_LATEST, 0, 0, 0};
    restore_result rr;
    CHECK_OK(restore_board(s, odir, "rs", &tl, NULL, &rr));
    uint64_t h;
    CHECK_OK(board_state_hash(rr.board, &h));
    CHECK_EQ_U64(h, h2);
    restore_result_free(&rr);
    restore_target ts = {RESTORE_SEQ, 0, p1, 0};
    CHECK_OK(restore_board(s, odir, "rs", &ts, NULL, &rr));
    CHECK_OK(board_state_hash(rr.board, &h));
    CHECK_EQ_U64(h, h1);
    restore_result_free(&rr);
    /* No snapshot at all: replay of the whole oplog gives it too. */
    CHECK_OK(restore_board(NULL, odir, "rs", &tl, NULL, &rr));
    CHECK_OK(board_state_hash(rr.board, &h));
    CHECK_EQ_U64(h, h2);
    restore_result_free(&rr);
    snap_store_close(s);
    tk_free(&t);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_evict_reload_same_hash);
    WB_RUN(test_memory_budget_many_boards);
    WB_RUN(test_snapshot_policy);
    WB_RUN(test_retention_floor);
    WB_RUN(test_bad_snapshot_fallback);
    WB_RUN(test_replay_keeps_budget);
    WB_RUN(test_restore_interop);
    return wb_test_summary();
}
