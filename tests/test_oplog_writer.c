/*
 * test_oplog_writer.c: the oplog writer through the public API, checked
 * with the reader: round trips, many producers, segment rolls, reopen,
 * sync modes, retention, the directory lock, appends from callbacks.
 * Every test runs twice: io_uring and the pwrite fallback.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "crashkit.h"
#include "oplog.h"
#include "oplog_internal.h"
#include "wbtest.h"

static int g_no_uring; /* the mode of the current pass */

static void opts_for(oplog_options *o, const char *dir)
{
    oplog_options_init(o);
    o->dir = dir;
    o->node_id = 7;
    o->no_uring = g_no_uring;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Appends one ck record synchronously. */
static int append_ck(oplog *log, uint32_t producer, uint32_t counter,
                     uint32_t len, uint64_t *seq)
{
    uint8_t buf[4096];
    ck_payload_fill(buf, len, producer, counter);
    return oplog_append_sync(log, (uint16_t)(counter % 7 + 1), buf, len, seq);
}

/* ---- round trip ------------------------------------------------------- */

struct expect {
    uint64_t n;
    uint64_t seq_of[512]; /* counter -> seq */
    uint32_t len_of[512];
};

static int expect_cb(void *arg, const oplog_record *rec, uint32_t p,
                     uint32_t c)
{
    struct expect *e = arg;
    if (p != 1 || c >= e->n || e->seq_of[c] != rec->seq ||
        e->len_of[c] != rec->len || rec->type != (uint16_t)(c % 7 + 1))
        return -1;
    return 0;
}

static void test_roundtrip(void)
{
    const char *dir = wb_test_tmpdir("wr-rt");
    oplog_options o;
    opts_for(&o, dir);
    oplog *log;
    oplog_recovery rec;
    CHECK_OK(oplog_open(&o, &log, &rec, NULL, 0));
    CHECK_EQ_U64(rec.last_seq, 0);
    CHECK_EQ_U64(oplog_next_seq(log), 1);
    oplog_stats st;
    oplog_get_stats(log, &st);
    CHECK_EQ_INT(st.uring, !g_no_uring);
    static struct expect e;
    e.n = 300;
    for (uint32_t c = 0; c < e.n; c++) {
        e.len_of[c] = CK_MIN_PAYLOAD + (c * 53) % 3000;
        CHECK_OK(append_ck(log, 1, c, e.len_of[c], &e.seq_of[c]));
        CHECK_EQ_U64(e.seq_of[c], c + 1);
        CHECK(oplog_durable_seq(log) >= e.seq_of[c]);
    }
    oplog_get_stats(log, &st);
    CHECK_EQ_U64(st.appended_records, e.n);
    CHECK_EQ_U64(st.durable_records, e.n);
    CHECK(st.fsyncs >= 1 && st.batches >= 1);
    /* Every completed fdatasync is timed (io_uring and fallback alike). */
    CHECK_EQ_U64(st.fsync.count, st.fsyncs);
    CHECK(st.fsync.sum_ns > 0);
    CHECK_OK(oplog_close(log));
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, expect_cb, &e, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, e.n);
    CHECK_EQ_U64(sum.first_seq, 1);
    wb_test_rmtree(dir);
}

/* ---- many producers --------------------------------------------------- */

#define PROD_BATCHES 150
#define PROD_MAX 16

struct producer {
    oplog *log;
    uint32_t id;
    uint64_t first[PROD_BATCHES]; /* from oplog_append_batch */
    uint32_t nrec[PROD_BATCHES];
    uint32_t base[PROD_BATCHES]; /* counter of the batch's first record */
    _Atomic uint32_t callbacks;
    uint64_t cb_first[PROD_BATCHES]; /* in callback order */
    int cb_status[PROD_BATCHES];
    _Atomic int bad;
    uint64_t records;
    uint64_t *seq_of; /* counter -> seq, filled after the run */
};

struct cb_ctx {
    struct producer *p;
    uint32_t k;
};

