/*
 * ws_internal.h: the transport-free core of the WebSocket layer (internal
 * to net/ws_*.c and their tests; prefix ws_hub_ for the hub, ws_sess_ for
 * one session).
 *
 * Split (docs/protocol.md part 2 is the spec):
 *   ws_session.c  one session: reassembly, hello/auth/role, ops ->
 *                 engine_submit, presence, errors
 *   ws_welcome.c  the welcome (full, delta, resync): built on the engine
 *                 thread (a worker thread waits in engine_call, never the
 *                 service thread) and handed over as an event; or, while
 *                 the board's room holds a current encoded state, built on
 *                 the service thread from that cache
 *   ws_sendq.c    the bounded per-session send queue, error frames
 *   ws_hub.c      the hub: sessions by id, rooms by board, the event list
 *                 filled by the engine thread and drained by service
 *   ws_conn.c     the libwebsockets binding (ws_conn.h, ws_hub.h on node)
 *
 * The core never calls libwebsockets. It tells its transport, through
 * ws_transport, that a session has something to send (want_write) and
 * that the service thread should run ws_hub_core_service (wake, from the
 * engine thread). The transport then pulls frames with ws_sess_peek /
 * ws_sess_pop and closes with ws_sess_close_code once the queue is empty.
 * Tests plug in a fake transport (tests/test_net_ws_session.c).
 *
 * Threads: everything here runs on the service thread except
 * ws_hub_core_on_ack / ws_hub_core_on_ops and the welcome builder (engine
 * thread: they stage events, which ws_hub_core_turn appends to the event
 * list under ev_mu at the end of the engine's turn, with one wake)
 * and the welcome worker (its own thread: it only waits in engine_call).
 */
#ifndef WB_WS_INTERNAL_H
#define WB_WS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "jwt.h"
#include "metrics.h"
#include "op.h"
#include "ratelimit.h"

typedef struct ws_hub ws_hub;
typedef struct ws_sess ws_sess;

#define WS_SENDQ_MAX_DEFAULT (8u << 20) /* bytes queued per connection */
#define WS_MAX_FRAME_DEFAULT (1u << 20)
#define WS_PRESENCE_RATE 20u            /* presence frames per second */
#define WS_CALL_TIMEOUT_MS 5000u        /* engine_call for a welcome */
#define WS_HELLO_TIMEOUT_S 10           /* connect -> welcome, else closed */

typedef struct ws_transport {
    void *ctx;
    /* service thread: the session (handle as given to ws_sess_open) has
     * frames queued or must be closed: ask for a writable callback */
    void (*want_write)(void *ctx, void *handle);
    /* engine thread: events are waiting, run ws_hub_core_service soon */
    void (*wake)(void *ctx);
    /* service thread, optional: joining = 1 when the hello was accepted and
     * the welcome is being built (stop reading: frames that still arrive
     * are held by the session), 0 once the welcome is queued (read again;
     * the hello timeout can be lifted) */
    void (*joining)(void *ctx, void *handle, int joining);
    /* service thread, optional: write what the session has queued NOW,
     * outside any callback of the transport (ws_hub_core_flush, at the end
     * of a service turn), asking for a writable callback itself for what
     * the socket does not take. With it, a session with new frames is only
     * marked dirty; without it, want_write is called at once. */
    void (*flush)(void *ctx, void *handle);
} ws_transport;

typedef struct ws_hub_options {
    engine *eng;              /* borrowed */
    jwt_keys keys;            /* borrowed secrets */
    size_t max_frame;         /* 0: WS_MAX_FRAME_DEFAULT */
    size_t sendq_max;         /* 0: WS_SENDQ_MAX_DEFAULT */
    rl_limit rate_ops;        /* ops per second per connection; rate 0: off */
    rl_limit rate_presence;   /* rate 0: WS_PRESENCE_RATE */
    rl_table *rl_user;        /* borrowed; ops per user id, shared with the
                                 REST path; NULL: off */
    ws_transport tr;
    /* metrics, all optional (NULL) */
    metrics_series *connected;       /* gauge socket_connected_users */
    metrics_family *ratelimited;     /* counter {scope} */
    metrics_family *errors;          /* counter {code} */
    metrics_series *msgs_in, *msgs_out; /* ws_messages_total{dir} */
    int64_t (*now_s)(void);          /* clock for JWT checks; NULL: time() */
} ws_hub_options;

/* Creates a hub (options copied). Returns NULL when out of memory. */
ws_hub *ws_hub_new(const ws_hub_options *o);

/* Frees the hub, every session still open, and pending events. */
void ws_hub_free(ws_hub *h);

