/*
 * ws_frame.c: decoder and encoder of the WebSocket sync frames (grammar in
 * ws_frame.h, normative spec in docs/protocol.md part 2).
 *
 * The decoder reads through a bounds-checked cursor: every length or count
 * is compared with the bytes left before anything is allocated or read, so
 * a frame of n bytes allocates O(n) at most. Byte fields are views into the
 * input. The encoder writes into a growable buffer and applies the
 * decoder's bounds first, so encode(decode(b)) == b and the encoder never
 * emits what the decoder rejects (tests/test_net_ws_frame.c,
 * fuzz/fuzz_ws_frame.c).
 *
 * The encoder is ws_frame_enc.c. Called by the session layer on the lws
 * service thread and by tests and clients; reentrant.
 */
#include "ws_frame.h"
#include "ws_frame_internal.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "utf8.h"
#include "vv.h"
#include "wb_error.h"

/* ---- reading ------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
} rd;

static size_t rd_left(const rd *r) { return r->n - r->off; }

static int rd_u8(rd *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return WB_ETRUNCATED;
    *v = r->p[r->off++];
    return 0;
}

/* Minimal unsigned LEB128, at most 64 bits. */
static int rd_uvar(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (rd_left(r) < 1)
            return WB_ETRUNCATED;
        uint8_t b = r->p[r->off++];
        if (i == 9 && b > 1)
            return WB_EMALFORMED;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return WB_EMALFORMED; /* non-minimal */
            *v = x;
            return 0;
        }
    }
    return WB_EMALFORMED;
}

static int rd_uvar32(rd *r, uint32_t max, uint32_t *v)
{
    uint64_t x;
    int rc = rd_uvar(r, &x);
    if (rc)
        return rc;
    if (x > max)
        return WB_ETOOBIG;
    *v = (uint32_t)x;
    return 0;
}

static int rd_svar32(rd *r, int32_t *v)
{
    uint64_t z;
    int rc = rd_uvar(r, &z);
    if (rc)
        return rc;
    int64_t s = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    if (s < INT32_MIN || s > INT32_MAX)
        return WB_EMALFORMED;
    *v = (int32_t)s;
    return 0;
}

/* len:uvar bytes, len <= max (WB_ETOOBIG), len <= left (WB_ETRUNCATED). */
static int rd_bytes(rd *r, size_t max, ws_bytes *out)
{
    uint64_t len;
    int rc = rd_uvar(r, &len);
    if (rc)
        return rc;
    if (len > max)
        return WB_ETOOBIG;
    if (len > rd_left(r))
        return WB_ETRUNCATED;
    out->ptr = r->p + r->off;
    out->len = (size_t)len;
    r->off += (size_t)len;
    return 0;
}

static int rd_utf8(rd *r, size_t max, wb_str *out)
{
    ws_bytes b;
    int rc = rd_bytes(r, max, &b);
    if (rc)
        return rc;
    if (utf8_validate(b.ptr, b.len))
        return WB_EUTF8;
    out->ptr = (const char *)b.ptr;
    out->len = (uint32_t)b.len;
    return 0;
}

static int rd_id(rd *r, wb_str *out)
{
    ws_bytes b;
    int rc = rd_bytes(r, WB_MAX_ID_LEN, &b);
    if (rc)
        return rc;
    if (!ws_frame_id_ok(b.ptr, b.len))
        return WB_EMALFORMED;
    out->ptr = (const char *)b.ptr;
    out->len = (uint32_t)b.len;
    return 0;
}

