/* test_net_metrics.c: the Prometheus registry. Every rendered text goes
 * through a parser of the exposition format written here (HELP/TYPE
 * before samples, label syntax and escapes, numbers, histogram shape), and
 * values are checked after concurrent updates from several threads. */
#include <math.h>
#include <pthread.h>

#include "metrics.h"
#include "wbtest.h"

/* ---- a small exposition-format parser ---- */

#define MAX_SAMPLES 4096

typedef struct sample {
    char name[128];
    int nlabels;
    char key[6][64];
    char val[6][256];
    double value;
} sample;

typedef struct expo {
    sample s[MAX_SAMPLES];
    int n;
    char err[1400];
} expo;

static int parse_label_value(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t k = 0;
    if (*p++ != '"')
        return -1;
    while (*p != '"') {
        char c = *p++;
        if (c == '\0' || c == '\n')
            return -1;
        if (c == '\\') {
            c = *p++;
            if (c == 'n')
                c = '\n';
            else if (c != '\\' && c != '"')
                return -1;
        }
        if (k + 1 >= cap)
            return -1;
        out[k++] = c;
    }
    out[k] = '\0';
    *pp = p + 1;
    return 0;
}

static int parse_sample(const char *line, sample *s)
{
    const char *p = line;
    size_t k = 0;
    memset(s, 0, sizeof *s);
    while (*p && *p != '{' && *p != ' ' && k + 1 < sizeof s->name)
        s->name[k++] = *p++;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nlabels == 6)
                return -1;
            k = 0;
            while (*p && *p != '=' && k + 1 < 64)
                s->key[s->nlabels][k++] = *p++;
            if (*p++ != '=' ||
                parse_label_value(&p, s->val[s->nlabels], 256) != 0)
                return -1;
            s->nlabels++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return -1;
        }
        p++;
    }
    if (*p++ != ' ')
        return -1;
    char *end;
    s->value = strtod(p, &end);
    return (end == p || *end != '\0') ? -1 : 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Parses text into e; returns 0, or -1 with e->err set. Checks that each
 * family has HELP then TYPE before its samples, that sample names belong
 * to the current family, and that families appear once. */
static int parse_expo(const char *text, expo *e)
{
    char line[1024], fam[128] = "", type[32] = "";
    char seen[64][128];
    int nseen = 0, lineno = 0;
    e->n = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl || (size_t)(nl - p) >= sizeof line) {
            snprintf(e->err, sizeof e->err, "line %d unterminated", lineno);
            return -1;
        }
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        p = nl + 1;
        lineno++;
        char name[128], rest[512];
        if (sscanf(line, "# HELP %127s %511[^\n]", name, rest) >= 1 &&
            strncmp(line, "# HELP ", 7) == 0) {
            for (int i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0) {
                    snprintf(e->err, sizeof e->err, "%s twice", name);
                    return -1;
                }
            snprintf(seen[nseen++], 128, "%s", name);
            snprintf(fam, sizeof fam, "%s", name);
            type[0] = '\0';
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            if (sscanf(line, "# TYPE %127s %31s", name, type) != 2 ||
                strcmp(name, fam) != 0) {
                snprintf(e->err, sizeof e->err, "line %d: bad TYPE", lineno);
                return -1;
            }
        } else {
            sample *s = &e->s[e->n];
            if (e->n == MAX_SAMPLES || !type[0] || parse_sample(line, s)) {
                snprintf(e->err, sizeof e->err, "line %d: bad sample: %s",
                         lineno, line);
                return -1;
            }
            char base[128];
            snprintf(base, sizeof base, "%s", s->name);
            if (strcmp(type, "histogram") == 0) {
                const char *sfx[] = {"_bucket", "_sum", "_count"};
                for (int i = 0; i < 3; i++)
                    if (ends_with(base, sfx[i]))
                        base[strlen(base) - strlen(sfx[i])] = '\0';
            }
            if (strcmp(base, fam) != 0) {
                snprintf(e->err, sizeof e->err, "line %d: %s outside %s",
                         lineno, s->name, fam);
                return -1;
            }
            e->n++;
        }
    }
    return 0;
}

