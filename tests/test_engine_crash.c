/*
 * test_engine_crash.c: SIGKILL the engine at random moments; every acked
 * batch must survive and no batch may be half applied.
 *
 * Each cycle forks a child that opens the engine on the same directory and
 * runs two submitter threads (thread i writes board "crash<i>"). Every batch
 * of thread i sets K elements t<i>_e0..e<K-1> to x = its batch number, and
 * batch numbers only grow (cycle * 10^6 + k). The child reports each ACKED
 * batch (thread, batch number) over a pipe; the parent kills it after a
 * random delay, counted from the fork in odd cycles (kills during
 * recovery) and from the engine being open in even ones (kills during
 * ingest and snapshots, the policy snapshots every 40 ops, on a machine
 * of any speed), then opens the engine itself and checks:
 *   - acked: every element of thread i has x >= the highest batch number
 *     acked for i in any cycle so far (later batches have later stamps, so
 *     LWW keeps the newest);
 *   - atomic: the K elements of a thread all hold the same x (a torn batch
 *     would leave some elements on an older number).
 * WB_CRASH_CYCLES (default 50) sets the number of cycles; WB_CRASH_SEED the
 * random seed (printed).
 */
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "engine_testkit.h"
#include "wbtest.h"

#define K 4
#define NTHREADS 2
#define OUTSTANDING 16
#define READY 0xFFFFFFFFu /* crash_msg.thread of the child's "engine open" */

typedef struct crash_msg {
    uint32_t thread;
    int32_t status;
    uint64_t batch;
} crash_msg;

static int g_fd;
static _Atomic int g_outstanding[NTHREADS];

static void child_ack(void *ctx, uint64_t token, const engine_ack *a)
{
    crash_msg m = {(uint32_t)(token >> 56), a->status,
                   token & ((1ull << 56) - 1)};
    if (write(g_fd, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(3);
    atomic_fetch_sub(&g_outstanding[m.thread], 1);
}

typedef struct child_arg {
    engine *e;
    uint32_t thread;
    uint64_t cycle;
} child_arg;

static void *child_submitter(void *p)
{
    child_arg *a = p;
    char bid[16], user[16], el[K][24];
    snprintf(bid, sizeof bid, "crash%u", a->thread);
    snprintf(user, sizeof user, "t%u", a->thread);
    for (int j = 0; j < K; j++)
        snprintf(el[j], sizeof el[j], "t%u_e%d", a->thread, j);
    for (uint64_t k = 1; k < 1000000; k++) {
        while (atomic_load(&g_outstanding[a->thread]) >= OUTSTANDING) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        uint64_t batch = a->cycle * 1000000u + k;
        wb_op ops[K];
        for (int j = 0; j < K; j++)
            tk_rect_op(&ops[j], user, el[j], batch * K + (uint64_t)j,
                       (int32_t)batch, (int32_t)a->thread);
        atomic_fetch_add(&g_outstanding[a->thread], 1);
        int rc = tk_submit(a->e, bid, ops, K,
                           ((uint64_t)a->thread << 56) | batch);
        if (rc)
            _exit(4);
    }
    return NULL;
}

static void engine_opts(engine_options *o, const char *dir)
{
    tk_options(o, dir);
    o->node_id = 77;
    o->snap_no_sync = 0;
    o->snap_every_ops = 40;
    o->snap_every_ms = 50;
    o->oplog.segment_size = 256u << 10; /* rolls during the run, cheap spares */
}

static void child_main(const char *dir, int fd, uint64_t cycle)
{
    g_fd = fd;
    engine_options o;
    engine_opts(&o, dir);
    engine_callbacks cb = {.on_ack = child_ack};
    engine *e;
    if (engine_open(&o, &cb, &e) != 0)
        _exit(2);
    crash_msg ready = {READY, 0, 0};
    if (write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        _exit(3);
    pthread_t th[NTHREADS];
    child_arg args[NTHREADS];
    for (uint32_t i = 0; i < NTHREADS; i++) {
        args[i] = (child_arg){e, i, cycle};
        pthread_create(&th[i], NULL, child_submitter, &args[i]);
    }
    sleep(5); /* bounded: the parent kills us long before */
    _exit(0);
}

static int g_ready;

static void read_msgs(int fd, uint64_t *max_acked, uint64_t *acks, int block)
{
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, block ? 1000 : 0) <= 0)
            return;
        crash_msg m[64];
        ssize_t n = read(fd, m, sizeof m);
        if (n <= 0)
            return;
        for (size_t i = 0; i < (size_t)n / sizeof m[0]; i++) {
            if (m[i].thread == READY)
                g_ready = 1;
            if (m[i].status != 0 || m[i].thread >= NTHREADS)
                continue;
            (*acks)++;
            if (m[i].batch > max_acked[m[i].thread])
                max_acked[m[i].thread] = m[i].batch;
        }
    }
}

