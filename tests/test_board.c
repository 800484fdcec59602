/*
 * test_board.c: the board model: LWW per property, tombstones and
 * resurrection, stamp ties, limits (typed errors, no mutation), canonical
 * JSON, state encode/decode, tombstone purge, the hash map under growth and
 * removal, memory accounting.
 *
 *   test_board --write-corpus DIR   writes state encodings of a few boards
 *                                   (seed corpus of fuzz_board_state)
 */
#include <limits.h>

#include "board.h"
#include "codec.h"
#include "hlc.h"
#include "wbtest.h"

#define S(lit) ((wb_str){(lit), (uint32_t)(sizeof(lit) - 1)})

static wb_str str_of(const char *s)
{
    return (wb_str){s, (uint32_t)strlen(s)};
}

static wb_op upsert(const char *id, uint64_t hlc, uint64_t node, uint64_t oseq)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = oseq, .user = S("u"),
                .elem = str_of(id), .has_stamp = 1,
                .stamp = {hlc, node, oseq}};
    return op;
}

static wb_op rect(const char *id, uint64_t hlc, uint64_t node, uint64_t oseq,
                  int32_t x, int32_t y)
{
    wb_op op = upsert(id, hlc, node, oseq);
    op.props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                    WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
                    WB_PROP_BIT(WB_PROP_HEIGHT);
    op.props.type = WB_ELEM_RECT;
    op.props.x = x;
    op.props.y = y;
    op.props.width = 1000;
    op.props.height = 500;
    return op;
}

static wb_op move(const char *id, uint64_t hlc, uint64_t node, uint64_t oseq,
                  int32_t x, int32_t y)
{
    wb_op op = upsert(id, hlc, node, oseq);
    op.props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
    op.props.x = x;
    op.props.y = y;
    return op;
}

static wb_op del(const char *id, uint64_t hlc, uint64_t node, uint64_t oseq)
{
    wb_op op = {.kind = WB_OP_DELETE, .client_op_id = oseq, .user = S("u"),
                .elem = str_of(id), .has_stamp = 1,
                .stamp = {hlc, node, oseq}};
    return op;
}

static board *new_board(void)
{
    board *b = NULL;
    if (board_create("b1", 2, NULL, &b) != 0)
        abort();
    return b;
}

static uint64_t hash_of(const board *b)
{
    uint64_t h = 0;
    if (board_state_hash(b, &h) != 0)
        abort();
    return h;
}

static void test_create_rejects_bad_id(void)
{
    board *b;
    CHECK_RC(board_create("", 0, NULL, &b), WB_EINVAL);
    CHECK_RC(board_create("a b", 3, NULL, &b), WB_EINVAL);
    CHECK_OK(board_create("ok_id-1", 7, NULL, &b));
    CHECK_STR(board_id(b), "ok_id-1");
    board_free(b);
}

static void test_upsert_and_get(void)
{
    board *b = new_board();
    wb_op op = rect("e1", 100, 1, 1, 10, 20);
    CHECK_OK(board_apply_op(b, &op));
    wb_props p;
    CHECK_OK(board_get_element(b, "e1", 2, &p));
    CHECK_EQ_INT(p.type, WB_ELEM_RECT);
    CHECK_EQ_INT(p.x, 10);
    CHECK_EQ_INT(p.y, 20);
    CHECK_EQ_INT(p.mask, op.props.mask);
    CHECK_EQ_INT(board_element_count(b), 1);
    CHECK_EQ_U64(vv_get(board_version(b), 1), 1);
    CHECK_EQ_U64(board_ops_applied(b), 1);
    CHECK_RC(board_get_element(b, "nope", 4, &p), WB_ENOTFOUND);
    wb_op unstamped = op;
    unstamped.has_stamp = 0;
    CHECK_RC(board_apply_op(b, &unstamped), WB_EINVAL);
    wb_op bad = op;
    bad.props.type = 99;
    CHECK_RC(board_apply_op(b, &bad), WB_EUNKNOWN);
    CHECK_EQ_U64(board_ops_applied(b), 1);
    board_free(b);
}

