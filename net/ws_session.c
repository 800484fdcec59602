/*
 * ws_session.c: one WebSocket session of the sync protocol, transport-free
 * (ws_internal.h; the rules are docs/protocol.md 2.3, numbered here as
 * there).
 *
 * State machine:
 *   WS_AWAIT_HELLO --hello ok (auth, role, welcome queued, room joined)-->
 *   WS_JOINED --fatal error / slow consumer--> WS_CLOSING
 * Any state --ws_sess_close--> freed. In WS_CLOSING nothing is read, the
 * queue holds at most the fatal error frame, and close_code says how the
 * transport closes once the queue is empty.
 *
 * The welcome is built ON THE ENGINE THREAD inside engine_call (welcome_fn):
 * the state or delta, the board's version vector and the hub's ops-event
 * number are read at one point of the apply order, which is what makes the
 * welcome + later broadcasts exactly the board's history (ws_hub.c,
 * invariant 3). engine_call blocks the service thread for that call only
 * (bounded by WS_CALL_TIMEOUT_MS).
 *
 * Ops are re-encoded with the authenticated user in every op and submitted
 * as bytes (engine_submit_encoded): the engine then owns its own copy, so
 * nothing the engine holds points into this session's memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "codec.h"
#include "log.h"
#include "vv.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

/* ---- queue -------------------------------------------------------------- */

static void want_write(ws_sess *s)
{
    if (s->hub->o.tr.want_write)
        s->hub->o.tr.want_write(s->hub->o.tr.ctx, s->handle);
}

static void drop_queue(ws_sess *s)
{
    while (s->qhead)
        ws_sess_pop(s);
}

static void start_close(ws_sess *s, int code, const char *reason)
{
    if (s->state == WS_CLOSING)
        return;
    s->state = WS_CLOSING;
    s->close_code = code;
    s->close_reason = reason;
    want_write(s);
}

int ws_sess_enqueue(ws_sess *s, ws_buf *b, enum ws_qkind kind)
{
    size_t max = s->hub->o.sendq_max;
    if (s->state == WS_CLOSING)
        return WB_ECLOSED;
    if (kind == WS_Q_PRESENCE && s->qbytes > max / 2)
        return 0; /* presence is the first thing a slow client loses */
    if (kind == WS_Q_NORMAL && s->qbytes + b->len > max) {
        ws_hub_count(s->hub->o.ratelimited, "slow_consumer");
        WBLOGF(WBLOG_WARN, "ws slow consumer closed", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id),
               WBF_UINT("queued", s->qbytes));
        drop_queue(s);
        start_close(s, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
        return WB_EFULL;
    }
    ws_qent *q = malloc(sizeof *q);
    if (!q) {
        drop_queue(s);
        start_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return WB_ENOMEM;
    }
    b->refs++;
    q->buf = b;
    q->next = NULL;
    q->counted = kind != WS_Q_WELCOME;
    if (q->counted)
        s->qbytes += b->len;
    if (s->qtail)
        s->qtail->next = q;
    else
        s->qhead = q;
    s->qtail = q;
    if (s->hub->o.msgs_out)
        metrics_inc(s->hub->o.msgs_out);
    want_write(s);
    return 0;
}

int ws_sess_peek(ws_sess *s, const uint8_t **p, size_t *len)
{
    if (!s->qhead)
        return 0;
    *p = s->qhead->buf->data;
    *len = s->qhead->buf->len;
    return 1;
}

void ws_sess_pop(ws_sess *s)
{
    ws_qent *q = s->qhead;
    if (!q)
        return;
    s->qhead = q->next;
    if (!s->qhead)
        s->qtail = NULL;
    if (q->counted)
        s->qbytes -= q->buf->len;
    ws_buf_unref(q->buf);
    free(q);
}

size_t ws_sess_queued(const ws_sess *s) { return s->qbytes; }

int ws_sess_joined(const ws_sess *s) { return s->state == WS_JOINED; }

