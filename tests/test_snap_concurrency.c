/*
 * test_snap_concurrency.c: a read-only store in another process sees what
 * the writer commits while both are open; reader threads and a writer
 * thread share one store without errors or torn state.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "snap.h"
#include "snap_testgen.h"
#include "wbtest.h"

#define STATE_LEN(pos) (2000 + (size_t)((pos) * 37 % 5000))

static int put_pos(snap_store *s, const char *board, uint64_t pos)
{
    size_t len = STATE_LEN(pos);
    uint8_t *buf = malloc(len);
    snap_gen(pos, buf, len);
    int rc = snap_put(s, board, buf, len, pos, &pos, sizeof pos,
                      (uint32_t)pos, 0, NULL);
    free(buf);
    return rc;
}

/* 0 if l is exactly what put_pos(l->info.pos) wrote. */
static int check_loaded(const snap_loaded *l)
{
    uint64_t pos = l->info.pos;
    size_t len = STATE_LEN(pos);
    if (l->state_len != len || l->vv_len != sizeof pos ||
        memcmp(l->vv, &pos, sizeof pos) != 0)
        return -1;
    uint8_t *want = malloc(len);
    snap_gen(pos, want, len);
    int rc = memcmp(want, l->state, len) == 0 ? 0 : -1;
    free(want);
    return rc;
}

static int read_byte(int fd)
{
    uint8_t b;
    return read(fd, &b, 1) == 1 ? b : -1;
}

static void write_byte(int fd, uint8_t b)
{
    if (write(fd, &b, 1) != 1)
        _exit(90);
}

/* Child: open read-only, check pos 1 is latest, signal, wait, check pos 2
 * (committed by the parent while this environment stayed open). */
static int ro_child(const char *dir, int rfd, int wfd)
{
    if (read_byte(rfd) != 'a')
        return 10;
    snap_options o;
    snap_options_init(&o);
    o.read_only = 1;
    snap_store *s;
    if (snap_store_open(dir, &o, &s) != 0)
        return 11;
    snap_loaded l;
    if (snap_get_latest(s, "ro", UINT64_MAX, INT64_MAX, &l) != 0 ||
        l.info.pos != 1 || check_loaded(&l) != 0)
        return 12;
    snap_loaded_free(&l);
    if (put_pos(s, "ro", 9) != -EACCES)
        return 13;
    write_byte(wfd, 'r');
    if (read_byte(rfd) != 'b')
        return 14;
    if (snap_get_latest(s, "ro", UINT64_MAX, INT64_MAX, &l) != 0 ||
        l.info.pos != 2 || check_loaded(&l) != 0)
        return 15;
    snap_loaded_free(&l);
    uint64_t v;
    if (snap_cursor_get(s, "mirror", &v) != 0 || v != 77)
        return 16;
    snap_store_close(s);
    return 0;
}

static void test_read_only_process_sees_commits(void)
{
    const char *dir = wb_test_tmpdir("snapconc-ro");
    int p2c[2], c2p[2];
    CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
    /* Fork before the parent opens: LMDB handles must not cross fork(). */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(ro_child(dir, p2c[0], c2p[1]));
    snap_store *s;
    CHECK_OK(snap_store_open(dir, NULL, &s));
    CHECK_OK(put_pos(s, "ro", 1));
    write_byte(p2c[1], 'a');
    int got = read_byte(c2p[0]);
    CHECK_OK(put_pos(s, "ro", 2));
    CHECK_OK(snap_cursor_set(s, "mirror", 77));
    write_byte(p2c[1], 'b');
    int status = 0;
    waitpid(pid, &status, 0);
    snap_store_close(s);
    close(p2c[0]);
    close(p2c[1]);
    close(c2p[0]);
    close(c2p[1]);
    CHECK_EQ_INT(got, 'r');
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "read-only child failed with status %d", status);
    wb_test_rmtree(dir);
}

typedef struct shared {
    snap_store *s;
    atomic_int done;
    atomic_int errors;
    atomic_uint_fast64_t reads;
    atomic_uint_fast64_t written_pos; /* highest pos committed */
} shared;

static void *reader_main(void *arg)
{
    shared *sh = arg;
    uint64_t last = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 100000 && !atomic_load(&sh->done); i++) {
        uint64_t floor = atomic_load(&sh->written_pos);
        snap_loaded l;
        int rc = snap_get_latest(sh->s, "c", UINT64_MAX, INT64_MAX, &l);
        if (rc == WB_ENOTFOUND && floor == 0)
            continue;
        /* Monotonic: never older than what was committed before the call,
         * nor older than what this thread saw before; never torn. */
        if (rc != 0 || l.info.pos < floor || l.info.pos < last ||
            check_loaded(&l) != 0 || l.skipped != 0) {
            fprintf(stderr, "reader: rc %d pos %" PRIu64 " floor %" PRIu64
                    "\n", rc, rc == 0 ? l.info.pos : 0, floor);
            atomic_fetch_add(&sh->errors, 1);
        }
        last = rc == 0 ? l.info.pos : last;
        snap_loaded_free(&l);
        atomic_fetch_add(&sh->reads, 1);
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    shared *sh = arg;
    snap_prune_policy p;
    snap_prune_policy_init(&p);
    for (uint64_t pos = 1; pos <= 60; pos++) {
        int rc = put_pos(sh->s, "c", pos);
        if (rc == 0 && pos % 10 == 0)
            rc = snap_prune(sh->s, "c", &p, NULL);
        if (rc != 0) {
            fprintf(stderr, "writer: %s\n", wb_strerror(rc));
            atomic_fetch_add(&sh->errors, 1);
        }
        atomic_store(&sh->written_pos, pos);
    }
    return NULL;
}

static void test_threads_readers_and_writer(void)
{
    const char *dir = wb_test_tmpdir("snapconc-thr");
    shared sh = {0};
    CHECK_OK(snap_store_open(dir, NULL, &sh.s));
    pthread_t r[4], w;
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&r[i], NULL, reader_main, &sh) == 0);
    CHECK(pthread_create(&w, NULL, writer_main, &sh) == 0);
    pthread_join(w, NULL);
    atomic_store(&sh.done, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(r[i], NULL);
    CHECK_EQ_INT(atomic_load(&sh.errors), 0);
    CHECK_MSG(atomic_load(&sh.reads) > 20, "only %" PRIu64 " reads",
              (uint64_t)atomic_load(&sh.reads));
    snap_loaded l;
    CHECK_OK(snap_get_latest(sh.s, "c", UINT64_MAX, INT64_MAX, &l));
    uint64_t pos = l.info.pos;
    snap_loaded_free(&l);
    CHECK_EQ_U64(pos, 60);
    snap_store_close(sh.s);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_read_only_process_sees_commits);
    WB_RUN(test_threads_readers_and_writer);
    return wb_test_summary();
}
