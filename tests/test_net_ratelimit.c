/* test_net_ratelimit.c: token buckets and the bounded keyed table, driven
 * by an injected clock (plain integers passed as now_ns). */
#include <pthread.h>

#include "ratelimit.h"
#include "wbtest.h"

#define MS 1000000ull
#define SEC 1000000000ull

static void test_bucket_burst_then_rate(void)
{
    rl_limit lim = {.rate = 10, .burst = 5};
    rl_bucket b;
    uint64_t t0 = 7 * SEC;
    rl_bucket_init(&b, &lim, t0);
    for (int i = 0; i < 5; i++)
        CHECK_MSG(rl_bucket_take(&b, &lim, 1, t0) == 1, "take %d denied", i);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t0), 0);
    /* 99 ms gives 0.99 token: still denied; 100 ms gives exactly one. */
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t0 + 99 * MS), 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t0 + 100 * MS), 1);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t0 + 100 * MS), 0);
    /* A long idle period refills only up to the burst. */
    uint64_t t1 = t0 + 3600 * SEC;
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t1), 1);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, t1), 0);
}

static void test_bucket_steady_rate_is_exact(void)
{
    /* Over 10 simulated seconds at 1 ms steps, a 250/s bucket with burst 1
     * allows exactly 250 per second (plus the initial token). */
    rl_limit lim = {.rate = 250, .burst = 1};
    rl_bucket b;
    rl_bucket_init(&b, &lim, 0);
    int allowed = 0;
    for (uint64_t t = 0; t <= 10 * SEC; t += MS)
        allowed += rl_bucket_take(&b, &lim, 1, t);
    CHECK_EQ_INT(allowed, 2501);
}

static void test_bucket_clock_backwards_and_cost(void)
{
    rl_limit lim = {.rate = 1, .burst = 3};
    rl_bucket b;
    rl_bucket_init(&b, &lim, 100 * SEC);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 3, 100 * SEC), 1);
    /* Clock goes back: no refund, no refill. */
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, 50 * SEC), 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, 100 * SEC + SEC - 1), 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, 101 * SEC), 1);
    /* A cost above the burst can never pass. */
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 4, 1000 * SEC), 0);
    CHECK_EQ_U64(rl_bucket_wait_ns(&b, &lim, 4, 1000 * SEC), UINT64_MAX);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 3, 1000 * SEC), 1);
    CHECK_EQ_U64(rl_bucket_wait_ns(&b, &lim, 2, 1000 * SEC), 2 * SEC);
    CHECK_EQ_U64(rl_bucket_wait_ns(&b, &lim, 2, 1001 * SEC), 1 * SEC);
    CHECK_EQ_U64(rl_bucket_wait_ns(&b, &lim, 2, 1002 * SEC), 0);
}

static void test_bucket_unlimited_and_zero_burst(void)
{
    rl_limit unl = {.rate = 0, .burst = 0};
    rl_bucket b;
    rl_bucket_init(&b, &unl, 0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(rl_bucket_take(&b, &unl, 100, 0), 1);
    rl_limit one = {.rate = 2, .burst = 0}; /* burst 0 acts as 1 */
    rl_bucket_init(&b, &one, 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &one, 1, 0), 1);
    CHECK_EQ_INT(rl_bucket_take(&b, &one, 1, 0), 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &one, 1, SEC / 2), 1);
}

static void test_bucket_huge_values_do_not_overflow(void)
{
    rl_limit lim = {.rate = UINT32_MAX, .burst = UINT32_MAX};
    rl_bucket b;
    rl_bucket_init(&b, &lim, 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, UINT32_MAX, 0), 1);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, 1, 0), 0);
    CHECK_EQ_INT(rl_bucket_take(&b, &lim, UINT32_MAX, UINT64_MAX), 1);
    CHECK(b.nanotokens == 0);
}

