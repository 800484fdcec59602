/*
 * wb_relay.c: wb-relay, the "no work at all" ceiling for the node's
 * WebSocket benchmarks. A bare libwebsockets server on the node's code
 * path (same lws version, one service thread, subprotocol wb.v1 on /ws,
 * the node's rx buffer and tx packet sizes from net/ws_conn.h, refcounted
 * shared frame buffers, and the node's write strategy of net/ws_conn.c:
 * queued small frames framed together and written in one raw lws_write,
 * several writes per writable callback while the socket takes them, up to
 * WS_TX_BUDGET bytes, and frames queued during a service turn written at
 * its end, outside any callback, with a writable callback asked for only
 * when the socket does not take them all; its event loop: a libev loop of our own on epoll
 * given to lws as a foreign loop, turned once per service turn, or lws's
 * poll(2) loop with WB_LWS_POLL=1 or without the plugin, as net/server.c)
 * with no storage, no engine, no board model and no token check:
 *
 *   hello    -> joins the room named by the board id, answers a welcome of
 *               an empty board (role editor)
 *   ops      -> an ack at once (status 0, made-up stamps) and the batch, as
 *               received, to every connection of the room (sender included:
 *               the node does the same) as a server ops frame
 *   presence -> to every other connection of the room
 *   ping     -> pong
 *
 * Only what wb-load needs to measure is parsed (the client op ids); a bad
 * frame closes the connection. A connection whose queue exceeds 8 MiB is
 * closed (the node's slow-consumer bound).
 *
 *   wb-relay --listen 127.0.0.1:PORT
 *
 * Prints "wb-relay listening on ..." once ready; SIGINT/SIGTERM stop it.
 * Threads: one (the lws service thread); no locks.
 */
#include <ev.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "op.h"
#include "ws_conn.h" /* WS_RX_BUFFER, WS_TX_CHUNK, WS_TX_BUDGET, WS_TX_SMALL */

#define RELAY_MAX_QUEUE (8u << 20)

typedef struct rbuf {
    int refs;
    size_t len;
    uint8_t data[]; /* LWS_PRE, then len bytes */
} rbuf;

typedef struct qnode {
    rbuf *b;
    struct qnode *next;
} qnode;

struct room;

typedef struct pss {
    struct lws *wsi;
    struct room *room;
    struct pss *prev, *next; /* room members */
    qnode *head, *tail;
    size_t queued;
    int kill;
    int dirty;               /* on the dirty list: frames to flush */
    struct pss *dprev, *dnext;
    int inmsg; /* inside a message that arrives in pieces */
    uint8_t *rx;
    size_t rxlen, rxcap;
} pss;

typedef struct room {
    char id[65];
    pss *members;
    struct room *next;
} room;

static room *rooms;
static pss *dirty_head; /* connections given frames this service turn */
static uint64_t relay_seq;
static volatile sig_atomic_t relay_stop;

static rbuf *rbuf_new(size_t len)
{
    rbuf *b = malloc(sizeof *b + LWS_PRE + len);
    if (b) {
        b->refs = 1; /* the creator's hold: it unrefs after enqueueing */
        b->len = len;
    }
    return b;
}

static void rbuf_unref(rbuf *b)
{
    if (b && --b->refs <= 0)
        free(b);
}

static void mark_dirty(pss *p)
{
    if (p->dirty)
        return;
    p->dirty = 1;
    p->dprev = NULL;
    p->dnext = dirty_head;
    if (dirty_head)
        dirty_head->dprev = p;
    dirty_head = p;
}

static void undirty(pss *p)
{
    if (!p->dirty)
        return;
    if (p->dprev)
        p->dprev->dnext = p->dnext;
    else
        dirty_head = p->dnext;
    if (p->dnext)
        p->dnext->dprev = p->dprev;
    p->dirty = 0;
}

static void enqueue(pss *p, rbuf *b)
{
    if (p->kill)
        return;
    if (p->queued + b->len > RELAY_MAX_QUEUE) {
        p->kill = 1;
        lws_callback_on_writable(p->wsi);
        return;
    }
    qnode *q = malloc(sizeof *q);
    if (!q) {
        p->kill = 1;
        return;
    }
    b->refs++;
    q->b = b;
    q->next = NULL;
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    p->queued += b->len;
    mark_dirty(p); /* written at the end of the turn (flush_dirty) */
}