/* Stops the welcome worker (joins its thread; welcomes still waiting fail
 * with WB_ECLOSED). Call before the engine closes; idempotent. */
void ws_hub_stop_worker(ws_hub *h);

/* Engine thread (see ws_hub.h). Events made on the engine thread are
 * staged and handed to the service thread by ws_hub_core_turn, which the
 * engine's on_turn callback must call (engine_callbacks). */
void ws_hub_core_turn(ws_hub *h);
void ws_hub_core_on_ack(ws_hub *h, uint64_t token, const engine_ack *ack);
void ws_hub_core_on_ops(ws_hub *h, const char *board_id,
                        const wb_batch *applied,
                        const uint8_t *enc, size_t len, uint64_t seq);

/* Service thread: delivers pending events to sessions. */
void ws_hub_core_service(ws_hub *h);

/* Service thread, at the end of a turn: tr.flush for every session that
 * was given frames since the last call (see ws_transport.flush). */
void ws_hub_core_flush(ws_hub *h);

/* Service thread: session s has frames queued (ws_sendq.c). */
void ws_hub_dirty(ws_hub *h, ws_sess *s);

/* Any thread: a server presence frame (encoded) from another node, for the
 * sessions joined to board. Copied. */
void ws_hub_core_presence_remote(ws_hub *h, const char *board_id,
                                 const uint8_t *frame, size_t len);

/* Any thread: board_id was deleted elsewhere (replication): the service
 * thread closes its room as ws_hub_core_board_gone does. */
void ws_hub_core_board_gone_async(ws_hub *h, const char *board_id);

/* Service thread: closes every session of board_id's room and every
 * session still joining it (not_found, 4004). Returns how many. */
size_t ws_hub_core_board_gone(ws_hub *h, const char *board_id);

/* Number of open sessions (tests, metrics). */
size_t ws_hub_sessions(const ws_hub *h);

/* Opens a session for a transport connection (handle is passed back to
 * want_write). Returns NULL when out of memory. */
ws_sess *ws_sess_open(ws_hub *h, void *handle);

/* A piece of one message (see ws_conn_receive). Returns 0, or -1 when the
 * session is closing (a fatal error frame may be queued: keep writing
 * until ws_sess_peek is empty, then close with ws_sess_close_code). */
int ws_sess_receive(ws_sess *s, const uint8_t *in, size_t len, int first,
                    int final, int binary);

/* The next queued frame, borrowed until ws_sess_pop: 1 and *p and *len, or 0
 * when the queue is empty. */
int ws_sess_peek(ws_sess *s, const uint8_t **p, size_t *len);
void ws_sess_pop(ws_sess *s);

/* 0 while the session lives; else the WebSocket close code to send once
 * the queue is empty, with a short reason (static string). */
int ws_sess_close_code(const ws_sess *s, const char **reason);

/* 1 once the welcome is queued (the hello timeout can be lifted). */
int ws_sess_joined(const ws_sess *s);

/* Leaves the room and frees the session (the connection is gone). */
void ws_sess_close(ws_sess *s);

/* Origin check of an upgrade request (docs/protocol.md 2.1): 1 when
 * origin is NULL or empty (not a browser), or listed in allowed (comma list
 * of origins, "*" for any), or, when allowed is empty, when its host[:port]
 * equals host (the Host header). Case-insensitive. */
int ws_origin_allowed(const char *origin, const char *host,
                      const char *allowed);

/* The presence colour of a user id, 0xRRGGBBff (docs/protocol.md 2.3 rule
 * 6): a hue from a hash of the id, fixed saturation and lightness. */
uint32_t ws_colour_of(const char *user);

/* Queued bytes (tests). */
size_t ws_sess_queued(const ws_sess *s);

/* ---- hub <-> session (ws_hub.c and ws_session.c only) ----------------- */

/* A refcounted frame shared by every session of a room. WS_BUF_PRE bytes
 * of headroom precede data (libwebsockets writes its frame header there:
 * LWS_PRE, checked in ws_conn.c). */
#define WS_BUF_PRE 32u
typedef struct ws_buf {
    int refs;   /* service thread only (the engine thread creates it) */
    size_t len;
    uint8_t pre[WS_BUF_PRE];
    uint8_t data[];
} ws_buf;

/* Service thread: hands a local session's presence frame to presence_out
 * (replication: other nodes). */
void ws_hub_presence_forward(ws_hub *h, const char *board_id, const ws_buf *b);

ws_buf *ws_buf_new(const uint8_t *p, size_t len); /* refs = 1; NULL: ENOMEM */
ws_buf *ws_buf_alloc(size_t len); /* uninitialised data; refs = 1 */
void ws_buf_unref(ws_buf *b);

