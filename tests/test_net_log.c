/* test_net_log.c: structured log lines written to a file, read back and
 * parsed with jansson: escaping, UTF-8 repair, types, timestamps, levels,
 * size caps, flood control and the span budget with an injected clock, and
 * threads. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>

#include "log.h"
#include "log_internal.h"
#include "wbtest.h"

static int out_fd = -1;
static uint64_t fake_mono, fake_wall;

static uint64_t get_mono(void) { return fake_mono; }
static uint64_t get_wall(void) { return fake_wall; }

/* Fresh output file, JSON at debug, no flood control, fake clocks. */
static void setup(enum wblog_format fmt)
{
    char path[600];
    snprintf(path, sizeof path, "%s/log.txt", wb_test_tmpdir("net_log"));
    if (out_fd >= 0)
        close(out_fd);
    out_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
    wblog_init(out_fd, WBLOG_DEBUG, fmt);
    wblog_set_suppression(0, 0);
    fake_mono = 1000;
    fake_wall = 1700000000123ull; /* 2023-11-14T22:13:20.123Z */
    wblog_set_clocks(get_mono, get_wall);
}

/* Whole output so far (malloc'd, NUL-terminated). */
static char *slurp(size_t *len)
{
    off_t n = lseek(out_fd, 0, SEEK_END);
    char *buf = malloc((size_t)n + 1);
    if (!buf || pread(out_fd, buf, (size_t)n, 0) != n)
        abort();
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Splits the output into lines and parses each as JSON; returns the
 * number of lines, -1 if any line is not a JSON object. *arr (may be NULL)
 * receives them as a JSON array. */
static int parse_lines(json_t **arr)
{
    size_t len;
    char *buf = slurp(&len);
    json_t *a = json_array();
    int count = 0;
    char *p = buf;
    while (p < buf + len) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        if (!nl) {
            count = -1;
            break;
        }
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES,
                               &err);
        if (!j || !json_is_object(j)) {
            fprintf(stderr, "  bad line (%s): %.*s\n", err.text,
                    (int)(nl - p > 200 ? 200 : nl - p), p);
            json_decref(j);
            count = -1;
            break;
        }
        json_array_append_new(a, j);
        count++;
        p = nl + 1;
    }
    free(buf);
    if (arr && count >= 0)
        *arr = a;
    else
        json_decref(a);
    return count;
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "<missing>";
}

static void test_escaping_round_trips(void)
{
    setup(WBLOG_JSON);
    char ctl[40];
    size_t k = 0;
    for (int c = 1; c < 0x20; c++)
        ctl[k++] = (char)c;
    ctl[k++] = 0x7f;
    ctl[k] = '\0';
    const char *tricky = "quote\" backslash\\ slash/ brace} \u00e9\u6f22\U0001F600";
    WBLOGF(WBLOG_WARN, "msg with \"quotes\"\n", WBF_STR("ctl", ctl),
           WBF_STR("tricky", tricky), WBF_BOARD("board \"1\""),
           WBF_USER("user\\2"), WBF_OP(17), WBF_STR("key \"odd\"", "v"),
           WBF_STR("nullval", NULL));
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 1);
    json_t *o = json_array_get(a, 0);
    CHECK_STR(str_of(o, "msg"), "msg with \"quotes\"\n");
    CHECK_STR(str_of(o, "ctl"), ctl);
    CHECK_STR(str_of(o, "tricky"), tricky);
    CHECK_STR(str_of(o, "boardId"), "board \"1\"");
    CHECK_STR(str_of(o, "userId"), "user\\2");
    CHECK_STR(str_of(o, "key \"odd\""), "v");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "opId")), 17);
    CHECK(json_is_null(json_object_get(o, "nullval")));
    CHECK_STR(str_of(o, "level"), "warn");
    CHECK_STR(str_of(o, "ts"), "2023-11-14T22:13:20.123Z");
    /* Field order: ts, level, msg, then the caller's order. */
    const char *key;
    json_t *v;
    const char *want[] = {"ts", "level", "msg", "ctl", "tricky", "boardId",
                          "userId", "opId", "key \"odd\"", "nullval"};
    size_t i = 0;
    json_object_foreach(o, key, v) {
        CHECK_MSG(i < 10 && strcmp(key, want[i]) == 0, "key %zu is %s", i,
                  key);
        i++;
    }
    json_decref(a);
}

