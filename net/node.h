/*
 * node.h: the node context (public API, prefix node_).
 *
 * One `node` per whiteboardd process. It ties together what the server
 * layers share: the effective configuration, the engine, the JWT keys, the
 * metrics registry with the runbook's series, the WebSocket hub and the
 * lws context, plus the readiness and stopping flags that /readyz reports.
 *
 * Life (net/whiteboardd.c drives it):
 *
 *   node_init(n, cfg)       keys (a generated secret in DATA/jwt.secret when
 *                           none is configured and guest sign-in is on),
 *                           metrics registry, REST waiter table
 *   server_run(n)           lws service loop until stopping; meanwhile, on
 *                           a recovery thread (whiteboardd.c):
 *     node_open_engine(n)   engine_open with node.c's callbacks (recovery;
 *                           /readyz and the API answer 503 meanwhile)
 *     ws_hub_create(n)
 *     node_set_ready(n)     started = ready = 1
 *   node_close_engine(n)    engine_close: drain, final fsync, snapshots
 *   node_free(n)
 *
 * Engine callbacks (engine thread, never block): on_ack routes by token:
 * the top bit (NODE_TOKEN_REST) set marks a REST request waiting for its
 * ops to be durable (node_rest_*), clear marks a WebSocket submission
 * (ws_hub_on_ack). on_ops goes to ws_hub_on_ops and counts events_total.
 *
 * Threads: fields are set before the service loop starts and then read-only,
 * except `ready` and `stopping` (atomics, any thread), `hub` (owned by the
 * WS layer) and the metric series (lock-free updates).
 */
#ifndef WB_NODE_H
#define WB_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "jwt.h"
#include "metrics.h"
#include "ratelimit.h"

struct lws_context;

/* Engine submit tokens with this bit set belong to REST waiters. */
#define NODE_TOKEN_REST (1ull << 63)

/* The runbook's series (DESIGN.md section 9) and the node's own. All owned
 * by `reg`; pointers valid until node_free. */
typedef struct node_metrics {
    metrics_registry *reg;
    metrics_family *events_total;           /* counter {board} */
    metrics_series *socket_connected_users; /* gauge: open WS sessions (the
                                               WS layer adds/subtracts) */
    metrics_series *snapshot_duration;      /* histogram, seconds */
    metrics_series *oplog_queue_size;       /* gauge */
    metrics_family *http_requests_total;    /* counter {code} */
    metrics_series *boards_loaded;          /* gauge */
    metrics_series *process_rss;            /* process_resident_memory_bytes */
    metrics_series *process_fds;            /* process_open_fds */
    metrics_series *process_cpu;            /* process_cpu_seconds_total */
    metrics_series *oplog_fsync_duration;   /* histogram, seconds, copied
                                               from engine_stats */
    metrics_series *op_apply_duration;      /* histogram, same */
    metrics_family *ratelimited_total;      /* counter {kind}: conn/user/ip/ip_conns */
    metrics_family *ws_errors_total;        /* counter {code}: typed WS errors */
} node_metrics;

struct node_rest; /* REST waiters: node_rest.c */
struct repl;      /* replication: repl.h */

typedef struct node {
    const struct cfg *cfg;      /* borrowed; outlives the node */
    engine *eng;                /* owned: node_open_engine / close */
    jwt_keys keys;              /* points at cfg or at secret_buf */
    char *secret_buf;           /* owned: generated/loaded secret, or NULL */
    int secret_generated;       /* 1: secret comes from DATA/jwt.secret */
    node_metrics m;
    rl_limit rate_conn;         /* per connection (cfg rate-conn) */
    rl_table *rl_user;          /* owned; keyed by user id; NULL: off */
    rl_table *rl_ip;            /* owned; keyed by client IP; NULL: off */
    struct ipc_table *ip_conns; /* owned; open WebSocket connections per
                                   client IP (service thread only); NULL:
                                   no cap (cfg max-conns-per-ip 0) */
    void *hub;                  /* owned by the WS layer (ws_hub_create) */
    struct lws_context *ctx;    /* owned by server.c; NULL outside the loop.
                                   Other threads must not read it: they
                                   call node_wake (ctx_mu) instead */
    pthread_mutex_t ctx_mu;     /* guards ctx against node_wake */
    struct node_rest *rest;     /* owned: REST waiters */
    uint64_t snap_seen;         /* snapshots already observed (metrics
                                   refresh; service thread only) */
    atomic_int ready;           /* 1: recovered and serving */
    atomic_int started;         /* 1 once eng and hub are set (never
                                   cleared): other threads read eng and
                                   hub only after seeing it */
    atomic_int stopping;        /* 1: shutdown began */
    struct mirror *mirror;      /* owned by mirror.c (mirror_start/stop);
                                   NULL: no Mongo mirror */
    struct repl *_Atomic repl;  /* owned by whiteboardd.c (repl_start);
                                   NULL: single node. on_ops kicks it */
} node;

