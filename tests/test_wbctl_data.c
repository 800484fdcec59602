/*
 * test_wbctl_data.c: engine data for the wbctl tests, and a check of it.
 *
 *   test_wbctl_data --make-engine-data DIR
 *       Runs an engine on DIR/data (4 KiB oplog segments, 2 snapshots kept
 *       per board) and submits ops to three boards in four phases: "alpha"
 *       gets one element of every type (text with characters SVG and JSON
 *       must escape), moves and a delete; "beta" and "gamma" get rects.
 *       After phases 1 and 3 every board is snapshotted. After each phase
 *       it records, per board, the state hash, the element count and the
 *       board JSON (engine_board_json) as the node had it, with the seq of
 *       the last record and a wall-clock time between that phase's records
 *       and the next's. Writes DIR/expect.json:
 *         {"boards": [...], "checkpoints": [{"phase": k, "seq": S,
 *          "time_us": T, "boards": {"alpha": {"hash": "%016x",
 *          "elements": n, "json": "DIR/expect/alpha-k.json"}, ...}}, ...]}
 *       and the JSON files. The engine is closed cleanly at the end (it
 *       snapshots the dirty boards once more).
 *   test_wbctl_data --engine-json DATA_DIR BOARD
 *       Opens an engine on DATA_DIR (as a node would) and prints
 *       engine_board_json of BOARD and, on stderr, its state hash: what a
 *       node started on that directory would serve.
 *   test_wbctl_data --live DIR
 *       A stand-in for a running node: opens an engine on DIR/data, creates
 *       DIR/live.ready, then adds a rect to board "live" every 2 ms
 *       (snapshotting every 50 ops) until DIR/live.stop exists or 20 s
 *       have passed, closes the engine and writes the board's final state
 *       hash to DIR/live.hash. wbctl runs beside it in the tests.
 *   test_wbctl_data            (ctest) makes such data in a temporary
 *       directory and checks that restore_board gives every recorded
 *       state at its seq and at its time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine_testkit.h"
#include "restore.h"
#include "snap.h"
#include "wbtest.h"

#define NBOARDS 3
#define NPHASES 4
static const char *const boards[NBOARDS] = {"alpha", "beta", "gamma"};

typedef struct checkpoint {
    uint64_t seq;
    int64_t time_us;
    uint64_t hash[NBOARDS];
    size_t elements[NBOARDS];
    char *json[NBOARDS];
} checkpoint;

typedef struct gen {
    engine *e;
    tk t;
    uint64_t token, cid, last_seq;
    checkpoint cp[NPHASES];
} gen;

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Submits one batch of n ops and waits for its ack; 0 or an error. */
static int submit(gen *g, const char *bid, wb_op *ops, uint32_t n)
{
    uint64_t tok = ++g->token;
    int rc = tk_submit(g->e, bid, ops, n, tok);
    if (rc)
        return rc;
    if (!tk_wait_acks(&g->t, (size_t)tok, 10000))
        return WB_ETIMEDOUT;
    tk_ack a;
    if (!tk_find_ack(&g->t, tok, &a))
        return WB_ETIMEDOUT;
    if (a.status)
        return a.status;
    if (a.seq > g->last_seq)
        g->last_seq = a.seq;
    return 0;
}

static void base_op(wb_op *op, uint64_t cid, const char *elem, unsigned type,
                    int32_t x, int32_t y)
{
    tk_rect_op(op, "gen-user", elem, cid, x, y);
    op->props.type = (uint8_t)type;
}

static void set_size(wb_op *op, int32_t w, int32_t h)
{
    op->props.mask |= WB_PROP_BIT(WB_PROP_WIDTH) | WB_PROP_BIT(WB_PROP_HEIGHT);
    op->props.width = w;
    op->props.height = h;
}

static void set_text(wb_op *op, const char *text)
{
    op->props.mask |= WB_PROP_BIT(WB_PROP_TEXT) | WB_PROP_BIT(WB_PROP_FONT_SIZE);
    op->props.text = (wb_str){text, (uint32_t)strlen(text)};
    op->props.font_size = 1600;
}

static void set_points(wb_op *op, const int32_t *xy, const uint16_t *pr,
                       uint32_t n)
{
    op->props.mask |= WB_PROP_BIT(WB_PROP_POINTS);
    op->props.points = (wb_points){n, xy, pr};
}

