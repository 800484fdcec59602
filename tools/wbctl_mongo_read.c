/*
 * wbctl_mongo_read.c: what `wbctl restore --from-mongo` reads from the
 * mirror's collections (shapes: docs/mongo.md): the newest snapshot
 * document at or before the target, its state (inline or from its
 * snapshot_chunks, zstd, checked against stateSize and stateHash) and its
 * version vector; then the board's op documents within the target, in seq
 * order, applied from their `enc` unless the snapshot covers them.
 * The command around it: wbctl_mongo.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "codec.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_mongo_internal.h"

int64_t wbctl_bson_i64(const bson_t *d, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, key) ? bson_iter_as_int64(&it) : 0;
}

const char *wbctl_bson_str(const bson_t *d, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, d, key) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, NULL);
    return "";
}

/* Binary field key of d: pointer into d and length, or NULL. */
static const uint8_t *iter_bin(const bson_t *d, const char *key, uint32_t *len)
{
    bson_iter_t it;
    const uint8_t *data = NULL;
    bson_subtype_t st;
    *len = 0;
    if (bson_iter_init_find(&it, d, key) && BSON_ITER_HOLDS_BINARY(&it))
        bson_iter_binary(&it, &st, len, &data);
    return data;
}

int wbctl_mongo_find_each(mctx *c, const char *coll, const bson_t *filter,
                          const bson_t *opts, wbctl_doc_fn fn)
{
    mongoc_collection_t *col = mongoc_database_get_collection(c->db, coll);
    mongoc_cursor_t *cur =
        mongoc_collection_find_with_opts(col, filter, opts, NULL);
    const bson_t *doc;
    int rc = 0;
    while (rc == 0 && mongoc_cursor_next(cur, &doc))
        rc = fn(c, doc);
    bson_error_t err;
    if (rc == 0 && mongoc_cursor_error(cur, &err)) {
        fprintf(stderr, "wbctl restore: Mongo %s: %s\n", coll, err.message);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(col);
    return rc;
}

/* ---- the snapshot ------------------------------------------------------- */

static int add_part(mctx *c, const bson_t *doc)
{
    uint32_t len;
    const uint8_t *p = iter_bin(doc, "statePart", &len);
    if (!p)
        return 0; /* an elements chunk */
    if (c->parts_len + len > c->parts_cap) {
        size_t cap = (c->parts_len + len) * 2;
        uint8_t *q = realloc(c->parts, cap);
        if (!q)
            return -1;
        c->parts = q;
        c->parts_cap = cap;
    }
    memcpy(c->parts + c->parts_len, p, len);
    c->parts_len += len;
    return 0;
}

static int load_version(mctx *c, const bson_t *doc)
{
    bson_iter_t it, sub;
    if (!bson_iter_init_find(&it, doc, "version") ||
        !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &sub))
        return 0;
    while (bson_iter_next(&sub)) {
        unsigned long long node;
        if (wbctl_parse_u64(bson_iter_key(&sub), &node) != 0 ||
            vv_set(&c->snap_vv, node, (uint64_t)bson_iter_as_int64(&sub)) != 0)
            return -1;
    }
    return 0;
}

static int use_snapshot(mctx *c, const bson_t *doc)
{
    snprintf(c->snap_id, sizeof c->snap_id, "%s", wbctl_bson_str(doc, "_id"));
    c->snap_pos = wbctl_bson_i64(doc, "pos");
    int64_t raw = wbctl_bson_i64(doc, "stateSize");
    uint32_t zlen = 0;
    const uint8_t *z = iter_bin(doc, "state", &zlen);
    if (wbctl_bson_i64(doc, "chunks") > 0) {
        bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
        BSON_APPEND_UTF8(&filter, "snapshot", c->snap_id);
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
        BSON_APPEND_INT32(&sort, "n", 1);
        bson_append_document_end(&opts, &sort);
        int rc = wbctl_mongo_find_each(c, "snapshot_chunks", &filter, &opts,
                                       add_part);
        bson_destroy(&filter);
        bson_destroy(&opts);
        if (rc)
            return -1;
        z = c->parts;
        zlen = (uint32_t)c->parts_len;
    }
    if (!z || raw <= 0) {
        fprintf(stderr, "wbctl restore: snapshot %s has no state\n",
                c->snap_id);
        return -1;
    }
    uint8_t *state = malloc((size_t)raw);
    size_t got = state ? ZSTD_decompress(state, (size_t)raw, z, zlen) : 0;
    board *b = NULL;
    int rc = WB_ECORRUPT;
    if (state && !ZSTD_isError(got) && got == (size_t)raw)
        rc = board_state_decode(state, got, NULL, &b);
    free(state);
    uint64_t hash = 0;
    char hex[24] = "";
    if (rc == 0 && board_state_hash(b, &hash) == 0)
        snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    if (rc == 0 && strcmp(hex, wbctl_bson_str(doc, "stateHash")) != 0)
        rc = WB_ECORRUPT;
    if (rc) {
        fprintf(stderr,
                "wbctl restore: snapshot %s does not decode or "
                "match its stateHash: %s\n",
                c->snap_id, wb_strerror(rc));
        board_free(b);
        return -1;
    }
    if (load_version(c, doc) != 0) {
        board_free(b);
        return -1;
    }
    c->b = b;
    c->has_snap = 1;
    return 1; /* the first (newest) one is enough */
}