enum ws_qkind { WS_Q_NORMAL = 0, WS_Q_PRESENCE = 1, WS_Q_WELCOME = 2 };

/* Appends a frame to the session's queue (takes its own reference).
 * Presence is dropped (0) when the queue holds more than half the bound;
 * a normal frame past the bound closes the session as a slow consumer
 * (WB_EFULL); a welcome is not counted. WB_ECLOSED when closing. */
int ws_sess_enqueue(ws_sess *s, ws_buf *b, enum ws_qkind kind);

typedef struct ws_qent {
    struct ws_qent *next;
    ws_buf *buf;
    size_t sent; /* bytes the transport has written (a large frame goes
                    out in several WebSocket fragments) */
    int counted; /* counted in qbytes */
} ws_qent;

/* The transport's view of the head frame: 1 and the whole frame (*p,
 * *len) and how much of it was written (*sent), or 0 when empty. */
int ws_sess_peek_part(ws_sess *s, const uint8_t **p, size_t *len,
                      size_t *sent);
/* n more bytes of the head frame were written; pops it when complete. */
void ws_sess_sent(ws_sess *s, size_t n);

enum ws_sess_state {
    WS_AWAIT_HELLO = 0,
    WS_JOINED = 1,
    WS_CLOSING = 2,
    WS_JOINING = 3 /* hello accepted, welcome being built */
};

/* A client message received while joining, processed once joined. */
typedef struct ws_held {
    struct ws_held *next;
    size_t len;
    uint8_t data[];
} ws_held;

struct ws_room;

struct ws_sess {
    ws_hub *hub;
    void *handle;         /* the transport's connection */
    uint32_t id;          /* 1..2^31-1: token bits 32..62 */
    uint32_t next_seq;    /* token bits 0..31 */
    enum ws_sess_state state;
    int close_code;
    const char *close_reason;
    uint8_t *rx;          /* message being reassembled */
    size_t rx_len, rx_cap;
    char user[JWT_SUB_MAX + 1];
    char name[JWT_NAME_MAX + 1];
    char board[WB_MAX_ID_LEN + 1];
    enum jwt_role role;
    uint32_t colour;
    uint8_t proto;        /* the hello's proto (2: gets presence leaves) */
    rl_bucket ops_bucket, pres_bucket;
    uint64_t join_after;  /* ops events numbered <= this are in the welcome */
    uint64_t hello_ns;    /* when the hello arrived (board.join span) */
    int hello_resume;     /* the hello carried a resume token */
    ws_held *held, *held_tail; /* messages received while joining */
    size_t held_bytes;
    int replaying;        /* handling held messages: bad ones are fatal */
    ws_qent *qhead, *qtail;
    size_t qbytes;        /* counted bytes queued */
    struct ws_room *room;
    ws_sess *rprev, *rnext; /* room list */
    ws_sess *hnext;         /* id hash chain */
    ws_sess *dprev, *dnext; /* the hub's dirty list (dirty = 1) */
    int dirty;
};

#define WS_ID_BUCKETS 4096u
#define WS_ROOM_BUCKETS 1024u

/* A board's encoded state and version as of the last event delivered to
 * its room (ws_welcome.c): valid until the next ops event for the board is
 * delivered, which drops it. Shared (refcounted, service thread). */
typedef struct ws_state_cache {
    int refs;
    ws_buf *state;     /* board_state_encode bytes */
    size_t vlen;
    uint8_t *version;  /* vv encoding (malloc'd) */
} ws_state_cache;

void ws_cache_unref(ws_state_cache *c);

typedef struct ws_room {
    struct ws_room *next; /* hash chain */
    ws_sess *head;
    size_t n;
    ws_state_cache *cache; /* NULL: none current */
    char board[WB_MAX_ID_LEN + 1];
} ws_room;

enum ws_ev_kind { WS_EV_ACK = 0, WS_EV_OPS = 1, WS_EV_WELCOME = 2,
                  WS_EV_PRESENCE = 3, /* from another node (replication) */
                  WS_EV_GONE = 4 /* board deleted on another node */ };

typedef struct ws_event {
    struct ws_event *next;
    enum ws_ev_kind kind;
    uint32_t conn;    /* ack, welcome: the session */
    uint64_t num;     /* ops events: 1, 2, ... in apply order; welcome:
                         the last ops number pushed before it (join point) */
    ws_buf *buf;      /* the frame (welcome: NULL when rc != 0) */
    int rc;           /* welcome: 0 or why it failed */
    ws_state_cache *cache; /* welcome of a full state: for the room */
    char board[WB_MAX_ID_LEN + 1];
} ws_event;

