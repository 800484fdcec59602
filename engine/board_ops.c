/*
 * board_ops.c: a board's state as the stamped ops that rebuild it.
 *
 * Used to merge a board's full state into another node through the normal
 * op path (replication gap repair: the state fetched from a peer becomes
 * remote ops, logged and applied like any other, so the merge is durable
 * and last-writer-wins by construction).
 *
 * For every record, in id order: one delete carrying its tombstone (if it
 * has one), then one upsert per distinct stamp of its live properties,
 * holding exactly the live properties that carry that stamp. Applying these
 * ops to an empty board gives the same records (values, stamps,
 * tombstones); applying them to any board is the LWW merge of both states,
 * since each op is a value that was already part of the source's state.
 * The version vector of the result covers only the stamps that survived in
 * the source (overwritten ops leave no trace in a state).
 */
#include <stdlib.h>
#include <string.h>

#include "board_internal.h"
#include "wb_error.h"

static int elem_ops(const board_elem *e, board_op_fn cb, void *arg)
{
    wb_op op;
    memset(&op, 0, sizeof op);
    op.elem = (wb_str){e->id, e->idlen};
    op.has_stamp = 1;
    if (!wb_stamp_is_zero(&e->tomb)) {
        op.kind = WB_OP_DELETE;
        op.stamp = e->tomb;
        int rc = cb(arg, &op);
        if (rc)
            return rc;
    }
    wb_props all;
    board_elem_props(e, &all);
    for (unsigned i = 0; i < e->nst; i++) {
        uint32_t mask = 0;
        for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
            if ((e->live & WB_PROP_BIT(k)) && e->sidx[k] == i)
                mask |= WB_PROP_BIT(k);
        if (!mask)
            continue;
        op.kind = WB_OP_UPSERT;
        op.stamp = e->st[i];
        op.props = all;
        op.props.mask = mask;
        int rc = cb(arg, &op);
        if (rc)
            return rc;
    }
    return 0;
}

int board_for_each_op(const board *b, board_op_fn cb, void *arg)
{
    board_elem **recs = NULL;
    int rc = board_sorted_records(b, &recs);
    if (rc)
        return rc;
    for (size_t i = 0; i < b->count && !rc; i++)
        rc = elem_ops(recs[i], cb, arg);
    free(recs);
    return rc;
}
