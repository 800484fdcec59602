/*
 * http_conn.c: the HTTP protocol callback (protocols[0]): request intake
 * (method, path, bounded body), response writing in pieces, and the list of
 * requests waiting for an engine ack.
 *
 * Invariants:
 *  - a request is answered exactly once: http_reply* sets `replied`, and
 *    only HTTP_WRITEABLE writes, after which the transaction completes;
 *  - the body never grows past the cap (cfg max-frame): a Content-Length
 *    over it is refused before any byte is read (413), a chunked body that
 *    crosses it is refused when it does;
 *  - a waiting request is on the wait list until its ack is taken, its
 *    connection closes or it has waited --request-timeout (answered 504);
 *    in the last two cases the waiter is cancelled: the ops may still
 *    become durable, the client just does not hear it.
 *
 * The wait list is process-wide: one server per process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_internal.h"
#include "log.h"
#include "wb_error.h"
#include "ws_hub.h"

#define HTTP_CHUNK 16384u

static http_req *http_wait_head;
static size_t http_wait_n;

static void http_wait_add(http_req *r)
{
    r->wait_prev = NULL;
    r->wait_next = http_wait_head;
    if (http_wait_head)
        http_wait_head->wait_prev = r;
    http_wait_head = r;
    http_wait_n++;
    r->waiting = 1;
}

static void http_wait_remove(http_req *r)
{
    if (!r->waiting)
        return;
    if (r->wait_prev)
        r->wait_prev->wait_next = r->wait_next;
    else
        http_wait_head = r->wait_next;
    if (r->wait_next)
        r->wait_next->wait_prev = r->wait_prev;
    r->wait_prev = r->wait_next = NULL;
    r->waiting = 0;
    http_wait_n--;
}

size_t http_waiting_count(void)
{
    return http_wait_n;
}

void http_service_waiters(node *n)
{
    http_req *r = http_wait_head;
    while (r) {
        http_req *next = r->wait_next;
        node_rest_result res;
        if (node_rest_take(n, r->token, &res) == 1) {
            http_wait_remove(r);
            if (r->job)
                http_reply_take(r, res.http_status, "application/json",
                                res.body, res.body_len);
            else
                http_ops_done(n, r, &res);
            lws_callback_on_writable(r->wsi);
        }
        r = next;
    }
}

size_t http_expire_waiters(node *n, uint64_t now_ns)
{
    uint64_t limit = (uint64_t)n->cfg->request_timeout_ms * 1000000u;
    size_t expired = 0;
    http_req *r = http_wait_head;
    while (r) {
        http_req *next = r->wait_next;
        if (now_ns - r->started_ns > limit) {
            node_rest_cancel(n, r->token);
            http_wait_remove(r);
            WBLOGF(WBLOG_WARN, "request timed out waiting for the engine",
                   WBF_STR("path", r->path), WBF_BOARD(r->board),
                   WBF_USER(r->user),
                   WBF_DBL("seconds",
                           (double)(now_ns - r->started_ns) / 1e9));
            http_error(r, 504, r->job ? "not answered in time"
                                      : "not acknowledged in time: the ops "
                                        "may still become durable; resend "
                                        "with the same clientOpId");
            if (!r->job)
                http_trace_end(r, "op.apply", r->nops);
            lws_callback_on_writable(r->wsi);
            expired++;
        }
        r = next;
    }
    return expired;
}

void http_wait_start(http_req *r)
{
    http_wait_add(r);
}

void http_reply_take(http_req *r, int status, const char *ctype, char *body,
                     size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = body ? len : 0;
    r->resp_off = 0;
    r->replied = 1;
}

void http_reply(http_req *r, int status, const char *ctype, const char *body,
                size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, body, len);
        copy[len] = '\0';
    }
    http_reply_take(r, copy ? status : 500, ctype, copy, copy ? len : 0);
}

static const char *http_error_code(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 429: return "rate_limited";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return "internal";
    }
}

void http_error(http_req *r, int status, const char *message)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code",
                          http_error_code(status), "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        http_reply(r, 500, "application/json", "{}", 2);
        return;
    }
    http_reply_take(r, status, "application/json", text, strlen(text));
}

static enum http_method http_method_of(struct lws *wsi)
{
    char *uri;
    int len;
    switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
    case LWSHUMETH_GET: return HTTP_GET;
    case LWSHUMETH_POST: return HTTP_POST;
    case LWSHUMETH_PUT: return HTTP_PUT;
    case LWSHUMETH_DELETE: return HTTP_DELETE;
    default: return HTTP_OTHER;
    }
}

static size_t http_body_cap(const node *n)
{
    return (size_t)n->cfg->max_frame;
}

/* LWS_CALLBACK_HTTP: 0 to go on, -1 to close. */
static int http_on_request(node *n, http_req *r, struct lws *wsi,
                           const char *uri)
{
    memset(r, 0, sizeof *r);
    r->wsi = wsi;
    r->started_ns = rl_now_ns();
    r->method = http_method_of(wsi);
    snprintf(r->path, sizeof r->path, "%s", uri ? uri : "/");
    if (strlen(uri ? uri : "") >= sizeof r->path) {
        http_error(r, 400, "path too long");
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (r->method == HTTP_POST || r->method == HTTP_PUT) {
        char cl[32] = "";
        int have = lws_hdr_copy(wsi, cl, sizeof cl,
                                WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
        unsigned long long want = have ? strtoull(cl, NULL, 10) : 0;
        if (have && want > http_body_cap(n)) {
            r->close_after = 1;
            http_error(r, 413, "request body too large");
            lws_callback_on_writable(wsi);
            return 0;
        }
        int chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
        if ((have && want > 0) || chunked) {
            r->expect_body = 1;
            return 0; /* dispatch at HTTP_BODY_COMPLETION */
        }
    }
    r->dispatched = 1;
    http_dispatch(n, r);
    if (r->replied)
        lws_callback_on_writable(wsi);
    return 0;
}

static int http_on_body(node *n, http_req *r, const void *in, size_t len)
{
    if (r->replied || r->dispatched || !len)
        return 0; /* refused, already routed (no body announced), or empty */
    if (r->body_len + len > http_body_cap(n)) {
        r->close_after = 1;
        http_error(r, 413, "request body too large");
        lws_callback_on_writable(r->wsi);
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return -1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int http_write_headers(node *n, http_req *r, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->ctype,
                                    r->resp_len, &p, end))
        return -1;
    if (r->extra_hdr[0]) {
        char *colon = strchr(r->extra_hdr, ':');
        if (colon) {
            *colon = '\0';
            char name[sizeof r->extra_hdr + 2];
            snprintf(name, sizeof name, "%s:", r->extra_hdr);
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                            (const unsigned char *)v,
                                            (int)strlen(v), &p, end))
                return -1;
        }
    }
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8,
                                     &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    r->headers_sent = 1;
    node_count_http(n, r->status);
    WBLOGF(WBLOG_DEBUG, "http", WBF_STR("path", r->path),
           WBF_INT("status", r->status), WBF_UINT("bytes", r->resp_len),
           WBF_DBL("seconds", (double)(rl_now_ns() - r->started_ns) / 1e9));
    return 0;
}

