/*
 * bench_engine.c: the engine loop's figures.
 *
 *   ingest    ops/s from engine_submit to on_ack (durable: OPLOG_SYNC_ALWAYS,
 *             fdatasync on the bench file system; applied; broadcast to a
 *             no-op on_ops), and ack latency p50/p99, for two op shapes:
 *               move    upsert x, y of an existing rect (the most common op)
 *               stroke  upsert points of a stroke: 32 points with pressure
 *                       (the codec replaces the whole point list: a client
 *                       drawing sends the stroke so far)
 *             with 1 and 4 submitting threads, each keeping up to 64 ops
 *             outstanding (a busy room; every op is its own batch, as a
 *             client sends it).
 *   replay    startup time of an engine whose oplog holds N ops not covered
 *             by any snapshot (the child that wrote them was killed).
 *   memory    mem_used per element for a loaded board of 100k rects, and the
 *             engine-thread part (board_state_encode) and the whole
 *             snapshot (encode + compress + commit) of that board.
 * Medians of RUNS runs (BENCH_QUICK=1: one short run). Figures, never a
 * pass/fail.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "board.h"
#include "codec.h"
#include "engine.h"
#include "wb_error.h"

#define RUNS 3
#define WINDOW 64
#define MAXT 4

static int quick;

typedef struct ing {
    uint64_t *sub_ns;   /* per token */
    double *lat_us;     /* per token */
    _Atomic uint64_t acked;
    _Atomic int outstanding[MAXT];
    _Atomic int errors;
    int nthreads;
} ing;

static void on_ack(void *ctx, uint64_t token, const engine_ack *a)
{
    ing *g = ctx;
    uint64_t now = bench_now_ns();
    g->lat_us[token] = (double)(now - g->sub_ns[token]) / 1000.0;
    if (a->status)
        atomic_fetch_add(&g->errors, 1);
    atomic_fetch_sub(&g->outstanding[token % (uint64_t)g->nthreads], 1);
    atomic_fetch_add(&g->acked, 1);
}

typedef struct worker {
    engine *e;
    ing *g;
    int id, nthreads, stroke;
    uint64_t nops;
} worker;

static void make_op(wb_op *op, int stroke, uint64_t k, int32_t *xy,
                    uint16_t *pr, char *el, size_t ellen)
{
    memset(op, 0, sizeof *op);
    op->kind = WB_OP_UPSERT;
    op->client_op_id = k + 1;
    op->user = (wb_str){"bench-user", 10};
    snprintf(el, ellen, "el%llu", (unsigned long long)(k % 1000));
    op->elem = (wb_str){el, (uint32_t)strlen(el)};
    if (stroke) {
        for (int i = 0; i < 32; i++) {
            xy[2 * i] = (int32_t)(i * 250 + (int)(k % 7));
            xy[2 * i + 1] = (int32_t)(i * 130);
            pr[i] = (uint16_t)(500 + i);
        }
        op->props.mask = WB_PROP_BIT(WB_PROP_POINTS);
        op->props.points = (wb_points){32, xy, pr};
    } else {
        op->props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
        op->props.x = (int32_t)(k * 3);
        op->props.y = (int32_t)(k * 5);
    }
}

static void *worker_main(void *p)
{
    worker *w = p;
    char board_name[16], el[32];
    snprintf(board_name, sizeof board_name, "bench%d", w->id);
    int32_t xy[64];
    uint16_t pr[32];
    for (uint64_t k = (uint64_t)w->id; k < w->nops; k += (uint64_t)w->nthreads) {
        while (atomic_load(&w->g->outstanding[w->id]) >= WINDOW) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        wb_op op;
        make_op(&op, w->stroke, k, xy, pr, el, sizeof el);
        wb_batch b = {{board_name, (uint32_t)strlen(board_name)}, 1, &op, NULL};
        uint8_t buf[1024];
        size_t len;
        if (codec_encode_batch_into(&b, buf, sizeof buf, &len) != 0)
            abort();
        atomic_fetch_add(&w->g->outstanding[w->id], 1);
        w->g->sub_ns[k] = bench_now_ns();
        int rc;
        while ((rc = engine_submit_encoded(w->e, buf, len, k)) == WB_EAGAIN) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        if (rc)
            abort();
    }
    return NULL;
}

