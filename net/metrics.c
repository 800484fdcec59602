/*
 * metrics.c: registry, series and lock-free updates of metrics.h;
 * metrics_render.c writes the exposition text.
 *
 * Storage of a series: a counter is one atomic uint64 (plus, when set by
 * metrics_counter_set, a double as bits; 0 bits is 0.0); a gauge is a double
 * kept as its bit pattern in an atomic uint64 (set = store, add = CAS
 * loop); a histogram has one atomic uint64 per bucket (NOT cumulative:
 * observe touches a single bucket, render sums them) and its sum as double
 * bits. Series are allocated one by one and never move or die before the
 * registry, so callers may keep pointers to them.
 *
 * Locks: the registry mutex guards the family list; each family's mutex
 * guards its series array (lookup, insert, render). Neither is taken by an
 * update.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_internal.h"
#include "utf8.h"
#include "wb_error.h"

const double metrics_seconds_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,  0.1,    0.25,  0.5,  1,
                                          2.5,   5,      10};
const size_t metrics_seconds_buckets_len =
    sizeof metrics_seconds_buckets / sizeof metrics_seconds_buckets[0];

metrics_registry *metrics_registry_new(void)
{
    metrics_registry *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void series_free(metrics_series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(metrics_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i]);
    series_free(f->overflow);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void metrics_registry_free(metrics_registry *r)
{
    if (!r)
        return;
    metrics_family *f = r->head;
    while (f) {
        metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int valid_name(const char *s, int colon_ok)
{
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '_' || (colon_ok && c == ':') ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int valid_family(enum metrics_type type, const char *name,
                        const char *const *labels, size_t nlabels,
                        const double *bounds, size_t nbounds)
{
    if ((unsigned)type > METRICS_HISTOGRAM || !valid_name(name, 1) ||
        nlabels > METRICS_MAX_LABELS || (nlabels && !labels))
        return 0;
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 ||
            (type == METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return 0;
    }
    if (type != METRICS_HISTOGRAM)
        return bounds == NULL && nbounds == 0;
    if (!bounds || nbounds == 0 || nbounds > METRICS_MAX_BUCKETS)
        return 0;
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return 0;
    return 1;
}

/* A series with copies of values (NULL values: the overflow tuple). */
static metrics_series *series_new(metrics_family *f,
                                  const char *const *values, uint64_t hash)
{
    metrics_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->family = f;
    s->hash = hash;
    for (size_t i = 0; i < f->nlabels; i++) {
        s->values[i] = strdup(values ? values[i] : METRICS_OVERFLOW_VALUE);
        if (!s->values[i])
            goto fail;
    }
    if (f->type == METRICS_HISTOGRAM) {
        s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets);
        if (!s->buckets)
            goto fail;
    }
    return s;
fail:
    series_free(s);
    return NULL;
}

static int family_init(metrics_family *f, enum metrics_type type,
                       const char *name, const char *help,
                       const char *const *labels, size_t nlabels,
                       size_t max_series, const double *bounds,
                       size_t nbounds)
{
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        if (!(f->labels[i] = strdup(labels[i])))
            return WB_ENOMEM;
    f->nbounds = nbounds;
    if (nbounds)
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->max_series = nlabels ? (max_series ? max_series : 1) : 1;
    f->series = calloc(f->max_series, sizeof *f->series);
    f->overflow = nlabels ? series_new(f, NULL, 0) : NULL;
    if (!f->name || !f->help || !f->series || (nlabels && !f->overflow))
        return WB_ENOMEM;
    if (nlabels == 0) { /* the one series exists from the start */
        if (!(f->series[0] = series_new(f, NULL, 0)))
            return WB_ENOMEM;
        f->nseries = 1;
    }
    return 0;
}