/* A welcome to build (ws_welcome.c), queued by the service thread for the
 * welcome worker. */
typedef struct ws_wjob {
    struct ws_wjob *next;
    uint32_t conn;
    uint8_t role;
    size_t rlen;                  /* resume token bytes (0: none) */
    uint8_t *resume;              /* malloc'd copy, or NULL */
    char board[WB_MAX_ID_LEN + 1];
    char user[JWT_SUB_MAX + 1];
} ws_wjob;

struct ws_hub {
    ws_hub_options o;
    pthread_mutex_t ev_mu;   /* guards the three fields below */
    ws_event *ev_head, *ev_tail;
    uint64_t ev_ops_pushed;  /* ops events numbered so far */
    /* engine thread only: events made this engine turn, in order, not yet
     * numbered nor visible to the service thread (ws_hub_core_turn) */
    ws_event *st_head, *st_tail;
    /* [ev_mu] presence of local sessions, handed to replication (NULL:
     * none): ws_hub_set_presence_out */
    void (*presence_out)(void *ctx, const char *board_id,
                         const uint8_t *frame, size_t len);
    void *presence_ctx;
    /* the welcome worker (ws_welcome.c): */
    pthread_mutex_t wq_mu;   /* guards the four fields below */
    pthread_cond_t wq_cv;
    ws_wjob *wq_head, *wq_tail;
    int wq_stop;
    int wq_started;          /* service thread (start, stop) */
    pthread_t wq_thread;
    /* service thread only: */
    ws_sess *by_id[WS_ID_BUCKETS];
    ws_room *rooms[WS_ROOM_BUCKETS];
    uint32_t next_id;
    size_t nsess;
    ws_event *ev_rest;       /* events taken but not yet delivered */
    ws_sess *dirty_head;     /* sessions with frames to flush (tr.flush) */
    int freeing;             /* ws_hub_free: no presence leaves */
};

struct ws_frame; /* ws_frame.h */
struct vv;       /* vv.h */

/* ws_sendq.c: queue a frame (encoded here), a typed error frame (fatal
 * when close_code != 0: the session then closes with it), and closing. */
int ws_sess_send(ws_sess *s, const struct ws_frame *f, enum ws_qkind kind);
void ws_sess_error(ws_sess *s, uint32_t code, int close_code,
                   const char *msg);
void ws_sess_start_close(ws_sess *s, int code, const char *reason);
void ws_sess_drop_queue(ws_sess *s);

/* ws_welcome.c. ws_welcome_start: the session s (JOINING, its hello
 * accepted; resume: the raw token, rlen 0 for none) gets its welcome:
 * from the room's cache at once (ws_sess_joined_at is called before this
 * returns), else through the worker: a WS_EV_WELCOME event follows.
 * Returns 0, or WB_ENOMEM (nothing queued). */
int ws_welcome_start(ws_hub *h, ws_sess *s, const uint8_t *resume,
                     size_t rlen);
/* The welcome frame: the fields of f's welcome (state empty) then
 * state:bytes. Returns a new buffer or NULL. */
ws_buf *ws_welcome_assemble(const struct ws_frame *f, const uint8_t *state,
                            size_t len);
void ws_welcome_worker_stop(ws_hub *h);
void ws_wjob_free(ws_wjob *j);

/* ws_session.c: the welcome for s is ready (service thread): join at
 * join_after, queue it, process the messages held meanwhile; rc != 0:
 * the join failed with that error (sent, session closing). */
void ws_sess_welcomed(ws_sess *s, ws_buf *welcome, uint64_t join_after,
                      int rc);

/* Hub bookkeeping used by ws_session.c (ws_hub.c). */
void ws_hub_add_sess(ws_hub *h, ws_sess *s);      /* assigns s->id */
void ws_hub_remove_sess(ws_hub *h, ws_sess *s);   /* also leaves the room */
int ws_hub_join(ws_hub *h, ws_sess *s);           /* 0 or WB_ENOMEM */
uint64_t ws_hub_ops_pushed(ws_hub *h);            /* engine thread */
void ws_hub_push(ws_hub *h, ws_event *ev);        /* any thread; numbers it */
ws_sess *ws_hub_find_sess(ws_hub *h, uint32_t id);
ws_room *ws_hub_find_room(ws_hub *h, const char *board_id);
int ws_hub_ops_pending(ws_hub *h, const char *board_id); /* ev_mu held */
void ws_hub_count(metrics_family *f, const char *label);

#endif /* WB_WS_INTERNAL_H */
