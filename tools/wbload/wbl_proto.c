/*
 * wbl_proto.c: the frames wb-load sends (hello, one-op batches, presence,
 * the join workload's fill batches) and the light parse of what the server
 * sends (docs/protocol.md part 2).
 *
 * Ops are encoded by the engine's codec (codec_encode_batch_into), so what
 * the generator sends is exactly what a client may send. Server frames are
 * read field by field without allocating: wb-load only needs the client op
 * ids of acks and broadcasts (one-op batches take a fast path; longer
 * batches go through codec_decode_batch), the presence x/y (slot time) and
 * the welcome's state (decoded with board_state_decode for `join`).
 *
 * Buffers: wbl_buf_new mallocs LWS_PRE headroom + len; the send queue owns
 * them (wbl_client.c frees after lws_write).
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "op.h"
#include "wbl.h"


uint64_t wbl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

wbl_buf *wbl_buf_new(size_t len)
{
    wbl_buf *b = malloc(sizeof *b + LWS_PRE + len);
    if (b)
        b->len = len;
    return b;
}

static uint8_t *put_uvar(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_svar(uint8_t *p, int64_t v)
{
    return put_uvar(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
    p = put_uvar(p, n);
    memcpy(p, s, n);
    return p + n;
}

wbl_buf *wbl_frame_hello(const char *token, const char *board)
{
    size_t tl = strlen(token), bl = strlen(board);
    wbl_buf *b = wbl_buf_new(2 + 10 + 10 + tl + 10 + bl + 1);
    if (!b)
        return NULL;
    uint8_t *s = b->data + LWS_PRE, *p = s;
    *p++ = 0x01; /* hello */
    *p++ = 0x01; /* frame version */
    p = put_uvar(p, 1); /* proto */
    p = put_str(p, token, tl);
    p = put_str(p, board, bl);
    p = put_uvar(p, 0); /* no resume token */
    b->len = (size_t)(p - s);
    return b;
}

static wbl_buf *frame_batch(const wb_batch *bt, size_t cap)
{
    wbl_buf *b = wbl_buf_new(cap + 2);
    if (!b)
        return NULL;
    uint8_t *s = b->data + LWS_PRE;
    s[0] = 0x02; /* client ops */
    s[1] = 0x01;
    size_t len = 0;
    if (codec_encode_batch_into(bt, s + 2, cap, &len)) {
        free(b);
        return NULL;
    }
    b->len = len + 2;
    return b;
}

/* Stroke points: a wavy line of n points with pressure. */
static void stroke_points(uint32_t n, uint64_t k, int32_t *xy, uint16_t *pr)
{
    for (uint32_t i = 0; i < n; i++) {
        xy[2 * i] = (int32_t)(i * 150u);
        xy[2 * i + 1] = (int32_t)(((i + k) % 7u) * 90u);
        pr[i] = (uint16_t)(300u + (i * 37u) % 700u);
    }
}

wbl_buf *wbl_frame_op(const wbl_run *r, wbl_client *c, uint64_t slot_us,
                      uint64_t k)
{
    char elem[64];
    int32_t xy[128];
    uint16_t pr[64];
    wb_op op;
    memset(&op, 0, sizeof op);
    op.kind = WB_OP_UPSERT;
    op.client_op_id = slot_us << WBL_CID_SHIFT | c->idx;
    wb_props *pp = &op.props;
    int32_t x = (int32_t)((k * 7919u) % 100000u), y = (int32_t)((k * 104729u) % 80000u);
    if (k < 8 || (k % 5u) != 4u) {
        /* a shape of this client: created by its first 8 ops, then moved */
        snprintf(elem, sizeof elem, "%sc%ue%u", r->nonce, c->idx,
                 (unsigned)(k % 8u));
        pp->mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
        pp->x = x;
        pp->y = y;
        if (k < 8) {
            pp->mask |= WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_WIDTH) |
                        WB_PROP_BIT(WB_PROP_HEIGHT) |
                        WB_PROP_BIT(WB_PROP_STROKE_COLOR);
            pp->type = WB_ELEM_RECT;
            pp->width = 8000;
            pp->height = 5000;
            pp->stroke_color = 0x1e1e1effu;
        }
    } else {
        /* a stroke being drawn: the full points list, growing by 4 points
         * per upsert up to 64, then the next of 4 stroke ids */
        snprintf(elem, sizeof elem, "%sc%us%u", r->nonce, c->idx,
                 (unsigned)((k / 80u) % 4u));
        uint32_t n = 4u * (uint32_t)((k / 5u) % 16u + 1u);
        stroke_points(n, k, xy, pr);
        pp->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                   WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
                   WB_PROP_BIT(WB_PROP_STROKE_WIDTH) |
                   WB_PROP_BIT(WB_PROP_POINTS);
        pp->type = WB_ELEM_STROKE;
        pp->x = x;
        pp->y = y;
        pp->stroke_color = 0x2f6fdfffu;
        pp->stroke_width = 200;
        pp->points.n = n;
        pp->points.xy = xy;
        pp->points.pressure = pr;
    }
    op.elem.ptr = elem;
    op.elem.len = (uint32_t)strlen(elem);
    wb_batch bt = {{r->boards[c->room], (uint32_t)strlen(r->boards[c->room])},
                   1, &op, NULL};
    return frame_batch(&bt, 1024);
}

