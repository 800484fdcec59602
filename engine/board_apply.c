/*
 * board_apply.c: the merge rule (board.h, docs/board-model.md) and the
 * limit check the engine runs before logging a local op.
 *
 * Apply, for an op with stamp s on element e:
 *   upsert: if e has a tombstone >= s, nothing (every value is dead on
 *           arrival). Otherwise property k takes the op's value iff k is not
 *           live, or s > its stamp, or s == its stamp and the op's value is
 *           greater (codec_prop_cmp; only reachable with forged stamps).
 *   delete: if s > tombstone, tombstone := s and every live property whose
 *           stamp <= s dies (its value is freed).
 * Both are joins in a semilattice (max per property, max tombstone), hence
 * order-insensitive and idempotent. The hot path (a move: upsert of x, y)
 * touches two inline integers and the element's small stamp table; nothing
 * is re-encoded.
 */
#include <string.h>

#include "board_internal.h"
#include "codec.h"
#include "codec_internal.h"
#include "wb_error.h"

/* Properties of op that would take effect on e (which may be NULL) if the
 * op carried stamp s; s NULL means "newer than everything". */
static uint32_t board_winners(const board_elem *e, const wb_op *op,
                              const wb_stamp *s)
{
    uint32_t mask = op->props.mask;
    if (!e || !s)
        return mask;
    if (!wb_stamp_is_zero(&e->tomb) && wb_stamp_cmp(s, &e->tomb) <= 0)
        return 0;
    wb_props cur;
    int have_cur = 0;
    uint32_t win = 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(mask & WB_PROP_BIT(k)))
            continue;
        if (!(e->live & WB_PROP_BIT(k))) {
            win |= WB_PROP_BIT(k);
            continue;
        }
        int c = wb_stamp_cmp(s, &e->st[e->sidx[k]]);
        if (c == 0) {
            if (!have_cur) {
                board_elem_props(e, &cur);
                have_cur = 1;
            }
            c = codec_prop_cmp(k, &op->props, &cur);
        }
        if (c > 0)
            win |= WB_PROP_BIT(k);
    }
    return win;
}

int board_check_op(const board *b, const wb_op *op)
{
    int rc = codec_validate_op(op);
    if (rc)
        return rc;
    if (op->kind != WB_OP_UPSERT) {
        /* A delete of an unknown id still creates a tombstone record (the
         * create may be in flight), so it counts against the byte budget:
         * otherwise deletes of random ids would grow the board unbounded. */
        if (b->limits.max_bytes &&
            !board_find(b, op->elem.ptr, op->elem.len) &&
            board_memory_usage(b) + board_record_bytes(op->elem.len) >
                b->limits.max_bytes)
            return WB_ELIMIT;
        return 0;
    }
    const wb_props *p = &op->props;
    if ((p->mask & WB_PROP_BIT(WB_PROP_POINTS)) && b->limits.max_points &&
        p->points.n > b->limits.max_points)
        return WB_ETOOBIG;
    if ((p->mask & WB_PROP_BIT(WB_PROP_TEXT)) && b->limits.max_text &&
        p->text.len > b->limits.max_text)
        return WB_ETOOBIG;
    const board_elem *e = board_find(b, op->elem.ptr, op->elem.len);
    uint32_t win = board_winners(e, op, op->has_stamp ? &op->stamp : NULL);
    int was_visible = e && (e->live & WB_PROP_BIT(WB_PROP_TYPE));
    if ((win & WB_PROP_BIT(WB_PROP_TYPE)) && !was_visible &&
        b->limits.max_elements && b->visible >= b->limits.max_elements)
        return WB_ELIMIT;
    if (!b->limits.max_bytes || !win)
        return 0;
    size_t grow = e ? 0 : board_record_bytes(op->elem.len);
    size_t shrink = 0;
    wb_props cur;
    if (e)
        board_elem_props(e, &cur);
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(win & WB_PROP_BIT(k)))
            continue;
        grow += board_value_bytes(k, p);
        if (e && (e->live & WB_PROP_BIT(k)))
            shrink += board_value_bytes(k, &cur);
    }
    if (grow > shrink &&
        board_memory_usage(b) + (grow - shrink) > b->limits.max_bytes)
        return WB_ELIMIT;
    return 0;
}