/* The value of the sample name{k1=v1[,k2=v2]}, NAN if absent. */
static double find(const expo *e, const char *name, const char *k1,
                   const char *v1, const char *k2, const char *v2)
{
    for (int i = 0; i < e->n; i++) {
        const sample *s = &e->s[i];
        int want = (k1 != NULL) + (k2 != NULL);
        if (strcmp(s->name, name) != 0 || s->nlabels != want)
            continue;
        int ok = 1;
        for (int j = 0; j < s->nlabels; j++) {
            const char *k = j == 0 ? k1 : k2, *v = j == 0 ? v1 : v2;
            if (strcmp(s->key[j], k) != 0 || strcmp(s->val[j], v) != 0)
                ok = 0;
        }
        if (ok)
            return s->value;
    }
    return NAN;
}

static expo *render_parse(metrics_registry *r)
{
    char *text = NULL;
    size_t len = 0;
    if (metrics_render(r, &text, &len) != 0)
        return NULL;
    expo *e = calloc(1, sizeof *e);
    if (e && (strlen(text) != len || parse_expo(text, e) != 0)) {
        fprintf(stderr, "  exposition rejected: %s\n%s", e->err, text);
        free(e);
        e = NULL;
    }
    free(text);
    return e;
}

/* ---- tests ---- */

static void test_registration_is_validated(void)
{
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    metrics_family *f;
    const char *board[] = {"board"};
    const char *le[] = {"le"};
    const char *dup[] = {"a", "a"};
    const char *reserved[] = {"__name"};
    const char *bad[] = {"1abc"};
    double b_ok[] = {0.1, 1};
    double b_desc[] = {1, 0.1};
    double b_nan[] = {NAN};
    CHECK_OK(metrics_register(r, METRICS_COUNTER, "events_total", "h", board,
                              1, 10, NULL, 0, &f));
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "events_total", "h", NULL, 0,
                              0, NULL, 0, &f), WB_EEXIST);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "9lives", "h", NULL, 0, 0,
                              NULL, 0, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "bad-name", "h", NULL, 0, 0,
                              NULL, 0, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "g", "h", dup, 2, 5, NULL, 0,
                              &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "g", "h", reserved, 1, 5,
                              NULL, 0, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "g", "h", bad, 1, 5, NULL, 0,
                              &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_HISTOGRAM, "h", "h", le, 1, 5, b_ok,
                              2, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_HISTOGRAM, "h", "h", NULL, 0, 0,
                              b_desc, 2, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_HISTOGRAM, "h", "h", NULL, 0, 0,
                              b_nan, 1, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_HISTOGRAM, "h", "h", NULL, 0, 0,
                              NULL, 0, &f), WB_EINVAL);
    CHECK_RC(metrics_register(r, METRICS_GAUGE, "g", "h", NULL, 0, 0, b_ok,
                              2, &f), WB_EINVAL);
    CHECK_OK(metrics_register(r, METRICS_HISTOGRAM, "ns:h", "h", board, 1, 5,
                              b_ok, 2, &f));
    metrics_registry_free(r);
}

struct worker {
    metrics_family *events, *users, *latency;
    int id;
};

#define ITER 100000

static void *worker_main(void *p)
{
    struct worker *w = p;
    const char *boards[3][1] = {{"b0"}, {"b1"}, {"b2"}};
    metrics_series *users = metrics_series_get(w->users, NULL);
    metrics_series *lat = metrics_series_get(w->latency, NULL);
    metrics_series *ev = NULL;
    for (int i = 0; i < ITER; i++) {
        if (i % 1000 == 0) /* re-look-up now and then: exercises the lock */
            ev = metrics_series_get(w->events, boards[(i / 1000) % 3]);
        metrics_inc(ev);
        metrics_gauge_add(users, 1);
        metrics_gauge_add(users, -0.5);
        metrics_observe(lat, (i % 4) * 0.25); /* 0, .25, .5, .75 */
    }
    return NULL;
}

