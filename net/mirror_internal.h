/*
 * mirror_internal.h: between the files of the Mongo mirror (not for other
 * modules).
 *
 *   mirror.c        life: start/stop, the thread's loop, back-off, metrics
 *   mirror_mongo.c  the client: URI defaults, driver log routing, indexes,
 *                   ping, bulk upserts
 *   mirror_ops.c    the ops pass: oplog records after the cursor -> `ops`
 *   mirror_snap.c   the snapshots pass (-> `snapshots`, `snapshot_chunks`)
 *                   and the boards pass (-> `boards`)
 *
 * Everything in struct mirror is touched by the mirror thread only, except
 * stop/mu/cv (mirror_stop) and the metric series (lock-free).
 */
#ifndef WB_MIRROR_INTERNAL_H
#define WB_MIRROR_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "engine.h"
#include "metrics.h"
#include "node.h"
#include "oplog.h"

#define MIRROR_CURSOR "mirror"           /* last oplog seq mirrored */
#define MIRROR_SNAP_CURSOR "mirror/snap" /* last snapshot id mirrored */
#define MIRROR_FLOOR "mirror"            /* engine retention floor name */
#define MIRROR_BATCH_RECORDS 512u        /* oplog records per bulk, at most */
#define MIRROR_BATCH_OPS 4096u           /* ops per bulk, at most */
#define MIRROR_DEFAULT_DB "whiteboard"

typedef struct mirror {
    node *n;
    engine *eng;
    snap_store *store;
    char oplog_dir[PATH_MAX];
    uint64_t node_id;
    int all;        /* mirror-all: replicated ops too */
    size_t doc_max; /* mirror-doc-max */

    mongoc_uri_t *uri;
    mongoc_client_t *client;
    char db[128];
    int indexes_ok;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop; /* under mu */

    oplog_reader *rd; /* positioned after `cursor`; NULL: reopen */
    /* Written by the mirror thread, read at scrape time (atomics): */
    _Atomic uint64_t cursor;   /* last oplog seq mirrored (durable in LMDB) */
    _Atomic int64_t oldest_us; /* time of record oldest_seq, the first a
                                  pass read after the cursor */
    _Atomic uint64_t oldest_seq;
    uint64_t snap_cursor;   /* last snapshot id mirrored */
    int64_t boards_us;      /* boards updated up to this time mirrored */
    int64_t boards_next_us; /* next boards pass */
    int64_t ping_next_us;   /* next idle ping */

    metrics_series *lag_ops, *lag_seconds, *batches, *errors, *up, *ops_total,
        *gap_ops;
} mirror;

/* mirror.c */
int64_t mirror_now_us(void);

/* mirror_mongo.c: creates m->client from m->uri (driver logs routed to the
 * node's log). 0 or WB_EINVAL. */
int mirror_mongo_open(mirror *m);
void mirror_mongo_close(mirror *m);
/* createIndexes for every collection (docs/mongo.md). 0 or WB_EIO. */
int mirror_mongo_indexes(mirror *m);
/* {ping: 1}. 0 or WB_EIO. */
int mirror_mongo_ping(mirror *m);
/* Upserts (replace, upsert: true) every doc of docs[0..n) by its _id into
 * coll, one unordered bulk. 0 or WB_EIO (logged; nothing is assumed
 * written). Does not take ownership. */
int mirror_mongo_upsert(mirror *m, const char *coll, bson_t **docs, size_t n);

/* mirror_ops.c: one pass over the oplog after the cursor (at most one
 * bulk). *more = 1 when records remain. 0 or an error (the cursor then
 * stays; the next pass re-reads from it). */
int mirror_ops_pass(mirror *m, int *more);
/* Sets mirror_lag_ops and mirror_lag_seconds from the durable seq, the
 * cursor and the oldest record read but not exported. */
void mirror_update_lag(mirror *m);

/* mirror_snap.c: snapshots taken since the snapshot cursor; board
 * metadata updated since the last boards pass. 0 or an error. */
int mirror_snap_pass(mirror *m, int *more);
int mirror_boards_pass(mirror *m);

/* Appends the decimal text of v as key (mirror_ops.c). */
void mirror_append_u64_str(bson_t *doc, const char *key, uint64_t v);

#endif /* WB_MIRROR_INTERNAL_H */
