/*
 * mirror.h: the Mongo mirror (public API, prefix mirror_).
 *
 * With MONGO_URL (--mongo-url, alias --mongo) set, one mirror thread per
 * node exports to MongoDB (docs/mongo.md has the collections, document
 * shapes, indexes and the exactly-once argument):
 *
 *   ops        one document per op, _id "<origin node>:<origin seq>", read
 *              from the local oplog after a durable cursor ("mirror" in the
 *              snapshot store's cursor table), bulk-upserted (unordered);
 *              the cursor advances only after Mongo acknowledged the bulk
 *   snapshots  one document per local snapshot (chunked into
 *              snapshot_chunks above mirror-doc-max), cursor "mirror/snap"
 *   boards     board metadata, re-upserted when updated_us moves
 *
 * The node never waits on Mongo: the thread only reads the oplog and the
 * snapshot store. While Mongo fails it retries with back-off (100 ms
 * doubling to 5 s), the cursor stays, and the retention floor "mirror"
 * (engine_set_floor) keeps the oplog segments it still needs. If retention
 * was forced past the cursor anyway, the skipped seqs are reported (log
 * line "mirror gap", counter mirror_gap_ops_total), never hidden.
 *
 * Metrics (registered in the node's registry at start): mirror_lag_ops,
 * mirror_lag_seconds, mirror_batches_total, mirror_errors_total, mongo_up,
 * mirror_ops_total, mirror_gap_ops_total.
 *
 * Threads: mirror_start and mirror_stop are called by whiteboardd.c's
 * threads (start once the engine is open, stop before it closes, after
 * the service loop ended); n->mirror is published with an atomic store
 * for mirror_metrics_refresh on the service thread.
 */
#ifndef WB_MIRROR_H
#define WB_MIRROR_H

struct node;

/* Starts the mirror thread when the node's settings name a Mongo URL
 * (otherwise does nothing and returns 0). The engine must be open.
 * Returns 0 or an error (bad URL: WB_EINVAL; logged). */
int mirror_start(struct node *n);

/* Stops and joins the mirror thread (a bulk in flight is finished or
 * abandoned by the driver's socket timeout; the cursor only moves on an
 * acknowledged write). No-op when the mirror is not running. */
void mirror_stop(struct node *n);

/* Refreshes mirror_lag_ops and mirror_lag_seconds from the durable seq and
 * the stored cursor, at scrape time (node_metrics_refresh, service thread),
 * so the gauges are right even while the mirror thread waits on Mongo.
 * No-op when the mirror is not running. */
void mirror_metrics_refresh(struct node *n);

#endif /* WB_MIRROR_H */