int metrics_register(metrics_registry *r, enum metrics_type type,
                     const char *name, const char *help,
                     const char *const *labels, size_t nlabels,
                     size_t max_series, const double *bounds,
                     size_t nbounds, metrics_family **out)
{
    *out = NULL;
    if (!valid_family(type, name, labels, nlabels, bounds, nbounds))
        return WB_EINVAL;
    metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return WB_ENOMEM;
    pthread_mutex_init(&f->mu, NULL);
    int rc = family_init(f, type, name, help, labels, nlabels, max_series,
                         bounds, nbounds);
    if (rc) {
        family_free(f);
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    for (metrics_family *g = r->head; g; g = g->next)
        if (strcmp(g->name, name) == 0)
            rc = WB_EEXIST;
    if (rc == 0) {
        if (r->tail)
            r->tail->next = f;
        else
            r->head = f;
        r->tail = f;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        family_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

static uint64_t values_hash(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p;
             p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull; /* separator: not in UTF-8 */
    }
    return h;
}

static int values_equal(const metrics_series *s, const char *const *values,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return 0;
    return 1;
}

metrics_series *metrics_series_get(metrics_family *f,
                                   const char *const *values)
{
    if (f->nlabels == 0)
        return f->series[0];
    for (size_t i = 0; i < f->nlabels; i++)
        if (!values || !values[i] ||
            strnlen(values[i], METRICS_LABEL_VALUE_MAX + 1) >
                METRICS_LABEL_VALUE_MAX ||
            utf8_validate((const uint8_t *)values[i], strlen(values[i]))) {
            atomic_store(&f->overflow_used, 1);
            return f->overflow;
        }
    uint64_t h = values_hash(values, f->nlabels);
    metrics_series *s = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nseries && !s; i++)
        if (f->series[i]->hash == h &&
            values_equal(f->series[i], values, f->nlabels))
            s = f->series[i];
    if (!s && f->nseries < f->max_series &&
        (s = series_new(f, values, h)) != NULL)
        f->series[f->nseries++] = s;
    pthread_mutex_unlock(&f->mu);
    if (!s) {
        atomic_store(&f->overflow_used, 1);
        s = f->overflow;
    }
    return s;
}

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        bits, &old, double_to_bits(bits_to_double(old) + delta),
        memory_order_relaxed, memory_order_relaxed)) {
    }
}

void metrics_inc(metrics_series *s)
{
    metrics_add(s, 1);
}

void metrics_add(metrics_series *s, uint64_t n)
{
    if (s->family->type == METRICS_COUNTER)
        atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
    else if (s->family->type == METRICS_GAUGE)
        atomic_add_double(&s->bits, (double)n);
}

void metrics_set(metrics_series *s, double v)
{
    if (s->family->type == METRICS_GAUGE)
        atomic_store_explicit(&s->bits, double_to_bits(v),
                              memory_order_relaxed);
}

void metrics_counter_set(metrics_series *s, double v)
{
    if (s->family->type == METRICS_COUNTER && !isnan(v))
        atomic_store_explicit(&s->bits, double_to_bits(v),
                              memory_order_relaxed);
}

void metrics_gauge_add(metrics_series *s, double delta)
{
    if (s->family->type == METRICS_GAUGE)
        atomic_add_double(&s->bits, delta);
}

void metrics_observe(metrics_series *s, double v)
{
    const metrics_family *f = s->family;
    if (f->type != METRICS_HISTOGRAM || isnan(v))
        return;
    size_t b = 0;
    while (b < f->nbounds && v > f->bounds[b])
        b++; /* le: v <= bound lands in that bucket */
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

int metrics_histogram_set(metrics_series *s, const uint64_t *counts,
                          size_t n, double sum)
{
    const metrics_family *f = s->family;
    if (f->type != METRICS_HISTOGRAM || n != f->nbounds + 1 || !counts)
        return WB_EINVAL;
    for (size_t b = 0; b < n; b++)
        atomic_store_explicit(&s->buckets[b], counts[b],
                              memory_order_relaxed);
    atomic_store_explicit(&s->bits, double_to_bits(sum),
                          memory_order_relaxed);
    return 0;
}

double metrics_value(const metrics_series *s)
{
    metrics_series *m = (metrics_series *)s;
    if (s->family->type == METRICS_COUNTER)
        return (double)atomic_load(&m->count) +
               bits_to_double(atomic_load(&m->bits));
    return bits_to_double(atomic_load(&m->bits));
}
