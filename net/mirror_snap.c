/*
 * mirror_snap.c: the snapshots pass and the boards pass of the Mongo
 * mirror.
 *
 * Snapshots. Every snapshot the local store committed after the snapshot
 * cursor ("mirror/snap", ids only grow) becomes one document of
 * `snapshots`, _id "<node>:<snapshot id>" (docs/mongo.md):
 *   boardId, snapshotId (int64), node (decimal string), pos (int64: the
 *   node's oplog seq the snapshot covers), createdAt (date), createdUs,
 *   elementCount (int32), version {"<origin>": int64 oseq, ...},
 *   stateHash (hex of board_state_hash), stateSize (int64, raw bytes),
 *   stateEncoding "wb-board-state/zstd": the canonical board state
 *   (board_state_encode: stamps, tombstones, version) zstd-compressed, the
 *   exact source of `wbctl restore --from-mongo`;
 *   inline (the whole document fits mirror-doc-max): elements (the visible
 *   elements as BSON documents, the API's JSON shape) and state (binary);
 *   chunked (it does not): chunks = N and N documents of `snapshot_chunks`
 *   {_id "<snapshot _id>/<n>", snapshot, n, elements: [...]} or
 *   {..., statePart: binary}, written BEFORE the snapshot document, so a
 *   snapshot document that exists always has all of its chunks.
 * A snapshot pruned locally before it was mirrored is skipped (the store
 * keeps the newest ones; Mongo keeps every one it got).
 *
 * Boards. Board metadata with updated_us after the last pass goes to
 * `boards`, _id the board id: title, owner, createdAt, updatedAt, deleted,
 * settings (the stored JSON text). Every 2 s; at start every board once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "board.h"
#include "log.h"
#include "mirror_internal.h"
#include "vv.h"
#include "wb_error.h"

#define MIRROR_SNAPS_PER_PASS 16u
#define MIRROR_CHUNK_SLACK 4096u /* bytes kept free for a chunk's fields */

typedef struct snap_ids {
    uint64_t after;
    uint64_t ids[MIRROR_SNAPS_PER_PASS];
    size_t n;
    int more;
} snap_ids;

/* snap_list callback: the smallest ids after the cursor. */
static int collect_id(void *arg, const snap_info *info)
{
    snap_ids *s = arg;
    if (info->id <= s->after)
        return 0;
    if (s->n < MIRROR_SNAPS_PER_PASS) {
        s->ids[s->n++] = info->id;
        return 0;
    }
    s->more = 1;
    size_t max = 0; /* replace the largest if this one is smaller */
    for (size_t i = 1; i < s->n; i++)
        if (s->ids[i] > s->ids[max])
            max = i;
    if (info->id < s->ids[max])
        s->ids[max] = info->id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The "elements" array of board_to_json as BSON (new document holding
 * {elements: [...]}) or NULL. */
static bson_t *elements_bson(const board *b)
{
    char *json = NULL;
    size_t len = 0;
    if (board_to_json(b, &json, &len) != 0)
        return NULL;
    bson_t *doc = bson_new_from_json((const uint8_t *)json, (ssize_t)len, NULL);
    free(json);
    return doc;
}

static void append_version(bson_t *d, const snap_loaded *l)
{
    vv v;
    vv_init(&v);
    size_t used = 0;
    bson_t sub;
    BSON_APPEND_DOCUMENT_BEGIN(d, "version", &sub);
    if (l->vv_len && vv_decode(&v, l->vv, l->vv_len, &used) == 0)
        for (uint32_t i = 0; i < v.n; i++) {
            char key[24];
            snprintf(key, sizeof key, "%" PRIu64, v.e[i].node);
            BSON_APPEND_INT64(&sub, key, (int64_t)v.e[i].seq);
        }
    bson_append_document_end(d, &sub);
    vv_free(&v);
}

typedef struct chunker {
    mirror *m;
    const char *snap_id;
    bson_t **docs;
    size_t n, cap;
} chunker;

static bson_t *chunk_new(chunker *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        bson_t **d = realloc(c->docs, cap * sizeof *d);
        if (!d)
            return NULL;
        c->docs = d;
        c->cap = cap;
    }
    bson_t *d = bson_new();
    char id[96];
    snprintf(id, sizeof id, "%s/%zu", c->snap_id, c->n);
    BSON_APPEND_UTF8(d, "_id", id);
    BSON_APPEND_UTF8(d, "snapshot", c->snap_id);
    BSON_APPEND_INT32(d, "n", (int32_t)c->n);
    c->docs[c->n++] = d;
    return d;
}

