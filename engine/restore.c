/*
 * restore.c: point-in-time restore (snapshot + oplog replay) and fork.
 * API and error list: restore.h; algorithm and guarantees: docs/restore.md.
 *
 * Steps of restore_board:
 *   1. pick the start: the newest snapshot of the board at or before the
 *      target whose store checks hold (snap_get_latest skips corrupt ones)
 *      and whose state decodes (one that does not is skipped here too, by
 *      asking again below its position); none: an empty board, replay from
 *      seq 1;
 *   2. replay: an oplog reader from pos + 1. The first record must carry
 *      exactly pos + 1 (otherwise segments holding needed records were
 *      retained away: WB_ENOHISTORY); then every record up to the target,
 *      where only WB_REC_OPS records whose batch names this board are
 *      decoded (the board id is read first, without decoding the batch)
 *      and applied;
 *   3. any reader error, undecodable payload or failed apply of one of the
 *      board's batches stops the restore: the board is freed and out->where
 *      names segment, offset and seq. Nothing is skipped silently.
 *
 * Invariants: the returned board is a pure function of (snapshot state,
 * the board's ops in records pos+1..target), hence (merge rule, board.h) of
 * the set of the board's ops at or before the target, whichever snapshot
 * was the starting point. Memory: one decoded batch at a time (the codec's
 * arena, freed after apply); the reader maps one segment at a time.
 *
 * Callers: wbctl (restore, fork), tests, the engine for cold loads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "oplog.h"
#include "oplog_format.h"
#include "restore.h"
#include "vv.h"
#include "wb_error.h"
#include "wb_records.h"

/* ---- helpers ------------------------------------------------------------ */

int restore_batch_board(const uint8_t *buf, size_t len, const char **id,
                        size_t *id_len)
{
    if (len < 1)
        return WB_ETRUNCATED;
    if (buf[0] != WB_OP_VERSION)
        return WB_EBADVERSION;
    if (len < 2)
        return WB_ETRUNCATED;
    /* Ids are at most WB_MAX_ID_LEN (64) bytes: their length varint is one
     * byte; a continuation bit means a longer (invalid) id. */
    if (buf[1] & 0x80)
        return WB_ETOOBIG;
    size_t n = buf[1];
    if (n == 0)
        return WB_EMALFORMED;
    if (n > WB_MAX_ID_LEN)
        return WB_ETOOBIG;
    if (len - 2 < n)
        return WB_ETRUNCATED;
    *id = (const char *)buf + 2;
    *id_len = n;
    return 0;
}

static int valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > WB_MAX_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int default_decode(const uint8_t *buf, size_t len, board **out)
{
    return board_state_decode(buf, len, NULL, out);
}

static void set_where(restore_result *out, const oplog_reader *r,
                      uint64_t seq, int code, const char *what)
{
    uint64_t off = 0;
    const char *seg = r ? oplog_reader_where(r, &off) : NULL;
    snprintf(out->where.segment, sizeof out->where.segment, "%s",
             seg ? seg : "");
    out->where.offset = off;
    out->where.seq = seq;
    out->where.code = code;
    const char *reason = r ? oplog_reader_reason(r) : NULL;
    snprintf(out->where.detail, sizeof out->where.detail, "%s: %s (%s)", what,
             reason ? reason : wb_strerror(code), wb_errname(code));
}

static void note_skipped(restore_result *out, uint64_t id)
{
    if (out->skipped_snapshots < SNAP_SKIPPED_MAX)
        out->skipped_ids[out->skipped_snapshots] = id;
    out->skipped_snapshots++;
}

/* ---- step 1: the starting snapshot --------------------------------------- */

/* Loads the snapshot target t names (SNAPSHOT) or the newest usable one at
 * or before it. *b stays NULL when there is none. */
static int load_start(snap_store *store, const char *board_name,
                      const restore_target *t, restore_decode_fn decode,
                      board **b, restore_result *out)
{
    snap_loaded l;
    memset(&l, 0, sizeof l);
    if (t->kind == RESTORE_SNAPSHOT) {
        int rc = snap_get_by_id(store, t->snap_id, &l);
        if (rc == 0 && strcmp(l.info.board, board_name) != 0)
            rc = WB_EINVAL;
        if (rc == 0 && (rc = decode(l.state, l.state_len, b)) == 0) {
            out->has_snapshot = 1;
            out->snap_id = l.info.id;
            out->snap_pos = l.info.pos;
        }
        snap_loaded_free(&l);
        return rc;
    }
    uint64_t max_pos = t->kind == RESTORE_SEQ ? t->seq : UINT64_MAX;
    int64_t max_time = t->kind == RESTORE_TIME ? t->time_us : INT64_MAX;
    for (;;) {
        int rc = snap_get_latest(store, board_name, max_pos, max_time, &l);
        for (uint32_t i = 0; i < l.skipped && i < SNAP_SKIPPED_MAX; i++)
            note_skipped(out, l.skipped_ids[i]);
        if (l.skipped > SNAP_SKIPPED_MAX)
            out->skipped_snapshots += l.skipped - SNAP_SKIPPED_MAX;
        if (rc == WB_ENOTFOUND) {
            snap_loaded_free(&l);
            return 0;
        }
        if (rc) {
            snap_loaded_free(&l);
            return rc;
        }
        rc = decode(l.state, l.state_len, b);
        if (rc == 0 && strcmp(board_id(*b), board_name) != 0) {
            board_free(*b);
            *b = NULL;
            rc = WB_EMALFORMED;
        }
        if (rc == 0) {
            out->has_snapshot = 1;
            out->snap_id = l.info.id;
            out->snap_pos = l.info.pos;
        }
        uint64_t pos = l.info.pos, id = l.info.id;
        snap_loaded_free(&l);
        if (rc == 0 || rc == WB_ENOMEM)
            return rc;
        /* Checksums held but the state does not decode: skip it like a
         * corrupt one and look below its position. */
        note_skipped(out, id);
        if (pos == 0)
            return 0;
        max_pos = pos - 1;
    }
}

