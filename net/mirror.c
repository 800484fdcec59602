/*
 * mirror.c: the Mongo mirror's life and loop (API in mirror.h; the
 * collections and the exactly-once argument in docs/mongo.md).
 *
 * The thread loops: the ops pass (mirror_ops.c), indexes (until they
 * exist), the snapshots pass and every 2 s the boards pass (mirror_snap.c);
 * the lag gauges are refreshed around every round (and at every scrape,
 * mirror_metrics_refresh). With nothing to do it sleeps up to 200 ms
 * (woken by mirror_stop); when idle it pings Mongo every 5 s so mongo_up
 * stays true.
 * Any failure: mirror_errors_total + 1 (mongo_up follows each request to
 * Mongo, mirror_mongo.c), and the thread sleeps
 * the back-off (100 ms, doubling to 5 s, reset by a success) before the
 * next try. Nothing here blocks another thread of the node: the engine is
 * only asked for statistics and told the retention floor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mirror.h"
#include "mirror_internal.h"
#include "wb_error.h"

#define MIRROR_IDLE_MS 200u
#define MIRROR_BACKOFF_MIN_MS 100u
#define MIRROR_BACKOFF_MAX_MS 5000u
#define MIRROR_BOARDS_EVERY_US 2000000
#define MIRROR_PING_EVERY_US 5000000

int64_t mirror_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps ms unless stopped; returns 1 when the mirror must stop. */
static int mirror_sleep(mirror *m, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->mu);
    while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
        ;
    int stop = m->stop;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

