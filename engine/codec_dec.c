/*
 * codec_dec.c: the batch decoder (layout in codec.h and docs/protocol.md).
 * Input comes from the network and from disk: every byte is untrusted.
 *
 * Invariants: every count and length is checked against its bound
 * (WB_ETOOBIG) and against the bytes left (WB_ETRUNCATED) before anything is
 * sized from it; nothing is read past the input; on any error all memory is
 * released and the caller's *out is untouched. The decoded batch lives in
 * one arena: a private copy of the input (strings point into it), the op
 * array and the point arrays; codec_batch_free releases it all at once.
 */
#include <string.h>

#include "codec.h"
#include "codec_internal.h"
#include "utf8.h"
#include "wb_error.h"

/* Smallest encoded op: head, op id, empty user, 1-byte element id. */
#define CODEC_MIN_OP_BYTES 5u

static int codec_get_props(codec_reader *r, wb_props *p, codec_arena *a)
{
    uint64_t n;
    int rc = codec_get_uvar(r, &n);
    if (rc)
        return rc;
    if (n == 0)
        return WB_EMALFORMED;
    if (n > WB_PROP_MAX)
        return WB_ETOOBIG;
    if (n * 2 > codec_left(r))
        return WB_ETRUNCATED;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key;
        if ((rc = codec_get_uvar(r, &key)))
            return rc;
        if (key < WB_PROP_MIN || key > WB_PROP_MAX)
            return WB_EUNKNOWN;
        if (key <= prev)
            return WB_EMALFORMED; /* unsorted or duplicate */
        prev = key;
        if ((rc = codec_get_prop_value(r, (unsigned)key, p, a)))
            return rc;
    }
    return 0;
}

static int codec_get_op(codec_reader *r, wb_op *op, codec_arena *a)
{
    uint8_t head;
    int rc = codec_get_u8(r, &head);
    if (rc)
        return rc;
    if (head & 0xE0)
        return WB_EMALFORMED;
    op->kind = head & 0x0F;
    if (op->kind != WB_OP_UPSERT && op->kind != WB_OP_DELETE)
        return WB_EUNKNOWN;
    op->has_stamp = (head & 0x10) ? 1 : 0;
    if ((rc = codec_get_uvar(r, &op->client_op_id)))
        return rc;
    if ((rc = codec_get_str(r, WB_MAX_USER_LEN, &op->user)))
        return rc;
    if ((rc = utf8_validate((const uint8_t *)op->user.ptr, op->user.len)))
        return rc;
    if ((rc = codec_get_str(r, WB_MAX_ID_LEN, &op->elem)))
        return rc;
    if ((rc = codec_check_id(op->elem.ptr, op->elem.len, 0)))
        return rc;
    if (op->has_stamp && (rc = codec_get_stamp(r, &op->stamp)))
        return rc;
    if (op->kind == WB_OP_UPSERT)
        return codec_get_props(r, &op->props, a);
    return 0;
}

static int codec_get_batch(codec_reader *r, wb_batch *b, codec_arena *a)
{
    uint8_t version;
    uint64_t n;
    int rc = codec_get_u8(r, &version);
    if (rc)
        return rc;
    if (version != WB_OP_VERSION)
        return WB_EBADVERSION;
    if ((rc = codec_get_str(r, WB_MAX_ID_LEN, &b->board)))
        return rc;
    if ((rc = codec_check_id(b->board.ptr, b->board.len, 0)))
        return rc;
    if ((rc = codec_get_uvar(r, &n)))
        return rc;
    if (n == 0)
        return WB_EMALFORMED;
    if (n > WB_MAX_OPS_PER_BATCH)
        return WB_ETOOBIG;
    if (n * CODEC_MIN_OP_BYTES > codec_left(r))
        return WB_ETRUNCATED;
    b->ops = codec_arena_alloc(a, (size_t)n * sizeof *b->ops);
    if (!b->ops)
        return WB_ENOMEM;
    memset(b->ops, 0, (size_t)n * sizeof *b->ops);
    b->nops = (uint32_t)n;
    for (uint32_t i = 0; i < b->nops; i++)
        if ((rc = codec_get_op(r, &b->ops[i], a)))
            return rc;
    if (codec_left(r) != 0)
        return WB_EMALFORMED; /* trailing bytes */
    return 0;
}

int codec_decode_batch(const uint8_t *buf, size_t len, wb_batch **out)
{
    if (!buf && len)
        return WB_EINVAL;
    codec_arena arena = {0};
    wb_batch *b = codec_arena_alloc(&arena, sizeof *b);
    uint8_t *copy = len ? codec_arena_alloc(&arena, len) : NULL;
    if (!b || (len && !copy)) {
        codec_arena_free(&arena);
        return WB_ENOMEM;
    }
    memset(b, 0, sizeof *b);
    if (len)
        memcpy(copy, buf, len);
    codec_reader r = {.p = copy, .len = len};
    int rc = codec_get_batch(&r, b, &arena);
    if (rc) {
        codec_arena_free(&arena);
        return rc;
    }
    codec_arena *owner = codec_arena_alloc(&arena, sizeof *owner);
    if (!owner) {
        codec_arena_free(&arena);
        return WB_ENOMEM;
    }
    *owner = arena; /* the arena now holds its own descriptor */
    b->owner_ = owner;
    *out = b;
    return 0;
}

void codec_batch_free(wb_batch *b)
{
    if (!b || !b->owner_)
        return;
    codec_arena a = *(codec_arena *)b->owner_;
    codec_arena_free(&a);
}
