/*
 * oplog_queue.h: the bounded multi-producer queue between appenders and the
 * oplog writer thread (internal to engine/oplog*.c).
 *
 * A producer copies its entries into one heap block (an oplog_batch), then
 * takes the queue lock only to check capacity, stamp the batch with the next
 * sequence numbers and link it at the tail: queue order == seq order, and
 * the lock is held for a few dozen instructions, never during a copy.
 * The writer takes the whole list at once (oplog_queue_take).
 *
 * Sleep/wake: the writer announces it is about to sleep with
 * oplog_queue_idle() (only when the queue is empty); the first producer to
 * see the flag clears it and calls the wake hook once, so a busy writer
 * costs producers no system call.
 *
 * Ownership: a batch belongs to its producer until pushed, then to the
 * queue, then to the writer (which frees it with free() after completing
 * it).
 */
#ifndef WB_OPLOG_QUEUE_H
#define WB_OPLOG_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "oplog.h"

/* One record waiting in the queue; payload points into its batch block. */
struct oplog_qrec {
    uint16_t type;
    uint32_t len;
    const uint8_t *payload;
};

struct oplog_batch {
    struct oplog_batch *next;
    uint64_t first_seq;   /* stamped by oplog_queue_push */
    int64_t time_us;      /* wall clock at append */
    uint32_t n;           /* records */
    uint32_t next_rec;    /* writer: records already encoded into flushes */
    size_t payload_bytes; /* sum of len, for the queue's byte bound */
    size_t enc_bytes;     /* sum of oplog_record_size(len) */
    oplog_done_fn done;
    void *arg;
    int status;           /* writer: outcome decided early (failures) */
    uint64_t barrier;     /* writer: complete once flushes < barrier are */
    struct oplog_qrec recs[];
};

/* Copies entries into a new batch (one malloc; free() releases it).
 * Returns NULL on allocation failure. Entries must be validated first. */
struct oplog_batch *oplog_batch_new(const oplog_entry *entries, size_t n,
                                    oplog_done_fn done, void *arg);

typedef struct oplog_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_full;     /* signalled when the writer takes */
    struct oplog_batch *head;    /* guarded by mu */
    struct oplog_batch *tail;    /* guarded by mu */
    uint64_t next_seq;           /* guarded by mu */
    uint64_t nrec, nbytes;       /* guarded by mu: what is queued now */
    uint64_t cap_rec, cap_bytes; /* fixed at init */
    int state;                   /* guarded by mu: 0, WB_EFAILED, WB_ECLOSED */
    int writer_idle;             /* guarded by mu */
    pthread_t writer;            /* for the no-deadlock rule */
    int writer_set;
    _Atomic uint64_t next_seq_pub; /* mirror of next_seq for any thread */
    _Atomic uint64_t nrec_pub;     /* mirror of nrec */
    _Atomic uint64_t appended;     /* records accepted so far */
    void (*wake)(void *);          /* called outside the lock */
    void *wake_arg;
} oplog_queue;

void oplog_queue_init(oplog_queue *q, uint64_t next_seq, uint64_t cap_rec,
                      uint64_t cap_bytes, void (*wake)(void *), void *arg);
void oplog_queue_destroy(oplog_queue *q);

/* Records the writer thread (appends from it never block). */
void oplog_queue_set_writer(oplog_queue *q, pthread_t writer);

/* Stamps and links b. Blocks while full unless called on the writer
 * thread (then WB_EAGAIN). Returns 0 with *first_seq set, WB_EINVAL if b
 * can never fit, or the queue's state (WB_EFAILED, WB_ECLOSED); on error
 * b still belongs to the caller. */
int oplog_queue_push(oplog_queue *q, struct oplog_batch *b,
                     uint64_t *first_seq);

/* Writer: takes every queued batch (oldest first; NULL if none) and wakes
 * blocked producers. */
struct oplog_batch *oplog_queue_take(oplog_queue *q);

/* Writer: if the queue is empty, marks the writer idle and returns 1 (it
 * may sleep; a push will call the wake hook). Returns 0 otherwise. */
int oplog_queue_idle(oplog_queue *q);

/* Moves the queue to state (WB_EFAILED or WB_ECLOSED; a failure is not
 * overwritten by a close): later pushes fail with it and blocked producers
 * wake. With take, returns what was queued (else NULL; the writer drains
 * it as usual). */
struct oplog_batch *oplog_queue_stop(oplog_queue *q, int state, int take);

/* Writer: 1 if nothing is queued. */
int oplog_queue_empty(oplog_queue *q);

/* Writer, after an ENOSPC: takes what is queued and makes seq the next
 * sequence number again (the failed batches' numbers are reused). */
struct oplog_batch *oplog_queue_rewind(oplog_queue *q, uint64_t seq);

#endif /* WB_OPLOG_QUEUE_H */
