/*
 * wbl_main.c: wb-load's command line and the run's phases (see wbl.h and
 * tools/wbload/README.md).
 *
 *   wb-load WORKLOAD --url ws://HOST:PORT[/ws] [--rooms R] [--clients C]
 *           [--rate OPS_PER_S] [--duration S] [--json] ...
 *
 * Every wait is bounded: connecting (10 s + 1 s per 500 connections), the
 * run (--duration), the drain (--drain), the join phases (60 s + 5 s per
 * client), closing (10 s). Exit status: 0 when the run completed (whatever
 * the figures), 1 when it could not (setup failed, nobody joined), 2 for
 * usage errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "wbl.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: wb-load WORKLOAD --url ws://HOST:PORT [options]\n"
"workloads:\n"
"  rooms     R rooms x C clients, every client writes --rate ops/s\n"
"  bigroom   1 room x C clients, --writers of them write --rate ops/s each\n"
"  idle      C connections in total over R rooms, held --duration s;\n"
"            reports the server's RSS per connection\n"
"  join      a board filled with --elements, then C fresh clients join one\n"
"            after another: socket open -> full state decoded\n"
"  presence  rooms plus cursor presence at --presence-hz per client\n"
"options:\n"
"  --url U            ws://host:port (path /ws by default) or wss://\n"
"  --rooms R          rooms (default: rooms 50, presence 10, idle 100, else 1)\n"
"  --clients C        per room (rooms, presence, bigroom); in total (idle,\n"
"                     join). Defaults: 10, 10, 200, 2000, 10\n"
"  --writers W        bigroom: writing clients (default 1)\n"
"  --rate OPS_PER_S   per writing client (default rooms 20, bigroom 200,\n"
"                     presence 5)\n"
"  --presence-hz HZ   presence: cursor frames per client per second (30)\n"
"  --duration S       seconds of sending, or of holding for idle (10; idle 5)\n"
"  --drain S          seconds to wait for late acks/broadcasts (3)\n"
"  --elements E       join: elements on the board (20000)\n"
"  --max-ops N        stop after N ops in all (0: the duration bounds)\n"
"  --threads N        worker threads (default: online CPUs, at most 4)\n"
"  --connect-rate N   new connections per second (default 2000; 0: unpaced)\n"
"  --tick-us US       scheduler period (default 500): slots are sent up to\n"
"                     this late (counted in the latencies); shorter costs CPU\n"
"  --evlib ev|poll    worker event loop: libev on epoll (default) or lws's\n"
"                     own poll(2) loop, which rescans every socket per wake-up\n"
"  --token T          one token for every client (else minted from\n"
"                     JWT_SECRET in the environment, else guest sign-in)\n"
"  --boards A,B,...   existing board ids, one per room (else created)\n"
"  --no-setup         no HTTP at all: made-up board ids (for wb-relay)\n"
"  --server-pid PID   read the server's RSS from /proc/PID (else /metrics)\n"
"  --insecure         wss: accept any certificate\n"
"  --json             one JSON object instead of the table\n");
}

static int parse_url(wbl_run *r)
{
    const char *u = r->o.url;
    const char *rest;
    if (!strncmp(u, "ws://", 5)) {
        rest = u + 5;
        r->port = 80;
    } else if (!strncmp(u, "wss://", 6)) {
        rest = u + 6;
        r->tls = 1;
        r->port = 443;
    } else
        return -1;
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    char hp[256];
    if (hl == 0 || hl >= sizeof hp)
        return -1;
    memcpy(hp, rest, hl);
    hp[hl] = 0;
    char *colon = strrchr(hp, ':');
    if (colon && !strchr(hp, ']')) {
        *colon = 0;
        r->port = atoi(colon + 1);
    } else if (colon && colon > strchr(hp, ']')) {
        *colon = 0;
        r->port = atoi(colon + 1);
    }
    if (r->port <= 0 || r->port > 65535)
        return -1;
    char *h = hp;
    if (h[0] == '[') {
        h++;
        char *e = strchr(h, ']');
        if (e)
            *e = 0;
    }
    snprintf(r->host, sizeof r->host, "%s", h);
    snprintf(r->path, sizeof r->path, "%s", slash && slash[1] ? slash : "/ws");
    return 0;
}

static int parse_args(wbl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return -1;
    static const char *const wl[] = {"rooms", "bigroom", "idle", "join",
                                     "presence"};
    o->workload = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(argv[1], wl[i]))
            o->workload = i;
    if (o->workload < 0)
        return -1;
    o->rooms = -1;
    o->clients = -1;
    o->rate = -1;
    o->duration = -1;
    o->drain = 3;
    o->writers = 1;
    o->presence_hz = 30;
    o->elements = 20000;
    o->connect_rate = 2000;
    o->tick_us = 500;
    o->evlib = 1;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = nc < 1 ? 1 : nc > 4 ? 4 : (int)nc;
    enum { O_URL = 1, O_ROOMS, O_CLIENTS, O_WRITERS, O_RATE, O_PHZ, O_DUR,
           O_DRAIN, O_ELEM, O_MAXOPS, O_THREADS, O_CRATE, O_TOKEN, O_BOARDS,
           O_NOSETUP, O_PID, O_INSECURE, O_JSON, O_HELP, O_TICK, O_EVLIB };
    static const struct option opts[] = {
        {"url", 1, 0, O_URL},         {"rooms", 1, 0, O_ROOMS},
        {"clients", 1, 0, O_CLIENTS}, {"writers", 1, 0, O_WRITERS},
        {"rate", 1, 0, O_RATE},       {"presence-hz", 1, 0, O_PHZ},
        {"duration", 1, 0, O_DUR},    {"drain", 1, 0, O_DRAIN},
        {"elements", 1, 0, O_ELEM},   {"max-ops", 1, 0, O_MAXOPS},
        {"threads", 1, 0, O_THREADS}, {"connect-rate", 1, 0, O_CRATE},
        {"token", 1, 0, O_TOKEN},     {"boards", 1, 0, O_BOARDS},
        {"no-setup", 0, 0, O_NOSETUP}, {"server-pid", 1, 0, O_PID},
        {"insecure", 0, 0, O_INSECURE}, {"json", 0, 0, O_JSON},
        {"help", 0, 0, O_HELP},       {"tick-us", 1, 0, O_TICK},
        {"evlib", 1, 0, O_EVLIB},
        {0, 0, 0, 0}};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_URL: snprintf(o->url, sizeof o->url, "%s", optarg); break;
        case O_ROOMS: o->rooms = atoi(optarg); break;
        case O_CLIENTS: o->clients = atoi(optarg); break;
        case O_WRITERS: o->writers = atoi(optarg); break;
        case O_RATE: o->rate = atof(optarg); break;
        case O_PHZ: o->presence_hz = atof(optarg); break;
        case O_DUR: o->duration = atof(optarg); break;
        case O_DRAIN: o->drain = atof(optarg); break;
        case O_ELEM: o->elements = atoi(optarg); break;
        case O_MAXOPS: o->max_ops = atol(optarg); break;
        case O_THREADS: o->threads = atoi(optarg); break;
        case O_CRATE: o->connect_rate = atof(optarg); break;
        case O_TOKEN:
            if (strlen(optarg) >= sizeof o->token)
                return -1;
            snprintf(o->token, sizeof o->token, "%s", optarg);
            break;
        case O_BOARDS:
            snprintf(o->boards_arg, sizeof o->boards_arg, "%s", optarg);
            break;
        case O_NOSETUP: o->no_setup = 1; break;
        case O_PID: o->server_pid = atol(optarg); break;
        case O_INSECURE: o->insecure = 1; break;
        case O_JSON: o->json = 1; break;
        case O_TICK: o->tick_us = atoi(optarg); break;
        case O_EVLIB:
            if (!strcmp(optarg, "poll"))
                o->evlib = 0;
            else if (!strcmp(optarg, "ev"))
                o->evlib = 1;
            else
                return -1;
            break;
        default: return -1;
        }
    }
    if (optind != argc || !o->url[0])
        return -1;
    static const int d_rooms[] = {50, 1, 100, 1, 10};
    static const int d_clients[] = {10, 200, 2000, 10, 10};
    static const double d_rate[] = {20, 200, 0, 0, 5};
    if (o->rooms < 0)
        o->rooms = d_rooms[o->workload];
    if (o->clients < 0)
        o->clients = d_clients[o->workload];
    if (o->rate < 0)
        o->rate = d_rate[o->workload];
    if (o->duration < 0)
        o->duration = o->workload == WBL_IDLE ? 5 : 10;
    if (o->workload == WBL_BIGROOM || o->workload == WBL_JOIN)
        o->rooms = 1;
    if (o->rooms < 1 || o->clients < 1 || o->threads < 1 || o->threads > 64 ||
        o->rate < 0 || o->duration < 0 || o->drain < 0 || o->elements < 1 ||
        o->writers < 0 || o->presence_hz < 0 || o->connect_rate < 0 ||
        o->tick_us < 50 || o->tick_us > 100000)
        return -1;
    return 0;
}

/* Assigns the connections: ids, rooms, roles, schedules, workers. */
static int plan(wbl_run *r)
{
    const wbl_opts *o = &r->o;
    uint64_t n;
    switch (o->workload) {
    case WBL_IDLE: n = (uint64_t)o->clients; break;
    case WBL_JOIN: n = (uint64_t)o->clients + 1; break; /* + the filler */
    default: n = (uint64_t)o->rooms * (uint64_t)o->clients; break;
    }
    if (n >= WBL_MAX_CLIENTS) {
        fprintf(stderr, "wb-load: at most %u connections\n", WBL_MAX_CLIENTS - 1);
        return -1;
    }
    r->nclients = (uint32_t)n;
    r->clients = calloc(n, sizeof *r->clients);
    r->workers = calloc((size_t)o->threads, sizeof *r->workers);
    r->room_size = calloc((size_t)o->rooms, sizeof *r->room_size);
    if (!r->clients || !r->workers || !r->room_size)
        return -1;
    int nt = o->workload == WBL_JOIN ? 1 : o->threads;
    if (o->workload == WBL_JOIN)
        r->o.threads = 1;
    for (int t = 0; t < nt; t++) {
        r->workers[t].clients = calloc(n / (uint64_t)nt + 1, sizeof(wbl_client *));
        if (!r->workers[t].clients)
            return -1;
    }
    uint64_t writers_total = 0;
    for (uint32_t i = 0; i < r->nclients; i++) {
        wbl_client *c = &r->clients[i];
        c->idx = i;
        switch (o->workload) {
        case WBL_IDLE: c->room = i % (uint32_t)o->rooms; break;
        case WBL_JOIN: c->room = 0; c->filler = i == 0; break;
        default: c->room = i / (uint32_t)o->clients; break;
        }
        c->writer = o->workload == WBL_ROOMS || o->workload == WBL_PRESENCE ||
                    (o->workload == WBL_BIGROOM && (int)i < o->writers);
        if (c->writer && o->rate > 0) {
            c->interval_us = (uint64_t)(1e6 / o->rate);
            if (!c->interval_us)
                c->interval_us = 1;
        } else
            c->writer = 0;
        writers_total += c->writer;
        if (o->workload == WBL_PRESENCE && o->presence_hz > 0)
            c->pres_interval_us = (uint64_t)(1e6 / o->presence_hz);
        wbl_worker *w = &r->workers[i % (uint32_t)nt];
        c->w = w;
        w->clients[w->nclients++] = c;
    }
    if (o->max_ops > 0 && writers_total)
        for (uint32_t i = 0; i < r->nclients; i++)
            r->clients[i].max_ops =
                ((uint64_t)o->max_ops + writers_total - 1) / writers_total;
    return 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t sum_pub(const wbl_run *r, size_t off)
{
    uint64_t s = 0;
    for (int i = 0; i < r->o.threads; i++)
        s += atomic_load((_Atomic uint64_t *)((char *)&r->workers[i] + off));
    return s;
}
#define SUM(r, field) sum_pub(r, offsetof(wbl_worker, field))

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void set_phase(wbl_run *r, int ph)
{
    atomic_store_explicit(&r->phase, ph, memory_order_release);
}

/* Waits until all connections are welcomed or failed, bounded. */
static uint64_t wait_connected(wbl_run *r, uint32_t want)
{
    uint64_t deadline = wbl_now_us() + 10000000u + (uint64_t)want * 2000u;
    if (r->o.connect_rate > 0)
        deadline += (uint64_t)(want / r->o.connect_rate * 1e6);
    uint64_t joined = 0;
    while (wbl_now_us() < deadline) {
        joined = SUM(r, pub_joined);
        if (joined + SUM(r, pub_failed) >= want)
            break;
        sleep_ms(20);
    }
    return joined;
}

int main(int argc, char **argv)
{
    static wbl_run run;
    wbl_run *r = &run;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (parse_args(&r->o, argc, argv) || parse_url(r)) {
        usage(stderr);
        return 2;
    }
    /* every connection is a file descriptor: raise the soft limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 7, sizeof rnd);
    snprintf(r->nonce, sizeof r->nonce, "%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    if (plan(r) || wbl_setup(r))
        return 1;
    const wbl_opts *o = &r->o;
    int64_t rss0 = -1, rss1 = -1;
    if (o->workload == WBL_IDLE)
        rss0 = wbl_server_rss(r);
    r->t_origin_us = wbl_now_us();
    if (wbl_workers_start(r))
        return 1;
    uint64_t t0 = wbl_now_us();
    double cpu0 = cpu_seconds();
    set_phase(r, WBL_PH_CONNECT);
    uint32_t want = o->workload == WBL_JOIN ? 1 : r->nclients;
    uint64_t joined = wait_connected(r, want);
    uint64_t dropped = want > joined ? want - joined : 0;
    if (joined == 0) {
        fprintf(stderr, "wb-load: no connection was welcomed\n");
        set_phase(r, WBL_PH_CLOSE);
        wbl_workers_join(r);
        return 1;
    }
    double cpu_a = cpu_seconds(), scpu_a = wbl_server_cpu(r);
    uint64_t ta = wbl_now_us();
    switch (o->workload) {
    case WBL_IDLE:
        sleep_ms((unsigned)(o->duration * 1000));
        rss1 = wbl_server_rss(r);
        joined = SUM(r, pub_joined);
        break;
    case WBL_JOIN: {
        set_phase(r, WBL_PH_FILL);
        uint64_t dl = wbl_now_us() + 60000000u + (uint64_t)o->elements * 1000u;
        while (wbl_now_us() < dl && SUM(r, pub_filled) < (uint64_t)o->elements &&
               SUM(r, pub_open) > 0)
            sleep_ms(20);
        if (SUM(r, pub_filled) < (uint64_t)o->elements) {
            fprintf(stderr, "wb-load: join: the board was not filled (%llu of %d)\n",
                    (unsigned long long)SUM(r, pub_filled), o->elements);
            set_phase(r, WBL_PH_CLOSE);
            wbl_workers_join(r);
            return 1;
        }
        cpu_a = cpu_seconds();
        scpu_a = wbl_server_cpu(r);
        ta = wbl_now_us();
        set_phase(r, WBL_PH_JOIN);
        dl = wbl_now_us() + 60000000u + (uint64_t)o->clients * 5000000u;
        while (wbl_now_us() < dl && SUM(r, pub_joins_done) < (uint64_t)o->clients)
            sleep_ms(5);
        joined = SUM(r, pub_joins_done);
        break;
    }
    default: {
        uint64_t start = wbl_now_us() + 200000u;
        for (uint32_t i = 0; i < r->nclients; i++) {
            wbl_client *c = &r->clients[i];
            /* spread the first slots over one interval */
            if (c->interval_us)
                c->next_us = start + (uint64_t)(i * 7919u % 1000u) * c->interval_us / 1000u;
            if (c->pres_interval_us)
                c->pres_next_us = start + (uint64_t)(i * 104729u % 1000u) *
                                              c->pres_interval_us / 1000u;
        }
        r->t_start_us = start;
        r->t_end_us = start + (uint64_t)(o->duration * 1e6);
        cpu_a = cpu_seconds();
        scpu_a = wbl_server_cpu(r);
        ta = wbl_now_us();
        set_phase(r, WBL_PH_RUN);
        while (wbl_now_us() < r->t_end_us) {
            sleep_ms(20);
            if (o->max_ops > 0 && SUM(r, pub_sent) >= (uint64_t)o->max_ops)
                break;
        }
        set_phase(r, WBL_PH_DRAIN);
        uint64_t dl = wbl_now_us() + (uint64_t)(o->drain * 1e6);
        while (wbl_now_us() < dl) {
            sleep_ms(10);
            /* every slot sent (or missed) first, then every answer */
            if (SUM(r, pub_slots_done) >= (uint64_t)o->threads &&
                SUM(r, pub_answered) >= SUM(r, pub_sent) &&
                SUM(r, pub_self) >= SUM(r, pub_sent) &&
                SUM(r, pub_deliveries) >= SUM(r, pub_expected) &&
                SUM(r, pub_pres_recv) >= SUM(r, pub_pres_expected))
                break; /* (presence over the node's limit waits it out) */
        }
        joined = SUM(r, pub_joined);
        break;
    }
    }
    double cpu_b = cpu_seconds(), scpu_b = wbl_server_cpu(r);
    uint64_t tb = wbl_now_us();
    (void)cpu0;
    (void)t0;
    set_phase(r, WBL_PH_CLOSE);
    wbl_workers_join(r);
    wbl_stats *all = calloc(1, sizeof *all);
    if (!all)
        return 1;
    for (int i = 0; i < o->threads; i++) {
        const wbl_stats *s = &r->workers[i].st;
        uint64_t *d = (uint64_t *)all;
        const uint64_t *sp = (const uint64_t *)s;
        size_t nscalar = offsetof(wbl_stats, bcast) / sizeof(uint64_t);
        for (size_t k = 0; k < nscalar; k++)
            d[k] += sp[k];
        wbl_hist_merge(&all->bcast, &s->bcast);
        wbl_hist_merge(&all->ack, &s->ack);
        wbl_hist_merge(&all->presence, &s->presence);
        wbl_hist_merge(&all->join_recv, &s->join_recv);
        wbl_hist_merge(&all->join_loaded, &s->join_loaded);
    }
    all->errors[WBL_E_TIMEOUT] += dropped > all->errors[WBL_E_CONNECT] +
                                              all->errors[WBL_E_CLOSED]
                                      ? dropped - all->errors[WBL_E_CONNECT] -
                                            all->errors[WBL_E_CLOSED]
                                      : 0;
    wbl_report(r, all, (double)(tb - ta) / 1e6, cpu_b - cpu_a,
               scpu_a >= 0 && scpu_b >= 0 ? scpu_b - scpu_a : -1, rss0, rss1,
               joined);
    free(all);
    return 0;
}