int ws_sess_close_code(const ws_sess *s, const char **reason)
{
    if (reason)
        *reason = s->close_reason ? s->close_reason : "";
    return s->state == WS_CLOSING ? s->close_code : 0;
}

/* Encodes f and queues it. */
static int send_frame(ws_sess *s, const ws_frame *f, enum ws_qkind kind)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = ws_frame_encode(f, &enc, &len);
    if (rc)
        return rc;
    ws_buf *b = ws_buf_new(enc, len);
    free(enc);
    if (!b)
        return WB_ENOMEM;
    rc = ws_sess_enqueue(s, b, kind);
    ws_buf_unref(b);
    return rc;
}

/* A typed error frame; fatal ones close with close_code afterwards. */
static void send_error(ws_sess *s, uint32_t code, int close_code,
                       const char *msg)
{
    ws_frame f = {.type = WS_ERROR};
    f.u.error.code = code;
    f.u.error.fatal = close_code != 0;
    f.u.error.msg = (wb_str){msg, (uint32_t)strlen(msg)};
    ws_hub_count(s->hub->o.errors, ws_code_name(code));
    send_frame(s, &f, WS_Q_NORMAL);
    if (close_code)
        start_close(s, close_code, ws_code_name(code));
}

/* ---- life --------------------------------------------------------------- */

ws_sess *ws_sess_open(ws_hub *h, void *handle)
{
    ws_sess *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hub = h;
    s->handle = handle;
    uint64_t now = rl_now_ns();
    rl_bucket_init(&s->ops_bucket, &h->o.rate_ops, now);
    rl_bucket_init(&s->pres_bucket, &h->o.rate_presence, now);
    ws_hub_add_sess(h, s);
    if (h->o.connected)
        metrics_gauge_add(h->o.connected, 1);
    return s;
}

void ws_sess_close(ws_sess *s)
{
    if (!s)
        return;
    ws_hub_remove_sess(s->hub, s);
    drop_queue(s);
    if (s->hub->o.connected)
        metrics_gauge_add(s->hub->o.connected, -1);
    free(s->rx);
    free(s);
}

/* ---- welcome (engine thread part) ---------------------------------------- */

typedef struct welcome_job {
    ws_hub *h;
    const char *board;
    const vv *resume;     /* NULL: none */
    ws_frame f;           /* welcome being built */
    uint8_t vbuf[VV_MAX_ENCODED];
    uint8_t **copies;     /* delta batches (owned) */
    uint32_t n, cap;
    uint8_t *out;         /* encoded welcome (owned) */
    size_t out_len;
    uint64_t join_after;
} welcome_job;

static void job_drop_delta(welcome_job *j)
{
    for (uint32_t i = 0; i < j->n; i++)
        free(j->copies[i]);
    free(j->copies);
    free(j->f.u.welcome.delta);
    j->copies = NULL;
    j->f.u.welcome.delta = NULL;
    j->n = j->cap = 0;
}

