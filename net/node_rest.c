/*
 * node_rest.c: REST waiters: HTTP requests that submitted ops and wait for
 * the engine's ack (an ack means durable, DESIGN.md section 4 rule 1).
 *
 * A waiter is a slot in a small table under one mutex: token (NODE_TOKEN_REST
 * | a 63-bit sequence), state (waiting, done), the result: an engine ack, or
 * a finished HTTP answer from the HTTP worker thread (http_worker.c). The service
 * thread registers and takes; the engine thread completes (node.c on_ack)
 * and then wakes the service loop with lws_cancel_service so that the HTTP
 * layer looks at its waiting requests again. The table grows by doubling;
 * a cancelled waiter whose ack arrives later is simply not found.
 *
 * Threads: every function takes the table's mutex; none blocks otherwise.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "node_internal.h"
#include "wb_error.h"

enum { REST_FREE = 0, REST_WAITING = 1, REST_DONE = 2 };

typedef struct rest_slot {
    uint64_t token;
    int state;
    node_rest_result res;
} rest_slot;

struct node_rest {
    pthread_mutex_t mu;
    rest_slot *slots;
    size_t cap;
    uint64_t next;
};

int node_rest_init(node *n)
{
    struct node_rest *r = calloc(1, sizeof *r);
    if (!r)
        return WB_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->next = 1;
    n->rest = r;
    return 0;
}

void node_rest_free(node *n)
{
    if (!n->rest)
        return;
    for (size_t i = 0; i < n->rest->cap; i++)
        free(n->rest->slots[i].res.body);
    pthread_mutex_destroy(&n->rest->mu);
    free(n->rest->slots);
    free(n->rest);
    n->rest = NULL;
}

static rest_slot *rest_find(struct node_rest *r, uint64_t token)
{
    for (size_t i = 0; i < r->cap; i++)
        if (r->slots[i].state != REST_FREE && r->slots[i].token == token)
            return &r->slots[i];
    return NULL;
}

static rest_slot *rest_free_slot(struct node_rest *r)
{
    for (size_t i = 0; i < r->cap; i++)
        if (r->slots[i].state == REST_FREE)
            return &r->slots[i];
    size_t cap = r->cap ? 2 * r->cap : 16;
    rest_slot *s = realloc(r->slots, cap * sizeof *s);
    if (!s)
        return NULL;
    memset(s + r->cap, 0, (cap - r->cap) * sizeof *s);
    r->slots = s;
    rest_slot *free_one = &s[r->cap];
    r->cap = cap;
    return free_one;
}

int node_rest_register(node *n, uint64_t *token)
{
    struct node_rest *r = n->rest;
    pthread_mutex_lock(&r->mu);
    rest_slot *s = rest_free_slot(r);
    if (s) {
        s->token = NODE_TOKEN_REST | (r->next++ & ~NODE_TOKEN_REST);
        s->state = REST_WAITING;
        memset(&s->res, 0, sizeof s->res);
        *token = s->token;
    }
    pthread_mutex_unlock(&r->mu);
    return s ? 0 : WB_ENOMEM;
}

void node_rest_cancel(node *n, uint64_t token)
{
    struct node_rest *r = n->rest;
    char *orphan = NULL;
    pthread_mutex_lock(&r->mu);
    rest_slot *s = rest_find(r, token);
    if (s) {
        orphan = s->res.body;
        s->res.body = NULL;
        s->state = REST_FREE;
    }
    pthread_mutex_unlock(&r->mu);
    free(orphan);
}

int node_rest_complete_reply(node *n, uint64_t token, int http_status,
                             char *body, size_t body_len)
{
    struct node_rest *r = n->rest;
    int done = 0;
    pthread_mutex_lock(&r->mu);
    rest_slot *s = rest_find(r, token);
    if (s && s->state == REST_WAITING) {
        s->res.http_status = http_status;
        s->res.body = body;
        s->res.body_len = body_len;
        s->state = REST_DONE;
        done = 1;
    }
    pthread_mutex_unlock(&r->mu);
    if (done)
        node_wake(n);
    else
        free(body);
    return done;
}

int node_rest_take(node *n, uint64_t token, node_rest_result *out)
{
    struct node_rest *r = n->rest;
    int rc;
    pthread_mutex_lock(&r->mu);
    rest_slot *s = rest_find(r, token);
    if (!s) {
        rc = WB_ENOTFOUND;
    } else if (s->state == REST_DONE) {
        *out = s->res; /* the body, if any, goes to the taker */
        s->res.body = NULL;
        s->state = REST_FREE;
        rc = 1;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int node_rest_complete(node *n, uint64_t token, const engine_ack *ack)
{
    struct node_rest *r = n->rest;
    int done = 0;
    pthread_mutex_lock(&r->mu);
    rest_slot *s = rest_find(r, token);
    if (s && s->state == REST_WAITING) {
        s->res.status = ack->status;
        s->res.first_seq = ack->first_seq;
        s->res.duplicates = ack->duplicates;
        s->res.nops = ack->batch ? ack->batch->nops : 0;
        s->state = REST_DONE;
        done = 1;
    }
    pthread_mutex_unlock(&r->mu);
    if (done)
        node_wake(n);
    return done;
}
