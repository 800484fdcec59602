/*
 * http_internal.h: the HTTP side of the server, shared by server.c and
 * net/http_*.c (not for other modules).
 *
 * One http_req lives in the lws per-session data of every HTTP connection
 * (protocol "http", protocols[0]); lws zeroes it. A request goes:
 *
 *   LWS_CALLBACK_HTTP            method + path parsed, Content-Length checked
 *   LWS_CALLBACK_HTTP_BODY       body appended (bounded: 413 past the cap)
 *   LWS_CALLBACK_HTTP_BODY_COMPLETION / no body: http_dispatch -> a route
 *   route                        fills the response (http_reply_*), or
 *                                submits ops and waits (http_req.waiting)
 *   LWS_CALLBACK_HTTP_WRITEABLE  headers, then the body in pieces;
 *                                lws_http_transaction_completed at the end
 *
 * Threads: everything here runs on the lws service thread.
 */
#ifndef WB_HTTP_INTERNAL_H
#define WB_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "jwt.h"
#include "node.h"

#define HTTP_PATH_MAX 512u

enum http_method { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_OTHER };

typedef struct http_req {
    struct lws *wsi;
    enum http_method method;
    char path[HTTP_PATH_MAX];
    uint64_t started_ns;
    /* request body (owned) */
    char *body;
    size_t body_len, body_cap;
    int expect_body;
    int dispatched;          /* routed (once per request) */
    /* response (owned) */
    int status;
    char *resp;
    size_t resp_len, resp_off;
    const char *ctype;
    char extra_hdr[160];     /* one extra "Name: value" (Retry-After, ...) */
    int replied;             /* response ready to write */
    int headers_sent;
    int close_after;         /* close the connection after the response */
    /* waiting for an engine ack (POST .../ops) or a worker answer (job) */
    int waiting;
    int job;
    uint64_t token;
    uint32_t nops;
    char board[JWT_BOARD_ID_MAX + 1];
    char user[JWT_SUB_MAX + 1];
    struct http_req *wait_prev, *wait_next;
    /* W3C trace context (http_trace.c) */
    char trace_id[33], span_id[17], parent_id[17];
    int sampled;             /* the caller's sampled flag (1 without one) */
} http_req;

/* http_conn.c: the protocols[0] callback. */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                  void *user, void *in, size_t len);

/* Engine acks arrived (EVENT_WAIT_CANCELLED): complete waiting requests. */
void http_service_waiters(node *n);

/* Answers 504 to the requests that have waited longer than
 * cfg->request_timeout_ms (their waiters are cancelled: a late ack is
 * dropped). Called by the 1 s housekeeping timer. Returns how many. */
size_t http_expire_waiters(node *n, uint64_t now_ns);

/* Number of requests still waiting for an ack (shutdown drains them). */
size_t http_waiting_count(void);

/* Responses. The body is copied (http_reply) or taken (http_reply_take,
 * malloc'd). http_error writes {"error":{"code","message"}}. */
void http_reply(http_req *r, int status, const char *ctype, const char *body,
                size_t len);
void http_reply_take(http_req *r, int status, const char *ctype, char *body,
                     size_t len);
void http_error(http_req *r, int status, const char *message);

/* http_api.c: routes a complete request. */
void http_dispatch(node *n, http_req *r);

/* http_auth.c: verifies the Bearer token. 0 and *claims, or the HTTP status
 * to answer (401) with the reply already set. */
int http_auth(node *n, http_req *r, jwt_claims *claims);

/* http_boards.c: /api/v1/boards and below. rest: the path after
 * "/api/v1/boards" ("" or "/{id}" or "/{id}/ops" ...). */
void http_boards(node *n, http_req *r, const jwt_claims *c, const char *rest);

/* http_worker.c: a job the worker thread runs (fn fills the scratch
 * request's reply); malloc'd, freed by the worker. */
typedef struct http_job http_job;
struct http_job {
    void (*fn)(node *n, http_req *out, const http_job *j);
    uint64_t token;
    enum jwt_role role;
    snap_board_meta meta;
};
int http_worker_start(node *n);
void http_worker_stop(void);
/* Registers a waiter, queues job (taken) and puts r on the wait list; or
 * answers 503 when the queue is full. */
void http_worker_submit(node *n, http_req *r, http_job *job);

/* http_history.c: GET /api/v1/boards/{id}/ops?since=&limit=. */
void http_history(node *n, http_req *r, const char *bid);

/* http_trace.c: reads traceparent (or starts a trace) and picks a span
 * id; http_trace_end logs the span and sets the traceparent answer header
 * (when no other extra header is set). */
void http_trace_begin(http_req *r);
void http_trace_end(http_req *r, const char *span, uint32_t nops);

/* Puts r on the wait list (after a successful submit with r->token). */
void http_wait_start(http_req *r);

/* Completes a waiting ops request with the engine's result. */
void http_ops_done(node *n, http_req *r, const node_rest_result *res);

/* http_ops.c: a JSON ops array -> an encoded batch for board (malloc'd
 * *out). user is the authenticated user id. Returns 0 or an error code
 * with a message in err (the request answers 400). */
int http_ops_encode(const char *body, size_t len, const char *board,
                    const char *user, uint8_t **out, size_t *outlen,
                    uint32_t *nops, char *err, size_t errlen);

/* http_internal_peer.c: GET /internal/v1/boards/{id}/state (peers). */
void http_internal_peer(node *n, http_req *r);

/* 1 when id is a valid board id (1..64 bytes of [A-Za-z0-9_-]). */
int http_board_id_ok(const char *id, size_t len);

#endif /* WB_HTTP_INTERNAL_H */