static int since_cb(void *arg, const uint8_t *enc, size_t len, uint64_t seq)
{
    welcome_job *j = arg;
    if (j->n == WS_MAX_DELTA)
        return WB_ESTALE; /* too far behind for a delta: full state */
    if (j->n == j->cap) {
        uint32_t cap = j->cap ? 2 * j->cap : 16;
        uint8_t **c = realloc(j->copies, cap * sizeof *c);
        if (c)
            j->copies = c;
        ws_delta_item *d = realloc(j->f.u.welcome.delta, cap * sizeof *d);
        if (d)
            j->f.u.welcome.delta = d;
        if (!c || !d)
            return WB_ENOMEM;
        j->cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return WB_ENOMEM;
    memcpy(copy, enc, len);
    j->copies[j->n] = copy;
    j->f.u.welcome.delta[j->n] = (ws_delta_item){seq, {copy, len}};
    j->n++;
    return 0;
}

static int set_version(welcome_job *j, const vv *v)
{
    size_t len;
    int rc = vv_encode(v, j->vbuf, sizeof j->vbuf, &len);
    j->f.u.welcome.version = (ws_bytes){j->vbuf, len};
    return rc;
}

static int state_cb(void *arg, const uint8_t *state, size_t len,
                    const vv *version)
{
    welcome_job *j = arg;
    int rc = set_version(j, version);
    if (rc)
        return rc;
    j->f.u.welcome.state = (ws_bytes){state, len};
    return ws_frame_encode(&j->f, &j->out, &j->out_len);
}

static int welcome_fn(engine *e, void *arg)
{
    welcome_job *j = arg;
    j->join_after = ws_hub_ops_pushed(j->h);
    if (j->resume) {
        int rc = engine_board_since(e, j->board, j->resume, since_cb, j);
        if (rc == 0) {
            const board *b = NULL;
            rc = engine_board_get(e, j->board, &b);
            if (!rc)
                rc = set_version(j, board_version(b));
            j->f.u.welcome.flags = WS_WELCOME_DELTA;
            j->f.u.welcome.ndelta = j->n;
            if (!rc)
                rc = ws_frame_encode(&j->f, &j->out, &j->out_len);
            return rc;
        }
        job_drop_delta(j);
        if (rc != WB_ESTALE)
            return rc;
        j->f.u.welcome.flags = WS_WELCOME_RESYNC;
    }
    return engine_board_state(e, j->board, state_cb, j);
}

/* ---- client frames ------------------------------------------------------ */

static int64_t now_s(ws_hub *h)
{
    return h->o.now_s ? h->o.now_s() : (int64_t)time(NULL);
}

static uint32_t colour_of(const char *user)
{
    static const uint32_t palette[] = {
        0xe03131ffu, 0x2f9e44ffu, 0x1971c2ffu, 0xf08c00ffu,
        0x9c36b5ffu, 0x0c8599ffu, 0xc2255cffu, 0x5c940dffu,
    };
    uint32_t x = 2166136261u;
    for (const char *p = user; *p; p++)
        x = (x ^ (uint8_t)*p) * 16777619u;
    return palette[x % (sizeof palette / sizeof palette[0])];
}

/* Verifies the token and the role; fills the session's identity. */
static int authenticate(ws_sess *s, const ws_frame *f)
{
    jwt_claims c;
    int rc = jwt_verify(f->u.hello.token.ptr, f->u.hello.token.len,
                        &s->hub->o.keys, now_s(s->hub), &c, NULL);
    memcpy(s->board, f->u.hello.board.ptr, f->u.hello.board.len);
    s->board[f->u.hello.board.len] = 0;
    if (rc) {
        WBLOGF(WBLOG_WARN, "ws hello refused", WBF_BOARD(s->board),
               WBF_UINT("connId", s->id), WBF_ERR(rc));
        send_error(s, WS_CODE_UNAUTHORIZED, WS_CLOSE_UNAUTHORIZED,
                   wb_strerror(rc));
        return rc;
    }
    snprintf(s->user, sizeof s->user, "%s", c.sub);
    snprintf(s->name, sizeof s->name, "%s", c.name);
    s->role = jwt_role_for(&c, s->board);
    s->colour = colour_of(s->user);
    if (s->role == JWT_ROLE_NONE) {
        WBLOGF(WBLOG_WARN, "ws hello forbidden", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id));
        send_error(s, WS_CODE_FORBIDDEN, WS_CLOSE_FORBIDDEN,
                   "no role on this board");
        return WB_EINVAL;
    }
    return 0;
}

