/*
 * ws_conn.c: binds the transport-free WebSocket core (ws_session.c,
 * ws_hub.c) to libwebsockets and to the node (ws_conn.h, ws_hub.h).
 *
 * The per-session user data lws allocates (ws_conn_size) holds a pointer
 * to the ws_sess and the connection's entry in the per-address counts
 * (node.ip_conns, --max-conns-per-ip), released when lws closes it. Frames go out with lws_write on the shared,
 * refcounted buffer (its WS_BUF_PRE headroom is where lws puts the
 * WebSocket header), several per writable callback while the socket takes
 * them (lws_send_pipe_choked), up to WS_TX_BUDGET bytes. A frame larger
 * than WS_TX_CHUNK (the protocol's tx_packet_size, server.c) goes out as
 * WebSocket fragments of at most that size, one lws_write each, so lws
 * never copies a large remainder: the header of a later fragment is
 * written into the LWS_PRE bytes before it, which belong to the shared
 * frame, so they are saved and put back around the call (lws has sent or
 * copied them when lws_write returns). Small frames queued together are
 * framed here (one unmasked binary WebSocket frame each, RFC 6455 5.2)
 * into one buffer and go out in ONE write, as raw bytes (lws_write with
 * LWS_WRITE_HTTP, which the ws role sends as given): under load a session
 * gets several frames per service turn, and this makes one send(2) of
 * them instead of one each. A fatal error is flushed first:
 * ws_conn_receive keeps the connection until the writable callback has sent
 * the error frame, then closes with the session's close code. A client that
 * stops reading cannot hold a closing session open: lws's close timeout
 * (PENDING_TIMEOUT_CLOSE_SEND) kills it.
 *
 * Threads: every function here runs on the lws service thread, except
 * ws_hub_on_ack / ws_hub_on_ops (engine thread) which only hand over to the
 * hub core, whose wake callback is lws_cancel_service.
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "ipcount.h"
#include "log.h"
#include "node.h"
#include "wb_error.h"
#include "ws_conn.h"
#include "ws_frame.h"
#include "ws_hub.h"
#include "ws_internal.h"

_Static_assert(LWS_PRE <= WS_BUF_PRE, "ws_buf headroom must hold LWS_PRE");
_Static_assert(WS_TX_CHUNK >= LWS_PRE, "a fragment's header fits before it");

typedef struct ws_pss {
    ws_sess *s;
    ipc_entry *ipc; /* its address's count (n->ip_conns), or NULL */
} ws_pss;

static void lws_flush_now(void *ctx, void *handle);

size_t ws_conn_size(void) { return sizeof(ws_pss); }

/* ---- the hub on the node ------------------------------------------------ */

static void lws_want_write(void *ctx, void *handle)
{
    (void)ctx;
    lws_callback_on_writable((struct lws *)handle);
}

static void lws_wake(void *ctx)
{
    node_wake(ctx); /* lws_cancel_service, safe against shutdown */
}

/* While its welcome is built the connection is not read (what was read
 * already is held by the session); once joined, reading resumes and the
 * hello timeout is lifted. */
static void lws_joining(void *ctx, void *handle, int joining)
{
    (void)ctx;
    struct lws *wsi = handle;
    lws_rx_flow_control(wsi, !joining);
    if (!joining)
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
}

int ws_hub_create(node *n)
{
    if (!n->eng)
        return WB_EINVAL; /* the hub submits to the engine: open it first */
    ws_hub_options o = {0};
    o.eng = n->eng;
    o.keys = n->keys;
    if (n->cfg) {
        o.max_frame = (size_t)n->cfg->max_frame;
        o.sendq_max = (size_t)n->cfg->ws_sendq_max;
        uint32_t pr = (uint32_t)n->cfg->presence_rate;
        o.rate_presence = (rl_limit){pr, pr};
    }
    o.rate_ops = n->rate_conn;
    o.rl_user = n->rl_user;
    o.tr = (ws_transport){n, lws_want_write, lws_wake, lws_joining,
                          lws_flush_now};
    o.connected = n->m.socket_connected_users;
    o.ratelimited = n->m.ratelimited_total;
    o.errors = n->m.ws_errors_total;
    metrics_family *msgs = NULL;
    if (n->m.reg &&
        metrics_register(n->m.reg, METRICS_COUNTER, "ws_messages_total",
                         "WebSocket frames received (in) and queued (out).",
                         (const char *const[]){"dir"}, 1, 2, NULL, 0,
                         &msgs) == 0) {
        o.msgs_in = metrics_series_get(msgs, (const char *const[]){"in"});
        o.msgs_out = metrics_series_get(msgs, (const char *const[]){"out"});
    }
    ws_hub *h = ws_hub_new(&o);
    if (!h)
        return WB_ENOMEM;
    n->hub = h;
    return 0;
}

void ws_hub_destroy(node *n)
{
    ws_hub_free(n->hub);
    n->hub = NULL;
}

void ws_hub_on_ack(node *n, uint64_t token, const engine_ack *ack)
{
    if (n->hub)
        ws_hub_core_on_ack(n->hub, token, ack);
}

