/*
 * ws_session.c: one WebSocket session of the sync protocol, transport-free
 * (ws_internal.h; the rules are docs/protocol.md 2.3, numbered here as
 * there).
 *
 * State machine:
 *   WS_AWAIT_HELLO --hello ok (auth, role)--> WS_JOINING
 *   WS_JOINING --welcome ready (room joined, welcome queued)--> WS_JOINED
 *   WS_JOINED --fatal error / slow consumer--> WS_CLOSING
 * Any state --ws_sess_close--> freed. In WS_CLOSING nothing is read, the
 * queue holds at most the fatal error frame, and close_code says how the
 * transport closes once the queue is empty.
 *
 * The welcome is built by ws_welcome.c, off the service thread unless the
 * room has the board's state cached; ws_sess_welcomed finishes the join.
 * While joining the transport stops reading (tr.joining) and messages
 * that still arrive are held (at most max_frame bytes, else too_big,
 * fatal) and processed in order right after the welcome is queued.
 * Replies and errors go through the send queue of ws_sendq.c.
 *
 * Ops are re-encoded with the authenticated user in every op and submitted
 * as bytes (engine_submit_encoded): the engine then owns its own copy, so
 * nothing the engine holds points into this session's memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "snap.h"
#include "trace.h"
#include "vv.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

/* ---- life --------------------------------------------------------------- */

static void send_leave(ws_sess *s);

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
    send_leave(s);
    ws_hub_remove_sess(s->hub, s);
    ws_sess_drop_queue(s);
    if (s->hub->o.connected)
        metrics_gauge_add(s->hub->o.connected, -1);
    while (s->held) {
        ws_held *next = s->held->next;
        free(s->held);
        s->held = next;
    }
    free(s->rx);
    free(s);
}

static void tr_joining(ws_sess *s, int joining)
{
    if (s->hub->o.tr.joining)
        s->hub->o.tr.joining(s->hub->o.tr.ctx, s->handle, joining);
}
/* ---- client frames ------------------------------------------------------ */

static int64_t now_s(ws_hub *h)
{
    return h->o.now_s ? h->o.now_s() : (int64_t)time(NULL);
}

/* Rule 6: the presence colour, hue from an FNV-1a hash of the user id over
 * 360 degrees at saturation 70 %, lightness 34 % (contrast with white at
 * least 3:1 at every hue, for the white names drawn on it). net/web/
 * render.js (userColour) computes the same for the user's own entry. */
uint32_t ws_colour_of(const char *user)
{
    uint32_t x = 2166136261u;
    for (const char *p = user; *p; p++)
        x = (x ^ (uint8_t)*p) * 16777619u;
    double h = (double)(x % 360u), sat = 0.70, lig = 0.34;
    double c = (1.0 - fabs(2.0 * lig - 1.0)) * sat;
    double hx = c * (1.0 - fabs(fmod(h / 60.0, 2.0) - 1.0));
    double m = lig - c / 2.0, r = 0, g = 0, b = 0;
    switch ((int)(h / 60.0)) {
    case 0: r = c; g = hx; break;
    case 1: r = hx; g = c; break;
    case 2: g = c; b = hx; break;
    case 3: g = hx; b = c; break;
    case 4: r = hx; b = c; break;
    default: r = c; b = hx; break;
    }
    uint32_t R = (uint32_t)((r + m) * 255.0 + 0.5);
    uint32_t G = (uint32_t)((g + m) * 255.0 + 0.5);
    uint32_t B = (uint32_t)((b + m) * 255.0 + 0.5);
    return R << 24 | G << 16 | B << 8 | 0xffu;
}

/* The board's metadata (created by the REST API): an unknown or deleted
 * board is refused; its owner has the owner role whatever the token says
 * (as on the REST path). Returns 0 and *owner_is_user, or an error (sent). */
