/*
 * repl_internal.h: what the replication files share (not for other
 * modules). repl.c: life, Redis URL and connections, up/down logging,
 * metrics, peers. repl_pub.c: the publisher thread. repl_sub.c: the reader
 * thread. repl_meta.c: board metadata through Redis. repl_repair.c: gap
 * repair from peers. repl_auth.c: the internal request signature.
 *
 * Redis layout (prefix "wb:"):
 *   wb:ops:<shard>   stream; one entry per publisher round and shard:
 *                    o=<origin node id> t=<publish ms> q=<max oseq in it>
 *                    p=<max oseq of this origin's previous entry in this
 *                    shard, 0 unknown> r=<records: (u32 LE length, encoded
 *                    batch)...>
 *   wb:nodes         hash node id -> {"addr","ts","oseq"} (heartbeats)
 *   wb:meta          hash board id -> metadata JSON (LWW by "u")
 *   wb:meta:ver      counter bumped on every metadata change
 *   wb:epoch         random id of this Redis's data (SET NX by the first
 *                    node); a new one means Redis lost its data
 */
#ifndef WB_REPL_INTERNAL_H
#define WB_REPL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <hiredis.h>

#include "metrics.h"
#include "node.h"
#include "repl.h"

#define REPL_MAX_PEERS 64
#define REPL_MAX_SHARDS 1024
#define REPL_PEER_STALE_MS 15000
#define REPL_KEY_NODES "wb:nodes"
#define REPL_KEY_META "wb:meta"
#define REPL_KEY_META_VER "wb:meta:ver"
#define REPL_KEY_EPOCH "wb:epoch"
#define REPL_EPOCH_LEN 16

enum { REPL_T_PUB = 0, REPL_T_SUB = 1 };

/* What this node knows of one peer (guarded by repl.mu). */
typedef struct repl_peer {
    uint64_t id;
    char addr[128];
    int64_t seen_ms;        /* its last heartbeat (its wall clock) */
    uint64_t pub_oseq;      /* its highest published oseq (heartbeat) */
    uint64_t got_oseq;      /* highest oseq received from it */
    metrics_series *lag_s;  /* replication_lag_seconds{peer} */
    metrics_series *lag_ops;/* replication_lag_ops{peer} */
} repl_peer;

struct repl {
    node *n;
    engine *eng;
    snap_store *store;
    uint64_t self;
    /* Redis URL, parsed */
    char host[256];
    int port;
    char user[128];
    char pass[256];
    int db;
    int shards;
    int64_t retention;
    char advertise[300];
    char oplog_dir[4200];
    /* threads */
    pthread_t pub_thr, sub_thr, pres_thr;
    int pub_started, sub_started, pres_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked;             /* [mu] new local ops */
    atomic_int stop;
    int up[2];              /* [mu] per thread: connected */
    int logged_down;        /* [mu] "redis unavailable" said */
    atomic_uint_fast64_t pub_oseq; /* highest own oseq published */
    /* metrics (registry-owned) */
    metrics_series *m_up, *m_published, *m_applied, *m_gaps;
    metrics_family *f_lag_s, *f_lag_ops;
    repl_peer peers[REPL_MAX_PEERS]; /* [mu] */
    int npeers;
};

/* repl.c */
int64_t repl_now_ms(void);
redisContext *repl_connect(repl *r, unsigned timeout_ms);
void repl_set_up(repl *r, int which, int up);
int repl_wait(repl *r, unsigned ms);  /* until kicked; 1 when stopping */
int repl_sleep(repl *r, unsigned ms); /* 1 when stopping */
unsigned repl_shard_of(const repl *r, const char *bid, size_t len);
void repl_stream_key(int shard, char *out, size_t cap);
repl_peer *repl_peer_get(repl *r, uint64_t id); /* [mu] held; NULL: full */
int repl_reply_ok(redisContext *c, redisReply *rep); /* 0, or -1 (frees) */
int repl_epoch(redisContext *c, char out[REPL_EPOCH_LEN + 1]);
int repl_epoch_changed(repl *r, const char *key, const char *epoch);

/* repl_pub.c / repl_sub.c */
void *repl_pub_main(void *arg);
void *repl_sub_main(void *arg);

/* repl_presence.c: presence over pub/sub (its own thread) */
int repl_presence_init(void);
void *repl_presence_main(void *arg);
void repl_presence_out(void *ctx, const char *board_id, const uint8_t *frame,
                       size_t len);

/* repl_meta.c */
int repl_meta_publish(repl *r, redisContext *c);
int repl_meta_pull(repl *r, redisContext *c, long long *ver);
void repl_meta_free(void);

/* repl_repair.c: merges the state of every live peer into the boards of
 * shard (all shards: -1). 0 when at least one peer answered for every
 * board and every merged op was logged, else an error (the caller retries
 * later; WB_EFULL: ops were not logged, retry with force, which logs ops
 * at or below the boards' vectors: engine_submit_remote_force). */
int repl_repair_shard(repl *r, redisContext *c, int shard, int force);
/* Peer table (addresses, published oseqs, lag_ops) from wb:nodes. */
int repl_peers_refresh(repl *r, redisContext *c);

#endif /* WB_REPL_INTERNAL_H */
