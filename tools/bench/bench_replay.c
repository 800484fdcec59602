/*
 * bench_replay.c: how fast the oplog replays into board state (restore,
 * cold start), against the raw limit of reading the log.
 *
 * Setup: N small ops (default 10M; BENCH_QUICK=1: 1M; BENCH_REPLAY_OPS=n
 * overrides), one op per WB_REC_OPS record as the engine logs a single
 * client op: shape moves (x, y) and now and then a recolour, across 4
 * boards of 2500 elements each, stamped by 3 origin nodes. Moves come in
 * drags (1..32 consecutive moves of one element per board, boards
 * interleaved); BENCH_REPLAY_UNIFORM=1 picks a random element for every op
 * instead, the worst case for the board's hash table and caches. Records are
 * appended with OPLOG_SYNC_NONE (the setup is not what is measured), in
 * append batches of 256, into 64 MiB segments. The page cache is warm:
 * these are CPU figures for the replay path, not disk figures.
 *
 * Timed, median of RUNS runs each:
 *   (a) read      oplog_reader over every record: framing + XXH3 checksum
 *                 (the limit: replay cannot be faster than reading)
 *   (b) decode    (a) + codec_decode_batch + codec_batch_free per record
 *   (c) replay    (b) + board_apply_batch into the 4 boards (one pass, as a
 *                 node's recovery would do it)
 *   (d) restore   restore_board() of ONE board to latest, no snapshot: reads
 *                 all N records, decodes and applies that board's quarter
 * Printed: wall and CPU seconds (the passes are single-threaded: CPU time is
 * what the code costs on a shared machine), ops (records) per second of
 * each, and the CPU ratio to (a).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "board.h"
#include "codec.h"
#include "hlc.h"
#include "oplog.h"
#include "restore.h"
#include "wb_error.h"
#include "wb_records.h"

#define RUNS 3
#define BOARDS 4
#define ELEMS 2500
#define APPEND_BATCH 256

static const char *names[BOARDS] = {"board-0", "board-1", "board-2",
                                    "board-3"};

static uint64_t rng_state = 0x5eed;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* CPU time of the process: the passes run on this thread only (the
 * reader has no thread of its own), so on a busy machine this is the
 * figure that says what the code costs. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double last_cpu; /* seconds of CPU of the last pass */

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_replay: %s: %s\n", what, wb_strerror(rc));
    exit(1);
}

/* Gestures: on each board one element is being dragged at a time, for 1..32
 * consecutive moves (a drag sends a move per frame), then another random
 * element; ops of the 4 boards interleave at random. With uniform == 1
 * every op picks a random element instead (no locality at all). */
static int uniform;
static unsigned drag_elem[BOARDS], drag_left[BOARDS];

static unsigned pick_element(unsigned bi, uint64_t r)
{
    if (uniform)
        return (unsigned)((r >> 8) % ELEMS);
    if (drag_left[bi] == 0) {
        drag_elem[bi] = (unsigned)((r >> 8) % ELEMS);
        drag_left[bi] = 1 + (unsigned)((r >> 48) % 32);
    }
    drag_left[bi]--;
    return drag_elem[bi];
}

/* Encodes op number i (a move, 1 in 16 a recolour; the first op of each
 * element creates it) into buf. */
static size_t encode_op(uint64_t i, uint64_t *oseq, uint8_t *buf, size_t cap)
{
    uint64_t r = rng();
    unsigned bi = (unsigned)(r % BOARDS);
    unsigned el = pick_element(bi, r);
    char id[16];
    int idn = snprintf(id, sizeof id, "s%04u", el);
    wb_op op;
    memset(&op, 0, sizeof op);
    op.kind = WB_OP_UPSERT;
    op.has_stamp = 1;
    op.client_op_id = i;
    op.elem = (wb_str){id, (uint32_t)idn};
    uint64_t node = 1 + (r >> 24) % 3;
    op.stamp = (wb_stamp){HLC_MAKE(1700000000000ull + i / 16, i % 16), node,
                          ++oseq[node]};
    wb_props *p = &op.props;
    if (i < (uint64_t)BOARDS * ELEMS) { /* creates first */
        bi = (unsigned)(i % BOARDS);
        idn = snprintf(id, sizeof id, "s%04u", (unsigned)(i / BOARDS));
        op.elem.len = (uint32_t)idn;
        p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                  WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
                  WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_Z);
        p->type = WB_ELEM_RECT;
        p->width = 12000;
        p->height = 8000;
        p->z = (wb_str){"a0", 2};
    } else if ((r >> 32) % 16 == 0) {
        p->mask = WB_PROP_BIT(WB_PROP_STROKE_COLOR);
        p->stroke_color = (uint32_t)(r >> 32) | 0xff;
    } else {
        p->mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
    }
    p->x = (int32_t)((r >> 40) % 200000) - 100000;
    p->y = (int32_t)((r >> 20) % 200000) - 100000;
    wb_batch b = {{names[bi], (uint32_t)strlen(names[bi])}, 1, &op, NULL};
    size_t len;
    int rc = codec_encode_batch_into(&b, buf, cap, &len);
    if (rc)
        die("encode", rc);
    return len;
}

static uint64_t write_log(const char *dir, uint64_t n, uint64_t *bytes)
{
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log;
    int rc = oplog_open(&o, &log, NULL, NULL, 0);
    if (rc)
        die("oplog_open", rc);
    static uint8_t bufs[APPEND_BATCH][128];
    oplog_entry e[APPEND_BATCH];
    uint64_t oseq[4] = {0};
    *bytes = 0;
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < APPEND_BATCH && i < n; k++, i++) {
            size_t len = encode_op(i, oseq, bufs[k], sizeof bufs[k]);
            e[k] = (oplog_entry){WB_REC_OPS, bufs[k], (uint32_t)len};
            *bytes += len;
        }
        if ((rc = oplog_append_batch(log, e, k, NULL, NULL, NULL)))
            die("append", rc);
    }
    if ((rc = oplog_close(log)))
        die("oplog_close", rc);
    return n;
}

