/*
 * engine_boards.c: the engine's board cache.
 *
 * Boards are loaded on first use and evicted when idle or when the loaded
 * boards exceed the memory budget. The invariant that keeps a cold load
 * cheap (docs/engine.md, invariant 2):
 *
 *   A board that is not in memory has a latest committed snapshot covering
 *   every one of its records in the oplog.
 *
 * So a cold load is "latest snapshot, decode" and nothing else. Eviction
 * keeps it: a dirty board is snapshotted first and freed only once that
 * snapshot has committed and nothing of it is in flight. The one exception
 * is a corrupt newest snapshot (skipped by snap_get_latest): then the load
 * replays the board's records after the older snapshot from the oplog.
 *
 * Also here: the resume ring (per board, the last applied batches with their
 * encodings, bounded in ops and bytes) and the engine-thread queries built
 * on it: engine_board_since, engine_board_state, engine_board_json.
 *
 * Everything runs on the engine thread.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"
#include "engine_internal.h"
#include "wb_error.h"
#include "wb_records.h"

static uint32_t bd_bucket(const char *id, size_t len)
{
    return (uint32_t)(XXH3_64bits(id, len) & (ENG_BUCKETS - 1));
}

eng_board *eng_board_find(engine *e, const char *id, size_t len)
{
    eng_board *bd = e->buckets[bd_bucket(id, len)];
    for (; bd; bd = bd->hnext)
        if (strlen(bd->id) == len && memcmp(bd->id, id, len) == 0)
            return bd;
    return NULL;
}

static void lru_unlink(engine *e, eng_board *bd)
{
    if (bd->lru_prev)
        bd->lru_prev->lru_next = bd->lru_next;
    else
        e->lru_head = bd->lru_next;
    if (bd->lru_next)
        bd->lru_next->lru_prev = bd->lru_prev;
    else
        e->lru_tail = bd->lru_prev;
    bd->lru_prev = bd->lru_next = NULL;
}

static void lru_push_head(engine *e, eng_board *bd)
{
    bd->lru_prev = NULL;
    bd->lru_next = e->lru_head;
    if (e->lru_head)
        e->lru_head->lru_prev = bd;
    e->lru_head = bd;
    if (!e->lru_tail)
        e->lru_tail = bd;
}

void eng_board_account(engine *e, eng_board *bd)
{
    size_t m = sizeof *bd + board_memory_usage(bd->b) + bd->ring_bytes +
               (size_t)bd->ring_cap * sizeof(eng_ring_ent);
    e->mem_used = e->mem_used - bd->mem + m;
    bd->mem = m;
    atomic_store(&e->st_mem, e->mem_used);
}

#define ENG_LOAD_TRIES 8 /* snapshots tried, newest first, per cold load */

/* One snapshot at or below max_pos into bd. Returns 0 (loaded), 1 (one
 * failed to decode: *max_pos lowered, try again), WB_ENOTFOUND or an
 * error. *skipped counts newer snapshots that were passed over. */
static int bd_try_snapshot(engine *e, const char *idz, eng_board *bd,
                           uint64_t *max_pos, uint32_t *skipped)
{
    snap_loaded L;
    memset(&L, 0, sizeof L);
    int rc = snap_get_latest(e->store, idz, *max_pos, INT64_MAX, &L);
    *skipped += L.skipped;
    if (L.skipped)
        eng_log(e, ENGINE_LOG_WARN, "snapshot.corrupt_skipped",
                "boardId=%s skipped=%u first_id=%llu code=%s", idz,
                L.skipped, (unsigned long long)L.skipped_ids[0],
                wb_errname(L.skipped_codes[0]));
    if (rc == 0) {
        rc = board_state_decode(L.state, L.state_len, &e->opt.limits,
                                &bd->b);
        bd->snap_pos = L.info.pos;
        if (rc) {
            eng_log(e, ENGINE_LOG_ERROR, "snapshot.undecodable",
                    "boardId=%s snapshot=%llu pos=%llu code=%s", idz,
                    (unsigned long long)L.info.id,
                    (unsigned long long)L.info.pos, wb_errname(rc));
            (*skipped)++;
            rc = L.info.pos ? 1 : WB_ENOTFOUND;
            *max_pos = L.info.pos ? L.info.pos - 1 : 0;
        }
    }
    snap_loaded_free(&L);
    return rc;
}