void ws_hub_on_ops(node *n, const char *board_id, const wb_batch *applied,
                   const uint8_t *encoded, size_t len, uint64_t seq)
{
    if (n->hub)
        ws_hub_core_on_ops(n->hub, board_id, applied, encoded, len, seq);
}

void ws_hub_on_turn(node *n)
{
    if (n->hub)
        ws_hub_core_turn(n->hub);
}

void ws_hub_quiesce(node *n)
{
    if (n->hub)
        ws_hub_stop_worker(n->hub);
}

void ws_hub_service(node *n)
{
    if (n->hub)
        ws_hub_core_service(n->hub);
}

void ws_hub_flush(node *n)
{
    if (n->hub)
        ws_hub_core_flush(n->hub);
}

void ws_hub_set_presence_out(node *n,
                             void (*fn)(void *ctx, const char *board_id,
                                        const uint8_t *frame, size_t len),
                             void *ctx)
{
    ws_hub *h = n->hub;
    if (!h)
        return;
    pthread_mutex_lock(&h->ev_mu);
    h->presence_out = fn;
    h->presence_ctx = ctx;
    pthread_mutex_unlock(&h->ev_mu);
}

void ws_hub_presence_remote(node *n, const char *board_id, const uint8_t *frame,
                            size_t len)
{
    if (n->hub)
        ws_hub_core_presence_remote(n->hub, board_id, frame, len);
}

void ws_hub_board_gone_remote(node *n, const char *board_id)
{
    if (n->hub)
        ws_hub_core_board_gone_async(n->hub, board_id);
}

void ws_hub_board_gone(node *n, const char *board_id)
{
    if (n->hub)
        ws_hub_core_board_gone(n->hub, board_id);
}

/* ---- connections --------------------------------------------------------- */

static int origin_ok(node *n, struct lws *wsi)
{
    char origin[512], host[256];
    int olen = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
    if (olen <= 0)
        return lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) == 0;
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        host[0] = 0;
    const char *allowed = n->cfg ? n->cfg->allowed_origins : "";
    return ws_origin_allowed(origin, host, allowed);
}

/* Refuses an upgrade over a per-address limit: counted, logged, closed
 * with 4029 and why. Returns -1 (the callback's answer). */
static int refuse_limited(node *n, struct lws *wsi, const char *ip,
                          const char *kind, const char *why)
{
    ws_hub_count(n->m.ratelimited_total, kind);
    WBLOGF(WBLOG_INFO, "rate limited", WBF_STR("ip", ip),
           WBF_STR("kind", kind));
    lws_close_reason(wsi, (enum lws_close_status)WS_CLOSE_RATE_LIMITED,
                     (unsigned char *)why, strlen(why));
    return -1;
}

