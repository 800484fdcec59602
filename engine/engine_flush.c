/*
 * engine_flush.c: a flush barrier over the submit queue.
 *
 * engine_flush() lets a caller that handed batches to engine_submit_remote
 * (which has no ack) learn when they are durable: the replication reader
 * commits its stream cursor only after what it read is in the local oplog.
 *
 * How: an engine_call runs after every submission queued before it has been
 * passed to the oplog (engine.c run_subs), so oplog_next_seq() read there is
 * past every record those submissions produced. The caller then waits until
 * oplog_durable_seq() reaches it. Records of one oplog are completed in seq
 * order, so durable_seq >= mark - 1 means all of them are durable. It also
 * waits until every group appended before the mark has completed, durable
 * or not: after a WB_EFULL the seqs were rewound, so the seq test alone
 * could pass before the failed groups were counted in remote_lost.
 *
 * Caveat: a group that failed with WB_EFULL gives its seqs back to later
 * appends (oplog.h); if later appends then complete, the barrier passes
 * although the failed batches were never logged. The engine logs
 * oplog.append_failed in that case and counts the remote ops of those
 * batches in engine_stats.remote_lost: a caller that must know (the
 * replication reader) compares it before and after.
 */
#include <time.h>

#include "engine_internal.h"
#include "wb_error.h"

typedef struct eng_flush_mark {
    uint64_t seq;    /* oplog_next_seq */
    uint64_t groups; /* groups appended so far */
} eng_flush_mark;

static int flush_mark(engine *e, void *arg)
{
    eng_flush_mark *m = arg;
    m->seq = oplog_next_seq(e->log);
    m->groups = atomic_load(&e->grp_appended);
    return 0;
}

int engine_flush(engine *e, unsigned timeout_ms)
{
    if (!e)
        return WB_EINVAL;
    uint64_t ms = timeout_ms ? timeout_ms : 10000;
    uint64_t end = eng_now_ms() + ms;
    eng_flush_mark mark = {0, 0};
    int rc = engine_call(e, flush_mark, &mark, (unsigned)ms);
    if (rc)
        return rc;
    while (oplog_durable_seq(e->log) + 1 < mark.seq ||
           atomic_load(&e->grp_completed) < mark.groups) {
        oplog_stats st;
        oplog_get_stats(e->log, &st);
        if (st.failed)
            return WB_EFAILED;
        if (eng_now_ms() >= end)
            return WB_ETIMEDOUT;
        struct timespec ts = {0, 500000}; /* 0.5 ms: about one fsync */
        nanosleep(&ts, NULL);
    }
    return 0;
}