static void producer_done(void *arg, uint64_t first, uint64_t last,
                          int status)
{
    struct cb_ctx *cx = arg;
    struct producer *p = cx->p;
    uint32_t i = atomic_fetch_add(&p->callbacks, 1);
    if (i >= PROD_BATCHES) {
        atomic_store(&p->bad, 1);
        return;
    }
    p->cb_first[i] = first;
    p->cb_status[i] = status;
    if (last - first + 1 != p->nrec[cx->k] || first != p->first[cx->k])
        atomic_store(&p->bad, 1);
}

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    static _Thread_local struct cb_ctx ctx[PROD_BATCHES];
    uint32_t counter = 0;
    uint8_t bufs[4][600];
    unsigned seed = p->id * 2654435761u + 1;
    for (uint32_t k = 0; k < PROD_BATCHES; k++) {
        oplog_entry e[4];
        uint32_t n = 1 + rand_r(&seed) % 4;
        p->base[k] = counter;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t len = CK_MIN_PAYLOAD + (uint32_t)rand_r(&seed) % 500;
            ck_payload_fill(bufs[j], len, p->id, counter++);
            e[j] = (oplog_entry){.type = 3, .payload = bufs[j], .len = len};
        }
        p->nrec[k] = n;
        ctx[k] = (struct cb_ctx){p, k};
        if (oplog_append_batch(p->log, e, n, producer_done, &ctx[k],
                               &p->first[k]) != 0)
            atomic_store(&p->bad, 1);
    }
    p->records = counter;
    /* The callbacks reference ctx (thread-local): wait for all of them. */
    for (int i = 0; i < 20000 && atomic_load(&p->callbacks) < PROD_BATCHES;
         i++)
        sleep_ms(1);
    return NULL;
}

static int producers_cb(void *arg, const oplog_record *rec, uint32_t p,
                        uint32_t c)
{
    struct producer *ps = arg;
    if (p >= PROD_MAX || !ps[p].seq_of || c >= ps[p].records)
        return -1;
    if (ps[p].seq_of[c] != rec->seq)
        return -1;
    ps[p].seq_of[c] = 0; /* each record exactly once */
    return 0;
}

static void run_producers(int nthreads)
{
    const char *dir = wb_test_tmpdir("wr-prod");
    oplog_options o;
    opts_for(&o, dir);
    o.segment_size = 256 << 10; /* a few rolls on the way */
    o.queue_records = 256;      /* producers block sometimes */
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static struct producer ps[PROD_MAX];
    pthread_t th[PROD_MAX];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < nthreads; i++) {
        ps[i].log = log;
        ps[i].id = (uint32_t)i;
        CHECK(pthread_create(&th[i], NULL, producer_main, &ps[i]) == 0);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    CHECK_OK(oplog_close(log));
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        struct producer *p = &ps[i];
        CHECK_MSG(!atomic_load(&p->bad), "producer %d saw a bad callback", i);
        CHECK_EQ_INT(atomic_load(&p->callbacks), PROD_BATCHES);
        for (uint32_t k = 0; k < PROD_BATCHES; k++) {
            CHECK_RC(p->cb_status[k], 0);
            /* callbacks in this producer's order */
            CHECK_EQ_U64(p->cb_first[k], p->first[k]);
            if (k)
                CHECK(p->first[k] > p->first[k - 1]);
        }
        p->seq_of = calloc(p->records, sizeof *p->seq_of);
        for (uint32_t k = 0; k < PROD_BATCHES; k++)
            for (uint32_t j = 0; j < p->nrec[k]; j++)
                p->seq_of[p->base[k] + j] = p->first[k] + j;
        total += p->records;
    }
    ck_summary sum;
    int rc = ck_read_all(dir, producers_cb, ps, &sum);
    for (int i = 0; i < nthreads; i++) {
        for (uint64_t c = 0; rc == 0 && c < ps[i].records; c++)
            if (ps[i].seq_of[c] != 0)
                rc = -2; /* acknowledged but not read back */
        free(ps[i].seq_of);
        ps[i].seq_of = NULL;
    }
    CHECK_MSG(rc == 0, "rc %d: %s", rc, sum.error);
    CHECK_EQ_U64(sum.records, total);
    CHECK_EQ_U64(sum.first_seq, 1);
    CHECK_EQ_U64(sum.last_seq, total);
    wb_test_rmtree(dir);
}

