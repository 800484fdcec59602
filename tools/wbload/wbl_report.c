/*
 * wbl_report.c: wb-load's results, as a human table (default) or one JSON
 * object (--json, jansson). Latencies in milliseconds under
 * <what>_<quantile>_ms keys (broadcast, ack, presence, join, join_recv);
 * rates per second of the sending window; errors by kind, with refused
 * acks and error frames split by their wire code name.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wbl.h"

static const char *const code_names[] = {
    "ok", "malformed", "too_big", "unauthorized", "forbidden", "rate_limited",
    "limit", "unavailable", "protocol", "version", "internal", "stale",
    "not_found"};

static const char *code_name(unsigned c)
{
    return c < sizeof code_names / sizeof code_names[0] ? code_names[c] : "other";
}

const char *wbl_err_name(int e)
{
    static const char *const n[WBL_E_COUNT] = {
        "connect", "closed", "decode", "resync", "error_frame", "ack_refused",
        "join_incomplete", "connect_timeout"};
    return e >= 0 && e < WBL_E_COUNT ? n[e] : "other";
}

static const char *const wl_names[] = {"rooms", "bigroom", "idle", "join",
                                       "presence"};

static void put_hist(json_t *o, const char *what, const wbl_hist *h)
{
    static const struct {
        const char *k;
        double q;
    } qs[] = {{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999},
              {"max", 1.0}};
    char key[64];
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        snprintf(key, sizeof key, "%s_%s_ms", what, qs[i].k);
        json_object_set_new(o, key, h->count ? json_real(
                                        (double)wbl_hist_quantile(h, qs[i].q) /
                                        1000.0)
                                             : json_null());
    }
    snprintf(key, sizeof key, "%s_count", what);
    json_object_set_new(o, key, json_integer((json_int_t)h->count));
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static json_t *build(const wbl_run *r, const wbl_stats *s, double wall_s,
                     double cpu_s, double scpu, int64_t rss0, int64_t rss1,
                     uint64_t joined)
{
    const wbl_opts *o = &r->o;
    json_t *j = json_object();
    double win = o->duration > 0 ? o->duration : 1.0;
    json_object_set_new(j, "workload", json_string(wl_names[o->workload]));
    json_object_set_new(j, "url", json_string(o->url));
    json_object_set_new(j, "threads", json_integer(o->threads));
    json_object_set_new(j, "rooms", json_integer(o->rooms));
    json_object_set_new(j, "clients", json_integer(o->clients));
    json_object_set_new(j, "connections", json_integer(r->nclients));
    json_object_set_new(j, "joined", json_integer((json_int_t)joined));
    json_object_set_new(j, "duration_s", json_real(o->duration));
    json_object_set_new(j, "wall_s", json_real(wall_s));
    uint64_t writers = 0;
    for (uint32_t i = 0; i < r->nclients; i++)
        writers += r->clients[i].writer;
    json_object_set_new(j, "writers", json_integer((json_int_t)writers));
    json_object_set_new(j, "rate_per_writer", json_real(o->rate));
    json_object_set_new(j, "offered_ops_per_s",
                        json_real(o->workload == WBL_IDLE || o->workload == WBL_JOIN
                                      ? 0.0
                                      : (double)writers * o->rate));
    json_object_set_new(j, "ops_sent", json_integer((json_int_t)s->ops_sent));
    json_object_set_new(j, "ops_missed_slots",
                        json_integer((json_int_t)s->ops_missed));
    json_object_set_new(j, "acked_ops", json_integer((json_int_t)s->acked));
    json_object_set_new(j, "acked_ops_per_s", json_real((double)s->acked / win));
    json_object_set_new(j, "dup_acks", json_integer((json_int_t)s->dups));
    json_object_set_new(j, "ack_ratio", json_real(ratio(s->acked, s->ops_sent)));
    json_object_set_new(j, "deliveries", json_integer((json_int_t)s->deliveries));
    json_object_set_new(j, "deliveries_expected",
                        json_integer((json_int_t)s->expected));
    json_object_set_new(j, "delivery_ratio",
                        json_real(ratio(s->deliveries, s->expected)));
    json_object_set_new(j, "deliveries_per_s",
                        json_real((double)s->deliveries / win));
    json_object_set_new(j, "self_echoes", json_integer((json_int_t)s->self_echo));
    put_hist(j, "broadcast", &s->bcast);
    put_hist(j, "ack", &s->ack);
    if (o->workload == WBL_PRESENCE) {
        json_object_set_new(j, "presence_sent",
                            json_integer((json_int_t)s->presence_sent));
        json_object_set_new(j, "presence_received",
                            json_integer((json_int_t)s->presence_recv));
        json_object_set_new(j, "presence_expected",
                            json_integer((json_int_t)s->presence_expected));
        json_object_set_new(j, "presence_delivery_ratio",
                            json_real(ratio(s->presence_recv,
                                            s->presence_expected)));
        put_hist(j, "presence", &s->presence);
    }
    if (o->workload == WBL_JOIN) {
        json_object_set_new(j, "elements", json_integer(o->elements));
        put_hist(j, "join", &s->join_loaded);
        put_hist(j, "join_recv", &s->join_recv);
    }
    json_t *e = json_object();
    uint64_t total = 0;
    for (int k = 0; k < WBL_E_COUNT; k++) {
        if (k == WBL_E_ACK || k == WBL_E_ERROR_FRAME)
            continue;
        json_object_set_new(e, wbl_err_name(k), json_integer((json_int_t)s->errors[k]));
        total += s->errors[k];
    }
    char key[64];
    for (unsigned c = 1; c < WBL_NCODES; c++) {
        if (s->ack_code[c]) {
            snprintf(key, sizeof key, "ack_%s", code_name(c));
            json_object_set_new(e, key, json_integer((json_int_t)s->ack_code[c]));
            total += s->ack_code[c];
        }
        if (s->err_code[c]) {
            snprintf(key, sizeof key, "error_%s", code_name(c));
            json_object_set_new(e, key, json_integer((json_int_t)s->err_code[c]));
            total += s->err_code[c];
        }
    }
    json_object_set_new(j, "errors", e);
    json_object_set_new(j, "errors_total", json_integer((json_int_t)total));
    json_object_set_new(j, "generator_cpu_s", json_real(cpu_s));
    json_object_set_new(j, "generator_cpu_pct",
                        json_real(wall_s > 0 ? 100.0 * cpu_s / wall_s : 0.0));
    json_object_set_new(j, "generator_cores",
                        json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    if (scpu >= 0) {
        json_object_set_new(j, "server_cpu_s", json_real(scpu));
        json_object_set_new(j, "server_cpu_pct",
                            json_real(wall_s > 0 ? 100.0 * scpu / wall_s : 0.0));
        json_object_set_new(j, "server_cpu_us_per_op",
                            s->acked ? json_real(scpu * 1e6 / (double)s->acked)
                                     : json_null());
    }
    json_object_set_new(j, "bytes_out", json_integer((json_int_t)s->bytes_out));
    json_object_set_new(j, "bytes_in", json_integer((json_int_t)s->bytes_in));
    if (o->workload == WBL_IDLE) {
        json_object_set_new(j, "server_rss_before_bytes",
                            rss0 >= 0 ? json_integer(rss0) : json_null());
        json_object_set_new(j, "server_rss_after_bytes",
                            rss1 >= 0 ? json_integer(rss1) : json_null());
        if (rss0 >= 0 && rss1 >= 0 && joined) {
            double per = (double)(rss1 - rss0) / (double)joined;
            json_object_set_new(j, "server_rss_per_conn_bytes", json_real(per));
            json_object_set_new(j, "server_rss_per_conn_kib",
                                json_real(per / 1024.0));
        } else {
            json_object_set_new(j, "server_rss_per_conn_bytes", json_null());
            json_object_set_new(j, "server_rss_per_conn_kib", json_null());
        }
    }
    return j;
}

void wbl_report(const wbl_run *r, const wbl_stats *s, double wall_s,
                double cpu_s, double server_cpu_s, int64_t rss_before,
                int64_t rss_after, uint64_t joined)
{
    json_t *j = build(r, s, wall_s, cpu_s, server_cpu_s, rss_before,
                      rss_after, joined);
    if (!j)
        return;
    if (r->o.json) {
        char *t = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (t)
            puts(t);
        free(t);
        json_decref(j);
        return;
    }
    /* the human table: one key per line, in insertion order */
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (json_is_null(v))
            continue;
        if (json_is_object(v)) {
            printf("%-28s", k);
            const char *k2;
            json_t *v2;
            int any = 0;
            json_object_foreach(v, k2, v2) {
                if (json_integer_value(v2)) {
                    printf(" %s=%lld", k2, (long long)json_integer_value(v2));
                    any = 1;
                }
            }
            printf("%s\n", any ? "" : " none");
        } else if (json_is_string(v))
            printf("%-28s %s\n", k, json_string_value(v));
        else if (json_is_integer(v))
            printf("%-28s %lld\n", k, (long long)json_integer_value(v));
        else if (json_is_real(v))
            printf("%-28s %.3f\n", k, json_real_value(v));
    }
    json_decref(j);
}
