/*
 * engine_ingest.c: from submission to ack, on the engine thread.
 *
 * eng_ingest() takes the submissions of one loop turn and, per batch:
 *   local:  load the board, answer resends from the dedupe window, check
 *           the rest against the board limits (counting elements created by
 *           ops still in flight: pending_creates; approximate, an element
 *           created twice in flight counts twice, never less), stamp (HLC,
 *           this node, ++oseq), encode;
 *   remote: drop ops already seen (oseq <= the board's `logged` vector,
 *           which includes ops in flight), absorb stamps into the HLC,
 *           remember (user, client op id) -> stamp in the dedupe window
 *           (a client moving between nodes resends with the same ids),
 *           encode.
 * Every encoded board batch becomes ONE oplog record; all records of the
 * turn go into ONE oplog_append_batch call (a "group"), queued on a FIFO.
 * The engine thread does not wait: the writer thread's completion marks the
 * group done and wakes the loop, and eng_complete() applies, broadcasts and
 * acks done groups strictly in FIFO (= seq) order. A rejected batch is
 * acked at once and nothing is logged.
 *
 * Failure: a group that fails (WB_EIO, WB_EFULL, ...) is acked with that
 * status; its ops are forgotten by the dedupe window and the boards'
 * `logged` vectors are rebuilt. Their oseqs are not reused (gaps in an
 * origin's oseqs are allowed: only order matters).
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "engine_internal.h"
#include "wb_error.h"
#include "wb_records.h"

static void item_free(eng_item *it)
{
    if (it->batch)
        codec_batch_free(it->batch);
    free(it->filtered);
    free(it->enc);
    free(it);
}

static void ack(engine *e, eng_item *it, int status, uint64_t seq)
{
    if (it->kind != ENG_SUB_LOCAL || !e->cb.on_ack)
        return;
    engine_ack a = {status, it->batch, status ? 0 : seq, it->dups};
    e->cb.on_ack(e->cb.ctx, it->token, &a);
}

static void reject(engine *e, eng_item *it, int rc)
{
    atomic_fetch_add(&e->st_rejected, it->batch->nops);
    ack(e, it, rc, 0);
    item_free(it);
}

static int op_creates(const board *b, const wb_op *op)
{
    wb_props p;
    if (op->kind != WB_OP_UPSERT ||
        !(op->props.mask & WB_PROP_BIT(WB_PROP_TYPE)))
        return 0;
    return board_get_element(b, op->elem.ptr, op->elem.len, &p) != 0;
}

/* Builds it->logb from the ops with keep[i] (filtered copy if some drop). */
static int build_logb(eng_item *it, const uint8_t *keep, uint32_t nkeep)
{
    wb_batch *b = it->batch;
    it->logb = *b;
    it->logb.owner_ = NULL;
    if (nkeep == b->nops)
        return 0;
    it->logb.nops = nkeep;
    it->logb.ops = NULL;
    if (!nkeep)
        return 0;
    it->filtered = malloc((size_t)nkeep * sizeof *it->filtered);
    if (!it->filtered)
        return WB_ENOMEM;
    uint32_t j = 0;
    for (uint32_t i = 0; i < b->nops; i++)
        if (keep[i])
            it->filtered[j++] = b->ops[i];
    it->logb.ops = it->filtered;
    return 0;
}

static int encode_logb(eng_item *it)
{
    if (!it->logb.nops)
        return 0;
    int rc = codec_encode_batch(&it->logb, &it->enc, &it->enc_len);
    if (!rc && it->enc_len > OPLOG_MAX_PAYLOAD)
        rc = WB_ETOOBIG;
    return rc;
}

static int check_local(engine *e, eng_item *it, const uint8_t *keep)
{
    eng_board *bd = it->bd;
    board_limits lim;
    board_get_limits(bd->b, &lim);
    wb_batch *b = it->batch;
    for (uint32_t i = 0; i < b->nops; i++) {
        if (!keep[i])
            continue;
        int rc = board_check_op(bd->b, &b->ops[i]);
        if (rc)
            return rc;
        if (op_creates(bd->b, &b->ops[i])) {
            if (lim.max_elements &&
                board_element_count(bd->b) + bd->pending_creates +
                        it->creates >= lim.max_elements)
                return WB_ELIMIT;
            it->creates++;
        }
    }
    return 0;
}

