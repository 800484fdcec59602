/*
 * test_engine_remote.c: what replication relies on in the engine.
 *   - engine_flush, the barrier the replication reader uses before it
 *     commits a stream cursor: once it returns 0, every remote batch
 *     submitted before it is in the oplog (durable_seq covers it, and a
 *     reopened engine has the ops);
 *   - the dedupe window also remembers replicated ops, so a client that
 *     moves from the origin node resends its unacked ops here and they
 *     are answered with the original stamps, not applied again (also
 *     after a restart: the window is rebuilt from the oplog);
 *   - a remote batch whose append fails with WB_EFULL (disk full: its seqs
 *     are reused) lets a later engine_flush pass although it was never
 *     logged; engine_stats.remote_lost counts its ops, which is how the
 *     reader knows not to commit its cursor; read again, the batch is
 *     dropped as seen (a later op of its origin raised the board's vector)
 *     unless submitted with engine_submit_remote_force, which logs it.
 */
#include <errno.h>
#include <time.h>

#include "engine_testkit.h"
#include "faultio.h"
#include "wbtest.h"

static engine *open_engine(const char *dir, tk *t)
{
    engine_options o;
    tk_options(&o, dir);
    o.node_id = 7;
    engine_callbacks cb = tk_callbacks(t);
    engine *e = NULL;
    int rc = engine_open(&o, &cb, &e);
    if (rc)
        fprintf(stderr, "engine_open: %s\n", wb_errname(rc));
    return e;
}

/* A remote batch of n rect ops from origin 99, oseqs from first, by user
 * "peer" with client op ids first.. */
static int submit_remote_how(engine *e, const char *bid, uint64_t first,
                             int n, int force)
{
    wb_op ops[16];
    char el[16][8];
    for (int i = 0; i < n; i++) {
        snprintf(el[i], sizeof el[i], "r%d", (int)first + i);
        tk_rect_op(&ops[i], "peer", el[i], first + (uint64_t)i, i, i);
        ops[i].has_stamp = 1;
        ops[i].stamp = (wb_stamp){(5000 + first + (uint64_t)i) << 16, 99,
                                  first + (uint64_t)i};
    }
    uint8_t *enc;
    size_t len;
    int rc = tk_encode(bid, ops, (uint32_t)n, &enc, &len);
    if (rc)
        return rc;
    wb_batch *b;
    rc = codec_decode_batch(enc, len, &b);
    free(enc);
    if (rc)
        return rc;
    rc = force ? engine_submit_remote_force(e, b) : engine_submit_remote(e, b);
    if (rc)
        codec_batch_free(b);
    return rc;
}

static int submit_remote(engine *e, const char *bid, uint64_t first, int n)
{
    return submit_remote_how(e, bid, first, n, 0);
}

static void test_flush_covers_remote(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-flush");
    engine *e = open_engine(dir, &t);
    CHECK(e);
    CHECK_OK(engine_flush(e, 5000)); /* nothing queued: returns at once */
    uint64_t oseq = 1;
    for (int round = 0; round < 20; round++) {
        CHECK_OK(submit_remote(e, round % 2 ? "b1" : "b2", oseq, 3));
        oseq += 3;
    }
    CHECK_OK(engine_flush(e, 10000));
    engine_stats st;
    engine_get_stats(e, &st);
    /* 20 records, one per batch, all durable when the barrier returned */
    CHECK_EQ_U64(st.durable_seq, 20);
    CHECK_OK(engine_close(e));

    tk_reset(&t);
    e = open_engine(dir, &t);
    CHECK(e);
    tk_read r;
    CHECK_OK(tk_read_board(e, "b1", NULL, &r));
    CHECK_EQ_INT(r.count, 30);
    CHECK_EQ_U64(vv_get(&r.version, 99), 60);
    vv_free(&r.version);
    CHECK_OK(engine_close(e));
    CHECK_RC(engine_flush(NULL, 10), WB_EINVAL);
    tk_free(&t);
    wb_test_rmtree(dir);
}

