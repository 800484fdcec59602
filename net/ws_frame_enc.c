/*
 * ws_frame_enc.c: the encoder of the WebSocket sync frames (ws_frame.h;
 * spec: docs/protocol.md part 2). It writes into a growable buffer and
 * applies the decoder's bounds first, recording the first error, so it
 * never emits bytes ws_frame_decode rejects; embedded batch, vv and state
 * bytes are copied as given (vv bytes are checked).
 *
 * Reentrant.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "utf8.h"
#include "vv.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_frame_internal.h"

typedef struct wr {
    uint8_t *p;
    size_t n, cap;
    int err;
} wr;

static void wr_raw(wr *w, const void *src, size_t n)
{
    if (w->err || n == 0)
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->err = WB_ENOMEM;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void wr_u8(wr *w, uint8_t v) { wr_raw(w, &v, 1); }

static void wr_uvar(wr *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    wr_raw(w, b, n);
}

static void wr_svar(wr *w, int32_t v)
{
    int64_t s = v;
    wr_uvar(w, ((uint64_t)s << 1) ^ (uint64_t)(s >> 63));
}

static void wr_bytes(wr *w, const void *p, size_t n)
{
    wr_uvar(w, n);
    wr_raw(w, p, n);
}

static void wr_fail(wr *w, int rc)
{
    if (!w->err)
        w->err = rc;
}

static void wr_utf8(wr *w, wb_str s, size_t max)
{
    if (s.len > max)
        wr_fail(w, WB_ETOOBIG);
    else if (utf8_validate((const uint8_t *)s.ptr, s.len))
        wr_fail(w, WB_EUTF8);
    wr_bytes(w, s.ptr, s.len);
}

static void wr_id(wr *w, wb_str s)
{
    if (s.len > WB_MAX_ID_LEN)
        wr_fail(w, WB_ETOOBIG);
    else if (!ws_frame_id_ok((const uint8_t *)s.ptr, s.len))
        wr_fail(w, WB_EMALFORMED);
    wr_bytes(w, s.ptr, s.len);
}

/* A vv encoding; for the hello's resume token, length 0 means "none" and
 * an encoded empty vv is refused (one encoding per meaning). */
static void wr_vv_bytes(wr *w, ws_bytes b, int hello)
{
    if (b.len > VV_MAX_ENCODED)
        wr_fail(w, WB_ETOOBIG);
    if (!(hello && b.len == 0) && !w->err) {
        vv v;
        vv_init(&v);
        int rc = vv_decode(&v, b.ptr, b.len, NULL);
        if (!rc && hello && v.n == 0)
            rc = WB_EMALFORMED;
        vv_free(&v);
        if (rc)
            wr_fail(w, rc);
    }
    wr_bytes(w, b.ptr, b.len);
}

static void enc_presence(wr *w, const ws_presence *p, int server)
{
    if (server) {
        wr_utf8(w, p->user, WS_MAX_NAME);
        wr_utf8(w, p->name, WS_MAX_NAME);
        uint8_t c[4] = {(uint8_t)(p->colour >> 24), (uint8_t)(p->colour >> 16),
                        (uint8_t)(p->colour >> 8), (uint8_t)p->colour};
        wr_raw(w, c, 4);
    }
    wr_svar(w, p->x);
    wr_svar(w, p->y);
    if (p->flags & ~(WS_PRESENCE_DRAWING | (server ? WS_PRESENCE_LEFT : 0u)))
        wr_fail(w, WB_EMALFORMED);
    wr_u8(w, p->flags);
    if (p->nsel > WS_MAX_SELECTION)
        wr_fail(w, WB_ETOOBIG);
    wr_uvar(w, p->nsel);
    for (uint32_t i = 0; i < p->nsel && !w->err; i++)
        wr_id(w, p->sel[i]);
}

static void enc_ops(wr *w, const ws_frame *f, int server)
{
    if (server)
        wr_uvar(w, f->u.ops.seq);
    if (f->u.ops.batch_enc.ptr) {
        wr_raw(w, f->u.ops.batch_enc.ptr, f->u.ops.batch_enc.len);
        if (!f->u.ops.batch_enc.len)
            wr_fail(w, WB_EMALFORMED);
        return;
    }
    const wb_batch *b = f->u.ops.batch;
    if (!b) {
        wr_fail(w, WB_EINVAL);
        return;
    }
    for (uint32_t i = 0; i < b->nops; i++)
        if (b->ops[i].has_stamp != server)
            wr_fail(w, WB_EMALFORMED);
    uint8_t *enc = NULL;
    size_t n = 0;
    int rc = codec_encode_batch(b, &enc, &n);
    if (rc)
        wr_fail(w, rc);
    else
        wr_raw(w, enc, n);
    free(enc);
}

