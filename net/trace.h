/*
 * trace.h: W3C Trace Context ids for the node's spans (public API, prefix
 * trace_).
 *
 * A span is logged as one structured record, {"msg":"span","span":<name>,
 * "traceId":<32 hex>,"spanId":<16 hex>,...,"durationMs":...}: op.apply
 * (http_trace.c, continuing an incoming traceparent), board.join
 * (ws_session.c) and snapshot.write (node.c, from the engine's event).
 */
#ifndef WB_TRACE_H
#define WB_TRACE_H

#include <stddef.h>

#define TRACE_ID_HEX 33u /* 16 random bytes as hex, plus NUL */
#define SPAN_ID_HEX 17u  /* 8 random bytes as hex, plus NUL */

/* Writes 2 * bytes lowercase hex digits of a random id and a NUL into out
 * (at least 2 * bytes + 1 chars); never all zeros (W3C: invalid). bytes:
 * 16 for a trace id, 8 for a span id. */
void trace_new_id(char *out, size_t bytes);

#endif /* WB_TRACE_H */
