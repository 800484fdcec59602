/* test_error.c: every code has a distinct name and a message. */
#include <errno.h>

#include "wbtest.h"

static void test_codes_are_named(void)
{
    const int codes[] = {WB_EINVAL,     WB_ENOMEM,   WB_ECLOSED,   WB_ENOTFOUND,
                         WB_EEXIST,     WB_EBUSY,    WB_ETIMEDOUT, WB_EAGAIN,
                         WB_ECORRUPT,   WB_ETRUNCATED, WB_EBADMAGIC,
                         WB_EBADVERSION, WB_EFULL,   WB_EIO,       WB_EFAILED,
                         WB_ENODEID,    WB_EMALFORMED, WB_EUTF8,   WB_ETOOBIG,
                         WB_EUNKNOWN,   WB_ELIMIT,   WB_ESTALE,
                         WB_EBADSIG,    WB_EEXPIRED, WB_ENOTYET,   WB_EBADALG,
                         WB_ENOHISTORY};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(strcmp(wb_strerror(codes[i]), "unknown error") != 0,
                  "code %d has no message", codes[i]);
        CHECK_MSG(strncmp(wb_errname(codes[i]), "WB_E", 4) == 0 &&
                      strcmp(wb_errname(codes[i]), "WB_E?") != 0,
                  "code %d has no name", codes[i]);
        for (size_t j = i + 1; j < n; j++)
            CHECK_MSG(codes[i] != codes[j], "codes %zu and %zu collide", i, j);
    }
}

static void test_errno_passthrough(void)
{
    CHECK_STR(wb_strerror(-ENOSPC), strerror(ENOSPC));
    CHECK_STR(wb_errname(-EIO), "EIO");
    CHECK_STR(wb_strerror(0), "success");
    CHECK_STR(wb_strerror(12345), "unknown error");
}

int main(void)
{
    WB_RUN(test_codes_are_named);
    WB_RUN(test_errno_passthrough);
    return wb_test_summary();
}