/* Cold load: the newest snapshot that loads; if newer ones were passed
 * over (corrupt or undecodable), the board's records after the one used
 * are replayed from the oplog (invariant 2 only holds for the newest). */
static int bd_load_state(engine *e, const char *idz, size_t len,
                         eng_board *bd)
{
    uint64_t max_pos = UINT64_MAX;
    uint32_t skipped = 0;
    int rc = 1;
    for (int i = 0; i < ENG_LOAD_TRIES && rc == 1; i++)
        rc = bd_try_snapshot(e, idz, bd, &max_pos, &skipped);
    if (rc == WB_ENOTFOUND || rc == 1) {
        if (rc == 1)
            skipped++;
        rc = board_create(idz, len, &e->opt.limits, &bd->b);
        bd->snap_pos = 0;
    }
    if (rc)
        return rc;
    if (skipped && e->applied_seq > bd->snap_pos)
        return eng_board_replay_tail(e, bd, bd->snap_pos, e->applied_seq);
    return 0;
}

static void ring_free(eng_board *bd)
{
    for (uint32_t i = 0; i < bd->ring_n; i++) {
        eng_ring_ent *en = &bd->ring[(bd->ring_head + i) % bd->ring_cap];
        free(en->enc);
        vv_free(&en->ops);
    }
    free(bd->ring);
    bd->ring = NULL;
    bd->ring_cap = bd->ring_n = bd->ring_head = 0;
    bd->ring_ops = bd->ring_bytes = 0;
}

static void bd_free(eng_board *bd)
{
    ring_free(bd);
    vv_free(&bd->ring_base);
    vv_free(&bd->logged);
    board_free(bd->b);
    free(bd);
}

int eng_board_acquire(engine *e, const char *id, size_t len, eng_board **out)
{
    eng_board *bd = eng_board_find(e, id, len);
    if (!bd) {
        if (len == 0 || len > WB_MAX_ID_LEN)
            return WB_EINVAL;
        bd = calloc(1, sizeof *bd);
        if (!bd)
            return WB_ENOMEM;
        memcpy(bd->id, id, len);
        vv_init(&bd->logged);
        vv_init(&bd->ring_base);
        int rc = bd_load_state(e, bd->id, len, bd);
        if (!rc)
            rc = vv_copy(&bd->logged, board_version(bd->b));
        if (!rc)
            rc = vv_copy(&bd->ring_base, board_version(bd->b));
        if (rc) {
            bd_free(bd);
            return rc;
        }
        uint32_t h = bd_bucket(id, len);
        bd->hnext = e->buckets[h];
        e->buckets[h] = bd;
        lru_push_head(e, bd);
        e->nboards++;
        eng_board_account(e, bd);
        atomic_fetch_add(&e->st_loaded, 1);
        if (e->cb.on_board)
            e->cb.on_board(e->cb.ctx, bd->id, 1);
    } else if (e->lru_head != bd) {
        lru_unlink(e, bd);
        lru_push_head(e, bd);
    }
    bd->last_used_ms = eng_now_ms();
    bd->evict_wanted = 0;
    *out = bd;
    return 0;
}

void eng_board_unload(engine *e, eng_board *bd)
{
    eng_board **link = &e->buckets[bd_bucket(bd->id, strlen(bd->id))];
    while (*link && *link != bd)
        link = &(*link)->hnext;
    if (*link)
        *link = bd->hnext;
    lru_unlink(e, bd);
    e->mem_used -= bd->mem;
    e->nboards--;
    atomic_store(&e->st_mem, e->mem_used);
    atomic_fetch_add(&e->st_evicted, 1);
    if (e->cb.on_board)
        e->cb.on_board(e->cb.ctx, bd->id, 0);
    bd_free(bd);
}

void eng_boards_free_all(engine *e)
{
    while (e->lru_head) {
        eng_board *bd = e->lru_head;
        lru_unlink(e, bd);
        bd_free(bd);
    }
    memset(e->buckets, 0, sizeof e->buckets);
    e->nboards = 0;
    e->mem_used = 0;
}

/* ---- eviction ------------------------------------------------------- */

static int bd_evictable_now(const eng_board *bd)
{
    return !bd->inflight && !bd->snap_inflight && !bd->first_dirty;
}