static void test_lww_per_property(void)
{
    /* Two concurrent writers touch overlapping properties. */
    wb_op a = rect("e1", 100, 1, 1, 10, 20);
    wb_op m1 = move("e1", 200, 2, 1, 111, 222);    /* newer x,y */
    wb_op m2 = upsert("e1", 150, 3, 1);            /* older x, newer width */
    m2.props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_WIDTH);
    m2.props.x = 999;
    m2.props.width = 4242;
    const wb_op *orders[][3] = {{&a, &m1, &m2}, {&m2, &m1, &a}, {&m1, &a, &m2}};
    uint64_t first = 0;
    for (int o = 0; o < 3; o++) {
        board *b = new_board();
        for (int i = 0; i < 3; i++)
            CHECK_OK(board_apply_op(b, orders[o][i]));
        wb_props p;
        CHECK_OK(board_get_element(b, "e1", 2, &p));
        CHECK_EQ_INT(p.x, 111);
        CHECK_EQ_INT(p.y, 222);
        CHECK_EQ_INT(p.width, 4242);
        CHECK_EQ_INT(p.height, 500);
        wb_stamp st;
        CHECK_OK(board_get_stamp(b, "e1", 2, WB_PROP_WIDTH, &st));
        CHECK_EQ_U64(st.node, 3);
        uint64_t h = hash_of(b);
        if (o == 0)
            first = h;
        CHECK_EQ_U64(h, first);
        board_free(b);
    }
}

static void test_delete_then_resurrect(void)
{
    board *b = new_board();
    wb_op c = rect("e1", 100, 1, 1, 10, 20);
    wb_op d = del("e1", 200, 2, 1);
    wb_op late_move = move("e1", 300, 3, 1, 5, 6);
    CHECK_OK(board_apply_op(b, &c));
    CHECK_OK(board_apply_op(b, &d));
    wb_props p;
    CHECK_RC(board_get_element(b, "e1", 2, &p), WB_ENOTFOUND);
    CHECK_EQ_INT(board_element_count(b), 0);
    CHECK_EQ_INT(board_record_count(b), 1);
    /* A move after the delete does not resurrect (no live type). */
    CHECK_OK(board_apply_op(b, &late_move));
    CHECK_RC(board_get_element(b, "e1", 2, &p), WB_ENOTFOUND);
    /* An upsert with a type after the delete does, with only the
     * properties written after the delete. */
    wb_op re = upsert("e1", 400, 1, 2);
    re.props.mask = WB_PROP_BIT(WB_PROP_TYPE);
    re.props.type = WB_ELEM_ELLIPSE;
    CHECK_OK(board_apply_op(b, &re));
    CHECK_OK(board_get_element(b, "e1", 2, &p));
    CHECK_EQ_INT(p.type, WB_ELEM_ELLIPSE);
    CHECK_EQ_INT(p.mask, WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                             WB_PROP_BIT(WB_PROP_Y));
    CHECK_EQ_INT(p.x, 5);
    CHECK_EQ_INT(board_element_count(b), 1);
    /* An op older than the tombstone changes nothing but the version
     * vector (so compare the element, not the hash). */
    size_t mem = board_memory_usage(b);
    wb_op old = rect("e1", 150, 9, 1, 1, 1);
    CHECK_OK(board_apply_op(b, &old));
    wb_props q;
    CHECK_OK(board_get_element(b, "e1", 2, &q));
    CHECK_EQ_INT(q.mask, p.mask);
    CHECK_EQ_INT(q.x, 5);
    CHECK_EQ_INT(q.type, WB_ELEM_ELLIPSE);
    CHECK_EQ_U64(vv_get(board_version(b), 9), 1);
    CHECK(board_memory_usage(b) >= mem); /* only the vv may grow */
    board_free(b);
}

