/* test_vv.c: version vectors: get/set/advance, merge, covers/compare,
 * encoding round trip, and a decoder that refuses every bad input. */
#include "vv.h"
#include "wbtest.h"

static void test_get_set_advance(void)
{
    vv v;
    vv_init(&v);
    CHECK_EQ_U64(vv_get(&v, 5), 0);
    CHECK_OK(vv_set(&v, 5, 10));
    CHECK_OK(vv_set(&v, 2, 3));
    CHECK_OK(vv_set(&v, 9, 1));
    CHECK_EQ_INT(v.n, 3);
    CHECK(v.e[0].node == 2 && v.e[1].node == 5 && v.e[2].node == 9);
    CHECK_OK(vv_advance(&v, 5, 7)); /* never lowers */
    CHECK_EQ_U64(vv_get(&v, 5), 10);
    CHECK_OK(vv_advance(&v, 5, 11));
    CHECK_EQ_U64(vv_get(&v, 5), 11);
    CHECK_OK(vv_set(&v, 2, 0)); /* 0 removes */
    CHECK_EQ_INT(v.n, 2);
    CHECK_EQ_U64(vv_get(&v, 2), 0);
    vv_free(&v);
}

static void test_capacity_bound(void)
{
    vv v;
    vv_init(&v);
    for (uint64_t i = 1; i <= VV_MAX_NODES; i++)
        CHECK_OK(vv_set(&v, i * 3, i));
    CHECK_RC(vv_set(&v, 1, 1), WB_ETOOBIG);
    CHECK_EQ_INT(v.n, VV_MAX_NODES);
    CHECK_OK(vv_set(&v, 3, 99)); /* existing node still updatable */
    size_t size = vv_encoded_size(&v);
    CHECK(size <= VV_MAX_ENCODED);
    vv_free(&v);
}

static void test_merge_covers_compare(void)
{
    vv a, b, m;
    vv_init(&a);
    vv_init(&b);
    vv_init(&m);
    CHECK_EQ_INT(vv_compare(&a, &b), VV_EQUAL);
    CHECK_OK(vv_set(&a, 1, 5));
    CHECK_OK(vv_set(&a, 2, 1));
    CHECK_OK(vv_set(&b, 1, 3));
    CHECK(vv_covers(&a, &b));
    CHECK(!vv_covers(&b, &a));
    CHECK_EQ_INT(vv_compare(&a, &b), VV_AFTER);
    CHECK_EQ_INT(vv_compare(&b, &a), VV_BEFORE);
    CHECK_OK(vv_set(&b, 3, 8));
    CHECK_EQ_INT(vv_compare(&a, &b), VV_CONCURRENT);
    CHECK_OK(vv_copy(&m, &a));
    CHECK_OK(vv_merge(&m, &b));
    CHECK_EQ_U64(vv_get(&m, 1), 5);
    CHECK_EQ_U64(vv_get(&m, 2), 1);
    CHECK_EQ_U64(vv_get(&m, 3), 8);
    CHECK(vv_covers(&m, &a) && vv_covers(&m, &b));
    /* merge is commutative */
    vv m2;
    vv_init(&m2);
    CHECK_OK(vv_copy(&m2, &b));
    CHECK_OK(vv_merge(&m2, &a));
    CHECK_EQ_INT(vv_compare(&m, &m2), VV_EQUAL);
    vv_free(&a);
    vv_free(&b);
    vv_free(&m);
    vv_free(&m2);
}

