/*
 * ws_welcome.c: a session's welcome (docs/protocol.md 2.3, rule 2), built
 * so that the service thread never waits on the engine:
 *
 *   - cache hit (no resume token, the board's room holds a current
 *     ws_state_cache and no ops event for the board is waiting in the
 *     event list): built on the service thread from the cached state; the
 *     session joins at the last ops number pushed (ws_hub.c invariant 5
 *     says why the cache is then the state as of every ops event numbered
 *     up to it).
 *   - otherwise a job for the welcome worker, a thread of the hub that
 *     takes every waiting job and runs ONE engine_call for all of them. On
 *     the engine thread each job reads the state or delta, the board's
 *     version vector and the hub's ops-event number at one point of the
 *     apply order, and becomes a WS_EV_WELCOME event in the hub's FIFO:
 *       no resume token: engine_board_state -> full state, flags 0;
 *       a token the resume ring covers: engine_board_since -> the missed
 *         batches (at most WS_MAX_DELTA, else treated as stale) and the
 *         board's version vector, flags DELTA;
 *       WB_ESTALE: the full state, flags RESYNC.
 *     A full state is encoded once per board per engine_call and shared
 *     (ws_state_cache) by those jobs and, through the event, by the room.
 *     All events of one call are built first and pushed afterwards, so
 *     the engine thread never touches a refcount the service thread may
 *     be changing.
 *
 * Threads: ws_welcome_start, ws_welcome_worker_stop on the service thread
 * (stop also from whoever frees the hub, after the loop); worker_main on
 * the worker; batch_fn on the engine thread.
 */
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "vv.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

/* ---- the frame ------------------------------------------------------------ */

ws_buf *ws_welcome_assemble(const ws_frame *f, const uint8_t *state,
                            size_t len)
{
    ws_frame hdr = *f;
    hdr.u.welcome.state = (ws_bytes){NULL, 0};
    uint8_t *enc = NULL;
    size_t hlen = 0;
    if (ws_frame_encode(&hdr, &enc, &hlen) || hlen == 0) {
        free(enc);
        return NULL;
    }
    hlen--; /* the empty state's length byte (0): the real one follows */
    uint8_t lv[10];
    size_t nlv = 0;
    uint64_t v = len;
    do {
        lv[nlv] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            lv[nlv] |= 0x80;
        nlv++;
    } while (v);
    ws_buf *b = ws_buf_alloc(hlen + nlv + len);
    if (b) {
        memcpy(b->data, enc, hlen);
        memcpy(b->data + hlen, lv, nlv);
        if (len)
            memcpy(b->data + hlen + nlv, state, len);
    }
    free(enc);
    return b;
}

static void welcome_frame(ws_frame *f, uint8_t flags, uint8_t role,
                          const char *user, const uint8_t *v, size_t vlen)
{
    memset(f, 0, sizeof *f);
    f->type = WS_WELCOME;
    f->u.welcome.flags = flags;
    f->u.welcome.role = role;
    f->u.welcome.user = (wb_str){user, (uint32_t)strlen(user)};
    f->u.welcome.version = (ws_bytes){v, vlen};
}

/* ---- engine thread: states and deltas ------------------------------------ */

#define WS_MEMO 16 /* boards whose state one call keeps */

typedef struct wbatch {
    ws_hub *h;
    ws_wjob *jobs;
    int ran;
    ws_state_cache *memo[WS_MEMO];
    char memo_board[WS_MEMO][WB_MAX_ID_LEN + 1];
    unsigned nmemo;
} wbatch;

static int state_cb(void *arg, const uint8_t *state, size_t len,
                    const vv *version)
{
    ws_state_cache *c = arg;
    uint8_t *vb = malloc(VV_MAX_ENCODED);
    if (!vb)
        return WB_ENOMEM;
    int rc = vv_encode(version, vb, VV_MAX_ENCODED, &c->vlen);
    c->version = vb;
    if (rc)
        return rc;
    c->state = ws_buf_new(state, len);
    return c->state ? 0 : WB_ENOMEM;
}

/* The board's full state, encoded once per call. Returns a reference. */
static int state_of(engine *e, wbatch *b, const char *board_id,
                    ws_state_cache **out)
{
    for (unsigned i = 0; i < b->nmemo; i++)
        if (strcmp(b->memo_board[i], board_id) == 0) {
            b->memo[i]->refs++;
            *out = b->memo[i];
            return 0;
        }
    ws_state_cache *c = calloc(1, sizeof *c);
    if (!c)
        return WB_ENOMEM;
    c->refs = 1;
    int rc = engine_board_state(e, board_id, state_cb, c);
    if (rc) {
        ws_cache_unref(c);
        return rc;
    }
    if (b->nmemo < WS_MEMO) {
        c->refs++;
        b->memo[b->nmemo] = c;
        strcpy(b->memo_board[b->nmemo++], board_id);
    }
    *out = c;
    return 0;
}