static void test_delete_older_than_properties(void)
{
    board *b = new_board();
    wb_op c = rect("e1", 500, 1, 1, 10, 20);
    wb_op d = del("e1", 300, 2, 1); /* concurrent, older */
    CHECK_OK(board_apply_op(b, &c));
    CHECK_OK(board_apply_op(b, &d));
    wb_props p;
    CHECK_OK(board_get_element(b, "e1", 2, &p));
    CHECK_EQ_INT(p.mask, c.props.mask);
    wb_stamp t;
    CHECK_OK(board_get_tombstone(b, "e1", 2, &t));
    CHECK_EQ_U64(t.hlc, 300);
    /* A delete between the two writes kills only the older property. */
    wb_op mv = move("e1", 700, 1, 2, 1, 2);
    wb_op d2 = del("e1", 600, 2, 2);
    CHECK_OK(board_apply_op(b, &mv));
    CHECK_OK(board_apply_op(b, &d2));
    CHECK_RC(board_get_element(b, "e1", 2, &p), WB_ENOTFOUND); /* type died */
    wb_stamp s;
    CHECK_OK(board_get_stamp(b, "e1", 2, WB_PROP_X, &s));
    CHECK_EQ_U64(s.hlc, 700);
    CHECK_RC(board_get_stamp(b, "e1", 2, WB_PROP_WIDTH, &s), WB_ENOTFOUND);
    board_free(b);
}

static void test_idempotent(void)
{
    board *b = new_board();
    wb_op c = rect("e1", 100, 1, 1, 10, 20);
    wb_op d = del("e2", 100, 1, 2);
    CHECK_OK(board_apply_op(b, &c));
    CHECK_OK(board_apply_op(b, &d));
    uint64_t h = hash_of(b);
    size_t mem = board_memory_usage(b);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(board_apply_op(b, &c));
        CHECK_OK(board_apply_op(b, &d));
    }
    CHECK_EQ_U64(hash_of(b), h);
    CHECK_EQ_INT(board_memory_usage(b), mem);
    CHECK_EQ_U64(board_ops_applied(b), 12);
    board_free(b);
}

static void test_stamp_tie_breaks_on_value(void)
{
    /* Forged: two different ops with one stamp. Order must not matter. */
    wb_op a = rect("e1", 100, 1, 1, 10, 20);
    wb_op b2 = rect("e1", 100, 1, 1, 30, 5);
    wb_op t1 = upsert("e1", 100, 1, 1);
    t1.props.mask = WB_PROP_BIT(WB_PROP_TEXT);
    t1.props.text = S("abc");
    wb_op t2 = t1;
    t2.props.text = S("abd");
    board *x = new_board(), *y = new_board();
    CHECK_OK(board_apply_op(x, &a));
    CHECK_OK(board_apply_op(x, &b2));
    CHECK_OK(board_apply_op(x, &t1));
    CHECK_OK(board_apply_op(x, &t2));
    CHECK_OK(board_apply_op(y, &t2));
    CHECK_OK(board_apply_op(y, &b2));
    CHECK_OK(board_apply_op(y, &t1));
    CHECK_OK(board_apply_op(y, &a));
    CHECK_EQ_U64(hash_of(x), hash_of(y));
    wb_props p;
    CHECK_OK(board_get_element(x, "e1", 2, &p));
    CHECK_EQ_INT(p.x, 30); /* the greater value */
    CHECK_EQ_INT(p.y, 20);
    CHECK(p.text.len == 3 && memcmp(p.text.ptr, "abd", 3) == 0);
    board_free(x);
    board_free(y);
}