/* Fills n from cfg (borrowed, must outlive n): JWT keys, metrics, rate
 * limit tables, REST waiter table. When cfg has no JWT secret and guest
 * sign-in is on ("auto" counts as on), loads DATA/jwt.secret or creates it
 * (0600, 32 random bytes hex) and logs a warning. Creates the data
 * directory. Returns 0 or an error (n is then safe to node_free). */
int node_init(node *n, const struct cfg *cfg);

/* Opens the engine on cfg's data dir with node.c's callbacks (recovery).
 * Returns 0 or the engine's error. The caller then creates the WS hub and
 * calls node_set_ready. */
int node_open_engine(node *n);

/* Marks the node started and ready (after the engine and hub exist) and
 * wakes the service loop. */
void node_set_ready(node *n);

/* Clears ready, sets stopping, closes the engine (drain, final fsync,
 * snapshots). Returns engine_close's result (0 when there is no engine). */
int node_close_engine(node *n);

/* Frees everything node_init created (the engine must be closed). */
void node_free(node *n);

/* Wakes the lws service loop (lws_cancel_service), from any thread, e.g.
 * the engine thread after queueing an event; a no-op when no loop runs.
 * Safe against the context being destroyed concurrently. */
void node_wake(node *n);

/* server.c: publishes (or clears, NULL) the lws context under ctx_mu. */
void node_set_ctx(node *n, struct lws_context *ctx);

/* 1 when guest sign-in is enabled (WB_GUEST on, or auto). */
int node_guest_enabled(const node *n);

/* Refreshes the gauges read at scrape time (oplog queue, boards loaded,
 * snapshot histogram from engine stats, process RSS and fds). */
void node_metrics_refresh(node *n);

/* Counts one HTTP answer with its status code. */
void node_count_http(node *n, int status);

/* The client's IP address for the per-IP limits (node_ip.c): the last
 * X-Forwarded-For entry with cfg trust_proxy, else the socket's peer.
 * ip receives text (empty if unknown). */
struct lws;
void node_client_ip(const node *n, struct lws *wsi, char *ip, size_t len);

/* The client address in an X-Forwarded-For value v[0..vlen) (untrusted
 * bytes, any content): its last comma-separated entry, spaces and tabs
 * trimmed, copied NUL-terminated into ip (len bytes) and 1, if that entry
 * is 1..45 characters of hex digits, '.' and ':' that fit; else 0 and ip
 * untouched. Fuzzed: fuzz/fuzz_xff.c. */
int node_xff_client(const char *v, size_t vlen, char *ip, size_t len);

/* ---- REST waiters (node_rest.c) ----------------------------------------
 * A REST request that submitted ops registers a waiter and gets a token
 * (NODE_TOKEN_REST set). The engine's ack is stored under that token and
 * the waiter's `wake` callback runs on the engine thread (it must not
 * block: server.c uses lws_cancel_service); the service thread then takes
 * the result with node_rest_take. */
typedef void (*node_rest_wake_fn)(void *arg);

typedef struct node_rest_result {
    int status;          /* engine ack status */
    uint64_t first_seq;  /* oplog seq of the record */
    uint32_t duplicates; /* ops answered from the dedupe window */
    uint32_t nops;       /* ops in the batch */
    /* A finished HTTP answer (node_rest_complete_reply), else NULL body:
     * the taker owns body (malloc'd, body_len bytes). */
    int http_status;
    char *body;
    size_t body_len;
} node_rest_result;

/* Registers a waiter; *token receives its token. Returns 0 or WB_ENOMEM. */
int node_rest_register(node *n, uint64_t *token);

/* Forgets a waiter (the request went away; a later ack is dropped). */
void node_rest_cancel(node *n, uint64_t token);

/* 1 and *out when the ack for token has arrived (the waiter is then
 * removed), 0 when not yet, WB_ENOTFOUND for an unknown token. */
int node_rest_take(node *n, uint64_t token, node_rest_result *out);

/* Engine thread: stores an ack. Unknown tokens are ignored. Returns 1 when
 * a waiter was completed. */
int node_rest_complete(node *n, uint64_t token, const engine_ack *ack);

/* Any thread (the HTTP worker): stores a finished answer; takes ownership
 * of body (freed here when the waiter is gone). Returns 1 when a waiter
 * was completed. */
int node_rest_complete_reply(node *n, uint64_t token, int http_status,
                             char *body, size_t body_len);

#endif /* WB_NODE_H */
