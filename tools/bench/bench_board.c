/*
 * bench_board.c: figures for the op codec and the board model.
 *
 *   apply: shape moves (upsert of x, y) on a 10k-element board; full-stroke
 *          upserts (what the client sends when a stroke ends, or
 *          periodically while it is drawn: the whole points list);
 *   codec: decode and encode of single-op batches (a move) and of 100-op
 *          batches;
 *   state: encode, decode and hash of a 100k-element board (80% rects,
 *          20% strokes of 50 points), and its size;
 *   memory: bytes per element (board_memory_usage) for rects and strokes.
 * Each figure is the median of RUNS runs. Figures, not tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "board.h"
#include "codec.h"
#include "hlc.h"

#define RUNS 5

static char ids[100000][16];
static int32_t stroke_xy[2 * 200];
static uint16_t stroke_pr[200];

static void make_ids(void)
{
    for (int i = 0; i < 100000; i++)
        snprintf(ids[i], sizeof ids[i], "el-%06d", i);
    for (int i = 0; i < 200; i++) {
        stroke_xy[2 * i] = i * 37 % 900;
        stroke_xy[2 * i + 1] = i * 11 % 500 - 250;
        stroke_pr[i] = (uint16_t)(i * 13 % 1001);
    }
}

static wb_str id_str(int i)
{
    return (wb_str){ids[i], (uint32_t)strlen(ids[i])};
}

static wb_op rect_op(int i, uint64_t oseq)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = oseq,
                .user = {"alice", 5}, .elem = id_str(i), .has_stamp = 1,
                .stamp = {HLC_MAKE(1764350000000ull, 0) + oseq, 1, oseq}};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
              WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
              WB_PROP_BIT(WB_PROP_FILL_COLOR) | WB_PROP_BIT(WB_PROP_Z);
    p->type = WB_ELEM_RECT;
    p->x = i * 10;
    p->y = i * 7;
    p->width = 12000;
    p->height = 8000;
    p->stroke_color = 0x1e1e1eff;
    p->fill_color = 0xa5d8ffff;
    p->z = (wb_str){"a0", 2};
    return op;
}

static wb_op stroke_op(int i, uint64_t oseq, uint32_t npoints)
{
    wb_op op = rect_op(i, oseq);
    op.props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                    WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
                    WB_PROP_BIT(WB_PROP_STROKE_WIDTH) |
                    WB_PROP_BIT(WB_PROP_POINTS);
    op.props.type = WB_ELEM_STROKE;
    op.props.stroke_width = 300;
    op.props.points = (wb_points){npoints, stroke_xy, stroke_pr};
    return op;
}

static wb_op move_op(int i, uint64_t oseq)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = oseq,
                .user = {"alice", 5}, .elem = id_str(i), .has_stamp = 1,
                .stamp = {HLC_MAKE(1764350000000ull, 0) + oseq, 2, oseq}};
    op.props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
    op.props.x = (int32_t)oseq;
    op.props.y = -(int32_t)oseq;
    return op;
}

static board *board_of(int n, int stroke_every)
{
    board *b;
    board_limits l;
    board_limits_default(&l);
    l.max_elements = 0;
    l.max_bytes = 0;
    if (board_create("bench", 5, &l, &b) != 0)
        abort();
    for (int i = 0; i < n; i++) {
        wb_op op = stroke_every && i % stroke_every == 0
                       ? stroke_op(i, (uint64_t)i + 1, 50)
                       : rect_op(i, (uint64_t)i + 1);
        if (board_apply_op(b, &op) != 0)
            abort();
    }
    return b;
}

static void bench_moves(void)
{
    const int n = 1000000;
    double rate[RUNS];
    for (int r = 0; r < RUNS; r++) {
        board *b = board_of(10000, 0);
        uint64_t t0 = bench_now_ns();
        for (int k = 0; k < n; k++) {
            wb_op op = move_op((int)((uint64_t)k * 7919 % 10000), (uint64_t)k + 1);
            if (board_apply_op(b, &op) != 0)
                abort();
        }
        rate[r] = n / ((bench_now_ns() - t0) / 1e9);
        board_free(b);
    }
    printf("board apply, move (x,y upsert), 10k elements: %.2f M ops/s\n",
           bench_median(rate, RUNS) / 1e6);
}

static void bench_strokes(uint32_t npoints)
{
    const int n = 100000;
    double rate[RUNS];
    for (int r = 0; r < RUNS; r++) {
        board *b = board_of(1000, 0);
        uint64_t t0 = bench_now_ns();
        for (int k = 0; k < n; k++) {
            wb_op op = stroke_op(k % 1000, 10000 + (uint64_t)k, npoints);
            if (board_apply_op(b, &op) != 0)
                abort();
        }
        rate[r] = n / ((bench_now_ns() - t0) / 1e9);
        board_free(b);
    }
    printf("board apply, full-stroke upsert of %u points: %.0f k ops/s\n",
           npoints, bench_median(rate, RUNS) / 1e3);
}

static void bench_codec(int batch_ops)
{
    wb_op *ops = calloc((size_t)batch_ops, sizeof *ops);
    for (int i = 0; i < batch_ops; i++)
        ops[i] = move_op(i, (uint64_t)i + 1000000);
    wb_batch bt = {.board = {"bench", 5}, .nops = (uint32_t)batch_ops,
                   .ops = ops};
    uint8_t *buf;
    size_t len;
    if (codec_encode_batch(&bt, &buf, &len) != 0)
        abort();
    const int iters = 2000000 / batch_ops;
    double dec[RUNS], enc[RUNS];
    uint8_t *out = malloc(len);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int k = 0; k < iters; k++) {
            wb_batch *d;
            if (codec_decode_batch(buf, len, &d) != 0)
                abort();
            codec_batch_free(d);
        }
        dec[r] = (double)iters * batch_ops / ((bench_now_ns() - t0) / 1e9);
        t0 = bench_now_ns();
        for (int k = 0; k < iters; k++) {
            size_t l2;
            if (codec_encode_batch_into(&bt, out, len, &l2) != 0)
                abort();
        }
        enc[r] = (double)iters * batch_ops / ((bench_now_ns() - t0) / 1e9);
    }
    printf("codec, batches of %d move op(s) (%zu bytes/batch): decode %.2f M "
           "ops/s, encode %.2f M ops/s\n",
           batch_ops, len, bench_median(dec, RUNS) / 1e6,
           bench_median(enc, RUNS) / 1e6);
    free(out);
    free(buf);
    free(ops);
}

static void bench_state(void)
{
    board *b = board_of(100000, 5);
    double enc[RUNS], dec[RUNS], hash[RUNS];
    size_t len = 0;
    for (int r = 0; r < RUNS; r++) {
        uint8_t *buf;
        uint64_t t0 = bench_now_ns();
        if (board_state_encode(b, &buf, &len) != 0)
            abort();
        enc[r] = (bench_now_ns() - t0) / 1e6;
        board *d;
        t0 = bench_now_ns();
        if (board_state_decode(buf, len, NULL, &d) != 0)
            abort();
        dec[r] = (bench_now_ns() - t0) / 1e6;
        uint64_t h;
        t0 = bench_now_ns();
        if (board_state_hash(d, &h) != 0)
            abort();
        hash[r] = (bench_now_ns() - t0) / 1e6;
        board_free(d);
        free(buf);
    }
    printf("state, 100k elements (80%% rects, 20%% strokes of 50 points): "
           "%.1f MB, encode %.0f ms, decode %.0f ms, hash %.0f ms\n",
           len / 1e6, bench_median(enc, RUNS), bench_median(dec, RUNS),
           bench_median(hash, RUNS));
    printf("memory, same board: %.1f MB (%zu bytes/element)\n",
           board_memory_usage(b) / 1e6, board_memory_usage(b) / 100000);
    board_free(b);
}

static void bench_memory(void)
{
    board *b = board_of(100000, 0);
    board *e;
    if (board_create("empty", 5, NULL, &e) != 0)
        abort();
    size_t base = board_memory_usage(e);
    printf("memory, 100k rects: %zu bytes/element (malloc overhead not "
           "counted)\n", (board_memory_usage(b) - base) / 100000);
    board_free(b);
    b = board_of(20000, 1);
    printf("memory, 20k strokes of 50 points with pressure: %zu "
           "bytes/element\n", (board_memory_usage(b) - base) / 20000);
    board_free(b);
    board_free(e);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    make_ids();
    bench_moves();
    bench_strokes(50);
    bench_strokes(200);
    bench_codec(1);
    bench_codec(100);
    bench_state();
    bench_memory();
    return 0;
}
