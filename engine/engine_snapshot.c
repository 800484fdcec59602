/*
 * engine_snapshot.c: snapshot policy (engine thread) and the snapshot
 * thread.
 *
 * Policy: a board is snapshotted when it has taken snap_every_ops ops (or
 * as many ops as it has elements, if that is more: snap_threshold), or
 * snap_every_ms after its first op not covered by a snapshot, or before it
 * is evicted, or at close. The engine thread encodes the state
 * (board_state_encode: 17 ms for 100k rects, 39 ms for a realistic 100k
 * board of strokes and shapes; see docs/benchmarks.md)
 * and the version vector, and hands the immutable bytes to the snapshot
 * thread, which compresses and commits them (snap_put), prunes to the last
 * snap_keep (snap_prune) and reports back through engine.snap_done.
 *
 * A snapshot taken at engine.applied_seq = P covers position P: every
 * record of the board with seq <= P is applied (records in flight have
 * larger seqs). When it commits, the board is clean if nothing was applied
 * to it since; otherwise its first dirty seq becomes P + 1 (conservative).
 *
 * The clean position (docs/engine.md, invariant 3) is
 *     min(applied_seq, min over loaded boards of first_dirty - 1)
 * Every record with seq <= clean is covered by its board's latest
 * committed snapshot, so startup replays only seq > clean. It is persisted
 * (snap_applied_pos_set, with the oseq counter and HLC as cursors) by the
 * same snapshot thread, after the snapshots it depends on.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "wb_error.h"

#define ENG_CUR_OSEQ "engine/oseq"
#define ENG_CUR_HLC "engine/hlc"

static void sq_push(engine *e, eng_snap_job *j)
{
    pthread_mutex_lock(&e->smu);
    j->next = NULL;
    if (e->sq_tail)
        e->sq_tail->next = j;
    else
        e->sq_head = j;
    e->sq_tail = j;
    pthread_cond_signal(&e->scv);
    pthread_mutex_unlock(&e->smu);
    e->snaps_inflight++;
}

static void run_job(engine *e, eng_snap_job *j)
{
    if (j->kind == 1) {
        j->status = snap_put(e->store, j->board, j->state, j->len, j->pos,
                             j->vvb, j->vv_len, j->elements, 0, NULL);
        if (!j->status && e->opt.snap_keep) {
            snap_prune_policy p;
            snap_prune_policy_init(&p);
            p.keep_last = e->opt.snap_keep;
            int rc = snap_prune(e->store, j->board, &p, NULL);
            if (rc)
                j->status = rc;
        }
    } else {
        j->status = snap_cursor_set(e->store, ENG_CUR_OSEQ, j->oseq);
        if (!j->status)
            j->status = snap_cursor_set(e->store, ENG_CUR_HLC, j->hlc);
        if (!j->status)
            j->status = snap_applied_pos_set(e->store, j->pos);
    }
    free(j->state);
    free(j->vvb);
    j->state = j->vvb = NULL;
    j->duration_ns = eng_now_ns() - j->t0_ns;
}

static void *snap_main(void *arg)
{
    engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->smu);
        while (!e->sq_head && !e->snap_stop)
            pthread_cond_wait(&e->scv, &e->smu);
        eng_snap_job *j = e->sq_head;
        if (j) {
            e->sq_head = j->next;
            if (!e->sq_head)
                e->sq_tail = NULL;
        }
        pthread_mutex_unlock(&e->smu);
        if (!j)
            break;
        run_job(e, j);
        pthread_mutex_lock(&e->mu);
        j->next = e->snap_done;
        e->snap_done = j;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
    return NULL;
}

int eng_snap_start(engine *e)
{
    if (pthread_create(&e->snap_thread, NULL, snap_main, e) != 0)
        return WB_ENOMEM;
    e->snap_started = 1;
    return 0;
}

void eng_snap_stop(engine *e)
{
    if (!e->snap_started)
        return;
    pthread_mutex_lock(&e->smu);
    e->snap_stop = 1;
    pthread_cond_signal(&e->scv);
    pthread_mutex_unlock(&e->smu);
    pthread_join(e->snap_thread, NULL);
    e->snap_started = 0;
    pthread_mutex_lock(&e->mu); /* results nobody will read */
    while (e->snap_done) {
        eng_snap_job *j = e->snap_done;
        e->snap_done = j->next;
        free(j);
    }
    pthread_mutex_unlock(&e->mu);
}

int eng_snap_board(engine *e, eng_board *bd)
{
    if (bd->snap_inflight || !bd->first_dirty)
        return 0;
    uint64_t t0 = eng_now_ns();
    if (e->opt.tombstone_ms) {
        uint64_t now = hlc_wall_ms();
        if (now > e->opt.tombstone_ms)
            board_purge_tombstones(bd->b, HLC_MAKE(now - e->opt.tombstone_ms, 0));
    }
    eng_snap_job *j = calloc(1, sizeof *j);
    if (!j)
        return WB_ENOMEM;
    j->kind = 1;
    memcpy(j->board, bd->id, sizeof j->board);
    int rc = board_state_encode(bd->b, &j->state, &j->len);
    const vv *v = board_version(bd->b);
    j->vv_len = vv_encoded_size(v);
    if (!rc && !(j->vvb = malloc(j->vv_len ? j->vv_len : 1)))
        rc = WB_ENOMEM;
    if (!rc)
        rc = vv_encode(v, j->vvb, j->vv_len, &j->vv_len);
    if (rc) {
        free(j->state);
        free(j->vvb);
        free(j);
        return rc;
    }
    j->pos = e->applied_seq;
    j->elements = (uint32_t)board_element_count(bd->b);
    j->t0_ns = t0;
    atomic_store(&e->st_snap_enc_last, eng_now_ns() - t0);
    bd->snap_inflight = 1;
    bd->ops_since_snap = 0;
    sq_push(e, j);
    return 0;
}