static void test_invalid_utf8_is_replaced(void)
{
    setup(WBLOG_JSON);
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},                  /* stray byte */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},            /* overlong / */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xe6\xbc", "\xef\xbf\xbd\xef\xbf\xbd"},            /* cut short */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"ok\xc3\xa9", "ok\xc3\xa9"},                        /* valid */
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++)
        WBLOGF(WBLOG_INFO, cases[i].in, WBF_STR("v", cases[i].in));
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), (int)n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        CHECK_MSG(strcmp(str_of(o, "v"), cases[i].out) == 0 &&
                      strcmp(str_of(o, "msg"), cases[i].out) == 0,
                  "case %zu: got \"%s\"", i, str_of(o, "v"));
    }
    json_decref(a);
}

static void test_types_and_errors(void)
{
    setup(WBLOG_JSON);
    WBLOGF(WBLOG_ERROR, "types", WBF_INT("neg", -42),
           WBF_UINT("u", 1ull << 62), WBF_DBL("d", 0.1),
           WBF_DBL("nan", NAN), WBF_BOOL("yes", 7),
           WBF_BOOL("no", 0), WBF_ERR(WB_ELIMIT));
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 1);
    json_t *o = json_array_get(a, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "neg")), -42);
    CHECK_EQ_U64(json_integer_value(json_object_get(o, "u")), 1ull << 62);
    CHECK(json_real_value(json_object_get(o, "d")) == 0.1);
    CHECK(json_is_null(json_object_get(o, "nan")));
    CHECK(json_is_true(json_object_get(o, "yes")));
    CHECK(json_is_false(json_object_get(o, "no")));
    CHECK_STR(str_of(o, "err"), "WB_ELIMIT");
    CHECK_STR(str_of(o, "errMsg"), wb_strerror(WB_ELIMIT));
    CHECK_STR(str_of(o, "level"), "error");
    json_decref(a);
    /* jansson stops at long long; UINT64_MAX is checked on the text. */
    WBLOGF(WBLOG_ERROR, "big", WBF_UINT("big", UINT64_MAX));
    size_t len;
    char *raw = slurp(&len);
    CHECK(strstr(raw, "\"big\":18446744073709551615}\n") != NULL);
    free(raw);
}

static void test_levels_filter_and_skip_work(void)
{
    setup(WBLOG_JSON);
    wblog_init(out_fd, WBLOG_WARN, WBLOG_JSON);
    int evaluated = 0;
    WBLOGF(WBLOG_INFO, "hidden", WBF_INT("n", ++evaluated));
    WBLOG(WBLOG_DEBUG, "hidden too");
    WBLOGF(WBLOG_WARN, "shown", WBF_INT("n", ++evaluated));
    WBLOG(WBLOG_ERROR, "shown too");
    CHECK_EQ_INT(evaluated, 1);
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 2);
    CHECK_STR(str_of(json_array_get(a, 0), "msg"), "shown");
    CHECK_STR(str_of(json_array_get(a, 1), "msg"), "shown too");
    json_decref(a);
    enum wblog_level lv;
    enum wblog_format fm;
    CHECK_OK(wblog_level_parse("debug", &lv));
    CHECK_EQ_INT(lv, WBLOG_DEBUG);
    CHECK_RC(wblog_level_parse("verbose", &lv), WB_EINVAL);
    CHECK_OK(wblog_format_parse("text", &fm));
    CHECK_EQ_INT(fm, WBLOG_TEXT);
    CHECK_RC(wblog_format_parse("xml", &fm), WB_EINVAL);
}