/* Local batch -> item ready to log (or NULL after a reject). */
static eng_item *prep_local(engine *e, eng_item *it, uint8_t *keep)
{
    wb_batch *b = it->batch;
    uint32_t nkeep = 0;
    for (uint32_t i = 0; i < b->nops; i++) {
        wb_op *op = &b->ops[i];
        op->has_stamp = 0;
        memset(&op->stamp, 0, sizeof op->stamp);
        keep[i] = !eng_dedupe_find(&e->dedupe, op->user, op->client_op_id,
                                   &op->stamp);
        if (!keep[i]) {
            op->has_stamp = 1;
            it->dups++;
        }
        nkeep += keep[i];
    }
    int rc = check_local(e, it, keep);
    if (!rc)
        rc = build_logb(it, keep, nkeep);
    if (rc) {
        reject(e, it, rc);
        return NULL;
    }
    uint64_t wall = hlc_wall_ms();
    for (uint32_t i = 0; i < b->nops; i++) {
        if (!keep[i])
            continue;
        wb_op *op = &b->ops[i];
        op->stamp.hlc = hlc_now(&e->clock, wall);
        op->stamp.node = e->node_id;
        op->stamp.oseq = ++e->oseq;
        op->has_stamp = 1;
    }
    if (nkeep != b->nops) /* the filtered copy was taken before stamping */
        for (uint32_t i = 0, j = 0; i < b->nops; i++)
            if (keep[i])
                it->filtered[j++] = b->ops[i];
    rc = encode_logb(it);
    if (rc) {
        reject(e, it, rc);
        return NULL;
    }
    for (uint32_t i = 0; i < b->nops; i++)
        if (keep[i]) {
            eng_dedupe_put(&e->dedupe, b->ops[i].user, b->ops[i].client_op_id,
                           &b->ops[i].stamp);
            vv_advance(&it->bd->logged, e->node_id, b->ops[i].stamp.oseq);
        }
    atomic_fetch_add(&e->st_dup, it->dups);
    return it;
}

static eng_item *prep_remote(engine *e, eng_item *it, uint8_t *keep)
{
    wb_batch *b = it->batch;
    uint32_t nkeep = 0;
    uint64_t wall = hlc_wall_ms();
    int force = it->token == ENG_REMOTE_FORCE;
    for (uint32_t i = 0; i < b->nops; i++) {
        wb_op *op = &b->ops[i];
        keep[i] = 0;
        if (!op->has_stamp || op->stamp.node == 0 || op->stamp.oseq == 0 ||
            codec_validate_op(op) != 0) {
            eng_log(e, ENGINE_LOG_WARN, "replication.bad_op",
                    "boardId=%s index=%u", it->bd->id, i);
            continue;
        }
        if (!force &&
            op->stamp.oseq <= vv_get(&it->bd->logged, op->stamp.node)) {
            atomic_fetch_add(&e->st_rdup, 1);
            continue;
        }
        if (vv_advance(&it->bd->logged, op->stamp.node, op->stamp.oseq))
            continue; /* VV_MAX_NODES origins: cannot track it */
        if (hlc_update(&e->clock, op->stamp.hlc, wall, e->opt.max_drift_ms,
                       NULL) != 0)
            eng_log(e, ENGINE_LOG_WARN, "hlc.drift",
                    "boardId=%s node=%llu hlc=%llu", it->bd->id,
                    (unsigned long long)op->stamp.node,
                    (unsigned long long)op->stamp.hlc);
        keep[i] = 1;
        nkeep++;
        /* A client that moves from the origin node to this one resends
         * its unacked ops with the same (user, client op id): answered
         * with the original stamp once the original got here first. */
        if (op->user.len) /* repair ops (board_for_each_op) have none */
            eng_dedupe_put(&e->dedupe, op->user, op->client_op_id,
                           &op->stamp);
    }
    int rc = build_logb(it, keep, nkeep);
    if (!rc)
        rc = encode_logb(it);
    if (rc) {
        eng_log(e, ENGINE_LOG_ERROR, "replication.dropped",
                "boardId=%s code=%s", it->bd->id, wb_errname(rc));
        reject(e, it, rc);
        return NULL;
    }
    return it;
}