/* Starts evicting bd: frees it if clean, else snapshots it first.
 * Returns 1 if it was freed. */
static int bd_evict(engine *e, eng_board *bd)
{
    if (bd->inflight)
        return 0;
    if (bd_evictable_now(bd)) {
        eng_board_unload(e, bd);
        return 1;
    }
    bd->evict_wanted = 1;
    if (!bd->snap_inflight && bd->first_dirty)
        eng_snap_board(e, bd);
    return 0;
}

void eng_boards_evict(engine *e, uint64_t now_ms, int all)
{
    uint64_t budget = e->opt.mem_budget;
    uint64_t planned = 0; /* bytes of boards already on their way out */
    eng_board *bd = e->lru_tail;
    while (bd) {
        eng_board *prev = bd->lru_prev;
        int idle = e->opt.idle_evict_ms &&
                   now_ms - bd->last_used_ms >= e->opt.idle_evict_ms;
        int over = budget && e->mem_used > budget + planned;
        if (all || idle || over || bd->evict_wanted) {
            size_t m = bd->mem;
            if (!bd_evict(e, bd) && !bd->inflight)
                planned += m;
        }
        bd = prev;
    }
}

/* ---- replay of one board's tail ------------------------------------- */

int eng_board_replay_tail(engine *e, eng_board *bd, uint64_t from,
                          uint64_t to)
{
    oplog_reader *r;
    int rc = oplog_reader_open(e->dir_oplog, from + 1, &r);
    if (rc)
        return rc;
    oplog_record rec;
    size_t idlen = strlen(bd->id);
    while ((rc = oplog_reader_next(r, &rec)) == 1 && rec.seq <= to) {
        if (rec.type != WB_REC_OPS)
            continue;
        wb_batch *b;
        if (codec_decode_batch(rec.payload, rec.len, &b))
            continue; /* checksummed yet undecodable: written by a bug */
        if (b->board.len == idlen && memcmp(b->board.ptr, bd->id, idlen) == 0) {
            uint8_t *copy = malloc(rec.len);
            if (copy)
                memcpy(copy, rec.payload, rec.len);
            eng_apply_record(e, bd, b, copy, copy ? rec.len : 0, rec.seq, 0);
        }
        codec_batch_free(b);
    }
    oplog_reader_close(r);
    eng_log(e, ENGINE_LOG_WARN, "board.tail_replayed",
            "boardId=%s from=%llu to=%llu", bd->id,
            (unsigned long long)from, (unsigned long long)to);
    return rc < 0 ? rc : 0;
}

/* ---- the resume ring ------------------------------------------------ */

static void ring_drop_oldest(eng_board *bd)
{
    eng_ring_ent *en = &bd->ring[bd->ring_head];
    if (vv_merge(&bd->ring_base, &en->ops) != 0)
        bd->ring_stale = 1; /* base lost: every since is stale */
    bd->ring_ops -= en->nops;
    bd->ring_bytes -= en->len;
    free(en->enc);
    vv_free(&en->ops);
    bd->ring_head = (bd->ring_head + 1) % bd->ring_cap;
    bd->ring_n--;
}

static int ring_grow(engine *e, eng_board *bd)
{
    uint32_t max = e->opt.ring_ops ? e->opt.ring_ops : 1;
    uint32_t ncap = bd->ring_cap ? bd->ring_cap * 2 : 16;
    if (ncap > max)
        ncap = max;
    if (ncap <= bd->ring_cap)
        return -1;
    eng_ring_ent *n = malloc((size_t)ncap * sizeof *n);
    if (!n)
        return -1;
    for (uint32_t i = 0; i < bd->ring_n; i++)
        n[i] = bd->ring[(bd->ring_head + i) % bd->ring_cap];
    free(bd->ring);
    bd->ring = n;
    bd->ring_cap = ncap;
    bd->ring_head = 0;
    return 0;
}

