/*
 * engine_recover.c: startup replay.
 *
 * The oplog has already run its own recovery (torn tail cut, unfinished
 * batch dropped). The engine then reads every record with seq > the
 * persisted clean position (snap_applied_pos_get; 0 if never set) and, for
 * each WB_REC_OPS record, loads its board (latest snapshot) and applies the
 * record unless the board's snapshot already covers it (seq <= snap_pos).
 * Boards touched by the replay stay loaded and dirty; the others are, by
 * the clean-position invariant, fully in their snapshots.
 *
 * Replay also restores what the engine keeps only in memory:
 *   - the oseq counter: max(persisted cursor, every own-origin oseq seen);
 *   - the HLC: max(persisted cursor, every stamp seen), so new stamps are
 *     greater than any logged one;
 *   - the dedupe window: own-origin ops of the last dedupe_window records
 *     (read from before the clean position too, so a resend after any
 *     restart is recognised, as far as the oplog is retained).
 * Replay keeps to the memory budget (replay_budget). No callbacks other
 * than on_log/on_board run during replay.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "engine_internal.h"
#include "wb_error.h"
#include "wb_records.h"

static void replay_stamps(engine *e, const wb_batch *b, uint64_t *max_hlc)
{
    for (uint32_t i = 0; i < b->nops; i++) {
        const wb_op *op = &b->ops[i];
        if (!op->has_stamp)
            continue;
        if (op->stamp.hlc > *max_hlc)
            *max_hlc = op->stamp.hlc;
        if (op->stamp.node == e->node_id && op->stamp.oseq > e->oseq)
            e->oseq = op->stamp.oseq;
        /* replicated ops too: a client that moved from their origin node
         * resends them here with the same ids (engine_ingest.c) */
        if (op->stamp.node == e->node_id || op->user.len)
            eng_dedupe_put(&e->dedupe, op->user, op->client_op_id,
                           &op->stamp);
    }
}

static int replay_record(engine *e, const oplog_record *rec,
                         uint64_t *max_hlc)
{
    wb_batch *b;
    int rc = codec_decode_batch(rec->payload, rec->len, &b);
    if (rc) {
        eng_log(e, ENGINE_LOG_ERROR, "replay.undecodable",
                "seq=%llu code=%s", (unsigned long long)rec->seq,
                wb_errname(rc));
        return 0;
    }
    eng_board *bd;
    rc = eng_board_acquire(e, b->board.ptr, b->board.len, &bd);
    if (rc) {
        codec_batch_free(b);
        return rc;
    }
    replay_stamps(e, b, max_hlc);
    if (rec->seq > bd->snap_pos) {
        uint8_t *copy = malloc(rec->len);
        if (copy)
            memcpy(copy, rec->payload, rec->len);
        eng_apply_record(e, bd, b, copy, copy ? rec->len : 0, rec->seq, 0);
    }
    codec_batch_free(b);
    return 0;
}

/* Before the replay range: the last dedupe_window records up to the clean
 * position only feed the dedupe window (and the oseq/HLC maxima), so a
 * resend is recognised after a clean restart too. */
static void prescan_dedupe(engine *e, uint64_t *max_hlc)
{
    uint64_t last = oplog_next_seq(e->log) - 1;
    uint64_t from = last > e->opt.dedupe_window ? last - e->opt.dedupe_window + 1 : 1;
    if (!e->opt.dedupe_window || from > e->clean_pos)
        return;
    oplog_reader *r;
    if (oplog_reader_open(e->dir_oplog, from, &r) != 0)
        return;
    oplog_record rec;
    while (oplog_reader_next(r, &rec) == 1 && rec.seq <= e->clean_pos) {
        wb_batch *b;
        if (rec.type != WB_REC_OPS ||
            codec_decode_batch(rec.payload, rec.len, &b) != 0)
            continue;
        replay_stamps(e, b, max_hlc);
        codec_batch_free(b);
    }
    oplog_reader_close(r);
}

/* Keeps the replay within the memory budget: every 64 records, if over
 * it, the least recently used boards are snapshotted at the current
 * position (every record of theirs up to it is applied), the replay waits
 * for those commits and frees them: the same eviction as the running
 * loop's, made synchronous so that memory cannot run ahead of it. */
static void replay_budget(engine *e)
{
    if (!e->opt.mem_budget || e->mem_used <= e->opt.mem_budget)
        return;
    eng_boards_evict(e, eng_now_ms(), 0);
    eng_snap_wait(e);
    eng_boards_evict(e, eng_now_ms(), 0);
}

int eng_recover(engine *e, uint64_t *records)
{
    uint64_t max_hlc = e->clock.last;
    prescan_dedupe(e, &max_hlc);
    oplog_reader *r;
    int rc = oplog_reader_open(e->dir_oplog, e->clean_pos + 1, &r);
    if (rc)
        return rc;
    e->replaying = 1;
    *records = 0;
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        if (rec.type == WB_REC_OPS) {
            rc = replay_record(e, &rec, &max_hlc);
            if (rc)
                break;
        }
        if (rec.seq > e->applied_seq)
            e->applied_seq = rec.seq;
        if (++(*records) % 64 == 0)
            replay_budget(e);
    }
    if (rc < 0) {
        uint64_t off = 0;
        const char *where = oplog_reader_where(r, &off);
        eng_log(e, ENGINE_LOG_ERROR, "replay.failed",
                "segment=%s offset=%llu code=%s", where ? where : "?",
                (unsigned long long)off, wb_errname(rc));
    }
    oplog_reader_close(r);
    e->replaying = 0;
    uint64_t last = oplog_next_seq(e->log) - 1;
    if (last > e->applied_seq)
        e->applied_seq = last;
    atomic_store(&e->st_applied_seq, e->applied_seq);
    hlc_init(&e->clock, max_hlc);
    return rc < 0 ? rc : 0;
}