static int mirror_stopping(mirror *m)
{
    pthread_mutex_lock(&m->mu);
    int stop = m->stop;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

/* One round; *more = 1 when there is more to do right away. */
static int mirror_round(mirror *m, int *more)
{
    int rc, ops_more = 0, snap_more = 0;
    *more = 0;
    /* ops first: the pass reads the oldest pending record (lag) even when
     * Mongo is down from the start */
    if ((rc = mirror_ops_pass(m, &ops_more)) != 0)
        return rc;
    if (!m->indexes_ok) {
        if ((rc = mirror_mongo_indexes(m)) != 0)
            return rc;
        m->indexes_ok = 1;
        WBLOGF(WBLOG_INFO, "mirror: indexes ready", WBF_STR("db", m->db));
    }
    if ((rc = mirror_snap_pass(m, &snap_more)) != 0)
        return rc;
    int64_t now = mirror_now_us();
    if (now >= m->boards_next_us) {
        if ((rc = mirror_boards_pass(m)) != 0)
            return rc;
        m->boards_next_us = now + MIRROR_BOARDS_EVERY_US;
    }
    *more = ops_more || snap_more;
    if (!*more && now >= m->ping_next_us) {
        if ((rc = mirror_mongo_ping(m)) != 0)
            return rc;
        m->ping_next_us = now + MIRROR_PING_EVERY_US;
    }
    return 0;
}

static void *mirror_main(void *arg)
{
    mirror *m = arg;
    unsigned backoff = MIRROR_BACKOFF_MIN_MS;
    int was_up = -1;
    while (!mirror_stopping(m)) {
        int more = 0;
        mirror_update_lag(m);
        int rc = mirror_round(m, &more);
        mirror_update_lag(m);
        if (rc) {
            metrics_inc(m->errors);
            if (was_up != 0)
                WBLOGF(WBLOG_WARN,
                       "mirror: round failed (Mongo unavailable or a "
                       "local error), retrying with back-off; the node "
                       "is unaffected",
                       WBF_UINT("cursor", m->cursor), WBF_ERR(rc));
            was_up = 0;
            if (mirror_sleep(m, backoff))
                break;
            backoff = backoff * 2 > MIRROR_BACKOFF_MAX_MS
                          ? MIRROR_BACKOFF_MAX_MS
                          : backoff * 2;
            continue;
        }
        if (was_up != 1)
            WBLOGF(WBLOG_INFO, "mirror: exporting",
                   WBF_UINT("cursor", m->cursor), WBF_STR("db", m->db));
        was_up = 1;
        backoff = MIRROR_BACKOFF_MIN_MS;
        if (!more && mirror_sleep(m, MIRROR_IDLE_MS))
            break;
    }
    return NULL;
}

static int mirror_reg(mirror *m, enum metrics_type t, const char *name,
                      const char *help, metrics_series **out)
{
    metrics_family *f;
    int rc =
        metrics_register(m->n->m.reg, t, name, help, NULL, 0, 1, NULL, 0, &f);
    if (rc == 0 && !(*out = metrics_series_get(f, NULL)))
        rc = WB_ENOMEM;
    return rc;
}

static int mirror_metrics(mirror *m)
{
    int rc = 0;
    rc =
        rc ? rc
           : mirror_reg(m, METRICS_GAUGE, "mirror_lag_ops",
                        "Durable oplog records not yet in Mongo.", &m->lag_ops);
    rc = rc ? rc
            : mirror_reg(m, METRICS_GAUGE, "mirror_lag_seconds",
                         "Age of the oldest record not yet in Mongo.",
                         &m->lag_seconds);
    rc = rc ? rc
            : mirror_reg(m, METRICS_COUNTER, "mirror_batches_total",
                         "Bulk writes Mongo acknowledged.", &m->batches);
    rc = rc ? rc
            : mirror_reg(m, METRICS_COUNTER, "mirror_errors_total",
                         "Failed mirror rounds (each retried).", &m->errors);
    rc = rc ? rc
            : mirror_reg(m, METRICS_GAUGE, "mongo_up",
                         "1 when the last Mongo request succeeded.", &m->up);
    rc = rc ? rc
            : mirror_reg(m, METRICS_COUNTER, "mirror_ops_total",
                         "Op documents Mongo acknowledged (replays "
                         "count again).",
                         &m->ops_total);
    rc = rc ? rc
            : mirror_reg(m, METRICS_COUNTER, "mirror_gap_ops_total",
                         "Oplog records retention removed before the "
                         "mirror exported them.",
                         &m->gap_ops);
    return rc;
}

static void mirror_free(mirror *m)
{
    if (m->rd)
        oplog_reader_close(m->rd);
    mirror_mongo_close(m);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int mirror_start(struct node *n)
{
    if (!n->cfg->mongo_url[0] || !n->eng || n->mirror)
        return 0;
    mirror *m = calloc(1, sizeof *m);
    if (!m)
        return WB_ENOMEM;
    m->n = n;
    m->eng = n->eng;
    m->store = engine_snap_store(n->eng);
    m->all = n->cfg->mirror_all;
    m->doc_max = (size_t)n->cfg->mirror_doc_max;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    snprintf(m->oplog_dir, sizeof m->oplog_dir, "%s/oplog", n->cfg->data_dir);
    engine_stats st;
    engine_get_stats(n->eng, &st);
    m->node_id = st.node_id;
    uint64_t cursor = 0;
    int rc = snap_cursor_get(m->store, MIRROR_CURSOR, &cursor);
    if (rc == WB_ENOTFOUND)
        rc = 0, cursor = 0;
    m->cursor = cursor;
    if (!rc && (rc = snap_cursor_get(m->store, MIRROR_SNAP_CURSOR,
                                     &m->snap_cursor)) == WB_ENOTFOUND)
        rc = 0, m->snap_cursor = 0;
    if (!rc)
        rc = engine_set_floor(n->eng, MIRROR_FLOOR, m->cursor + 1);
    if (!rc && (rc = mirror_metrics(m)) == 0)
        mirror_update_lag(m); /* never a stale 0 before the first round */
    if (!rc)
        rc = mirror_mongo_open(m);
    if (!rc && pthread_create(&m->thread, NULL, mirror_main, m) != 0)
        rc = WB_ENOMEM;
    if (rc) {
        WBLOGF(WBLOG_ERROR, "mirror: not started", WBF_ERR(rc));
        mirror_free(m);
        return rc;
    }
    __atomic_store_n(&n->mirror, m, __ATOMIC_RELEASE);
    WBLOGF(WBLOG_INFO, "mirror started", WBF_STR("db", m->db),
           WBF_UINT("cursor", cursor), WBF_UINT("snapCursor", m->snap_cursor),
           WBF_BOOL("mirrorAll", m->all));
    return 0;
}

void mirror_stop(struct node *n)
{
    mirror *m = n->mirror;
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    __atomic_store_n(&n->mirror, NULL, __ATOMIC_RELEASE);
    WBLOGF(WBLOG_INFO, "mirror stopped", WBF_UINT("cursor", m->cursor));
    mirror_free(m);
}

void mirror_metrics_refresh(struct node *n)
{
    mirror *m = __atomic_load_n(&n->mirror, __ATOMIC_ACQUIRE);
    if (m)
        mirror_update_lag(m);
}
