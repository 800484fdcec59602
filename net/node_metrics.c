/*
 * node_metrics.c: the node's Prometheus series (the runbook's names,
 * DESIGN.md section 9) and their scrape-time refresh.
 *
 *   events_total{board}            counter   ops applied (node.c on_ops)
 *   socket_connected_users         gauge     open WS sessions (WS layer)
 *   snapshot_duration_seconds      histogram engine "snapshot.write" events
 *   oplog_queue_size               gauge     records waiting for the log
 *   http_requests_total{code}      counter   HTTP answers (http_conn.c)
 *   rate_limited_total{kind}       counter   requests/ops refused by a limit
 *   ws_errors_total{code}          counter   typed WS errors (WS layer)
 *   boards_loaded                  gauge     boards in memory
 *   process_resident_memory_bytes  gauge     /proc/self/statm
 *   process_open_fds               gauge     entries of /proc/self/fd
 *   process_cpu_seconds_total      counter   getrusage user + system
 *   oplog_fsync_duration_seconds   histogram engine_stats.oplog_fsync
 *   op_apply_duration_seconds      histogram engine_stats.op_apply
 *
 * Gauges read from the engine and /proc, the CPU counter and the two
 * engine histograms (counted in the engine's own atomics, dur_hist.h, and
 * copied in whole) are refreshed by node_metrics_refresh() just before
 * GET /metrics renders (service thread).
 */
#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mirror.h"
#include "node.h"
#include "node_internal.h"
#include "wb_error.h"

static int node_reg(node *n, enum metrics_type t, const char *name,
                    const char *help, const char *label, size_t max_series,
                    metrics_family **out)
{
    const char *labels[1] = {label};
    const double *b = t == METRICS_HISTOGRAM ? metrics_seconds_buckets : NULL;
    size_t nb = t == METRICS_HISTOGRAM ? metrics_seconds_buckets_len : 0;
    return metrics_register(n->m.reg, t, name, help, label ? labels : NULL,
                            label ? 1 : 0, max_series, b, nb, out);
}

/* A histogram fed from the engine's fixed buckets (dur_hist.h). */
static int node_reg_dur(node *n, const char *name, const char *help,
                        metrics_series **out)
{
    double bounds[DUR_HIST_BOUNDS];
    for (unsigned i = 0; i < DUR_HIST_BOUNDS; i++)
        bounds[i] = (double)dur_hist_bounds_ns[i] / 1e9;
    metrics_family *f;
    int rc = metrics_register(n->m.reg, METRICS_HISTOGRAM, name, help, NULL,
                              0, 1, bounds, DUR_HIST_BOUNDS, &f);
    if (rc == 0)
        *out = metrics_series_get(f, NULL);
    return rc;
}

static int node_reg1(node *n, enum metrics_type t, const char *name,
                     const char *help, metrics_series **out)
{
    metrics_family *f;
    int rc = node_reg(n, t, name, help, NULL, 1, &f);
    if (rc == 0)
        *out = metrics_series_get(f, NULL);
    return rc;
}

int node_metrics_init(node *n)
{
    node_metrics *m = &n->m;
    if (!(m->reg = metrics_registry_new()))
        return WB_ENOMEM;
    int rc = 0;
    rc = rc ? rc : node_reg(n, METRICS_COUNTER, "events_total",
                            "Ops applied, per board.", "board", 1000,
                            &m->events_total);
    rc = rc ? rc : node_reg1(n, METRICS_GAUGE, "socket_connected_users",
                             "Open WebSocket sessions.",
                             &m->socket_connected_users);
    rc = rc ? rc : node_reg1(n, METRICS_HISTOGRAM, "snapshot_duration_seconds",
                             "Time to write one snapshot (encode to commit).",
                             &m->snapshot_duration);
    rc = rc ? rc : node_reg1(n, METRICS_GAUGE, "oplog_queue_size",
                             "Oplog records waiting to be written.",
                             &m->oplog_queue_size);
    rc = rc ? rc : node_reg(n, METRICS_COUNTER, "http_requests_total",
                            "HTTP requests answered, by status code.", "code",
                            64, &m->http_requests_total);
    rc = rc ? rc : node_reg(n, METRICS_COUNTER, "rate_limited_total",
                            "Requests or ops refused by a rate limit.", "kind",
                            8, &m->ratelimited_total);
    rc = rc ? rc : node_reg(n, METRICS_COUNTER, "ws_errors_total",
                            "Typed WebSocket errors sent, by code.", "code",
                            64, &m->ws_errors_total);
    rc = rc ? rc : node_reg1(n, METRICS_GAUGE, "boards_loaded",
                             "Boards held in memory.", &m->boards_loaded);
    rc = rc ? rc : node_reg1(n, METRICS_GAUGE, "process_resident_memory_bytes",
                             "Resident memory size in bytes.",
                             &m->process_rss);
    rc = rc ? rc : node_reg1(n, METRICS_GAUGE, "process_open_fds",
                             "Open file descriptors.", &m->process_fds);
    rc = rc ? rc : node_reg1(n, METRICS_COUNTER, "process_cpu_seconds_total",
                             "User and system CPU time spent, in seconds.",
                             &m->process_cpu);
    rc = rc ? rc : node_reg_dur(n, "oplog_fsync_duration_seconds",
                                "Oplog fdatasync time, submit to completion.",
                                &m->oplog_fsync_duration);
    rc = rc ? rc : node_reg_dur(n, "op_apply_duration_seconds",
                                "Time to apply one durable batch to its "
                                "board (engine thread).",
                                &m->op_apply_duration);
    return rc;
}

static double node_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, rss = 0;
    int ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
    fclose(f);
    return ok ? (double)rss * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double node_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            count++;
    closedir(d);
    return count - 1; /* the directory stream's own fd */
}

static double node_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void node_set_dur(metrics_series *s, const dur_hist_counts *c)
{
    (void)metrics_histogram_set(s, c->bucket, DUR_HIST_BUCKETS,
                                (double)c->sum_ns / 1e9);
}

void node_metrics_refresh(node *n)
{
    if (atomic_load(&n->started) && n->eng) {
        engine_stats st;
        engine_get_stats(n->eng, &st);
        metrics_set(n->m.oplog_queue_size, (double)st.oplog_queue);
        metrics_set(n->m.boards_loaded, (double)st.boards_loaded);
        node_set_dur(n->m.oplog_fsync_duration, &st.oplog_fsync);
        node_set_dur(n->m.op_apply_duration, &st.op_apply);
    }
    metrics_counter_set(n->m.process_cpu, node_cpu_seconds());
    metrics_set(n->m.process_rss, node_rss_bytes());
    metrics_set(n->m.process_fds, node_open_fds());
    mirror_metrics_refresh(n); /* mirror lag gauges (no-op without one) */
}

void node_count_http(node *n, int status)
{
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    const char *labels[1] = {code};
    metrics_inc(metrics_series_get(n->m.http_requests_total, labels));
}