static void test_concurrent_updates_render_exact(void)
{
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    const char *board[] = {"board"};
    double b[] = {0.1, 0.5, 1};
    struct worker w = {0};
    CHECK_OK(metrics_register(r, METRICS_COUNTER, "events_total",
                              "Ops accepted, per board.", board, 1, 100,
                              NULL, 0, &w.events));
    CHECK_OK(metrics_register(r, METRICS_GAUGE, "socket_connected_users",
                              "Open WebSocket sessions.", NULL, 0, 0, NULL,
                              0, &w.users));
    CHECK_OK(metrics_register(r, METRICS_HISTOGRAM,
                              "snapshot_duration_seconds",
                              "Time to write one snapshot.", NULL, 0, 0, b,
                              3, &w.latency));
    pthread_t th[4];
    struct worker ws[4];
    for (int i = 0; i < 4; i++) {
        ws[i] = w;
        ws[i].id = i;
        CHECK(pthread_create(&th[i], NULL, worker_main, &ws[i]) == 0);
    }
    /* Render while the threads run: every text must parse, and each
     * histogram must be self-consistent. */
    for (int k = 0; k < 20; k++) {
        expo *e = render_parse(r);
        CHECK(e);
        double inf = find(e, "snapshot_duration_seconds_bucket", "le",
                          "+Inf", NULL, NULL);
        double cnt = find(e, "snapshot_duration_seconds_count", NULL, NULL,
                          NULL, NULL);
        double b1 = find(e, "snapshot_duration_seconds_bucket", "le", "0.5",
                         NULL, NULL);
        free(e);
        CHECK_MSG(inf == cnt && b1 <= inf, "inf %g count %g b %g", inf, cnt,
                  b1);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);

    expo *e = render_parse(r);
    CHECK(e);
    /* Each thread: blocks of 1000 cycle b0,b1,b2: 100 blocks -> 34,33,33. */
    double b0 = find(e, "events_total", "board", "b0", NULL, NULL);
    double b1 = find(e, "events_total", "board", "b1", NULL, NULL);
    double b2 = find(e, "events_total", "board", "b2", NULL, NULL);
    CHECK_MSG(b0 == 4 * 34000 && b1 == 4 * 33000 && b2 == 4 * 33000,
              "%g %g %g", b0, b1, b2);
    CHECK(find(e, "socket_connected_users", NULL, NULL, NULL, NULL) ==
          4 * ITER * 0.5);
    double n = 4.0 * ITER;
    CHECK(find(e, "snapshot_duration_seconds_count", NULL, NULL, NULL,
               NULL) == n);
    CHECK(find(e, "snapshot_duration_seconds_sum", NULL, NULL, NULL, NULL) ==
          n / 4 * (0 + 0.25 + 0.5 + 0.75));
    /* Cumulative buckets: <=0.1 holds the 0s, <=0.5 adds .25 and .5,
     * <=1 and +Inf everything. */
    CHECK(find(e, "snapshot_duration_seconds_bucket", "le", "0.1", NULL,
               NULL) == n / 4);
    CHECK(find(e, "snapshot_duration_seconds_bucket", "le", "0.5", NULL,
               NULL) == 3 * n / 4);
    CHECK(find(e, "snapshot_duration_seconds_bucket", "le", "1", NULL,
               NULL) == n);
    CHECK(find(e, "snapshot_duration_seconds_bucket", "le", "+Inf", NULL,
               NULL) == n);
    CHECK_EQ_INT(e->n, 3 + 1 + 4 + 2);
    free(e);
    metrics_registry_free(r);
}

static void test_cardinality_is_bounded(void)
{
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    metrics_family *f;
    const char *labels[] = {"board", "kind"};
    CHECK_OK(metrics_register(r, METRICS_COUNTER, "events_total", "h",
                              labels, 2, 3, NULL, 0, &f));
    char id[32];
    metrics_series *first = NULL;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "board-%d", i);
        const char *v[] = {id, "set"};
        metrics_series *s = metrics_series_get(f, v);
        CHECK(s);
        if (i == 0)
            first = s;
        metrics_inc(s);
    }
    const char *again[] = {"board-0", "set"};
    CHECK(metrics_series_get(f, again) == first); /* stable pointer */
    char longv[METRICS_LABEL_VALUE_MAX + 2];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *lv[] = {longv, "set"};
    metrics_inc(metrics_series_get(f, lv));
    const char *bad_utf8[] = {"b\xff", "set"};
    CHECK(metrics_series_get(f, bad_utf8) ==
          metrics_series_get(f, lv)); /* both the overflow series */
    expo *e = render_parse(r);
    CHECK(e);
    CHECK_EQ_INT(e->n, 4);
    CHECK(find(e, "events_total", "board", "board-2", "kind", "set") == 1);
    CHECK(isnan(find(e, "events_total", "board", "board-3", "kind", "set")));
    CHECK(find(e, "events_total", "board", METRICS_OVERFLOW_VALUE, "kind",
               METRICS_OVERFLOW_VALUE) == 998);
    free(e);
    metrics_registry_free(r);
}