static void on_hello(ws_sess *s, const ws_frame *f)
{
    if (f->u.hello.proto != WS_PROTO_VERSION) {
        send_error(s, WS_CODE_VERSION, WS_CLOSE_PROTOCOL,
                   "unsupported protocol version");
        return;
    }
    if (authenticate(s, f))
        return;
    vv resume;
    vv_init(&resume);
    if (f->u.hello.resume.len &&
        vv_decode(&resume, f->u.hello.resume.ptr, f->u.hello.resume.len,
                  NULL)) { /* validated by the frame decoder already */
        send_error(s, WS_CODE_MALFORMED, WS_CLOSE_PROTOCOL, "bad resume token");
        return;
    }
    welcome_job j = {.h = s->hub, .board = s->board,
                     .resume = f->u.hello.resume.len ? &resume : NULL};
    j.f.type = WS_WELCOME;
    j.f.u.welcome.role = (uint8_t)s->role;
    j.f.u.welcome.user = (wb_str){s->user, (uint32_t)strlen(s->user)};
    int rc = engine_call(s->hub->o.eng, welcome_fn, &j, WS_CALL_TIMEOUT_MS);
    job_drop_delta(&j);
    vv_free(&resume);
    if (!rc) {
        ws_buf *b = ws_buf_new(j.out, j.out_len);
        rc = b ? ws_hub_join(s->hub, s) : WB_ENOMEM;
        if (!rc) {
            s->join_after = j.join_after;
            ws_sess_enqueue(s, b, WS_Q_WELCOME);
            if (s->state == WS_AWAIT_HELLO)
                s->state = WS_JOINED;
        }
        ws_buf_unref(b);
    }
    free(j.out);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "ws welcome failed", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id), WBF_ERR(rc));
        uint32_t code = ws_code_from_error(rc);
        send_error(s, code, code == WS_CODE_UNAVAILABLE ? 1013
                                                        : WS_CLOSE_INTERNAL,
                   wb_strerror(rc));
        return;
    }
    WBLOGF(WBLOG_INFO, "ws joined", WBF_BOARD(s->board), WBF_USER(s->user),
           WBF_UINT("connId", s->id), WBF_STR("role", jwt_role_name(s->role)),
           WBF_BOOL("resume", f->u.hello.resume.len != 0));
}

/* An ack refusing the whole batch (nothing was submitted). */
static void refuse_ops(ws_sess *s, const wb_batch *b, uint32_t code)
{
    ws_ack_item items[WB_MAX_OPS_PER_BATCH];
    ws_frame f = {.type = WS_ACK};
    f.u.ack.status = code;
    f.u.ack.n = b->nops;
    f.u.ack.items = items;
    for (uint32_t i = 0; i < b->nops; i++)
        items[i] = (ws_ack_item){b->ops[i].client_op_id, {0, 0, 0}};
    ws_hub_count(s->hub->o.errors, ws_code_name(code));
    send_frame(s, &f, WS_Q_NORMAL);
}

static void on_ops(ws_sess *s, ws_frame *f)
{
    wb_batch *b = f->u.ops.batch;
    if (s->role < JWT_ROLE_EDITOR) {
        refuse_ops(s, b, WS_CODE_FORBIDDEN);
        return;
    }
    if (b->board.len != strlen(s->board) ||
        memcmp(b->board.ptr, s->board, b->board.len) != 0) {
        refuse_ops(s, b, WS_CODE_PROTOCOL);
        return;
    }
    if (!rl_bucket_take(&s->ops_bucket, &s->hub->o.rate_ops, b->nops,
                        rl_now_ns())) {
        ws_hub_count(s->hub->o.ratelimited, "conn");
        refuse_ops(s, b, WS_CODE_RATE_LIMITED);
        return;
    }
    if (s->hub->o.rl_user &&
        rl_table_take(s->hub->o.rl_user, s->user, b->nops, rl_now_ns()) == 0) {
        ws_hub_count(s->hub->o.ratelimited, "user");
        WBLOGF(WBLOG_INFO, "rate limited", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_STR("kind", "user"));
        refuse_ops(s, b, WS_CODE_RATE_LIMITED);
        return;
    }
    wb_str user = {s->user, (uint32_t)strlen(s->user)};
    for (uint32_t i = 0; i < b->nops; i++)
        b->ops[i].user = user;
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = codec_encode_batch(b, &enc, &len);
    uint64_t token = (uint64_t)s->id << 32 | s->next_seq++;
    if (!rc)
        rc = engine_submit_encoded(s->hub->o.eng, enc, len, token);
    free(enc);
    if (rc) {
        refuse_ops(s, b, ws_code_from_error(rc));
        return;
    }
}

