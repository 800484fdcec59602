/*
 * test_oplog_faults.c: the oplog writer under injected I/O faults (faultio):
 * EIO on write and on fdatasync, short writes, ENOSPC (and space coming
 * back), in both the io_uring and the fallback path. After each run the log
 * is reopened with healthy I/O and read back: every acknowledged record must
 * be there, at the seq its callback reported, intact, and nothing may be
 * corrupt. Finally the fault point is moved across a whole workload one
 * operation at a time (SQLite style).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "crashkit.h"
#include "faultio.h"
#include "oplog.h"
#include "wbtest.h"

static int g_no_uring;

#define MAXREC 256

/* What the test knows: per record counter, the outcome of its batch. */
struct acks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t seq_of[MAXREC];
    int status[MAXREC];
    int completed[MAXREC];
    int calls; /* callbacks so far */
    int issued;
    uint32_t next_counter;
};

struct batch_arg {
    struct acks *a;
    uint32_t base, n;
};

static struct batch_arg g_args[MAXREC];

static void acks_init(struct acks *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
}

static void acks_destroy(struct acks *a)
{
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
}

static void acks_done(void *arg, uint64_t first, uint64_t last, int status)
{
    struct batch_arg *b = arg;
    struct acks *a = b->a;
    pthread_mutex_lock(&a->mu);
    for (uint32_t i = 0; i < b->n; i++) {
        a->seq_of[b->base + i] = first + i;
        a->status[b->base + i] = status;
        a->completed[b->base + i]++;
    }
    if (last - first + 1 != b->n)
        a->completed[b->base] += 100; /* flagged below */
    a->calls++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Appends a batch of n records of the given sizes; returns the append's
 * return code (the callback reports the outcome). */
static int acks_append(oplog *log, struct acks *a, uint32_t n,
                       const uint32_t *lens)
{
    static uint8_t bufs[4][2048];
    oplog_entry e[4];
    uint32_t base = a->next_counter;
    for (uint32_t i = 0; i < n; i++) {
        ck_payload_fill(bufs[i], lens[i], 9, base + i);
        e[i] = (oplog_entry){.type = 4, .payload = bufs[i], .len = lens[i]};
    }
    struct batch_arg *b = &g_args[a->issued];
    *b = (struct batch_arg){a, base, n};
    int rc = oplog_append_batch(log, e, n, acks_done, b, NULL);
    if (rc == 0) {
        a->issued++;
        a->next_counter += n;
    }
    return rc;
}

static int acks_wait(struct acks *a)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&a->mu);
    int rc = 0;
    while (a->calls < a->issued && rc == 0)
        rc = pthread_cond_timedwait(&a->cv, &a->mu, &dl);
    pthread_mutex_unlock(&a->mu);
    return a->calls == a->issued ? 0 : -1;
}

static int acks_status_one(oplog *log, struct acks *a, uint32_t len)
{
    uint32_t c = a->next_counter;
    int rc = acks_append(log, a, 1, &len);
    if (rc)
        return rc;
    if (acks_wait(a) != 0)
        return WB_ETIMEDOUT;
    return a->status[c];
}

/* Matches what was read back against the acks. */
static int acks_cb(void *arg, const oplog_record *rec, uint32_t p,
                   uint32_t c)
{
    struct acks *a = arg;
    if (p == 8)
        return 0; /* untracked marker records (test_enospc_queued) */
    if (p != 9 || c >= a->next_counter)
        return -1;
    if (a->status[c] == 0 && a->seq_of[c] != rec->seq)
        return -1;
    a->completed[c] += 1000; /* found */
    return 0;
}

/* Reopens dir with healthy I/O (recovery), then reads it: every acked
 * record present at its seq, each exactly once, nothing corrupt. Returns 0
 * or -1 with a message in err. */
static int verify_log(const char *dir, struct acks *a, char *err, size_t n,
                      uint64_t *records)
{
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 7;
    o.no_uring = g_no_uring;
    oplog *log;
    char why[256] = "";
    int rc = oplog_open(&o, &log, NULL, why, sizeof why);
    if (rc) {
        snprintf(err, n, "reopen: %s %s", wb_errname(rc), why);
        return -1;
    }
    oplog_close(log);
    ck_summary sum;
    if (ck_read_all(dir, acks_cb, a, &sum) != 0) {
        snprintf(err, n, "read: %s", sum.error);
        return -1;
    }
    for (uint32_t c = 0; c < a->next_counter; c++) {
        int found = a->completed[c] / 1000;
        int calls = a->completed[c] % 1000;
        if (calls != 1) {
            snprintf(err, n, "record %u completed %d times", c, calls);
            return -1;
        }
        if (found > 1 || (a->status[c] == 0 && found != 1)) {
            snprintf(err, n, "record %u (acked, seq %llu) found %d times", c,
                     (unsigned long long)a->seq_of[c], found);
            return -1;
        }
    }
    *records = sum.records;
    return 0;
}