static void test_escaping_and_number_formats(void)
{
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    metrics_family *f, *g, *h;
    const char *labels[] = {"path"};
    CHECK_OK(metrics_register(r, METRICS_GAUGE, "odd_values",
                              "Help with \\ backslash\nand a newline \"q\"",
                              labels, 1, 10, NULL, 0, &f));
    const char *weird = "a\"b\\c\nd}e,f=g";
    const char *v1[] = {weird};
    metrics_set(metrics_series_get(f, v1), 0.1);
    const char *v2[] = {"nan"};
    metrics_set(metrics_series_get(f, v2), NAN);
    const char *v3[] = {"inf"};
    metrics_set(metrics_series_get(f, v3), -INFINITY);
    const char *v4[] = {"\xc3\xa9t\xc3\xa9"};
    metrics_set(metrics_series_get(f, v4), 1e300);
    CHECK_OK(metrics_register(r, METRICS_GAUGE, "oplog_queue_size", "", NULL,
                              0, 0, NULL, 0, &g));
    metrics_series *q = metrics_series_get(g, NULL);
    metrics_add(q, 5);
    metrics_gauge_add(q, -2);
    CHECK(metrics_value(q) == 3);
    /* Histogram: a value equal to a bound lands in it (le is <=); NaN
     * is ignored; a bound like 0.1 prints as "0.1". */
    double b[] = {0.1, 2};
    CHECK_OK(metrics_register(r, METRICS_HISTOGRAM, "h_seconds", "h", labels,
                              1, 4, b, 2, &h));
    metrics_series *hs = metrics_series_get(h, v1);
    metrics_observe(hs, 0.1);
    metrics_observe(hs, 2);
    metrics_observe(hs, 2.0000001);
    metrics_observe(hs, NAN);
    char *text = NULL;
    size_t len;
    CHECK_OK(metrics_render(r, &text, &len));
    CHECK(strstr(text, "# HELP odd_values Help with \\\\ backslash\\nand a "
                       "newline \"q\"\n") != NULL);
    CHECK(strstr(text, "odd_values{path=\"a\\\"b\\\\c\\nd}e,f=g\"} 0.1\n"));
    CHECK(strstr(text, "odd_values{path=\"nan\"} NaN\n"));
    CHECK(strstr(text, "odd_values{path=\"inf\"} -Inf\n"));
    CHECK(strstr(text, "# TYPE oplog_queue_size gauge\noplog_queue_size 3\n"));
    CHECK(strstr(text, "h_seconds_bucket{path=\"a\\\"b\\\\c\\nd}e,f=g\","
                       "le=\"0.1\"} 1\n"));
    free(text);
    expo *e = render_parse(r);
    CHECK(e);
    CHECK(find(e, "odd_values", "path", weird, NULL, NULL) == 0.1);
    CHECK(find(e, "odd_values", "path", "\xc3\xa9t\xc3\xa9", NULL, NULL) ==
          1e300);
    CHECK(find(e, "h_seconds_bucket", "path", weird, "le", "2") == 2);
    CHECK(find(e, "h_seconds_bucket", "path", weird, "le", "+Inf") == 3);
    CHECK(find(e, "h_seconds_count", "path", weird, NULL, NULL) == 3);
    CHECK(find(e, "h_seconds_sum", "path", weird, NULL, NULL) ==
          0.1 + 2 + 2.0000001);
    free(e);
    /* Wrong-type updates are ignored, not crashes. */
    metrics_observe(q, 1);
    metrics_set(hs, 7);
    CHECK(metrics_value(q) == 3);
    metrics_registry_free(r);
}

static void test_default_buckets(void)
{
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    metrics_family *f;
    CHECK_OK(metrics_register(r, METRICS_HISTOGRAM, "fsync_seconds", "h",
                              NULL, 0, 0, metrics_seconds_buckets,
                              metrics_seconds_buckets_len, &f));
    metrics_observe(metrics_series_get(f, NULL), 0.003);
    expo *e = render_parse(r);
    CHECK(e);
    CHECK_EQ_INT(e->n, (int)metrics_seconds_buckets_len + 3);
    CHECK(find(e, "fsync_seconds_bucket", "le", "0.0025", NULL, NULL) == 0);
    CHECK(find(e, "fsync_seconds_bucket", "le", "0.005", NULL, NULL) == 1);
    CHECK(find(e, "fsync_seconds_bucket", "le", "10", NULL, NULL) == 1);
    free(e);
    metrics_registry_free(r);
}

