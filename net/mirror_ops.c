/*
 * mirror_ops.c: the ops pass of the Mongo mirror: the local oplog's
 * durable records after the cursor become documents of `ops`, one per op,
 * upserted in one unordered bulk; the cursor moves (in LMDB, then the
 * retention floor) only after Mongo acknowledged the bulk.
 *
 * A document (docs/mongo.md, "ops"):
 *   _id         "<origin node>:<origin seq>" (decimal): the op's identity,
 *               so replaying a record upserts the same documents again
 *   boardId, elementId, userId (strings), op ("upsert" | "delete"),
 *   type        element type name when the op sets it (creates)
 *   properties  the op's properties as a subdocument, named and valued as
 *               in the API's JSON (codec_batch_to_json): numbers, strings,
 *               booleans, point arrays
 *   time        BSON date (ms) of the oplog record; timeUs the exact
 *               microseconds
 *   hlc, oseq   int64; node (origin) and mirroredBy as decimal strings
 *               (node ids are unsigned 64-bit); stamp {hlc, node, oseq}
 *   seq         the record's seq in the mirroring node's oplog
 *   clientOpId  decimal string
 *   enc         binary: the op alone as an encoded batch (codec.h), which
 *               `wbctl restore --from-mongo` applies exactly
 *
 * Durability: the reader stops at the durable seq; a record written but
 * not yet fsynced is waited for briefly, else re-read on the next pass.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "mirror_internal.h"
#include "wb_error.h"
#include "wb_records.h"

void mirror_append_u64_str(bson_t *doc, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    bson_append_utf8(doc, key, -1, buf, -1);
}

static void append_str(bson_t *doc, const char *key, wb_str s)
{
    bson_append_utf8(doc, key, -1, s.ptr ? s.ptr : "", (int)s.len);
}

/* One op's document. props: the op's "props" from the batch's JSON, or
 * NULL. Returns a new document or NULL (WB_ENOMEM / encode failure). */
static bson_t *op_doc(mirror *m, const wb_batch *b, const wb_op *op,
                      const bson_t *props, const oplog_record *rec)
{
    bson_t *d = bson_new();
    char id[48];
    snprintf(id, sizeof id, "%" PRIu64 ":%" PRIu64, op->stamp.node,
             op->stamp.oseq);
    BSON_APPEND_UTF8(d, "_id", id);
    append_str(d, "boardId", b->board);
    append_str(d, "elementId", op->elem);
    append_str(d, "userId", op->user);
    BSON_APPEND_UTF8(d, "op", op->kind == WB_OP_DELETE ? "delete" : "upsert");
    if (op->kind == WB_OP_UPSERT &&
        (op->props.mask & WB_PROP_BIT(WB_PROP_TYPE))) {
        const char *t = codec_elem_type_name(op->props.type);
        BSON_APPEND_UTF8(d, "type", t ? t : "unknown");
    }
    if (props)
        BSON_APPEND_DOCUMENT(d, "properties", props);
    BSON_APPEND_DATE_TIME(d, "time", rec->time_us / 1000);
    BSON_APPEND_INT64(d, "timeUs", rec->time_us);
    BSON_APPEND_INT64(d, "hlc", (int64_t)op->stamp.hlc);
    mirror_append_u64_str(d, "node", op->stamp.node);
    BSON_APPEND_INT64(d, "oseq", (int64_t)op->stamp.oseq);
    bson_t st;
    BSON_APPEND_DOCUMENT_BEGIN(d, "stamp", &st);
    BSON_APPEND_INT64(&st, "hlc", (int64_t)op->stamp.hlc);
    mirror_append_u64_str(&st, "node", op->stamp.node);
    BSON_APPEND_INT64(&st, "oseq", (int64_t)op->stamp.oseq);
    bson_append_document_end(d, &st);
    BSON_APPEND_INT64(d, "seq", (int64_t)rec->seq);
    mirror_append_u64_str(d, "mirroredBy", m->node_id);
    mirror_append_u64_str(d, "clientOpId", op->client_op_id);
    wb_batch one = {.board = b->board, .nops = 1, .ops = (wb_op *)op};
    uint8_t *enc = NULL;
    size_t len = 0;
    if (codec_encode_batch(&one, &enc, &len) != 0) {
        bson_destroy(d);
        return NULL;
    }
    BSON_APPEND_BINARY(d, "enc", BSON_SUBTYPE_BINARY, enc, (uint32_t)len);
    free(enc);
    return d;
}

