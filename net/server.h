/*
 * server.h: the node's libwebsockets server (public API, prefix server_).
 *
 * One lws context, one vhost on cfg listen (host:port; TLS when
 * --tls-cert/--tls-key are set), two protocols:
 *   "http"   (protocols[0]) the REST API, /healthz, /readyz, /metrics and
 *            the static web client (net/http_*.c)
 *   "wb.v1"  WebSocket sync on path /ws (net/ws_conn.c)
 * Cross-thread wake-ups (engine acks and ops) arrive as
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED after lws_cancel_service.
 *
 * Signals: server_signals_block() must run in main before any thread is
 * created (engine threads inherit the mask); server_run() then takes
 * SIGINT/SIGTERM on its own signal thread: the first starts a graceful
 * stop (readyz 503, new API requests 503, requests waiting for acks are
 * drained for up to SERVER_DRAIN_MS, then the context is destroyed, which
 * closes every connection); a second one (more than SERVER_SIGNAL_REPEAT_MS
 * later: a group-wide kill can deliver one signal twice) exits the process
 * at once with status 1 (safe: the oplog is the truth). A watchdog exits with status 1
 * if the whole shutdown (including engine_close in main) takes longer than
 * SERVER_STOP_MAX_MS.
 */
#ifndef WB_SERVER_H
#define WB_SERVER_H

#include "node.h"

#define SERVER_DRAIN_MS 5000
#define SERVER_STOP_MAX_MS 60000
#define SERVER_SIGNAL_REPEAT_MS 200 /* a repeat this soon is not a 2nd signal */

/* Blocks SIGINT, SIGTERM (taken by the signal thread) and SIGPIPE. */
void server_signals_block(void);

/* Creates the lws context on n->cfg->listen, prints one line with the URL
 * to stdout, serves until a signal (or server_stop), drains, destroys the
 * context. Returns 0 or an error (the address could not be bound:
 * -EADDRINUSE or WB_EINVAL for a bad listen address). */
int server_run(node *n);

/* Asks the loop to stop (any thread; what the signal thread does). */
void server_stop(node *n);

#endif /* WB_SERVER_H */
