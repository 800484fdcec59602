/*
 * vv.c: version vectors (see vv.h for the model and the encoding).
 *
 * A sorted array of (node, seq) with seq >= 1. Lookups are binary
 * searches; inserts shift (vectors hold a handful of nodes, at most
 * VV_MAX_NODES). Callers: the board model (per-board vector), the engine
 * (resume tokens), snapshots (stored beside the state).
 */
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "vv.h"
#include "wb_error.h"

void vv_init(vv *v)
{
    v->n = 0;
    v->cap = 0;
    v->e = NULL;
}

void vv_free(vv *v)
{
    free(v->e);
    vv_init(v);
}

void vv_clear(vv *v)
{
    v->n = 0;
}

static int vv_reserve(vv *v, uint32_t n)
{
    if (n <= v->cap)
        return 0;
    if (n > VV_MAX_NODES)
        return WB_ETOOBIG;
    uint32_t cap = v->cap ? v->cap * 2 : 4;
    if (cap < n)
        cap = n;
    if (cap > VV_MAX_NODES)
        cap = VV_MAX_NODES;
    vv_entry *e = realloc(v->e, cap * sizeof *e);
    if (!e)
        return WB_ENOMEM;
    v->e = e;
    v->cap = cap;
    return 0;
}

int vv_copy(vv *dst, const vv *src)
{
    if (dst == src)
        return 0;
    int rc = vv_reserve(dst, src->n);
    if (rc)
        return rc;
    if (src->n)
        memcpy(dst->e, src->e, src->n * sizeof *src->e);
    dst->n = src->n;
    return 0;
}

/* Index of node, or of where it would be inserted; *found says which. */
static uint32_t vv_find(const vv *v, uint64_t node, int *found)
{
    uint32_t lo = 0, hi = v->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->e[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < v->n && v->e[lo].node == node;
    return lo;
}

uint64_t vv_get(const vv *v, uint64_t node)
{
    int found;
    uint32_t i = vv_find(v, node, &found);
    return found ? v->e[i].seq : 0;
}

int vv_set(vv *v, uint64_t node, uint64_t seq)
{
    int found;
    uint32_t i = vv_find(v, node, &found);
    if (found) {
        if (seq) {
            v->e[i].seq = seq;
        } else {
            memmove(v->e + i, v->e + i + 1, (v->n - i - 1) * sizeof *v->e);
            v->n--;
        }
        return 0;
    }
    if (!seq)
        return 0;
    int rc = vv_reserve(v, v->n + 1);
    if (rc)
        return rc;
    memmove(v->e + i + 1, v->e + i, (v->n - i) * sizeof *v->e);
    v->e[i].node = node;
    v->e[i].seq = seq;
    v->n++;
    return 0;
}

int vv_advance(vv *v, uint64_t node, uint64_t seq)
{
    if (vv_get(v, node) >= seq)
        return 0;
    return vv_set(v, node, seq);
}

int vv_merge(vv *dst, const vv *src)
{
    /* Count the union first so that failure leaves dst unchanged. */
    uint32_t extra = 0;
    for (uint32_t i = 0; i < src->n; i++) {
        int found;
        vv_find(dst, src->e[i].node, &found);
        extra += !found;
    }
    int rc = vv_reserve(dst, dst->n + extra);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < src->n; i++)
        vv_advance(dst, src->e[i].node, src->e[i].seq); /* cannot fail now */
    return 0;
}

int vv_covers(const vv *a, const vv *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (vv_get(a, b->e[i].node) < b->e[i].seq)
            return 0;
    return 1;
}

vv_order vv_compare(const vv *a, const vv *b)
{
    int ab = vv_covers(a, b), ba = vv_covers(b, a);
    if (ab && ba)
        return VV_EQUAL;
    if (ab)
        return VV_AFTER;
    if (ba)
        return VV_BEFORE;
    return VV_CONCURRENT;
}

static void vv_put(codec_writer *w, const vv *v)
{
    codec_put_uvar(w, v->n);
    for (uint32_t i = 0; i < v->n; i++) {
        codec_put_uvar(w, v->e[i].node);
        codec_put_uvar(w, v->e[i].seq);
    }
}

size_t vv_encoded_size(const vv *v)
{
    codec_writer w = {0};
    vv_put(&w, v);
    return w.len;
}

int vv_encode(const vv *v, uint8_t *dst, size_t cap, size_t *len)
{
    if (!dst)
        return WB_EINVAL;
    codec_writer w = {.p = dst, .cap = cap};
    vv_put(&w, v);
    if (w.err)
        return w.err;
    *len = w.len;
    return 0;
}

static int vv_read(vv *v, codec_reader *r)
{
    uint64_t n;
    int rc = codec_get_uvar(r, &n);
    if (rc)
        return rc;
    if (n > VV_MAX_NODES)
        return WB_ETOOBIG;
    if (n * 2 > codec_left(r))
        return WB_ETRUNCATED;
    if ((rc = vv_reserve(v, (uint32_t)n)))
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        vv_entry e;
        if ((rc = codec_get_uvar(r, &e.node)) ||
            (rc = codec_get_uvar(r, &e.seq)))
            return rc;
        if (e.seq == 0 || (i > 0 && e.node <= v->e[i - 1].node))
            return WB_EMALFORMED;
        v->e[i] = e;
        v->n = (uint32_t)i + 1;
    }
    return 0;
}

int vv_decode(vv *v, const uint8_t *buf, size_t len, size_t *used)
{
    vv_clear(v);
    codec_reader r = {.p = buf, .len = len};
    int rc = vv_read(v, &r);
    if (!rc && !used && codec_left(&r))
        rc = WB_EMALFORMED;
    if (rc) {
        vv_clear(v);
        return rc;
    }
    if (used)
        *used = r.pos;
    return 0;
}