static void test_limits(void)
{
    board_limits l;
    board_limits_default(&l);
    l.max_elements = 2;
    l.max_points = 10;
    l.max_text = 5;
    board *b;
    CHECK_OK(board_create("lim", 3, &l, &b));
    wb_op e1 = rect("e1", 100, 1, 1, 0, 0), e2 = rect("e2", 101, 1, 2, 0, 0);
    wb_op e3 = rect("e3", 102, 1, 3, 0, 0);
    CHECK_OK(board_check_op(b, &e1));
    CHECK_OK(board_apply_op(b, &e1));
    CHECK_OK(board_apply_op(b, &e2));
    uint64_t h = hash_of(b);
    size_t mem = board_memory_usage(b);
    CHECK_RC(board_check_op(b, &e3), WB_ELIMIT);
    e3.has_stamp = 0; /* as the engine calls it, before stamping */
    CHECK_RC(board_check_op(b, &e3), WB_ELIMIT);
    wb_op mv = move("e1", 200, 1, 4, 5, 5); /* existing element: fine */
    mv.has_stamp = 0;
    CHECK_OK(board_check_op(b, &mv));
    wb_op d = del("e2", 300, 1, 5);
    CHECK_OK(board_check_op(b, &d));
    /* Per-element limits. */
    int32_t xy[22] = {0};
    wb_op s = upsert("s1", 0, 0, 0);
    s.has_stamp = 0;
    s.props.mask = WB_PROP_BIT(WB_PROP_POINTS);
    s.props.points = (wb_points){11, xy, NULL};
    CHECK_RC(board_check_op(b, &s), WB_ETOOBIG);
    s.props.points.n = 10;
    CHECK_OK(board_check_op(b, &s));
    wb_op t = upsert("e1", 0, 0, 0);
    t.has_stamp = 0;
    t.props.mask = WB_PROP_BIT(WB_PROP_TEXT);
    t.props.text = S("123456");
    CHECK_RC(board_check_op(b, &t), WB_ETOOBIG);
    t.props.text = S("12345");
    CHECK_OK(board_check_op(b, &t));
    /* Codec errors come through unchanged. */
    t.props.text = S("\xc0\x80");
    CHECK_RC(board_check_op(b, &t), WB_EUTF8);
    /* Byte budget. */
    l.max_elements = 0;
    l.max_bytes = board_memory_usage(b) + 100;
    board_set_limits(b, &l);
    t.props.text = S("12345");
    CHECK_OK(board_check_op(b, &t));
    s.props.points.n = 10; /* ~100 bytes of points plus a new record */
    CHECK_RC(board_check_op(b, &s), WB_ELIMIT);
    /* Deletes of ids the board never saw make tombstone records: they
     * count against the byte budget; a delete of a known id does not. */
    wb_op dn = del("unknown-id", 0, 1, 1);
    dn.has_stamp = 0;
    CHECK_RC(board_check_op(b, &dn), WB_ELIMIT);
    wb_op dk = del("e1", 0, 1, 1);
    dk.has_stamp = 0;
    CHECK_OK(board_check_op(b, &dk));
    /* Nothing above changed the board. */
    CHECK_EQ_U64(hash_of(b), h);
    CHECK_EQ_INT(board_memory_usage(b), mem);
    CHECK_EQ_INT(board_element_count(b), 2);
    /* A delete frees a slot: then the new element passes. */
    l.max_elements = 2;
    l.max_bytes = 0;
    board_set_limits(b, &l);
    CHECK_OK(board_apply_op(b, &d));
    CHECK_OK(board_check_op(b, &e3));
    board_free(b);
}

/* A board with every kind of record: live, tombstoned, resurrected,
 * invisible remnant, strings, points with and without pressure. */
