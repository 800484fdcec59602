/*
 * oplog_queue.c: the bounded MPSC queue of append batches. See
 * oplog_queue.h for the design; the invariants:
 *
 *   1. Batches are linked in the order their sequence numbers were given,
 *      and seqs are contiguous across the list (next_seq is only advanced
 *      by push, under mu, by exactly b->n).
 *   2. nrec/nbytes count exactly what is linked; take() zeroes them.
 *   3. state only moves away from 0; once set, push refuses.
 */
#include "oplog_queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oplog_internal.h"
#include "wb_error.h"

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct oplog_batch *oplog_batch_new(const oplog_entry *entries, size_t n,
                                    oplog_done_fn done, void *arg)
{
    size_t payload = 0, enc = 0;
    for (size_t i = 0; i < n; i++) {
        payload += entries[i].len;
        enc += oplog_record_size(entries[i].len);
    }
    size_t head = sizeof(struct oplog_batch) + n * sizeof(struct oplog_qrec);
    struct oplog_batch *b = malloc(head + payload);
    if (!b)
        return NULL;
    uint8_t *p = (uint8_t *)b + head;
    for (size_t i = 0; i < n; i++) {
        b->recs[i].type = entries[i].type;
        b->recs[i].len = entries[i].len;
        b->recs[i].payload = p;
        if (entries[i].len)
            memcpy(p, entries[i].payload, entries[i].len);
        p += entries[i].len;
    }
    b->next = NULL;
    b->first_seq = 0;
    b->time_us = wall_us();
    b->n = (uint32_t)n;
    b->next_rec = 0;
    b->payload_bytes = payload;
    b->enc_bytes = enc;
    b->done = done;
    b->arg = arg;
    b->status = 0;
    b->barrier = 0;
    return b;
}

void oplog_queue_init(oplog_queue *q, uint64_t next_seq, uint64_t cap_rec,
                      uint64_t cap_bytes, void (*wake)(void *), void *arg)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->next_seq = next_seq;
    q->cap_rec = cap_rec;
    q->cap_bytes = cap_bytes;
    q->wake = wake;
    q->wake_arg = arg;
    atomic_store(&q->next_seq_pub, next_seq);
}

void oplog_queue_destroy(oplog_queue *q)
{
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
}

void oplog_queue_set_writer(oplog_queue *q, pthread_t writer)
{
    pthread_mutex_lock(&q->mu);
    q->writer = writer;
    q->writer_set = 1;
    pthread_mutex_unlock(&q->mu);
}

static int queue_has_room(const oplog_queue *q, const struct oplog_batch *b)
{
    return q->nrec + b->n <= q->cap_rec &&
           q->nbytes + b->payload_bytes <= q->cap_bytes;
}

int oplog_queue_push(oplog_queue *q, struct oplog_batch *b,
                     uint64_t *first_seq)
{
    if (b->n > q->cap_rec || b->payload_bytes > q->cap_bytes)
        return WB_EINVAL;
    int wake = 0, rc = 0;
    pthread_mutex_lock(&q->mu);
    int on_writer = q->writer_set && pthread_equal(q->writer, pthread_self());
    while (q->state == 0 && !queue_has_room(q, b)) {
        if (on_writer) {
            rc = WB_EAGAIN;
            break;
        }
        pthread_cond_wait(&q->not_full, &q->mu);
    }
    if (rc == 0 && q->state != 0)
        rc = q->state;
    if (rc == 0) {
        b->first_seq = q->next_seq;
        q->next_seq += b->n;
        q->nrec += b->n;
        q->nbytes += b->payload_bytes;
        if (q->tail)
            q->tail->next = b;
        else
            q->head = b;
        q->tail = b;
        atomic_store_explicit(&q->next_seq_pub, q->next_seq,
                              memory_order_release);
        atomic_store_explicit(&q->nrec_pub, q->nrec, memory_order_relaxed);
        atomic_fetch_add_explicit(&q->appended, b->n, memory_order_relaxed);
        if (first_seq)
            *first_seq = b->first_seq;
        wake = q->writer_idle;
        q->writer_idle = 0;
    }
    pthread_mutex_unlock(&q->mu);
    if (wake)
        q->wake(q->wake_arg);
    return rc;
}

/* Unlinks everything; caller holds mu. */
static struct oplog_batch *queue_take_locked(oplog_queue *q)
{
    struct oplog_batch *all = q->head;
    q->head = q->tail = NULL;
    q->nrec = q->nbytes = 0;
    atomic_store_explicit(&q->nrec_pub, 0, memory_order_relaxed);
    pthread_cond_broadcast(&q->not_full);
    return all;
}

struct oplog_batch *oplog_queue_take(oplog_queue *q)
{
    pthread_mutex_lock(&q->mu);
    struct oplog_batch *all = q->head ? queue_take_locked(q) : NULL;
    q->writer_idle = 0;
    pthread_mutex_unlock(&q->mu);
    return all;
}

int oplog_queue_idle(oplog_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int empty = q->head == NULL;
    q->writer_idle = empty;
    pthread_mutex_unlock(&q->mu);
    return empty;
}

struct oplog_batch *oplog_queue_stop(oplog_queue *q, int state, int take)
{
    pthread_mutex_lock(&q->mu);
    if (q->state == 0 || state == WB_EFAILED)
        q->state = state;
    pthread_cond_broadcast(&q->not_full);
    struct oplog_batch *all = take ? queue_take_locked(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return all;
}

struct oplog_batch *oplog_queue_rewind(oplog_queue *q, uint64_t seq)
{
    pthread_mutex_lock(&q->mu);
    struct oplog_batch *all = queue_take_locked(q);
    q->next_seq = seq;
    atomic_store_explicit(&q->next_seq_pub, seq, memory_order_release);
    pthread_mutex_unlock(&q->mu);
    return all;
}

int oplog_queue_empty(oplog_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int empty = q->head == NULL;
    pthread_mutex_unlock(&q->mu);
    return empty;
}