static void test_producers_1(void) { run_producers(1); }
static void test_producers_4(void) { run_producers(4); }
static void test_producers_16(void) { run_producers(16); }

/* ---- segment roll ----------------------------------------------------- */

/* 4096-byte segments hold 4032 bytes of records: 8 records of 504 bytes
 * (payload 472) fill one exactly. */
#define ROLL_LEN 472u

static void test_roll(void)
{
    const char *dir = wb_test_tmpdir("wr-roll");
    oplog_options o;
    opts_for(&o, dir);
    o.segment_size = 4096;
    CHECK_EQ_U64(oplog_record_size(ROLL_LEN), 504);
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    uint32_t c = 0;
    for (int i = 0; i < 9; i++) /* 8 fill segment 1 exactly, 1 in seg 2 */
        CHECK_OK(append_ck(log, 1, c++, ROLL_LEN, NULL));
    /* 7 records fit after the 1; a batch of 8 does not: it rolls whole. */
    static uint8_t big[40][ROLL_LEN];
    oplog_entry e[40];
    for (int j = 0; j < 8; j++) {
        ck_payload_fill(big[j], ROLL_LEN, 1, c++);
        e[j] = (oplog_entry){.type = 2, .payload = big[j], .len = ROLL_LEN};
    }
    uint64_t first = 0;
    CHECK_OK(oplog_append_batch(log, e, 8, NULL, NULL, &first));
    CHECK_EQ_U64(first, 10);
    /* A batch of 20 (> one segment) is split across three segments. */
    for (int j = 0; j < 20; j++) {
        ck_payload_fill(big[j], ROLL_LEN, 1, c++);
        e[j] = (oplog_entry){.type = 2, .payload = big[j], .len = ROLL_LEN};
    }
    CHECK_OK(oplog_append_batch(log, e, 20, NULL, NULL, &first));
    CHECK_EQ_U64(first, 18);
    CHECK_OK(append_ck(log, 1, c++, ROLL_LEN, NULL)); /* waits for all */
    oplog_stats st;
    oplog_get_stats(log, &st);
    CHECK_EQ_U64(st.segments_rolled, 5);
    CHECK_OK(oplog_close(log));
    uint64_t *firsts;
    size_t n;
    CHECK_OK(oplog_segment_list(dir, &firsts, &n));
    const uint64_t want[] = {1, 9, 10, 18, 26, 34};
    int same = n == 6;
    for (size_t i = 0; same && i < n; i++)
        same = firsts[i] == want[i];
    free(firsts);
    CHECK_MSG(same, "segments: %zu, not 1 9 10 18 26 34", n);
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, NULL, NULL, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, c);
    wb_test_rmtree(dir);
}

/* ---- reopen ----------------------------------------------------------- */

static void test_reopen(void)
{
    const char *dir = wb_test_tmpdir("wr-reopen");
    oplog_options o;
    opts_for(&o, dir);
    o.segment_size = 8192;
    oplog *log;
    uint32_t c = 0;
    for (int round = 0; round < 3; round++) {
        oplog_recovery rec;
        CHECK_OK(oplog_open(&o, &log, &rec, NULL, 0));
        CHECK_EQ_U64(rec.last_seq, c);
        CHECK_EQ_U64(oplog_next_seq(log), c + 1);
        CHECK_EQ_U64(oplog_durable_seq(log), c);
        for (int i = 0; i < 40; i++) {
            uint64_t seq;
            CHECK_OK(append_ck(log, 1, c, 100 + c, &seq));
            CHECK_EQ_U64(seq, ++c);
        }
        CHECK_OK(oplog_close(log));
    }
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, NULL, NULL, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, c);
    wb_test_rmtree(dir);
}