static void test_size_caps_keep_lines_valid(void)
{
    setup(WBLOG_JSON);
    size_t big = 3 * WBLOG_LINE_MAX;
    char *v = malloc(big + 1);
    CHECK(v);
    memset(v, 'x', big);
    v[big] = '\0';
    WBLOGF(WBLOG_INFO, "long value", WBF_STR("v", v), WBF_INT("after", 1));
    /* Quotes escape to two bytes, control bytes to six: the worst case. */
    memset(v, '\x01', big);
    WBLOGF(WBLOG_INFO, "escapes", WBF_STR("a", v), WBF_STR("b", v),
           WBF_STR("c", v), WBF_STR("d", v), WBF_INT("e", 5));
    /* Many small fields: the line fills up and says so. */
    static wblog_field many[2000];
    static char keys[2000][8];
    for (size_t i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "f%zu", i);
        many[i] = WBF_INT(keys[i], (int64_t)i);
    }
    wblog_emit(WBLOG_INFO, "many", many, 2000);
    /* Multi-byte characters are never cut in the middle. */
    for (size_t i = 0; i + 3 <= big; i += 3)
        memcpy(v + i, "\xe6\xbc\xa2", 3);
    v[big - big % 3] = '\0';
    WBLOGF(WBLOG_INFO, "utf8", WBF_STR("v", v));
    free(v);

    size_t len;
    char *raw = slurp(&len);
    for (char *p = raw; *p;) {
        char *nl = strchr(p, '\n');
        CHECK(nl);
        CHECK_MSG((size_t)(nl - p + 1) <= WBLOG_LINE_MAX, "line of %zu",
                  (size_t)(nl - p + 1));
        p = nl + 1;
    }
    free(raw);
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 4);
    json_t *o = json_array_get(a, 0);
    const char *s = str_of(o, "v");
    CHECK_EQ_INT(strlen(s), WBLOG_VALUE_MAX + 3);
    CHECK(strcmp(s + WBLOG_VALUE_MAX, "...") == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "after")), 1);
    CHECK(json_object_get(o, "truncated") == NULL);
    o = json_array_get(a, 1);
    CHECK(json_is_true(json_object_get(o, "truncated")));
    CHECK(json_object_get(o, "a") != NULL);
    CHECK(json_object_get(o, "e") == NULL);
    o = json_array_get(a, 2);
    CHECK(json_is_true(json_object_get(o, "truncated")));
    o = json_array_get(a, 3);
    s = str_of(o, "v");
    size_t sl = strlen(s);
    CHECK(sl > 3 && strcmp(s + sl - 3, "...") == 0);
    CHECK_EQ_INT((sl - 3) % 3, 0);
    json_decref(a);
}

static void test_text_format(void)
{
    setup(WBLOG_TEXT);
    WBLOGF(WBLOG_WARN, "op rejected", WBF_BOARD("b1"), WBF_USER("u 42"),
           WBF_OP(17), WBF_STR("path", "a\"b\n"), WBF_ERR(WB_ELIMIT));
    size_t len;
    char *raw = slurp(&len);
    const char *want =
        "2023-11-14T22:13:20.123Z WARN op rejected boardId=b1 "
        "userId=\"u 42\" opId=17 path=\"a\\\"b\\n\" err=WB_ELIMIT "
        "errMsg=\"board limit exceeded\"\n";
    CHECK_STR(raw, want);
    free(raw);
}

static void test_flood_control(void)
{
    setup(WBLOG_JSON);
    wblog_set_suppression(1000, 3);
    for (int i = 0; i < 10; i++)
        WBLOGF(WBLOG_WARN, "bad frame", WBF_INT("i", i));
    WBLOG(WBLOG_WARN, "other message"); /* its own budget */
    WBLOG(WBLOG_ERROR, "bad frame");    /* other level: its own budget */
    CHECK_EQ_INT(parse_lines(NULL), 5);
    fake_mono += 999; /* still inside the window */
    WBLOG(WBLOG_WARN, "bad frame");
    CHECK_EQ_INT(parse_lines(NULL), 5);
    fake_mono += 1; /* window over: the report comes first */
    WBLOGF(WBLOG_WARN, "bad frame", WBF_INT("i", 99));
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 7);
    json_t *r = json_array_get(a, 5);
    CHECK_STR(str_of(r, "msg"), "suppressed similar messages");
    CHECK_STR(str_of(r, "similar"), "bad frame");
    CHECK_STR(str_of(r, "level"), "warn");
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "suppressed")), 8);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 6),
                                                    "i")), 99);
    json_decref(a);
    /* The timer path: drops reported by wblog_flush_suppressed once the
     * window is over, exactly once. */
    for (int i = 0; i < 4; i++)
        WBLOG(WBLOG_WARN, "bad frame");
    CHECK_EQ_INT(parse_lines(NULL), 9); /* 2 more fit in this window */
    CHECK_EQ_INT(wblog_flush_suppressed(), 0); /* window not over */
    fake_mono += 1000;
    CHECK_EQ_INT(wblog_flush_suppressed(), 1);
    CHECK_EQ_INT(wblog_flush_suppressed(), 0);
    a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(a, 9),
                                                    "suppressed")), 2);
    json_decref(a);
}

/* Spans skip the per-message flood control (a trace with holes
 * misleads) and have their own per-second budget, whose drops are reported
 * once, by the next window's first span or by the timer. */
