/*
 * test_board_ops.c: board_for_each_op (the state as stamped ops, used by
 * replication gap repair): the ops rebuild the records exactly (values,
 * property stamps, tombstones) and applying them to a board that saw a
 * different subset of ops gives the LWW merge of everything.
 */
#include "board.h"
#include "wbtest.h"

#define NOPS 400
#define NELEM 12

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static char ids[NELEM][8];

/* A random stamped op: rect create, move, colour change or delete, from
 * one of three origins with increasing oseqs. */
static void make_op(wb_op *op, uint64_t i, uint64_t oseq[4])
{
    memset(op, 0, sizeof *op);
    uint64_t node = 1 + rnd(3);
    op->has_stamp = 1;
    op->stamp = (wb_stamp){(1000 + i) << 16 | rnd(4), node, ++oseq[node]};
    const char *id = ids[rnd(NELEM)];
    op->elem = (wb_str){id, (uint32_t)strlen(id)};
    uint32_t k = rnd(10);
    if (k == 0) {
        op->kind = WB_OP_DELETE;
        return;
    }
    op->kind = WB_OP_UPSERT;
    op->props.x = (int32_t)rnd(1000);
    op->props.y = (int32_t)rnd(1000);
    op->props.fill_color = rnd(0xffff) << 8 | 0xff;
    if (k < 4)
        op->props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
    else if (k < 6)
        op->props.mask = WB_PROP_BIT(WB_PROP_FILL_COLOR);
    else {
        op->props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                         WB_PROP_BIT(WB_PROP_Y);
        op->props.type = WB_ELEM_RECT;
    }
}

static int apply_cb(void *arg, const wb_op *op)
{
    return board_apply_op(arg, op);
}

static int count_cb(void *arg, const wb_op *op)
{
    (*(size_t *)arg)++;
    return op->has_stamp ? 0 : WB_EINVAL;
}

/* Records equal: every property stamp and tombstone, and the JSON of the
 * visible elements (everything before "version"). */
static int same_records(const board *a, const board *b)
{
    for (int i = 0; i < NELEM; i++) {
        wb_stamp sa, sb;
        int ra = board_get_tombstone(a, ids[i], strlen(ids[i]), &sa);
        int rb = board_get_tombstone(b, ids[i], strlen(ids[i]), &sb);
        if (ra != rb || (!ra && wb_stamp_cmp(&sa, &sb)))
            return 0;
        for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
            ra = board_get_stamp(a, ids[i], strlen(ids[i]), k, &sa);
            rb = board_get_stamp(b, ids[i], strlen(ids[i]), k, &sb);
            if (ra != rb || (!ra && wb_stamp_cmp(&sa, &sb)))
                return 0;
        }
    }
    char *ja, *jb;
    size_t la, lb;
    if (board_to_json(a, &ja, &la) || board_to_json(b, &jb, &lb))
        return 0;
    char *va = strstr(ja, "\"version\""), *vb = strstr(jb, "\"version\"");
    int same = va && vb && va - ja == vb - jb &&
               memcmp(ja, jb, (size_t)(va - ja)) == 0;
    if (!same)
        fprintf(stderr, "  a: %s\n  b: %s\n", ja, jb);
    free(ja);
    free(jb);
    return same;
}

static void test_rebuild_and_merge(void)
{
    for (int i = 0; i < NELEM; i++)
        snprintf(ids[i], sizeof ids[i], "e%d", i);
    static wb_op ops[NOPS];
    uint64_t oseq[4] = {0};
    for (uint64_t i = 0; i < NOPS; i++)
        make_op(&ops[i], i, oseq);
    board *all, *left, *right, *rebuilt;
    CHECK_OK(board_create("b", 1, NULL, &all));
    CHECK_OK(board_create("b", 1, NULL, &left));
    CHECK_OK(board_create("b", 1, NULL, &right));
    CHECK_OK(board_create("b", 1, NULL, &rebuilt));
    for (int i = 0; i < NOPS; i++) {
        CHECK_OK(board_apply_op(all, &ops[i]));
        /* left misses a third of the ops, right holds the rest */
        CHECK_OK(board_apply_op(i % 3 ? left : right, &ops[i]));
    }
    CHECK(board_record_count(all) > 0);

    size_t n = 0;
    CHECK_OK(board_for_each_op(all, count_cb, &n));
    CHECK(n >= board_record_count(all));
    CHECK_OK(board_for_each_op(all, apply_cb, rebuilt));
    CHECK_MSG(same_records(all, rebuilt), "rebuilt board differs");

    /* left + state(right) == all, and so is right + state(left) */
    CHECK_OK(board_for_each_op(right, apply_cb, left));
    CHECK_MSG(same_records(all, left), "left + right's state differs");
    board *right2;
    CHECK_OK(board_create("b", 1, NULL, &right2));
    for (int i = 0; i < NOPS; i++)
        if (i % 3 == 0)
            CHECK_OK(board_apply_op(right2, &ops[i]));
    board *left2;
    CHECK_OK(board_create("b", 1, NULL, &left2));
    for (int i = 0; i < NOPS; i++)
        if (i % 3)
            CHECK_OK(board_apply_op(left2, &ops[i]));
    CHECK_OK(board_for_each_op(left2, apply_cb, right2));
    CHECK_MSG(same_records(all, right2), "right + left's state differs");
    board_free(all);
    board_free(left);
    board_free(right);
    board_free(rebuilt);
    board_free(right2);
    board_free(left2);
}

static int stop_cb(void *arg, const wb_op *op)
{
    (void)op;
    return ++*(int *)arg == 2 ? WB_EIO : 0;
}

static void test_stop(void)
{
    board *b;
    CHECK_OK(board_create("b", 1, NULL, &b));
    uint64_t oseq[4] = {0};
    for (uint64_t i = 0; i < 50; i++) {
        wb_op op;
        make_op(&op, i, oseq);
        CHECK_OK(board_apply_op(b, &op));
    }
    int calls = 0;
    CHECK_RC(board_for_each_op(b, stop_cb, &calls), WB_EIO);
    CHECK_EQ_INT(calls, 2);
    board_free(b);
}

int main(void)
{
    WB_RUN(test_rebuild_and_merge);
    WB_RUN(test_stop);
    return wb_test_summary();
}
