/*
 * bench_snapshot100k.c: snapshot write and load of a real 100k-element
 * board (board_state_encode / snap_put / snap_get_latest /
 * board_state_decode), the path the engine takes when it snapshots or
 * cold-loads a big board.
 *
 * The board is built with board_apply_op from stamped ops, like a session
 * of drawing: 100,000 elements with nanoid-like 21-character ids, of which
 *   40% freehand strokes, 16..64 points (half with pressure),
 *   18% rectangles, 10% ellipses, 8% arrows and lines (2..5 points),
 *   12% text (8..80 bytes), 12% sticky notes (20..200 bytes of text),
 * each with position, size, stroke colour from a palette, stroke width,
 * opacity, a fractional-index z string, some with fill, rotation or a
 * group; 3 origin nodes; 30% of the elements moved later (a second stamp);
 * plus 2,000 elements created and deleted (tombstones kept).
 *
 * Printed (median of RUNS runs):
 *   build       applying the ~130k ops (for scale)
 *   encode      board_state_encode: time and size
 *   put         snap_put: zstd compression + one durable LMDB commit
 *               (zstd alone is timed too, to split put into its parts)
 *   write       encode + put: the snapshot path (target <= 150 ms)
 *   get         snap_get_latest: read + decompress + checksums
 *   decode      board_state_decode
 *   load        get + decode (target <= 60 ms)
 * for zstd levels 1 and 3, plus the stored size and board_memory_usage per
 * element.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "benchutil.h"
#include "board.h"
#include "hlc.h"
#include "snap.h"
#include "vv.h"
#include "wb_error.h"

#define ELEMENTS 100000u
#define EXTRA 2000u /* created, then deleted: tombstones */
#define RUNS 5

static uint64_t rng_state = 0xb0a4d;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_snapshot100k: %s: %s\n", what, wb_strerror(rc));
    exit(1);
}

static const char alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
static const char lorem[] =
    "Sprint review: move the API gateway behind the new load balancer, "
    "then measure p99 again. Ask Dana about the schema migration and the "
    "retention window; TODO follow up with design on the onboarding flow "
    "and the empty states of the dashboard. Done: auth refactor.";
static const uint32_t palette[] = {0x1e1e1eff, 0xe03131ff, 0x2f9e44ff,
                                   0x1971c2ff, 0xf08c00ff, 0x9c36b5ff};

typedef struct elem_buf {
    char id[22];
    char z[8];
    char group[12];
    int32_t xy[2 * 64];
    uint16_t pressure[64];
} elem_buf;

static uint64_t oseq[4];
static uint64_t hlc_ms = 1700000000000ull;

static void stamp(wb_op *op)
{
    uint64_t node = 1 + rng() % 3;
    op->has_stamp = 1;
    op->stamp = (wb_stamp){HLC_MAKE(hlc_ms++, 0), node, ++oseq[node]};
}

/* z: base-62 fractional index strings that sort like creation order. */
static void make_z(uint32_t i, char *z)
{
    z[0] = 'a';
    for (int k = 4; k >= 1; k--) {
        z[k] = alphabet[i % 62];
        i /= 62;
    }
    z[5] = '\0';
}

static void make_points(wb_props *p, elem_buf *eb, uint32_t n, int pressure)
{
    int32_t x = 0, y = 0;
    for (uint32_t j = 0; j < n; j++) {
        x += (int32_t)(rng() % 900) - 300;
        y += (int32_t)(rng() % 900) - 450;
        eb->xy[2 * j] = x;
        eb->xy[2 * j + 1] = y;
        eb->pressure[j] = (uint16_t)(300 + rng() % 600);
    }
    p->mask |= WB_PROP_BIT(WB_PROP_POINTS);
    p->points = (wb_points){n, eb->xy, pressure ? eb->pressure : NULL};
}

static void make_text(wb_props *p, uint32_t min, uint32_t max)
{
    uint32_t n = min + (uint32_t)(rng() % (max - min + 1));
    uint32_t off = (uint32_t)(rng() % (sizeof lorem - 1 - n));
    p->mask |= WB_PROP_BIT(WB_PROP_TEXT) | WB_PROP_BIT(WB_PROP_FONT_SIZE);
    p->text = (wb_str){lorem + off, n};
    p->font_size = 1600 + (uint32_t)(rng() % 4) * 400;
}

