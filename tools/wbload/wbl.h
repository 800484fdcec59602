/*
 * wbl.h: wb-load, the native load generator of the whiteboard node (shared
 * types of tools/wbload/wbl_*.c; prefix wbl_). Usage: tools/wbload/README.md.
 *
 * Shape: the main thread (wbl_main.c) parses flags, prepares tokens and
 * boards over plain HTTP (wbl_http.c), starts N worker threads
 * (wbl_client.c), each with its own libwebsockets client context and its
 * own share of the connections, and steps them through phases (connect,
 * run, drain, close) by an atomic word the workers poll on their timer.
 * Each worker counts into its own wbl_stats (no sharing, no locks); the
 * main thread merges them after the workers have stopped (wbl_report.c).
 *
 * Open loop: a writer's ops are due at fixed slots (1/rate apart, phase
 * spread over the clients) whatever the server answers. A slot that finds
 * the connection's send queue full (the socket is not draining) or that is
 * more than WBL_MAX_LAG_US late is counted as missed, not sent.
 *
 * Every op carries its slot time: client_op_id = slot_us << 20 | client
 * index, slot_us on CLOCK_MONOTONIC in microseconds (never 0). Receivers
 * (all in this process, same clock) take latency = arrival - slot from the
 * broadcast (end-to-end broadcast latency) and from the ack (durable-ack
 * latency), so a late send is charged to the latency (no coordinated
 * omission). Presence frames carry the slot time in their x, y.
 */
#ifndef WBL_H
#define WBL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wbl_hist.h"

#define WBL_CID_SHIFT 20u
#define WBL_MAX_CLIENTS (1u << WBL_CID_SHIFT)
#define WBL_QCAP 256u          /* frames queued per connection */
#define WBL_MAX_LAG_US 1000000u /* a slot later than this is missed */
#define WBL_NCODES 16u         /* wire codes counted (ws_code 0..12) */

enum wbl_workload {
    WBL_ROOMS,
    WBL_BIGROOM,
    WBL_IDLE,
    WBL_JOIN,
    WBL_PRESENCE,
};

enum wbl_phase {
    WBL_PH_INIT,
    WBL_PH_CONNECT, /* open connections, hello, wait for welcomes */
    WBL_PH_FILL,    /* join: the filler writes the board */
    WBL_PH_JOIN,    /* join: fresh clients one after another */
    WBL_PH_RUN,     /* writers send on schedule */
    WBL_PH_DRAIN,   /* no sends; answers still counted */
    WBL_PH_CLOSE,   /* close everything, workers exit */
};

/* Errors by kind (the JSON's "errors" object). */
enum wbl_err {
    WBL_E_CONNECT,     /* connection refused / handshake failed */
    WBL_E_CLOSED,      /* closed by the server or the network mid-run */
    WBL_E_DECODE,      /* a server frame wb-load could not parse */
    WBL_E_RESYNC,      /* resync frames */
    WBL_E_ERROR_FRAME, /* error frames (by code in err_code) */
    WBL_E_ACK,         /* ops refused in acks (by code in ack_code) */
    WBL_E_JOIN,        /* join: welcome without the full board */
    WBL_E_TIMEOUT,     /* not welcomed before the connect deadline */
    WBL_E_COUNT,
};

typedef struct wbl_opts {
    int workload;
    char url[512];
    int rooms;
    int clients;    /* per room (rooms, presence, bigroom); total (idle, join) */
    int writers;    /* bigroom: clients that write */
    double rate;    /* ops/s per writing client */
    double duration; /* seconds of sending (idle: of holding) */
    double drain;   /* seconds to wait for late answers */
    double presence_hz;
    int elements;   /* join: elements on the board */
    int threads;
    long max_ops;   /* 0: unbounded (the duration bounds) */
    int json;
    int no_setup;   /* no HTTP: board ids made up, token as given or dummy */
    int insecure;   /* wss: accept any certificate */
    long server_pid;
    double connect_rate; /* new connections per second (0: unpaced) */
    int tick_us;    /* worker wake-up period */
    int evlib;      /* 0: lws's poll loop, 1: libev on epoll (default) */
    char token[8300];
    char boards_arg[4096]; /* comma list of existing board ids */
} wbl_opts;

typedef struct wbl_stats {
    uint64_t ops_sent, ops_missed, batches_sent;
    uint64_t acked, dups, ack_frames;
    uint64_t ack_code[WBL_NCODES], err_code[WBL_NCODES];
    uint64_t deliveries, expected, self_echo, foreign;
    uint64_t presence_sent, presence_recv, presence_expected;
    uint64_t errors[WBL_E_COUNT];
    uint64_t bytes_out, bytes_in, frames_in;
    uint64_t closes[8]; /* close codes seen: 4001.., indexed by wbl_close_slot */
    wbl_hist bcast, ack, presence, join_recv, join_loaded;
} wbl_stats;