typedef struct delta {
    ws_delta_item *items;
    uint32_t n, cap;
} delta;

static int since_cb(void *arg, const uint8_t *enc, size_t len, uint64_t seq)
{
    delta *d = arg;
    if (d->n == WS_MAX_DELTA)
        return WB_ESTALE; /* too far behind for a delta: full state */
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? 2 * d->cap : 16;
        ws_delta_item *it = realloc(d->items, cap * sizeof *it);
        if (!it)
            return WB_ENOMEM;
        d->items = it;
        d->cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return WB_ENOMEM;
    memcpy(copy, enc, len);
    d->items[d->n++] = (ws_delta_item){seq, {copy, len}};
    return 0;
}

static void delta_free(delta *d)
{
    for (uint32_t i = 0; i < d->n; i++)
        free((void *)d->items[i].batch.ptr);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* The DELTA welcome, or WB_ESTALE (send the full state) or an error. */
static int delta_welcome(engine *e, const ws_wjob *j, ws_buf **out)
{
    vv resume;
    vv_init(&resume);
    int rc = vv_decode(&resume, j->resume, j->rlen, NULL);
    delta d = {0};
    if (!rc)
        rc = engine_board_since(e, j->board, &resume, since_cb, &d);
    vv_free(&resume);
    const board *bd = NULL;
    if (!rc)
        rc = engine_board_get(e, j->board, &bd);
    uint8_t *vb = rc ? NULL : malloc(VV_MAX_ENCODED);
    size_t vlen = 0;
    if (!rc && !vb)
        rc = WB_ENOMEM;
    if (!rc)
        rc = vv_encode(board_version(bd), vb, VV_MAX_ENCODED, &vlen);
    if (!rc) {
        ws_frame f;
        welcome_frame(&f, WS_WELCOME_DELTA, j->role, j->user, vb, vlen);
        f.u.welcome.ndelta = d.n;
        f.u.welcome.delta = d.items;
        uint8_t *enc = NULL;
        size_t len = 0;
        rc = ws_frame_encode(&f, &enc, &len);
        if (!rc && !(*out = ws_buf_new(enc, len)))
            rc = WB_ENOMEM;
        free(enc);
    }
    free(vb);
    delta_free(&d);
    return rc;
}

static ws_event *build_one(engine *e, wbatch *b, const ws_wjob *j)
{
    ws_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL; /* the hello timeout closes the session */
    ev->kind = WS_EV_WELCOME;
    ev->conn = j->conn;
    strcpy(ev->board, j->board);
    uint8_t flags = 0;
    int rc = WB_ESTALE;
    if (j->rlen) {
        rc = delta_welcome(e, j, &ev->buf);
        flags = WS_WELCOME_RESYNC;
    }
    if (rc == WB_ESTALE) {
        rc = state_of(e, b, j->board, &ev->cache);
        if (!rc) {
            ws_frame f;
            welcome_frame(&f, flags, j->role, j->user, ev->cache->version,
                          ev->cache->vlen);
            ev->buf = ws_welcome_assemble(&f, ev->cache->state->data,
                                          ev->cache->state->len);
            if (!ev->buf)
                rc = WB_ENOMEM;
        }
    }
    ev->rc = rc;
    return ev;
}

static int batch_fn(engine *e, void *arg)
{
    wbatch *b = arg;
    b->ran = 1;
    ws_event *head = NULL, **tail = &head;
    for (const ws_wjob *j = b->jobs; j; j = j->next) {
        ws_event *ev = build_one(e, b, j);
        if (ev) {
            *tail = ev;
            tail = &ev->next;
        }
    }
    for (unsigned i = 0; i < b->nmemo; i++)
        ws_cache_unref(b->memo[i]);
    /* one point of the apply order for all: nothing was applied meanwhile */
    while (head) {
        ws_event *next = head->next;
        head->next = NULL;
        ws_hub_push(b->h, head);
        head = next;
    }
    return 0;
}

/* ---- the worker ------------------------------------------------------------ */

void ws_wjob_free(ws_wjob *j)
{
    if (!j)
        return;
    free(j->resume);
    free(j);
}

static void fail_jobs(ws_hub *h, const ws_wjob *j, int rc)
{
    for (; j; j = j->next) {
        ws_event *ev = calloc(1, sizeof *ev);
        if (!ev)
            continue;
        ev->kind = WS_EV_WELCOME;
        ev->conn = j->conn;
        ev->rc = rc;
        strcpy(ev->board, j->board);
        ws_hub_push(h, ev);
    }
}

static void run_jobs(ws_hub *h, ws_wjob *jobs)
{
    wbatch *b = calloc(1, sizeof *b);
    int rc = WB_ENOMEM;
    if (b) {
        b->h = h;
        b->jobs = jobs;
        rc = engine_call(h->o.eng, batch_fn, b, WS_CALL_TIMEOUT_MS);
        if (b->ran)
            rc = 0;
    }
    if (rc)
        fail_jobs(h, jobs, rc);
    free(b);
    while (jobs) {
        ws_wjob *next = jobs->next;
        ws_wjob_free(jobs);
        jobs = next;
    }
}

static void *worker_main(void *arg)
{
    ws_hub *h = arg;
    pthread_mutex_lock(&h->wq_mu);
    for (;;) {
        while (!h->wq_stop && !h->wq_head)
            pthread_cond_wait(&h->wq_cv, &h->wq_mu);
        if (h->wq_stop)
            break;
        ws_wjob *jobs = h->wq_head;
        h->wq_head = h->wq_tail = NULL;
        pthread_mutex_unlock(&h->wq_mu);
        run_jobs(h, jobs);
        pthread_mutex_lock(&h->wq_mu);
    }
    pthread_mutex_unlock(&h->wq_mu);
    return NULL;
}

void ws_welcome_worker_stop(ws_hub *h)
{
    pthread_mutex_lock(&h->wq_mu);
    h->wq_stop = 1;
    pthread_cond_broadcast(&h->wq_cv);
    ws_wjob *left = h->wq_head;
    h->wq_head = h->wq_tail = NULL;
    pthread_mutex_unlock(&h->wq_mu);
    if (h->wq_started) {
        pthread_join(h->wq_thread, NULL);
        h->wq_started = 0;
    }
    while (left) { /* their sessions are closed with the hub */
        ws_wjob *next = left->next;
        ws_wjob_free(left);
        left = next;
    }
}

/* ---- service thread ---------------------------------------------------------- */

/* The welcome from the room's cache, or 0 when there is none current. */
static int from_cache(ws_hub *h, ws_sess *s)
{
    ws_room *r = ws_hub_find_room(h, s->board);
    if (!r || !r->cache)
        return 0;
    pthread_mutex_lock(&h->ev_mu);
    int pending = ws_hub_ops_pending(h, s->board);
    uint64_t at = h->ev_ops_pushed;
    pthread_mutex_unlock(&h->ev_mu);
    if (pending)
        return 0;
    ws_state_cache *c = r->cache;
    c->refs++; /* the join may close the session: keep it alive */
    ws_frame f;
    welcome_frame(&f, 0, (uint8_t)s->role, s->user, c->version, c->vlen);
    ws_buf *b = ws_welcome_assemble(&f, c->state->data, c->state->len);
    ws_cache_unref(c);
    if (!b)
        return 0;
    ws_sess_welcomed(s, b, at, 0);
    ws_buf_unref(b);
    return 1;
}

int ws_welcome_start(ws_hub *h, ws_sess *s, const uint8_t *resume,
                     size_t rlen)
{
    if (!rlen && from_cache(h, s))
        return 0;
    ws_wjob *j = calloc(1, sizeof *j);
    if (!j)
        return WB_ENOMEM;
    j->conn = s->id;
    j->role = (uint8_t)s->role;
    strcpy(j->board, s->board);
    strcpy(j->user, s->user);
    if (rlen) {
        j->resume = malloc(rlen);
        if (!j->resume) {
            free(j);
            return WB_ENOMEM;
        }
        memcpy(j->resume, resume, rlen);
        j->rlen = rlen;
    }
    int rc = 0;
    pthread_mutex_lock(&h->wq_mu);
    if (h->wq_stop)
        rc = WB_ECLOSED;
    else if (!h->wq_started) {
        if (pthread_create(&h->wq_thread, NULL, worker_main, h) == 0)
            h->wq_started = 1;
        else
            rc = WB_ENOMEM;
    }
    if (!rc) {
        if (h->wq_tail)
            h->wq_tail->next = j;
        else
            h->wq_head = j;
        h->wq_tail = j;
        pthread_cond_signal(&h->wq_cv);
    }
    pthread_mutex_unlock(&h->wq_mu);
    if (rc)
        ws_wjob_free(j);
    return rc;
}