static void make_create(uint32_t i, wb_op *op, elem_buf *eb)
{
    memset(op, 0, sizeof *op);
    for (int k = 0; k < 21; k++)
        eb->id[k] = alphabet[rng() % 64];
    eb->id[21] = '\0';
    op->kind = WB_OP_UPSERT;
    op->elem = (wb_str){eb->id, 21};
    op->user = (wb_str){"user-42", 7};
    op->client_op_id = i;
    stamp(op);
    wb_props *p = &op->props;
    uint64_t r = rng();
    unsigned pct = (unsigned)(r % 100);
    unsigned type = pct < 40   ? WB_ELEM_STROKE
                    : pct < 58 ? WB_ELEM_RECT
                    : pct < 68 ? WB_ELEM_ELLIPSE
                    : pct < 72 ? WB_ELEM_ARROW
                    : pct < 76 ? WB_ELEM_LINE
                    : pct < 88 ? WB_ELEM_TEXT
                               : WB_ELEM_STICKY;
    make_z(i, eb->z);
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
              WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
              WB_PROP_BIT(WB_PROP_STROKE_WIDTH) | WB_PROP_BIT(WB_PROP_OPACITY) |
              WB_PROP_BIT(WB_PROP_Z);
    p->type = (uint8_t)type;
    p->x = (int32_t)(rng() % 4000000) - 2000000;
    p->y = (int32_t)(rng() % 3000000) - 1500000;
    p->width = 2000 + (int32_t)(rng() % 60000);
    p->height = 2000 + (int32_t)(rng() % 40000);
    p->stroke_color = palette[(r >> 8) % 6];
    p->stroke_width = 100 + (uint32_t)((r >> 12) % 4) * 100;
    p->opacity = (r >> 16) % 5 ? 100 : 60;
    p->z = (wb_str){eb->z, 5};
    if ((r >> 20) % 3 == 0 && type != WB_ELEM_STROKE) {
        p->mask |= WB_PROP_BIT(WB_PROP_FILL_COLOR);
        p->fill_color = palette[(r >> 24) % 6] & 0xffffff80u;
    }
    if ((r >> 28) % 10 == 0) {
        p->mask |= WB_PROP_BIT(WB_PROP_ROTATION);
        p->rotation = (uint32_t)((r >> 32) % 36000);
    }
    if ((r >> 40) % 8 == 0) {
        snprintf(eb->group, sizeof eb->group, "g%u", (unsigned)((r >> 44) % 500));
        p->mask |= WB_PROP_BIT(WB_PROP_GROUP);
        p->group = (wb_str){eb->group, (uint32_t)strlen(eb->group)};
    }
    if (type == WB_ELEM_STROKE)
        make_points(p, eb, 16 + (uint32_t)(rng() % 49), (int)(r >> 50) & 1);
    else if (type == WB_ELEM_ARROW || type == WB_ELEM_LINE)
        make_points(p, eb, 2 + (uint32_t)(rng() % 4), 0);
    else if (type == WB_ELEM_TEXT)
        make_text(p, 8, 80);
    else if (type == WB_ELEM_STICKY)
        make_text(p, 20, 200);
}

static board *build(double *secs, uint64_t *nops)
{
    board *b;
    int rc = board_create("big-board", 9, NULL, &b);
    if (rc)
        die("board_create", rc);
    static elem_buf eb;
    static char ids[ELEMENTS + EXTRA][22];
    wb_op op;
    *nops = 0;
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < ELEMENTS + EXTRA; i++) {
        make_create(i, &op, &eb);
        memcpy(ids[i], eb.id, 22);
        if ((rc = board_apply_op(b, &op)))
            die("apply create", rc);
        (*nops)++;
    }
    for (uint32_t i = 0; i < ELEMENTS + EXTRA; i++) {
        uint64_t r = rng() % 100;
        if (i < ELEMENTS && r >= 30)
            continue;
        memset(&op, 0, sizeof op);
        op.elem = (wb_str){ids[i], 21};
        stamp(&op);
        if (i < ELEMENTS) {
            op.kind = WB_OP_UPSERT;
            op.props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
            op.props.x = (int32_t)(rng() % 4000000) - 2000000;
            op.props.y = (int32_t)(rng() % 3000000) - 1500000;
        } else {
            op.kind = WB_OP_DELETE;
        }
        if ((rc = board_apply_op(b, &op)))
            die("apply edit", rc);
        (*nops)++;
    }
    *secs = (double)(bench_now_ns() - t0) / 1e9;
    return b;
}

typedef struct figures {
    double encode, put, write, get, decode, load;
    double encode_cpu, decode_cpu; /* thread CPU time: immune to a busy box */
    double compress;               /* ZSTD_compress alone, the CPU part of put */
    uint64_t stored;
} figures;