static void on_presence(ws_sess *s, ws_frame *f)
{
    if (!rl_bucket_take(&s->pres_bucket, &s->hub->o.rate_presence, 1,
                        rl_now_ns())) {
        ws_hub_count(s->hub->o.ratelimited, "presence");
        return;
    }
    f->type = WS_SPRESENCE;
    f->u.presence.user = (wb_str){s->user, (uint32_t)strlen(s->user)};
    f->u.presence.name = (wb_str){s->name, (uint32_t)strlen(s->name)};
    f->u.presence.colour = s->colour;
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = ws_frame_encode(f, &enc, &len);
    f->type = WS_PRESENCE; /* ws_frame_clear frees by type: same fields */
    if (rc)
        return;
    ws_buf *b = ws_buf_new(enc, len);
    free(enc);
    if (!b || !s->room) {
        ws_buf_unref(b);
        return;
    }
    for (ws_sess *o = s->room->head; o; o = o->rnext)
        if (o != s && o->state == WS_JOINED)
            ws_sess_enqueue(o, b, WS_Q_PRESENCE);
    ws_buf_unref(b);
}

static void on_frame(ws_sess *s, const uint8_t *p, size_t n)
{
    ws_frame f;
    int rc = ws_frame_decode(p, n, s->hub->o.max_frame, &f);
    if (rc) {
        send_error(s, ws_code_from_error(rc),
                   s->state == WS_AWAIT_HELLO ? WS_CLOSE_PROTOCOL : 0,
                   wb_strerror(rc));
        return;
    }
    if (s->state == WS_AWAIT_HELLO && f.type != WS_HELLO) {
        send_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                   "the first frame must be hello");
    } else {
        switch (f.type) {
        case WS_HELLO:
            if (s->state == WS_AWAIT_HELLO)
                on_hello(s, &f);
            else
                send_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                           "second hello");
            break;
        case WS_OPS: on_ops(s, &f); break;
        case WS_PRESENCE: on_presence(s, &f); break;
        case WS_PING: {
            ws_frame pong = {.type = WS_PONG};
            pong.u.ping.nonce = f.u.ping.nonce;
            send_frame(s, &pong, WS_Q_NORMAL);
            break;
        }
        default:
            send_error(s, WS_CODE_PROTOCOL, 0, "not a client frame");
            break;
        }
    }
    ws_frame_clear(&f);
}

int ws_sess_receive(ws_sess *s, const uint8_t *in, size_t len, int first,
                    int final, int binary)
{
    if (s->state == WS_CLOSING)
        return -1;
    if (!binary) {
        send_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                   "text messages are not part of the protocol");
        return -1;
    }
    if (first)
        s->rx_len = 0;
    if (len > s->hub->o.max_frame - s->rx_len) {
        send_error(s, WS_CODE_TOO_BIG, WS_CLOSE_TOO_BIG, "frame too big");
        return -1;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 256;
        while (cap < s->rx_len + len)
            cap *= 2;
        uint8_t *rx = realloc(s->rx, cap);
        if (!rx) {
            start_close(s, WS_CLOSE_INTERNAL, "out of memory");
            return -1;
        }
        s->rx = rx;
        s->rx_cap = cap;
    }
    if (len)
        memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!final)
        return 0;
    if (s->hub->o.msgs_in)
        metrics_inc(s->hub->o.msgs_in);
    on_frame(s, s->rx, s->rx_len);
    s->rx_len = 0;
    if (s->rx_cap > 65536) { /* do not keep a big buffer per idle client */
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
    }
    return s->state == WS_CLOSING ? -1 : 0;
}
