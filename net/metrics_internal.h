/*
 * metrics_internal.h: the registry's structures, shared by metrics.c
 * (registration, updates) and metrics_render.c (exposition). Not public.
 */
#ifndef WB_METRICS_INTERNAL_H
#define WB_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "metrics.h"

struct metrics_series {
    metrics_family *family;
    char *values[METRICS_MAX_LABELS]; /* owned copies, family->nlabels */
    uint64_t hash;                    /* of the values, for lookup */
    _Atomic uint64_t count;           /* counter value */
    _Atomic uint64_t bits;            /* gauge value / histogram sum */
    _Atomic uint64_t *buckets;        /* histogram: nbounds + 1 (+Inf) */
};

struct metrics_family {
    enum metrics_type type;
    char *name, *help;
    char *labels[METRICS_MAX_LABELS];
    size_t nlabels;
    double bounds[METRICS_MAX_BUCKETS];
    size_t nbounds;
    size_t max_series;
    pthread_mutex_t mu;         /* guards series, nseries */
    metrics_series **series;    /* max_series slots */
    size_t nseries;
    metrics_series *overflow;   /* labelled families only */
    _Atomic int overflow_used;  /* rendered once handed out */
    metrics_family *next;       /* registry order; under registry mu */
};

struct metrics_registry {
    pthread_mutex_t mu;
    metrics_family *head, *tail;
};

#endif /* WB_METRICS_INTERNAL_H */