static void test_resend_of_replicated_ops(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-rdedupe");
    engine *e = open_engine(dir, &t);
    CHECK(e);
    CHECK_OK(submit_remote(e, "b", 40, 2)); /* ops 40, 41 of "peer" */
    CHECK_OK(engine_flush(e, 10000));
    for (int round = 0; round < 2; round++) {
        /* the client resends op 41 (and a new op 42) with the same ids */
        wb_op ops[2];
        tk_rect_op(&ops[0], "peer", "r41", 41, 1, 1);
        tk_rect_op(&ops[1], "peer", "n42", 42, 5, 5);
        CHECK_OK(tk_submit(e, "b", ops, 2, 100 + (uint64_t)round));
        CHECK(tk_wait_acks(&t, 1, 10000));
        tk_ack a;
        memset(&a, 0, sizeof a);
        CHECK(tk_find_ack(&t, 100 + (uint64_t)round, &a));
        CHECK_RC(a.status, 0);
        CHECK_EQ_INT(a.dups, round == 0 ? 1 : 2);
        CHECK_EQ_U64(a.stamps[0].node, 99); /* the original's stamp */
        CHECK_EQ_U64(a.stamps[0].oseq, 41);
        CHECK_EQ_U64(a.stamps[1].node, 7);
        tk_read r;
        CHECK_OK(tk_read_board(e, "b", "r41", &r));
        CHECK_EQ_INT(r.x, 1); /* submit_remote's x for index 1 */
        CHECK_EQ_U64(vv_get(&r.version, 7), 1);
        vv_free(&r.version);
        /* a restart rebuilds the window from the oplog, remote ops too */
        CHECK_OK(engine_close(e));
        tk_reset(&t);
        e = open_engine(dir, &t);
        CHECK(e);
    }
    CHECK_OK(engine_close(e));
    tk_free(&t);
    wb_test_rmtree(dir);
}

static void test_remote_lost_on_full_disk(void)
{
    tk t;
    tk_init(&t);
    const char *dir = wb_test_tmpdir("eng-rlost");
    faultio f;
    faultio_init(&f, NULL);
    engine_options o;
    tk_options(&o, dir);
    o.node_id = 7;
    o.oplog.io = faultio_io(&f);
    engine_callbacks cb = tk_callbacks(&t);
    engine *e = NULL;
    CHECK_OK(engine_open(&o, &cb, &e));
    CHECK_OK(submit_remote(e, "b", 1, 2));
    CHECK_OK(engine_flush(e, 10000));
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.remote_lost, 0);
    faultio_reset_counts(&f);
    CHECK_OK(faultio_add(&f, FAULTIO_WRITE, 1, FAULTIO_FAIL, ENOSPC, 0, 1));
    CHECK_OK(submit_remote(e, "b", 3, 2)); /* ENOSPC: WB_EFULL */
    for (int i = 0; i < 2000; i++) {
        engine_get_stats(e, &st);
        if (st.remote_lost)
            break;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_U64(st.remote_lost, 2);
    CHECK_OK(submit_remote(e, "b", 5, 1)); /* the disk has room again */
    CHECK_OK(engine_flush(e, 10000)); /* passes: the caveat */
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.remote_lost, 2);
    tk_read r;
    CHECK_RC(tk_read_board(e, "b", "r3", &r), WB_ENOTFOUND);
    vv_free(&r.version);
    /* read again as before: dropped, op 5 of the origin is logged */
    CHECK_OK(submit_remote(e, "b", 3, 2));
    CHECK_OK(engine_flush(e, 10000));
    CHECK_OK(tk_read_board(e, "b", NULL, &r));
    CHECK_EQ_INT(r.count, 3);
    vv_free(&r.version);
    /* forced (the reader re-reads after remote_lost grew): logged */
    CHECK_OK(submit_remote_how(e, "b", 3, 2, 1));
    CHECK_OK(engine_flush(e, 10000));
    CHECK_OK(tk_read_board(e, "b", NULL, &r));
    CHECK_EQ_INT(r.count, 5);
    vv_free(&r.version);
    engine_get_stats(e, &st);
    CHECK_EQ_U64(st.remote_lost, 2);
    CHECK_OK(engine_close(e));
    /* and after a restart, from the oplog */
    tk_reset(&t);
    cb = tk_callbacks(&t);
    o.oplog.io = NULL;
    CHECK_OK(engine_open(&o, &cb, &e));
    CHECK_OK(tk_read_board(e, "b", NULL, &r));
    CHECK_EQ_INT(r.count, 5);
    vv_free(&r.version);
    CHECK_OK(engine_close(e));
    faultio_destroy(&f);
    tk_free(&t);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_flush_covers_remote);
    WB_RUN(test_resend_of_replicated_ops);
    WB_RUN(test_remote_lost_on_full_disk);
    return wb_test_summary();
}
