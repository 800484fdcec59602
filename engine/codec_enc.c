/*
 * codec_enc.c: validation and encoding of batches (layout in codec.h and
 * docs/protocol.md). Called by the engine (oplog payloads, frames to
 * clients), by tests and by tools.
 *
 * Every encode first validates with the decoder's rules, so the encoder can
 * never emit bytes the decoder would reject. Sizes are computed with a
 * counting writer, so codec_batch_size is exact.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_internal.h"
#include "utf8.h"
#include "wb_error.h"

int codec_validate_op(const wb_op *op)
{
    if (op->kind != WB_OP_UPSERT && op->kind != WB_OP_DELETE)
        return WB_EUNKNOWN;
    if (op->has_stamp > 1)
        return WB_EINVAL;
    if (op->has_stamp && (op->stamp.node == 0 || op->stamp.oseq == 0))
        return WB_EMALFORMED;
    if (op->user.len > WB_MAX_USER_LEN)
        return WB_ETOOBIG;
    if (op->user.len && !op->user.ptr)
        return WB_EINVAL;
    int rc = utf8_validate((const uint8_t *)op->user.ptr, op->user.len);
    if (rc)
        return rc;
    if ((rc = codec_check_id(op->elem.ptr, op->elem.len, 0)))
        return rc;
    if (op->kind == WB_OP_DELETE)
        return op->props.mask ? WB_EINVAL : 0;
    return codec_validate_props(&op->props);
}

static int codec_validate_batch(const wb_batch *b)
{
    int rc = codec_check_id(b->board.ptr, b->board.len, 0);
    if (rc)
        return rc;
    if (b->nops == 0)
        return WB_EMALFORMED;
    if (b->nops > WB_MAX_OPS_PER_BATCH)
        return WB_ETOOBIG;
    if (!b->ops)
        return WB_EINVAL;
    for (uint32_t i = 0; i < b->nops; i++)
        if ((rc = codec_validate_op(&b->ops[i])))
            return rc;
    return 0;
}

static void codec_put_op(codec_writer *w, const wb_op *op)
{
    codec_put_u8(w, (uint8_t)(op->kind | (op->has_stamp ? 0x10 : 0)));
    codec_put_uvar(w, op->client_op_id);
    codec_put_str(w, op->user.ptr, op->user.len);
    codec_put_str(w, op->elem.ptr, op->elem.len);
    if (op->has_stamp)
        codec_put_stamp(w, &op->stamp);
    if (op->kind != WB_OP_UPSERT)
        return;
    unsigned n = 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        n += (op->props.mask >> k) & 1u;
    codec_put_uvar(w, n);
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(op->props.mask & WB_PROP_BIT(k)))
            continue;
        codec_put_uvar(w, k);
        codec_put_prop_value(w, k, &op->props);
    }
}

static void codec_put_batch(codec_writer *w, const wb_batch *b)
{
    codec_put_u8(w, WB_OP_VERSION);
    codec_put_str(w, b->board.ptr, b->board.len);
    codec_put_uvar(w, b->nops);
    for (uint32_t i = 0; i < b->nops; i++)
        codec_put_op(w, &b->ops[i]);
}

int codec_batch_size(const wb_batch *b, size_t *size)
{
    int rc = codec_validate_batch(b);
    if (rc)
        return rc;
    codec_writer w = {0};
    codec_put_batch(&w, b);
    *size = w.len;
    return 0;
}

int codec_encode_batch_into(const wb_batch *b, uint8_t *dst, size_t cap,
                            size_t *len)
{
    int rc = codec_validate_batch(b);
    if (rc)
        return rc;
    if (!dst)
        return WB_EINVAL;
    codec_writer w = {.p = dst, .cap = cap};
    codec_put_batch(&w, b);
    if (w.err)
        return w.err;
    *len = w.len;
    return 0;
}

int codec_encode_batch(const wb_batch *b, uint8_t **out, size_t *len)
{
    size_t size;
    int rc = codec_batch_size(b, &size);
    if (rc)
        return rc;
    uint8_t *p = malloc(size);
    if (!p)
        return WB_ENOMEM;
    codec_writer w = {.p = p, .cap = size};
    codec_put_batch(&w, b);
    if (w.err) {
        free(p);
        return w.err;
    }
    *out = p;
    *len = w.len;
    return 0;
}

static int codec_str_equal(const wb_str *a, const wb_str *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

int codec_op_equal(const wb_op *a, const wb_op *b)
{
    if (a->kind != b->kind || a->has_stamp != b->has_stamp ||
        a->client_op_id != b->client_op_id ||
        !codec_str_equal(&a->user, &b->user) ||
        !codec_str_equal(&a->elem, &b->elem))
        return 0;
    if (a->has_stamp && wb_stamp_cmp(&a->stamp, &b->stamp) != 0)
        return 0;
    if (a->props.mask != b->props.mask)
        return 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        if ((a->props.mask & WB_PROP_BIT(k)) &&
            codec_prop_cmp(k, &a->props, &b->props) != 0)
            return 0;
    return 1;
}

int codec_batch_equal(const wb_batch *a, const wb_batch *b)
{
    if (!codec_str_equal(&a->board, &b->board) || a->nops != b->nops)
        return 0;
    for (uint32_t i = 0; i < a->nops; i++)
        if (!codec_op_equal(&a->ops[i], &b->ops[i]))
            return 0;
    return 1;
}