static void set_colors(wb_op *op, uint32_t stroke, uint32_t fill)
{
    op->props.mask |= WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
                      WB_PROP_BIT(WB_PROP_FILL_COLOR) |
                      WB_PROP_BIT(WB_PROP_STROKE_WIDTH);
    op->props.stroke_color = stroke;
    op->props.fill_color = fill;
    op->props.stroke_width = 250;
}

/* alpha, phase 1: one element of every type. */
static int alpha_shapes(gen *g)
{
    static const int32_t line_xy[] = {0, 0, 10000, 5000};
    static const int32_t stroke_xy[] = {0, 0, 1000, 1500, 2500, 1000, 4000, 3000};
    static const uint16_t stroke_pr[] = {500, 600, 700, 800};
    wb_op op[7];
    base_op(&op[0], ++g->cid, "a-rect", WB_ELEM_RECT, 1000, 2000);
    set_size(&op[0], 20000, 10000);
    set_colors(&op[0], 0x112233ffu, 0xffeeddffu);
    base_op(&op[1], ++g->cid, "a-ellipse", WB_ELEM_ELLIPSE, 30000, 2000);
    set_size(&op[1], 15000, 8000);
    base_op(&op[2], ++g->cid, "a-line", WB_ELEM_LINE, 5000, 30000);
    set_points(&op[2], line_xy, NULL, 2);
    base_op(&op[3], ++g->cid, "a-arrow", WB_ELEM_ARROW, 5000, 40000);
    set_points(&op[3], line_xy, NULL, 2);
    base_op(&op[4], ++g->cid, "a-stroke", WB_ELEM_STROKE, 40000, 30000);
    set_points(&op[4], stroke_xy, stroke_pr, 4);
    base_op(&op[5], ++g->cid, "a-text", WB_ELEM_TEXT, 1000, 50000);
    set_text(&op[5], "Q4 <plan> & \"goals\" 'now' \xc3\xa9t\xc3\xa9");
    base_op(&op[6], ++g->cid, "a-sticky", WB_ELEM_STICKY, 30000, 50000);
    set_size(&op[6], 12000, 12000);
    set_colors(&op[6], 0x000000ffu, 0xfff59dffu);
    set_text(&op[6], "todo: <ship> & test");
    for (int i = 0; i < 7; i++) { /* one batch each: one record each */
        int rc = submit(g, "alpha", &op[i], 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* Phase k of every board. */
static int run_phase(gen *g, int k)
{
    int rc = 0;
    if (k == 1)
        rc = alpha_shapes(g);
    for (int b = 0; b < NBOARDS && !rc; b++) {
        for (int j = 0; j < 8 + b && !rc; j++) {
            char id[32];
            snprintf(id, sizeof id, "r%d-%d", k, j);
            wb_op op;
            base_op(&op, ++g->cid, id, WB_ELEM_RECT, 1000 * j + 100 * k,
                    60000 + 2000 * k);
            set_size(&op, 3000, 2000);
            rc = submit(g, boards[b], &op, 1);
        }
    }
    if (!rc && k >= 2) { /* move an element of the previous phase */
        char id[32];
        snprintf(id, sizeof id, "r%d-0", k - 1);
        wb_op op;
        tk_move_op(&op, "gen-user", id, ++g->cid, 777 * k, 888 * k);
        for (int b = 0; b < NBOARDS && !rc; b++) {
            op.client_op_id = ++g->cid; /* distinct: no dedupe answer */
            rc = submit(g, boards[b], &op, 1);
        }
    }
    if (!rc && k == 3) { /* delete one shape of alpha and one rect of beta */
        wb_op op;
        memset(&op, 0, sizeof op);
        op.kind = WB_OP_DELETE;
        op.user = (wb_str){"gen-user", 8};
        op.client_op_id = ++g->cid;
        op.elem = (wb_str){"a-ellipse", 9};
        rc = submit(g, "alpha", &op, 1);
        op.client_op_id = ++g->cid;
        op.elem = (wb_str){"r1-1", 4};
        if (!rc)
            rc = submit(g, "beta", &op, 1);
    }
    return rc;
}

typedef struct read_arg {
    checkpoint *cp;
} read_arg;

static int read_fn(engine *e, void *arg)
{
    checkpoint *cp = ((read_arg *)arg)->cp;
    for (int b = 0; b < NBOARDS; b++) {
        const board *bd;
        int rc = engine_board_get(e, boards[b], &bd);
        if (!rc)
            rc = board_state_hash(bd, &cp->hash[b]);
        if (rc)
            return rc;
        cp->elements[b] = board_element_count(bd);
        size_t len;
        if ((rc = engine_board_json(e, boards[b], &cp->json[b], &len)))
            return rc;
    }
    return 0;
}

static int snap_all_fn(engine *e, void *arg)
{
    return engine_snapshot_all(e);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

static int write_expect(const char *dir, gen *g)
{
    char path[600];
    snprintf(path, sizeof path, "%s/expect", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/expect.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"boards\": [\"alpha\", \"beta\", \"gamma\"],\n"
               " \"checkpoints\": [");
    for (int k = 0; k < NPHASES; k++) {
        checkpoint *cp = &g->cp[k];
        fprintf(f, "%s\n  {\"phase\": %d, \"seq\": %" PRIu64 ", \"time_us\": %"
                   PRId64 ", \"boards\": {",
                k ? "," : "", k + 1, cp->seq, cp->time_us);
        for (int b = 0; b < NBOARDS; b++) {
            char jp[700];
            snprintf(jp, sizeof jp, "%s/expect/%s-%d.json", dir, boards[b],
                     k + 1);
            if (write_file(jp, cp->json[b]) != 0) {
                fclose(f);
                return -1;
            }
            fprintf(f, "%s\"%s\": {\"hash\": \"%016" PRIx64
                       "\", \"elements\": %zu, \"json\": \"%s\"}",
                    b ? ", " : "", boards[b], cp->hash[b], cp->elements[b], jp);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "\n]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void free_checkpoints(gen *g)
{
    for (int k = 0; k < NPHASES; k++)
        for (int b = 0; b < NBOARDS; b++)
            free(g->cp[k].json[b]);
}

/* Generates the data into dir/data; g->cp holds the checkpoints after. */
static int make_data(const char *dir, gen *g)
{
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    memset(g, 0, sizeof *g);
    tk_init(&g->t);
    engine_options o;
    tk_options(&o, data);
    o.oplog.segment_size = 4096;
    o.snap_keep = 2;
    engine_callbacks cb = tk_callbacks(&g->t);
    int rc = engine_open(&o, &cb, &g->e);
    for (int k = 1; k <= NPHASES && !rc; k++) {
        rc = run_phase(g, k);
        if (!rc && (k == 1 || k == 3))
            rc = engine_call(g->e, snap_all_fn, NULL, 10000);
        checkpoint *cp = &g->cp[k - 1];
        read_arg ra = {cp};
        if (!rc)
            rc = engine_call(g->e, read_fn, &ra, 10000);
        cp->seq = g->last_seq;
        sleep_ms(3); /* the records of phase k are all older than time_us */
        cp->time_us = wall_us();
        sleep_ms(3); /* ... and the next phase's all newer */
    }
    if (g->e) {
        int crc = engine_close(g->e);
        if (!rc)
            rc = crc;
    }
    tk_free(&g->t);
    return rc;
}

/* ---- the ctest check ------------------------------------------------- */

static void check_restore(snap_store *s, const char *oplog_dir,
                          const checkpoint *cp, const restore_target *t)
{
    for (int b = 0; b < NBOARDS; b++) {
        restore_result r;
        int rc = restore_board(s, oplog_dir, boards[b], t, NULL, &r);
        CHECK_OK(rc);
        if (rc)
            continue;
        uint64_t h = 0;
        CHECK_OK(board_state_hash(r.board, &h));
        CHECK_EQ_U64(h, cp->hash[b]);
        CHECK_EQ_U64(board_element_count(r.board), cp->elements[b]);
        char *json;
        size_t len;
        CHECK_OK(board_to_json(r.board, &json, &len));
        CHECK_STR(json, cp->json[b]);
        free(json);
        restore_result_free(&r);
    }
}

static void test_checkpoints_restore(void)
{
    const char *tmp = wb_test_tmpdir("wbctl-data");
    char dir[512], snapdir[700], oplogdir[700];
    snprintf(dir, sizeof dir, "%s", tmp);
    gen g;
    int rc = make_data(dir, &g);
    CHECK_OK(rc);
    if (rc) {
        free_checkpoints(&g);
        return;
    }
    /* The phases produced distinct states in order. */
    for (int k = 1; k < NPHASES; k++) {
        CHECK(g.cp[k].seq > g.cp[k - 1].seq);
        CHECK(g.cp[k].hash[0] != g.cp[k - 1].hash[0]);
    }
    CHECK_EQ_U64(g.cp[0].elements[0], 7 + 8);
    snprintf(snapdir, sizeof snapdir, "%s/data/snap", dir);
    snprintf(oplogdir, sizeof oplogdir, "%s/data/oplog", dir);
    snap_options so;
    snap_options_init(&so);
    so.read_only = 1;
    snap_store *s = NULL;
    CHECK_OK(snap_store_open(snapdir, &so, &s));
    for (int k = 0; k < NPHASES && s; k++) {
        restore_target ts = {.kind = RESTORE_SEQ, .seq = g.cp[k].seq};
        check_restore(s, oplogdir, &g.cp[k], &ts);
        restore_target tt = {.kind = RESTORE_TIME, .time_us = g.cp[k].time_us};
        check_restore(s, oplogdir, &g.cp[k], &tt);
    }
    snap_store_close(s);
    free_checkpoints(&g);
    wb_test_rmtree(dir);
}

typedef struct json_arg {
    const char *bid;
    char *json;
    uint64_t hash;
} json_arg;

static int json_fn(engine *e, void *arg)
{
    json_arg *a = arg;
    const board *b;
    size_t len;
    int rc = engine_board_get(e, a->bid, &b);
    if (!rc)
        rc = board_state_hash(b, &a->hash);
    if (!rc)
        rc = engine_board_json(e, a->bid, &a->json, &len);
    return rc;
}

/* --engine-json: the board as an engine on dir serves it. */
static int engine_json(const char *dir, const char *bid)
{
    tk t;
    tk_init(&t);
    engine_options o;
    tk_options(&o, dir);
    engine_callbacks cb = tk_callbacks(&t);
    engine *e = NULL;
    json_arg a = {bid, NULL, 0};
    int rc = engine_open(&o, &cb, &e);
    if (!rc)
        rc = engine_call(e, json_fn, &a, 10000);
    if (!rc) {
        printf("%s\n", a.json);
        fprintf(stderr, "state_hash=%016" PRIx64 "\n", a.hash);
    }
    if (e) {
        int crc = engine_close(e);
        rc = rc ? rc : crc;
    }
    free(a.json);
    tk_free(&t);
    if (rc)
        fprintf(stderr, "engine-json: %s\n", wb_strerror(rc));
    return rc ? 1 : 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* --live: keeps an engine running on dir/data and writing. */
static int live(const char *dir)
{
    char data[600], ready[600], stop[600], hashf[600];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ready, sizeof ready, "%s/live.ready", dir);
    snprintf(stop, sizeof stop, "%s/live.stop", dir);
    snprintf(hashf, sizeof hashf, "%s/live.hash", dir);
    gen g;
    memset(&g, 0, sizeof g);
    tk_init(&g.t);
    engine_options o;
    tk_options(&o, data);
    o.oplog.segment_size = 4096;
    o.snap_every_ops = 50;
    o.snap_every_ms = 200;
    engine_callbacks cb = tk_callbacks(&g.t);
    int rc = engine_open(&o, &cb, &g.e);
    if (!rc)
        rc = write_file(ready, "ready\n");
    uint64_t end = tk_now_ms() + 20000;
    g.cid = 1000000;
    for (int i = 0; !rc && !file_exists(stop) && tk_now_ms() < end; i++) {
        char id[32];
        snprintf(id, sizeof id, "live-%d", i);
        wb_op op;
        base_op(&op, ++g.cid, id, WB_ELEM_RECT, 100 * (i % 500), 100 * (i / 500));
        rc = submit(&g, "live", &op, 1);
        sleep_ms(2);
    }
    json_arg a = {"live", NULL, 0};
    if (!rc)
        rc = engine_call(g.e, json_fn, &a, 10000);
    free(a.json);
    if (g.e) {
        int crc = engine_close(g.e);
        rc = rc ? rc : crc;
    }
    tk_free(&g.t);
    char line[32];
    snprintf(line, sizeof line, "%016" PRIx64 "\n", a.hash);
    if (!rc)
        rc = write_file(hashf, line);
    if (rc)
        fprintf(stderr, "live: %s\n", wb_strerror(rc));
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--live") == 0)
        return live(argv[2]);
    if (argc == 4 && strcmp(argv[1], "--engine-json") == 0)
        return engine_json(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--make-engine-data") == 0) {
        mkdir(argv[2], 0755);
        gen g;
        int rc = make_data(argv[2], &g);
        if (!rc)
            rc = write_expect(argv[2], &g);
        free_checkpoints(&g);
        if (rc)
            fprintf(stderr, "make-engine-data: %s\n", wb_strerror(rc));
        return rc ? 1 : 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--make-engine-data DIR]\n", argv[0]);
        return 2;
    }
    WB_RUN(test_checkpoints_restore);
    return wb_test_summary();
}