/* Splits the elements and the compressed state into chunk documents of at
 * most doc_max bytes each (an element larger than that gets a chunk of its
 * own). 0 or WB_ENOMEM. */
static int make_chunks(chunker *c, const bson_t *elems, const uint8_t *z,
                       size_t zlen)
{
    size_t limit = c->m->doc_max - MIRROR_CHUNK_SLACK;
    bson_iter_t it, arr;
    if (elems && bson_iter_init_find(&it, elems, "elements") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
        bson_t *cur = NULL, sub;
        uint32_t idx = 0;
        while (bson_iter_next(&arr)) {
            const uint8_t *data;
            uint32_t len;
            bson_iter_document(&arr, &len, &data);
            if (cur && cur->len + len + 16 > limit) {
                bson_append_array_end(cur, &sub);
                cur = NULL;
            }
            if (!cur) {
                if (!(cur = chunk_new(c)))
                    return WB_ENOMEM;
                BSON_APPEND_ARRAY_BEGIN(cur, "elements", &sub);
                idx = 0;
            }
            bson_t el;
            char key[16];
            snprintf(key, sizeof key, "%u", idx++);
            if (bson_init_static(&el, data, len))
                BSON_APPEND_DOCUMENT(&sub, key, &el);
        }
        if (cur)
            bson_append_array_end(cur, &sub);
    }
    for (size_t off = 0; off < zlen; off += limit) {
        bson_t *d = chunk_new(c);
        if (!d)
            return WB_ENOMEM;
        size_t part = zlen - off < limit ? zlen - off : limit;
        BSON_APPEND_BINARY(d, "statePart", BSON_SUBTYPE_BINARY, z + off,
                           (uint32_t)part);
    }
    return 0;
}

/* Builds and writes the documents of one loaded snapshot. */
static int mirror_one_snapshot(mirror *m, const snap_loaded *l)
{
    board *b = NULL;
    int rc = board_state_decode(l->state, l->state_len, NULL, &b);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "mirror: snapshot state does not decode",
               WBF_UINT("snapshotId", l->info.id), WBF_ERR(rc));
        return 0; /* never retried: the store's own checks passed */
    }
    uint64_t hash = 0;
    board_state_hash(b, &hash);
    bson_t *elems = elements_bson(b);
    board_free(b);
    size_t zcap = ZSTD_compressBound(l->state_len);
    uint8_t *z = malloc(zcap ? zcap : 1);
    size_t zlen = z ? ZSTD_compress(z, zcap, l->state, l->state_len, 3) : 0;
    if (!z || ZSTD_isError(zlen)) {
        free(z);
        if (elems)
            bson_destroy(elems);
        return WB_ENOMEM;
    }
    char id[64], hex[24];
    snprintf(id, sizeof id, "%" PRIu64 ":%" PRIu64, m->node_id, l->info.id);
    snprintf(hex, sizeof hex, "%016" PRIx64, hash);
    bson_t *d = bson_new();
    BSON_APPEND_UTF8(d, "_id", id);
    BSON_APPEND_UTF8(d, "boardId", l->info.board);
    BSON_APPEND_INT64(d, "snapshotId", (int64_t)l->info.id);
    mirror_append_u64_str(d, "node", m->node_id);
    BSON_APPEND_INT64(d, "pos", (int64_t)l->info.pos);
    BSON_APPEND_DATE_TIME(d, "createdAt", l->info.created_us / 1000);
    BSON_APPEND_INT64(d, "createdUs", l->info.created_us);
    BSON_APPEND_INT32(d, "elementCount", (int32_t)l->info.elements);
    append_version(d, l);
    BSON_APPEND_UTF8(d, "stateHash", hex);
    BSON_APPEND_INT64(d, "stateSize", (int64_t)l->state_len);
    BSON_APPEND_UTF8(d, "stateEncoding", "wb-board-state/zstd");
    size_t elen = elems ? elems->len : 0;
    chunker c = {.m = m, .snap_id = id};
    if (d->len + elen + zlen + MIRROR_CHUNK_SLACK <= m->doc_max) {
        bson_iter_t it;
        if (elems && bson_iter_init_find(&it, elems, "elements"))
            bson_append_iter(d, "elements", -1, &it);
        BSON_APPEND_BINARY(d, "state", BSON_SUBTYPE_BINARY, z, (uint32_t)zlen);
        BSON_APPEND_INT32(d, "chunks", 0);
    } else {
        rc = make_chunks(&c, elems, z, zlen);
        BSON_APPEND_INT32(d, "chunks", (int32_t)c.n);
    }
    if (!rc) /* chunks first: a snapshot document implies its chunks */
        for (size_t i = 0; i < c.n && !rc; i++)
            rc = mirror_mongo_upsert(m, "snapshot_chunks", &c.docs[i], 1);
    if (!rc)
        rc = mirror_mongo_upsert(m, "snapshots", &d, 1);
    for (size_t i = 0; i < c.n; i++)
        bson_destroy(c.docs[i]);
    free(c.docs);
    bson_destroy(d);
    if (elems)
        bson_destroy(elems);
    free(z);
    return rc;
}