static void test_encode_roundtrip(void)
{
    vv v, d;
    vv_init(&v);
    vv_init(&d);
    CHECK_OK(vv_set(&v, 1, 1));
    CHECK_OK(vv_set(&v, 300, 70000));
    CHECK_OK(vv_set(&v, UINT64_MAX, UINT64_MAX));
    uint8_t buf[VV_MAX_ENCODED];
    size_t len;
    CHECK_OK(vv_encode(&v, buf, sizeof buf, &len));
    CHECK_EQ_INT(len, vv_encoded_size(&v));
    /* n=3, (1,1), (300,70000), (max,max) */
    const uint8_t want_head[] = {0x03, 0x01, 0x01, 0xac, 0x02, 0xf0, 0xa2, 0x04};
    CHECK_MEM(buf, want_head, sizeof want_head);
    CHECK_OK(vv_decode(&d, buf, len, NULL));
    CHECK_EQ_INT(vv_compare(&v, &d), VV_EQUAL);
    CHECK_EQ_INT(d.n, 3);
    CHECK_RC(vv_encode(&v, buf, len - 1, &len), WB_ETOOBIG);
    /* empty vector: one byte */
    vv_clear(&v);
    CHECK_OK(vv_encode(&v, buf, sizeof buf, &len));
    CHECK_EQ_INT(len, 1);
    CHECK_EQ_INT(buf[0], 0);
    vv_free(&v);
    vv_free(&d);
}

static void test_decode_rejects(void)
{
    static const struct {
        uint8_t b[12];
        size_t n;
        int err;
    } cases[] = {
        {{0}, 0, WB_ETRUNCATED},
        {{0x02, 0x01, 0x01}, 3, WB_ETRUNCATED},
        {{0x01, 0x05}, 2, WB_ETRUNCATED},
        {{0x02, 0x05, 0x01, 0x03, 0x01}, 5, WB_EMALFORMED}, /* unsorted */
        {{0x02, 0x05, 0x01, 0x05, 0x02}, 5, WB_EMALFORMED}, /* duplicate */
        {{0x01, 0x05, 0x00}, 3, WB_EMALFORMED},             /* seq 0 */
        {{0x01, 0x85, 0x00, 0x01}, 4, WB_EMALFORMED},       /* non-minimal */
        {{0x81, 0x08}, 2, WB_ETOOBIG},                      /* 1025 nodes */
        {{0x01, 0x05, 0x01, 0x00}, 4, WB_EMALFORMED},       /* trailing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vv v;
        vv_init(&v);
        int rc = vv_decode(&v, cases[i].b, cases[i].n, NULL);
        CHECK_MSG(rc == cases[i].err, "case %zu: got %s want %s", i,
                  wb_errname(rc), wb_errname(cases[i].err));
        CHECK_EQ_INT(v.n, 0);
        vv_free(&v);
    }
    /* With `used`, trailing bytes are the caller's. */
    vv v;
    vv_init(&v);
    size_t used;
    const uint8_t b[] = {0x01, 0x05, 0x01, 0xee};
    CHECK_OK(vv_decode(&v, b, sizeof b, &used));
    CHECK_EQ_INT(used, 3);
    CHECK_EQ_U64(vv_get(&v, 5), 1);
    vv_free(&v);
}

static void test_every_truncation(void)
{
    vv v, d;
    vv_init(&v);
    vv_init(&d);
    for (uint64_t i = 1; i < 50; i++)
        CHECK_OK(vv_set(&v, i * i * 1000003ull, i * 77));
    uint8_t buf[VV_MAX_ENCODED];
    size_t len;
    CHECK_OK(vv_encode(&v, buf, sizeof buf, &len));
    for (size_t cut = 0; cut < len; cut++)
        CHECK_RC(vv_decode(&d, buf, cut, NULL), WB_ETRUNCATED);
    CHECK_OK(vv_decode(&d, buf, len, NULL));
    CHECK_EQ_INT(vv_compare(&v, &d), VV_EQUAL);
    vv_free(&v);
    vv_free(&d);
}

int main(void)
{
    WB_RUN(test_get_set_advance);
    WB_RUN(test_capacity_bound);
    WB_RUN(test_merge_covers_compare);
    WB_RUN(test_encode_roundtrip);
    WB_RUN(test_decode_rejects);
    WB_RUN(test_every_truncation);
    return wb_test_summary();
}
