/*
 * ws_hub.c: the transport-free hub of the WebSocket layer: sessions by id,
 * rooms by board, and the event list between the engine thread and the
 * service thread (ws_internal.h; spec: docs/protocol.md 2.3).
 *
 * Invariants:
 *  1. The engine thread touches only ev_head/ev_tail/ev_ops_pushed, under
 *     ev_mu, and calls o.tr.wake. It encodes the frame (ack or server ops)
 *     there, so the service thread only routes bytes. What it makes in one
 *     engine turn (acks, ops, welcomes) is staged (st_head, engine thread
 *     only) and appended at the turn's end (ws_hub_core_turn, called from
 *     the engine's on_turn) with one lock and one wake-up: the service
 *     thread then takes the turn's events together instead of waking for
 *     the first and racing the engine for the rest. A staged event is not
 *     numbered yet: to the service thread it has not happened, exactly as
 *     if the engine had not applied it yet (invariants 3 and 5 hold).
 *  2. Events are delivered in the order the engine produced them, so a
 *     session sees its acks and its room's ops in apply order.
 *  3. Ops events are numbered 1, 2, ... (ev_ops_pushed). A session joins at
 *     the number read on the engine thread while its welcome was built
 *     (join_after): it gets exactly the ops events numbered after it, none
 *     of which is in its welcome, and all later ones.
 *  4. A session id is unique among live sessions and < 2^31, so a WS token
 *     (id << 32 | seq) never has the REST bit set; an ack for a session
 *     that has gone is dropped.
 *  5. A welcome built on the engine thread is itself an event, pushed at
 *     its join point: its num is the last ops number pushed before it, so
 *     the session joins the room exactly when the FIFO reaches it and
 *     every later ops event for the board reaches it once. A full-state
 *     welcome also leaves the encoded state in the room (ws_state_cache);
 *     the next ops event delivered for the board drops it, so while it is
 *     there it is the board's state as of every ops event delivered.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

/* ---- buffers ------------------------------------------------------------ */

ws_buf *ws_buf_new(const uint8_t *p, size_t len)
{
    ws_buf *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    memcpy(b->data, p, len);
    return b;
}

ws_buf *ws_buf_alloc(size_t len)
{
    ws_buf *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    return b;
}

void ws_buf_unref(ws_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

void ws_cache_unref(ws_state_cache *c)
{
    if (!c || --c->refs > 0)
        return;
    ws_buf_unref(c->state);
    free(c->version);
    free(c);
}

_Static_assert(offsetof(ws_buf, data) == offsetof(ws_buf, pre) + WS_BUF_PRE,
               "the headroom lies right before the frame bytes");

void ws_hub_count(metrics_family *f, const char *label)
{
    if (f)
        metrics_inc(metrics_series_get(f, (const char *const[]){label}));
}

/* ---- life --------------------------------------------------------------- */

ws_hub *ws_hub_new(const ws_hub_options *o)
{
    ws_hub *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->o = *o;
    if (!h->o.max_frame)
        h->o.max_frame = WS_MAX_FRAME_DEFAULT;
    if (!h->o.sendq_max)
        h->o.sendq_max = WS_SENDQ_MAX_DEFAULT;
    if (!h->o.rate_presence.rate)
        h->o.rate_presence = (rl_limit){WS_PRESENCE_RATE, WS_PRESENCE_RATE};
    pthread_mutex_init(&h->ev_mu, NULL);
    pthread_mutex_init(&h->wq_mu, NULL);
    pthread_cond_init(&h->wq_cv, NULL);
    h->next_id = 1;
    return h;
}

static void free_events(ws_event *e)
{
    while (e) {
        ws_event *next = e->next;
        ws_buf_unref(e->buf);
        ws_cache_unref(e->cache);
        free(e);
        e = next;
    }
}

void ws_hub_free(ws_hub *h)
{
    if (!h)
        return;
    ws_hub_stop_worker(h);
    h->freeing = 1;
    for (size_t i = 0; i < WS_ID_BUCKETS; i++)
        while (h->by_id[i])
            ws_sess_close(h->by_id[i]);
    free_events(h->st_head);
    free_events(h->ev_head);
    pthread_mutex_destroy(&h->ev_mu);
    pthread_mutex_destroy(&h->wq_mu);
    pthread_cond_destroy(&h->wq_cv);
    free(h);
}

void ws_hub_stop_worker(ws_hub *h)
{
    if (h)
        ws_welcome_worker_stop(h);
}

size_t ws_hub_sessions(const ws_hub *h) { return h->nsess; }

/* ---- sessions and rooms (service thread) -------------------------------- */

ws_sess *ws_hub_find_sess(ws_hub *h, uint32_t id)
{
    for (ws_sess *s = h->by_id[id % WS_ID_BUCKETS]; s; s = s->hnext)
        if (s->id == id)
            return s;
    return NULL;
}

void ws_hub_add_sess(ws_hub *h, ws_sess *s)
{
    do { /* skip ids still in use after a wrap */
        s->id = h->next_id;
        h->next_id = h->next_id >= 0x7fffffffu ? 1 : h->next_id + 1;
    } while (ws_hub_find_sess(h, s->id));
    ws_sess **b = &h->by_id[s->id % WS_ID_BUCKETS];
    s->hnext = *b;
    *b = s;
    h->nsess++;
}

static uint32_t board_hash(const char *id)
{
    uint32_t x = 2166136261u; /* FNV-1a */
    for (const char *p = id; *p; p++)
        x = (x ^ (uint8_t)*p) * 16777619u;
    return x;
}

ws_room *ws_hub_find_room(ws_hub *h, const char *id)
{
    for (ws_room *r = h->rooms[board_hash(id) % WS_ROOM_BUCKETS]; r;
         r = r->next)
        if (strcmp(r->board, id) == 0)
            return r;
    return NULL;
}

int ws_hub_join(ws_hub *h, ws_sess *s)
{
    ws_room *r = ws_hub_find_room(h, s->board);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return WB_ENOMEM;
        strcpy(r->board, s->board);
        ws_room **b = &h->rooms[board_hash(s->board) % WS_ROOM_BUCKETS];
        r->next = *b;
        *b = r;
    }
    s->room = r;
    s->rprev = NULL;
    s->rnext = r->head;
    if (r->head)
        r->head->rprev = s;
    r->head = s;
    r->n++;
    return 0;
}