/* ---- sync modes ------------------------------------------------------- */

struct count_cb {
    _Atomic uint64_t ok, bad;
};

static void count_done(void *arg, uint64_t first, uint64_t last, int status)
{
    struct count_cb *cc = arg;
    if (status == 0)
        atomic_fetch_add(&cc->ok, last - first + 1);
    else
        atomic_fetch_add(&cc->bad, 1);
}

static void run_mode(oplog_sync_mode mode)
{
    const char *dir = wb_test_tmpdir("wr-mode");
    oplog_options o;
    opts_for(&o, dir);
    o.sync = mode;
    o.sync_interval_ms = 20;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    struct count_cb cc = {0, 0};
    uint8_t buf[64];
    for (uint32_t c = 0; c < 500; c++) {
        ck_payload_fill(buf, sizeof buf, 2, c);
        oplog_entry e = {.type = 1, .payload = buf, .len = sizeof buf};
        CHECK_OK(oplog_append_batch(log, &e, 1, count_done, &cc, NULL));
    }
    for (int i = 0; i < 5000 && atomic_load(&cc.ok) < 500; i++)
        sleep_ms(1);
    CHECK_EQ_U64(atomic_load(&cc.ok), 500);
    CHECK_EQ_U64(atomic_load(&cc.bad), 0);
    CHECK_EQ_U64(oplog_durable_seq(log), 500);
    oplog_stats st;
    oplog_get_stats(log, &st);
    if (mode == OPLOG_SYNC_NONE)
        CHECK_EQ_U64(st.fsyncs, 0);
    if (mode == OPLOG_SYNC_INTERVAL) {
        for (int i = 0; i < 200 && st.fsyncs == 0; i++) {
            sleep_ms(5);
            oplog_get_stats(log, &st);
        }
        CHECK_MSG(st.fsyncs >= 1, "interval mode never synced");
        sleep_ms(60); /* no new writes: no new fsyncs */
        uint64_t before = st.fsyncs;
        sleep_ms(60);
        oplog_get_stats(log, &st);
        CHECK_EQ_U64(st.fsyncs, before);
    }
    CHECK_OK(oplog_close(log));
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, NULL, NULL, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, 500);
    wb_test_rmtree(dir);
}

static void test_interval_mode(void) { run_mode(OPLOG_SYNC_INTERVAL); }
static void test_none_mode(void) { run_mode(OPLOG_SYNC_NONE); }

/* ---- retention -------------------------------------------------------- */

static void test_retention(void)
{
    const char *dir = wb_test_tmpdir("wr-retain");
    oplog_options o;
    opts_for(&o, dir);
    o.segment_size = 4096;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    uint32_t c = 0;
    for (int i = 0; i < 8 * 5 + 3; i++) /* segments 1,9,17,25,33,41 */
        CHECK_OK(append_ck(log, 1, c++, ROLL_LEN, NULL));
    uint64_t freed = 0;
    CHECK_RC(oplog_retain_from(log, 20, &freed), 2); /* 1..8, 9..16 */
    CHECK_EQ_U64(freed, 2 * 4096);
    CHECK_RC(oplog_retain_from(log, 20, &freed), 0);
    CHECK_RC(oplog_retain_from(log, UINT64_MAX, &freed), 3);
    uint64_t *firsts;
    size_t n;
    CHECK_OK(oplog_segment_list(dir, &firsts, &n));
    uint64_t only = n == 1 ? firsts[0] : 0;
    free(firsts);
    CHECK_EQ_U64(n, 1);
    CHECK_EQ_U64(only, 41); /* the active segment stays */
    CHECK_OK(append_ck(log, 1, c++, ROLL_LEN, NULL));
    CHECK_OK(oplog_close(log));
    oplog_reader *r;
    CHECK_OK(oplog_reader_open(dir, 0, &r));
    oplog_record rec;
    uint64_t seen = 0, want = 41;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1)
        if (rec.seq == want + seen)
            seen++;
    oplog_reader_close(r);
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(seen, 4);
    wb_test_rmtree(dir);
}