static int open_faulty(const char *dir, faultio *f, uint64_t seg_size,
                       oplog **log)
{
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 7;
    o.no_uring = g_no_uring;
    o.segment_size = seg_size;
    o.io = faultio_io(f);
    int rc = oplog_open(&o, log, NULL, NULL, 0);
    faultio_reset_counts(f); /* rules count from the first append */
    return rc;
}

/* ---- single faults ---------------------------------------------------- */

static void run_eio(enum faultio_op kind)
{
    const char *dir = wb_test_tmpdir("flt-eio");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    CHECK_OK(open_faulty(dir, &f, 1 << 20, &log));
    for (int i = 0; i < 5; i++)
        CHECK_OK(acks_status_one(log, &a, 100));
    unsigned long syncs = faultio_count(&f, FAULTIO_FSYNC);
    CHECK_OK(faultio_add(&f, kind, faultio_count(&f, kind) + 1, FAULTIO_FAIL,
                         EIO, 0, 1));
    CHECK_RC(acks_status_one(log, &a, 100), WB_EIO);
    CHECK_RC(acks_status_one(log, &a, 100), WB_EFAILED);
    oplog_stats st;
    oplog_get_stats(log, &st);
    CHECK_EQ_INT(st.failed, 1);
    CHECK_EQ_U64(oplog_durable_seq(log), 5);
    CHECK_RC(oplog_close(log), WB_EIO);
    CHECK_EQ_U64(faultio_fired(&f), 1);
    /* At most the one fsync of the failing flush (the failed one itself,
     * or the one io_uring linked to the failed write): nothing is
     * retried-and-pretended. */
    CHECK(faultio_count(&f, FAULTIO_FSYNC) <= syncs + 1);
    if (kind == FAULTIO_FSYNC)
        CHECK_EQ_U64(faultio_count(&f, FAULTIO_FSYNC), syncs + 1);
    char err[300];
    uint64_t n = 0;
    CHECK_MSG(verify_log(dir, &a, err, sizeof err, &n) == 0, "%s", err);
    /* The failed record may be on disk (io_uring wrote it before the
     * injected error; the fallback's fdatasync never ran), never torn. */
    CHECK(n == 5 || n == 6);
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
}

static void test_write_eio(void) { run_eio(FAULTIO_WRITE); }
static void test_fsync_eio(void) { run_eio(FAULTIO_FSYNC); }

static void test_short_writes(void)
{
    const char *dir = wb_test_tmpdir("flt-short");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    CHECK_OK(open_faulty(dir, &f, 1 << 20, &log));
    /* Every write stops after 40 bytes; the writer must continue them. */
    CHECK_OK(faultio_add(&f, FAULTIO_WRITE, 1, FAULTIO_SHORT, 0, 40,
                         FAULTIO_FOREVER));
    for (int i = 0; i < 10; i++) {
        uint32_t lens[3] = {300, 17 + (uint32_t)i, 1000};
        CHECK_OK(acks_append(log, &a, 3, lens));
    }
    CHECK_OK(acks_wait(&a));
    for (uint32_t c = 0; c < a.next_counter; c++)
        CHECK_RC(a.status[c], 0);
    CHECK(faultio_fired(&f) > 30);
    CHECK_OK(oplog_close(log));
    char err[300];
    uint64_t n = 0;
    CHECK_MSG(verify_log(dir, &a, err, sizeof err, &n) == 0, "%s", err);
    CHECK_EQ_U64(n, 30);
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
}