/* ---- step 2: replay ------------------------------------------------------- */

/* Applies one record's batch if it is the board's. Returns 0 or an error
 * with out->where filled. */
static int replay_record(const oplog_reader *r, const oplog_record *rec,
                         const char *board_name, size_t id_len, board *b,
                         restore_result *out)
{
    const char *id;
    size_t n;
    int rc = restore_batch_board(rec->payload, rec->len, &id, &n);
    if (rc) {
        set_where(out, r, rec->seq, rc, "ops record does not decode");
        return WB_ECORRUPT;
    }
    if (n != id_len || memcmp(id, board_name, n) != 0)
        return 0;
    wb_batch *batch;
    if ((rc = codec_decode_batch(rec->payload, rec->len, &batch))) {
        set_where(out, r, rec->seq, rc, "ops record does not decode");
        return rc == WB_ENOMEM ? rc : WB_ECORRUPT;
    }
    rc = board_apply_batch(b, batch);
    uint32_t nops = batch->nops;
    codec_batch_free(batch);
    if (rc) {
        set_where(out, r, rec->seq, rc, "ops record does not apply");
        return rc == WB_ENOMEM ? rc : WB_ECORRUPT;
    }
    out->records_applied++;
    out->ops_applied += nops;
    out->last_seq = rec->seq;
    return 0;
}

static int replay(const char *dir, const char *board_name,
                  const restore_target *t, uint64_t from, board *b,
                  const restore_options *opts, restore_result *out)
{
    oplog_reader *r;
    int rc = oplog_reader_open(dir, from, &r);
    if (rc) {
        set_where(out, NULL, from, rc, "cannot open the oplog");
        snprintf(out->where.segment, sizeof out->where.segment, "%s", dir);
        return rc;
    }
    size_t id_len = strlen(board_name);
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        if (out->records_read == 0 && rec.seq != from) {
            set_where(out, r, rec.seq, WB_ENOHISTORY,
                      "replay must start earlier than the oldest record");
            rc = WB_ENOHISTORY;
            break;
        }
        if (t->kind == RESTORE_SEQ && rec.seq > t->seq)
            break;
        out->records_read++;
        out->end_seq = rec.seq;
        if (opts && opts->progress)
            opts->progress(opts->progress_arg, rec.seq);
        if (t->kind == RESTORE_TIME && rec.time_us > t->time_us)
            continue;
        if (rec.type != WB_REC_OPS)
            continue;
        if ((rc = replay_record(r, &rec, board_name, id_len, b, out)))
            break;
    }
    if (rc < 0 && out->where.code == 0)
        set_where(out, r, out->end_seq + 1, rc, "oplog read failed");
    oplog_reader_close(r);
    return rc < 0 ? rc : 0;
}

/* ---- restore --------------------------------------------------------------- */

int restore_board(snap_store *store, const char *oplog_dir,
                  const char *board_name, const restore_target *t,
                  const restore_options *opts, restore_result *out)
{
    if (!out)
        return WB_EINVAL;
    memset(out, 0, sizeof *out);
    if (!oplog_dir || !t || !valid_id(board_name) ||
        (t->kind == RESTORE_SNAPSHOT && !store) || t->kind > RESTORE_TIME)
        return WB_EINVAL;
    restore_decode_fn decode =
        opts && opts->decode ? opts->decode : default_decode;
    board *b = NULL;
    int rc = store ? load_start(store, board_name, t, decode, &b, out) : 0;
    if (rc)
        return rc;
    if (t->kind == RESTORE_SNAPSHOT) {
        out->board = b;
        return 0;
    }
    if (!b && (rc = board_create(board_name, strlen(board_name), NULL, &b)))
        return rc;
    rc = replay(oplog_dir, board_name, t, out->snap_pos + 1, b, opts, out);
    if (rc == 0 && !out->has_snapshot && out->records_applied == 0)
        rc = WB_ENOTFOUND;
    if (rc) {
        board_free(b);
        return rc;
    }
    out->board = b;
    return 0;
}

