/*
 * http_trace.c: W3C Trace Context for the REST write path.
 *
 * An incoming `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex
 * flags>` is accepted (any other shape, or all-zero ids, is ignored and a
 * new trace starts); the request gets its own span id. When an ops request
 * is answered, one structured log record describes the span:
 *
 *   {"msg":"span","span":"op.apply","traceId":"4bf9...","spanId":"00f0...",
 *    "parentId":"...","boardId":"b1","userId":"u42","ops":3,
 *    "durationMs":2.4,"status":200}
 *
 * and the answer carries `traceparent: 00-<trace id>-<span id>-<flags>` so
 * the caller can link to it. The caller's sampled flag (flags bit 0) is
 * honoured, as OpenTelemetry's parent-based sampling does: a parent that
 * was not sampled gets no span record and flags 00 back; a request
 * without a (valid) traceparent starts a sampled trace. Span records are
 * budgeted by --span-rate (log_span.c).
 */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"
#include "log.h"
#include "trace.h"

static int trace_is_hex(const char *s, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                   : -1;
}

void http_trace_begin(http_req *r)
{
    char tp[64];
    static const char name[] = "traceparent:";
    r->parent_id[0] = '\0';
    int len = lws_hdr_custom_length(r->wsi, name, (int)sizeof name - 1);
    if (len == 55 && lws_hdr_custom_copy(r->wsi, tp, sizeof tp, name,
                                         (int)sizeof name - 1) == 55 &&
        tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
        memcmp(tp, "ff", 2) != 0 && trace_is_hex(tp + 3, 32) &&
        trace_is_hex(tp + 36, 16) && hex_value(tp[53]) >= 0 &&
        hex_value(tp[54]) >= 0) {
        memcpy(r->trace_id, tp + 3, 32);
        r->trace_id[32] = '\0';
        memcpy(r->parent_id, tp + 36, 16);
        r->parent_id[16] = '\0';
        r->sampled = hex_value(tp[54]) & 1;
    } else {
        trace_new_id(r->trace_id, 16);
        r->sampled = 1;
    }
    trace_new_id(r->span_id, 8);
}

void http_trace_end(http_req *r, const char *span, uint32_t nops)
{
    if (r->sampled)
        WBLOG_SPAN(WBF_STR("span", span), WBF_STR("traceId", r->trace_id),
                   WBF_STR("spanId", r->span_id),
                   WBF_STR("parentId", r->parent_id[0] ? r->parent_id : NULL),
                   WBF_BOARD(r->board), WBF_USER(r->user),
                   WBF_UINT("ops", nops),
                   WBF_DBL("durationMs",
                           (double)(rl_now_ns() - r->started_ns) / 1e6),
                   WBF_INT("status", r->status));
    if (!r->extra_hdr[0])
        snprintf(r->extra_hdr, sizeof r->extra_hdr,
                 "traceparent: 00-%s-%s-%s", r->trace_id, r->span_id,
                 r->sampled ? "01" : "00");
}