int mirror_snap_pass(mirror *m, int *more)
{
    *more = 0;
    snap_ids s = {.after = m->snap_cursor};
    int rc = snap_list(m->store, NULL, collect_id, &s);
    if (rc)
        return rc;
    qsort(s.ids, s.n, sizeof s.ids[0], cmp_u64);
    for (size_t i = 0; i < s.n; i++) {
        snap_loaded l;
        memset(&l, 0, sizeof l);
        rc = snap_get_by_id(m->store, s.ids[i], &l);
        if (rc == 0) {
            rc = mirror_one_snapshot(m, &l);
            snap_loaded_free(&l);
        } else if (rc != WB_ENOMEM && rc != WB_EIO && rc != WB_EBUSY) {
            /* pruned since the listing (WB_ENOTFOUND) or damaged: the
             * store's checks failed, so there is nothing true to export;
             * newer snapshots still get there */
            WBLOGF(WBLOG_WARN, "mirror: snapshot skipped (pruned or damaged)",
                   WBF_UINT("snapshotId", s.ids[i]), WBF_ERR(rc));
            rc = 0;
        }
        if (rc)
            return rc;
        m->snap_cursor = s.ids[i];
        if ((rc = snap_cursor_set(m->store, MIRROR_SNAP_CURSOR, s.ids[i])))
            return rc;
        metrics_inc(m->batches);
    }
    *more = s.more;
    return 0;
}

typedef struct board_batch {
    int64_t after;
    int64_t max_us;
    bson_t **docs;
    size_t n, cap;
} board_batch;

static int collect_board(void *arg, const snap_board_meta *b)
{
    board_batch *k = arg;
    /* ">=": a board updated again within the same microsecond as the
     * last pass's newest is sent again rather than missed */
    if (b->updated_us < k->after && b->created_us < k->after)
        return 0;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 64;
        bson_t **d = realloc(k->docs, cap * sizeof *d);
        if (!d)
            return WB_ENOMEM;
        k->docs = d;
        k->cap = cap;
    }
    bson_t *d = bson_new();
    BSON_APPEND_UTF8(d, "_id", b->board);
    BSON_APPEND_UTF8(d, "boardId", b->board);
    BSON_APPEND_UTF8(d, "title", b->title);
    BSON_APPEND_UTF8(d, "owner", b->owner);
    BSON_APPEND_DATE_TIME(d, "createdAt", b->created_us / 1000);
    BSON_APPEND_DATE_TIME(d, "updatedAt", b->updated_us / 1000);
    BSON_APPEND_BOOL(d, "deleted", b->deleted != 0);
    bson_append_utf8(d, "settings", -1, b->settings, (int)b->settings_len);
    k->docs[k->n++] = d;
    int64_t t = b->updated_us > b->created_us ? b->updated_us : b->created_us;
    if (t > k->max_us)
        k->max_us = t;
    return 0;
}

int mirror_boards_pass(mirror *m)
{
    board_batch k = {.after = m->boards_us, .max_us = m->boards_us};
    int rc = snap_board_list(m->store, NULL, 0, collect_board, &k);
    rc = rc < 0 ? rc : 0;
    if (!rc && k.n)
        rc = mirror_mongo_upsert(m, "boards", k.docs, k.n);
    if (!rc)
        m->boards_us = k.max_us;
    for (size_t i = 0; i < k.n; i++)
        bson_destroy(k.docs[i]);
    free(k.docs);
    return rc;
}