static board *rich_board(void)
{
    board *b = new_board();
    static const int32_t xy[] = {0, 0, 100, -50, 250, 80};
    static const uint16_t pr[] = {100, 500, 1000};
    wb_op ops[12];
    int n = 0;
    ops[n++] = rect("r1", HLC_MAKE(1000, 0), 1, 1, 1050, -250);
    ops[n] = upsert("s1", HLC_MAKE(1000, 1), 1, 2);
    ops[n].props.mask = WB_PROP_BIT(WB_PROP_TYPE) |
                        WB_PROP_BIT(WB_PROP_POINTS) |
                        WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
                        WB_PROP_BIT(WB_PROP_Z);
    ops[n].props.type = WB_ELEM_STROKE;
    ops[n].props.points = (wb_points){3, xy, pr};
    ops[n].props.stroke_color = 0x112233ff;
    ops[n++].props.z = S("a1");
    ops[n] = upsert("t1", HLC_MAKE(1001, 0), 2, 1);
    ops[n].props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_TEXT) |
                        WB_PROP_BIT(WB_PROP_GROUP) |
                        WB_PROP_BIT(WB_PROP_LOCKED);
    ops[n].props.type = WB_ELEM_TEXT;
    ops[n].props.text = S("h\xc3\xa9llo \"w\"\n");
    ops[n].props.group = S("g1");
    ops[n++].props.locked = 1;
    ops[n++] = move("r1", HLC_MAKE(1002, 0), 2, 2, 7, 8);
    ops[n++] = rect("gone", HLC_MAKE(1000, 5), 1, 3, 0, 0);
    ops[n++] = del("gone", HLC_MAKE(1003, 0), 2, 3);
    ops[n++] = del("never", HLC_MAKE(1004, 0), 3, 1);
    ops[n++] = rect("back", HLC_MAKE(1000, 6), 1, 4, 1, 1);
    ops[n++] = del("back", HLC_MAKE(1005, 0), 3, 2);
    ops[n] = upsert("back", HLC_MAKE(1006, 0), 1, 5);
    ops[n].props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_FILL_COLOR);
    ops[n].props.type = WB_ELEM_STICKY;
    ops[n++].props.fill_color = 0xfff59dff;
    ops[n++] = move("ghost", HLC_MAKE(1007, 0), 3, 3, 3, 3);
    for (int i = 0; i < n; i++)
        if (board_apply_op(b, &ops[i]) != 0)
            abort();
    return b;
}

static void test_json(void)
{
    board *b = rich_board();
    char *json;
    size_t len;
    CHECK_OK(board_to_json(b, &json, &len));
    const char *want =
        "{\"id\":\"b1\",\"elements\":["
        "{\"id\":\"back\",\"type\":\"sticky\",\"fillColor\":\"#fff59dff\"},"
        "{\"id\":\"r1\",\"type\":\"rect\",\"x\":0.07,\"y\":0.08,\"width\":10,"
        "\"height\":5},"
        "{\"id\":\"s1\",\"type\":\"stroke\",\"strokeColor\":\"#112233ff\","
        "\"points\":[[0,0,0.1],[1,-0.5,0.5],[2.5,0.8,1]],\"z\":\"a1\"},"
        "{\"id\":\"t1\",\"type\":\"text\",\"text\":\"h\xc3\xa9llo \\\"w\\\"\\n\","
        "\"locked\":true,\"groupId\":\"g1\"}],"
        "\"version\":{\"1\":\"5\",\"2\":\"3\",\"3\":\"3\"}}";
    int same = strcmp(json, want) == 0 && len == strlen(want);
    if (!same)
        fprintf(stderr, "  got  %s\n  want %s\n", json, want);
    free(json);
    board_free(b);
    CHECK(same);
}

/* Record order in the state for a board big enough for the radix sort
 * (board.c): ids shorter than the 8-byte sort key, ids sharing their first
 * 8 bytes (equal keys, ordered by the rest), ids that are prefixes of
 * others, random ones. Decode refuses records that are not strictly
 * ascending, so a wrong order fails here. */