/* [A-Za-z0-9_-]{1,64}: the id rule of docs/protocol.md 1.1. */
int ws_frame_id_ok(const uint8_t *p, size_t n)
{
    if (n < 1 || n > WB_MAX_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---- bodies ------------------------------------------------------------- */

static int dec_hello(rd *r, ws_frame *f)
{
    ws_bytes tok;
    int rc = rd_uvar(r, &f->u.hello.proto);
    if (!rc)
        rc = rd_bytes(r, WS_MAX_TOKEN, &tok);
    if (!rc && tok.len == 0)
        rc = WB_EMALFORMED;
    if (rc)
        return rc;
    f->u.hello.token.ptr = (const char *)tok.ptr;
    f->u.hello.token.len = (uint32_t)tok.len;
    rc = rd_id(r, &f->u.hello.board);
    if (!rc)
        rc = rd_bytes(r, VV_MAX_ENCODED, &f->u.hello.resume);
    if (rc || f->u.hello.resume.len == 0)
        return rc;
    vv v;
    vv_init(&v);
    rc = vv_decode(&v, f->u.hello.resume.ptr, f->u.hello.resume.len, NULL);
    if (!rc && v.n == 0)
        rc = WB_EMALFORMED; /* an empty token is written as length 0 */
    vv_free(&v);
    return rc;
}

/* The batch must be all stamped (server) or all unstamped (client). */
static int dec_batch(const uint8_t *p, size_t n, int stamped, ws_frame *f)
{
    wb_batch *b = NULL;
    int rc = codec_decode_batch(p, n, &b);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < b->nops; i++)
        if (b->ops[i].has_stamp != stamped) {
            codec_batch_free(b);
            return WB_EMALFORMED;
        }
    f->u.ops.batch_enc.ptr = p;
    f->u.ops.batch_enc.len = n;
    f->u.ops.batch = b;
    return 0;
}

static int dec_ops(rd *r, ws_frame *f, int server)
{
    if (server) {
        int rc = rd_uvar(r, &f->u.ops.seq);
        if (rc)
            return rc;
    }
    int rc = dec_batch(r->p + r->off, rd_left(r), server, f);
    if (!rc)
        r->off = r->n;
    return rc;
}

static int dec_presence(rd *r, ws_frame *f, int server)
{
    ws_presence *p = &f->u.presence;
    int rc = 0;
    if (server) {
        rc = rd_utf8(r, WS_MAX_NAME, &p->user);
        if (!rc)
            rc = rd_utf8(r, WS_MAX_NAME, &p->name);
        if (!rc && rd_left(r) < 4)
            rc = WB_ETRUNCATED;
        if (rc)
            return rc;
        const uint8_t *c = r->p + r->off;
        p->colour = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
                    (uint32_t)c[2] << 8 | c[3];
        r->off += 4;
    }
    rc = rd_svar32(r, &p->x);
    if (!rc)
        rc = rd_svar32(r, &p->y);
    if (!rc)
        rc = rd_u8(r, &p->flags);
    if (!rc && (p->flags & ~(WS_PRESENCE_DRAWING |
                             (server ? WS_PRESENCE_LEFT : 0u))))
        rc = WB_EMALFORMED;
    if (!rc)
        rc = rd_uvar32(r, WS_MAX_SELECTION, &p->nsel);
    if (!rc && p->nsel > rd_left(r) / 2) /* an id is at least 2 bytes */
        rc = WB_ETRUNCATED;
    if (rc || p->nsel == 0)
        return rc;
    p->sel = calloc(p->nsel, sizeof *p->sel);
    if (!p->sel)
        return WB_ENOMEM;
    for (uint32_t i = 0; i < p->nsel && !rc; i++)
        rc = rd_id(r, &p->sel[i]);
    return rc;
}

static int dec_welcome_delta(rd *r, ws_frame *f)
{
    int rc = rd_uvar32(r, WS_MAX_DELTA, &f->u.welcome.ndelta);
    if (rc)
        return rc;
    uint32_t n = f->u.welcome.ndelta;
    if (n > rd_left(r) / 2) /* seq and len: at least 2 bytes */
        return WB_ETRUNCATED;
    if (n == 0)
        return 0;
    f->u.welcome.delta = calloc(n, sizeof *f->u.welcome.delta);
    if (!f->u.welcome.delta)
        return WB_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        ws_delta_item *d = &f->u.welcome.delta[i];
        rc = rd_uvar(r, &d->seq);
        if (!rc)
            rc = rd_bytes(r, SIZE_MAX, &d->batch);
        if (!rc && d->batch.len == 0)
            rc = WB_EMALFORMED;
        if (rc)
            return rc;
    }
    return 0;
}

