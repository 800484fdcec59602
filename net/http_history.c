/*
 * http_history.c: GET /api/v1/boards/{id}/ops?since=SEQ&limit=N, the ops
 * history of a board, read back from the node's oplog.
 *
 *   {"board":"b1","batches":[{"seq":12,"time":1795891894976,
 *     "ops":[{...as codec_batch_to_json...}]}],"next":12,"more":false}
 *
 * Batches with oplog seq > since, oldest first, at most limit (default 100,
 * at most 1000). A reader (oplog_reader_*, safe beside the writer: it sees
 * a prefix of what is durable) scans from since + 1 and keeps the records
 * of this board. The scan is bounded (HISTORY_SCAN_MAX records per call):
 * "next" is the seq to pass as since to continue, "more" says whether the
 * scan stopped before the end of the log. Ops older than the retention
 * floor are gone (compaction); the answer then starts at the oldest kept.
 *
 * Runs on the service thread; the bound keeps one call short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "http_internal.h"
#include "wb_error.h"
#include "wb_records.h"

#define HISTORY_SCAN_MAX 200000u
#define HISTORY_LIMIT_DEFAULT 100u
#define HISTORY_LIMIT_MAX 1000u

static int history_arg(struct lws *wsi, const char *name, uint64_t *out)
{
    char buf[64];
    char key[32];
    snprintf(key, sizeof key, "%s=", name);
    /* The value is at the returned pointer (lws copies "name=value"). */
    const char *v = lws_get_urlarg_by_name(wsi, key, buf, sizeof buf);
    if (v == NULL)
        return 0;
    size_t len = strlen(v);
    if (len == 0 || len > 19 || strspn(v, "0123456789") != len)
        return -1;
    *out = strtoull(v, NULL, 10);
    return 1;
}

/* Appends one batch's JSON (ops only) to arr. */
static int history_add(json_t *arr, const oplog_record *rec,
                       const wb_batch *b)
{
    char *text;
    size_t len;
    int rc = codec_batch_to_json(b, &text, &len);
    if (rc)
        return rc;
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!o)
        return WB_ENOMEM;
    json_t *item = json_pack("{s:I,s:I,s:O}", "seq", (json_int_t)rec->seq,
                             "time", (json_int_t)(rec->time_us / 1000), "ops",
                             json_object_get(o, "ops"));
    json_decref(o);
    if (!item)
        return WB_ENOMEM;
    json_array_append_new(arr, item);
    return 0;
}

void http_history(node *n, http_req *r, const char *bid)
{
    uint64_t since = 0, limit = HISTORY_LIMIT_DEFAULT;
    if (history_arg(r->wsi, "since", &since) < 0 ||
        history_arg(r->wsi, "limit", &limit) < 0 || limit == 0 ||
        limit > HISTORY_LIMIT_MAX) {
        http_error(r, 400, "since must be a seq, limit 1..1000");
        return;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/oplog", n->cfg->data_dir);
    oplog_reader *rd;
    int rc = oplog_reader_open(dir, since + 1, &rd);
    if (rc) {
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    uint64_t next = since, scanned = 0;
    size_t blen = strlen(bid);
    int more = 0;
    oplog_record rec;
    while (!rc && json_array_size(arr) < limit) {
        if (scanned++ >= HISTORY_SCAN_MAX) {
            more = 1;
            break;
        }
        int got = oplog_reader_next(rd, &rec);
        if (got <= 0) {
            rc = got;
            break;
        }
        next = rec.seq;
        if (rec.type != WB_REC_OPS)
            continue;
        wb_batch *b;
        if (codec_decode_batch(rec.payload, rec.len, &b) != 0)
            continue; /* wbctl verify reports undecodable records */
        if (b->board.len == blen && memcmp(b->board.ptr, bid, blen) == 0)
            rc = history_add(arr, &rec, b);
        codec_batch_free(b);
    }
    if (!more && !rc && json_array_size(arr) == limit)
        more = 1; /* maybe more after the limit */
    oplog_reader_close(rd);
    if (rc) {
        json_decref(arr);
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    json_t *o = json_pack("{s:s,s:o,s:I,s:b}", "board", bid, "batches", arr,
                          "next", (json_int_t)next, "more", more);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        http_error(r, 500, "out of memory");
        return;
    }
    http_reply_take(r, 200, "application/json", text, strlen(text));
}
