/*
 * ws_conn.h: one WebSocket session of the sync protocol, as the server's
 * libwebsockets protocol callback sees it (public API, prefix ws_conn_).
 *
 * The node's server (net/server.c) registers the protocol "wb.v1" on path
 * /ws with per_session_data_size = ws_conn_size() and forwards four
 * callbacks here. Everything in this file runs on the lws service thread.
 * The session logic itself (hello, welcome, ops, acks, presence, errors,
 * resume) is transport-free (ws_internal.h) so that tests drive it without
 * sockets; this interface only binds it to an lws connection.
 *
 * Frames are the binary frames of docs/protocol.md, part 2 (net/ws_frame.h).
 * Authentication: the JWT travels in the hello frame (never in the URL, so
 * it does not end up in proxy logs). Origin: checked at
 * LWS_CALLBACK_ESTABLISHED against cfg allowed_origins (comma list; empty:
 * the Origin's host must equal the Host header); a browser request from
 * another origin is closed with WS_CLOSE_ORIGIN. A request without an
 * Origin header (non-browser client) is allowed.
 */
#ifndef WB_WS_CONN_H
#define WB_WS_CONN_H

#include <stddef.h>

struct lws;
typedef struct node node; /* net/node.h */

/* lws_protocols of "wb.v1" (server.c): rx_buffer_size WS_RX_BUFFER, the
 * bytes lws keeps per connection for incoming data (messages larger than
 * it arrive in pieces and are reassembled; an idle session costs little);
 * tx_packet_size WS_TX_CHUNK, the largest piece written at once (larger
 * frames go out as WebSocket fragments). WS_TX_BUDGET: bytes written per
 * writable callback before yielding to other connections. Queued frames up
 * to WS_TX_SMALL bytes are written together, up to WS_TX_CHUNK at once. */
#define WS_RX_BUFFER 1024u
#define WS_TX_CHUNK 65536u
#define WS_TX_BUDGET (256u * 1024u)
#define WS_TX_SMALL 16384u /* frames up to this size are coalesced */

/* Bytes of per-session user data (lws_protocols.per_session_data_size). */
size_t ws_conn_size(void);

/* LWS_CALLBACK_ESTABLISHED: sets up the session in pss (zeroed by lws).
 * Returns 0, or -1 to close (Origin refused, hub full, out of memory). */
int ws_conn_open(node *n, struct lws *wsi, void *pss);

/* LWS_CALLBACK_RECEIVE: in[0..len) is a piece of one WebSocket message;
 * first/final say whether it starts/ends the message (lws_is_first_fragment
 * / lws_is_final_fragment), binary whether it is a binary message. Pieces
 * are reassembled up to the frame-size limit. Returns 0 (a fatal error
 * frame is flushed by the writable callback, which then closes with the
 * typed close code), or -1 to close at once (no session). */
int ws_conn_receive(node *n, struct lws *wsi, void *pss, const void *in,
                    size_t len, int first, int final, int binary);

/* LWS_CALLBACK_SERVER_WRITEABLE: writes at most one queued frame, asks for
 * another callback if more are queued. Returns 0, or -1 to close (the
 * close code has been set with lws_close_reason). */
int ws_conn_writable(node *n, struct lws *wsi, void *pss);

/* LWS_CALLBACK_CLOSED: leaves the room and frees the session's memory. */
void ws_conn_close(node *n, struct lws *wsi, void *pss);

#endif /* WB_WS_CONN_H */