static int board_lookup(ws_sess *s, int *owner_is_user)
{
    snap_board_meta *m = malloc(sizeof *m);
    if (!m) {
        ws_sess_error(s, WS_CODE_INTERNAL, WS_CLOSE_INTERNAL, "out of memory");
        return WB_ENOMEM;
    }
    int rc = snap_board_get(engine_snap_store(s->hub->o.eng), s->board, m);
    if (rc == 0 && m->deleted)
        rc = WB_ENOTFOUND;
    if (rc == WB_ENOTFOUND)
        ws_sess_error(s, WS_CODE_NOT_FOUND, WS_CLOSE_NOT_FOUND,
                      "unknown board");
    else if (rc)
        ws_sess_error(s, WS_CODE_INTERNAL, WS_CLOSE_INTERNAL, wb_strerror(rc));
    *owner_is_user = rc == 0 && m->owner[0] && strcmp(m->owner, s->user) == 0;
    free(m);
    return rc;
}

/* Verifies the token, the board and the role; fills the identity. */
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
        ws_sess_error(s, WS_CODE_UNAUTHORIZED, WS_CLOSE_UNAUTHORIZED,
                   wb_strerror(rc));
        return rc;
    }
    snprintf(s->user, sizeof s->user, "%s", c.sub);
    snprintf(s->name, sizeof s->name, "%s", c.name);
    int owner = 0;
    rc = board_lookup(s, &owner);
    if (rc) {
        WBLOGF(WBLOG_WARN, "ws hello refused", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id), WBF_ERR(rc));
        return rc;
    }
    s->role = owner ? JWT_ROLE_OWNER : jwt_role_for(&c, s->board);
    s->colour = ws_colour_of(s->user);
    if (s->role == JWT_ROLE_NONE) {
        WBLOGF(WBLOG_WARN, "ws hello forbidden", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id));
        ws_sess_error(s, WS_CODE_FORBIDDEN, WS_CLOSE_FORBIDDEN,
                   "no role on this board");
        return WB_EINVAL;
    }
    return 0;
}

/* Returns 1 once the join is under way (ws_sess_welcomed finishes it and
 * logs the span), 0 when the hello was refused. */
static int on_hello_join(ws_sess *s, const ws_frame *f)
{
    if (f->u.hello.proto != WS_PROTO_VERSION &&
        f->u.hello.proto != WS_PROTO_LEAVE) {
        ws_sess_error(s, WS_CODE_VERSION, WS_CLOSE_PROTOCOL,
                   "unsupported protocol version");
        return 0;
    }
    s->proto = (uint8_t)f->u.hello.proto;
    if (authenticate(s, f))
        return 0;
    vv resume;
    vv_init(&resume);
    int bad = f->u.hello.resume.len &&
              vv_decode(&resume, f->u.hello.resume.ptr,
                        f->u.hello.resume.len, NULL);
    vv_free(&resume);
    if (bad) { /* validated by the frame decoder already */
        ws_sess_error(s, WS_CODE_MALFORMED, WS_CLOSE_PROTOCOL, "bad resume token");
        return 0;
    }
    s->state = WS_JOINING;
    tr_joining(s, 1);
    int rc = ws_welcome_start(s->hub, s, f->u.hello.resume.ptr,
                              f->u.hello.resume.len);
    if (rc)
        ws_sess_welcomed(s, NULL, 0, rc);
    return 1;
}

/* The board.join span: hello received to welcome queued (built on the
 * engine thread meanwhile) or to the error that refused the join. A new
 * trace per join: the hello frame carries no trace context. */