static void test_enospc_write(void)
{
    const char *dir = wb_test_tmpdir("flt-nospc");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    CHECK_OK(open_faulty(dir, &f, 1 << 20, &log));
    for (int i = 0; i < 3; i++)
        CHECK_OK(acks_status_one(log, &a, 200));
    /* The disk fills up 40 bytes into the next write. */
    CHECK_OK(faultio_add(&f, FAULTIO_WRITE, faultio_count(&f, FAULTIO_WRITE) + 1,
                         FAULTIO_PARTIAL_FAIL, ENOSPC, 40, 1));
    uint32_t failed = a.next_counter;
    CHECK_RC(acks_status_one(log, &a, 200), WB_EFULL);
    CHECK_EQ_U64(a.seq_of[failed], 4);
    oplog_stats st;
    oplog_get_stats(log, &st);
    CHECK_EQ_INT(st.failed, 0);
    CHECK_EQ_U64(oplog_next_seq(log), 4); /* the seq is reused */
    /* Space is back: appends succeed, the first one reusing seq 4. */
    uint32_t next = a.next_counter;
    CHECK_OK(acks_status_one(log, &a, 300));
    CHECK_EQ_U64(a.seq_of[next], 4);
    CHECK_OK(acks_status_one(log, &a, 300));
    CHECK_OK(oplog_close(log));
    char err[300];
    uint64_t n = 0;
    CHECK_MSG(verify_log(dir, &a, err, sizeof err, &n) == 0, "%s", err);
    CHECK_EQ_U64(n, 5);
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
}

/* ENOSPC on a flush holding several batches: all of them, and what is
 * queued behind, fail with WB_EFULL; their seqs are given again. */
struct stall {
    _Atomic int release;
};