/* Opens the engine in this process and checks both properties. */
static void verify(const char *dir, const uint64_t *max_acked, int *ok)
{
    *ok = 0;
    tk t;
    tk_init(&t);
    engine_options o;
    engine_opts(&o, dir);
    engine_callbacks cb = tk_callbacks(&t);
    engine *e;
    CHECK_OK(engine_open(&o, &cb, &e));
    for (uint32_t i = 0; i < NTHREADS; i++) {
        char bid[16], el[24];
        snprintf(bid, sizeof bid, "crash%u", i);
        int64_t first = -1;
        for (int j = 0; j < K; j++) {
            snprintf(el, sizeof el, "t%u_e%d", i, j);
            tk_read r;
            int rc = tk_read_board(e, bid, el, &r);
            vv_free(&r.version);
            int64_t x = rc == WB_ENOTFOUND ? 0 : r.x;
            CHECK_MSG(rc == 0 || rc == WB_ENOTFOUND, "read %s: %s", el,
                      wb_errname(rc));
            CHECK_MSG(x >= (int64_t)max_acked[i],
                      "thread %u element %d: x %lld < acked batch %llu", i,
                      j, (long long)x, (unsigned long long)max_acked[i]);
            if (first < 0)
                first = x;
            CHECK_MSG(x == first,
                      "half-applied batch: thread %u e0=%lld e%d=%lld", i,
                      (long long)first, j, (long long)x);
        }
    }
    CHECK_OK(engine_close(e));
    tk_free(&t);
    *ok = 1;
}

static void test_crash_cycles(void)
{
    const char *env = getenv("WB_CRASH_CYCLES");
    int cycles = env ? atoi(env) : 50;
    env = getenv("WB_CRASH_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
                        : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "  cycles=%d seed=%u\n", cycles, seed);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", wb_test_tmpdir("eng-crash"));
    uint64_t max_acked[NTHREADS] = {0};
    uint64_t total_acks = 0;
    uint64_t t0 = tk_now_ms();
    for (int c = 1; c <= cycles; c++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, fds[1], (uint64_t)c);
        }
        close(fds[1]);
        /* Odd cycles: the delay runs from the fork (kills land in recovery
         * too); even cycles: from the engine being open (kills land in
         * ingest however slow the machine is). */
        unsigned delay = 5 + (unsigned)(rand_r(&seed) % 250);
        uint64_t acks = 0;
        g_ready = 0;
        uint64_t limit = tk_now_ms() + 20000;
        if (c % 2 == 0)
            while (!g_ready && tk_now_ms() < limit) {
                read_msgs(fds[0], max_acked, &acks, 0);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        uint64_t end = tk_now_ms() + delay;
        while (tk_now_ms() < end) {
            read_msgs(fds[0], max_acked, &acks, 0);
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
        kill(pid, SIGKILL);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFSIGNALED(status),
                  "child exited by itself (status %d) in cycle %d",
                  WEXITSTATUS(status), c);
        read_msgs(fds[0], max_acked, &acks, 1);
        close(fds[0]);
        total_acks += acks;
        int ok;
        verify(dir, max_acked, &ok);
        CHECK_MSG(ok, "cycle %d (delay %u ms, %llu acks) failed", c, delay,
                  (unsigned long long)acks);
    }
    fprintf(stderr, "  %d cycles, %llu acked batches, %.1f s\n", cycles,
            (unsigned long long)total_acks,
            (double)(tk_now_ms() - t0) / 1000.0);
    CHECK_MSG(total_acks > 0, "no batch was ever acked: the test proves nothing");
    CHECK(max_acked[0] > 0 && max_acked[1] > 0);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_crash_cycles);
    return wb_test_summary();
}
