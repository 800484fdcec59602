/*
 * metrics_render.c: the Prometheus text exposition format (0.0.4).
 *
 * Per family: "# HELP name text" (backslash and newline escaped), "# TYPE
 * name counter|gauge|histogram", then one line per series: name, labels in
 * registration order as {k="v",...} (backslash, double quote and newline
 * escaped), a space, the value. Histograms print cumulative
 * name_bucket{...,le="<bound>"} lines ending with le="+Inf", then name_sum
 * and name_count (= the +Inf bucket). Numbers: counters and counts as
 * integers; others as the shortest decimal that reads back to the same
 * double, or NaN, +Inf, -Inf.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"
#include "wb_error.h"

static void fmt_double(char *buf, size_t cap, double d)
{
    if (isnan(d))
        snprintf(buf, cap, "NaN");
    else if (isinf(d))
        snprintf(buf, cap, "%s", d > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(buf, cap, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, cap, "%.17g", d);
    }
}

static void put_double(FILE *o, double d)
{
    char buf[48];
    fmt_double(buf, sizeof buf, d);
    fputs(buf, o);
}

static void put_escaped(FILE *o, const char *s, int quote_too)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", o);
        else if (*s == '\n')
            fputs("\\n", o);
        else if (quote_too && *s == '"')
            fputs("\\\"", o);
        else
            fputc(*s, o);
    }
}

/* {k="v",...[,le="x"]} or nothing when there are no labels and no le. */
static void put_labels(FILE *o, const metrics_series *s, const char *le)
{
    const metrics_family *f = s->family;
    if (f->nlabels == 0 && !le)
        return;
    fputc('{', o);
    for (size_t i = 0; i < f->nlabels; i++) {
        fprintf(o, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(o, s->values[i], 1);
        fputc('"', o);
    }
    if (le)
        fprintf(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    fputc('}', o);
}

static void put_histogram(FILE *o, metrics_series *s)
{
    const metrics_family *f = s->family;
    uint64_t cum = 0;
    char le[48];
    for (size_t b = 0; b <= f->nbounds; b++) {
        cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        fmt_double(le, sizeof le, b < f->nbounds ? f->bounds[b] : INFINITY);
        fprintf(o, "%s_bucket", f->name);
        put_labels(o, s, le);
        fprintf(o, " %llu\n", (unsigned long long)cum);
    }
    fprintf(o, "%s_sum", f->name);
    put_labels(o, s, NULL);
    fputc(' ', o);
    put_double(o, metrics_value(s));
    fprintf(o, "\n%s_count", f->name);
    put_labels(o, s, NULL);
    fprintf(o, " %llu\n", (unsigned long long)cum);
}

static void put_series(FILE *o, metrics_series *s)
{
    const metrics_family *f = s->family;
    if (f->type == METRICS_HISTOGRAM) {
        put_histogram(o, s);
        return;
    }
    fputs(f->name, o);
    put_labels(o, s, NULL);
    fputc(' ', o);
    if (f->type == METRICS_COUNTER && atomic_load(&s->bits) == 0)
        fprintf(o, "%llu", (unsigned long long)atomic_load(&s->count));
    else
        put_double(o, metrics_value(s));
    fputc('\n', o);
}

static const char *type_name(enum metrics_type t)
{
    return t == METRICS_COUNTER ? "counter"
           : t == METRICS_GAUGE ? "gauge"
                                : "histogram";
}

static void put_family(FILE *o, metrics_family *f)
{
    fprintf(o, "# HELP %s ", f->name);
    put_escaped(o, f->help, 0);
    fprintf(o, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nseries; i++)
        put_series(o, f->series[i]);
    pthread_mutex_unlock(&f->mu);
    if (f->overflow && atomic_load(&f->overflow_used))
        put_series(o, f->overflow);
}

int metrics_render(metrics_registry *r, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t n = 0;
    FILE *o = open_memstream(&buf, &n);
    if (!o)
        return WB_ENOMEM;
    pthread_mutex_lock(&r->mu);
    for (metrics_family *f = r->head; f; f = f->next)
        put_family(o, f);
    pthread_mutex_unlock(&r->mu);
    int err = ferror(o);
    if (fclose(o) != 0 || err || !buf) {
        free(buf);
        return WB_ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}