wbl_buf *wbl_frame_fill(const wbl_run *r, wbl_client *c, uint32_t first,
                        uint32_t n, uint64_t cid)
{
    static const char *const texts[] = {"Plan", "Ship it", "Review notes",
                                        "Q3 goals", "Idea"};
    wb_op *ops = calloc(n, sizeof *ops);
    char (*ids)[32] = calloc(n, sizeof *ids);
    int32_t *xy = malloc(2u * 24u * n * sizeof *xy);
    uint16_t *pr = malloc(24u * n * sizeof *pr);
    wbl_buf *b = NULL;
    if (!ops || !ids || !xy || !pr)
        goto out;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = first + j;
        wb_op *op = &ops[j];
        op->kind = WB_OP_UPSERT;
        op->client_op_id = (cid + j) << WBL_CID_SHIFT | c->idx;
        snprintf(ids[j], sizeof ids[j], "f%u", i);
        op->elem.ptr = ids[j];
        op->elem.len = (uint32_t)strlen(ids[j]);
        wb_props *pp = &op->props;
        pp->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                   WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_STROKE_COLOR);
        pp->x = (int32_t)((i * 7919u) % 400000u);
        pp->y = (int32_t)((i * 104729u) % 300000u);
        pp->stroke_color = 0x1e1e1effu;
        switch (i % 10u) {
        case 0:
        case 1: /* 20% strokes of 24 points with pressure */
            pp->type = WB_ELEM_STROKE;
            pp->mask |= WB_PROP_BIT(WB_PROP_STROKE_WIDTH) |
                        WB_PROP_BIT(WB_PROP_POINTS);
            pp->stroke_width = 200;
            stroke_points(24, i, xy + 48u * j, pr + 24u * j);
            pp->points.n = 24;
            pp->points.xy = xy + 48u * j;
            pp->points.pressure = pr + 24u * j;
            break;
        case 2: /* 10% text */
            pp->type = WB_ELEM_TEXT;
            pp->mask |= WB_PROP_BIT(WB_PROP_TEXT) |
                        WB_PROP_BIT(WB_PROP_FONT_SIZE);
            pp->text.ptr = texts[i % 5u];
            pp->text.len = (uint32_t)strlen(texts[i % 5u]);
            pp->font_size = 1600;
            break;
        default: /* 70% rectangles */
            pp->type = WB_ELEM_RECT;
            pp->mask |= WB_PROP_BIT(WB_PROP_WIDTH) |
                        WB_PROP_BIT(WB_PROP_HEIGHT) |
                        WB_PROP_BIT(WB_PROP_FILL_COLOR);
            pp->width = 8000 + (int32_t)(i % 50u) * 100;
            pp->height = 5000;
            pp->fill_color = 0xffd966ffu;
            break;
        }
    }
    wb_batch bt = {{r->boards[c->room], (uint32_t)strlen(r->boards[c->room])},
                   n, ops, NULL};
    b = frame_batch(&bt, 160u * n + 128u);
out:
    free(ops);
    free(ids);
    free(xy);
    free(pr);
    return b;
}

wbl_buf *wbl_frame_presence(uint64_t slot_us)
{
    wbl_buf *b = wbl_buf_new(2 + 10 + 10 + 2);
    if (!b)
        return NULL;
    uint8_t *s = b->data + LWS_PRE, *p = s;
    *p++ = 0x03;
    *p++ = 0x01;
    p = put_svar(p, (int64_t)(slot_us & 0x7fffffffu));
    p = put_svar(p, (int64_t)((slot_us >> 31) & 0x7fffffffu));
    *p++ = 0; /* flags */
    p = put_uvar(p, 0); /* no selection */
    b->len = (size_t)(p - s);
    return b;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p, *end;
    int bad;
} rd;

