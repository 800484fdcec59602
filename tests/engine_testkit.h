/*
 * engine_testkit.h: helpers shared by the engine tests (header only; every
 * function static inline so a test that does not use one does not warn).
 *
 *   tk_*op       build ops (rect create, move, delete)
 *   tk_submit    encode a batch and engine_submit_encoded it (retrying
 *                WB_EAGAIN a bounded number of times)
 *   tk           a callback collector: acks (with the stamps given), on_ops
 *                events (optionally keeping every encoded batch), logs
 *   tk_wait_*    bounded waits on the collector
 *   tk_hash, tk_get_x, tk_count   engine_call wrappers reading a board
 */
#ifndef WB_ENGINE_TESTKIT_H
#define WB_ENGINE_TESTKIT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "codec.h"
#include "engine.h"
#include "wb_error.h"

#define TK_MAX_OPS 64u

typedef struct tk_ack {
    uint64_t token;
    int status;
    uint64_t seq;
    uint32_t dups;
    uint32_t nops;
    wb_stamp stamps[TK_MAX_OPS];
    uint64_t cids[TK_MAX_OPS];
} tk_ack;

typedef struct tk_enc {
    char board[WB_MAX_ID_LEN + 1];
    uint8_t *enc;
    size_t len;
    uint64_t seq;
} tk_enc;

typedef struct tk {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tk_ack *acks;
    size_t nacks, cap;
    uint64_t ops_events, ops_total, last_seq;
    int keep_encs;
    tk_enc *encs;
    size_t nencs, encap;
    uint64_t snapshot_logs, corrupt_logs, loaded, evicted;
    uint64_t peak_loaded; /* max of loaded - evicted seen */
    int order_error;  /* on_ops seqs not increasing */
    int verbose;
} tk;

