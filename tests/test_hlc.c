/* test_hlc.c: the hybrid logical clock: monotonic whatever the wall clock
 * does, absorbs remote stamps, refuses wild ones, never wraps. */
#include <errno.h>

#include "hlc.h"
#include "wbtest.h"

static void test_layout(void)
{
    uint64_t h = HLC_MAKE(1764350000000ull, 7);
    CHECK_EQ_U64(HLC_PHYS(h), 1764350000000ull);
    CHECK_EQ_U64(HLC_LOGICAL(h), 7);
    CHECK(HLC_MAKE(5, 0) > HLC_MAKE(4, 0xFFFF)); /* physical dominates */
}

static void test_follows_wall_clock(void)
{
    hlc_clock c;
    hlc_init(&c, 0);
    uint64_t a = hlc_now(&c, 1000);
    CHECK_EQ_U64(a, HLC_MAKE(1000, 0));
    uint64_t b = hlc_now(&c, 1000); /* same millisecond: logical + 1 */
    CHECK_EQ_U64(b, HLC_MAKE(1000, 1));
    uint64_t d = hlc_now(&c, 1005);
    CHECK_EQ_U64(d, HLC_MAKE(1005, 0));
}

static void test_wall_clock_backwards(void)
{
    hlc_clock c;
    hlc_init(&c, 0);
    uint64_t prev = hlc_now(&c, 50000);
    /* The wall clock jumps back 10 s, stands still, creeps forward. */
    uint64_t walls[] = {40000, 40000, 40001, 49999, 50000, 50000, 50001};
    for (size_t i = 0; i < sizeof walls / sizeof walls[0]; i++) {
        uint64_t h = hlc_now(&c, walls[i]);
        CHECK_MSG(h > prev, "step %zu: %llu <= %llu", i,
                  (unsigned long long)h, (unsigned long long)prev);
        prev = h;
    }
    CHECK_EQ_U64(prev, HLC_MAKE(50001, 0)); /* back on the wall clock */
}

static void test_logical_overflow(void)
{
    hlc_clock c;
    hlc_init(&c, HLC_MAKE(777, 0xFFFE));
    uint64_t a = hlc_now(&c, 10); /* wall far behind */
    CHECK_EQ_U64(a, HLC_MAKE(777, 0xFFFF));
    uint64_t b = hlc_now(&c, 10);
    CHECK_EQ_U64(b, HLC_MAKE(778, 0)); /* steps ahead, never wraps */
    uint64_t prev = b;
    for (int i = 0; i < 200000; i++) { /* > 3 logical ranges in one ms */
        uint64_t h = hlc_now(&c, 778);
        CHECK(h > prev);
        prev = h;
    }
}

static void test_update_absorbs_remote(void)
{
    hlc_clock c;
    hlc_init(&c, 0);
    uint64_t local = hlc_now(&c, 1000);
    uint64_t out;
    /* Remote ahead of us (within drift): we move past it. */
    CHECK_OK(hlc_update(&c, HLC_MAKE(1500, 4), 1000, 60000, &out));
    CHECK_EQ_U64(out, HLC_MAKE(1500, 5));
    CHECK(hlc_now(&c, 1000) > HLC_MAKE(1500, 5));
    /* Remote behind us: clock still advances past its own last value. */
    uint64_t before = c.last;
    CHECK_OK(hlc_update(&c, local, 1000, 60000, &out));
    CHECK(out > before);
    /* Wall clock ahead of both: wall wins with logical 0. */
    CHECK_OK(hlc_update(&c, HLC_MAKE(1500, 9), 9000, 60000, &out));
    CHECK_EQ_U64(out, HLC_MAKE(9000, 0));
}

static void test_update_refuses_wild_remote(void)
{
    hlc_clock c;
    hlc_init(&c, 0);
    uint64_t mine = hlc_now(&c, 1000000);
    uint64_t out = 123;
    CHECK_RC(hlc_update(&c, HLC_MAKE(1000000 + 60001, 0), 1000000, 60000, &out),
             -ERANGE);
    CHECK_EQ_U64(c.last, mine); /* unchanged */
    CHECK_EQ_U64(out, 123);
    CHECK_OK(hlc_update(&c, HLC_MAKE(1000000 + 60000, 0), 1000000, 60000, &out));
}

static void test_saturates_at_top(void)
{
    hlc_clock c;
    hlc_init(&c, 0);
    uint64_t out;
    CHECK_OK(hlc_update(&c, UINT64_MAX, 1000, 0, &out));
    CHECK_EQ_U64(out, UINT64_MAX); /* no wrap to 0 */
    CHECK_EQ_U64(hlc_now(&c, 1000), UINT64_MAX);
}

static void test_wall_ms_is_now(void)
{
    uint64_t ms = hlc_wall_ms();
    CHECK(ms > 1600000000000ull);  /* after 2020 */
    CHECK(ms < HLC_MAX_PHYS);
}

int main(void)
{
    WB_RUN(test_layout);
    WB_RUN(test_follows_wall_clock);
    WB_RUN(test_wall_clock_backwards);
    WB_RUN(test_logical_overflow);
    WB_RUN(test_update_absorbs_remote);
    WB_RUN(test_update_refuses_wild_remote);
    WB_RUN(test_saturates_at_top);
    WB_RUN(test_wall_ms_is_now);
    return wb_test_summary();
}
