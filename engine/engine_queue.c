/*
 * engine_queue.c: the bounded submit queue between any thread and the
 * engine thread.
 *
 * A ring of eng_sub slots protected by engine.mu (the producers hold it for
 * a copy; the engine thread takes many entries per lock). Bounded so that a
 * flood of submissions gets back-pressure (WB_EAGAIN) instead of memory
 * growth; its length is the `oplog_queue_size` metric's engine half.
 */
#include <stdlib.h>

#include "engine_internal.h"
#include "wb_error.h"

int eng_queue_init(eng_queue *q, uint32_t cap)
{
    q->slots = calloc(cap, sizeof *q->slots);
    if (!q->slots)
        return WB_ENOMEM;
    q->cap = cap;
    q->head = q->n = 0;
    return 0;
}

void eng_queue_free(eng_queue *q)
{
    free(q->slots);
    q->slots = NULL;
    q->cap = q->n = 0;
}

int eng_queue_push(eng_queue *q, const eng_sub *s)
{
    if (q->n == q->cap)
        return WB_EAGAIN;
    q->slots[(q->head + q->n) % q->cap] = *s;
    q->n++;
    return 0;
}

int eng_queue_pop(eng_queue *q, eng_sub *out)
{
    if (q->n == 0)
        return 0;
    *out = q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return 1;
}