static void leave_room(ws_hub *h, ws_sess *s)
{
    ws_room *r = s->room;
    if (!r)
        return;
    if (s->rprev)
        s->rprev->rnext = s->rnext;
    else
        r->head = s->rnext;
    if (s->rnext)
        s->rnext->rprev = s->rprev;
    s->room = NULL;
    if (--r->n)
        return;
    ws_room **pp = &h->rooms[board_hash(r->board) % WS_ROOM_BUCKETS];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    ws_cache_unref(r->cache);
    free(r);
}

static void undirty(ws_hub *h, ws_sess *s)
{
    if (!s->dirty)
        return;
    if (s->dprev)
        s->dprev->dnext = s->dnext;
    else
        h->dirty_head = s->dnext;
    if (s->dnext)
        s->dnext->dprev = s->dprev;
    s->dprev = s->dnext = NULL;
    s->dirty = 0;
}

void ws_hub_dirty(ws_hub *h, ws_sess *s)
{
    if (s->dirty)
        return;
    s->dirty = 1;
    s->dprev = NULL;
    s->dnext = h->dirty_head;
    if (h->dirty_head)
        h->dirty_head->dprev = s;
    h->dirty_head = s;
}

/* Closing sessions were handed to want_write by ws_sess_start_close; the
 * flush may close a session (the transport's error path), which takes it
 * off the list first. */
void ws_hub_core_flush(ws_hub *h)
{
    while (h->dirty_head) {
        ws_sess *s = h->dirty_head;
        undirty(h, s);
        if (s->state != WS_CLOSING && h->o.tr.flush)
            h->o.tr.flush(h->o.tr.ctx, s->handle);
    }
}

void ws_hub_remove_sess(ws_hub *h, ws_sess *s)
{
    undirty(h, s);
    leave_room(h, s);
    ws_sess **pp = &h->by_id[s->id % WS_ID_BUCKETS];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = s->hnext;
        h->nsess--;
    }
}

/* ---- events (engine thread -> service thread) --------------------------- */

/* Appends the list first..last (numbering its ops and welcome events) to
 * the event list. Only the append that makes the list non-empty wakes the
 * service thread: until it has taken the list (under ev_mu) that wake-up
 * is pending, and the list it takes holds every later append. */
static void append_events(ws_hub *h, ws_event *first, ws_event *last)
{
    pthread_mutex_lock(&h->ev_mu);
    for (ws_event *ev = first; ev; ev = ev->next)
        if (ev->kind == WS_EV_OPS)
            ev->num = ++h->ev_ops_pushed;
        else if (ev->kind == WS_EV_WELCOME)
            ev->num = h->ev_ops_pushed;
    int was_empty = h->ev_head == NULL;
    if (h->ev_tail)
        h->ev_tail->next = first;
    else
        h->ev_head = first;
    h->ev_tail = last;
    pthread_mutex_unlock(&h->ev_mu);
    if (was_empty && h->o.tr.wake)
        h->o.tr.wake(h->o.tr.ctx);
}

/* On the engine thread the event waits for the end of the turn
 * (invariant 1); from any other thread it goes at once. */
