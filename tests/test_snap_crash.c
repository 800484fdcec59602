/*
 * test_snap_crash.c: crash safety. A child process writes snapshots in a
 * loop (durable commits, as the node runs) and reports each committed
 * (id, pos) through a pipe; the parent SIGKILLs it at a random moment,
 * reopens the store and checks that every reported snapshot is readable
 * and valid, that every snapshot present is valid (none half-written), and
 * that the newest is at least the last reported. 12 cycles on one store, so
 * later children also open a store whose previous writer died mid-commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "snap.h"
#include "snap_testgen.h"
#include "wbtest.h"

#define CYCLES 12

static size_t state_len(uint64_t pos)
{
    return 1000 + (size_t)(pos * 7919 % 300000);
}

static void child_main(const char *dir, uint64_t first_pos, int wfd)
{
    snap_store *s;
    if (snap_store_open(dir, NULL, &s) != 0)
        _exit(20);
    uint8_t *buf = malloc(state_len(0) + 300000);
    for (uint64_t pos = first_pos;; pos++) {
        size_t len = state_len(pos);
        snap_gen(pos, buf, len);
        uint64_t id;
        if (snap_put(s, "crash", buf, len, pos, &pos, 8, 1, 0, &id) != 0)
            _exit(21);
        uint64_t rec[2] = {id, pos};
        if (write(wfd, rec, sizeof rec) != sizeof rec)
            _exit(22);
    }
}

static int verify_one(snap_store *s, uint64_t id, uint64_t pos)
{
    snap_loaded l;
    int rc = snap_get_by_id(s, id, &l);
    if (rc != 0)
        return rc;
    size_t len = state_len(pos);
    uint8_t *want = malloc(len);
    snap_gen(pos, want, len);
    int ok = l.info.pos == pos && l.state_len == len &&
             memcmp(l.state, want, len) == 0 && l.vv_len == 8 &&
             memcmp(l.vv, &pos, 8) == 0;
    free(want);
    snap_loaded_free(&l);
    return ok ? 0 : WB_ECORRUPT;
}

typedef struct all_acc {
    snap_store *s;
    int n, bad;
} all_acc;

static int verify_cb(void *arg, const snap_info *info)
{
    all_acc *a = arg;
    a->n++;
    if (info->status != 0 || verify_one(a->s, info->id, info->pos) != 0)
        a->bad++;
    return 0;
}

static void test_sigkill_cycles(void)
{
    const char *dir = wb_test_tmpdir("snapcrash");
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    uint64_t next_pos = 1, last_id = 0;
    int total_reported = 0;
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_main(dir, next_pos, p[1]);
        }
        close(p[1]);
        usleep(20000 + (useconds_t)(rand() % 150000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status), "child exited with %d before the kill",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        uint64_t rec[2], max_pos = 0;
        snap_store *s;
        CHECK_OK(snap_store_open(dir, NULL, &s));
        ssize_t n;
        int reported = 0;
        while ((n = read(p[0], rec, sizeof rec)) == sizeof rec) {
            int rc = verify_one(s, rec[0], rec[1]);
            CHECK_MSG(rc == 0, "cycle %d: reported snapshot %" PRIu64
                      " (pos %" PRIu64 "): %s", cycle, rec[0], rec[1],
                      wb_strerror(rc));
            CHECK_MSG(rec[0] > last_id, "ids not increasing");
            last_id = rec[0];
            max_pos = rec[1];
            reported++;
        }
        close(p[0]);
        total_reported += reported;
        all_acc a = {.s = s};
        CHECK_OK(snap_list(s, NULL, verify_cb, &a));
        CHECK_MSG(a.bad == 0, "cycle %d: %d of %d stored snapshots invalid",
                  cycle, a.bad, a.n);
        snap_loaded l;
        int rc = snap_get_latest(s, "crash", UINT64_MAX, INT64_MAX, &l);
        uint64_t latest = rc == 0 ? l.info.pos : 0;
        uint32_t skipped = l.skipped;
        snap_loaded_free(&l);
        CHECK_MSG(rc == 0 || (rc == WB_ENOTFOUND && total_reported == 0),
                  "latest: %s", wb_strerror(rc));
        CHECK(latest >= max_pos && skipped == 0);
        next_pos = latest + 1;
        /* Keep the store small so cycles stay quick. */
        snap_prune_policy pp;
        snap_prune_policy_init(&pp);
        CHECK_OK(snap_prune(s, NULL, &pp, NULL));
        snap_store_close(s);
    }
    fprintf(stderr, "  %d cycles, %d snapshots reported committed\n", CYCLES,
            total_reported);
    CHECK_MSG(total_reported >= CYCLES, "too few commits to mean anything");
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_sigkill_cycles);
    return wb_test_summary();
}
