/*
 * engine.c: the engine: open (stores, recovery), the engine thread's loop,
 * engine_call, close, statistics and oplog retention floors.
 *
 * Threads (docs/engine.md has the full picture):
 *   engine thread    owns every board, the HLC, the oseq counter, the
 *                    dedupe window and the in-flight FIFO. Loop: take
 *                    submissions (bounded queue), completions (oplog writer)
 *                    and snapshot results (snapshot thread) under engine.mu;
 *                    then, without the lock: apply + ack completed groups,
 *                    run engine_call functions, log new submissions, and
 *                    every 100 ms run the snapshot policy and eviction.
 *   oplog writer     (the oplog's) writes and fsyncs; its completion only
 *                    marks a group done and signals engine.cv.
 *   snapshot thread  compresses and commits snapshots, prunes, persists the
 *                    clean position.
 *   any thread       submits, calls, reads stats.
 *
 * Lock order: engine.mu and engine.smu are never held together except
 * snapshot thread -> mu after releasing smu (so no order to keep).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "codec.h"
#include "engine_internal.h"
#include "wb_error.h"

#define ENG_TICK_MS 100u
#define ENG_TURN_MAX 512u /* submissions taken per loop turn */

uint64_t eng_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t eng_now_ms(void)
{
    return eng_now_ns() / 1000000ull;
}

int eng_on_thread(const engine *e)
{
    return e && e->thread_started && pthread_equal(pthread_self(), e->thread);
}

int engine_on_thread(const engine *e) { return eng_on_thread(e); }

void eng_log(engine *e, int level, const char *event, const char *fmt, ...)
{
    if (!e->cb.on_log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->cb.on_log(e->cb.ctx, level, event, buf);
}

void engine_options_init(engine_options *o)
{
    memset(o, 0, sizeof *o);
    oplog_options_init(&o->oplog);
    board_limits_default(&o->limits);
    o->snap_every_ops = 10000;
    o->snap_every_ms = 60000;
    o->snap_keep = 3;
    o->mem_budget = 256ull << 20;
    o->idle_evict_ms = 300000;
    o->tombstone_ms = 7ull * 24 * 3600 * 1000;
    o->dedupe_window = 65536;
    o->queue_cap = 4096;
    o->ring_ops = 4096;
    o->ring_bytes = 1u << 20;
    o->max_drift_ms = 60000;
}

/* ---- the loop --------------------------------------------------------- */

static void call_finish(engine *e, eng_call *c, int result)
{
    pthread_mutex_lock(&e->mu);
    c->result = result;
    c->state = 2;
    int free_it = --c->refs == 0;
    pthread_cond_broadcast(&e->call_cv);
    pthread_mutex_unlock(&e->mu);
    if (free_it)
        free(c);
}

static void run_call(engine *e, eng_call *c)
{
    pthread_mutex_lock(&e->mu);
    if (c->state == 3) { /* the waiter gave up before it started */
        int free_it = --c->refs == 0;
        pthread_mutex_unlock(&e->mu);
        if (free_it)
            free(c);
        return;
    }
    c->state = 1;
    pthread_mutex_unlock(&e->mu);
    call_finish(e, c, c->fn(e, c->arg));
}

/* Runs one turn's submissions in order: batches are logged together, an
 * engine_call runs after the batches queued before it were logged. */
static void run_subs(engine *e, eng_sub *subs, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (subs[i].kind != ENG_SUB_CALL)
            continue;
        eng_ingest(e, subs + start, i - start);
        start = i + 1;
        run_call(e, subs[i].call);
    }
    eng_ingest(e, subs + start, n - start);
}

static void tick(engine *e)
{
    uint64_t now = eng_now_ms();
    if (now - e->last_tick_ms < ENG_TICK_MS)
        return;
    e->last_tick_ms = now;
    eng_snap_policy(e, now);
    eng_boards_evict(e, now, 0);
}

static void *eng_main(void *arg)
{
    engine *e = arg;
    eng_sub *turn = malloc(ENG_TURN_MAX * sizeof *turn);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (e->stop && !e->q.n && !e->fifo_head)
            break;
        if (!e->q.n && !e->wake && !e->snap_done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += ENG_TICK_MS * 1000000l;
            if (ts.tv_nsec >= 1000000000l) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000l;
            }
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        size_t n = 0;
        while (turn && n < ENG_TURN_MAX && eng_queue_pop(&e->q, &turn[n]))
            n++;
        atomic_store(&e->st_qlen, e->q.n);
        atomic_fetch_add(&e->st_turns, 1);
        eng_snap_job *done = e->snap_done;
        e->snap_done = NULL;
        e->wake = 0;
        pthread_mutex_unlock(&e->mu);

        eng_complete(e);
        if (e->cb.on_turn)
            e->cb.on_turn(e->cb.ctx);
        if (done)
            eng_snap_results(e, done);
        run_subs(e, turn, n);
        if (n && e->cb.on_turn)
            e->cb.on_turn(e->cb.ctx);
        tick(e);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    free(turn);
    eng_drain(e);
    e->close_rc = eng_snap_all_wait(e);
    if (e->close_rc)
        eng_log(e, ENGINE_LOG_ERROR, "close.snapshot_failed", "boards=%llu",
                (unsigned long long)e->nboards);
    return NULL;
}