/* ---- lock, validation, callbacks -------------------------------------- */

static void test_busy(void)
{
    const char *dir = wb_test_tmpdir("wr-busy");
    oplog_options o;
    opts_for(&o, dir);
    oplog *a, *b = NULL;
    CHECK_OK(oplog_open(&o, &a, NULL, NULL, 0));
    CHECK_RC(oplog_open(&o, &b, NULL, NULL, 0), WB_EBUSY);
    CHECK(b == NULL);
    CHECK_OK(oplog_close(a));
    CHECK_OK(oplog_open(&o, &b, NULL, NULL, 0));
    CHECK_OK(oplog_close(b));
    wb_test_rmtree(dir);
}

static void test_invalid(void)
{
    const char *dir = wb_test_tmpdir("wr-inval");
    oplog_options o;
    opts_for(&o, dir);
    o.segment_size = 4096;
    oplog *log;
    CHECK_RC(oplog_open(NULL, &log, NULL, NULL, 0), WB_EINVAL);
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static uint8_t big[8192];
    oplog_entry e = {.type = 1, .payload = big, .len = 4033};
    CHECK_RC(oplog_append_batch(log, &e, 1, NULL, NULL, NULL), WB_EINVAL);
    CHECK_RC(oplog_append_batch(log, &e, 0, NULL, NULL, NULL), WB_EINVAL);
    e.len = OPLOG_MAX_PAYLOAD + 1;
    CHECK_RC(oplog_append_batch(log, &e, 1, NULL, NULL, NULL), WB_EINVAL);
    e.payload = NULL;
    e.len = 10;
    CHECK_RC(oplog_append_batch(log, &e, 1, NULL, NULL, NULL), WB_EINVAL);
    CHECK_EQ_U64(oplog_next_seq(log), 1); /* nothing consumed a seq */
    CHECK_OK(oplog_close(log));
    wb_test_rmtree(dir);
}

struct reentry {
    oplog *log;
    int rcs[3];
    int sync_rc;
    _Atomic int calls;
};

static void reentry_done(void *arg, uint64_t first, uint64_t last, int st)
{
    struct reentry *r = arg;
    if (atomic_fetch_add(&r->calls, 1) != 0)
        return;
    uint8_t buf[CK_MIN_PAYLOAD];
    for (int i = 0; i < 3; i++) {
        ck_payload_fill(buf, sizeof buf, 3, (uint32_t)i);
        oplog_entry e = {.type = 1, .payload = buf, .len = sizeof buf};
        r->rcs[i] = oplog_append_batch(r->log, &e, 1, reentry_done, r, NULL);
    }
    r->sync_rc = oplog_append_sync(r->log, 1, buf, sizeof buf, NULL);
}

static void test_append_from_callback(void)
{
    const char *dir = wb_test_tmpdir("wr-cb");
    oplog_options o;
    opts_for(&o, dir);
    o.queue_records = 2;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static struct reentry r;
    memset(&r, 0, sizeof r);
    r.log = log;
    uint8_t buf[CK_MIN_PAYLOAD];
    ck_payload_fill(buf, sizeof buf, 3, 99);
    oplog_entry e = {.type = 1, .payload = buf, .len = sizeof buf};
    CHECK_OK(oplog_append_batch(log, &e, 1, reentry_done, &r, NULL));
    for (int i = 0; i < 5000 && atomic_load(&r.calls) < 3; i++)
        sleep_ms(1);
    CHECK_EQ_INT(atomic_load(&r.calls), 3); /* first + the two queued */
    CHECK_RC(r.rcs[0], 0);
    CHECK_RC(r.rcs[1], 0);
    CHECK_RC(r.rcs[2], WB_EAGAIN); /* queue of 2 full: no deadlock */
    CHECK_RC(r.sync_rc, WB_EAGAIN);
    CHECK_OK(oplog_close(log));
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, NULL, NULL, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, 3);
    wb_test_rmtree(dir);
}