static void test_state_order_large(void)
{
    board *b;
    CHECK_OK(board_create("big", 3, NULL, &b));
    const char *alpha =
        "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    uint64_t rs = 42, oseq = 0;
    char id[40];
    for (int i = 0; i < 3000; i++) {
        rs = rs * 6364136223846793005ull + 1442695040888963407ull;
        switch (i % 5) {
        case 0: { /* short: 1..7 bytes */
            int n = (int)((rs >> 58) % 7) + 1;
            for (int c = 0; c < n; c++)
                id[c] = alpha[(rs >> (c * 6 + 10)) & 63];
            id[n] = 0;
            break;
        }
        case 1: /* one 8-byte prefix, different tails */
            snprintf(id, sizeof id, "shared-k%llu", (unsigned long long)(rs >> 44));
            break;
        case 2: /* exactly the prefix, and the prefix plus one byte */
            snprintf(id, sizeof id, "shared-k%s", (rs >> 50) & 1 ? "" : "0");
            break;
        default: { /* random, 1..30 bytes */
            int n = (int)((rs >> 20) % 30) + 1;
            uint64_t r2 = rs;
            for (int c = 0; c < n; c++) {
                r2 = r2 * 6364136223846793005ull + 1442695040888963407ull;
                id[c] = alpha[(r2 >> 40) & 63];
            }
            id[n] = 0;
        }
        }
        oseq++;
        wb_op op = rect(id, HLC_MAKE(1000 + oseq, 0), 1, oseq, i, i);
        CHECK_OK(board_apply_op(b, &op));
    }
    CHECK(board_record_count(b) > 500);
    uint8_t *buf, *buf2;
    size_t len, len2;
    CHECK_OK(board_state_encode(b, &buf, &len));
    board *d = NULL;
    CHECK_OK(board_state_decode(buf, len, NULL, &d));
    if (d) {
        CHECK_EQ_INT(board_record_count(d), board_record_count(b));
        CHECK_OK(board_state_encode(d, &buf2, &len2));
        CHECK_EQ_INT(len2, len);
        CHECK_MEM(buf2, buf, len);
        free(buf2);
        board_free(d);
    }
    free(buf);
    board_free(b);
}

static void test_state_roundtrip(void)
{
    board *b = rich_board();
    uint8_t *buf, *buf2;
    size_t len, len2;
    CHECK_OK(board_state_encode(b, &buf, &len));
    board *d;
    CHECK_OK(board_state_decode(buf, len, NULL, &d));
    CHECK_OK(board_state_encode(d, &buf2, &len2));
    CHECK_EQ_INT(len2, len);
    CHECK_MEM(buf2, buf, len);
    CHECK_EQ_U64(hash_of(d), hash_of(b));
    CHECK_EQ_INT(board_element_count(d), board_element_count(b));
    CHECK_EQ_INT(board_record_count(d), board_record_count(b));
    CHECK_EQ_INT(vv_compare(board_version(d), board_version(b)), VV_EQUAL);
    char *j1, *j2;
    CHECK_OK(board_to_json(b, &j1, NULL));
    CHECK_OK(board_to_json(d, &j2, NULL));
    CHECK_STR(j1, j2);
    free(j1);
    free(j2);
    /* The restored board merges like the original: late ops, some older
     * than what it holds, some newer, one older than a tombstone. */
    wb_op late[] = {
        move("r1", HLC_MAKE(1001, 0), 3, 10, 99, 99),  /* loses to x,y */
        move("r1", HLC_MAKE(1010, 0), 3, 11, 42, 43),  /* wins */
        rect("gone", HLC_MAKE(1002, 0), 3, 12, 5, 5),  /* older than tomb */
        del("s1", HLC_MAKE(1011, 0), 3, 13),
    };
    for (size_t i = 0; i < sizeof late / sizeof late[0]; i++) {
        CHECK_OK(board_apply_op(b, &late[i]));
        CHECK_OK(board_apply_op(d, &late[i]));
    }
    CHECK_EQ_U64(hash_of(d), hash_of(b));
    wb_props p;
    CHECK_OK(board_get_element(d, "r1", 2, &p));
    CHECK_EQ_INT(p.x, 42);
    CHECK_RC(board_get_element(d, "gone", 4, &p), WB_ENOTFOUND);
    free(buf);
    free(buf2);
    board_free(b);
    board_free(d);
}