/* Creates the 1000 rects each board's ops move. */
static void seed_boards(engine *e, int nthreads)
{
    for (int t = 0; t < nthreads; t++) {
        char bid[16], el[32];
        snprintf(bid, sizeof bid, "bench%d", t);
        for (int base = 0; base < 1000; base += 500) {
            wb_op ops[500];
            char ids[500][16];
            for (int i = 0; i < 500; i++) {
                memset(&ops[i], 0, sizeof ops[i]);
                ops[i].kind = WB_OP_UPSERT;
                ops[i].client_op_id = 1000000000ull + (uint64_t)(t * 1000 + base + i);
                ops[i].user = (wb_str){"seed", 4};
                snprintf(ids[i], sizeof ids[i], "el%d", base + i);
                ops[i].elem = (wb_str){ids[i], (uint32_t)strlen(ids[i])};
                ops[i].props.mask = WB_PROP_BIT(WB_PROP_TYPE) |
                                    WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
                ops[i].props.type = WB_ELEM_STROKE;
            }
            (void)el;
            wb_batch b = {{bid, (uint32_t)strlen(bid)}, 500, ops, NULL};
            uint8_t *enc;
            size_t len;
            if (codec_encode_batch(&b, &enc, &len) || engine_submit_encoded(e, enc, len, 0))
                abort();
            free(enc);
        }
    }
}

typedef struct ing_result {
    double ops_s, p50_us, p99_us;
} ing_result;

static ing_result ingest_once(int nthreads, int stroke, uint64_t nops)
{
    const char *dir = bench_dir("engine-ingest");
    ing *g = calloc(1, sizeof *g);
    g->sub_ns = calloc(nops, sizeof *g->sub_ns);
    g->lat_us = calloc(nops, sizeof *g->lat_us);
    engine_options o;
    engine_options_init(&o);
    o.dir = dir;
    g->nthreads = nthreads;
    engine_callbacks cb = {.ctx = g, .on_ack = on_ack};
    engine *e;
    if (engine_open(&o, &cb, &e))
        abort();
    /* Seed acks use token 0: give it a slot and wait for them. */
    atomic_store(&g->outstanding[0], 0);
    seed_boards(e, nthreads);
    while (atomic_load(&g->acked) < 2u * (uint64_t)nthreads) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&g->acked, 0);
    for (int i = 0; i < MAXT; i++)
        atomic_store(&g->outstanding[i], 0);
    uint64_t t0 = bench_now_ns();
    pthread_t th[MAXT];
    worker w[MAXT];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){e, g, i, nthreads, stroke, nops};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    while (atomic_load(&g->acked) < nops) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    engine_close(e);
    ing_result r = {(double)nops / secs, bench_quantile(g->lat_us, nops, 0.5),
                    bench_quantile(g->lat_us, nops, 0.99)};
    if (atomic_load(&g->errors))
        fprintf(stderr, "  %d acks with errors\n", atomic_load(&g->errors));
    free(g->sub_ns);
    free(g->lat_us);
    free(g);
    bench_rmtree(dir);
    return r;
}

static void bench_ingest(void)
{
    uint64_t nops = quick ? 5000 : 40000;
    int runs = quick ? 1 : RUNS;
    printf("ingest (OPLOG_SYNC_ALWAYS, 1 op per batch, %d outstanding per "
           "thread, %llu ops):\n", WINDOW, (unsigned long long)nops);
    printf("  %-7s %-8s %12s %12s %12s\n", "shape", "threads", "ops/s",
           "ack p50 us", "ack p99 us");
    for (int stroke = 0; stroke <= 1; stroke++) {
        for (int nt = 1; nt <= MAXT; nt += MAXT - 1) {
            double s[RUNS], p50[RUNS], p99[RUNS];
            for (int r = 0; r < runs; r++) {
                ing_result x = ingest_once(nt, stroke, nops);
                s[r] = x.ops_s;
                p50[r] = x.p50_us;
                p99[r] = x.p99_us;
            }
            double ms = bench_median(s, (size_t)runs);
            double mp99 = bench_median(p99, (size_t)runs);
            printf("  %-7s %-8d %12.0f %12.0f %12.0f\n",
                   stroke ? "stroke" : "move", nt, ms,
                   bench_median(p50, (size_t)runs), mp99);
            fflush(stdout);
            char fig[96];
            snprintf(fig, sizeof fig, "ingest ops/s, %s, %d thread%s",
                     stroke ? "stroke" : "move", nt, nt > 1 ? "s" : "");
            bench_row(fig, ms, "ops/s", NULL, 0);
            snprintf(fig, sizeof fig, "ingest ack p99, %s, %d thread%s",
                     stroke ? "stroke" : "move", nt, nt > 1 ? "s" : "");
            bench_row(fig, mp99 / 1000.0, "ms", NULL, 0);
        }
    }
}