/* oplog_close completes and writes everything queued before it. */
static void test_close_drains(void)
{
    const char *dir = wb_test_tmpdir("wr-drain");
    oplog_options o;
    opts_for(&o, dir);
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    struct count_cb cc = {0, 0};
    uint8_t buf[200];
    for (uint32_t c = 0; c < 2000; c++) {
        ck_payload_fill(buf, sizeof buf, 4, c);
        oplog_entry e = {.type = 1, .payload = buf, .len = sizeof buf};
        CHECK_OK(oplog_append_batch(log, &e, 1, count_done, &cc, NULL));
    }
    CHECK_OK(oplog_close(log)); /* no wait before it */
    CHECK_EQ_U64(atomic_load(&cc.ok), 2000);
    CHECK_EQ_U64(atomic_load(&cc.bad), 0);
    ck_summary sum;
    CHECK_MSG(ck_read_all(dir, NULL, NULL, &sum) == 0, "%s", sum.error);
    CHECK_EQ_U64(sum.records, 2000);
    wb_test_rmtree(dir);
}

/* WB_OPLOG_NO_URING=1 forces the fallback whatever the options say. */
static void test_dur_hist_buckets(void)
{
    /* le is inclusive: a duration equal to a bound lands in that bucket;
     * past the last bound, +Inf. */
    static dur_hist h;
    dur_hist_observe(&h, 0);
    dur_hist_observe(&h, 50000);      /* 50 us */
    dur_hist_observe(&h, 50001);
    dur_hist_observe(&h, 1000000000); /* 1 s */
    dur_hist_observe(&h, 1000000001);
    dur_hist_counts c;
    dur_hist_read(&h, &c);
    CHECK_EQ_U64(c.count, 5);
    CHECK_EQ_U64(c.bucket[0], 2);
    CHECK_EQ_U64(c.bucket[1], 1);
    CHECK_EQ_U64(c.bucket[DUR_HIST_BOUNDS - 1], 1);
    CHECK_EQ_U64(c.bucket[DUR_HIST_BOUNDS], 1);
    CHECK_EQ_U64(c.sum_ns, 2000000000u + 100002u);
}

static void test_env_forces_fallback(void)
{
    const char *dir = wb_test_tmpdir("wr-env");
    oplog_options o;
    opts_for(&o, dir);
    o.no_uring = 0;
    setenv("WB_OPLOG_NO_URING", "1", 1);
    oplog *log;
    int rc = oplog_open(&o, &log, NULL, NULL, 0);
    unsetenv("WB_OPLOG_NO_URING");
    CHECK_OK(rc);
    oplog_stats st;
    oplog_get_stats(log, &st);
    CHECK_EQ_INT(st.uring, 0);
    CHECK_OK(append_ck(log, 1, 0, 100, NULL));
    CHECK_OK(oplog_close(log));
    wb_test_rmtree(dir);
}

int main(void)
{
    for (g_no_uring = 0; g_no_uring <= 1; g_no_uring++) {
        fprintf(stderr, "== mode: %s\n", g_no_uring ? "fallback" : "io_uring");
        WB_RUN(test_roundtrip);
        WB_RUN(test_producers_1);
        WB_RUN(test_producers_4);
        WB_RUN(test_producers_16);
        WB_RUN(test_roll);
        WB_RUN(test_reopen);
        WB_RUN(test_interval_mode);
        WB_RUN(test_none_mode);
        WB_RUN(test_retention);
        WB_RUN(test_busy);
        WB_RUN(test_invalid);
        WB_RUN(test_append_from_callback);
        WB_RUN(test_close_drains);
    }
    WB_RUN(test_env_forces_fallback);
    WB_RUN(test_dur_hist_buckets);
    return wb_test_summary();
}