static void run_level(const board *b, int level, figures *f)
{
    char tag[32];
    snprintf(tag, sizeof tag, "snap100k-z%d", level);
    const char *dir = bench_dir(tag);
    snap_options so;
    snap_options_init(&so);
    so.zstd_level = level;
    snap_store *s;
    int rc = snap_store_open(dir, &so, &s);
    if (rc)
        die("snap_store_open", rc);
    uint8_t vb[VV_MAX_ENCODED];
    size_t vlen;
    if ((rc = vv_encode(board_version(b), vb, sizeof vb, &vlen)))
        die("vv_encode", rc);
    double enc[RUNS], put[RUNS], wr[RUNS], get[RUNS], dec[RUNS], ld[RUNS];
    double ecpu[RUNS], dcpu[RUNS], zc[RUNS];
    uint64_t hash0;
    if ((rc = board_state_hash(b, &hash0)))
        die("hash", rc);
    for (int i = 0; i < RUNS; i++) {
        uint64_t c0 = cpu_ns();
        uint64_t t0 = bench_now_ns();
        uint8_t *state;
        size_t len;
        if ((rc = board_state_encode(b, &state, &len)))
            die("encode", rc);
        uint64_t t1 = bench_now_ns();
        uint64_t enc_ns = t1 - t0;
        ecpu[i] = (double)(cpu_ns() - c0) / 1e6;
        size_t zcap = ZSTD_compressBound(len);
        void *zbuf = malloc(zcap);
        if (!zbuf)
            die("malloc", WB_ENOMEM);
        uint64_t z0 = bench_now_ns();
        size_t zn = ZSTD_compress(zbuf, zcap, state, len, level);
        zc[i] = (double)(bench_now_ns() - z0) / 1e6;
        free(zbuf);
        if (ZSTD_isError(zn))
            die("ZSTD_compress", WB_EIO);
        t1 = bench_now_ns(); /* put is timed without the extra compression */
        if ((rc = snap_put(s, "big-board", state, len, 1000 + (uint64_t)i, vb,
                           vlen, (uint32_t)board_element_count(b), 0, NULL)))
            die("snap_put", rc);
        uint64_t t2 = bench_now_ns();
        free(state);
        snap_loaded l;
        if ((rc = snap_get_latest(s, "big-board", UINT64_MAX, INT64_MAX, &l)))
            die("snap_get_latest", rc);
        uint64_t t3 = bench_now_ns();
        board *nb;
        uint64_t c3 = cpu_ns();
        if ((rc = board_state_decode(l.state, l.state_len, NULL, &nb)))
            die("board_state_decode", rc);
        uint64_t t4 = bench_now_ns();
        dcpu[i] = (double)(cpu_ns() - c3) / 1e6;
        f->stored = l.info.stored_size;
        snap_loaded_free(&l);
        uint64_t h;
        if (board_state_hash(nb, &h) || h != hash0)
            die("loaded board differs", WB_ECORRUPT);
        board_free(nb);
        enc[i] = (double)enc_ns / 1e6;
        put[i] = (double)(t2 - t1) / 1e6;
        wr[i] = enc[i] + put[i];
        get[i] = (double)(t3 - t2) / 1e6;
        dec[i] = (double)(t4 - t3) / 1e6;
        ld[i] = (double)(t4 - t2) / 1e6;
    }
    f->encode = bench_median(enc, RUNS);
    f->put = bench_median(put, RUNS);
    f->write = bench_median(wr, RUNS);
    f->get = bench_median(get, RUNS);
    f->decode = bench_median(dec, RUNS);
    f->load = bench_median(ld, RUNS);
    f->encode_cpu = bench_median(ecpu, RUNS);
    f->decode_cpu = bench_median(dcpu, RUNS);
    f->compress = bench_median(zc, RUNS);
    snap_store_close(s);
    bench_rmtree(dir);
}

int main(void)
{
    double build_s;
    uint64_t nops;
    board *b = build(&build_s, &nops);
    uint8_t *state;
    size_t len;
    int rc = board_state_encode(b, &state, &len);
    if (rc)
        die("encode", rc);
    free(state);
    size_t mem = board_memory_usage(b), n = board_element_count(b);
    printf("bench_snapshot100k: %zu visible elements (%zu records), %" PRIu64
           " ops applied in %.0f ms (%.2f M ops/s)\n",
           n, board_record_count(b), nops, build_s * 1e3,
           (double)nops / build_s / 1e6);
    printf("  state %.2f MB (%.0f B/element); board memory %.1f MB "
           "(%.0f B/element)\n",
           (double)len / 1e6, (double)len / (double)n, (double)mem / 1e6,
           (double)mem / (double)n);
    printf("  %-5s %9s %8s %8s %9s %8s %8s %9s  %s\n", "zstd", "stored",
           "encode", "put", "write", "get", "decode", "load",
           "(CPU: encode, decode; zstd alone)");
    for (int level = 1; level <= 3; level += 2) {
        figures f;
        run_level(b, level, &f);
        printf("  %-5d %6.2f MB %5.1f ms %5.1f ms %6.1f ms %5.1f ms %5.1f ms "
               "%6.1f ms  (%.1f, %.1f; %.1f ms)\n",
               level, (double)f.stored / 1e6, f.encode, f.put, f.write, f.get,
               f.decode, f.load, f.encode_cpu, f.decode_cpu, f.compress);
    }
    printf("  targets: write <= 150 ms, load <= 60 ms\n");
    board_free(b);
    return 0;
}