static inline uint64_t tk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void tk_on_ack(void *ctx, uint64_t token, const engine_ack *a)
{
    tk *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (t->nacks == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->acks = realloc(t->acks, t->cap * sizeof *t->acks);
    }
    tk_ack *k = &t->acks[t->nacks++];
    memset(k, 0, sizeof *k);
    k->token = token;
    k->status = a->status;
    k->seq = a->first_seq;
    k->dups = a->duplicates;
    k->nops = a->batch->nops;
    for (uint32_t i = 0; i < a->batch->nops && i < TK_MAX_OPS; i++) {
        k->stamps[i] = a->batch->ops[i].stamp;
        k->cids[i] = a->batch->ops[i].client_op_id;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static inline void tk_on_ops(void *ctx, const char *bid, const wb_batch *b,
                             const uint8_t *enc, size_t len, uint64_t seq)
{
    tk *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (seq <= t->last_seq)
        t->order_error = 1;
    t->last_seq = seq;
    t->ops_events++;
    t->ops_total += b->nops;
    if (t->keep_encs) {
        if (t->nencs == t->encap) {
            t->encap = t->encap ? t->encap * 2 : 64;
            t->encs = realloc(t->encs, t->encap * sizeof *t->encs);
        }
        tk_enc *x = &t->encs[t->nencs++];
        snprintf(x->board, sizeof x->board, "%s", bid);
        x->enc = malloc(len);
        memcpy(x->enc, enc, len);
        x->len = len;
        x->seq = seq;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static inline void tk_on_board(void *ctx, const char *bid, int loaded)
{
    tk *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (loaded)
        t->loaded++;
    else
        t->evicted++;
    if (t->loaded - t->evicted > t->peak_loaded)
        t->peak_loaded = t->loaded - t->evicted;
    pthread_mutex_unlock(&t->mu);
}

static inline void tk_on_log(void *ctx, int level, const char *event,
                             const char *detail)
{
    tk *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (strcmp(event, "snapshot.write") == 0)
        t->snapshot_logs++;
    if (strcmp(event, "snapshot.corrupt_skipped") == 0)
        t->corrupt_logs++;
    int verbose = t->verbose || level >= ENGINE_LOG_ERROR;
    pthread_mutex_unlock(&t->mu);
    if (verbose)
        fprintf(stderr, "    [engine %d] %s %s\n", level, event, detail);
}

static inline void tk_init(tk *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
}

static inline void tk_reset(tk *t)
{
    pthread_mutex_lock(&t->mu);
    t->nacks = 0;
    for (size_t i = 0; i < t->nencs; i++)
        free(t->encs[i].enc);
    t->nencs = 0;
    t->ops_events = t->ops_total = 0;
    pthread_mutex_unlock(&t->mu);
}

static inline void tk_free(tk *t)
{
    tk_reset(t);
    free(t->acks);
    free(t->encs);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

static inline engine_callbacks tk_callbacks(tk *t)
{
    engine_callbacks cb = {.ctx = t, .on_ack = tk_on_ack, .on_ops = tk_on_ops,
                           .on_board = tk_on_board, .on_log = tk_on_log};
    return cb;
}

/* Waits until the collector has >= n acks; 1 if so within timeout_ms. */
static inline int tk_wait_acks(tk *t, size_t n, unsigned timeout_ms)
{
    uint64_t end = tk_now_ms() + timeout_ms;
    pthread_mutex_lock(&t->mu);
    while (t->nacks < n && tk_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    int ok = t->nacks >= n;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

static inline int tk_wait_ops(tk *t, uint64_t n_events, unsigned timeout_ms)
{
    uint64_t end = tk_now_ms() + timeout_ms;
    pthread_mutex_lock(&t->mu);
    while (t->ops_events < n_events && tk_now_ms() < end) {
        pthread_mutex_unlock(&t->mu);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&t->mu);
    }
    int ok = t->ops_events >= n_events;
    pthread_mutex_unlock(&t->mu);
    return ok;
}

/* Finds the ack of token (copied into *out); 1 if found. */
static inline int tk_find_ack(tk *t, uint64_t token, tk_ack *out)
{
    int found = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->nacks; i++)
        if (t->acks[i].token == token) {
            *out = t->acks[i];
            found = 1;
        }
    pthread_mutex_unlock(&t->mu);
    return found;
}

/* ---- ops ---------------------------------------------------------------- */

static inline void tk_rect_op(wb_op *op, const char *user, const char *elem,
                              uint64_t cid, int32_t x, int32_t y)
{
    memset(op, 0, sizeof *op);
    op->kind = WB_OP_UPSERT;
    op->client_op_id = cid;
    op->user = (wb_str){user, (uint32_t)strlen(user)};
    op->elem = (wb_str){elem, (uint32_t)strlen(elem)};
    op->props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                     WB_PROP_BIT(WB_PROP_Y);
    op->props.type = WB_ELEM_RECT;
    op->props.x = x;
    op->props.y = y;
}

static inline void tk_move_op(wb_op *op, const char *user, const char *elem,
                              uint64_t cid, int32_t x, int32_t y)
{
    tk_rect_op(op, user, elem, cid, x, y);
    op->props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
}

static inline int tk_encode(const char *bid, wb_op *ops, uint32_t n,
                            uint8_t **out, size_t *len)
{
    wb_batch b = {{bid, (uint32_t)strlen(bid)}, n, ops, NULL};
    return codec_encode_batch(&b, out, len);
}

static inline int tk_submit(engine *e, const char *bid, wb_op *ops,
                            uint32_t n, uint64_t token)
{
    uint8_t *enc;
    size_t len;
    int rc = tk_encode(bid, ops, n, &enc, &len);
    if (rc)
        return rc;
    for (int tries = 0; tries < 5000; tries++) {
        rc = engine_submit_encoded(e, enc, len, token);
        if (rc != WB_EAGAIN)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    free(enc);
    return rc;
}

/* ---- reads through engine_call ----------------------------------------- */

typedef struct tk_read {
    const char *bid;
    const char *elem;
    uint64_t hash;
    int32_t x, y;
    size_t count;
    uint64_t mem;
    vv version;
} tk_read;

static inline int tk_read_fn(engine *e, void *arg)
{
    tk_read *r = arg;
    const board *b;
    int rc = engine_board_get(e, r->bid, &b);
    if (rc)
        return rc;
    rc = board_state_hash(b, &r->hash);
    if (rc)
        return rc;
    r->count = board_element_count(b);
    r->mem = board_memory_usage(b);
    vv_copy(&r->version, board_version(b));
    if (r->elem) {
        wb_props p;
        rc = board_get_element(b, r->elem, strlen(r->elem), &p);
        if (rc)
            return rc;
        r->x = p.x;
        r->y = p.y;
    }
    return 0;
}

/* Reads board (and elem, if not NULL) on the engine thread. The caller
 * vv_free's r->version. */
static inline int tk_read_board(engine *e, const char *bid, const char *elem,
                                tk_read *r)
{
    memset(r, 0, sizeof *r);
    vv_init(&r->version);
    r->bid = bid;
    r->elem = elem;
    return engine_call(e, tk_read_fn, r, 10000);
}

static inline void tk_options(engine_options *o, const char *dir)
{
    engine_options_init(o);
    o->dir = dir;
    o->snap_no_sync = 1;
    o->oplog.segment_size = 1u << 20; /* small spares: quick opens */
}

#endif /* WB_ENGINE_TESTKIT_H */
