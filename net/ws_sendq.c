/*
 * ws_sendq.c: the per-session send queue (ws_internal.h) and the frames a
 * session sends on its own behalf (replies, typed errors).
 *
 * Bound (docs/protocol.md 2.3, rule 9): qbytes counts the queued frames
 * except the welcome; presence is refused above half of sendq_max; a normal
 * frame that would pass sendq_max drops the queue and closes the session
 * with WS_CLOSE_SLOW_CONSUMER. Frames are refcounted ws_bufs, so a room
 * broadcast is one allocation shared by every queue it sits in.
 *
 * Service thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

/* A closing session always goes through the writable callback: only
 * there can the transport close the connection after the last frame. */
static void want_write(ws_sess *s)
{
    if (s->hub->o.tr.flush && s->state != WS_CLOSING)
        ws_hub_dirty(s->hub, s);
    else if (s->hub->o.tr.want_write)
        s->hub->o.tr.want_write(s->hub->o.tr.ctx, s->handle);
}

void ws_sess_drop_queue(ws_sess *s)
{
    while (s->qhead)
        ws_sess_pop(s);
}

void ws_sess_start_close(ws_sess *s, int code, const char *reason)
{
    if (s->state == WS_CLOSING)
        return;
    s->state = WS_CLOSING;
    s->close_code = code;
    s->close_reason = reason;
    want_write(s);
}

int ws_sess_enqueue(ws_sess *s, ws_buf *b, enum ws_qkind kind)
{
    size_t max = s->hub->o.sendq_max;
    if (s->state == WS_CLOSING)
        return WB_ECLOSED;
    if (kind == WS_Q_PRESENCE && s->qbytes > max / 2)
        return 0; /* presence is the first thing a slow client loses */
    if (kind == WS_Q_NORMAL && s->qbytes + b->len > max) {
        ws_hub_count(s->hub->o.ratelimited, "slow_consumer");
        WBLOGF(WBLOG_WARN, "ws slow consumer closed", WBF_BOARD(s->board),
               WBF_USER(s->user), WBF_UINT("connId", s->id),
               WBF_UINT("queued", s->qbytes));
        ws_sess_drop_queue(s);
        ws_sess_start_close(s, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
        return WB_EFULL;
    }
    ws_qent *q = malloc(sizeof *q);
    if (!q) {
        ws_sess_drop_queue(s);
        ws_sess_start_close(s, WS_CLOSE_INTERNAL, "out of memory");
        return WB_ENOMEM;
    }
    b->refs++;
    q->buf = b;
    q->next = NULL;
    q->sent = 0;
    q->counted = kind != WS_Q_WELCOME;
    if (q->counted)
        s->qbytes += b->len;
    if (s->qtail)
        s->qtail->next = q;
    else
        s->qhead = q;
    s->qtail = q;
    if (s->hub->o.msgs_out)
        metrics_inc(s->hub->o.msgs_out);
    want_write(s);
    return 0;
}

int ws_sess_peek(ws_sess *s, const uint8_t **p, size_t *len)
{
    if (!s->qhead)
        return 0;
    *p = s->qhead->buf->data;
    *len = s->qhead->buf->len;
    return 1;
}

int ws_sess_peek_part(ws_sess *s, const uint8_t **p, size_t *len,
                      size_t *sent)
{
    if (!s->qhead)
        return 0;
    *p = s->qhead->buf->data;
    *len = s->qhead->buf->len;
    *sent = s->qhead->sent;
    return 1;
}

void ws_sess_sent(ws_sess *s, size_t n)
{
    ws_qent *q = s->qhead;
    if (!q)
        return;
    q->sent += n;
    if (q->sent >= q->buf->len)
        ws_sess_pop(s);
}

void ws_sess_pop(ws_sess *s)
{
    ws_qent *q = s->qhead;
    if (!q)
        return;
    s->qhead = q->next;
    if (!s->qhead)
        s->qtail = NULL;
    if (q->counted)
        s->qbytes -= q->buf->len;
    ws_buf_unref(q->buf);
    free(q);
}

size_t ws_sess_queued(const ws_sess *s) { return s->qbytes; }

int ws_sess_joined(const ws_sess *s) { return s->state == WS_JOINED; }

int ws_sess_close_code(const ws_sess *s, const char **reason)
{
    if (reason)
        *reason = s->close_reason ? s->close_reason : "";
    return s->state == WS_CLOSING ? s->close_code : 0;
}

/* Encodes f and queues it. */
int ws_sess_send(ws_sess *s, const ws_frame *f, enum ws_qkind kind)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int rc = ws_frame_encode(f, &enc, &len);
    if (rc)
        return rc;
    ws_buf *b = ws_buf_new(enc, len);
    free(enc);
    if (!b)
        return WB_ENOMEM;
    rc = ws_sess_enqueue(s, b, kind);
    ws_buf_unref(b);
    return rc;
}

/* A typed error frame; fatal ones close with close_code afterwards. */
void ws_sess_error(ws_sess *s, uint32_t code, int close_code,
                   const char *msg)
{
    ws_frame f = {.type = WS_ERROR};
    f.u.error.code = code;
    f.u.error.fatal = close_code != 0;
    f.u.error.msg = (wb_str){msg, (uint32_t)strlen(msg)};
    ws_hub_count(s->hub->o.errors, ws_code_name(code));
    ws_sess_send(s, &f, WS_Q_NORMAL);
    if (close_code)
        ws_sess_start_close(s, close_code, ws_code_name(code));
}