static void stall_done(void *arg, uint64_t first, uint64_t last, int st)
{
    struct stall *s = arg;
    /* Holds the writer thread so that the next batches queue up. */
    for (int i = 0; i < 2000 && !atomic_load(&s->release); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void test_enospc_queued(void)
{
    const char *dir = wb_test_tmpdir("flt-nospc-q");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    CHECK_OK(open_faulty(dir, &f, 1 << 20, &log));
    for (int i = 0; i < 2; i++)
        CHECK_OK(acks_status_one(log, &a, 100));
    static struct stall st;
    atomic_store(&st.release, 0);
    uint8_t buf[CK_MIN_PAYLOAD];
    ck_payload_fill(buf, sizeof buf, 8, 0);
    oplog_entry e = {.type = 1, .payload = buf, .len = sizeof buf};
    CHECK_OK(oplog_append_batch(log, &e, 1, stall_done, &st, NULL));
    /* seq 3 is written and its callback holds the writer: queue 4 more. */
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    CHECK_OK(faultio_add(&f, FAULTIO_WRITE, faultio_count(&f, FAULTIO_WRITE) + 1,
                         FAULTIO_PARTIAL_FAIL, ENOSPC, 100, 1));
    uint32_t first_counter = a.next_counter;
    for (int i = 0; i < 4; i++) {
        uint32_t lens[2] = {200, 300};
        CHECK_OK(acks_append(log, &a, 2, lens));
    }
    atomic_store(&st.release, 1);
    CHECK_OK(acks_wait(&a));
    for (uint32_t c = first_counter; c < a.next_counter; c++) {
        CHECK_RC(a.status[c], WB_EFULL);
        CHECK_EQ_U64(a.seq_of[c], 4 + (c - first_counter));
    }
    CHECK_EQ_U64(oplog_next_seq(log), 4);
    uint32_t next = a.next_counter;
    CHECK_OK(acks_status_one(log, &a, 64));
    CHECK_EQ_U64(a.seq_of[next], 4);
    CHECK_OK(oplog_close(log));
    char err[300];
    uint64_t n = 0;
    CHECK_MSG(verify_log(dir, &a, err, sizeof err, &n) == 0, "%s", err);
    CHECK_EQ_U64(n, 4); /* 1, 2, the stalled 3, and the new 4 */
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
}

/* ENOSPC while making the next segment ready: the batch that needs it gets
 * WB_EFULL; once space is back the roll happens. */
static void test_enospc_roll(void)
{
    const char *dir = wb_test_tmpdir("flt-nospc-roll");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    CHECK_OK(open_faulty(dir, &f, 4096, &log));
    CHECK_OK(faultio_add(&f, FAULTIO_OPEN, 1, FAULTIO_FAIL, ENOSPC, 0,
                         FAULTIO_FOREVER));
    for (int i = 0; i < 8; i++) /* 8 x 504 bytes fill the segment */
        CHECK_OK(acks_status_one(log, &a, 472));
    CHECK_RC(acks_status_one(log, &a, 472), WB_EFULL);
    CHECK_RC(acks_status_one(log, &a, 472), WB_EFULL);
    CHECK_EQ_U64(oplog_next_seq(log), 9);
    faultio_clear(&f);
    uint32_t next = a.next_counter;
    CHECK_OK(acks_status_one(log, &a, 472));
    CHECK_EQ_U64(a.seq_of[next], 9);
    CHECK_OK(oplog_close(log));
    char err[300];
    uint64_t n = 0;
    CHECK_MSG(verify_log(dir, &a, err, sizeof err, &n) == 0, "%s", err);
    CHECK_EQ_U64(n, 9);
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
}

/* ---- the sweep -------------------------------------------------------- */

/* A workload of rounds of 3 batches (1-3 records, 16..1500 bytes) issued
 * together, so flushes hold several batches; 8 KiB segments, so rolls and
 * spare preparation are part of the operation sequence. */
static void workload(oplog *log, struct acks *a, unsigned seed)
{
    for (int round = 0; round < 8; round++) {
        for (int k = 0; k < 3; k++) {
            uint32_t n = 1 + (uint32_t)rand_r(&seed) % 3, lens[3];
            for (uint32_t i = 0; i < n; i++)
                lens[i] = 16 + (uint32_t)rand_r(&seed) % 1485;
            if (acks_append(log, a, n, lens) != 0)
                return; /* failed state: appends refused */
        }
        if (acks_wait(a) != 0)
            return;
    }
}

/* Fails the step-th operation of kind with err; returns 1 once a step no
 * longer fires (the whole workload has been covered). */
static int sweep_step(enum faultio_op kind, int err, unsigned long step,
                      char *msg, size_t msglen)
{
    const char *dir = wb_test_tmpdir("flt-sweep");
    static faultio f;
    faultio_init(&f, NULL);
    static struct acks a;
    acks_init(&a);
    oplog *log;
    int rc = open_faulty(dir, &f, 8192, &log);
    if (rc) {
        snprintf(msg, msglen, "open: %s", wb_errname(rc));
        return -1;
    }
    faultio_add(&f, kind, step, FAULTIO_FAIL, err, 0, 1);
    workload(log, &a, 1234);
    int acks_ok = acks_wait(&a) == 0;
    oplog_stats st;
    oplog_get_stats(log, &st);
    int done = faultio_fired(&f) == 0;
    /* Space comes back: after ENOSPC the log keeps working. */
    faultio_clear(&f);
    int later = err == ENOSPC ? acks_status_one(log, &a, 64) : 0;
    int crc = oplog_close(log);
    uint64_t n = 0;
    int ret = done;
    if (!acks_ok) {
        snprintf(msg, msglen, "callbacks missing");
        ret = -1;
    } else if (err == ENOSPC && (st.failed || later != 0)) {
        snprintf(msg, msglen, "ENOSPC left the log failed (%s)",
                 wb_errname(later));
        ret = -1;
    } else if (st.failed && crc != WB_EIO) {
        snprintf(msg, msglen, "failed log closed with %s", wb_errname(crc));
        ret = -1;
    } else if (verify_log(dir, &a, msg, msglen, &n) != 0) {
        ret = -1;
    }
    acks_destroy(&a);
    faultio_destroy(&f);
    wb_test_rmtree(dir);
    return ret;
}

static void run_sweep(enum faultio_op kind, int err)
{
    unsigned long step;
    for (step = 1; step < 2000; step++) {
        char msg[300] = "";
        int r = sweep_step(kind, err, step, msg, sizeof msg);
        CHECK_MSG(r >= 0, "kind %d err %d step %lu: %s", kind, err, step,
                  msg);
        if (r == 1)
            break;
    }
    CHECK(step > 10 && step < 2000); /* the workload was covered */
}

static void test_sweep_write_eio(void) { run_sweep(FAULTIO_WRITE, EIO); }
static void test_sweep_fsync_eio(void) { run_sweep(FAULTIO_FSYNC, EIO); }
static void test_sweep_write_enospc(void) { run_sweep(FAULTIO_WRITE, ENOSPC); }
static void test_sweep_any_eio(void) { run_sweep(FAULTIO_ANY, EIO); }

int main(void)
{
    for (g_no_uring = 0; g_no_uring <= 1; g_no_uring++) {
        fprintf(stderr, "== mode: %s\n", g_no_uring ? "fallback" : "io_uring");
        WB_RUN(test_write_eio);
        WB_RUN(test_fsync_eio);
        WB_RUN(test_short_writes);
        WB_RUN(test_enospc_write);
        WB_RUN(test_enospc_roll);
        WB_RUN(test_enospc_queued);
        WB_RUN(test_sweep_write_eio);
        WB_RUN(test_sweep_fsync_eio);
        WB_RUN(test_sweep_write_enospc);
        WB_RUN(test_sweep_any_eio);
    }
    return wb_test_summary();
}