int wbctl_mongo_find_snapshot(mctx *c)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, cond;
    BSON_APPEND_UTF8(&filter, "boardId", c->o.board);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    if (c->t.kind == RESTORE_SEQ) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "pos", &cond);
        BSON_APPEND_INT64(&cond, "$lte", (int64_t)c->t.seq);
        bson_append_document_end(&filter, &cond);
        BSON_APPEND_INT32(&sort, "pos", -1);
    } else {
        if (c->t.kind == RESTORE_TIME) {
            BSON_APPEND_DOCUMENT_BEGIN(&filter, "createdUs", &cond);
            BSON_APPEND_INT64(&cond, "$lte", c->t.time_us);
            bson_append_document_end(&filter, &cond);
        }
        BSON_APPEND_INT32(&sort, "createdAt", -1);
    }
    BSON_APPEND_INT32(&sort, "snapshotId", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", 1);
    int rc =
        wbctl_mongo_find_each(c, "snapshots", &filter, &opts, use_snapshot);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rc < 0 ? -1 : 0;
}

/* ---- the ops after it ------------------------------------------------ */

static int apply_op(mctx *c, const bson_t *doc)
{
    unsigned long long node;
    int64_t oseq = wbctl_bson_i64(doc, "oseq");
    if (wbctl_parse_u64(wbctl_bson_str(doc, "node"), &node) != 0) {
        fprintf(stderr, "wbctl restore: op %s: bad node\n",
                wbctl_bson_str(doc, "_id"));
        return -1;
    }
    if (oseq > 0 && (uint64_t)oseq <= vv_get(&c->snap_vv, node)) {
        c->ops_skipped++;
        return 0; /* in the snapshot already */
    }
    uint32_t len;
    const uint8_t *enc = iter_bin(doc, "enc", &len);
    wb_batch *batch = NULL;
    int rc = enc ? codec_decode_batch(enc, len, &batch) : WB_EMALFORMED;
    if (rc == 0 && (batch->board.len != strlen(c->o.board) ||
                    memcmp(batch->board.ptr, c->o.board, batch->board.len)))
        rc = WB_EMALFORMED;
    if (rc == 0 && !c->b)
        rc = board_create(c->o.board, strlen(c->o.board), NULL, &c->b);
    if (rc == 0)
        rc = board_apply_batch(c->b, batch);
    codec_batch_free(batch);
    if (rc) {
        fprintf(stderr, "wbctl restore: op %s does not apply: %s\n",
                wbctl_bson_str(doc, "_id"), wb_strerror(rc));
        return -1;
    }
    c->ops_applied++;
    return 0;
}

int wbctl_mongo_replay_ops(mctx *c)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, cond, proj;
    BSON_APPEND_UTF8(&filter, "boardId", c->o.board);
    if (c->t.kind == RESTORE_SEQ || c->t.kind == RESTORE_TIME) {
        BSON_APPEND_DOCUMENT_BEGIN(
            &filter, c->t.kind == RESTORE_SEQ ? "seq" : "timeUs", &cond);
        BSON_APPEND_INT64(&cond, "$lte",
                          c->t.kind == RESTORE_SEQ ? (int64_t)c->t.seq
                                                   : c->t.time_us);
        bson_append_document_end(&filter, &cond);
    }
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "seq", 1);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "enc", 1);
    BSON_APPEND_INT32(&proj, "node", 1);
    BSON_APPEND_INT32(&proj, "oseq", 1);
    bson_append_document_end(&opts, &proj);
    BSON_APPEND_INT32(&opts, "batchSize", 500);
    int rc = wbctl_mongo_find_each(c, "ops", &filter, &opts, apply_op);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rc;
}