/* mode 0: read; 1: + decode; 2: + apply. Returns seconds. */
static double pass(const char *dir, int mode, uint64_t *count)
{
    board *b[BOARDS] = {0};
    for (int i = 0; mode == 2 && i < BOARDS; i++)
        if (board_create(names[i], strlen(names[i]), NULL, &b[i]))
            die("board_create", WB_ENOMEM);
    uint64_t t0 = bench_now_ns(), c0 = cpu_ns();
    oplog_reader *r;
    int rc = oplog_reader_open(dir, 1, &r);
    if (rc)
        die("reader_open", rc);
    oplog_record rec;
    uint64_t n = 0, sum = 0;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        n++;
        sum += rec.len;
        if (mode == 0)
            continue;
        wb_batch *batch;
        if ((rc = codec_decode_batch(rec.payload, rec.len, &batch)))
            die("decode", rc);
        if (mode == 2) {
            /* board ids are "board-<digit>" */
            unsigned bi = (unsigned)(batch->board.ptr[batch->board.len - 1] - '0');
            if ((rc = board_apply_batch(b[bi], batch)))
                die("apply", rc);
        }
        codec_batch_free(batch);
    }
    if (rc < 0)
        die("read", rc);
    oplog_reader_close(r);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    last_cpu = (double)(cpu_ns() - c0) / 1e9;
    for (int i = 0; i < BOARDS; i++)
        board_free(b[i]);
    *count = n + (sum & 0); /* sum keeps the payload reads alive */
    return s;
}

static double restore_one(const char *dir, uint64_t *ops)
{
    restore_target t = {.kind = RESTORE_LATEST};
    restore_result res;
    uint64_t t0 = bench_now_ns(), c0 = cpu_ns();
    int rc = restore_board(NULL, dir, names[0], &t, NULL, &res);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    last_cpu = (double)(cpu_ns() - c0) / 1e9;
    if (rc)
        die("restore_board", rc);
    *ops = res.ops_applied;
    restore_result_free(&res);
    return s;
}

int main(void)
{
    uint64_t n = 10000000;
    const char *q = getenv("BENCH_QUICK");
    if (q && *q && strcmp(q, "0") != 0)
        n = 1000000;
    const char *o = getenv("BENCH_REPLAY_OPS");
    if (o && *o)
        n = strtoull(o, NULL, 10);
    const char *u = getenv("BENCH_REPLAY_UNIFORM");
    uniform = u && *u && strcmp(u, "0") != 0;
    const char *dir = bench_dir("replay");
    uint64_t bytes;
    uint64_t t0 = bench_now_ns();
    write_log(dir, n, &bytes);
    printf("bench_replay: %" PRIu64 " ops, one per record, %.1f B payload on "
           "average, %d boards x %d elements, %s; setup (write, no sync) "
           "%.2f s\n",
           n, (double)bytes / (double)n, BOARDS, ELEMS,
           uniform ? "uniformly random elements" : "drags of 1-32 moves",
           (double)(bench_now_ns() - t0) / 1e9);
    uint64_t cnt;
    pass(dir, 0, &cnt); /* warm the page cache */
    const char *label[3] = {"(a) read + checksum", "(b) + decode",
                            "(c) + apply (replay)"};
    double med[3], cmed[3];
    printf("  %-24s %9s %14s %9s %14s %8s\n", "", "wall", "wall rate", "CPU",
           "CPU rate", "CPU/(a)");
    for (int mode = 0; mode < 3; mode++) {
        double v[RUNS], c[RUNS];
        for (int i = 0; i < RUNS; i++) {
            v[i] = pass(dir, mode, &cnt);
            c[i] = last_cpu;
        }
        if (cnt != n) {
            fprintf(stderr, "bench_replay: read %" PRIu64 " of %" PRIu64 "\n",
                    cnt, n);
            return 1;
        }
        med[mode] = bench_median(v, RUNS);
        cmed[mode] = bench_median(c, RUNS);
        printf("  %-24s %7.3f s %6.2f M ops/s %7.3f s %6.2f M ops/s  x%6.2f\n",
               label[mode], med[mode], (double)n / med[mode] / 1e6,
               cmed[mode], (double)n / cmed[mode] / 1e6,
               cmed[mode] / cmed[0]);
    }
    double v[RUNS], c[RUNS];
    uint64_t ops = 0;
    for (int i = 0; i < RUNS; i++) {
        v[i] = restore_one(dir, &ops);
        c[i] = last_cpu;
    }
    double m = bench_median(v, RUNS), cm = bench_median(c, RUNS);
    printf("  %-24s %7.3f s %6.2f M rec/s %7.3f s %6.2f M rec/s  x%6.2f"
           "  (%" PRIu64 " ops of 1 board applied)\n",
           "(d) restore_board 1 of 4", m, (double)n / m / 1e6, cm,
           (double)n / cm / 1e6, cm / cmed[0], ops);
    bench_row("replay ops/s (read + decode + apply)", (double)n / med[2],
              "ops/s", "raw read+checksum", (double)n / med[0]);
    bench_row("replay decode ops/s (read + decode)", (double)n / med[1],
              "ops/s", "raw read+checksum", (double)n / med[0]);
    bench_rmtree(dir);
    return 0;
}