static void test_span_budget(void)
{
    setup(WBLOG_JSON);
    wblog_set_suppression(10000, 3); /* would keep 3 "span" lines */
    wblog_set_span_rate(5);
    for (int i = 0; i < 8; i++)
        WBLOG_SPAN(WBF_STR("span", "op.apply"), WBF_INT("i", i));
    CHECK_EQ_INT(parse_lines(NULL), 5);
    fake_mono += 1000; /* next window: the report comes first */
    WBLOG_SPAN(WBF_STR("span", "op.apply"), WBF_INT("i", 8));
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 7);
    json_t *r = json_array_get(a, 5);
    CHECK_STR(str_of(r, "msg"), "span records dropped over the span rate");
    CHECK_STR(str_of(r, "level"), "warn");
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "dropped")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "spanRate")), 5);
    json_t *last = json_array_get(a, 6);
    CHECK_STR(str_of(last, "msg"), "span");
    CHECK_STR(str_of(last, "level"), "info");
    CHECK_EQ_INT(json_integer_value(json_object_get(last, "i")), 8);
    json_decref(a);
    /* a burst that stops is reported by the timer, once */
    for (int i = 0; i < 6; i++)
        WBLOG_SPAN(WBF_STR("span", "board.join"));
    CHECK_EQ_INT(parse_lines(NULL), 11);
    CHECK_EQ_INT(wblog_flush_suppressed(), 0); /* window not over */
    fake_mono += 1000;
    CHECK_EQ_INT(wblog_flush_suppressed(), 1);
    CHECK_EQ_INT(wblog_flush_suppressed(), 0);
    CHECK_EQ_INT(parse_lines(NULL), 12);
    /* 0: no span records, nothing reported; info off: nothing either */
    wblog_set_span_rate(0);
    WBLOG_SPAN(WBF_STR("span", "op.apply"));
    fake_mono += 1000;
    CHECK_EQ_INT(wblog_flush_suppressed(), 0);
    wblog_set_span_rate(5);
    wblog_init(out_fd, WBLOG_WARN, WBLOG_JSON);
    WBLOG_SPAN(WBF_STR("span", "op.apply"));
    CHECK_EQ_INT(parse_lines(NULL), 12);
    wblog_set_span_rate(1000);
}

static void test_flood_of_distinct_messages_is_bounded_too(void)
{
    /* Slots are shared by hash: many distinct messages never grow memory
     * and each still gets at least its burst. */
    setup(WBLOG_JSON);
    wblog_set_suppression(1000, 1);
    char msg[32];
    for (int i = 0; i < 500; i++) {
        snprintf(msg, sizeof msg, "distinct %d", i);
        WBLOG(WBLOG_INFO, msg);
    }
    CHECK_EQ_INT(parse_lines(NULL), 500);
}

struct writer_arg {
    int id;
};

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 2000; i++)
        WBLOGF(WBLOG_INFO, "from thread", WBF_INT("thread", a->id),
               WBF_INT("seq", i),
               WBF_STR("pad", "some padding to make lines longer than a "
                              "few bytes, so that interleaving would show"));
    return NULL;
}

static void test_threads_never_interleave(void)
{
    setup(WBLOG_JSON);
    pthread_t th[4];
    struct writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].id = i;
        CHECK(pthread_create(&th[i], NULL, writer_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 8000);
    int next[4] = {0};
    for (size_t i = 0; i < 8000; i++) {
        json_t *o = json_array_get(a, i);
        int t = (int)json_integer_value(json_object_get(o, "thread"));
        int s = (int)json_integer_value(json_object_get(o, "seq"));
        CHECK(t >= 0 && t < 4);
        CHECK_MSG(s == next[t], "thread %d: seq %d after %d", t, s, next[t]);
        next[t]++;
    }
    json_decref(a);
}

static void test_real_clock_timestamp_shape(void)
{
    setup(WBLOG_JSON);
    wblog_set_clocks(NULL, NULL);
    WBLOG(WBLOG_INFO, "now");
    json_t *a = NULL;
    CHECK_EQ_INT(parse_lines(&a), 1);
    const char *ts = str_of(json_array_get(a, 0), "ts");
    int y, mo, d, h, mi, s, ms;
    char z;
    CHECK(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi,
                 &s, &ms, &z) == 8);
    CHECK(strlen(ts) == 24 && z == 'Z' && y >= 2024);
    json_decref(a);
}

int main(void)
{
    WB_RUN(test_escaping_round_trips);
    WB_RUN(test_invalid_utf8_is_replaced);
    WB_RUN(test_types_and_errors);
    WB_RUN(test_levels_filter_and_skip_work);
    WB_RUN(test_size_caps_keep_lines_valid);
    WB_RUN(test_text_format);
    WB_RUN(test_flood_control);
    WB_RUN(test_span_budget);
    WB_RUN(test_flood_of_distinct_messages_is_bounded_too);
    WB_RUN(test_threads_never_interleave);
    WB_RUN(test_real_clock_timestamp_shape);
    return wb_test_summary();
}
