/*
 * codec_io.c: the byte-level layer of the op codec: a writer that counts,
 * fills a fixed buffer or grows a heap buffer; a bounds-checked reader;
 * LEB128 and zigzag varints; a bump arena for decoded batches; id checks.
 *
 * Invariant of the reader: no get reads past len, and a failed get does
 * not move pos. Varints are at most 10 bytes; a 10th byte above 1 overflows
 * 64 bits (WB_EMALFORMED); a last byte of 0 after a continuation is a
 * non-minimal encoding (WB_EMALFORMED); input ending inside a varint is
 * WB_ETRUNCATED.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "wb_error.h"

/* ---- writer ----------------------------------------------------------- */

static int codec_reserve(codec_writer *w, size_t n)
{
    if (w->err)
        return 0;
    if (!w->p && !w->grow)
        return 1; /* counting only */
    if (w->cap - w->len >= n && w->p)
        return 1;
    if (!w->grow) {
        w->err = WB_ETOOBIG;
        return 0;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n)
        cap *= 2;
    uint8_t *p = realloc(w->p, cap);
    if (!p) {
        w->err = WB_ENOMEM;
        return 0;
    }
    w->p = p;
    w->cap = cap;
    return 1;
}

void codec_put_bytes(codec_writer *w, const void *src, size_t n)
{
    if (!codec_reserve(w, n))
        return;
    if (w->p && n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}

void codec_put_u32be(codec_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    codec_put_bytes(w, b, 4);
}

size_t codec_uvar_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void codec_put_uvar_slow(codec_writer *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    codec_put_bytes(w, b, n);
}

void codec_put_str(codec_writer *w, const char *s, size_t n)
{
    codec_put_uvar(w, n);
    codec_put_bytes(w, s, n);
}

void codec_put_stamp(codec_writer *w, const wb_stamp *s)
{
    codec_put_uvar(w, s->hlc);
    codec_put_uvar(w, s->node);
    codec_put_uvar(w, s->oseq);
}

/* ---- reader ----------------------------------------------------------- */

int codec_get_u32be(codec_reader *r, uint32_t *v)
{
    if (codec_left(r) < 4)
        return WB_ETRUNCATED;
    const uint8_t *b = r->p + r->pos;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
         b[3];
    r->pos += 4;
    return 0;
}

int codec_get_uvar_slow(codec_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    size_t i = 0;
    for (;;) {
        if (r->pos + i >= r->len)
            return WB_ETRUNCATED;
        uint8_t b = r->p[r->pos + i];
        if (i == 9 && b > 1)
            return WB_EMALFORMED; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7F) << (7 * i);
        i++;
        if (!(b & 0x80)) {
            if (b == 0 && i > 1)
                return WB_EMALFORMED; /* non-minimal */
            break;
        }
    }
    r->pos += i;
    *v = x;
    return 0;
}

int codec_get_bytes(codec_reader *r, size_t n, const uint8_t **out)
{
    if (codec_left(r) < n)
        return WB_ETRUNCATED;
    *out = r->p + r->pos;
    r->pos += n;
    return 0;
}

int codec_get_str(codec_reader *r, uint32_t max, wb_str *out)
{
    size_t save = r->pos;
    uint64_t n;
    int rc = codec_get_uvar(r, &n);
    if (rc)
        return rc;
    if (n > max) {
        r->pos = save;
        return WB_ETOOBIG;
    }
    const uint8_t *b;
    rc = codec_get_bytes(r, (size_t)n, &b);
    if (rc) {
        r->pos = save;
        return rc;
    }
    out->ptr = (const char *)b;
    out->len = (uint32_t)n;
    return 0;
}

int codec_get_stamp(codec_reader *r, wb_stamp *out)
{
    size_t save = r->pos;
    wb_stamp s;
    int rc = codec_get_uvar(r, &s.hlc);
    if (!rc)
        rc = codec_get_uvar(r, &s.node);
    if (!rc)
        rc = codec_get_uvar(r, &s.oseq);
    if (!rc && (s.node == 0 || s.oseq == 0))
        rc = WB_EMALFORMED;
    if (rc) {
        r->pos = save;
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- arena ------------------------------------------------------------ */

/* First chunk: a one-op batch (batch, input copy, op array) fits, and the
 * whole malloc block stays within glibc's per-thread cache sizes (<= 1032
 * bytes), which keeps decode-and-free of small batches off the locked
 * malloc paths. Later chunks double. */
#define CODEC_FIRST_CHUNK 480u

struct codec_chunk {
    codec_chunk *next;
    size_t used;
    size_t size;
    _Alignas(8) uint8_t data[];
};

void *codec_arena_alloc(codec_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    codec_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : CODEC_FIRST_CHUNK;
        if (size < n)
            size = n;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void codec_arena_free(codec_arena *a)
{
    codec_chunk *c = a->head;
    while (c) {
        codec_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- ids -------------------------------------------------------------- */

int codec_check_id(const char *s, size_t n, int allow_empty)
{
    if (n == 0)
        return allow_empty ? 0 : WB_EMALFORMED;
    if (n > WB_MAX_ID_LEN)
        return WB_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return WB_EMALFORMED;
    }
    return 0;
}
