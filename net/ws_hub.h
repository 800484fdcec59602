/*
 * ws_hub.h: the WebSocket hub: rooms (one per board), the connections in
 * them, and the hand-over of engine events to the lws service thread
 * (public API, prefix ws_hub_).
 *
 * Threads. ws_hub_on_ack, ws_hub_on_ops and ws_hub_on_turn are called by
 * node.c's engine callbacks ON THE ENGINE THREAD: the first two stage the
 * event, ws_hub_on_turn (the end of the engine's turn) moves the turn's
 * events into the hub's mutex-protected FIFO and wakes the service loop
 * (lws_cancel_service) once; they never block on a connection. ws_hub_service runs on the lws service
 * thread (LWS_CALLBACK_EVENT_WAIT_CANCELLED): it drains the FIFO in order,
 * turns acks into ack frames for their connection and ops into ops frames
 * for every connection of the board's room, and asks lws for writable
 * callbacks. Because acks and ops share one FIFO, every connection sees
 * them in the engine's apply order.
 *
 * Engine submit tokens: the top bit (1ull << 63) is the REST waiters'
 * (node.c); WS tokens have it clear and carry the connection id in bits
 * 32..62 and a per-connection sequence in bits 0..31 (ws_hub_on_ack drops
 * acks for connections that have gone).
 */
#ifndef WB_WS_HUB_H
#define WB_WS_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct node node; /* net/node.h */

/* Creates the hub into n->hub, once n->eng is open (WB_EINVAL before).
 * Returns 0, WB_EINVAL or WB_ENOMEM. */
int ws_hub_create(node *n);

/* Frees the hub (after the lws context is destroyed: no session is left).
 * NULL hub is ignored. */
void ws_hub_destroy(node *n);

/* Engine thread: a WS submission (token bit 63 clear) finished. */
void ws_hub_on_ack(node *n, uint64_t token, const engine_ack *ack);

/* Service thread, at the end of every turn of the loop: frames queued
 * during the turn are written now (ws_transport.flush). */
void ws_hub_flush(node *n);

/* Engine thread: the engine's turn is over (engine_callbacks.on_turn). */
void ws_hub_on_turn(node *n);

/* Engine thread: ops applied to board (encoded: the stamped batch as
 * logged, seq its oplog seq). */
void ws_hub_on_ops(node *n, const char *board, const wb_batch *applied,
                   const uint8_t *encoded, size_t len, uint64_t seq);

/* After the service loop, before the engine closes: stops the welcome
 * worker (it waits in engine_call). */
void ws_hub_quiesce(node *n);

/* lws service thread: drains the event FIFO into the connections' send
 * queues and requests writable callbacks. */
void ws_hub_service(node *n);

/* Presence across nodes (replication): set_presence_out registers fn (NULL:
 * none), called on the lws service thread with every presence frame a
 * local session sends (encoded server frame; must not block);
 * presence_remote (any thread) hands a frame from another node to the
 * board's local sessions. */
void ws_hub_set_presence_out(node *n,
                             void (*fn)(void *ctx, const char *board_id,
                                        const uint8_t *frame, size_t len),
                             void *ctx);
void ws_hub_presence_remote(node *n, const char *board_id, const uint8_t *frame,
                            size_t len);

/* Any thread: the board was deleted on another node (replication merged
 * its metadata); its room is closed as by ws_hub_board_gone, on the lws
 * service thread. */
void ws_hub_board_gone_remote(node *n, const char *board_id);

/* lws service thread: the board was deleted (REST DELETE): every session
 * of its room gets a fatal not_found error and is closed with 4004. */
void ws_hub_board_gone(node *n, const char *board_id);

#endif /* WB_WS_HUB_H */