static uint64_t rd_uvar(rd *r)
{
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (r->p >= r->end) {
            r->bad = 1;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t rd_svar(rd *r)
{
    uint64_t u = rd_uvar(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *rd_bytes(rd *r, size_t *len)
{
    uint64_t n = rd_uvar(r);
    if (r->bad || n > (uint64_t)(r->end - r->p)) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *s = r->p;
    r->p += n;
    *len = (size_t)n;
    return s;
}

static uint8_t rd_u8(rd *r)
{
    if (r->p >= r->end) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}

/* A client op id seen in a broadcast. */
static void on_broadcast(wbl_client *c, uint64_t cid, uint64_t now)
{
    const wbl_run *r = c->w->run;
    wbl_stats *st = &c->w->st;
    uint64_t t = cid >> WBL_CID_SHIFT;
    uint32_t from = (uint32_t)(cid & (WBL_MAX_CLIENTS - 1u));
    if (t < r->t_origin_us || t > now || from >= r->nclients) {
        st->foreign++;
        return;
    }
    if (from == c->idx) {
        st->self_echo++;
        return;
    }
    st->deliveries++;
    wbl_hist_add(&st->bcast, now - t);
}

static void handle_sops(wbl_client *c, rd *r, uint64_t now)
{
    (void)rd_uvar(r); /* seq */
    const uint8_t *batch = r->p;
    size_t blen = (size_t)(r->end - r->p);
    (void)rd_u8(r); /* batch version */
    size_t bl;
    (void)rd_bytes(r, &bl); /* board */
    uint64_t nops = rd_uvar(r);
    if (r->bad || nops == 0) {
        c->w->st.errors[WBL_E_DECODE]++;
        return;
    }
    if (nops == 1) {
        (void)rd_u8(r); /* head */
        uint64_t cid = rd_uvar(r);
        if (r->bad) {
            c->w->st.errors[WBL_E_DECODE]++;
            return;
        }
        on_broadcast(c, cid, now);
        return;
    }
    wb_batch *b = NULL;
    if (codec_decode_batch(batch, blen, &b)) {
        c->w->st.errors[WBL_E_DECODE]++;
        return;
    }
    for (uint32_t i = 0; i < b->nops; i++)
        on_broadcast(c, b->ops[i].client_op_id, now);
    codec_batch_free(b);
}

static void handle_ack(wbl_client *c, rd *r, uint64_t now)
{
    wbl_stats *st = &c->w->st;
    const wbl_run *run = c->w->run;
    uint64_t status = rd_uvar(r);
    (void)rd_uvar(r); /* first_seq */
    uint64_t dups = rd_uvar(r);
    uint64_t n = rd_uvar(r);
    if (r->bad || n == 0 || n > 1024) {
        st->errors[WBL_E_DECODE]++;
        return;
    }
    st->ack_frames++;
    if (c->filler) {
        wbl_client_fill_ack(c, (uint32_t)status, (uint32_t)n, now);
        return;
    }
    if (status != 0) {
        st->ack_code[status < WBL_NCODES ? status : WBL_NCODES - 1] += n;
        st->errors[WBL_E_ACK] += n;
        return;
    }
    st->dups += dups;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t cid = rd_uvar(r);
        (void)rd_uvar(r);
        (void)rd_uvar(r);
        (void)rd_uvar(r);
        if (r->bad) {
            st->errors[WBL_E_DECODE]++;
            return;
        }
        st->acked++;
        uint64_t t = cid >> WBL_CID_SHIFT;
        if (t >= run->t_origin_us && t <= now)
            wbl_hist_add(&st->ack, now - t);
    }
}

void wbl_frame_handle(wbl_client *c, const uint8_t *p, size_t len,
                      uint64_t now)
{
    wbl_stats *st = &c->w->st;
    st->frames_in++;
    st->bytes_in += len;
    if (len < 2 || p[1] != 0x01) {
        st->errors[WBL_E_DECODE]++;
        return;
    }
    rd r = {p + 2, p + len, 0};
    switch (p[0]) {
    case 0x81: { /* welcome */
        uint8_t flags = rd_u8(&r);
        (void)rd_u8(&r); /* role */
        size_t l;
        (void)rd_bytes(&r, &l); /* user */
        (void)rd_bytes(&r, &l); /* version */
        const uint8_t *state = NULL;
        size_t slen = 0;
        if (!(flags & 0x01))
            state = rd_bytes(&r, &slen);
        if (r.bad) {
            st->errors[WBL_E_DECODE]++;
            return;
        }
        wbl_client_welcome(c, now, state, slen, flags & 0x01);
        break;
    }
    case 0x82:
        handle_sops(c, &r, now);
        break;
    case 0x83:
        handle_ack(c, &r, now);
        break;
    case 0x84: { /* presence */
        size_t l;
        (void)rd_bytes(&r, &l); /* user */
        (void)rd_bytes(&r, &l); /* name */
        r.p += 4;                /* colour */
        if (r.p > r.end) {
            st->errors[WBL_E_DECODE]++;
            return;
        }
        int64_t x = rd_svar(&r), y = rd_svar(&r);
        if (r.bad || x < 0 || y < 0) {
            st->errors[WBL_E_DECODE]++;
            return;
        }
        st->presence_recv++;
        uint64_t t = (uint64_t)x | (uint64_t)y << 31;
        if (t >= c->w->run->t_origin_us && t <= now)
            wbl_hist_add(&st->presence, now - t);
        break;
    }
    case 0x85: { /* error */
        uint64_t code = rd_uvar(&r);
        st->errors[WBL_E_ERROR_FRAME]++;
        st->err_code[code < WBL_NCODES ? code : WBL_NCODES - 1]++;
        break;
    }
    case 0x86:
        st->errors[WBL_E_RESYNC]++;
        break;
    case 0x87: /* pong */
        break;
    default:
        st->errors[WBL_E_DECODE]++;
        break;
    }
}
