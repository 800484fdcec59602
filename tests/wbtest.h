/*
 * wbtest.h: the project's minimal test harness (header only).
 *
 * A test file defines functions `static void test_xxx(void)` and a main that
 * calls WB_RUN(test_xxx) for each. Asserts print file:line and what differed,
 * then mark the test failed and return from it; main returns wb_test_summary()
 * (non-zero when anything failed). ctest runs each test file in its own
 * process; WB_TEST_ONLY=name runs a single test.
 *
 * Scratch directories come from wb_test_tmpdir(), under $WB_TEST_TMP (set by
 * ctest) or /tmp, and are unique per process and call.
 */
#ifndef WB_TEST_H
#define WB_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wb_error.h"

static int wb_test_failed_total;
static int wb_test_run_total;
static int wb_test_current_failed;

#define WB_FAIL_(...)                                                        \
    do {                                                                     \
        fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);               \
        fprintf(stderr, __VA_ARGS__);                                        \
        fprintf(stderr, "\n");                                               \
        wb_test_current_failed = 1;                                          \
    } while (0)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            WB_FAIL_("%s", #cond);                                           \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            WB_FAIL_(__VA_ARGS__);                                           \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
    do {                                                                     \
        long long wb_a_ = (long long)(a), wb_b_ = (long long)(b);            \
        if (wb_a_ != wb_b_) {                                                \
            WB_FAIL_("%s == %s: %lld != %lld", #a, #b, wb_a_, wb_b_);        \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                   \
    do {                                                                     \
        uint64_t wb_a_ = (uint64_t)(a), wb_b_ = (uint64_t)(b);               \
        if (wb_a_ != wb_b_) {                                                \
            WB_FAIL_("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, wb_a_,     \
                     wb_b_);                                                 \
            return;                                                          \
        }                                                                    \
    } while (0)

/* Checks a return code: prints the code's name and message on mismatch. */
#define CHECK_RC(expr, want)                                                 \
    do {                                                                     \
        int wb_rc_ = (expr), wb_want_ = (want);                              \
        if (wb_rc_ != wb_want_) {                                            \
            WB_FAIL_("%s: got %d (%s: %s), want %d (%s)", #expr, wb_rc_,     \
                     wb_errname(wb_rc_), wb_strerror(wb_rc_), wb_want_,      \
                     wb_errname(wb_want_));                                  \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, 0)

#define CHECK_MEM(a, b, n)                                                   \
    do {                                                                     \
        if (memcmp((a), (b), (n)) != 0) {                                    \
            WB_FAIL_("%s and %s differ in their first %zu bytes", #a, #b,    \
                     (size_t)(n));                                           \
            return;                                                          \
        }                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *wb_a_ = (a), *wb_b_ = (b);                               \
        if (strcmp(wb_a_, wb_b_) != 0) {                                     \
            WB_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, wb_a_, wb_b_);    \
            return;                                                          \
        }                                                                    \
    } while (0)

#define WB_RUN(fn)                                                           \
    do {                                                                     \
        const char *wb_only_ = getenv("WB_TEST_ONLY");                       \
        if (wb_only_ && strcmp(wb_only_, #fn) != 0)                          \
            break;                                                           \
        wb_test_current_failed = 0;                                          \
        wb_test_run_total++;                                                 \
        fprintf(stderr, "RUN  %s\n", #fn);                                   \
        fn();                                                                \
        if (wb_test_current_failed)                                          \
            wb_test_failed_total++;                                          \
        fprintf(stderr, "%s %s\n", wb_test_current_failed ? "FAIL" : "ok  ", \
                #fn);                                                        \
    } while (0)

static inline int wb_test_summary(void)
{
    fprintf(stderr, "%d tests, %d failed\n", wb_test_run_total,
            wb_test_failed_total);
    return wb_test_failed_total ? 1 : 0;
}

/* Returns a fresh empty directory (static buffer, valid until next call). */
static inline const char *wb_test_tmpdir(const char *tag)
{
    static char path[512];
    static int counter;
    const char *base = getenv("WB_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s-%d-%d", base, tag, (int)getpid(),
             counter++);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        /* ignore: mkdir below reports real problems */
    }
    if (mkdir(path, 0755) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* Removes a directory tree made by wb_test_tmpdir (best effort). */
static inline void wb_test_rmtree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        /* best effort */
    }
}

#endif /* WB_TEST_H */
