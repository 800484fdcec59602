/*
 * test_net_ws_session.c: the WebSocket session logic (net/ws_session.c,
 * net/ws_hub.c, net/ws_origin.c) against a real engine in a scratch
 * directory, through a fake transport: no sockets, no libwebsockets.
 *
 * The fixture opens an engine whose callbacks feed the hub core (as node.c
 * does), and "clients" that push frames with ws_sess_receive and pull what
 * the session queued with ws_sess_peek / ws_sess_pop. pump() plays the
 * service thread: it runs ws_hub_core_service until a condition holds or a
 * bounded time has passed.
 *
 * What it shows: hello -> welcome (full, delta, resync); ops -> ack after
 * durability -> broadcast to the room in apply order, including the
 * sender; a joiner's welcome + broadcasts rebuild exactly the engine's
 * board while another client writes; viewers, bad tokens, missing roles,
 * bad and oversized frames get typed errors and close codes and change
 * nothing; resends are idempotent; op rate limit; presence fan-out and its
 * rate limit; slow consumers lose presence first and are then closed;
 * Origin checks.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "codec.h"
#include "engine.h"
#include "engine_testkit.h"
#include "jwt.h"
#include "snap.h"
#include "vv.h"
#include "wb_error.h"
#include "wbtest.h"
#include "ws_frame.h"
#include "ws_internal.h"

static const char secret[] = "ws-session-test-secret-0123456789abcdef";

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
    engine *eng;
    ws_hub *hub;
    char dir[512];
    atomic_int wakes;
    int writes; /* want_write calls */
} fx;

static void fx_on_ack(void *ctx, uint64_t token, const engine_ack *a)
{
    fx *f = ctx;
    if (f->hub)
        ws_hub_core_on_ack(f->hub, token, a);
}

static void fx_on_ops(void *ctx, const char *bid, const wb_batch *b,
                      const uint8_t *enc, size_t len, uint64_t seq)
{
    fx *f = ctx;
    if (f->hub)
        ws_hub_core_on_ops(f->hub, bid, b, enc, len, seq);
}

static void fx_on_turn(void *ctx)
{
    fx *f = ctx;
    if (f->hub)
        ws_hub_core_turn(f->hub);
}

static void fx_want_write(void *ctx, void *handle)
{
    ((fx *)ctx)->writes++;
}

static void fx_wake(void *ctx) { atomic_fetch_add(&((fx *)ctx)->wakes, 1); }

static void fx_joining(void *ctx, void *handle, int joining);

/* Board metadata, as POST /api/v1/boards writes it (owner may be ""). */
static int fx_board(fx *f, const char *id, const char *owner, int deleted)
{
    snap_board_meta *m = calloc(1, sizeof *m);
    if (!m)
        return WB_ENOMEM;
    snprintf(m->board, sizeof m->board, "%s", id);
    snprintf(m->title, sizeof m->title, "t-%s", id);
    snprintf(m->owner, sizeof m->owner, "%s", owner);
    m->deleted = deleted;
    int rc = snap_board_put(engine_snap_store(f->eng), m);
    free(m);
    return rc;
}

/* opts may be NULL; ring_ops 0: engine default. Boards b1 and b2 exist. */
static int fx_open(fx *f, const ws_hub_options *opts, uint32_t ring_ops)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", wb_test_tmpdir("ws_session"));
    engine_options eo;
    tk_options(&eo, f->dir);
    eo.oplog.sync = OPLOG_SYNC_NONE;
    if (ring_ops)
        eo.ring_ops = ring_ops;
    engine_callbacks cb = {.ctx = f, .on_ack = fx_on_ack, .on_ops = fx_on_ops,
                           .on_turn = fx_on_turn};
    int rc = engine_open(&eo, &cb, &f->eng);
    if (rc)
        return rc;
    ws_hub_options o = {0};
    if (opts)
        o = *opts;
    o.eng = f->eng;
    o.keys = (jwt_keys){secret, strlen(secret), NULL, 0};
    ws_transport tr = {f, fx_want_write, fx_wake, fx_joining, NULL};
    if (opts && opts->tr.flush)
        tr.flush = opts->tr.flush; /* the direct-write transport */
    o.tr = tr;
    f->hub = ws_hub_new(&o);
    if (!f->hub)
        return WB_ENOMEM;
    rc = fx_board(f, "b1", "", 0);
    return rc ? rc : fx_board(f, "b2", "", 0);
}

static void fx_close(fx *f)
{
    ws_hub_stop_worker(f->hub); /* it calls the engine */
    if (f->eng)
        engine_close(f->eng);
    ws_hub_free(f->hub);
    f->hub = NULL;
    wb_test_rmtree(f->dir);
}

static uint64_t mono_ms(void) { return tk_now_ms(); }

/* ---- fake clients ------------------------------------------------------- */

#define MAX_RX 512

typedef struct client {
    ws_sess *s;
    uint8_t *rx[MAX_RX];
    size_t rxlen[MAX_RX];
    size_t nrx, seen; /* frames pulled; frames already examined */
    int closed;       /* close code once the queue drained */
    int paused;       /* the session asked its transport to stop reading */
    int pauses;       /* how many times */
    int flushes;      /* ws_transport.flush calls for it */
} client;

static void fx_flush(void *ctx, void *handle)
{
    ((client *)handle)->flushes++;
}

static void fx_joining(void *ctx, void *handle, int joining)
{
    client *c = handle;
    c->paused = joining;
    c->pauses += joining;
}

static void cl_open(fx *f, client *c)
{
    memset(c, 0, sizeof *c);
    c->s = ws_sess_open(f->hub, c);
}

static void cl_pull(client *c)
{
    const uint8_t *p;
    size_t len;
    while (c->s && ws_sess_peek(c->s, &p, &len)) {
        if (c->nrx < MAX_RX) {
            c->rx[c->nrx] = malloc(len);
            memcpy(c->rx[c->nrx], p, len);
            c->rxlen[c->nrx++] = len;
        }
        ws_sess_pop(c->s);
    }
    if (c->s && !c->closed)
        c->closed = ws_sess_close_code(c->s, NULL);
}

static void cl_free(client *c)
{
    if (c->s)
        ws_sess_close(c->s);
    c->s = NULL;
    for (size_t i = 0; i < c->nrx; i++)
        free(c->rx[i]);
    c->nrx = c->seen = 0;
}

static int cl_send(client *c, const ws_frame *f)
{
    uint8_t *enc;
    size_t len;
    int rc = ws_frame_encode(f, &enc, &len);
    if (rc)
        return rc;
    rc = ws_sess_receive(c->s, enc, len, 1, 1, 1);
    free(enc);
    return rc;
}

/* The next unexamined frame of type t (others are skipped and stay
 * examined), decoded into *out (clear it); 0 if none yet. */
static int cl_next(client *c, uint8_t type, ws_frame *out)
{
    cl_pull(c);
    while (c->seen < c->nrx) {
        size_t i = c->seen++;
        if (c->rx[i][0] != type)
            continue;
        if (ws_frame_decode(c->rx[i], c->rxlen[i], 0, out) != 0)
            return -1;
        return 1;
    }
    return 0;
}

/* Count of pulled frames of type t. */
static size_t cl_count(client *c, uint8_t type)
{
    cl_pull(c);
    size_t n = 0;
    for (size_t i = 0; i < c->nrx; i++)
        n += c->rx[i][0] == type;
    return n;
}