/* Finds ops[i].props in the batch JSON's BSON form. */
static int find_props(const bson_t *json, uint32_t i, bson_t *out)
{
    char path[48];
    snprintf(path, sizeof path, "ops.%" PRIu32 ".props", i);
    bson_iter_t it, sub;
    if (!bson_iter_init(&it, json) ||
        !bson_iter_find_descendant(&it, path, &sub) ||
        !BSON_ITER_HOLDS_DOCUMENT(&sub))
        return 0;
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&sub, &len, &data);
    return bson_init_static(out, data, len) ? 1 : 0;
}

typedef struct op_bulk {
    bson_t **docs;
    size_t n, cap;
} op_bulk;

static void bulk_free(op_bulk *k)
{
    for (size_t i = 0; i < k->n; i++)
        bson_destroy(k->docs[i]);
    free(k->docs);
    memset(k, 0, sizeof *k);
}

/* Adds the documents of one WB_REC_OPS record. Ops of other origins are
 * skipped unless mirror-all. 0 or an error (a record that does not decode
 * is corruption the engine would have refused: WB_ECORRUPT). */
static int add_record(mirror *m, const oplog_record *rec, op_bulk *k)
{
    wb_batch *b;
    int rc = codec_decode_batch(rec->payload, rec->len, &b);
    if (rc)
        return rc;
    char *json = NULL;
    size_t jlen = 0;
    bson_t *jb = NULL;
    if (codec_batch_to_json(b, &json, &jlen) == 0)
        jb = bson_new_from_json((const uint8_t *)json, (ssize_t)jlen, NULL);
    free(json);
    for (uint32_t i = 0; i < b->nops && rc == 0; i++) {
        const wb_op *op = &b->ops[i];
        if (!m->all && op->stamp.node != m->node_id)
            continue;
        if (k->n == k->cap) {
            size_t cap = k->cap ? 2 * k->cap : 256;
            bson_t **d = realloc(k->docs, cap * sizeof *d);
            if (!d) {
                rc = WB_ENOMEM;
                break;
            }
            k->docs = d;
            k->cap = cap;
        }
        bson_t props;
        int has = jb && op->kind == WB_OP_UPSERT && find_props(jb, i, &props);
        bson_t *d = op_doc(m, b, op, has ? &props : NULL, rec);
        if (!d)
            rc = WB_ENOMEM;
        else
            k->docs[k->n++] = d;
    }
    if (jb)
        bson_destroy(jb);
    codec_batch_free(b);
    return rc;
}

static uint64_t durable_seq(mirror *m)
{
    engine_stats st;
    engine_get_stats(m->eng, &st);
    return st.durable_seq;
}

/* rec->seq > durable: wait up to ~100 ms for the fsync that covers it. */
static int wait_durable(mirror *m, uint64_t seq, uint64_t *durable)
{
    for (int i = 0; i < 100 && *durable < seq; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        *durable = durable_seq(m);
    }
    return *durable >= seq;
}

static void close_reader(mirror *m)
{
    if (m->rd)
        oplog_reader_close(m->rd);
    m->rd = NULL;
}

/* The records skipped by retention past the cursor: reported, not hidden. */
static void report_gap(mirror *m, uint64_t next_seq)
{
    uint64_t missing = next_seq - (m->cursor + 1);
    metrics_add(m->gap_ops, missing);
    WBLOGF(WBLOG_ERROR,
           "mirror gap: oplog retention passed the mirror cursor; these "
           "records were never exported to Mongo",
           WBF_UINT("fromSeq", m->cursor + 1), WBF_UINT("toSeq", next_seq - 1),
           WBF_UINT("records", missing), WBF_STR("src", "mirror"));
}

