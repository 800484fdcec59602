/*
 * test_oplog_crash.c: kill the writer's process and check what survives.
 *
 * Each cycle forks a child that opens the log and appends continuously from
 * three threads (batches of 1-4 records of random sizes, self-checking ck
 * payloads). Its completion callback reports every acknowledged record as
 * (seq, XXH3 of payload) over a pipe, after the ack. The parent ends the
 * child either
 *   - with SIGKILL at a random moment, or
 *   - through faultio inside the I/O layer: the child dies (SIGKILL or
 *     _exit) right before or right after its k-th file operation, k random,
 *     which lands crashes inside recovery, segment preparation, activation,
 *     writes and fdatasyncs;
 * then reopens the log (recovery must succeed: a torn tail is cut, never
 * reported as corruption) and reads it whole: seqs contiguous, every
 * payload intact, and every record ever acknowledged present at its seq
 * with its hash. Acks accumulate over cycles, so a later recovery that lost
 * an earlier record is caught too. Cycles alternate io_uring and fallback.
 *
 * WB_CRASH_CYCLES (default 50) sets the number of cycles of each kind.
 * A process kill keeps the page cache, so this tests the writer's ordering
 * and recovery, not the disk's; power loss is out of reach of a test.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "crashkit.h"
#include "faultio.h"
#include "oplog.h"
#include "wbtest.h"

#define CHILD_THREADS 3
#define SEG_SIZE (64u << 10)
#define CHILD_BATCHES 150 /* per thread and cycle */

struct report {
    uint64_t seq;
    uint64_t hash;
};

/* ---- the child ---------------------------------------------------------- */

struct child_batch {
    uint32_t n;
    uint64_t hash[4];
};

static int g_report_fd;
static pthread_mutex_t g_report_mu = PTHREAD_MUTEX_INITIALIZER;

static void child_done(void *arg, uint64_t first, uint64_t last, int status)
{
    struct child_batch *b = arg;
    if (status == 0) {
        struct report r[4];
        for (uint32_t i = 0; i < b->n; i++)
            r[i] = (struct report){first + i, b->hash[i]};
        pthread_mutex_lock(&g_report_mu);
        ssize_t w = write(g_report_fd, r, b->n * sizeof r[0]);
        pthread_mutex_unlock(&g_report_mu);
        (void)w;
    }
    free(b);
}

struct child_thread {
    oplog *log;
    uint32_t id;
    unsigned seed;
};

static void *child_producer(void *arg)
{
    struct child_thread *t = arg;
    uint8_t bufs[4][1024];
    uint32_t counter = 0;
    /* Bounded, so that the log (read whole after every cycle) stays
     * small; then wait for the kill. */
    for (int k = 0; k < CHILD_BATCHES; k++) {
        struct child_batch *b = malloc(sizeof *b);
        if (!b)
            _exit(3);
        oplog_entry e[4];
        b->n = 1 + (uint32_t)rand_r(&t->seed) % 4;
        for (uint32_t i = 0; i < b->n; i++) {
            uint32_t len = CK_MIN_PAYLOAD + (uint32_t)rand_r(&t->seed) % 1000;
            ck_payload_fill(bufs[i], len, t->id, counter++);
            b->hash[i] = ck_hash(bufs[i], len);
            e[i] = (oplog_entry){.type = 5, .payload = bufs[i], .len = len};
        }
        if (oplog_append_batch(t->log, e, b->n, child_done, b, NULL) != 0)
            _exit(4); /* only a kill should end this loop */
    }
    for (;;)
        pause();
    return NULL;
}

