/*
 * wbctl_mongo_internal.h: between tools/wbctl_mongo.c (the command:
 * options, output, --into) and tools/wbctl_mongo_read.c (reading the
 * mirror's documents: the snapshot, the ops after it). Not for other
 * files.
 */
#ifndef WBCTL_MONGO_INTERNAL_H
#define WBCTL_MONGO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "board.h"
#include "restore.h"
#include "snap.h"
#include "vv.h"

typedef struct mopts {
    const char *url, *board, *until, *out, *into;
} mopts;

typedef struct mctx {
    mopts o;
    restore_target t;
    mongoc_client_t *client;
    mongoc_database_t *db;
    board *b;
    vv snap_vv; /* the snapshot's version vector */
    int has_snap;
    char snap_id[96];
    int64_t snap_pos;
    uint64_t ops_applied, ops_skipped;
    snap_store *dst; /* --into: the target store */
    uint8_t *parts;  /* statePart concatenation (chunked snapshot) */
    size_t parts_len, parts_cap;
} mctx;

/* wbctl_mongo_read.c. Each returns 0 or -1 after printing why. */
/* The newest snapshot document at or before c->t into c->b, c->snap_vv
 * (none: c->b stays NULL). */
int wbctl_mongo_find_snapshot(mctx *c);
/* The board's ops within c->t, not covered by c->snap_vv, applied to c->b
 * (created empty if needed). */
int wbctl_mongo_replay_ops(mctx *c);

/* A string / int64 field of d ("" / 0 when absent). */
const char *wbctl_bson_str(const bson_t *d, const char *key);
int64_t wbctl_bson_i64(const bson_t *d, const char *key);

/* Runs find on coll and calls fn per document (fn: 0 go on, 1 stop,
 * -1 fail). 0 or -1 (printed). */
typedef int (*wbctl_doc_fn)(mctx *c, const bson_t *doc);
int wbctl_mongo_find_each(mctx *c, const char *coll, const bson_t *filter,
                          const bson_t *opts, wbctl_doc_fn fn);

#endif /* WBCTL_MONGO_INTERNAL_H */