static void test_histogram_set_from_counts(void)
{
    /* Counts aggregated elsewhere (the engine's atomics) are copied in at
     * scrape time: rendered cumulatively, _count their total. */
    metrics_registry *r = metrics_registry_new();
    CHECK(r);
    metrics_family *f, *c;
    double b[] = {0.001, 0.01};
    CHECK_OK(metrics_register(r, METRICS_HISTOGRAM, "set_seconds", "h", NULL,
                              0, 0, b, 2, &f));
    CHECK_OK(metrics_register(r, METRICS_COUNTER, "set_total", "c", NULL, 0,
                              0, NULL, 0, &c));
    metrics_series *s = metrics_series_get(f, NULL);
    const uint64_t counts[3] = {4, 0, 2};
    CHECK_EQ_INT(metrics_histogram_set(s, counts, 2, 1), WB_EINVAL);
    CHECK_EQ_INT(metrics_histogram_set(metrics_series_get(c, NULL), counts,
                                       3, 1),
                 WB_EINVAL);
    CHECK_OK(metrics_histogram_set(s, counts, 3, 0.5));
    CHECK_OK(metrics_histogram_set(s, counts, 3, 0.75)); /* replaces */
    expo *e = render_parse(r);
    CHECK(e);
    CHECK(find(e, "set_seconds_bucket", "le", "0.001", NULL, NULL) == 4);
    CHECK(find(e, "set_seconds_bucket", "le", "0.01", NULL, NULL) == 4);
    CHECK(find(e, "set_seconds_bucket", "le", "+Inf", NULL, NULL) == 6);
    CHECK(find(e, "set_seconds_count", NULL, NULL, NULL, NULL) == 6);
    CHECK(find(e, "set_seconds_sum", NULL, NULL, NULL, NULL) == 0.75);
    CHECK(find(e, "set_total", NULL, NULL, NULL, NULL) == 0);
    free(e);
    /* A counter set from a fractional source (CPU seconds). */
    metrics_counter_set(metrics_series_get(c, NULL), 1.25);
    CHECK(metrics_value(metrics_series_get(c, NULL)) == 1.25);
    e = render_parse(r);
    CHECK(e);
    CHECK(find(e, "set_total", NULL, NULL, NULL, NULL) == 1.25);
    free(e);
    metrics_registry_free(r);
}

static void test_parser_rejects_bad_text(void)
{
    /* The checker above must be able to fail, or passing means nothing. */
    static const char *bad[] = {
        "x 1\n",                                     /* no HELP/TYPE */
        "# HELP x h\n# TYPE y counter\nx 1\n",      /* TYPE of another */
        "# HELP x h\n# TYPE x counter\ny 1\n",      /* foreign sample */
        "# HELP x h\n# TYPE x counter\nx{a=\"b} 1\n", /* open quote */
        "# HELP x h\n# TYPE x counter\nx{a=\"\\q\"} 1\n", /* bad escape */
        "# HELP x h\n# TYPE x counter\nx one\n",    /* not a number */
        "# HELP x h\n# TYPE x counter\nx 1",         /* no newline */
        "# HELP x h\n# TYPE x counter\n# HELP x h\n", /* family twice */
    };
    expo *e = calloc(1, sizeof *e);
    CHECK(e);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(parse_expo(bad[i], e) != 0, "bad text %zu accepted", i);
    CHECK_OK(parse_expo("# HELP x h\n# TYPE x counter\nx{a=\"\\n\"} 1\n", e));
    CHECK_EQ_INT(e->n, 1);
    free(e);
}

int main(void)
{
    WB_RUN(test_parser_rejects_bad_text);
    WB_RUN(test_registration_is_validated);
    WB_RUN(test_concurrent_updates_render_exact);
    WB_RUN(test_cardinality_is_bounded);
    WB_RUN(test_escaping_and_number_formats);
    WB_RUN(test_default_buckets);
    WB_RUN(test_histogram_set_from_counts);
    return wb_test_summary();
}