/* ---- replay --------------------------------------------------------- */

static void noop_ack(void *ctx, uint64_t token, const engine_ack *a)
{
    (void)a;
    atomic_fetch_add((_Atomic uint64_t *)ctx, 1);
}

/* Child: writes nops ops (batches of 1) and is killed: nothing snapshotted. */
static void replay_child(const char *dir, uint64_t nops)
{
    _Atomic uint64_t acked = 0;
    engine_options o;
    engine_options_init(&o);
    o.dir = dir;
    o.oplog.sync = OPLOG_SYNC_NONE;
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    engine_callbacks cb = {.ctx = (void *)&acked, .on_ack = noop_ack};
    engine *e;
    if (engine_open(&o, &cb, &e))
        _exit(2);
    int32_t xy[64];
    uint16_t pr[32];
    char el[32];
    for (uint64_t k = 0; k < nops; k++) {
        wb_op op;
        make_op(&op, 0, k, xy, pr, el, sizeof el);
        if (k < 1000) {
            op.props.mask |= WB_PROP_BIT(WB_PROP_TYPE);
            op.props.type = WB_ELEM_RECT;
        }
        char bid[16];
        snprintf(bid, sizeof bid, "rb%llu", (unsigned long long)(k % 4));
        wb_batch b = {{bid, (uint32_t)strlen(bid)}, 1, &op, NULL};
        uint8_t buf[256];
        size_t len;
        if (codec_encode_batch_into(&b, buf, sizeof buf, &len))
            _exit(3);
        while (engine_submit_encoded(e, buf, len, k) == WB_EAGAIN) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    while (atomic_load(&acked) < nops) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    raise(SIGKILL);
}

static void bench_replay(void)
{
    uint64_t nops = quick ? 20000 : 200000;
    const char *d = bench_dir("engine-replay");
    char dir[600];
    snprintf(dir, sizeof dir, "%s", d);
    pid_t pid = fork();
    if (pid == 0)
        replay_child(dir, nops);
    int st;
    waitpid(pid, &st, 0);
    int runs = quick ? 1 : RUNS;
    double ms[RUNS];
    uint64_t records = 0;
    for (int r = 0; r < runs; r++) {
        /* Each open runs in a child that is killed afterwards: a close
         * would snapshot every board and leave nothing to replay. */
        int fds[2];
        if (pipe(fds))
            abort();
        pid_t p2 = fork();
        if (p2 == 0) {
            engine_options o;
            engine_options_init(&o);
            o.dir = dir;
            o.snap_every_ops = 0;
            o.snap_every_ms = 0;
            engine *e;
            if (engine_open(&o, NULL, &e))
                _exit(2);
            engine_stats s;
            engine_get_stats(e, &s);
            uint64_t v[2] = {s.recovery_ns, s.recovery_records};
            if (write(fds[1], v, sizeof v) != (ssize_t)sizeof v)
                _exit(3);
            raise(SIGKILL);
        }
        close(fds[1]);
        uint64_t v[2] = {0, 0};
        if (read(fds[0], v, sizeof v) != (ssize_t)sizeof v)
            fprintf(stderr, "replay child failed\n");
        close(fds[0]);
        waitpid(p2, &st, 0);
        ms[r] = (double)v[0] / 1e6;
        records = v[1];
    }
    double m = bench_median(ms, (size_t)runs);
    printf("startup replay: %llu records (1 op each, 4 boards) in %.1f ms "
           "(%.0f records/s), open to ready\n",
           (unsigned long long)records, m, (double)records / (m / 1000.0));
    bench_rmtree(dir);
}

/* ---- memory per element and the 100k snapshot ------------------------ */

typedef struct mem_call {
    uint64_t elements;
    int rc;
} mem_call;

static int snap_fn(engine *e, void *arg)
{
    return engine_snapshot_all(e);
}

static int count_fn(engine *e, void *arg)
{
    const board *b;
    int rc = engine_board_get(e, "big", &b);
    if (!rc)
        ((mem_call *)arg)->elements = board_element_count(b);
    return rc;
}

static void bench_memory(void)
{
    const uint32_t n = 100000;
    const char *dir = bench_dir("engine-mem");
    _Atomic uint64_t acked = 0;
    engine_options o;
    engine_options_init(&o);
    o.dir = dir;
    o.oplog.sync = OPLOG_SYNC_NONE;
    o.snap_every_ops = 0;
    o.snap_every_ms = 0;
    engine_callbacks cb = {.ctx = (void *)&acked, .on_ack = noop_ack};
    engine *e;
    if (engine_open(&o, &cb, &e))
        abort();
    static const char *alpha =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
    uint64_t rs = 42;
    uint64_t batches = 0;
    for (uint32_t base = 0; base < n; base += 1000) {
        wb_op ops[1000];
        char ids[1000][22];
        for (uint32_t i = 0; i < 1000; i++) {
            for (int c = 0; c < 21; c++) {
                rs = rs * 6364136223846793005ull + 1442695040888963407ull;
                ids[i][c] = alpha[(rs >> 33) & 63];
            }
            ids[i][21] = 0;
            wb_op *op = &ops[i];
            memset(op, 0, sizeof *op);
            op->kind = WB_OP_UPSERT;
            op->client_op_id = base + i + 1;
            op->user = (wb_str){"u", 1};
            op->elem = (wb_str){ids[i], 21};
            op->props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                             WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
                             WB_PROP_BIT(WB_PROP_HEIGHT) |
                             WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
                             WB_PROP_BIT(WB_PROP_Z);
            op->props.type = WB_ELEM_RECT;
            op->props.x = (int32_t)(rs >> 40);
            op->props.y = (int32_t)(rs >> 42);
            op->props.width = 12000;
            op->props.height = 8000;
            op->props.stroke_color = 0x1e1e1eff;
            op->props.z = (wb_str){ids[i] + 15, 6};
            for (int c = 0; c < 6; c++)
                if (ids[i][15 + c] == '_' || ids[i][15 + c] == '-')
                    ids[i][15 + c] = 'a';
        }
        wb_batch b = {{"big", 3}, 1000, ops, NULL};
        uint8_t *enc;
        size_t len;
        if (codec_encode_batch(&b, &enc, &len) ||
            engine_submit_encoded(e, enc, len, base))
            abort();
        free(enc);
        batches++;
        while (atomic_load(&acked) + 8 < batches) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    while (atomic_load(&acked) < batches) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    mem_call mc = {0, 0};
    engine_call(e, count_fn, &mc, 30000);
    engine_stats s;
    engine_get_stats(e, &s);
    double per = (double)s.mem_used / (double)mc.elements;
    int runs = quick ? 1 : RUNS;
    double enc_ms[RUNS], tot_ms[RUNS];
    for (int r = 0; r < runs; r++) {
        /* make the board dirty again so that it is snapshotted */
        wb_op op;
        int32_t xy[64];
        uint16_t pr[32];
        char el[32];
        make_op(&op, 0, (uint64_t)r, xy, pr, el, sizeof el);
        op.props.mask |= WB_PROP_BIT(WB_PROP_TYPE);
        op.props.type = WB_ELEM_RECT;
        op.client_op_id = 5000000 + (uint64_t)r;
        wb_batch b = {{"big", 3}, 1, &op, NULL};
        uint8_t buf[256];
        size_t len;
        uint64_t before = atomic_load(&acked);
        if (codec_encode_batch_into(&b, buf, sizeof buf, &len) ||
            engine_submit_encoded(e, buf, len, 0))
            abort();
        while (atomic_load(&acked) == before) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        engine_call(e, snap_fn, NULL, 60000);
        engine_get_stats(e, &s);
        enc_ms[r] = (double)s.snapshot_encode_ns_last / 1e6;
        tot_ms[r] = (double)s.snapshot_ns_last / 1e6;
    }
    printf("board of %llu rects (21-char ids, 7 properties): %.0f bytes per "
           "element in memory (mem_used %.1f MB, incl. resume ring)\n",
           (unsigned long long)mc.elements, per, (double)s.mem_used / 1e6);
    printf("snapshot of it: %.1f ms on the engine thread (encode), %.1f ms "
           "encode to durable commit\n",
           bench_median(enc_ms, (size_t)runs), bench_median(tot_ms, (size_t)runs));
    engine_close(e);
    bench_rmtree(dir);
}

int main(void)
{
    const char *q = getenv("BENCH_QUICK");
    quick = q && *q && strcmp(q, "0") != 0; /* as the other benchmarks */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench_engine%s\n", quick ? " (quick)" : "");
    bench_ingest();
    bench_replay();
    bench_memory();
    return 0;
}
