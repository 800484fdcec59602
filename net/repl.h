/*
 * repl.h: replication between peer nodes through Redis Streams (public
 * API, prefix repl_). docs/replication.md is the operator's view.
 *
 * With REDIS_URL set, whiteboardd starts a replicator after recovery:
 *   publisher thread  tails the local oplog from a durable "publish" cursor
 *                     and XADDs the records this node ORIGINATED to the
 *                     shard streams (one XADD per shard per round,
 *                     pipelined, MAXLEN ~ retention); heartbeats its
 *                     address in Redis; publishes board metadata.
 *   reader thread     XREAD BLOCK over every shard stream from durable
 *                     per-shard cursors; submits other origins' ops with
 *                     engine_submit_remote (dedupe by origin/oseq); commits
 *                     the cursors only after engine_flush; detects gaps
 *                     (entries trimmed past its cursor) and repairs the
 *                     shard's boards from a peer's full state; merges
 *                     board metadata.
 * Redis down: both threads log it once, retry with backoff (100 ms to 2 s)
 * and resume from their cursors; the node keeps serving meanwhile.
 *
 * Threads: repl_start/repl_stop from the thread that owns the node's life
 * (whiteboardd.c); repl_kick from any thread (node.c calls it on the engine
 * thread after local ops are applied; it never blocks).
 */
#ifndef WB_REPL_H
#define WB_REPL_H

#include <stddef.h>
#include <stdint.h>

typedef struct node node;
typedef struct repl repl;

/* Starts replication when n->cfg->redis_url is set (n->eng open): *out is
 * the replicator (owned by the caller: repl_stop). Without a URL returns 0
 * and *out = NULL. Returns 0, WB_EINVAL (URL not usable: the log says
 * why), WB_ENOMEM. Redis need not be reachable: the threads retry. */
int repl_start(node *n, repl **out);

/* Stops the threads (each within about one second; a repair in progress
 * stops at its next board) and persists the cursors. NULL is ignored. Call
 * before the engine closes; r stays valid (repl_kick is a no-op) until
 * repl_free, which comes after the engine closed (the engine thread may
 * still be kicking it). */
void repl_stop(repl *r);
void repl_free(repl *r);

/* New durable local ops: wakes the publisher. Any thread, never blocks. */
void repl_kick(repl *r);

/* Internal requests between nodes carry
 *   Authorization: WB-Node <unix seconds>.<hex HMAC-SHA256>
 * over "wb-internal-v1\n<seconds>\n<method> <path>" with the cluster
 * secret (JWT_SECRET, shared by all nodes). repl_auth_sign writes the
 * header value into out (cap >= 96); repl_auth_check returns 0 when value
 * is valid for method and path within 60 s of now, else WB_EBADSIG. */
int repl_auth_sign(const char *secret, size_t secret_len, const char *method,
                   const char *path, int64_t now_s, char *out, size_t cap);
int repl_auth_check(const char *secret, size_t secret_len,
                    const char *method, const char *path, const char *value,
                    int64_t now_s);

#endif /* WB_REPL_H */