static uint8_t *put_uvar(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static int get_uvar(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

static room *room_get(const uint8_t *id, size_t len)
{
    for (room *r = rooms; r; r = r->next)
        if (strlen(r->id) == len && !memcmp(r->id, id, len))
            return r;
    room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    memcpy(r->id, id, len);
    r->next = rooms;
    rooms = r;
    return r;
}

static void room_leave(pss *p)
{
    if (!p->room)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        p->room->members = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->room = NULL;
}

static int on_hello(pss *p, const uint8_t *s, const uint8_t *end)
{
    uint64_t proto, tl, bl;
    if (get_uvar(&s, end, &proto) || get_uvar(&s, end, &tl) ||
        tl > (uint64_t)(end - s))
        return -1;
    s += tl;
    if (get_uvar(&s, end, &bl) || bl == 0 || bl > 64 ||
        bl > (uint64_t)(end - s) || p->room)
        return -1;
    room *r = room_get(s, (size_t)bl);
    if (!r)
        return -1;
    p->room = r;
    p->prev = NULL;
    p->next = r->members;
    if (r->members)
        r->members->prev = p;
    r->members = p;
    static const uint8_t welcome[] = {0x81, 0x01, 0x00, 0x02, 0x05, 'r', 'e',
                                      'l',  'a',  'y',  0x01, 0x00, 0x00};
    rbuf *b = rbuf_new(sizeof welcome);
    if (!b)
        return -1;
    memcpy(b->data + LWS_PRE, welcome, sizeof welcome);
    enqueue(p, b);
    rbuf_unref(b);
    return 0;
}

static int on_ops(pss *p, const uint8_t *batch, const uint8_t *end)
{
    if (!p->room)
        return -1;
    size_t blen = (size_t)(end - batch);
    const uint8_t *s = batch + 1;
    uint64_t bl, nops;
    if (blen < 2 || get_uvar(&s, end, &bl) || bl > (uint64_t)(end - s))
        return -1;
    s += bl;
    if (get_uvar(&s, end, &nops) || nops == 0 || nops > 1024)
        return -1;
    uint64_t one_cid = 0;
    wb_batch *dec = NULL;
    if (nops == 1) {
        s++; /* head */
        if (get_uvar(&s, end, &one_cid))
            return -1;
    } else if (codec_decode_batch(batch, blen, &dec))
        return -1;
    uint64_t seq = ++relay_seq;
    /* the ack: status 0, first_seq, dups 0, n, (cid hlc node oseq){n} */
    rbuf *a = rbuf_new(16 + (size_t)nops * 40u);
    if (!a) {
        codec_batch_free(dec);
        return -1;
    }
    uint8_t *o = a->data + LWS_PRE;
    *o++ = 0x83;
    *o++ = 0x01;
    o = put_uvar(o, 0);
    o = put_uvar(o, seq);
    o = put_uvar(o, 0);
    o = put_uvar(o, nops);
    for (uint64_t i = 0; i < nops; i++) {
        o = put_uvar(o, dec ? dec->ops[i].client_op_id : one_cid);
        o = put_uvar(o, seq << 16);
        o = put_uvar(o, 1);
        o = put_uvar(o, seq);
    }
    codec_batch_free(dec);
    a->len = (size_t)(o - (a->data + LWS_PRE));
    enqueue(p, a);
    rbuf_unref(a);
    /* the broadcast: server ops = seq then the batch as received */
    rbuf *b = rbuf_new(2 + 10 + blen);
    if (!b)
        return -1;
    o = b->data + LWS_PRE;
    *o++ = 0x82;
    *o++ = 0x01;
    o = put_uvar(o, seq);
    memcpy(o, batch, blen);
    b->len = (size_t)(o + blen - (b->data + LWS_PRE));
    for (pss *m = p->room->members; m; m = m->next)
        enqueue(m, b);
    rbuf_unref(b);
    return 0;
}

static int on_presence(pss *p, const uint8_t *body, const uint8_t *end)
{
    if (!p->room)
        return -1;
    size_t bl = (size_t)(end - body);
    rbuf *b = rbuf_new(2 + 2 + 4 + bl);
    if (!b)
        return -1;
    uint8_t *o = b->data + LWS_PRE;
    *o++ = 0x84;
    *o++ = 0x01;
    *o++ = 0; /* user "" */
    *o++ = 0; /* name "" */
    memcpy(o, "\x11\x22\x33\xff", 4);
    o += 4;
    memcpy(o, body, bl);
    b->len = (size_t)(o + bl - (b->data + LWS_PRE));
    for (pss *m = p->room->members; m; m = m->next)
        if (m != p)
            enqueue(m, b);
    rbuf_unref(b);
    return 0;
}

static int on_frame(pss *p, const uint8_t *f, size_t len)
{
    if (len < 2 || f[1] != 0x01)
        return -1;
    const uint8_t *end = f + len;
    switch (f[0]) {
    case 0x01:
        return on_hello(p, f + 2, end);
    case 0x02:
        return on_ops(p, f + 2, end);
    case 0x03:
        return on_presence(p, f + 2, end);
    case 0x04: {
        rbuf *b = rbuf_new(len);
        if (!b)
            return -1;
        memcpy(b->data + LWS_PRE, f, len);
        b->data[LWS_PRE] = 0x87;
        enqueue(p, b);
        rbuf_unref(b);
        return 0;
    }
    default:
        return -1;
    }
}

static rbuf *pop(pss *p)
{
    qnode *q = p->head;
    p->head = q->next;
    if (!p->head)
        p->tail = NULL;
    p->queued -= q->b->len;
    rbuf *b = q->b;
    free(q);
    return b;
}

/* Service thread only: the frames of one coalesced write. */
static unsigned char relay_out[LWS_PRE + WS_TX_CHUNK];

/* Frames the queued small frames (RFC 6455 5.2, unmasked binary, FIN) into
 * relay_out while they fit and writes them at once as raw bytes, as the
 * node does. Returns the bytes written, 0 if the head frame is large, -1. */
static int write_coalesced(struct lws *wsi, pss *p)
{
    unsigned char *out = relay_out + LWS_PRE;
    size_t n = 0;
    while (p->head && p->head->b->len <= WS_TX_SMALL &&
           n + 10 + p->head->b->len <= WS_TX_CHUNK) {
        rbuf *b = pop(p);
        out[n++] = 0x82;
        if (b->len < 126)
            out[n++] = (uint8_t)b->len;
        else {
            out[n++] = 126;
            out[n++] = (uint8_t)(b->len >> 8);
            out[n++] = (uint8_t)b->len;
        }
        memcpy(out + n, b->data + LWS_PRE, b->len);
        n += b->len;
        rbuf_unref(b);
    }
    if (n == 0)
        return 0;
    int w = lws_write(wsi, out, n, LWS_WRITE_HTTP);
    return w < (int)n ? -1 : (int)n;
}

/* Writes p's queue as the node's write_queued (net/ws_conn.c) does: in
 * the writable callback (direct = 0) a later piece only if the socket is
 * not full; at the end of a turn (direct = 1) while lws kept nothing back.
 * Returns 0 or -1. */
static int write_queued(struct lws *wsi, pss *p, int direct)
{
    size_t budget = WS_TX_BUDGET;
    int pieces = 0;
    while (p->head) {
        int full = direct ? lws_partial_buffered(wsi)
                          : pieces && lws_send_pipe_choked(wsi);
        if (full || (pieces && budget == 0)) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        int w = write_coalesced(wsi, p);
        if (w == 0) { /* a large frame: on its own */
            rbuf *b = pop(p);
            w = lws_write(wsi, b->data + LWS_PRE, b->len, LWS_WRITE_BINARY);
            int short_write = w < (int)b->len;
            rbuf_unref(b);
            if (short_write)
                return -1;
        }
        if (w < 0)
            return -1;
        budget = budget > (size_t)w ? budget - (size_t)w : 0;
        pieces++;
    }
    return 0;
}

static void flush_dirty(void)
{
    while (dirty_head) {
        pss *p = dirty_head;
        undirty(p);
        if (!p->kill && write_queued(p->wsi, p, 1) < 0)
            lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                            LWS_TO_KILL_ASYNC);
    }
}

static int relay_ws(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
            return 1;
        return strcmp(uri, "/ws") != 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        return 0;
    case LWS_CALLBACK_RECEIVE: {
        int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
        if (!lws_frame_is_binary(wsi))
            return -1;
        if (first && final && !p->inmsg)
            return on_frame(p, in, len) ? -1 : 0;
        if (!p->inmsg) /* (robust whether lws flags every piece first) */
            p->rxlen = 0;
        p->inmsg = !final;
        if (p->rxlen + len > (1u << 20))
            return -1;
        if (p->rxlen + len > p->rxcap) {
            size_t cap = p->rxcap ? p->rxcap * 2 : 65536;
            while (cap < p->rxlen + len)
                cap *= 2;
            uint8_t *nb = realloc(p->rx, cap);
            if (!nb)
                return -1;
            p->rx = nb;
            p->rxcap = cap;
        }
        memcpy(p->rx + p->rxlen, in, len);
        p->rxlen += len;
        if (final) {
            int rc = on_frame(p, p->rx, p->rxlen);
            p->rxlen = 0;
            return rc ? -1 : 0;
        }
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (p->kill || relay_stop)
            return -1;
        return write_queued(wsi, p, 0);
    }
    case LWS_CALLBACK_CLOSED:
        undirty(p);
        room_leave(p);
        while (p->head) {
            qnode *q = p->head;
            p->head = q->next;
            rbuf_unref(q->b);
            free(q);
        }
        p->tail = NULL;
        free(p->rx);
        p->rx = NULL;
        return 0;
    default:
        return 0;
    }
}