static int save_cursor(mirror *m, uint64_t seq)
{
    int rc = snap_cursor_set(m->store, MIRROR_CURSOR, seq);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "mirror: cannot store the cursor",
               WBF_UINT("seq", seq), WBF_ERR(rc));
        return rc;
    }
    m->cursor = seq;
    engine_set_floor(m->eng, MIRROR_FLOOR, seq + 1);
    return 0;
}

void mirror_update_lag(mirror *m)
{
    uint64_t cursor = m->cursor, durable = durable_seq(m);
    int64_t oldest = m->oldest_us;
    int behind = durable > cursor;
    metrics_set(m->lag_ops, behind ? (double)(durable - cursor) : 0.0);
    /* oldest_us is the time of record cursor + 1 once a pass has read it
     * (any thread: the scrape reads it while the mirror thread writes) */
    metrics_set(m->lag_seconds, behind && oldest && m->oldest_seq == cursor + 1
                                    ? (double)(mirror_now_us() - oldest) / 1e6
                                    : 0.0);
}

int mirror_ops_pass(mirror *m, int *more)
{
    *more = 0;
    uint64_t durable = durable_seq(m);
    if (durable <= m->cursor)
        return 0;
    int rc = 0;
    if (!m->rd && (rc = oplog_reader_open(m->oplog_dir, m->cursor + 1, &m->rd)))
        return rc;
    op_bulk k = {0};
    uint64_t last = m->cursor;
    unsigned records = 0;
    oplog_record rec;
    while (records < MIRROR_BATCH_RECORDS && k.n < MIRROR_BATCH_OPS) {
        rc = oplog_reader_next(m->rd, &rec);
        if (rc == 0)
            break;
        if (rc < 0) {
            WBLOGF(rc == WB_ESTALE ? WBLOG_WARN : WBLOG_ERROR,
                   "mirror: oplog read failed", WBF_UINT("after", last),
                   WBF_ERR(rc));
            break;
        }
        rc = 0;
        if (rec.seq > durable && !wait_durable(m, rec.seq, &durable)) {
            close_reader(m); /* re-read from the cursor next pass */
            break;
        }
        if (records == 0) {
            m->oldest_seq = 0; /* never a time with the wrong seq */
            m->oldest_us = rec.time_us;
            m->oldest_seq = rec.seq;
        }
        if (rec.seq != last + 1) {
            if (rec.seq <= last) /* cannot happen: the reader checks */
                continue;
            if (k.n) { /* write what precedes the gap first */
                close_reader(m);
                break;
            }
            report_gap(m, rec.seq);
            last = rec.seq - 1;
            if ((rc = save_cursor(m, last)) != 0)
                break;
        }
        if (rec.type == WB_REC_OPS && (rc = add_record(m, &rec, &k)) != 0) {
            WBLOGF(WBLOG_ERROR, "mirror: record does not decode",
                   WBF_UINT("seq", rec.seq), WBF_ERR(rc));
            break;
        }
        last = rec.seq;
        records++;
    }
    if (rc == 0 && records == MIRROR_BATCH_RECORDS)
        *more = 1;
    mirror_update_lag(m); /* before a bulk that may wait on Mongo */
    if (rc == 0 && k.n)
        rc = mirror_mongo_upsert(m, "ops", k.docs, k.n);
    if (rc == 0 && last != m->cursor)
        rc = save_cursor(m, last);
    if (rc == 0 && k.n) {
        metrics_inc(m->batches);
        metrics_add(m->ops_total, k.n);
    }
    bulk_free(&k);
    if (rc)
        close_reader(m); /* re-read from the cursor next pass */
    if (durable_seq(m) > m->cursor && !rc)
        *more = 1;
    return rc;
}