static int dec_welcome(rd *r, ws_frame *f)
{
    int rc = rd_u8(r, &f->u.welcome.flags);
    if (!rc && (f->u.welcome.flags & ~(WS_WELCOME_DELTA | WS_WELCOME_RESYNC)))
        rc = WB_EMALFORMED;
    if (!rc && f->u.welcome.flags == (WS_WELCOME_DELTA | WS_WELCOME_RESYNC))
        rc = WB_EMALFORMED; /* a resync always carries the full state */
    if (!rc)
        rc = rd_u8(r, &f->u.welcome.role);
    if (!rc && (f->u.welcome.role < 1 || f->u.welcome.role > 3))
        rc = WB_EMALFORMED;
    if (!rc)
        rc = rd_utf8(r, WS_MAX_NAME, &f->u.welcome.user);
    if (!rc)
        rc = rd_bytes(r, VV_MAX_ENCODED, &f->u.welcome.version);
    if (rc)
        return rc;
    vv v;
    vv_init(&v);
    rc = vv_decode(&v, f->u.welcome.version.ptr, f->u.welcome.version.len,
                   NULL);
    vv_free(&v);
    if (rc)
        return rc;
    if (f->u.welcome.flags & WS_WELCOME_DELTA)
        return dec_welcome_delta(r, f);
    return rd_bytes(r, SIZE_MAX, &f->u.welcome.state);
}

static int dec_ack(rd *r, ws_frame *f)
{
    int rc = rd_uvar32(r, WS_CODE_MAX, &f->u.ack.status);
    if (rc == WB_ETOOBIG)
        rc = WB_EMALFORMED;
    if (!rc)
        rc = rd_uvar(r, &f->u.ack.first_seq);
    if (!rc)
        rc = rd_uvar32(r, WB_MAX_OPS_PER_BATCH, &f->u.ack.dups);
    if (!rc)
        rc = rd_uvar32(r, WB_MAX_OPS_PER_BATCH, &f->u.ack.n);
    if (rc)
        return rc;
    uint32_t n = f->u.ack.n;
    int ok = f->u.ack.status == WS_OK;
    if (n == 0 || (!ok && (f->u.ack.first_seq || f->u.ack.dups)) ||
        (ok && f->u.ack.dups > n))
        return WB_EMALFORMED;
    if (n > rd_left(r) / (ok ? 4u : 1u))
        return WB_ETRUNCATED;
    f->u.ack.items = calloc(n, sizeof *f->u.ack.items);
    if (!f->u.ack.items)
        return WB_ENOMEM;
    for (uint32_t i = 0; i < n && !rc; i++) {
        ws_ack_item *it = &f->u.ack.items[i];
        rc = rd_uvar(r, &it->client_op_id);
        if (!rc && ok) {
            rc = rd_uvar(r, &it->stamp.hlc);
            if (!rc)
                rc = rd_uvar(r, &it->stamp.node);
            if (!rc)
                rc = rd_uvar(r, &it->stamp.oseq);
            if (!rc && (it->stamp.node == 0 || it->stamp.oseq == 0))
                rc = WB_EMALFORMED;
        }
    }
    return rc;
}

static int dec_error(rd *r, ws_frame *f, int resync)
{
    int rc = rd_uvar32(r, WS_CODE_MAX, &f->u.error.code);
    if (rc == WB_ETOOBIG || (!rc && f->u.error.code == WS_OK))
        rc = WB_EMALFORMED;
    if (!rc && !resync) {
        rc = rd_u8(r, &f->u.error.fatal);
        if (!rc && f->u.error.fatal > 1)
            rc = WB_EMALFORMED;
    }
    if (!rc)
        rc = rd_utf8(r, WS_MAX_MSG, &f->u.error.msg);
    return rc;
}

