/* test_net_ipcount.c: the per-IP connection counts behind
 * --max-conns-per-ip: the cap, release, entries freed at zero, growth
 * across many addresses, long keys. */
#include <stdio.h>
#include <string.h>

#include "ipcount.h"
#include "wbtest.h"

static void test_cap_and_release(void)
{
    ipc_table *t = ipc_new();
    CHECK(t);
    int full = -1;
    ipc_entry *e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = ipc_acquire(t, "10.0.0.1", 3, &full);
        CHECK(e[i] != NULL);
        CHECK_EQ_INT(full, 0);
    }
    CHECK(ipc_acquire(t, "10.0.0.1", 3, &full) == NULL);
    CHECK_EQ_INT(full, 1);
    CHECK_EQ_INT(ipc_count(t, "10.0.0.1"), 3);
    /* another address has its own count */
    ipc_entry *o = ipc_acquire(t, "10.0.0.2", 3, &full);
    CHECK(o != NULL);
    CHECK_EQ_INT(ipc_addresses(t), 2);
    /* one closes: room for one more */
    ipc_release(t, e[0]);
    CHECK_EQ_INT(ipc_count(t, "10.0.0.1"), 2);
    e[0] = ipc_acquire(t, "10.0.0.1", 3, &full);
    CHECK(e[0] != NULL);
    /* all close: the entry goes */
    for (int i = 0; i < 3; i++)
        ipc_release(t, e[i]);
    CHECK_EQ_INT(ipc_count(t, "10.0.0.1"), 0);
    CHECK_EQ_INT(ipc_addresses(t), 1);
    ipc_release(t, o);
    CHECK_EQ_INT(ipc_addresses(t), 0);
    ipc_release(t, NULL); /* harmless */
    /* max 0 admits nothing */
    CHECK(ipc_acquire(t, "10.0.0.3", 0, &full) == NULL);
    CHECK_EQ_INT(full, 1);
    CHECK_EQ_INT(ipc_addresses(t), 0);
    ipc_free(t);
}

static void test_many_addresses(void)
{
    ipc_table *t = ipc_new();
    CHECK(t);
    enum { N = 5000 };
    static ipc_entry *e[N];
    char ip[64];
    int full;
    for (int i = 0; i < N; i++) {
        snprintf(ip, sizeof ip, "2001:db8::%x", i);
        e[i] = ipc_acquire(t, ip, 1, &full);
        CHECK(e[i] != NULL);
    }
    CHECK_EQ_INT(ipc_addresses(t), N);
    int refused = 0;
    for (int i = 0; i < N; i += 7) {
        snprintf(ip, sizeof ip, "2001:db8::%x", i);
        refused += ipc_acquire(t, ip, 1, &full) == NULL && full;
    }
    CHECK_EQ_INT(refused, (N + 6) / 7);
    for (int i = 0; i < N; i++)
        ipc_release(t, e[i]);
    CHECK_EQ_INT(ipc_addresses(t), 0);
    ipc_free(t);
}

static void test_long_keys(void)
{
    ipc_table *t = ipc_new();
    char a[100], b[100];
    memset(a, 'a', 99);
    a[99] = 0;
    memcpy(b, a, sizeof b);
    b[98] = 'b'; /* differs after the 63 bytes kept */
    int full;
    ipc_entry *x = ipc_acquire(t, a, 2, &full);
    ipc_entry *y = ipc_acquire(t, b, 2, &full);
    CHECK(x != NULL && x == y); /* one entry */
    CHECK_EQ_INT(ipc_count(t, a), 2);
    ipc_release(t, x);
    ipc_release(t, y);
    CHECK_EQ_INT(ipc_addresses(t), 0);
    ipc_free(t);
    ipc_free(NULL);
}

int main(void)
{
    WB_RUN(test_cap_and_release);
    WB_RUN(test_many_addresses);
    WB_RUN(test_long_keys);
    return wb_test_summary();
}