static void test_state_decode_rejects(void)
{
    board *b = rich_board();
    uint8_t *buf;
    size_t len;
    CHECK_OK(board_state_encode(b, &buf, &len));
    board_free(b);
    board *d = NULL;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = board_state_decode(buf, cut, NULL, &d);
        CHECK_MSG(rc == WB_ETRUNCATED, "cut at %zu/%zu: %s", cut, len,
                  wb_errname(rc));
    }
    uint8_t *m = malloc(len + 1);
    memcpy(m, buf, len);
    m[len] = 0;
    CHECK_RC(board_state_decode(m, len + 1, NULL, &d), WB_EMALFORMED);
    m[0] = 'X';
    CHECK_RC(board_state_decode(m, len, NULL, &d), WB_EBADMAGIC);
    m[0] = 'W';
    m[4] = 2;
    CHECK_RC(board_state_decode(m, len, NULL, &d), WB_EBADVERSION);
    free(m);
    /* Hand-made: one record "a" with no tombstone and no property. */
    const uint8_t empty_rec[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0, 1,
                                 1, 'a', 0, 0, 0};
    CHECK_RC(board_state_decode(empty_rec, sizeof empty_rec, NULL, &d),
             WB_EMALFORMED);
    /* Two records out of order: "b" then "a", each a tombstone only. */
    const uint8_t unsorted[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0, 2,
                                1, 'b', 1, 5, 1, 1, 0, 0,
                                1, 'a', 1, 5, 1, 1, 0, 0};
    CHECK_RC(board_state_decode(unsorted, sizeof unsorted, NULL, &d),
             WB_EMALFORMED);
    const uint8_t sorted[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0, 2,
                              1, 'a', 1, 5, 1, 1, 0, 0,
                              1, 'b', 1, 5, 1, 1, 0, 0};
    CHECK_OK(board_state_decode(sorted, sizeof sorted, NULL, &d));
    CHECK_EQ_INT(board_record_count(d), 2);
    board_free(d);
    /* A property whose stamp is not newer than the tombstone (dead). */
    const uint8_t dead[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0, 1,
                            1, 'a', 1, 5, 1, 1, 1, 4, 1, 1, 1, 1, 0, 2};
    CHECK_RC(board_state_decode(dead, sizeof dead, NULL, &d), WB_EMALFORMED);
    /* An unreferenced stamp. */
    const uint8_t unref[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0, 1,
                             1, 'a', 0, 2, 4, 1, 1, 5, 1, 2, 1, 1, 0, 2};
    CHECK_RC(board_state_decode(unref, sizeof unref, NULL, &d), WB_EMALFORMED);
    /* Huge record count. */
    const uint8_t huge[] = {'W', 'B', 'S', 'T', 1, 1, 'b', 0,
                            0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK_RC(board_state_decode(huge, sizeof huge, NULL, &d), WB_ETRUNCATED);
    free(buf);
}

static void test_purge(void)
{
    board *b = new_board();
    char id[16];
    /* 3000 records: every third deleted at hlc 1000+i, every sixth then
     * resurrected by a later upsert. */
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "e%d", i);
        wb_op c = rect(id, 10, 1, (uint64_t)i + 1, i, i);
        CHECK_OK(board_apply_op(b, &c));
    }
    size_t mem_full = board_memory_usage(b);
    int deleted = 0, resurrected = 0;
    for (int i = 0; i < 3000; i += 3) {
        snprintf(id, sizeof id, "e%d", i);
        wb_op d = del(id, 1000 + (uint64_t)i, 2, (uint64_t)i + 1);
        CHECK_OK(board_apply_op(b, &d));
        deleted++;
        if (i % 6 == 0) {
            wb_op r = rect(id, 5000, 3, (uint64_t)i + 1, -i, -i);
            CHECK_OK(board_apply_op(b, &r));
            resurrected++;
        }
    }
    CHECK_EQ_INT(board_element_count(b), 3000 - deleted + resurrected);
    CHECK_EQ_INT(board_record_count(b), 3000);
    /* Purge tombstones older than hlc 2500: i < 1500. */
    size_t purged = board_purge_tombstones(b, 2500);
    CHECK_EQ_INT(purged, 500);
    int removed = 0;
    for (int i = 0; i < 1500; i += 3)
        removed += i % 6 != 0;
    CHECK_EQ_INT(board_record_count(b), 3000 - (size_t)removed);
    CHECK(board_memory_usage(b) < mem_full);
    /* Every other record is still reachable through the map. */
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "e%d", i);
        wb_props p;
        int rc = board_get_element(b, id, strlen(id), &p);
        int visible = i % 3 != 0 || i % 6 == 0;
        CHECK_MSG((rc == 0) == visible, "%s: %s", id, wb_errname(rc));
        wb_stamp t;
        int trc = board_get_tombstone(b, id, strlen(id), &t);
        if (i % 3 == 0 && i < 1500 && i % 6 != 0) {
            CHECK_RC(trc, WB_ENOTFOUND); /* purged record */
        } else {
            CHECK_OK(trc);
            int tomb_kept = i % 3 == 0 && i >= 1500;
            CHECK_EQ_INT(!wb_stamp_is_zero(&t), tomb_kept);
        }
    }
    CHECK_EQ_INT(board_purge_tombstones(b, 2500), 0); /* nothing left */
    /* State still round-trips. */
    uint8_t *buf;
    size_t len;
    board *d;
    CHECK_OK(board_state_encode(b, &buf, &len));
    CHECK_OK(board_state_decode(buf, len, NULL, &d));
    CHECK_EQ_U64(hash_of(d), hash_of(b));
    free(buf);
    board_free(d);
    board_free(b);
}