/* crash_step 0: run until killed; otherwise die at that I/O operation. */
static void child_main(const char *dir, int fd, int no_uring,
                       unsigned long crash_step, int how, unsigned seed)
{
    g_report_fd = fd;
    static faultio f;
    faultio_init(&f, NULL);
    if (crash_step) {
        faultio_add(&f, FAULTIO_ANY, crash_step,
                    how & 1 ? FAULTIO_CRASH_AFTER : FAULTIO_CRASH_BEFORE, 0,
                    0, 1);
        faultio_set_crash_signal(&f, how & 2 ? SIGKILL : 0);
    }
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 7;
    o.segment_size = SEG_SIZE;
    o.queue_records = 1024;
    o.no_uring = no_uring;
    o.io = faultio_io(&f);
    oplog *log;
    int rc = oplog_open(&o, &log, NULL, NULL, 0);
    if (rc) {
        fprintf(stderr, "child: open: %s\n", wb_errname(rc));
        _exit(2);
    }
    static struct child_thread th[CHILD_THREADS];
    pthread_t tid[CHILD_THREADS];
    for (uint32_t i = 0; i < CHILD_THREADS; i++) {
        th[i] = (struct child_thread){log, i, seed * 31u + i};
        pthread_create(&tid[i], NULL, child_producer, &th[i]);
    }
    for (;;)
        pause();
}

/* ---- the parent ----------------------------------------------------------- */

struct acked {
    uint64_t *hash; /* by seq; 0: not acknowledged */
    uint64_t cap;
    uint64_t count;
    int conflict;
};

static void acked_add(struct acked *a, const struct report *r)
{
    if (r->seq >= a->cap) {
        uint64_t cap = a->cap ? a->cap : 4096;
        while (cap <= r->seq)
            cap *= 2;
        a->hash = realloc(a->hash, cap * sizeof *a->hash);
        memset(a->hash + a->cap, 0, (cap - a->cap) * sizeof *a->hash);
        a->cap = cap;
    }
    uint64_t h = r->hash ? r->hash : 1;
    if (a->hash[r->seq] && a->hash[r->seq] != h)
        a->conflict = 1; /* the same seq acked twice with other content */
    if (!a->hash[r->seq])
        a->count++;
    a->hash[r->seq] = h;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads reports until EOF; kills the child at kill_at_ms (or at the
 * safety deadline). Returns the number of reports. */
static uint64_t collect(int fd, pid_t pid, uint64_t kill_at_ms,
                        struct acked *a)
{
    uint8_t buf[8192];
    size_t have = 0;
    uint64_t n = 0;
    int killed = 0;
    uint64_t deadline = now_ms() + 10000;
    for (;;) {
        uint64_t now = now_ms();
        if (!killed && (now >= kill_at_ms || now >= deadline)) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait = killed ? 1000 : (int)(kill_at_ms > now ? kill_at_ms - now
                                                          : 0);
        if (poll(&p, 1, wait) <= 0)
            continue;
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t whole = have / sizeof(struct report);
        for (size_t i = 0; i < whole; i++) {
            struct report rep;
            memcpy(&rep, buf + i * sizeof rep, sizeof rep);
            acked_add(a, &rep);
            n++;
        }
        memmove(buf, buf + whole * sizeof(struct report),
                have - whole * sizeof(struct report));
        have -= whole * sizeof(struct report);
    }
    if (!killed)
        kill(pid, SIGKILL); /* died by itself (faultio); harmless */
    return n;
}

struct verify_ctx {
    struct acked *a;
    uint64_t found;
    uint64_t bad_seq;
};

static int verify_cb(void *arg, const oplog_record *rec, uint32_t p,
                     uint32_t c)
{
    struct verify_ctx *v = arg;
    if (rec->seq < v->a->cap && v->a->hash[rec->seq]) {
        uint64_t h = ck_hash(rec->payload, rec->len);
        if ((h ? h : 1) != v->a->hash[rec->seq]) {
            v->bad_seq = rec->seq;
            return -1;
        }
        v->found++;
    }
    return 0;
}

/* Recovers and reads the log; every acked record must be there. */
static int verify(const char *dir, struct acked *a, char *msg, size_t len)
{
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 7;
    o.segment_size = SEG_SIZE;
    oplog *log;
    char why[256] = "";
    int rc = oplog_open(&o, &log, NULL, why, sizeof why);
    if (rc) {
        snprintf(msg, len, "recovery: %s %s", wb_errname(rc), why);
        return -1;
    }
    oplog_close(log);
    struct verify_ctx v = {a, 0, 0};
    ck_summary sum;
    if (ck_read_all(dir, verify_cb, &v, &sum) != 0) {
        snprintf(msg, len, "%s (bad seq %llu)", sum.error,
                 (unsigned long long)v.bad_seq);
        return -1;
    }
    if (a->conflict) {
        snprintf(msg, len, "a seq was acknowledged twice with other data");
        return -1;
    }
    if (v.found != a->count) {
        snprintf(msg, len, "%llu of %llu acknowledged records found",
                 (unsigned long long)v.found, (unsigned long long)a->count);
        return -1;
    }
    if (sum.records && sum.first_seq != 1) {
        snprintf(msg, len, "log starts at %llu",
                 (unsigned long long)sum.first_seq);
        return -1;
    }
    return 0;
}

static int one_cycle(const char *dir, struct acked *a, int no_uring,
                     unsigned long crash_step, int how, unsigned seed,
                     uint64_t kill_after_ms, int *status, uint64_t *reports)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        child_main(dir, fds[1], no_uring, crash_step, how, seed);
        _exit(1);
    }
    close(fds[1]);
    *reports = collect(fds[0], pid, now_ms() + kill_after_ms, a);
    close(fds[0]);
    waitpid(pid, status, 0);
    return 0;
}