void eng_ring_push(engine *e, eng_board *bd, uint8_t *enc, size_t len,
                   uint64_t seq, const wb_batch *applied)
{
    if (bd->ring_n == bd->ring_cap && ring_grow(e, bd) != 0) {
        if (bd->ring_n == 0)
            goto base_only;
        ring_drop_oldest(bd);
    }
    if (!enc)
        goto base_only;
    eng_ring_ent *en = &bd->ring[(bd->ring_head + bd->ring_n) % bd->ring_cap];
    en->enc = enc;
    en->len = len;
    en->seq = seq;
    en->nops = applied->nops;
    vv_init(&en->ops);
    for (uint32_t i = 0; i < applied->nops; i++)
        if (vv_advance(&en->ops, applied->ops[i].stamp.node,
                       applied->ops[i].stamp.oseq) != 0) {
            vv_free(&en->ops);
            goto base_only;
        }
    bd->ring_n++;
    bd->ring_ops += en->nops;
    bd->ring_bytes += len;
    while (bd->ring_n &&
           (bd->ring_ops > e->opt.ring_ops || bd->ring_bytes > e->opt.ring_bytes))
        ring_drop_oldest(bd);
    return;
base_only:
    /* Not kept: the base must cover it, so a since() spanning it is stale. */
    free(enc);
    for (uint32_t i = 0; i < applied->nops; i++)
        if (vv_advance(&bd->ring_base, applied->ops[i].stamp.node,
                       applied->ops[i].stamp.oseq) != 0)
            bd->ring_stale = 1;
}

/* ---- engine-thread queries ------------------------------------------ */

static int since_emit(const wb_batch *b, const vv *client,
                      const eng_ring_ent *en, engine_since_fn cb, void *arg)
{
    uint32_t missing = 0;
    for (uint32_t i = 0; i < b->nops; i++)
        if (b->ops[i].stamp.oseq > vv_get(client, b->ops[i].stamp.node))
            missing++;
    if (missing == 0)
        return 0;
    if (missing == b->nops)
        return cb(arg, en->enc, en->len, en->seq);
    wb_op *ops = malloc((size_t)missing * sizeof *ops);
    if (!ops)
        return WB_ENOMEM;
    uint32_t j = 0;
    for (uint32_t i = 0; i < b->nops; i++)
        if (b->ops[i].stamp.oseq > vv_get(client, b->ops[i].stamp.node))
            ops[j++] = b->ops[i];
    wb_batch sub = {b->board, missing, ops, NULL};
    uint8_t *enc;
    size_t len;
    int rc = codec_encode_batch(&sub, &enc, &len);
    free(ops);
    if (rc)
        return rc;
    rc = cb(arg, enc, len, en->seq);
    free(enc);
    return rc;
}

int engine_board_since(engine *e, const char *board_id, const vv *client_vv,
                       engine_since_fn cb, void *arg)
{
    if (!eng_on_thread(e) || !board_id || !client_vv || !cb)
        return WB_EINVAL;
    eng_board *bd;
    int rc = eng_board_acquire(e, board_id, strlen(board_id), &bd);
    if (rc)
        return rc;
    if (bd->ring_stale || !vv_covers(client_vv, &bd->ring_base))
        return WB_ESTALE;
    for (uint32_t i = 0; i < bd->ring_n; i++) {
        const eng_ring_ent *en = &bd->ring[(bd->ring_head + i) % bd->ring_cap];
        if (vv_covers(client_vv, &en->ops))
            continue;
        wb_batch *b;
        rc = codec_decode_batch(en->enc, en->len, &b);
        if (rc)
            return rc;
        rc = since_emit(b, client_vv, en, cb, arg);
        codec_batch_free(b);
        if (rc)
            return rc;
    }
    return 0;
}

int engine_board_get(engine *e, const char *board_id, const board **out)
{
    if (!eng_on_thread(e) || !board_id)
        return WB_EINVAL;
    eng_board *bd;
    int rc = eng_board_acquire(e, board_id, strlen(board_id), &bd);
    if (!rc)
        *out = bd->b;
    return rc;
}

int engine_board_state(engine *e, const char *board_id, engine_state_fn cb,
                       void *arg)
{
    const board *b;
    int rc = engine_board_get(e, board_id, &b);
    if (rc)
        return rc;
    uint8_t *st;
    size_t len;
    rc = board_state_encode(b, &st, &len);
    if (rc)
        return rc;
    rc = cb(arg, st, len, board_version(b));
    free(st);
    return rc;
}

int engine_board_json(engine *e, const char *board_id, char **out, size_t *len)
{
    const board *b;
    int rc = engine_board_get(e, board_id, &b);
    if (rc)
        return rc;
    return board_to_json(b, out, len);
}