static void enc_welcome(wr *w, const ws_frame *f)
{
    uint8_t fl = f->u.welcome.flags;
    if ((fl & ~(WS_WELCOME_DELTA | WS_WELCOME_RESYNC)) ||
        fl == (WS_WELCOME_DELTA | WS_WELCOME_RESYNC) ||
        f->u.welcome.role < 1 || f->u.welcome.role > 3)
        wr_fail(w, WB_EMALFORMED);
    wr_u8(w, fl);
    wr_u8(w, f->u.welcome.role);
    wr_utf8(w, f->u.welcome.user, WS_MAX_NAME);
    wr_vv_bytes(w, f->u.welcome.version, 0);
    if (!(fl & WS_WELCOME_DELTA)) {
        wr_bytes(w, f->u.welcome.state.ptr, f->u.welcome.state.len);
        return;
    }
    if (f->u.welcome.ndelta > WS_MAX_DELTA)
        wr_fail(w, WB_ETOOBIG);
    wr_uvar(w, f->u.welcome.ndelta);
    for (uint32_t i = 0; i < f->u.welcome.ndelta && !w->err; i++) {
        const ws_delta_item *d = &f->u.welcome.delta[i];
        if (!d->batch.len)
            wr_fail(w, WB_EMALFORMED);
        wr_uvar(w, d->seq);
        wr_bytes(w, d->batch.ptr, d->batch.len);
    }
}

static void enc_ack(wr *w, const ws_frame *f)
{
    uint32_t n = f->u.ack.n;
    int ok = f->u.ack.status == WS_OK;
    if (f->u.ack.status > WS_CODE_MAX || n == 0 ||
        (!ok && (f->u.ack.first_seq || f->u.ack.dups)) ||
        (ok && f->u.ack.dups > n))
        wr_fail(w, WB_EMALFORMED);
    if (n > WB_MAX_OPS_PER_BATCH)
        wr_fail(w, WB_ETOOBIG);
    wr_uvar(w, f->u.ack.status);
    wr_uvar(w, f->u.ack.first_seq);
    wr_uvar(w, f->u.ack.dups);
    wr_uvar(w, n);
    for (uint32_t i = 0; i < n && !w->err; i++) {
        const ws_ack_item *it = &f->u.ack.items[i];
        wr_uvar(w, it->client_op_id);
        if (!ok)
            continue;
        if (!it->stamp.node || !it->stamp.oseq)
            wr_fail(w, WB_EMALFORMED);
        wr_uvar(w, it->stamp.hlc);
        wr_uvar(w, it->stamp.node);
        wr_uvar(w, it->stamp.oseq);
    }
}

static void enc_body(wr *w, const ws_frame *f)
{
    switch (f->type) {
    case WS_HELLO:
        if (!f->u.hello.token.len)
            wr_fail(w, WB_EMALFORMED);
        if (f->u.hello.token.len > WS_MAX_TOKEN)
            wr_fail(w, WB_ETOOBIG);
        wr_uvar(w, f->u.hello.proto);
        wr_bytes(w, f->u.hello.token.ptr, f->u.hello.token.len);
        wr_id(w, f->u.hello.board);
        wr_vv_bytes(w, f->u.hello.resume, 1);
        break;
    case WS_OPS: enc_ops(w, f, 0); break;
    case WS_SOPS: enc_ops(w, f, 1); break;
    case WS_PRESENCE: enc_presence(w, &f->u.presence, 0); break;
    case WS_SPRESENCE: enc_presence(w, &f->u.presence, 1); break;
    case WS_PING:
    case WS_PONG: wr_uvar(w, f->u.ping.nonce); break;
    case WS_WELCOME: enc_welcome(w, f); break;
    case WS_ACK: enc_ack(w, f); break;
    case WS_ERROR:
    case WS_RESYNC:
        if (f->u.error.code == WS_OK || f->u.error.code > WS_CODE_MAX ||
            f->u.error.fatal > 1)
            wr_fail(w, WB_EMALFORMED);
        wr_uvar(w, f->u.error.code);
        if (f->type == WS_ERROR)
            wr_u8(w, f->u.error.fatal);
        wr_utf8(w, f->u.error.msg, WS_MAX_MSG);
        break;
    default: wr_fail(w, WB_EUNKNOWN); break;
    }
}

int ws_frame_encode(const ws_frame *f, uint8_t **out, size_t *len)
{
    wr w = {0};
    wr_u8(&w, f->type);
    wr_u8(&w, WS_FRAME_VERSION);
    enc_body(&w, f);
    if (w.err) {
        free(w.p);
        return w.err;
    }
    *out = w.p;
    *len = w.n;
    return 0;
}