static void log_join_span(const ws_sess *s, uint64_t started_ns, int resume)
{
    char trace_id[TRACE_ID_HEX], span_id[SPAN_ID_HEX];
    if (!wblog_enabled(WBLOG_INFO))
        return;
    trace_new_id(trace_id, 16);
    trace_new_id(span_id, 8);
    WBLOG_SPAN(WBF_STR("span", "board.join"),
           WBF_STR("traceId", trace_id), WBF_STR("spanId", span_id),
           WBF_BOARD(s->board[0] ? s->board : NULL),
           WBF_USER(s->user[0] ? s->user : NULL), WBF_UINT("connId", s->id),
           WBF_BOOL("resume", resume),
           WBF_DBL("durationMs", (double)(rl_now_ns() - started_ns) / 1e6),
           WBF_STR("status", s->state == WS_JOINED ? "ok" : "refused"));
}

static void on_hello(ws_sess *s, const ws_frame *f)
{
    s->hello_ns = rl_now_ns();
    s->hello_resume = f->u.hello.resume.len != 0;
    if (!on_hello_join(s, f))
        log_join_span(s, s->hello_ns, s->hello_resume); /* refused */
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
    ws_sess_send(s, &f, WS_Q_NORMAL);
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
    ws_hub_presence_forward(s->hub, s->board, b); /* to other nodes */
    ws_buf_unref(b);
}

/* Rule 6: a joined session's connection is gone: the room's other proto 2
 * sessions get a presence leave for its user, unless that user still has
 * another session in the room here. Local only (other nodes' clients time
 * the cursor out); best effort like presence (WS_Q_PRESENCE). */
static void send_leave(ws_sess *s)
{
    if (!s->room || s->hub->freeing)
        return;
    int others = 0; /* proto 2 sessions that would get it */
    for (ws_sess *o = s->room->head; o; o = o->rnext) {
        if (o == s || o->state != WS_JOINED)
            continue;
        if (strcmp(o->user, s->user) == 0)
            return; /* still here in another tab */
        others += o->proto >= WS_PROTO_LEAVE;
    }
    if (!others)
        return;
    ws_frame f = {.type = WS_SPRESENCE};
    f.u.presence.flags = WS_PRESENCE_LEFT;
    f.u.presence.user = (wb_str){s->user, (uint32_t)strlen(s->user)};
    f.u.presence.name = (wb_str){s->name, (uint32_t)strlen(s->name)};
    f.u.presence.colour = s->colour;
    uint8_t *enc = NULL;
    size_t len = 0;
    if (ws_frame_encode(&f, &enc, &len))
        return;
    ws_buf *b = ws_buf_new(enc, len);
    free(enc);
    if (!b)
        return;
    for (ws_sess *o = s->room->head; o; o = o->rnext)
        if (o != s && o->state == WS_JOINED && o->proto >= WS_PROTO_LEAVE)
            ws_sess_enqueue(o, b, WS_Q_PRESENCE);
    ws_buf_unref(b);
}

static void on_frame(ws_sess *s, const uint8_t *p, size_t n);

/* Runs the messages held while joining, in arrival order. */
static void run_held(ws_sess *s)
{
    s->replaying = 1; /* sent before the welcome: rule 8 applies */
    while (s->held && s->state == WS_JOINED) {
        ws_held *m = s->held;
        s->held = m->next;
        if (!s->held)
            s->held_tail = NULL;
        s->held_bytes -= m->len;
        on_frame(s, m->data, m->len);
        free(m);
    }
    s->replaying = 0;
}

void ws_sess_welcomed(ws_sess *s, ws_buf *welcome, uint64_t join_after,
                      int rc)
{
    if (s->state != WS_JOINING)
        return;
    if (!rc && !welcome)
        rc = WB_ENOMEM;
    if (!rc)
        rc = ws_hub_join(s->hub, s);
    if (!rc) {
        s->join_after = join_after;
        s->state = WS_JOINED;
        ws_sess_enqueue(s, welcome, WS_Q_WELCOME);
        WBLOGF(WBLOG_INFO, "ws joined", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id),
               WBF_STR("role", jwt_role_name(s->role)),
               WBF_BOOL("resume", s->hello_resume));
    } else {
        WBLOGF(WBLOG_ERROR, "ws welcome failed", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id), WBF_ERR(rc));
        uint32_t code = ws_code_from_error(rc);
        ws_sess_error(s, code, code == WS_CODE_UNAVAILABLE ? 1013
                                                        : WS_CLOSE_INTERNAL,
                   wb_strerror(rc));
    }
    log_join_span(s, s->hello_ns, s->hello_resume);
    if (s->state == WS_JOINED)
        tr_joining(s, 0);
    run_held(s);
}