/* ---- open / close ----------------------------------------------------- */

static int mkdir_p1(const char *d)
{
    if (mkdir(d, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int node_id_setup(engine *e)
{
    uint64_t id = e->opt.node_id;
    if (!id) {
        int rc = snap_node_id_get(e->store, &id);
        if (rc == 0 && id)
            goto done;
        if (rc != WB_ENOTFOUND && rc != 0)
            return rc;
        id = 0;
        while (!id)
            if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
                id = (uint64_t)eng_now_ns() * 0x9E3779B97F4A7C15ull;
        id &= 0x7fffffffffffffffull; /* stays positive in every language */
        if (!id)
            id = 1;
    }
    int rc = snap_node_id_set(e->store, id);
    if (rc)
        return rc;
done:
    e->node_id = id;
    return 0;
}

static int stores_open(engine *e)
{
    int rc = mkdir_p1(e->opt.dir);
    if (rc)
        return rc;
    snprintf(e->dir_oplog, sizeof e->dir_oplog, "%s/oplog", e->opt.dir);
    snprintf(e->dir_snap, sizeof e->dir_snap, "%s/snap", e->opt.dir);
    snap_options so;
    snap_options_init(&so);
    so.no_sync = e->opt.snap_no_sync;
    rc = snap_store_open(e->dir_snap, &so, &e->store);
    if (!rc)
        rc = node_id_setup(e);
    if (rc)
        return rc;
    oplog_options oo = e->opt.oplog;
    oo.dir = e->dir_oplog;
    oo.node_id = e->node_id;
    oplog_recovery rec;
    char err[512] = "";
    rc = oplog_open(&oo, &e->log, &rec, err, sizeof err);
    if (rc) {
        eng_log(e, ENGINE_LOG_ERROR, "oplog.open_failed", "code=%s detail=%s",
                wb_errname(rc), err);
        return rc;
    }
    eng_log(e, ENGINE_LOG_INFO, "oplog.recovered",
            "first=%llu last=%llu segments=%u torn_bytes=%llu dropped=%u "
            "detail=%s",
            (unsigned long long)rec.first_seq, (unsigned long long)rec.last_seq,
            rec.segments, (unsigned long long)rec.torn_bytes,
            rec.dropped_records, rec.detail);
    return 0;
}

static void cursors_load(engine *e)
{
    uint64_t v;
    if (snap_applied_pos_get(e->store, &v) == 0)
        e->clean_pos = v;
    if (snap_cursor_get(e->store, "engine/oseq", &v) == 0)
        e->oseq = v;
    if (snap_cursor_get(e->store, "engine/hlc", &v) == 0)
        hlc_init(&e->clock, v);
    atomic_store(&e->st_clean, e->clean_pos);
}

static void eng_destroy(engine *e)
{
    eng_snap_stop(e);
    if (e->log)
        oplog_close(e->log);
    eng_boards_free_all(e);
    eng_dedupe_free(&e->dedupe);
    eng_queue_free(&e->q);
    snap_store_close(e->store);
    pthread_cond_destroy(&e->cv);
    pthread_cond_destroy(&e->call_cv);
    pthread_cond_destroy(&e->scv);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->smu);
    free(e);
}

static int opts_check(const engine_options *o)
{
    if (!o || !o->dir || !*o->dir || strlen(o->dir) > 4000 || !o->queue_cap)
        return WB_EINVAL;
    return 0;
}

int engine_open(const engine_options *o, const engine_callbacks *cb,
                engine **out)
{
    int rc = opts_check(o);
    if (rc)
        return rc;
    uint64_t t0 = eng_now_ns();
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return WB_ENOMEM;
    e->opt = *o;
    if (cb)
        e->cb = *cb;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->smu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_cond_init(&e->call_cv, NULL);
    pthread_cond_init(&e->scv, NULL);
    hlc_init(&e->clock, 0);
    rc = eng_queue_init(&e->q, o->queue_cap);
    if (!rc)
        rc = eng_dedupe_init(&e->dedupe, o->dedupe_window);
    if (!rc)
        rc = stores_open(e);
    if (!rc) {
        cursors_load(e);
        rc = eng_snap_start(e);
    }
    uint64_t records = 0;
    if (!rc)
        rc = eng_recover(e, &records);
    if (!rc) {
        /* The thread starts by taking mu: it sees thread and
         * thread_started set. */
        pthread_mutex_lock(&e->mu);
        if (pthread_create(&e->thread, NULL, eng_main, e) != 0)
            rc = WB_ENOMEM;
        else
            e->thread_started = 1;
        pthread_mutex_unlock(&e->mu);
    }
    if (rc) {
        eng_destroy(e);
        return rc;
    }
    uint64_t ns = eng_now_ns() - t0;
    atomic_store(&e->st_recovery_ns, ns);
    atomic_store(&e->st_recovery_records, records);
    eng_log(e, ENGINE_LOG_INFO, "recovery.done",
            "node=%llu records=%llu boards=%llu clean_pos=%llu applied=%llu "
            "ms=%.1f",
            (unsigned long long)e->node_id, (unsigned long long)records,
            (unsigned long long)e->nboards, (unsigned long long)e->clean_pos,
            (unsigned long long)e->applied_seq, (double)ns / 1e6);
    *out = e;
    return 0;
}

int engine_close(engine *e)
{
    if (!e)
        return 0;
    if (eng_on_thread(e))
        return WB_EINVAL;
    pthread_mutex_lock(&e->mu);
    e->closing = 1;
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->thread_started = 0;
    int rc = e->close_rc;
    eng_snap_stop(e);
    int orc = oplog_close(e->log);
    e->log = NULL;
    if (!rc)
        rc = orc;
    eng_destroy(e);
    return rc;
}

/* ---- submissions ------------------------------------------------------ */

/* The engine this thread has plugged (engine_plug), and whether a
 * submission is waiting for engine_unplug's wake-up. */
static _Thread_local engine *eng_plugged;
static _Thread_local int eng_plug_pending;

void engine_plug(engine *e)
{
    if (eng_plugged && eng_plugged != e)
        engine_unplug(eng_plugged);
    eng_plugged = e;
}

void engine_unplug(engine *e)
{
    if (!e || eng_plugged != e)
        return;
    eng_plugged = NULL;
    if (!eng_plug_pending)
        return;
    eng_plug_pending = 0;
    /* The pushes were made under mu and the engine re-checks q.n under mu
     * before it sleeps: a signal outside the lock loses nothing. */
    pthread_cond_signal(&e->cv);
}

static int submit(engine *e, const eng_sub *s)
{
    pthread_mutex_lock(&e->mu);
    int rc = e->closing ? WB_ECLOSED : eng_queue_push(&e->q, s);
    if (!rc) {
        atomic_store(&e->st_qlen, e->q.n);
        /* a call is waited for: it always wakes the engine */
        if (eng_plugged == e && s->kind != ENG_SUB_CALL &&
            e->q.n <= e->q.cap / 2)
            eng_plug_pending = 1;
        else
            pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int engine_submit(engine *e, wb_batch *batch, uint64_t token)
{
    if (!e || !batch || !batch->owner_)
        return WB_EINVAL;
    eng_sub s = {ENG_SUB_LOCAL, batch, token, NULL};
    int rc = submit(e, &s);
    if (!rc)
        atomic_fetch_add(&e->st_submitted, 1);
    return rc;
}

int engine_submit_encoded(engine *e, const uint8_t *buf, size_t len,
                          uint64_t token)
{
    wb_batch *b;
    int rc = codec_decode_batch(buf, len, &b);
    if (rc)
        return rc;
    rc = engine_submit(e, b, token);
    if (rc)
        codec_batch_free(b);
    return rc;
}

static int submit_remote(engine *e, wb_batch *batch, uint64_t flags)
{
    if (!e || !batch || !batch->owner_)
        return WB_EINVAL;
    eng_sub s = {ENG_SUB_REMOTE, batch, flags, NULL};
    int rc = submit(e, &s);
    if (!rc)
        atomic_fetch_add(&e->st_submitted, 1);
    return rc;
}

int engine_submit_remote(engine *e, wb_batch *batch)
{
    return submit_remote(e, batch, 0);
}

int engine_submit_remote_force(engine *e, wb_batch *batch)
{
    return submit_remote(e, batch, ENG_REMOTE_FORCE);
}

int engine_call(engine *e, engine_fn fn, void *arg, unsigned timeout_ms)
{
    if (!e || !fn || eng_on_thread(e))
        return WB_EINVAL;
    eng_call *c = calloc(1, sizeof *c);
    if (!c)
        return WB_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->refs = 2;
    eng_sub s = {ENG_SUB_CALL, NULL, 0, c};
    int rc = submit(e, &s);
    if (rc) {
        free(c);
        return rc;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = timeout_ms ? timeout_ms : 10000;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000l;
    if (ts.tv_nsec >= 1000000000l) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000l;
    }
    pthread_mutex_lock(&e->mu);
    while (c->state != 2) {
        int w = pthread_cond_timedwait(&e->call_cv, &e->mu, &ts);
        if (w == ETIMEDOUT && c->state == 0) {
            c->state = 3; /* the engine thread will skip and free it */
            break;
        }
    }
    rc = c->state == 2 ? c->result : WB_ETIMEDOUT;
    int free_it = --c->refs == 0;
    pthread_mutex_unlock(&e->mu);
    if (free_it)
        free(c);
    return rc;
}

/* ---- retention and stats ---------------------------------------------- */

uint64_t engine_retention_floor(engine *e)
{
    uint64_t floor = atomic_load(&e->st_clean) + 1;
    uint64_t minpos = 0;
    if (snap_min_pos(e->store, &minpos) != 0)
        minpos = 0;
    if (minpos + 1 < floor)
        floor = minpos + 1;
    pthread_mutex_lock(&e->mu);
    for (unsigned i = 0; i < ENG_MAX_FLOORS; i++)
        if (e->floor_name[i][0] && e->floor_seq[i] < floor)
            floor = e->floor_seq[i];
    pthread_mutex_unlock(&e->mu);
    return floor;
}

int engine_set_floor(engine *e, const char *name, uint64_t seq)
{
    if (!e || !name || !*name || strlen(name) >= sizeof e->floor_name[0])
        return WB_ETOOBIG;
    int rc = WB_ETOOBIG;
    pthread_mutex_lock(&e->mu);
    int slot = -1;
    for (unsigned i = 0; i < ENG_MAX_FLOORS; i++) {
        if (strcmp(e->floor_name[i], name) == 0) {
            slot = (int)i;
            break;
        }
        if (slot < 0 && !e->floor_name[i][0])
            slot = (int)i;
    }
    if (slot >= 0) {
        if (seq) {
            snprintf(e->floor_name[slot], sizeof e->floor_name[slot], "%s", name);
            e->floor_seq[slot] = seq;
        } else {
            e->floor_name[slot][0] = 0;
        }
        rc = 0;
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int engine_compact(engine *e)
{
    uint64_t floor = engine_retention_floor(e);
    return oplog_retain_from(e->log, floor, NULL);
}

snap_store *engine_snap_store(engine *e)
{
    return e->store;
}

void engine_get_stats(engine *e, engine_stats *s)
{
    memset(s, 0, sizeof *s);
    s->queue_len = atomic_load(&e->st_qlen);
    s->turns = atomic_load(&e->st_turns);
    oplog_stats os;
    oplog_get_stats(e->log, &os);
    s->oplog_queue = os.queue_records;
    s->oplog_fsync = os.fsync;
    dur_hist_read(&e->st_apply_hist, &s->op_apply);
    s->submitted = atomic_load(&e->st_submitted);
    s->ops_applied = atomic_load(&e->st_applied);
    s->ops_rejected = atomic_load(&e->st_rejected);
    s->ops_duplicate = atomic_load(&e->st_dup);
    s->remote_duplicate = atomic_load(&e->st_rdup);
    s->remote_lost = atomic_load(&e->st_rlost);
    s->boards_loaded = atomic_load(&e->st_loaded) - atomic_load(&e->st_evicted);
    s->boards_evicted = atomic_load(&e->st_evicted);
    s->mem_used = atomic_load(&e->st_mem);
    s->snapshots = atomic_load(&e->st_snaps);
    s->snapshot_errors = atomic_load(&e->st_snap_err);
    s->snapshot_ns_sum = atomic_load(&e->st_snap_sum);
    s->snapshot_ns_last = atomic_load(&e->st_snap_last);
    s->snapshot_encode_ns_last = atomic_load(&e->st_snap_enc_last);
    s->recovery_ns = atomic_load(&e->st_recovery_ns);
    s->recovery_records = atomic_load(&e->st_recovery_records);
    s->durable_seq = oplog_durable_seq(e->log);
    s->applied_seq = atomic_load(&e->st_applied_seq);
    s->clean_pos = atomic_load(&e->st_clean);
    s->node_id = e->node_id;
}