void ws_hub_push(ws_hub *h, ws_event *ev)
{
    ev->next = NULL;
    if (h->o.eng && engine_on_thread(h->o.eng)) {
        if (h->st_tail)
            h->st_tail->next = ev;
        else
            h->st_head = ev;
        h->st_tail = ev;
        return;
    }
    append_events(h, ev, ev);
}

void ws_hub_core_turn(ws_hub *h)
{
    ws_event *first = h->st_head, *last = h->st_tail;
    if (!first)
        return;
    h->st_head = h->st_tail = NULL;
    append_events(h, first, last);
}

uint64_t ws_hub_ops_pushed(ws_hub *h)
{
    pthread_mutex_lock(&h->ev_mu);
    uint64_t n = h->ev_ops_pushed;
    pthread_mutex_unlock(&h->ev_mu);
    return n;
}

static ws_event *event_from_frame(const ws_frame *f)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    if (ws_frame_encode(f, &enc, &len))
        return NULL;
    ws_event *ev = calloc(1, sizeof *ev);
    if (ev)
        ev->buf = ws_buf_new(enc, len);
    free(enc);
    if (ev && !ev->buf) {
        free(ev);
        return NULL;
    }
    return ev;
}

void ws_hub_core_on_ack(ws_hub *h, uint64_t token, const engine_ack *ack)
{
    const wb_batch *b = ack->batch;
    if (!b || b->nops == 0 || b->nops > WB_MAX_OPS_PER_BATCH)
        return;
    ws_ack_item *items = calloc(b->nops, sizeof *items);
    if (!items)
        return; /* the client times out and resends: idempotent */
    ws_frame f = {.type = WS_ACK};
    f.u.ack.status = ws_code_from_error(ack->status);
    if (f.u.ack.status == WS_OK) {
        f.u.ack.first_seq = ack->first_seq;
        f.u.ack.dups = ack->duplicates;
    }
    f.u.ack.n = b->nops;
    f.u.ack.items = items;
    for (uint32_t i = 0; i < b->nops; i++) {
        items[i].client_op_id = b->ops[i].client_op_id;
        if (f.u.ack.status == WS_OK)
            items[i].stamp = b->ops[i].stamp;
    }
    ws_event *ev = event_from_frame(&f);
    free(items);
    if (!ev)
        return;
    ev->conn = (uint32_t)(token >> 32);
    ws_hub_push(h, ev);
}

void ws_hub_core_on_ops(ws_hub *h, const char *board_id,
                        const wb_batch *applied,
                        const uint8_t *enc, size_t len, uint64_t seq)
{
    if (strlen(board_id) > WB_MAX_ID_LEN || !enc || !len)
        return;
    ws_frame f = {.type = WS_SOPS};
    f.u.ops.seq = seq;
    f.u.ops.batch_enc = (ws_bytes){enc, len};
    ws_event *ev = event_from_frame(&f);
    if (!ev) {
        /* Cannot tell the room: count the event anyway so that numbering
         * stays aligned, and let nobody believe it is continuous: the
         * sessions of the room are told to resync. */
        ev = calloc(1, sizeof *ev);
        if (!ev)
            return;
    }
    ev->kind = WS_EV_OPS;
    strcpy(ev->board, board_id);
    ws_hub_push(h, ev);
}

/* ---- delivery (service thread) ------------------------------------------ */

static void send_resync(ws_sess *s)
{
    ws_frame f = {.type = WS_RESYNC};
    f.u.error.code = WS_CODE_INTERNAL;
    f.u.error.msg = (wb_str){"ops lost (out of memory): reload", 32};
    uint8_t *enc = NULL;
    size_t len;
    if (ws_frame_encode(&f, &enc, &len) == 0) {
        ws_buf *b = ws_buf_new(enc, len);
        if (b) {
            ws_sess_enqueue(s, b, WS_Q_NORMAL);
            ws_buf_unref(b);
        }
    }
    free(enc);
}

static void deliver_welcome(ws_hub *h, ws_event *ev)
{
    ws_sess *s = ws_hub_find_sess(h, ev->conn);
    if (!s || s->state != WS_JOINING)
        return; /* gone, or closed meanwhile */
    ws_sess_welcomed(s, ev->buf, ev->num, ev->rc);
    ws_room *r = ev->rc || !ev->cache ? NULL : s->room;
    if (r) { /* the state as of this point of the event order */
        ws_cache_unref(r->cache);
        r->cache = ev->cache;
        ev->cache->refs++;
    }
}

/* Presence relayed between nodes (replication, Redis pub/sub): best
 * effort, never numbered with the ops, queued like local presence. */