static eng_item *prep(engine *e, const eng_sub *s)
{
    uint8_t *keep = e->keep;
    eng_item *it = calloc(1, sizeof *it);
    if (!it) {
        codec_batch_free(s->batch);
        return NULL;
    }
    it->kind = s->kind;
    it->batch = s->batch;
    it->token = s->token;
    if (s->batch->nops == 0 || s->batch->nops > WB_MAX_OPS_PER_BATCH) {
        reject(e, it, WB_EINVAL);
        return NULL;
    }
    int rc = eng_board_acquire(e, s->batch->board.ptr, s->batch->board.len,
                               &it->bd);
    if (rc) {
        reject(e, it, rc);
        return NULL;
    }
    it = s->kind == ENG_SUB_LOCAL ? prep_local(e, it, keep)
                                  : prep_remote(e, it, keep);
    if (!it)
        return NULL;
    it->bd->inflight++;
    it->bd->pending_creates += it->creates;
    return it;
}

static void grp_done(void *arg, uint64_t first_seq, uint64_t last_seq,
                     int status)
{
    eng_group *g = arg;
    engine *e = g->eng;
    /* counted before the group is done: a later engine_flush that passes
     * (WB_EFULL reuses seqs) already sees them in remote_lost */
    if (status && g->remote_ops)
        atomic_fetch_add(&e->st_rlost, g->remote_ops);
    atomic_fetch_add(&e->grp_completed, 1);
    pthread_mutex_lock(&e->mu);
    g->first_seq = first_seq;
    g->status = status;
    g->done = 1;
    e->wake = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void eng_ingest(engine *e, eng_sub *subs, size_t n)
{
    if (!n)
        return;
    eng_group *g = calloc(1, sizeof *g);
    oplog_entry *ents = calloc(n, sizeof *ents);
    if (!g || !ents) {
        free(g);
        free(ents);
        for (size_t i = 0; i < n; i++)
            codec_batch_free(subs[i].batch); /* no memory even to ack */
        return;
    }
    g->eng = e;
    eng_item **tail = &g->items;
    for (size_t i = 0; i < n; i++) {
        eng_item *it = prep(e, &subs[i]);
        if (!it)
            continue;
        *tail = it;
        tail = &it->next;
        if (it->logb.nops)
            ents[g->nlogged++] = (oplog_entry){WB_REC_OPS, it->enc,
                                               (uint32_t)it->enc_len};
        if (it->kind == ENG_SUB_REMOTE)
            g->remote_ops += it->logb.nops;
    }
    if (!g->items) {
        free(g);
        free(ents);
        return;
    }
    if (e->fifo_tail)
        e->fifo_tail->next = g;
    else
        e->fifo_head = g;
    e->fifo_tail = g;
    e->groups_inflight++;
    int rc = 0;
    if (g->nlogged) {
        atomic_fetch_add(&e->grp_appended, 1);
        rc = oplog_append_batch(e->log, ents, g->nlogged, grp_done, g, NULL);
        if (rc) /* refused at once: grp_done will not run */
            atomic_fetch_add(&e->grp_completed, 1);
    }
    free(ents);
    if (rc && g->remote_ops)
        atomic_fetch_add(&e->st_rlost, g->remote_ops);
    if (!g->nlogged || rc) {
        pthread_mutex_lock(&e->mu);
        g->done = 1;
        g->status = rc;
        pthread_mutex_unlock(&e->mu);
    }
}

int eng_apply_record(engine *e, eng_board *bd, const wb_batch *b,
                     uint8_t *enc, size_t len, uint64_t seq, int live)
{
    uint64_t t0 = live ? eng_now_ns() : 0;
    int rc = board_apply_batch(bd->b, b);
    if (live)
        dur_hist_observe(&e->st_apply_hist, eng_now_ns() - t0);
    if (rc)
        eng_log(e, ENGINE_LOG_ERROR, "op.apply_failed",
                "boardId=%s seq=%llu code=%s", bd->id,
                (unsigned long long)seq, wb_errname(rc));
    vv_merge(&bd->logged, board_version(bd->b));
    bd->last_applied = seq;
    if (!bd->first_dirty) {
        bd->first_dirty = seq;
        bd->dirty_since_ms = eng_now_ms();
    }
    bd->ops_since_snap += b->nops;
    if (seq > e->applied_seq)
        e->applied_seq = seq;
    atomic_fetch_add(&e->st_applied, b->nops);
    atomic_store(&e->st_applied_seq, e->applied_seq);
    if (live && e->cb.on_ops)
        e->cb.on_ops(e->cb.ctx, bd->id, b, enc, len, seq);
    eng_ring_push(e, bd, enc, len, seq, b);
    eng_board_account(e, bd);
    return rc;
}

/* After a failed group: forget its local ops and rebuild `logged`. */
static void undo_item(engine *e, eng_item *it)
{
    if (it->kind == ENG_SUB_LOCAL || it->kind == ENG_SUB_REMOTE)
        for (uint32_t i = 0; i < it->logb.nops; i++)
            eng_dedupe_forget(&e->dedupe, it->logb.ops[i].user,
                              it->logb.ops[i].client_op_id);
    eng_board *bd = it->bd;
    vv_copy(&bd->logged, board_version(bd->b));
    for (eng_group *g = e->fifo_head; g; g = g->next)
        for (eng_item *o = g->items; o; o = o->next)
            if (o->bd == bd && o != it)
                for (uint32_t i = 0; i < o->logb.nops; i++)
                    vv_advance(&bd->logged, o->logb.ops[i].stamp.node,
                               o->logb.ops[i].stamp.oseq);
}

/* A resend is acked with its original's stamp only if that original is
 * still known good: a failed original was forgotten by undo_item (groups
 * complete in order, so the original's fate is known by now). */
static int dups_status(engine *e, const eng_item *it)
{
    for (uint32_t i = 0; i < it->batch->nops; i++) {
        const wb_op *op = &it->batch->ops[i];
        wb_stamp s;
        if (!eng_dedupe_find(&e->dedupe, op->user, op->client_op_id, &s) ||
            wb_stamp_cmp(&s, &op->stamp) != 0)
            return WB_EIO;
    }
    return 0;
}

static void complete_group(engine *e, eng_group *g, int status, uint64_t first)
{
    uint64_t idx = 0;
    eng_item *it = g->items;
    while (it) {
        eng_item *next = it->next;
        uint64_t seq = 0;
        if (it->logb.nops) {
            seq = first + idx++;
            if (status == 0) {
                eng_apply_record(e, it->bd, &it->logb, it->enc, it->enc_len,
                                 seq, 1);
                it->enc = NULL;
            } else {
                undo_item(e, it);
            }
        }
        it->bd->inflight--;
        it->bd->pending_creates -= it->creates;
        int st = it->logb.nops ? status : 0;
        if (!st && it->dups && it->kind == ENG_SUB_LOCAL)
            st = dups_status(e, it);
        if (st)
            atomic_fetch_add(&e->st_rejected, it->batch->nops);
        ack(e, it, st, seq);
        item_free(it);
        it = next;
    }
    free(g);
}

void eng_complete(engine *e)
{
    for (;;) {
        pthread_mutex_lock(&e->mu);
        eng_group *g = e->fifo_head;
        if (!g || !g->done) {
            pthread_mutex_unlock(&e->mu);
            return;
        }
        int status = g->status;
        uint64_t first = g->first_seq;
        pthread_mutex_unlock(&e->mu);
        e->fifo_head = g->next;
        if (!e->fifo_head)
            e->fifo_tail = NULL;
        e->groups_inflight--;
        if (status)
            eng_log(e, ENGINE_LOG_ERROR, "oplog.append_failed", "code=%s",
                    wb_errname(status));
        complete_group(e, g, status, first);
    }
}

void eng_drain(engine *e)
{
    while (e->fifo_head) {
        pthread_mutex_lock(&e->mu);
        while (!e->fifo_head->done)
            pthread_cond_wait(&e->cv, &e->mu);
        pthread_mutex_unlock(&e->mu);
        eng_complete(e);
        if (e->cb.on_turn)
            e->cb.on_turn(e->cb.ctx);
    }
}