int ws_conn_open(node *n, struct lws *wsi, void *pss)
{
    ws_pss *p = pss;
    p->s = NULL;
    p->ipc = NULL;
    if (!n->hub || atomic_load(&n->stopping))
        return -1;
    if (!origin_ok(n, wsi)) {
        WBLOG(WBLOG_WARN, "ws origin refused");
        ws_hub_count(n->m.ws_errors_total, "origin");
        const char why[] = "origin not allowed";
        lws_close_reason(wsi, (enum lws_close_status)WS_CLOSE_ORIGIN,
                         (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    char ip[128] = "";
    node_client_ip(n, wsi, ip, sizeof ip);
    if (n->rl_ip && ip[0] && rl_table_take(n->rl_ip, ip, 1, rl_now_ns()) == 0)
        return refuse_limited(n, wsi, ip, "ip", "too many connections");
    if (n->ip_conns && ip[0]) {
        int full = 0;
        p->ipc = ipc_acquire(n->ip_conns, ip,
                             (uint32_t)n->cfg->max_conns_per_ip, &full);
        if (!p->ipc)
            return full ? refuse_limited(n, wsi, ip, "ip_conns",
                                         "too many connections from this "
                                         "address")
                        : -1; /* out of memory */
    }
    p->s = ws_sess_open(n->hub, wsi);
    if (!p->s) {
        ipc_release(n->ip_conns, p->ipc);
        p->ipc = NULL;
        return -1;
    }
    /* a connection that never completes its hello does not stay */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, WS_HELLO_TIMEOUT_S);
    return 0;
}

int ws_conn_receive(node *n, struct lws *wsi, void *pss, const void *in,
                    size_t len, int first, int final, int binary)
{
    ws_pss *p = pss;
    if (!p->s)
        return -1;
    int joined = ws_sess_joined(p->s);
    if (ws_sess_receive(p->s, in, len, first, final, binary) < 0)
        /* closing: the writable callback flushes the error, then closes */
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
    else if (!joined && ws_sess_joined(p->s))
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* hello done */
    return 0;
}

/* Writes the next piece of the head frame (all of it, or the next
 * fragment). Returns the bytes written or -1. */
static int write_piece(struct lws *wsi, const uint8_t *data, size_t len,
                       size_t sent)
{
    size_t chunk = len - sent;
    if (chunk > WS_TX_CHUNK)
        chunk = WS_TX_CHUNK;
    int flags = sent ? LWS_WRITE_CONTINUATION : LWS_WRITE_BINARY;
    if (sent + chunk < len)
        flags |= LWS_WRITE_NO_FIN;
    unsigned char *at = (unsigned char *)data + sent;
    unsigned char save[LWS_PRE];
    if (sent) /* the previous fragment's bytes: shared, put them back */
        memcpy(save, at - LWS_PRE, LWS_PRE);
    int w = lws_write(wsi, at, chunk, (enum lws_write_protocol)flags);
    if (sent)
        memcpy(at - LWS_PRE, save, LWS_PRE);
    return w < (int)chunk ? -1 : (int)chunk;
}

/* The WebSocket header of an unfragmented server binary frame of len
 * bytes into h (at most 10 bytes). Returns its size. */
static size_t frame_header(uint8_t *h, size_t len)
{
    h[0] = 0x82; /* FIN, binary */
    if (len < 126) {
        h[1] = (uint8_t)len;
        return 2;
    }
    if (len < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Service thread only: the frames of one coalesced write. */
static unsigned char ws_coalesce[LWS_PRE + WS_TX_CHUNK];

/* Frames the head frame and the whole small frames after it (while they
 * fit) into ws_coalesce and writes them at once. Returns the bytes
 * written, 0 when the head frame is not a whole small one, or -1. */
static int write_coalesced(struct lws *wsi, ws_sess *s)
{
    const uint8_t *data;
    size_t len, sent, n = 0;
    unsigned char *out = ws_coalesce + LWS_PRE;
    while (ws_sess_peek_part(s, &data, &len, &sent) && sent == 0 &&
           len <= WS_TX_SMALL && n + 10 + len <= WS_TX_CHUNK) {
        n += frame_header(out + n, len);
        memcpy(out + n, data, len);
        n += len;
        ws_sess_sent(s, len);
    }
    if (n == 0)
        return 0;
    int w = lws_write(wsi, out, n, LWS_WRITE_HTTP);
    return w < (int)n ? -1 : (int)n;
}

/* Writes what s has queued, up to WS_TX_BUDGET bytes, while the socket
 * takes it; asks for a writable callback for the rest. In the writable
 * callback (direct = 0) a later piece goes only if the socket is not full
 * (lws_send_pipe_choked, a poll(2)); outside it (direct = 1, the flush at
 * the end of a service turn) the first write is tried at once and the
 * next only if lws did not have to keep part of the previous one
 * (lws_partial_buffered: lws sends that remainder before anything else,
 * then calls us back). Returns 0 or -1 (a write failed). */
static int write_queued(struct lws *wsi, ws_sess *s, int direct)
{
    const uint8_t *data;
    size_t len, sent, budget = WS_TX_BUDGET;
    int pieces = 0;
    while (ws_sess_peek_part(s, &data, &len, &sent)) {
        int full = direct ? lws_partial_buffered(wsi)
                          : pieces && lws_send_pipe_choked(wsi);
        if (full || (pieces && budget == 0)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        int w = write_coalesced(wsi, s); /* dequeues what it wrote */
        if (w == 0) {
            w = write_piece(wsi, data, len, sent);
            if (w > 0)
                ws_sess_sent(s, (size_t)w);
        }
        if (w < 0)
            return -1;
        budget = budget > (size_t)w ? budget - (size_t)w : 0;
        pieces++;
    }
    return 0;
}

/* The hub's flush (ws_transport.flush): frames queued during the service
 * turn go out at its end, without a round through epoll for POLLOUT (two
 * epoll_ctl calls and a loop turn per send). */
static void lws_flush_now(void *ctx, void *handle)
{
    (void)ctx;
    struct lws *wsi = handle;
    ws_pss *p = lws_wsi_user(wsi);
    if (!p || !p->s)
        return;
    if (write_queued(wsi, p->s, 1) < 0)
        /* cannot close from here: lws closes it from its own loop */
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

int ws_conn_writable(node *n, struct lws *wsi, void *pss)
{
    ws_pss *p = pss;
    if (!p->s)
        return -1;
    if (write_queued(wsi, p->s, 0) < 0)
        return -1;
    if (ws_sess_peek_part(p->s, &(const uint8_t *){0}, &(size_t){0},
                          &(size_t){0}))
        return 0; /* more: write_queued asked for the next callback */
    const char *reason;
    int code = ws_sess_close_code(p->s, &reason);
    if (!code)
        return 0;
    lws_close_reason(wsi, (enum lws_close_status)code,
                     (unsigned char *)reason, strlen(reason));
    return -1;
}

void ws_conn_close(node *n, struct lws *wsi, void *pss)
{
    ws_pss *p = pss;
    ws_sess_close(p->s);
    p->s = NULL;
    if (p->ipc)
        ipc_release(n->ip_conns, p->ipc);
    p->ipc = NULL;
}