static int cycles(void)
{
    const char *v = getenv("WB_CRASH_CYCLES");
    int n = v ? atoi(v) : 50;
    return n > 0 ? n : 50;
}

static void test_sigkill_random(void)
{
    const char *dir = wb_test_tmpdir("crash-kill");
    struct acked a = {0};
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "  seed %u\n", seed);
    uint64_t total = 0;
    int n = cycles();
    for (int i = 0; i < n; i++) {
        int status = 0;
        uint64_t reports = 0;
        uint64_t after = 1 + (uint64_t)rand_r(&seed) % 40;
        CHECK(one_cycle(dir, &a, i % 2, 0, 0, seed + (unsigned)i, after,
                        &status, &reports) == 0);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "cycle %d: child ended with status %#x", i, status);
        total += reports;
        char msg[300];
        CHECK_MSG(verify(dir, &a, msg, sizeof msg) == 0, "cycle %d: %s", i,
                  msg);
    }
    fprintf(stderr, "  %d kills, %llu reports, %llu acknowledged records, "
            "all present\n", n, (unsigned long long)total,
            (unsigned long long)a.count);
    CHECK(a.count > 0);
    free(a.hash);
    wb_test_rmtree(dir);
}

static void test_crash_in_io(void)
{
    const char *dir = wb_test_tmpdir("crash-io");
    struct acked a = {0};
    unsigned seed = (unsigned)time(NULL) ^ 0x5a5a;
    fprintf(stderr, "  seed %u\n", seed);
    int n = cycles(), fired = 0;
    for (int i = 0; i < n; i++) {
        int status = 0;
        uint64_t reports = 0;
        unsigned long step = 1 + (unsigned long)rand_r(&seed) % 400;
        int how = rand_r(&seed) % 4;
        CHECK(one_cycle(dir, &a, i % 2, step, how, seed + (unsigned)i, 200,
                        &status, &reports) == 0);
        int by_fault = (WIFEXITED(status) &&
                        WEXITSTATUS(status) == FAULTIO_CRASH_EXIT) ||
                       (WIFSIGNALED(status) && (how & 2));
        CHECK_MSG(by_fault || (WIFSIGNALED(status) &&
                               WTERMSIG(status) == SIGKILL),
                  "cycle %d: child ended with status %#x", i, status);
        fired += WIFEXITED(status);
        char msg[300];
        CHECK_MSG(verify(dir, &a, msg, sizeof msg) == 0,
                  "cycle %d (step %lu, how %d): %s", i, step, how, msg);
    }
    fprintf(stderr, "  %d crashes (%d by _exit), %llu acked records present\n",
            n, fired, (unsigned long long)a.count);
    CHECK(a.count > 0);
    free(a.hash);
    wb_test_rmtree(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    WB_RUN(test_sigkill_random);
    WB_RUN(test_crash_in_io);
    return wb_test_summary();
}