static struct lws_protocols relay_protocols[] = {
    {"http", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
    {"wb.v1", relay_ws, sizeof(pss), WS_RX_BUFFER, 0, NULL, WS_TX_CHUNK},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    relay_stop = 1;
}

typedef struct relay_timer {
    lws_sorted_usec_list_t sul;
    struct lws_context *ctx;
} relay_timer;

static void relay_tick(lws_sorted_usec_list_t *sul)
{
    relay_timer *t = (relay_timer *)sul;
    if (!relay_stop)
        lws_sul_schedule(t->ctx, 0, &t->sul, relay_tick, 100000);
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8090";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else {
            fprintf(stderr, "usage: wb-relay [--listen HOST:PORT]\n");
            return 2;
        }
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        fprintf(stderr, "wb-relay: --listen HOST:PORT\n");
        return 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    int port = atoi(colon + 1);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = relay_protocols;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = 30;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    struct lws_context *ctx = NULL;
    struct ev_loop *loop = NULL;
    if (!getenv("WB_LWS_POLL"))
        loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
    if (loop) {
        void *loops[1] = {loop};
        struct lws_context_creation_info ev = info;
        ev.options |= LWS_SERVER_OPTION_LIBEV;
        ev.foreign_loops = loops;
        ctx = lws_create_context(&ev);
        if (!ctx) {
            ev_loop_destroy(loop);
            loop = NULL;
        }
    }
    if (!ctx)
        ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "wb-relay: cannot listen on %s\n", listen);
        return 1;
    }
    relay_timer t;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    lws_sul_schedule(ctx, 0, &t.sul, relay_tick, 100000);
    printf("wb-relay listening on ws://%s:%d/ws\n", host, port);
    fflush(stdout);
    while (!relay_stop) {
        if (loop)
            ev_run(loop, EVRUN_ONCE);
        else if (lws_service(ctx, 0) < 0)
            break;
        flush_dirty();
    }
    lws_sul_cancel(&t.sul);
    lws_context_destroy(ctx);
    if (loop)
        ev_loop_destroy(loop);
    while (rooms) {
        room *r = rooms;
        rooms = r->next;
        free(r);
    }
    return 0;
}