/* Keeps a message received while joining. Returns 0 or -1 (closing). */
static int hold(ws_sess *s, const uint8_t *p, size_t n)
{
    if (n > s->hub->o.max_frame - s->held_bytes) {
        ws_sess_error(s, WS_CODE_TOO_BIG, WS_CLOSE_TOO_BIG,
                      "too much sent before the welcome");
        return -1;
    }
    ws_held *m = malloc(sizeof *m + n);
    if (!m) {
        ws_sess_start_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return -1;
    }
    m->next = NULL;
    m->len = n;
    memcpy(m->data, p, n);
    if (s->held_tail)
        s->held_tail->next = m;
    else
        s->held = m;
    s->held_tail = m;
    s->held_bytes += n;
    return 0;
}

static void on_frame(ws_sess *s, const uint8_t *p, size_t n)
{
    ws_frame f;
    int rc = ws_frame_decode(p, n, s->hub->o.max_frame, &f);
    if (rc) {
        ws_sess_error(s, ws_code_from_error(rc),
                   s->state == WS_AWAIT_HELLO || s->replaying
                       ? WS_CLOSE_PROTOCOL
                       : 0,
                   wb_strerror(rc));
        return;
    }
    if (s->state == WS_AWAIT_HELLO && f.type != WS_HELLO) {
        ws_sess_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                   "the first frame must be hello");
    } else {
        switch (f.type) {
        case WS_HELLO:
            if (s->state == WS_AWAIT_HELLO)
                on_hello(s, &f);
            else
                ws_sess_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                           "second hello");
            break;
        case WS_OPS: on_ops(s, &f); break;
        case WS_PRESENCE: on_presence(s, &f); break;
        case WS_PING: {
            ws_frame pong = {.type = WS_PONG};
            pong.u.ping.nonce = f.u.ping.nonce;
            ws_sess_send(s, &pong, WS_Q_NORMAL);
            break;
        }
        default:
            ws_sess_error(s, WS_CODE_PROTOCOL,
                          s->replaying ? WS_CLOSE_PROTOCOL : 0,
                          "not a client frame");
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
        ws_sess_error(s, WS_CODE_PROTOCOL, WS_CLOSE_PROTOCOL,
                   "text messages are not part of the protocol");
        return -1;
    }
    if (first)
        s->rx_len = 0;
    if (first && final && len <= s->hub->o.max_frame) {
        /* a whole message (the usual case): no copy, no buffer kept */
        if (s->hub->o.msgs_in)
            metrics_inc(s->hub->o.msgs_in);
        if (s->state == WS_JOINING)
            hold(s, in, len);
        else
            on_frame(s, in, len);
        return s->state == WS_CLOSING ? -1 : 0;
    }
    if (len > s->hub->o.max_frame - s->rx_len) {
        ws_sess_error(s, WS_CODE_TOO_BIG, WS_CLOSE_TOO_BIG, "frame too big");
        return -1;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 256;
        while (cap < s->rx_len + len)
            cap *= 2;
        uint8_t *rx = realloc(s->rx, cap);
        if (!rx) {
            ws_sess_start_close(s, WS_CLOSE_INTERNAL, "out of memory");
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
    if (s->state == WS_JOINING)
        hold(s, s->rx, s->rx_len);
    else
        on_frame(s, s->rx, s->rx_len);
    s->rx_len = 0;
    if (s->rx_cap > 16384) { /* do not keep a big buffer per idle client */
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
    }
    return s->state == WS_CLOSING ? -1 : 0;
}