static void test_table_keys_are_independent(void)
{
    rl_table *t = rl_table_new((rl_limit){.rate = 1, .burst = 2}, 16);
    CHECK(t);
    CHECK_EQ_INT(rl_table_take(t, "alice", 1, 0), 1);
    CHECK_EQ_INT(rl_table_take(t, "alice", 1, 0), 1);
    CHECK_EQ_INT(rl_table_take(t, "alice", 1, 0), 0);
    CHECK_EQ_INT(rl_table_take(t, "bob", 2, 0), 1);
    CHECK_EQ_INT(rl_table_take(t, "alice", 1, SEC), 1);
    CHECK_EQ_INT(rl_table_take(t, "", 1, 0), WB_EINVAL);
    char big[RL_KEY_MAX + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(rl_table_take(t, big, 1, 0), WB_ETOOBIG);
    big[RL_KEY_MAX] = '\0'; /* exactly the maximum is fine */
    CHECK_EQ_INT(rl_table_take(t, big, 1, 0), 1);
    rl_stats st;
    rl_table_stats(t, &st);
    CHECK_EQ_U64(st.allowed, 5);
    CHECK_EQ_U64(st.limited, 1);
    CHECK_EQ_U64(st.keys, 3);
    rl_table_free(t);
}

static void test_table_bounded_under_key_flood(void)
{
    const size_t max = 64;
    rl_table *t = rl_table_new((rl_limit){.rate = 1, .burst = 1}, max);
    CHECK(t);
    /* "victim" is used often, so it stays recent and keeps its state. */
    CHECK_EQ_INT(rl_table_take(t, "victim", 1, 0), 1);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "ip-%d", i);
        CHECK_EQ_INT(rl_table_take(t, key, 1, 0), 1);
        if (i % 16 == 0)
            CHECK_MSG(rl_table_take(t, "victim", 1, 0) == 0,
                      "victim's empty bucket was reset at flood key %d", i);
        rl_stats st;
        rl_table_stats(t, &st);
        CHECK_MSG(st.keys <= max, "%zu keys held, max %zu", st.keys, max);
    }
    rl_stats st;
    rl_table_stats(t, &st);
    CHECK_EQ_U64(st.keys, max);
    CHECK(st.evicted_active > 0); /* the flood keys were all still empty */
    rl_table_free(t);
}

static void test_table_sweep_drops_only_full_buckets(void)
{
    rl_table *t = rl_table_new((rl_limit){.rate = 10, .burst = 10}, 100);
    CHECK(t);
    CHECK_EQ_INT(rl_table_take(t, "a", 10, 0), 1);    /* empty at 0 */
    CHECK_EQ_INT(rl_table_take(t, "b", 1, 0), 1);     /* 9/10 at 0 */
    CHECK_EQ_INT(rl_table_take(t, "c", 5, 900 * MS), 1);
    /* At 1 s: a is full again (10 tokens in 1 s), b full after 0.1 s,
     * c holds 5 + 1 = 6: only c survives. */
    CHECK_EQ_U64(rl_table_sweep(t, SEC), 2);
    rl_stats st;
    rl_table_stats(t, &st);
    CHECK_EQ_U64(st.keys, 1);
    CHECK_EQ_U64(st.swept, 2);
    /* c kept its state: 6 tokens, the 7th is refused. */
    CHECK_EQ_INT(rl_table_take(t, "c", 6, SEC), 1);
    CHECK_EQ_INT(rl_table_take(t, "c", 1, SEC), 0);
    /* a came back as a full bucket: same answer as if it had stayed. */
    CHECK_EQ_INT(rl_table_take(t, "a", 10, SEC), 1);
    CHECK_EQ_INT(rl_table_take(t, "a", 1, SEC), 0);
    rl_table_free(t);
}

struct flood_arg {
    rl_table *t;
    int id;
    int allowed;
};

static void *flood_thread(void *p)
{
    struct flood_arg *a = p;
    char key[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "u%d", i % 8);
        if (rl_table_take(a->t, key, 1, 0) == 1)
            a->allowed++;
    }
    return NULL;
}

static void test_table_threads(void)
{
    /* 4 threads hammer 8 keys at a frozen clock: exactly 8 * burst pass. */
    rl_table *t = rl_table_new((rl_limit){.rate = 5, .burst = 100}, 32);
    CHECK(t);
    pthread_t th[4];
    struct flood_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct flood_arg){.t = t, .id = i};
        CHECK(pthread_create(&th[i], NULL, flood_thread, &args[i]) == 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
    }
    CHECK_EQ_INT(total, 800);
    rl_stats st;
    rl_table_stats(t, &st);
    CHECK_EQ_U64(st.allowed + st.limited, 80000);
    rl_table_free(t);
}

static void test_now_is_monotonic(void)
{
    uint64_t a = rl_now_ns(), b = rl_now_ns();
    CHECK(a > 0 && b >= a);
}

int main(void)
{
    WB_RUN(test_bucket_burst_then_rate);
    WB_RUN(test_bucket_steady_rate_is_exact);
    WB_RUN(test_bucket_clock_backwards_and_cost);
    WB_RUN(test_bucket_unlimited_and_zero_burst);
    WB_RUN(test_bucket_huge_values_do_not_overflow);
    WB_RUN(test_table_keys_are_independent);
    WB_RUN(test_table_bounded_under_key_flood);
    WB_RUN(test_table_sweep_drops_only_full_buckets);
    WB_RUN(test_table_threads);
    WB_RUN(test_now_is_monotonic);
    return wb_test_summary();
}