void ws_hub_core_presence_remote(ws_hub *h, const char *board_id,
                                 const uint8_t *frame, size_t len)
{
    if (strlen(board_id) > WB_MAX_ID_LEN || !len)
        return;
    ws_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return;
    ev->kind = WS_EV_PRESENCE;
    ev->buf = ws_buf_new(frame, len);
    if (!ev->buf) {
        free(ev);
        return;
    }
    strcpy(ev->board, board_id);
    ws_hub_push(h, ev);
}

void ws_hub_presence_forward(ws_hub *h, const char *board_id, const ws_buf *b)
{
    pthread_mutex_lock(&h->ev_mu);
    void (*fn)(void *, const char *, const uint8_t *, size_t) =
        h->presence_out;
    void *ctx = h->presence_ctx;
    pthread_mutex_unlock(&h->ev_mu);
    if (fn)
        fn(ctx, board_id, b->data, b->len);
}

void ws_hub_core_board_gone_async(ws_hub *h, const char *board_id)
{
    if (strlen(board_id) > WB_MAX_ID_LEN)
        return;
    ws_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return;
    ev->kind = WS_EV_GONE;
    strcpy(ev->board, board_id);
    ws_hub_push(h, ev);
}

static void deliver_presence(ws_hub *h, ws_event *ev)
{
    ws_room *r = ws_hub_find_room(h, ev->board);
    for (ws_sess *s = r ? r->head : NULL; s; s = s->rnext)
        if (s->state == WS_JOINED)
            ws_sess_enqueue(s, ev->buf, WS_Q_PRESENCE);
}

static void deliver(ws_hub *h, ws_event *ev)
{
    if (ev->kind == WS_EV_WELCOME) {
        deliver_welcome(h, ev);
        return;
    }
    if (ev->kind == WS_EV_PRESENCE) {
        deliver_presence(h, ev);
        return;
    }
    if (ev->kind == WS_EV_GONE) {
        ws_hub_core_board_gone(h, ev->board);
        return;
    }
    if (ev->kind == WS_EV_ACK) {
        ws_sess *s = ws_hub_find_sess(h, ev->conn);
        if (s && s->state != WS_CLOSING)
            ws_sess_enqueue(s, ev->buf, WS_Q_NORMAL);
        return;
    }
    ws_room *r = ws_hub_find_room(h, ev->board);
    if (!r)
        return;
    ws_cache_unref(r->cache); /* the board changed */
    r->cache = NULL;
    for (ws_sess *s = r->head; s; s = s->rnext) {
        if (ev->num <= s->join_after || s->state != WS_JOINED)
            continue;
        if (ev->buf)
            ws_sess_enqueue(s, ev->buf, WS_Q_NORMAL);
        else
            send_resync(s);
    }
}

size_t ws_hub_core_board_gone(ws_hub *h, const char *board_id)
{
    ws_room *r = ws_hub_find_room(h, board_id);
    size_t n = 0;
    if (r) {
        ws_cache_unref(r->cache);
        r->cache = NULL;
    }
    for (ws_sess *s = r ? r->head : NULL; s; s = s->rnext)
        if (s->state == WS_JOINED) {
            ws_sess_error(s, WS_CODE_NOT_FOUND, WS_CLOSE_NOT_FOUND,
                          "board deleted");
            n++;
        }
    /* Sessions still joining are not in the room yet: their welcome, built
     * before the delete, would otherwise still reach them. Closed here,
     * deliver_welcome drops it (state no longer WS_JOINING). */
    for (size_t i = 0; i < WS_ID_BUCKETS; i++)
        for (ws_sess *s = h->by_id[i]; s; s = s->hnext)
            if (s->state == WS_JOINING && strcmp(s->board, board_id) == 0) {
                ws_sess_error(s, WS_CODE_NOT_FOUND, WS_CLOSE_NOT_FOUND,
                              "board deleted");
                n++;
            }
    return n;
}

void ws_hub_core_service(ws_hub *h)
{
    pthread_mutex_lock(&h->ev_mu);
    ws_event *ev = h->ev_head;
    h->ev_head = h->ev_tail = NULL;
    pthread_mutex_unlock(&h->ev_mu);
    while (ev) {
        ws_event *next = ev->next;
        h->ev_rest = next;
        deliver(h, ev);
        ws_buf_unref(ev->buf);
        ws_cache_unref(ev->cache);
        free(ev);
        ev = next;
    }
    h->ev_rest = NULL;
}

/* 1 when an ops event for board_id has been pushed and not yet delivered
 * (service thread; ev_mu held by the caller). */
int ws_hub_ops_pending(ws_hub *h, const char *board_id)
{
    for (int pass = 0; pass < 2; pass++)
        for (ws_event *e = pass ? h->ev_head : h->ev_rest; e; e = e->next)
            if (e->kind == WS_EV_OPS && strcmp(e->board, board_id) == 0)
                return 1;
    return 0;
}