static int dec_body(rd *r, ws_frame *f)
{
    switch (f->type) {
    case WS_HELLO: return dec_hello(r, f);
    case WS_OPS: return dec_ops(r, f, 0);
    case WS_SOPS: return dec_ops(r, f, 1);
    case WS_PRESENCE: return dec_presence(r, f, 0);
    case WS_SPRESENCE: return dec_presence(r, f, 1);
    case WS_PING:
    case WS_PONG: return rd_uvar(r, &f->u.ping.nonce);
    case WS_WELCOME: return dec_welcome(r, f);
    case WS_ACK: return dec_ack(r, f);
    case WS_ERROR: return dec_error(r, f, 0);
    case WS_RESYNC: return dec_error(r, f, 1);
    default: return WB_EUNKNOWN;
    }
}

int ws_frame_decode(const uint8_t *buf, size_t len, size_t max_frame,
                    ws_frame *f)
{
    memset(f, 0, sizeof *f);
    if (!buf && len)
        return WB_EINVAL;
    if (max_frame && len > max_frame)
        return WB_ETOOBIG;
    rd r = {buf, len, 0};
    uint8_t type, ver;
    int rc = rd_u8(&r, &type);
    if (!rc)
        rc = rd_u8(&r, &ver);
    if (rc)
        return rc;
    if (ver != WS_FRAME_VERSION)
        return WB_EBADVERSION;
    f->type = type;
    rc = dec_body(&r, f);
    if (!rc && rd_left(&r))
        rc = WB_EMALFORMED;
    if (rc)
        ws_frame_clear(f);
    return rc;
}

void ws_frame_clear(ws_frame *f)
{
    switch (f->type) {
    case WS_OPS:
    case WS_SOPS: codec_batch_free(f->u.ops.batch); break;
    case WS_PRESENCE:
    case WS_SPRESENCE: free(f->u.presence.sel); break;
    case WS_WELCOME: free(f->u.welcome.delta); break;
    case WS_ACK: free(f->u.ack.items); break;
    default: break;
    }
    memset(f, 0, sizeof *f);
}

/* ---- names -------------------------------------------------------------- */

uint32_t ws_code_from_error(int rc)
{
    switch (rc) {
    case 0: return WS_OK;
    case WB_ETOOBIG: return WS_CODE_TOO_BIG;
    case WB_ELIMIT: return WS_CODE_LIMIT;
    case WB_ESTALE: return WS_CODE_STALE;
    case WB_ENOTFOUND: return WS_CODE_NOT_FOUND;
    case WB_EAGAIN:
    case WB_ECLOSED:
    case WB_ETIMEDOUT: return WS_CODE_UNAVAILABLE;
    case WB_EBADVERSION: return WS_CODE_VERSION;
    case WB_EBADSIG:
    case WB_EEXPIRED:
    case WB_ENOTYET:
    case WB_EBADALG: return WS_CODE_UNAUTHORIZED;
    case WB_EMALFORMED:
    case WB_ETRUNCATED:
    case WB_EUTF8:
    case WB_EUNKNOWN:
    case WB_EINVAL: return WS_CODE_MALFORMED;
    default: return WS_CODE_INTERNAL;
    }
}

static const char *const code_names[] = {
    "ok",        "malformed",   "too_big",  "unauthorized",
    "forbidden", "rate_limited", "limit",   "unavailable",
    "protocol",  "version",     "internal", "stale",
    "not_found",
};
_Static_assert(sizeof code_names / sizeof code_names[0] == WS_CODE_MAX + 1,
               "one name per ws_code");

const char *ws_code_name(uint32_t code)
{
    return code <= WS_CODE_MAX ? code_names[code] : "unknown";
}

const char *ws_frame_type_name(uint8_t type)
{
    switch (type) {
    case WS_HELLO: return "hello";
    case WS_OPS: return "ops";
    case WS_PRESENCE: return "presence";
    case WS_PING: return "ping";
    case WS_WELCOME: return "welcome";
    case WS_SOPS: return "server_ops";
    case WS_ACK: return "ack";
    case WS_SPRESENCE: return "server_presence";
    case WS_ERROR: return "error";
    case WS_RESYNC: return "resync";
    case WS_PONG: return "pong";
    default: return "unknown";
    }
}
