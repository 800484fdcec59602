/*
 * test_net_repl_auth.c: the signature on internal requests between nodes
 * (repl_auth_sign / repl_auth_check, repl.h): a signed request verifies;
 * another secret, method, path, time outside the 60 s window, or a
 * tampered or malformed value does not.
 */
#include <string.h>

#include "repl.h"
#include "wbtest.h"

static const char S[] = "cluster-secret-0123456789abcdef0123456789";

static void test_sign_and_check(void)
{
    char v[128];
    const char *path = "/internal/v1/boards/b1/state";
    CHECK_OK(repl_auth_sign(S, strlen(S), "GET", path, 1800000000, v,
                            sizeof v));
    CHECK(strncmp(v, "1800000000.", 11) == 0);
    CHECK_EQ_INT(strlen(v), 11 + 64);
    CHECK_OK(repl_auth_check(S, strlen(S), "GET", path, v, 1800000000));
    CHECK_OK(repl_auth_check(S, strlen(S), "GET", path, v, 1800000060));
    CHECK_OK(repl_auth_check(S, strlen(S), "GET", path, v, 1799999940));
    CHECK_RC(repl_auth_check(S, strlen(S), "GET", path, v, 1800000061),
             WB_EBADSIG);
    CHECK_RC(repl_auth_check(S, strlen(S), "GET", path, v, 1799999939),
             WB_EBADSIG);
    CHECK_RC(repl_auth_check("other-secret-0123456789abcdef0123456789", 39,
                             "GET", path, v, 1800000000),
             WB_EBADSIG);
    CHECK_RC(repl_auth_check(S, strlen(S), "POST", path, v, 1800000000),
             WB_EBADSIG);
    CHECK_RC(repl_auth_check(S, strlen(S), "GET",
                             "/internal/v1/boards/b2/state", v, 1800000000),
             WB_EBADSIG);
    /* the time is part of the MAC: moving it breaks the signature */
    char moved[128];
    memcpy(moved, v, sizeof moved);
    moved[9] = moved[9] == '0' ? '1' : '0';
    CHECK_RC(repl_auth_check(S, strlen(S), "GET", path, moved,
                             1800000000),
             WB_EBADSIG);
    char flip[128];
    memcpy(flip, v, sizeof flip);
    flip[20] = flip[20] == 'a' ? 'b' : 'a';
    CHECK_RC(repl_auth_check(S, strlen(S), "GET", path, flip, 1800000000),
             WB_EBADSIG);
    static const char *const bad[] = {"", ".", "1800000000", "x.y",
                                      "1800000000.abc", NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_RC(repl_auth_check(S, strlen(S), "GET", path, bad[i],
                                 1800000000),
                 WB_EBADSIG);
    CHECK_RC(repl_auth_sign(S, strlen(S), "GET", path, 1800000000, v, 20),
             WB_ETOOBIG);
    CHECK_RC(repl_auth_sign(NULL, 0, "GET", path, 1800000000, v, sizeof v),
             WB_EINVAL);
}

int main(void)
{
    WB_RUN(test_sign_and_check);
    return wb_test_summary();
}