static void test_map_growth_and_memory(void)
{
    board *b = new_board();
    size_t empty = board_memory_usage(b);
    char id[24];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "el-%07d", i * 7919 % 20000);
        wb_op c = rect(id, 10 + (uint64_t)i, 1, (uint64_t)i + 1, i, -i);
        CHECK_OK(board_apply_op(b, &c));
    }
    CHECK_EQ_INT(board_element_count(b), 20000);
    size_t per = (board_memory_usage(b) - empty) / 20000;
    fprintf(stderr, "  memory per rect element: %zu bytes\n", per);
    CHECK(per > 100 && per < 400);
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "el-%07d", i);
        wb_props p;
        CHECK_OK(board_get_element(b, id, strlen(id), &p));
    }
    /* Moves do not grow memory (stamps are replaced, not accumulated);
     * the element's stamp table settles after the first few. */
    size_t before = 0;
    for (int i = 0; i < 20000; i++) {
        if (i == 3)
            before = board_memory_usage(b);
        wb_op m = move("el-0000001", 100000 + (uint64_t)i, 2, (uint64_t)i + 1,
                       i, i);
        CHECK_OK(board_apply_op(b, &m));
    }
    CHECK_EQ_INT(board_memory_usage(b), before);
    board_free(b);
}

static int write_corpus(const char *dir)
{
    board *boards[3];
    boards[0] = new_board();
    boards[1] = rich_board();
    boards[2] = rich_board();
    board_purge_tombstones(boards[2], HLC_MAKE(1004, 0));
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t *buf;
        size_t len;
        char path[PATH_MAX];
        if (board_state_encode(boards[i], &buf, &len) != 0)
            return 1;
        snprintf(path, sizeof path, "%s/state_%d", dir, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len)
            rc = 1;
        if (f)
            fclose(f);
        if (i == 1) { /* a truncated one too */
            snprintf(path, sizeof path, "%s/state_truncated", dir);
            f = fopen(path, "wb");
            if (!f || fwrite(buf, 1, len / 2, f) != len / 2)
                rc = 1;
            if (f)
                fclose(f);
        }
        free(buf);
        board_free(boards[i]);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    WB_RUN(test_create_rejects_bad_id);
    WB_RUN(test_upsert_and_get);
    WB_RUN(test_lww_per_property);
    WB_RUN(test_delete_then_resurrect);
    WB_RUN(test_delete_older_than_properties);
    WB_RUN(test_idempotent);
    WB_RUN(test_stamp_tie_breaks_on_value);
    WB_RUN(test_limits);
    WB_RUN(test_json);
    WB_RUN(test_state_roundtrip);
    WB_RUN(test_state_order_large);
    WB_RUN(test_state_decode_rejects);
    WB_RUN(test_purge);
    WB_RUN(test_map_growth_and_memory);
    return wb_test_summary();
}