void restore_result_free(restore_result *out)
{
    if (!out)
        return;
    board_free(out->board);
    memset(out, 0, sizeof *out);
}

/* ---- rename and fork ---------------------------------------------------- */

/* The state header: magic "WBST" (4), version (1), id length (1 byte:
 * ids are <= 64 bytes), id. See board_state.c. */
#define RESTORE_STATE_ID_OFF 5u

static int rename_state(const board *b, const char *new_id, uint8_t **out,
                        size_t *len, board **check)
{
    if (!valid_id(new_id))
        return WB_EINVAL;
    uint8_t *src;
    size_t slen;
    int rc = board_state_encode(b, &src, &slen);
    if (rc)
        return rc;
    size_t old_n = strlen(board_id(b)), new_n = strlen(new_id);
    size_t tail = RESTORE_STATE_ID_OFF + 1 + old_n;
    if (slen < tail || src[RESTORE_STATE_ID_OFF] != old_n ||
        memcmp(src + RESTORE_STATE_ID_OFF + 1, board_id(b), old_n) != 0) {
        free(src); /* the layout is not the one this code knows */
        return WB_EBADVERSION;
    }
    size_t dlen = slen - old_n + new_n;
    uint8_t *dst = malloc(dlen);
    if (!dst) {
        free(src);
        return WB_ENOMEM;
    }
    memcpy(dst, src, RESTORE_STATE_ID_OFF);
    dst[RESTORE_STATE_ID_OFF] = (uint8_t)new_n;
    memcpy(dst + RESTORE_STATE_ID_OFF + 1, new_id, new_n);
    memcpy(dst + RESTORE_STATE_ID_OFF + 1 + new_n, src + tail, slen - tail);
    free(src);
    board *nb = NULL;
    if ((rc = board_state_decode(dst, dlen, NULL, &nb))) {
        free(dst);
        return rc;
    }
    if (check)
        *check = nb;
    else
        board_free(nb);
    *out = dst;
    *len = dlen;
    return 0;
}

int restore_rename_state(const board *b, const char *new_id, uint8_t **out,
                         size_t *len)
{
    if (!b || !out || !len)
        return WB_EINVAL;
    return rename_state(b, new_id, out, len, NULL);
}

/* Seq of the last record in dir at or after from (0 if none). */
static int oplog_end(const char *dir, uint64_t from, uint64_t *end)
{
    oplog_reader *r;
    int rc = oplog_reader_open(dir, from ? from : 1, &r);
    if (rc)
        return rc;
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1)
        *end = rec.seq;
    oplog_reader_close(r);
    return rc;
}

static int put_fork(const board *nb, const char *new_id, const uint8_t *state,
                    size_t len, snap_store *dst, uint64_t pos,
                    restore_fork_result *out)
{
    const vv *v = board_version(nb);
    size_t vlen = vv_encoded_size(v);
    uint8_t *vbuf = malloc(vlen ? vlen : 1);
    if (!vbuf)
        return WB_ENOMEM;
    int rc = vv_encode(v, vbuf, vlen ? vlen : 1, &vlen);
    if (rc == 0)
        rc = board_state_hash(nb, &out->state_hash);
    if (rc == 0)
        rc = snap_put(dst, new_id, state, len, pos, vbuf, vlen,
                      (uint32_t)board_element_count(nb), 0,
                      &out->fork_snap_id);
    free(vbuf);
    out->fork_pos = pos;
    return rc;
}

int restore_fork(snap_store *src, const char *oplog_dir, const char *board_name,
                 const restore_target *t, const restore_options *opts,
                 const char *new_id, snap_store *dst, uint64_t pos,
                 restore_fork_result *out)
{
    if (!out)
        return WB_EINVAL;
    memset(out, 0, sizeof *out);
    if (!dst || !valid_id(new_id) || !board_name || !strcmp(board_name, new_id))
        return WB_EINVAL;
    snap_info info;
    int rc = snap_latest_info(dst, new_id, UINT64_MAX, &info);
    if (rc == 0)
        return WB_EEXIST;
    if (rc != WB_ENOTFOUND)
        return rc;
    if ((rc = restore_board(src, oplog_dir, board_name, t, opts, &out->restored)))
        return rc;
    if (pos == 0) {
        uint64_t from = out->restored.end_seq > out->restored.snap_pos
                            ? out->restored.end_seq
                            : out->restored.snap_pos;
        pos = from;
        if ((rc = oplog_end(oplog_dir, from, &pos)))
            return rc;
    }
    uint8_t *state;
    size_t len;
    board *nb;
    if ((rc = rename_state(out->restored.board, new_id, &state, &len, &nb)))
        return rc;
    rc = put_fork(nb, new_id, state, len, dst, pos, out);
    board_free(nb);
    free(state);
    return rc;
}

void restore_fork_result_free(restore_fork_result *out)
{
    if (!out)
        return;
    restore_result_free(&out->restored);
    memset(out, 0, sizeof *out);
}