struct wbl_worker;
struct lws;

typedef struct wbl_buf {
    size_t len;
    uint8_t data[]; /* LWS_PRE headroom, then len bytes */
} wbl_buf;

enum wbl_cstate { WBL_C_IDLE, WBL_C_CONNECTING, WBL_C_HELLO, WBL_C_JOINED,
                  WBL_C_CLOSED, WBL_C_FAILED };

typedef struct wbl_client {
    struct wbl_worker *w;
    struct lws *wsi;
    uint32_t idx;  /* global index, in every client op id */
    uint32_t room;
    int state;
    int writer;
    int closing;   /* wb-load is closing it (not an error) */
    int filler;    /* join: writes the board */
    uint64_t interval_us, next_us, pres_interval_us, pres_next_us;
    uint64_t nsent, max_ops;
    uint64_t t_connect_us;
    /* send queue (ring) */
    wbl_buf *q[WBL_QCAP];
    uint32_t qhead, qlen;
    /* receive reassembly */
    int inmsg;
    uint8_t *rx;
    size_t rxlen, rxcap;
    /* join filler */
    uint32_t fill_sent, fill_acked, fill_inflight;
    uint64_t fill_retry_us;
} wbl_client;

typedef struct wbl_run wbl_run;

typedef struct wbl_worker {
    int id;
    wbl_run *run;
    pthread_t th;
    struct lws_context *ctx;
    wbl_client **clients;
    uint32_t nclients;
    uint32_t next_connect;  /* clients[next_connect..] not yet started */
    uint32_t inflight;      /* connecting or awaiting welcome */
    uint64_t connect_credit_us; /* pacing */
    int done;
    atomic_int stopped;
    /* published for the main thread's progress checks */
    _Atomic uint64_t pub_sent, pub_answered, pub_deliveries, pub_expected;
    _Atomic uint64_t pub_joined, pub_failed, pub_open, pub_filled;
    _Atomic uint64_t pub_joins_done, pub_self, pub_slots_done;
    _Atomic uint64_t pub_pres_recv, pub_pres_expected;
    int slots_done; /* no writer of this worker has a slot left */
    wbl_stats st;
    struct ev_loop *evloop; /* --evlib ev: the worker's own epoll loop */
} wbl_worker;

struct wbl_run {
    wbl_opts o;
    char host[256];
    int port;
    int tls;
    char path[512];
    char nonce[16];         /* random per run: element ids, user ids */
    char **tokens;          /* per client, or all pointing at one */
    char **boards;          /* per room */
    uint32_t nclients;      /* total connections */
    wbl_client *clients;
    wbl_worker *workers;
    _Atomic uint32_t *room_size; /* welcomed, still open clients per room */
    _Atomic int phase;
    uint64_t t_origin_us;   /* before any slot of this run */
    uint64_t t_start_us, t_end_us;
};

/* clock */
uint64_t wbl_now_us(void);

/* wbl_proto.c: frames */
wbl_buf *wbl_buf_new(size_t len);
wbl_buf *wbl_frame_hello(const char *token, const char *board);
wbl_buf *wbl_frame_op(const wbl_run *r, wbl_client *c, uint64_t slot_us,
                      uint64_t k);
wbl_buf *wbl_frame_presence(uint64_t slot_us);
wbl_buf *wbl_frame_fill(const wbl_run *r, wbl_client *c, uint32_t first,
                        uint32_t n, uint64_t cid);
/* Handles one complete server frame for client c at time now. */
void wbl_frame_handle(wbl_client *c, const uint8_t *p, size_t len,
                      uint64_t now);

/* wbl_client.c: workers, and the hooks wbl_frame_handle calls */
void wbl_client_welcome(wbl_client *c, uint64_t now, const uint8_t *state,
                        size_t len, int delta);
void wbl_client_fill_ack(wbl_client *c, uint32_t status, uint32_t n,
                         uint64_t now);
int wbl_workers_start(wbl_run *r);
void wbl_workers_join(wbl_run *r);

/* wbl_http.c: setup over plain HTTP/1.1 */
int wbl_http(const wbl_run *r, const char *method, const char *path,
             const char *token, const char *body, int *status, char **resp);
int wbl_setup(wbl_run *r);
/* Server RSS in bytes: /proc/PID/status when pid > 0, else /metrics. */
int64_t wbl_server_rss(const wbl_run *r);

/* Server CPU seconds (user + system) from /proc/PID/stat; -1 without
 * --server-pid. */
double wbl_server_cpu(const wbl_run *r);

/* wbl_report.c */
void wbl_report(const wbl_run *r, const wbl_stats *s, double wall_s,
                double cpu_s, double server_cpu_s, int64_t rss_before,
                int64_t rss_after, uint64_t joined);
const char *wbl_err_name(int e);

#endif /* WBL_H */