/* Index of stamp s in e's table, appending it if absent; -1 on ENOMEM. */
static int board_stamp_slot(board *b, board_elem *e, const wb_stamp *s)
{
    for (uint8_t i = 0; i < e->nst; i++)
        if (wb_stamp_cmp(&e->st[i], s) == 0)
            return i;
    return board_elem_add_stamp(b, e, s);
}

static int board_apply_upsert(board *b, const wb_op *op)
{
    board_elem *e = board_find(b, op->elem.ptr, op->elem.len);
    int created = 0;
    if (!e) {
        int rc = board_insert_record(b, op->elem.ptr, op->elem.len, &e);
        if (rc)
            return rc;
        created = 1;
    }
    uint32_t win = board_winners(e, op, &op->stamp);
    if (!win)
        return 0;
    int si = board_stamp_slot(b, e, &op->stamp);
    if (si < 0) {
        if (created)
            board_remove_record(b, e);
        return WB_ENOMEM;
    }
    int rc = 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX && !rc; k++)
        if (win & WB_PROP_BIT(k))
            rc = board_elem_set(b, e, k, &op->props, (uint8_t)si);
    board_elem_compact(b, e);
    if (rc && created && !e->live)
        board_remove_record(b, e);
    return rc;
}

static int board_apply_delete(board *b, const wb_op *op)
{
    board_elem *e = board_find(b, op->elem.ptr, op->elem.len);
    if (!e) {
        int rc = board_insert_record(b, op->elem.ptr, op->elem.len, &e);
        if (rc)
            return rc;
    }
    if (!wb_stamp_is_zero(&e->tomb) && wb_stamp_cmp(&op->stamp, &e->tomb) <= 0)
        return 0;
    e->tomb = op->stamp;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        if ((e->live & WB_PROP_BIT(k)) &&
            wb_stamp_cmp(&e->st[e->sidx[k]], &op->stamp) <= 0)
            board_elem_kill(b, e, k);
    board_elem_compact(b, e);
    return 0;
}

static int board_apply(board *b, const wb_op *op, int validate)
{
    if (!op->has_stamp)
        return WB_EINVAL;
    /* Checked even for decoded ops: the caller may have stamped them, and
     * a zero node or oseq would make the state encoding undecodable. */
    if (op->stamp.node == 0 || op->stamp.oseq == 0)
        return WB_EMALFORMED;
    int rc = validate ? codec_validate_op(op) : 0;
    if (rc)
        return rc;
    /* The vector first: it is the only step that can fail for a reason
     * other than memory (too many origins), and then nothing has changed. */
    if ((rc = vv_advance(&b->version, op->stamp.node, op->stamp.oseq)))
        return rc;
    if (op->kind == WB_OP_UPSERT)
        rc = board_apply_upsert(b, op);
    else
        rc = board_apply_delete(b, op);
    if (!rc)
        b->ops_applied++;
    return rc;
}

int board_apply_op(board *b, const wb_op *op)
{
    return board_apply(b, op, 1);
}

int board_apply_decoded(board *b, const wb_op *op)
{
    return board_apply(b, op, 0);
}

int board_apply_batch(board *b, const wb_batch *batch)
{
    /* A decoded batch was validated by the decoder; a caller-built one
     * (owner_ == NULL) is validated op by op. */
    int validate = batch->owner_ == NULL;
    for (uint32_t i = 0; i < batch->nops; i++) {
        int rc = board_apply(b, &batch->ops[i], validate);
        if (rc)
            return rc;
    }
    return 0;
}