/* Runs the service loop until cl_count(c, type) >= n or 5 s. */
static int pump_until(fx *f, client *c, uint8_t type, size_t n)
{
    uint64_t end = mono_ms() + 5000;
    for (;;) {
        ws_hub_core_service(f->hub);
        if (cl_count(c, type) >= n)
            return 1;
        if (mono_ms() > end)
            return 0;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Lets in-flight engine work land: service for ms milliseconds. */
static void pump_for(fx *f, unsigned ms)
{
    uint64_t end = mono_ms() + ms;
    while (mono_ms() < end) {
        ws_hub_core_service(f->hub);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static char *token(const char *sub, const char *name, enum jwt_role role,
                   const char *board_id, enum jwt_role board_role,
                   int64_t exp_delta)
{
    jwt_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.role = role;
    if (board_id) {
        c.nboards = 1;
        snprintf(c.boards[0].id, sizeof c.boards[0].id, "%s", board_id);
        c.boards[0].role = board_role;
    }
    c.iat = time(NULL) - 10;
    c.exp = time(NULL) + exp_delta;
    jwt_keys k = {secret, strlen(secret), NULL, 0};
    char *t = NULL;
    if (jwt_sign(&c, &k, &t))
        abort();
    return t;
}

static int send_hello(client *c, const char *tok, const char *board_id,
                      const uint8_t *resume, size_t rlen)
{
    ws_frame h = {.type = WS_HELLO};
    h.u.hello.proto = WS_PROTO_VERSION;
    h.u.hello.token = (wb_str){tok, (uint32_t)strlen(tok)};
    h.u.hello.board = (wb_str){board_id, (uint32_t)strlen(board_id)};
    h.u.hello.resume = (ws_bytes){resume, rlen};
    return cl_send(c, &h);
}

/* hello with a fresh token of role on every board; waits for welcome. */
static int join(fx *f, client *c, const char *user, enum jwt_role role,
                const char *board_id)
{
    cl_open(f, c);
    char *t = token(user, user, role, NULL, 0, 3600);
    int rc = send_hello(c, t, board_id, NULL, 0);
    free(t);
    return rc == 0 && pump_until(f, c, WS_WELCOME, 1);
}

static int send_rects(client *c, const char *board_id, uint64_t cid0,
                      uint32_t n, const char *prefix, int32_t x)
{
    wb_op ops[16];
    char ids[16][32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%s%u", prefix, (unsigned)i);
        tk_rect_op(&ops[i], "", ids[i], cid0 + i, x + (int32_t)i, 7);
    }
    wb_batch b = {{board_id, (uint32_t)strlen(board_id)}, n, ops, NULL};
    ws_frame fr = {.type = WS_OPS};
    fr.u.ops.batch = &b;
    return cl_send(c, &fr);
}

/* The client's version token: vv from the welcome, raised by stamps. */
static void vv_from_welcome(vv *v, const ws_frame *w)
{
    vv_decode(v, w->u.welcome.version.ptr, w->u.welcome.version.len, NULL);
}

static void vv_raise_batch(vv *v, const wb_batch *b)
{
    for (uint32_t i = 0; i < b->nops; i++)
        vv_advance(v, b->ops[i].stamp.node, b->ops[i].stamp.oseq);
}

/* ---- tests -------------------------------------------------------------- */

static void test_hello_welcome_full(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    ws_frame w;
    CHECK_EQ_INT(cl_next(&a, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.flags, 0);
    CHECK_EQ_INT(w.u.welcome.role, JWT_ROLE_EDITOR);
    CHECK(w.u.welcome.user.len == 5 &&
          memcmp(w.u.welcome.user.ptr, "alice", 5) == 0);
    board *b = NULL;
    CHECK_RC(board_state_decode(w.u.welcome.state.ptr, w.u.welcome.state.len,
                                NULL, &b), 0);
    CHECK_EQ_INT(board_element_count(b), 0);
    board_free(b);
    ws_frame_clear(&w);
    CHECK_EQ_INT(ws_hub_sessions(f.hub), 1);
    cl_free(&a);
    CHECK_EQ_INT(ws_hub_sessions(f.hub), 0);
    fx_close(&f);
}

static void test_ops_ack_broadcast(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a, v, other;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &v, "victor", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &other, "olga", JWT_ROLE_EDITOR, "b2"));
    CHECK_RC(send_rects(&a, "b1", 100, 2, "r", 10), 0);
    CHECK(pump_until(&f, &a, WS_ACK, 1));
    ws_frame k;
    CHECK_EQ_INT(cl_next(&a, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_OK);
    CHECK_EQ_INT(k.u.ack.n, 2);
    CHECK_EQ_U64(k.u.ack.items[0].client_op_id, 100);
    CHECK_EQ_U64(k.u.ack.items[1].client_op_id, 101);
    CHECK(k.u.ack.items[0].stamp.node != 0 && k.u.ack.items[1].stamp.oseq ==
                                                  k.u.ack.items[0].stamp.oseq + 1);
    CHECK(k.u.ack.first_seq > 0);
    wb_stamp s0 = k.u.ack.items[0].stamp;
    ws_frame_clear(&k);
    /* the broadcast reaches the viewer and the sender, not board b2 */
    CHECK(pump_until(&f, &v, WS_SOPS, 1));
    CHECK(pump_until(&f, &a, WS_SOPS, 1));
    ws_frame o;
    CHECK_EQ_INT(cl_next(&v, WS_SOPS, &o), 1);
    CHECK_EQ_INT(o.u.ops.batch->nops, 2);
    CHECK(wb_stamp_cmp(&o.u.ops.batch->ops[0].stamp, &s0) == 0);
    CHECK(o.u.ops.batch->ops[0].user.len == 5 &&
          memcmp(o.u.ops.batch->ops[0].user.ptr, "alice", 5) == 0);
    ws_frame_clear(&o);
    pump_for(&f, 30);
    CHECK_EQ_INT(cl_count(&other, WS_SOPS), 0);
    CHECK_EQ_INT(cl_count(&v, WS_SOPS), 1);
    cl_free(&a);
    cl_free(&v);
    cl_free(&other);
    fx_close(&f);
}

static void test_viewer_and_wrong_board_refused(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client v, a;
    CHECK(join(&f, &v, "victor", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    engine_stats before, after;
    engine_get_stats(f.eng, &before);
    CHECK_RC(send_rects(&v, "b1", 1, 1, "v", 0), 0);
    CHECK_RC(send_rects(&a, "b9", 2, 1, "w", 0), 0); /* not the hello's */
    ws_frame k;
    CHECK_EQ_INT(cl_next(&v, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_CODE_FORBIDDEN);
    CHECK_EQ_U64(k.u.ack.items[0].client_op_id, 1);
    ws_frame_clear(&k);
    CHECK_EQ_INT(cl_next(&a, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_CODE_PROTOCOL);
    ws_frame_clear(&k);
    pump_for(&f, 30);
    engine_get_stats(f.eng, &after);
    CHECK_EQ_U64(after.submitted, before.submitted);
    CHECK_EQ_INT(cl_count(&v, WS_SOPS), 0);
    CHECK_EQ_INT(ws_sess_close_code(v.s, NULL), 0); /* still connected */
    cl_free(&v);
    cl_free(&a);
    fx_close(&f);
}

/* Applies every server ops frame of c from index from onto b. */
static int apply_broadcasts(client *c, board *b, vv *version)
{
    cl_pull(c);
    for (size_t i = 0; i < c->nrx; i++) {
        if (c->rx[i][0] != WS_SOPS)
            continue;
        ws_frame o;
        if (ws_frame_decode(c->rx[i], c->rxlen[i], 0, &o))
            return -1;
        int rc = board_apply_batch(b, o.u.ops.batch);
        if (version)
            vv_raise_batch(version, o.u.ops.batch);
        ws_frame_clear(&o);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_join_point_exact_while_writing(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client w, j;
    CHECK(join(&f, &w, "writer", JWT_ROLE_EDITOR, "b1"));
    /* a stream of batches in flight while j joins */
    char prefix[16];
    for (int i = 0; i < 30; i++) {
        if (i == 20) {
            /* let the engine apply (most of) the first 20 without running
             * the service loop: their events wait in the hub's list while
             * j joins, and must not reach j (they are in its welcome) */
            engine_stats st;
            uint64_t end = mono_ms() + 5000;
            do {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                engine_get_stats(f.eng, &st);
            } while (st.ops_applied < 45 && mono_ms() < end);
            CHECK(join(&f, &j, "joiner", JWT_ROLE_VIEWER, "b1"));
        }
        snprintf(prefix, sizeof prefix, "e%d_", i); /* 3 new elements each */
        CHECK_RC(send_rects(&w, "b1", 1000 + 10 * (uint64_t)i, 3, prefix, i),
                 0);
    }
    CHECK(pump_until(&f, &w, WS_ACK, 30));
    pump_for(&f, 50);
    ws_frame wel;
    CHECK_EQ_INT(cl_next(&j, WS_WELCOME, &wel), 1);
    board *b = NULL;
    CHECK_RC(board_state_decode(wel.u.welcome.state.ptr,
                                wel.u.welcome.state.len, NULL, &b), 0);
    ws_frame_clear(&wel);
    size_t in_welcome = board_element_count(b) / 3;
    CHECK_RC(apply_broadcasts(&j, b, NULL), 0);
    uint64_t mine;
    CHECK_RC(board_state_hash(b, &mine), 0);
    size_t count = board_element_count(b);
    board_free(b);
    tk_read r;
    CHECK_RC(tk_read_board(f.eng, "b1", NULL, &r), 0);
    vv_free(&r.version);
    CHECK_EQ_INT(count, r.count);
    CHECK_EQ_U64(mine, r.hash);
    /* every batch exactly once: in the welcome or as a broadcast */
    CHECK_EQ_INT(r.count, 90);
    CHECK_EQ_INT(in_welcome + cl_count(&j, WS_SOPS), 30);
    fprintf(stderr, "  joiner: %zu batches in the welcome, %zu broadcast\n",
            in_welcome, cl_count(&j, WS_SOPS));
    cl_free(&w);
    cl_free(&j);
    fx_close(&f);
}

static void test_resume_delta_and_resync(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 8), 0); /* small resume ring */
    client a, c;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &c, "carol", JWT_ROLE_EDITOR, "b1"));
    CHECK_RC(send_rects(&c, "b1", 1, 1, "x", 0), 0);
    CHECK(pump_until(&f, &a, WS_SOPS, 1));
    /* a's version token: welcome vv raised by the broadcasts */
    ws_frame w;
    CHECK_EQ_INT(cl_next(&a, WS_WELCOME, &w), 1);
    vv tok;
    vv_init(&tok);
    vv_from_welcome(&tok, &w);
    ws_frame_clear(&w);
    board *mirror = NULL;
    CHECK_RC(board_create("b1", 2, NULL, &mirror), 0);
    CHECK_RC(apply_broadcasts(&a, mirror, &tok), 0);
    cl_free(&a); /* disconnect */
    /* two batches a misses */
    CHECK_RC(send_rects(&c, "b1", 2, 2, "y", 5), 0);
    CHECK_RC(send_rects(&c, "b1", 4, 1, "z", 6), 0);
    CHECK(pump_until(&f, &c, WS_ACK, 3));
    uint8_t enc[256];
    size_t elen;
    CHECK_RC(vv_encode(&tok, enc, sizeof enc, &elen), 0);
    cl_open(&f, &a);
    char *t = token("alice", "Alice", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_RC(send_hello(&a, t, "b1", enc, elen), 0);
    CHECK(pump_until(&f, &a, WS_WELCOME, 1));
    CHECK_EQ_INT(cl_next(&a, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.flags, WS_WELCOME_DELTA);
    CHECK_EQ_INT(w.u.welcome.ndelta, 2); /* exactly the missed batches */
    uint64_t cids[3];
    size_t ncid = 0;
    for (uint32_t i = 0; i < w.u.welcome.ndelta; i++) {
        wb_batch *b = NULL;
        CHECK_RC(codec_decode_batch(w.u.welcome.delta[i].batch.ptr,
                                    w.u.welcome.delta[i].batch.len, &b), 0);
        for (uint32_t k = 0; k < b->nops && ncid < 3; k++)
            cids[ncid++] = b->ops[k].client_op_id;
        CHECK_RC(board_apply_batch(mirror, b), 0);
        codec_batch_free(b);
    }
    CHECK_EQ_INT(ncid, 3);
    CHECK(cids[0] == 2 && cids[1] == 3 && cids[2] == 4);
    vv newtok;
    vv_init(&newtok);
    vv_from_welcome(&newtok, &w);
    ws_frame_clear(&w);
    uint64_t h1;
    CHECK_RC(board_state_hash(mirror, &h1), 0);
    tk_read r;
    CHECK_RC(tk_read_board(f.eng, "b1", NULL, &r), 0);
    CHECK_EQ_U64(h1, r.hash);
    CHECK(vv_compare(&newtok, &r.version) == VV_EQUAL);
    vv_free(&r.version);
    cl_free(&a);
    /* an up-to-date token: an empty delta */
    CHECK_RC(vv_encode(&newtok, enc, sizeof enc, &elen), 0);
    cl_open(&f, &a);
    CHECK_RC(send_hello(&a, t, "b1", enc, elen), 0);
    CHECK(pump_until(&f, &a, WS_WELCOME, 1));
    CHECK_EQ_INT(cl_next(&a, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.flags, WS_WELCOME_DELTA);
    CHECK_EQ_INT(w.u.welcome.ndelta, 0);
    ws_frame_clear(&w);
    cl_free(&a);
    /* push the old token out of the 8-op ring: full state, RESYNC */
    for (int i = 0; i < 6; i++)
        CHECK_RC(send_rects(&c, "b1", 10 + 2 * (uint64_t)i, 2, "q", i), 0);
    CHECK(pump_until(&f, &c, WS_ACK, 9));
    CHECK_RC(vv_encode(&tok, enc, sizeof enc, &elen), 0);
    cl_open(&f, &a);
    CHECK_RC(send_hello(&a, t, "b1", enc, elen), 0);
    CHECK(pump_until(&f, &a, WS_WELCOME, 1));
    CHECK_EQ_INT(cl_next(&a, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.flags, WS_WELCOME_RESYNC);
    board *full = NULL;
    CHECK_RC(board_state_decode(w.u.welcome.state.ptr, w.u.welcome.state.len,
                                NULL, &full), 0);
    ws_frame_clear(&w);
    uint64_t h2;
    CHECK_RC(board_state_hash(full, &h2), 0);
    board_free(full);
    CHECK_RC(tk_read_board(f.eng, "b1", NULL, &r), 0);
    vv_free(&r.version);
    CHECK_EQ_U64(h2, r.hash);
    CHECK_EQ_INT(ws_sess_close_code(a.s, NULL), 0); /* an answer, not an error */
    free(t);
    board_free(mirror);
    vv_free(&tok);
    vv_free(&newtok);
    cl_free(&a);
    cl_free(&c);
    fx_close(&f);
}

static void test_idempotent_resend(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a, v;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &v, "victor", JWT_ROLE_VIEWER, "b1"));
    CHECK_RC(send_rects(&a, "b1", 500, 2, "d", 1), 0);
    CHECK(pump_until(&f, &a, WS_ACK, 1));
    ws_frame k1, k2;
    CHECK_EQ_INT(cl_next(&a, WS_ACK, &k1), 1);
    CHECK(pump_until(&f, &v, WS_SOPS, 1));
    cl_free(&a);
    /* reconnect and resend the same client op ids */
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK_RC(send_rects(&a, "b1", 500, 2, "d", 1), 0);
    CHECK(pump_until(&f, &a, WS_ACK, 1));
    CHECK_EQ_INT(cl_next(&a, WS_ACK, &k2), 1);
    CHECK_EQ_INT(k2.u.ack.status, WS_OK);
    CHECK_EQ_INT(k2.u.ack.dups, 2);
    CHECK(wb_stamp_cmp(&k1.u.ack.items[0].stamp, &k2.u.ack.items[0].stamp) == 0);
    CHECK(wb_stamp_cmp(&k1.u.ack.items[1].stamp, &k2.u.ack.items[1].stamp) == 0);
    ws_frame_clear(&k1);
    ws_frame_clear(&k2);
    pump_for(&f, 30);
    CHECK_EQ_INT(cl_count(&v, WS_SOPS), 1); /* nothing applied twice */
    cl_free(&a);
    cl_free(&v);
    fx_close(&f);
}

/* Opens a client, sends hello with tok, expects a fatal error code and
 * close code. */
static void expect_refused(fx *f, const char *tok, const char *board_id,
                           uint32_t code, int close_code)
{
    client c;
    cl_open(f, &c);
    send_hello(&c, tok, board_id, NULL, 0);
    ws_frame e;
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, code);
    CHECK_EQ_INT(e.u.error.fatal, 1);
    ws_frame_clear(&e);
    CHECK_EQ_INT(c.closed, close_code);
    CHECK_EQ_INT(cl_count(&c, WS_WELCOME), 0);
    cl_free(&c);
}

static void test_auth_refused(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    char *expired = token("alice", "", JWT_ROLE_EDITOR, NULL, 0, -3600);
    char *other = token("alice", "", JWT_ROLE_NONE, "b2", JWT_ROLE_OWNER, 3600);
    char *good = token("alice", "", JWT_ROLE_EDITOR, NULL, 0, 3600);
    char *bad = strdup(good);
    bad[strlen(bad) - 2] ^= 1; /* signature byte */
    int before = wb_test_current_failed;
    expect_refused(&f, expired, "b1", WS_CODE_UNAUTHORIZED, WS_CLOSE_UNAUTHORIZED);
    expect_refused(&f, bad, "b1", WS_CODE_UNAUTHORIZED, WS_CLOSE_UNAUTHORIZED);
    expect_refused(&f, "not-a-jwt", "b1", WS_CODE_UNAUTHORIZED,
                   WS_CLOSE_UNAUTHORIZED);
    expect_refused(&f, other, "b1", WS_CODE_FORBIDDEN, WS_CLOSE_FORBIDDEN);
    free(expired);
    free(other);
    free(bad);
    CHECK(wb_test_current_failed == before);
    /* the per-board role works on its board */
    client c;
    cl_open(&f, &c);
    char *owner = token("alice", "", JWT_ROLE_NONE, "b2", JWT_ROLE_OWNER, 3600);
    CHECK_RC(send_hello(&c, owner, "b2", NULL, 0), 0);
    free(owner);
    free(good);
    ws_frame w;
    CHECK(pump_until(&f, &c, WS_WELCOME, 1)); /* built off this thread */
    CHECK_EQ_INT(cl_next(&c, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.role, JWT_ROLE_OWNER);
    ws_frame_clear(&w);
    cl_free(&c);
    fx_close(&f);
}

/* Unknown and deleted boards are refused; a board's owner (metadata) has
 * the owner role without any role in the token, as on the REST path. */
static void test_board_metadata(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    CHECK_RC(fx_board(&f, "b3", "carol", 0), 0);
    CHECK_RC(fx_board(&f, "gone", "carol", 1), 0);
    char *t = token("carol", "", JWT_ROLE_NONE, NULL, 0, 3600);
    char *all = token("dave", "", JWT_ROLE_OWNER, NULL, 0, 3600);
    int before = wb_test_current_failed;
    expect_refused(&f, all, "nosuch", WS_CODE_NOT_FOUND, WS_CLOSE_NOT_FOUND);
    expect_refused(&f, all, "gone", WS_CODE_NOT_FOUND, WS_CLOSE_NOT_FOUND);
    expect_refused(&f, t, "b1", WS_CODE_FORBIDDEN, WS_CLOSE_FORBIDDEN);
    CHECK(wb_test_current_failed == before);
    client c;
    cl_open(&f, &c);
    CHECK_RC(send_hello(&c, t, "b3", NULL, 0), 0);
    ws_frame w;
    CHECK(pump_until(&f, &c, WS_WELCOME, 1)); /* built off this thread */
    CHECK_EQ_INT(cl_next(&c, WS_WELCOME, &w), 1);
    CHECK_EQ_INT(w.u.welcome.role, JWT_ROLE_OWNER);
    ws_frame_clear(&w);
    free(t);
    free(all);
    cl_free(&c);
    fx_close(&f);
}

/* A session still joining (welcome being built off the service thread)
 * when its board is deleted gets the 4004 close, never the welcome: it is
 * not in the room yet, so closing the room alone missed it. */
static void test_board_gone_while_joining(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client j, other;
    CHECK(join(&f, &other, "olga", JWT_ROLE_VIEWER, "b2"));
    cl_open(&f, &j);
    char *t = token("joiner", "J", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_RC(send_hello(&j, t, "b1", NULL, 0), 0);
    free(t);
    CHECK_EQ_INT(ws_sess_joined(j.s), 0); /* welcome not delivered yet */
    CHECK_EQ_INT(ws_hub_core_board_gone(f.hub, "b1"), 1);
    pump_for(&f, 50); /* the welcome event, if built, lands now */
    CHECK_EQ_INT(cl_count(&j, WS_WELCOME), 0);
    ws_frame e;
    CHECK_EQ_INT(cl_next(&j, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, WS_CODE_NOT_FOUND);
    ws_frame_clear(&e);
    CHECK_EQ_INT(j.closed, WS_CLOSE_NOT_FOUND);
    CHECK_EQ_INT(ws_sess_joined(j.s), 0);
    cl_pull(&other);
    CHECK_EQ_INT(other.closed, 0);
    cl_free(&j);
    cl_free(&other);
    fx_close(&f);
}

/* A deleted board closes its room (the REST DELETE path calls this). */
static void test_board_gone(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a, b, other;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &b, "bob", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &other, "olga", JWT_ROLE_VIEWER, "b2"));
    CHECK_EQ_INT(ws_hub_core_board_gone(f.hub, "b1"), 2);
    ws_frame e;
    CHECK_EQ_INT(cl_next(&a, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, WS_CODE_NOT_FOUND);
    CHECK_EQ_INT(e.u.error.fatal, 1);
    ws_frame_clear(&e);
    CHECK_EQ_INT(a.closed, WS_CLOSE_NOT_FOUND);
    cl_pull(&b);
    CHECK_EQ_INT(b.closed, WS_CLOSE_NOT_FOUND);
    cl_pull(&other);
    CHECK_EQ_INT(other.closed, 0);
    CHECK_EQ_INT(ws_hub_core_board_gone(f.hub, "nosuch"), 0);
    cl_free(&a);
    cl_free(&b);
    cl_free(&other);
    fx_close(&f);
}

static void test_bad_frames(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client c;
    /* before hello: anything but hello is fatal */
    cl_open(&f, &c);
    ws_frame ping = {.type = WS_PING};
    ping.u.ping.nonce = 9;
    CHECK_EQ_INT(cl_send(&c, &ping), -1);
    ws_frame e;
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, WS_CODE_PROTOCOL);
    ws_frame_clear(&e);
    CHECK_EQ_INT(c.closed, WS_CLOSE_PROTOCOL);
    cl_free(&c);
    /* text message */
    cl_open(&f, &c);
    CHECK_EQ_INT(ws_sess_receive(c.s, (const uint8_t *)"hi", 2, 1, 1, 0), -1);
    cl_pull(&c);
    CHECK_EQ_INT(c.closed, WS_CLOSE_PROTOCOL);
    cl_free(&c);
    /* after the welcome: malformed is a non-fatal typed error */
    CHECK(join(&f, &c, "alice", JWT_ROLE_EDITOR, "b1"));
    const uint8_t junk[] = {WS_OPS, 1, 1, 2, 'b', '1', 1, 0x07};
    CHECK_EQ_INT(ws_sess_receive(c.s, junk, sizeof junk, 1, 1, 1), 0);
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.fatal, 0);
    CHECK(e.u.error.code == WS_CODE_MALFORMED);
    ws_frame_clear(&e);
    const uint8_t badver[] = {WS_PING, 7, 1};
    CHECK_EQ_INT(ws_sess_receive(c.s, badver, sizeof badver, 1, 1, 1), 0);
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, WS_CODE_VERSION);
    ws_frame_clear(&e);
    /* fragments are reassembled: a ping in three pieces gets its pong */
    uint8_t p[] = {WS_PING, 1, 0x2a};
    CHECK_EQ_INT(ws_sess_receive(c.s, p, 1, 1, 0, 1), 0);
    CHECK_EQ_INT(ws_sess_receive(c.s, p + 1, 1, 0, 0, 1), 0);
    CHECK_EQ_INT(ws_sess_receive(c.s, p + 2, 1, 0, 1, 1), 0);
    CHECK_EQ_INT(cl_next(&c, WS_PONG, &e), 1);
    CHECK_EQ_U64(e.u.ping.nonce, 42);
    ws_frame_clear(&e);
    CHECK_EQ_INT(ws_sess_close_code(c.s, NULL), 0);
    /* a second hello is fatal */
    char *t = token("alice", "", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_EQ_INT(send_hello(&c, t, "b1", NULL, 0), -1);
    free(t);
    cl_pull(&c);
    CHECK_EQ_INT(c.closed, WS_CLOSE_PROTOCOL);
    cl_free(&c);
    fx_close(&f);
}

static void test_frame_too_big(void)
{
    fx f;
    ws_hub_options o = {.max_frame = 4096};
    CHECK_RC(fx_open(&f, &o, 0), 0);
    client c;
    CHECK(join(&f, &c, "alice", JWT_ROLE_EDITOR, "b1"));
    static uint8_t big[3000];
    big[0] = WS_OPS;
    big[1] = 1;
    CHECK_EQ_INT(ws_sess_receive(c.s, big, sizeof big, 1, 0, 1), 0);
    /* the second piece crosses 4096: refused before buffering it */
    CHECK_EQ_INT(ws_sess_receive(c.s, big, sizeof big, 0, 0, 1), -1);
    ws_frame e;
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.code, WS_CODE_TOO_BIG);
    ws_frame_clear(&e);
    CHECK_EQ_INT(c.closed, WS_CLOSE_TOO_BIG);
    cl_free(&c);
    fx_close(&f);
}

static void test_op_rate_limit(void)
{
    fx f;
    ws_hub_options o = {.rate_ops = {1, 3}}; /* 3 ops, then 1 per second */
    CHECK_RC(fx_open(&f, &o, 0), 0);
    client c;
    CHECK(join(&f, &c, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK_RC(send_rects(&c, "b1", 1, 2, "a", 0), 0);
    CHECK_RC(send_rects(&c, "b1", 3, 1, "b", 0), 0);
    CHECK_RC(send_rects(&c, "b1", 4, 1, "c", 0), 0); /* the 4th op */
    CHECK(pump_until(&f, &c, WS_ACK, 3));
    int ok = 0, limited = 0;
    ws_frame k;
    while (cl_next(&c, WS_ACK, &k) == 1) {
        if (k.u.ack.status == WS_OK)
            ok++;
        else if (k.u.ack.status == WS_CODE_RATE_LIMITED &&
                 k.u.ack.items[0].client_op_id == 4)
            limited++;
        ws_frame_clear(&k);
    }
    CHECK_EQ_INT(ok, 2);
    CHECK_EQ_INT(limited, 1);
    cl_free(&c);
    fx_close(&f);
}

/* The per-user table is shared by every connection of the user. */
static void test_user_rate_limit(void)
{
    fx f;
    rl_table *users = rl_table_new((rl_limit){1, 3}, 16);
    CHECK(users != NULL);
    ws_hub_options o = {.rl_user = users};
    CHECK_RC(fx_open(&f, &o, 0), 0);
    client c1, c2, other;
    CHECK(join(&f, &c1, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &c2, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &other, "bob", JWT_ROLE_EDITOR, "b1"));
    CHECK_RC(send_rects(&c1, "b1", 1, 2, "a", 0), 0);
    CHECK_RC(send_rects(&c2, "b1", 3, 2, "b", 0), 0); /* 4 > burst 3 */
    CHECK_RC(send_rects(&other, "b1", 5, 2, "c", 0), 0); /* own bucket */
    CHECK(pump_until(&f, &c1, WS_ACK, 1));
    CHECK(pump_until(&f, &other, WS_ACK, 1));
    ws_frame k;
    CHECK_EQ_INT(cl_next(&c1, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_OK);
    ws_frame_clear(&k);
    CHECK_EQ_INT(cl_next(&c2, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_CODE_RATE_LIMITED);
    ws_frame_clear(&k);
    CHECK_EQ_INT(cl_next(&other, WS_ACK, &k), 1);
    CHECK_EQ_INT(k.u.ack.status, WS_OK);
    ws_frame_clear(&k);
    cl_free(&c1);
    cl_free(&c2);
    cl_free(&other);
    fx_close(&f);
    rl_table_free(users);
}

static void test_presence(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a, b;
    CHECK(join(&f, &a, "alice", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &b, "bob", JWT_ROLE_VIEWER, "b1"));
    wb_str sel[1] = {{"e1", 2}};
    ws_frame p = {.type = WS_PRESENCE};
    p.u.presence.x = -5;
    p.u.presence.y = 99;
    p.u.presence.flags = WS_PRESENCE_DRAWING;
    p.u.presence.nsel = 1;
    p.u.presence.sel = sel;
    for (int i = 0; i < 30; i++)
        CHECK_RC(cl_send(&a, &p), 0);
    ws_frame q;
    CHECK_EQ_INT(cl_next(&b, WS_SPRESENCE, &q), 1);
    CHECK(q.u.presence.user.len == 5 &&
          memcmp(q.u.presence.user.ptr, "alice", 5) == 0);
    CHECK_EQ_INT(q.u.presence.x, -5);
    CHECK_EQ_INT(q.u.presence.y, 99);
    CHECK_EQ_INT(q.u.presence.nsel, 1);
    CHECK(q.u.presence.colour != 0);
    ws_frame_clear(&q);
    /* burst 20 per second: the rest of the 30 were dropped */
    size_t got = cl_count(&b, WS_SPRESENCE);
    CHECK_MSG(got >= 20 && got <= 21, "presence fan-out %zu", got);
    CHECK_EQ_INT(cl_count(&a, WS_SPRESENCE), 0); /* not echoed */
    cl_free(&a);
    cl_free(&b);
    fx_close(&f);
}

/* join() with hello proto (2: the client also takes presence leaves). */
static int join_proto(fx *f, client *c, const char *user, const char *board_id,
                      uint64_t proto)
{
    cl_open(f, c);
    char *t = token(user, user, JWT_ROLE_VIEWER, NULL, 0, 3600);
    ws_frame h = {.type = WS_HELLO};
    h.u.hello.proto = proto;
    h.u.hello.token = (wb_str){t, (uint32_t)strlen(t)};
    h.u.hello.board = (wb_str){board_id, (uint32_t)strlen(board_id)};
    int rc = cl_send(c, &h);
    free(t);
    return rc == 0 && pump_until(f, c, WS_WELCOME, 1);
}

/* Rule 6, leave: when a user's last session in the room closes, the
 * room's proto 2 sessions get a server presence with WS_PRESENCE_LEFT;
 * proto 1 sessions and other rooms get nothing. */
static void test_presence_leave(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client a, b1, b2, c, d;
    CHECK(join_proto(&f, &a, "alice", "b1", WS_PROTO_LEAVE));
    CHECK(join_proto(&f, &b1, "bob", "b1", WS_PROTO_LEAVE));
    CHECK(join_proto(&f, &b2, "bob", "b1", WS_PROTO_VERSION)); /* 2nd tab */
    CHECK(join_proto(&f, &c, "carol", "b1", WS_PROTO_VERSION));
    CHECK(join_proto(&f, &d, "dave", "b2", WS_PROTO_LEAVE));
    ws_frame p = {.type = WS_PRESENCE};
    p.u.presence.x = 300;
    CHECK_RC(cl_send(&b1, &p), 0); /* bob is seen */
    ws_frame q;
    CHECK_EQ_INT(cl_next(&a, WS_SPRESENCE, &q), 1);
    CHECK_EQ_INT(q.u.presence.flags, 0);
    ws_frame_clear(&q);
    CHECK_EQ_INT(cl_count(&c, WS_SPRESENCE), 1); /* bob's cursor */
    cl_free(&b1); /* bob still has b2: no leave */
    pump_for(&f, 20);
    CHECK_EQ_INT(cl_next(&a, WS_SPRESENCE, &q), 0);
    cl_free(&b2); /* bob's last session */
    CHECK_EQ_INT(cl_next(&a, WS_SPRESENCE, &q), 1);
    CHECK(q.u.presence.user.len == 3 &&
          memcmp(q.u.presence.user.ptr, "bob", 3) == 0);
    CHECK_EQ_INT(q.u.presence.flags, WS_PRESENCE_LEFT);
    CHECK_EQ_INT(q.u.presence.nsel, 0);
    CHECK(q.u.presence.colour != 0);
    ws_frame_clear(&q);
    CHECK_EQ_INT(cl_count(&c, WS_SPRESENCE), 1); /* proto 1: no leave */
    CHECK_EQ_INT(cl_count(&d, WS_SPRESENCE), 0); /* another room */
    cl_free(&c); /* a proto 1 client leaving: alice (proto 2) hears it */
    CHECK_EQ_INT(cl_next(&a, WS_SPRESENCE, &q), 1);
    CHECK(q.u.presence.user.len == 5 &&
          memcmp(q.u.presence.user.ptr, "carol", 5) == 0);
    CHECK_EQ_INT(q.u.presence.flags, WS_PRESENCE_LEFT);
    ws_frame_clear(&q);
    /* the flag is server-only: a client presence with it is malformed */
    p.u.presence.flags = WS_PRESENCE_LEFT;
    uint8_t *enc = NULL;
    size_t len = 0;
    CHECK(ws_frame_encode(&p, &enc, &len) != 0);
    free(enc);
    static const uint8_t raw[] = {0x03, 0x01, 0x00, 0x00, 0x02, 0x00};
    ws_frame r;
    CHECK_RC(ws_frame_decode(raw, sizeof raw, 0, &r), WB_EMALFORMED);
    /* proto 3 is not spoken */
    client e;
    CHECK(!join_proto(&f, &e, "erin", "b1", WS_PROTO_LEAVE + 1));
    cl_free(&e);
    cl_free(&a);
    cl_free(&d);
    fx_close(&f);
}

static double lin(uint32_t v8)
{
    double v = v8 / 255.0;
    return v <= 0.03928 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

/* Rule 6, colours: spread over hues (an 8-colour palette gave two of a few
 * users the same colour), opaque, contrast >= 3:1 with white (the names are
 * white on it); values as Python's colorsys computes them for the doc's
 * rule (FNV-1a hue, HSL 70 % / 34 %). */
static void test_presence_colours(void)
{
    CHECK_EQ_INT(ws_colour_of("alice"), 0x1a1c93ffu);
    CHECK_EQ_INT(ws_colour_of("bob"), 0x731a93ffu);
    CHECK_EQ_INT(ws_colour_of("guest-\xc3\xa9"), 0x931a4fffu);
    CHECK_EQ_INT(ws_colour_of(""), 0x91931affu);
    uint32_t seen[200];
    size_t distinct = 0;
    double worst = 100;
    for (int i = 0; i < 200; i++) {
        char u[16];
        snprintf(u, sizeof u, "user-%d", i);
        uint32_t c = ws_colour_of(u);
        CHECK_EQ_INT(c & 0xffu, 0xffu);
        double l = 0.2126 * lin(c >> 24 & 0xffu) +
                   0.7152 * lin(c >> 16 & 0xffu) + 0.0722 * lin(c >> 8 & 0xffu);
        double contrast = 1.05 / (l + 0.05);
        worst = contrast < worst ? contrast : worst;
        size_t k = 0;
        while (k < distinct && seen[k] != c)
            k++;
        if (k == distinct)
            seen[distinct++] = c;
    }
    CHECK_MSG(distinct >= 150, "%zu distinct colours of 200 users", distinct);
    CHECK_MSG(worst >= 3.0, "contrast with white %.2f", worst);
}

static void test_slow_consumer(void)
{
    fx f;
    ws_hub_options o = {.sendq_max = 2048};
    CHECK_RC(fx_open(&f, &o, 0), 0);
    client w, slow, p;
    CHECK(join(&f, &w, "writer", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &slow, "slow", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &p, "pres", JWT_ROLE_VIEWER, "b1"));
    cl_pull(&slow); /* the welcome is out; from now on slow never reads */
    ws_sess *s = slow.s;
    slow.s = NULL; /* keep cl_* away from it */
    /* broadcasts until slow holds more than half the bound */
    int i = 0;
    while (ws_sess_queued(s) <= 1024 && i < 50) {
        CHECK_RC(send_rects(&w, "b1", 100 + 10 * (uint64_t)i, 4, "s", i), 0);
        CHECK(pump_until(&f, &w, WS_ACK, (size_t)i + 1));
        pump_for(&f, 5);
        cl_pull(&p);
        i++;
    }
    CHECK(ws_sess_queued(s) > 1024);
    CHECK_EQ_INT(ws_sess_close_code(s, NULL), 0);
    /* presence is dropped first: the queue does not grow */
    size_t q = ws_sess_queued(s);
    ws_frame pr = {.type = WS_PRESENCE};
    CHECK_RC(cl_send(&p, &pr), 0);
    CHECK_EQ_U64(ws_sess_queued(s), q);
    CHECK_EQ_INT(ws_sess_close_code(s, NULL), 0);
    /* more broadcasts: past the bound it is closed as a slow consumer */
    while (!ws_sess_close_code(s, NULL) && i < 100) {
        CHECK_RC(send_rects(&w, "b1", 100 + 10 * (uint64_t)i, 4, "s", i), 0);
        CHECK(pump_until(&f, &w, WS_ACK, (size_t)i + 1));
        pump_for(&f, 5);
        cl_pull(&p);
        i++;
    }
    CHECK_EQ_INT(ws_sess_close_code(s, NULL), WS_CLOSE_SLOW_CONSUMER);
    CHECK_EQ_U64(ws_sess_queued(s), 0);
    /* the writer was never slowed: every batch acked */
    CHECK_EQ_INT(cl_count(&w, WS_ACK), (size_t)i);
    ws_sess_close(s);
    cl_free(&slow); /* its received frames (slow.s is already NULL) */
    cl_free(&w);
    cl_free(&p);
    fx_close(&f);
}

/* With a transport that writes at the end of a service turn (tr.flush, the
 * node's): new frames only mark a session dirty; ws_hub_core_flush calls
 * flush once per dirty session however many frames it got; a closing
 * session goes to want_write (only the writable callback can close) and
 * is never flushed; a session closed while dirty leaves the list. */
static void test_flush_dirty_list(void)
{
    fx f;
    ws_hub_options o = {0};
    o.tr.flush = fx_flush;
    CHECK_RC(fx_open(&f, &o, 0), 0);
    client a, b, c;
    CHECK(join(&f, &a, "alice", JWT_ROLE_EDITOR, "b1"));
    CHECK(join(&f, &b, "bob", JWT_ROLE_VIEWER, "b1"));
    CHECK(join(&f, &c, "carol", JWT_ROLE_VIEWER, "b1"));
    ws_hub_core_flush(f.hub);
    CHECK_EQ_INT(a.flushes, 1); /* its welcome */
    a.flushes = b.flushes = c.flushes = 0;
    int writes = f.writes;
    CHECK_RC(send_rects(&a, "b1", 100, 2, "r", 10), 0);
    CHECK_RC(send_rects(&a, "b1", 200, 2, "q", 10), 0);
    CHECK(pump_until(&f, &a, WS_ACK, 2));
    CHECK(pump_until(&f, &b, WS_SOPS, 2));
    CHECK_EQ_INT(f.writes, writes); /* no writable callback asked for */
    CHECK_EQ_INT(a.flushes + b.flushes, 0);
    ws_hub_core_flush(f.hub);
    CHECK_EQ_INT(a.flushes, 1);
    CHECK_EQ_INT(b.flushes, 1);
    CHECK_EQ_INT(c.flushes, 1);
    ws_hub_core_flush(f.hub);
    CHECK_EQ_INT(a.flushes + b.flushes + c.flushes, 3);
    /* dirty, then a fatal error: want_write, and no flush */
    CHECK_RC(send_rects(&a, "b1", 300, 1, "p", 10), 0);
    CHECK(pump_until(&f, &b, WS_SOPS, 3));
    ws_sess_error(b.s, WS_CODE_INTERNAL, WS_CLOSE_INTERNAL, "test");
    CHECK(f.writes > writes);
    /* c is dirty too, and goes away before the flush */
    ws_sess_close(c.s);
    c.s = NULL;
    ws_hub_core_flush(f.hub);
    CHECK_EQ_INT(a.flushes, 2);
    CHECK_EQ_INT(b.flushes, 1);
    CHECK_EQ_INT(c.flushes, 1);
    cl_free(&a);
    cl_free(&b);
    cl_free(&c);
    fx_close(&f);
}

static void test_origin(void)
{
    CHECK(ws_origin_allowed(NULL, "wb.example.com", ""));
    CHECK(ws_origin_allowed("", "wb.example.com", ""));
    CHECK(ws_origin_allowed("https://wb.example.com", "wb.example.com", ""));
    CHECK(ws_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", ""));
    CHECK(ws_origin_allowed("HTTPS://WB.example.com/", "wb.example.com", ""));
    CHECK(!ws_origin_allowed("https://evil.com", "wb.example.com", ""));
    CHECK(!ws_origin_allowed("https://wb.example.com.evil.com",
                             "wb.example.com", ""));
    CHECK(!ws_origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", ""));
    CHECK(!ws_origin_allowed("null", "wb.example.com", ""));
    const char *list = "https://a.example, https://b.example:8443";
    CHECK(ws_origin_allowed("https://b.example:8443", "x", list));
    CHECK(ws_origin_allowed("https://a.example", "x", list));
    CHECK(!ws_origin_allowed("https://b.example", "b.example", list));
    CHECK(!ws_origin_allowed("https://a.examplex", "x", list));
    CHECK(ws_origin_allowed("https://anything", "x", "*"));
}

/* ---- the welcome off the service thread ---------------------------------- */

/* Rebuilds c's board from its welcome and every ops frame after it; checks
 * it equals the engine's board and that the welcome is c's first frame.
 * *in_welcome: elements in the welcome. Returns 0 or -1. */
static int rebuild_matches(fx *f, client *c, const char *board_id,
                           size_t *in_welcome)
{
    cl_pull(c);
    if (c->nrx == 0 || c->rx[0][0] != WS_WELCOME)
        return -1;
    ws_frame wel;
    if (ws_frame_decode(c->rx[0], c->rxlen[0], 0, &wel))
        return -1;
    board *b = NULL;
    int rc = board_state_decode(wel.u.welcome.state.ptr,
                                wel.u.welcome.state.len, NULL, &b);
    ws_frame_clear(&wel);
    if (rc)
        return -1;
    *in_welcome = board_element_count(b);
    rc = apply_broadcasts(c, b, NULL);
    uint64_t mine = 0;
    if (!rc)
        rc = board_state_hash(b, &mine);
    board_free(b);
    tk_read r;
    if (!rc)
        rc = tk_read_board(f->eng, board_id, NULL, &r);
    if (rc)
        return -1;
    vv_free(&r.version);
    return mine == r.hash ? 0 : -1;
}

/* Ops in c's server ops frames (each op of these tests adds an element:
 * with the welcome's elements they count every batch exactly once). */
static size_t ops_after_welcome(client *c)
{
    size_t n = 0;
    cl_pull(c);
    for (size_t i = 0; i < c->nrx; i++) {
        ws_frame o;
        if (c->rx[i][0] != WS_SOPS ||
            ws_frame_decode(c->rx[i], c->rxlen[i], 0, &o))
            continue;
        n += o.u.ops.batch->nops;
        ws_frame_clear(&o);
    }
    return n;
}

/* Waits (without running the service loop) until the engine applied n ops. */
static void wait_applied(fx *f, uint64_t n)
{
    engine_stats st;
    uint64_t end = mono_ms() + 5000;
    do {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        engine_get_stats(f->eng, &st);
    } while (st.ops_applied < n && mono_ms() < end);
}

/* A large board: the hello returns at once (the welcome is built off the
 * service thread), the joiner's transport is paused meanwhile, the writer
 * keeps getting its acks and broadcasts, ops the joiner sends before its
 * welcome are held and answered after it, and the joiner sees the welcome
 * then every later batch exactly once. */
static void test_welcome_async_large_board(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client w, j;
    CHECK(join(&f, &w, "writer", JWT_ROLE_EDITOR, "b1"));
    char prefix[16];
    for (int i = 0; i < 125; i++) { /* 2,000 elements */
        snprintf(prefix, sizeof prefix, "big%d_", i);
        CHECK_RC(send_rects(&w, "b1", 1 + 16 * (uint64_t)i, 16, prefix, i), 0);
    }
    CHECK(pump_until(&f, &w, WS_ACK, 125));
    cl_open(&f, &j);
    char *t = token("joiner", "J", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_RC(send_hello(&j, t, "b1", NULL, 0), 0);
    free(t);
    /* nothing yet: the service thread did not wait for the engine */
    CHECK_EQ_INT(cl_count(&j, WS_WELCOME), 0);
    CHECK_EQ_INT(ws_sess_joined(j.s), 0);
    CHECK_EQ_INT(j.paused, 1);
    /* the joiner's own ops before its welcome: held, answered after it */
    CHECK_RC(send_rects(&j, "b1", 5000, 2, "mine_", 1), 0);
    for (int i = 0; i < 10; i++) { /* the room keeps moving meanwhile */
        snprintf(prefix, sizeof prefix, "more%d_", i);
        CHECK_RC(send_rects(&w, "b1", 9000 + 16 * (uint64_t)i, 3, prefix, i),
                 0);
    }
    CHECK(pump_until(&f, &w, WS_ACK, 135));
    CHECK(pump_until(&f, &j, WS_ACK, 1));
    CHECK(pump_until(&f, &w, WS_SOPS, 136));
    pump_for(&f, 30);
    CHECK_EQ_INT(j.paused, 0);
    CHECK_EQ_INT(j.pauses, 1);
    CHECK_EQ_INT(ws_sess_joined(j.s), 1);
    size_t in_welcome = 0;
    CHECK_RC(rebuild_matches(&f, &j, "b1", &in_welcome), 0);
    /* 2,000 + 30 + 2 elements; every batch after the welcome exactly once */
    size_t after = cl_count(&j, WS_SOPS);
    CHECK(in_welcome >= 2000);
    CHECK_EQ_INT(in_welcome + ops_after_welcome(&j), 2032);
    tk_read r;
    CHECK_RC(tk_read_board(f.eng, "b1", NULL, &r), 0);
    vv_free(&r.version);
    CHECK_EQ_INT(r.count, 2032);
    /* the ack of the held ops comes after the welcome */
    ws_frame a;
    CHECK_EQ_INT(cl_next(&j, WS_ACK, &a), 1);
    CHECK_EQ_INT(a.u.ack.status, WS_OK);
    ws_frame_clear(&a);
    CHECK_EQ_INT(j.rx[0][0], WS_WELCOME);
    fprintf(stderr, "  joiner: %zu elements in the welcome, %zu batches after\n",
            in_welcome, after);
    cl_free(&w);
    cl_free(&j);
    fx_close(&f);
}

/* The room keeps the board's encoded state: a joiner while nothing changed
 * gets its welcome at once, with its own role and user; an op delivered to
 * the room drops it, and so does an op applied but not yet delivered. */
static void test_welcome_cache(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client w, b, c, d, e;
    CHECK(join(&f, &w, "writer", JWT_ROLE_EDITOR, "b1"));
    CHECK_RC(send_rects(&w, "b1", 1, 3, "a", 1), 0);
    CHECK(pump_until(&f, &w, WS_SOPS, 1));
    /* no cache after a change: b's welcome is built by the engine */
    cl_open(&f, &b);
    char *tb = token("bob", "B", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_RC(send_hello(&b, tb, "b1", NULL, 0), 0);
    CHECK_EQ_INT(cl_count(&b, WS_WELCOME), 0);
    CHECK(pump_until(&f, &b, WS_WELCOME, 1));
    /* nothing changed since: c's welcome comes from the room at once */
    cl_open(&f, &c);
    char *tc = token("carol", "C", JWT_ROLE_VIEWER, NULL, 0, 3600);
    CHECK_RC(send_hello(&c, tc, "b1", NULL, 0), 0);
    CHECK_EQ_INT(cl_count(&c, WS_WELCOME), 1);
    CHECK_EQ_INT(c.paused, 0);
    ws_frame wb, wc;
    CHECK_EQ_INT(cl_next(&b, WS_WELCOME, &wb), 1);
    CHECK_EQ_INT(cl_next(&c, WS_WELCOME, &wc), 1);
    CHECK_EQ_INT(wc.u.welcome.role, JWT_ROLE_VIEWER);
    CHECK(wc.u.welcome.user.len == 5 &&
          memcmp(wc.u.welcome.user.ptr, "carol", 5) == 0);
    CHECK(wb.u.welcome.state.len == wc.u.welcome.state.len &&
          memcmp(wb.u.welcome.state.ptr, wc.u.welcome.state.ptr,
                 wb.u.welcome.state.len) == 0);
    CHECK(wb.u.welcome.version.len == wc.u.welcome.version.len &&
          memcmp(wb.u.welcome.version.ptr, wc.u.welcome.version.ptr,
                 wb.u.welcome.version.len) == 0);
    ws_frame_clear(&wb);
    ws_frame_clear(&wc);
    /* an op delivered: the cache is gone, d waits for the engine and sees
     * the op in its welcome, not as a broadcast */
    CHECK_RC(send_rects(&w, "b1", 10, 1, "b", 2), 0);
    CHECK(pump_until(&f, &c, WS_SOPS, 1));
    cl_open(&f, &d);
    CHECK_RC(send_hello(&d, tb, "b1", NULL, 0), 0);
    CHECK_EQ_INT(cl_count(&d, WS_WELCOME), 0);
    CHECK(pump_until(&f, &d, WS_WELCOME, 1));
    size_t n = 0;
    CHECK_RC(rebuild_matches(&f, &d, "b1", &n), 0);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(cl_count(&d, WS_SOPS), 0);
    /* cache current again (d's welcome); an op applied and pushed but not
     * delivered yet: e must not get the cached state */
    CHECK_RC(send_rects(&w, "b1", 20, 1, "c", 3), 0);
    wait_applied(&f, 5);
    cl_open(&f, &e);
    CHECK_RC(send_hello(&e, tc, "b1", NULL, 0), 0);
    CHECK_EQ_INT(cl_count(&e, WS_WELCOME), 0);
    CHECK(pump_until(&f, &e, WS_WELCOME, 1));
    CHECK(pump_until(&f, &w, WS_SOPS, 3));
    pump_for(&f, 20);
    CHECK_RC(rebuild_matches(&f, &e, "b1", &n), 0);
    CHECK_EQ_INT(n + ops_after_welcome(&e), 5); /* the op exactly once */
    free(tb);
    free(tc);
    cl_free(&w);
    cl_free(&b);
    cl_free(&c);
    cl_free(&d);
    cl_free(&e);
    fx_close(&f);
}

/* A bad frame sent between the hello and the welcome is handled after the
 * welcome, and is fatal as before any welcome (docs/protocol.md 2.3.8). */
static void test_held_bad_frame_fatal(void)
{
    fx f;
    CHECK_RC(fx_open(&f, NULL, 0), 0);
    client c;
    cl_open(&f, &c);
    char *t = token("carol", "C", JWT_ROLE_EDITOR, NULL, 0, 3600);
    CHECK_RC(send_hello(&c, t, "b1", NULL, 0), 0);
    free(t);
    CHECK_EQ_INT(cl_count(&c, WS_WELCOME), 0); /* no room yet: no cache */
    static const uint8_t bad[] = {0x02, 0x01, 0x01};
    CHECK_RC(ws_sess_receive(c.s, bad, sizeof bad, 1, 1, 1), 0); /* held */
    CHECK(pump_until(&f, &c, WS_ERROR, 1));
    ws_frame e;
    CHECK_EQ_INT(c.rx[0][0], WS_WELCOME);
    CHECK_EQ_INT(cl_next(&c, WS_ERROR, &e), 1);
    CHECK_EQ_INT(e.u.error.fatal, 1);
    ws_frame_clear(&e);
    CHECK_EQ_INT(c.closed, WS_CLOSE_PROTOCOL);
    cl_free(&c);
    fx_close(&f);
}

int main(void)
{
    WB_RUN(test_hello_welcome_full);
    WB_RUN(test_ops_ack_broadcast);
    WB_RUN(test_viewer_and_wrong_board_refused);
    WB_RUN(test_join_point_exact_while_writing);
    WB_RUN(test_resume_delta_and_resync);
    WB_RUN(test_idempotent_resend);
    WB_RUN(test_auth_refused);
    WB_RUN(test_board_metadata);
    WB_RUN(test_board_gone);
    WB_RUN(test_board_gone_while_joining);
    WB_RUN(test_bad_frames);
    WB_RUN(test_frame_too_big);
    WB_RUN(test_op_rate_limit);
    WB_RUN(test_user_rate_limit);
    WB_RUN(test_presence);
    WB_RUN(test_presence_leave);
    WB_RUN(test_presence_colours);
    WB_RUN(test_slow_consumer);
    WB_RUN(test_flush_dirty_list);
    WB_RUN(test_origin);
    WB_RUN(test_welcome_async_large_board);
    WB_RUN(test_welcome_cache);
    WB_RUN(test_held_bad_frame_fatal);
    return wb_test_summary();
}