/* Ops before a snapshot is due: snap_every_ops, but at least the board's
 * element count, so that the engine-thread encode (about 1 us per element,
 * docs/benchmarks.md) costs at most about 1 us per op however big the
 * board; the replay tail of a board stays below max(N, elements) ops. */
static uint64_t snap_threshold(const engine *e, const eng_board *bd)
{
    uint64_t n = board_element_count(bd->b);
    return n > e->opt.snap_every_ops ? n : e->opt.snap_every_ops;
}

void eng_snap_policy(engine *e, uint64_t now_ms)
{
    for (eng_board *bd = e->lru_head; bd; bd = bd->lru_next) {
        if (!bd->first_dirty || bd->snap_inflight)
            continue;
        if ((e->opt.snap_every_ops && bd->ops_since_snap >= snap_threshold(e, bd)) ||
            (e->opt.snap_every_ms &&
             now_ms - bd->dirty_since_ms >= e->opt.snap_every_ms))
            eng_snap_board(e, bd);
    }
}

static void snap_result(engine *e, eng_snap_job *j)
{
    eng_board *bd = eng_board_find(e, j->board, strlen(j->board));
    if (!bd)
        return; /* cannot happen: a board is pinned while snap_inflight */
    bd->snap_inflight = 0;
    if (j->status) {
        atomic_fetch_add(&e->st_snap_err, 1);
        eng_log(e, ENGINE_LOG_ERROR, "snapshot.failed",
                "boardId=%s pos=%llu code=%s", j->board,
                (unsigned long long)j->pos, wb_errname(j->status));
        return;
    }
    bd->snap_pos = j->pos;
    if (bd->last_applied <= j->pos) {
        bd->first_dirty = 0;
    } else {
        bd->first_dirty = j->pos + 1;
        bd->dirty_since_ms = eng_now_ms();
    }
    atomic_fetch_add(&e->st_snaps, 1);
    atomic_fetch_add(&e->st_snap_sum, j->duration_ns);
    atomic_store(&e->st_snap_last, j->duration_ns);
    eng_log(e, ENGINE_LOG_INFO, "snapshot.write",
            "boardId=%s pos=%llu bytes=%zu elements=%u duration_us=%llu",
            j->board, (unsigned long long)j->pos, j->len, j->elements,
            (unsigned long long)(j->duration_ns / 1000));
    if (bd->evict_wanted && !bd->inflight && !bd->first_dirty)
        eng_board_unload(e, bd);
}

void eng_snap_results(engine *e, eng_snap_job *list)
{
    eng_snap_job *rev = NULL; /* the list is newest first */
    while (list) {
        eng_snap_job *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    int any = 0;
    while (rev) {
        eng_snap_job *j = rev;
        rev = j->next;
        e->snaps_inflight--;
        if (j->kind == 1) {
            snap_result(e, j);
            any = 1;
        } else if (j->status) {
            eng_log(e, ENGINE_LOG_ERROR, "clean_pos.failed", "pos=%llu code=%s",
                    (unsigned long long)j->pos, wb_errname(j->status));
        }
        free(j);
    }
    if (any)
        eng_clean_update(e);
}

void eng_clean_update(engine *e)
{
    uint64_t clean = e->applied_seq;
    for (eng_board *bd = e->lru_head; bd; bd = bd->lru_next)
        if (bd->first_dirty && bd->first_dirty - 1 < clean)
            clean = bd->first_dirty - 1;
    if (clean <= e->clean_pos)
        return;
    eng_snap_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->kind = 2;
    j->pos = clean;
    j->oseq = e->oseq;
    j->hlc = e->clock.last;
    j->t0_ns = eng_now_ns();
    e->clean_pos = clean;
    atomic_store(&e->st_clean, clean);
    sq_push(e, j);
}

void eng_snap_wait(engine *e)
{
    while (e->snaps_inflight) {
        pthread_mutex_lock(&e->mu);
        while (!e->snap_done)
            pthread_cond_wait(&e->cv, &e->mu);
        eng_snap_job *list = e->snap_done;
        e->snap_done = NULL;
        pthread_mutex_unlock(&e->mu);
        eng_snap_results(e, list);
    }
}

int eng_snap_all_wait(engine *e)
{
    eng_drain(e);
    eng_snap_wait(e); /* earlier snapshots first: one in flight per board */
    uint64_t errs = atomic_load(&e->st_snap_err);
    int rc = 0;
    for (eng_board *bd = e->lru_head; bd; bd = bd->lru_next) {
        int r = eng_snap_board(e, bd);
        if (r && !rc)
            rc = r;
    }
    eng_snap_wait(e);
    if (!rc && atomic_load(&e->st_snap_err) != errs)
        rc = WB_EIO;
    return rc;
}

int engine_snapshot_all(engine *e)
{
    if (!eng_on_thread(e))
        return WB_EINVAL;
    return eng_snap_all_wait(e);
}

int engine_evict_all(engine *e)
{
    if (!eng_on_thread(e))
        return WB_EINVAL;
    eng_snap_all_wait(e);
    eng_boards_evict(e, eng_now_ms(), 1);
    eng_snap_wait(e);
    return (int)e->nboards;
}