/* Headers first, then the body in HTTP_CHUNK pieces, one per WRITEABLE.
 * The transaction completes only when lws holds no unsent bytes of ours:
 * with TLS a write may be taken in part and the rest kept by lws, and
 * completing the transaction then would cut the answer. */
static int http_on_writable(node *n, http_req *r, struct lws *wsi)
{
    if (!r->replied)
        return 0; /* still waiting for an ack */
    if (!r->headers_sent) {
        if (http_write_headers(n, r, wsi))
            return -1;
    } else if (r->resp_off < r->resp_len) {
        size_t left = r->resp_len - r->resp_off;
        size_t k = left > HTTP_CHUNK ? HTTP_CHUNK : left;
        unsigned char buf[LWS_PRE + HTTP_CHUNK];
        memcpy(buf + LWS_PRE, r->resp + r->resp_off, k);
        int fin = k == left;
        /* A short count is not an error: lws keeps the rest. */
        if (lws_write(wsi, buf + LWS_PRE, k,
                      fin ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
            return -1;
        r->resp_off += k;
    }
    if (r->resp_off < r->resp_len || lws_partial_buffered(wsi)) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    int close_after = r->close_after;
    free(r->resp);
    free(r->body);
    r->resp = r->body = NULL;
    r->replied = 0;
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void http_on_closed(node *n, http_req *r)
{
    if (r->waiting) {
        node_rest_cancel(n, r->token);
        http_wait_remove(r);
    }
    free(r->resp);
    free(r->body);
    r->resp = r->body = NULL;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                  void *user, void *in, size_t len)
{
    node *n = lws_context_user(lws_get_context(wsi));
    http_req *r = user;
    if (!r && reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_on_request(n, r, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return http_on_body(n, r, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Only a request that waited for its body is routed here: one
         * routed at LWS_CALLBACK_HTTP may be waiting for an ack already. */
        if (!r->replied && !r->dispatched) {
            r->dispatched = 1;
            http_dispatch(n, r);
        }
        if (r->replied)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_on_writable(n, r, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        http_on_closed(n, r);
        break;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        http_on_closed(n, r);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (atomic_load(&n->started) && n->hub)
            ws_hub_service(n);
        http_service_waiters(n);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
