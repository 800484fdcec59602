/*
 * bench_oplog.c: durable append throughput and ack latency of the oplog
 * writer, against the raw limit of the same disk measured in the same run.
 *
 * Figures (each the median of RUNS runs; prints, never fails):
 *   raw fdatasync       one writer: 64-byte pwrite + fdatasync in a loop on
 *                       a zero-filled file: syncs/s and latency p50/p99;
 *   oplog ALWAYS        64 B and 256 B records, 1/4/16 producer threads,
 *                       each appending batches of BATCH records and keeping
 *                       up to W/P batches outstanding (pipelined; W = 64
 *                       and 1024 over all producers, or BENCH_INFLIGHT):
 *                       durable records/s and ack latency p50/p99 (append
 *                       call to completion callback);
 *   raw limit           pwrite + fdatasync of the bytes per fdatasync the
 *                       writer actually achieved in that configuration, on
 *                       the same file system, as records/s; and the ratios
 *                       oplog / raw and ack p99 / raw fdatasync p99;
 *   uring vs fallback   the 64 B, 4-producer configuration again with
 *                       options.no_uring;
 *   spare prepare       time to zero-fill and sync one default-size segment:
 *                       what every roll would stall acks for if the writer
 *                       thread prepared segments itself (it does not: a
 *                       helper thread does, ahead of need).
 * BENCH_QUICK=1: short runs for a smoke pass. BENCH_DIR: file system.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "oplog.h"
#include "oplog_internal.h"

#define RUNS 3
#define MAXPROD 16
#define BATCH 8          /* records per append */
/* Outstanding batches over all producers: a latency-oriented window and a
 * throughput-oriented one (an ack waits about two fdatasync cycles, and a
 * cycle covers about half the window: the window trades latency for
 * records per fdatasync). */
static const int g_windows[] = {64, 1024};
#define MAX_SAMPLES (1u << 20)

static double g_secs = 2.0;
static int g_inflight;

/* ---- raw fdatasync ---------------------------------------------------- */

struct raw_result {
    double syncs_per_s;
    double bytes_per_s;
    double p50_us, p99_us;
};

/* pwrite(chunk) + fdatasync for secs on a zero-filled 64 MiB file. */
static struct raw_result raw_run(const char *dir, size_t chunk, double secs)
{
    struct raw_result r = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/raw.bin", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    const size_t fsize = 64u << 20;
    uint8_t *buf = calloc(1, chunk > (1u << 20) ? chunk : (1u << 20));
    for (size_t off = 0; off < fsize; off += 1u << 20)
        if (pwrite(fd, buf, 1u << 20, (off_t)off) < 0)
            perror("pwrite");
    fdatasync(fd);
    memset(buf, 0xab, chunk);
    double *lat = malloc(MAX_SAMPLES * sizeof *lat);
    size_t n = 0, off = 0;
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(secs * 1e9);
    uint64_t now = t0;
    while (now < end && n < MAX_SAMPLES) {
        if (off + chunk > fsize)
            off = 0;
        uint64_t a = bench_now_ns();
        if (pwrite(fd, buf, chunk, (off_t)off) < 0 || fdatasync(fd) < 0)
            perror("raw");
        now = bench_now_ns();
        lat[n++] = (double)(now - a) / 1e3;
        off += chunk;
    }
    double el = (double)(now - t0) / 1e9;
    r.syncs_per_s = (double)n / el;
    r.bytes_per_s = (double)n * (double)chunk / el;
    r.p99_us = bench_quantile(lat, n, 0.99);
    r.p50_us = bench_quantile(lat, n, 0.50);
    free(lat);
    free(buf);
    close(fd);
    unlink(path);
    return r;
}

/* ---- oplog producers -------------------------------------------------- */

struct producer;

struct slot {
    struct producer *p;
    uint64_t t0;
};

struct producer {
    oplog *log;
    uint32_t rec_len;
    int k; /* outstanding batches allowed */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int outstanding;
    int waiting;
    struct slot *slots;
    uint64_t issued;
    double *lat;
    size_t nlat;
    _Atomic uint64_t acked_records;
    _Atomic int *stop;
};

static void bench_done(void *arg, uint64_t first, uint64_t last, int status)
{
    struct slot *s = arg;
    struct producer *p = s->p;
    uint64_t now = bench_now_ns();
    pthread_mutex_lock(&p->mu);
    if (p->nlat < MAX_SAMPLES)
        p->lat[p->nlat++] = (double)(now - s->t0) / 1e3;
    p->outstanding--;
    if (status == 0)
        atomic_fetch_add_explicit(&p->acked_records, last - first + 1,
                                  memory_order_relaxed);
    /* Refill in bursts: wake the producer when half its window is free,
     * not on every ack (a futex wake per batch would cost more than the
     * append). */
    if (p->waiting && p->outstanding <= p->k / 2)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    uint8_t payload[BATCH][256];
    oplog_entry e[BATCH];
    for (int i = 0; i < BATCH; i++) {
        memset(payload[i], 'a' + i, sizeof payload[i]);
        e[i] = (oplog_entry){.type = 1, .payload = payload[i],
                             .len = p->rec_len};
    }
    while (!atomic_load(p->stop)) {
        pthread_mutex_lock(&p->mu);
        while (p->outstanding >= p->k && !atomic_load(p->stop)) {
            p->waiting = 1;
            pthread_cond_wait(&p->cv, &p->mu);
        }
        p->waiting = 0;
        p->outstanding++;
        struct slot *s = &p->slots[p->issued++ % (uint64_t)p->k];
        pthread_mutex_unlock(&p->mu);
        s->p = p;
        s->t0 = bench_now_ns();
        if (oplog_append_batch(p->log, e, BATCH, bench_done, s, NULL) != 0) {
            fprintf(stderr, "append failed\n");
            break;
        }
    }
    /* wait for our outstanding batches (slots are ours) */
    pthread_mutex_lock(&p->mu);
    while (p->outstanding > 0) {
        p->waiting = 1;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct log_result {
    double recs_per_s;
    double p50_us, p99_us;
    double bytes_per_fsync;
    double recs_per_fsync;
};

static struct log_result log_run(const char *dir, int nprod, uint32_t len,
                                 int no_uring, double secs)
{
    struct log_result r = {0};
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 1;
    o.no_uring = no_uring;
    const char *seg = getenv("BENCH_SEGMENT_MB"); /* experiments */
    if (seg && atoi(seg) > 0)
        o.segment_size = (uint64_t)atoi(seg) << 20;
    oplog *log;
    if (oplog_open(&o, &log, NULL, NULL, 0) != 0) {
        fprintf(stderr, "oplog_open failed\n");
        exit(1);
    }
    static struct producer ps[MAXPROD];
    pthread_t th[MAXPROD];
    _Atomic int stop = 0;
    for (int i = 0; i < nprod; i++) {
        struct producer *p = &ps[i];
        memset(p, 0, sizeof *p);
        p->log = log;
        p->rec_len = len;
        p->k = g_inflight / nprod > 1 ? g_inflight / nprod : 2;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->slots = calloc((size_t)p->k, sizeof *p->slots);
        p->lat = malloc(MAX_SAMPLES * sizeof *p->lat);
        p->stop = &stop;
    }
    oplog_stats s0, s1;
    oplog_get_stats(log, &s0);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < nprod; i++)
        pthread_create(&th[i], NULL, producer_main, &ps[i]);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop, 1);
    for (int i = 0; i < nprod; i++) {
        pthread_mutex_lock(&ps[i].mu);
        pthread_cond_signal(&ps[i].cv);
        pthread_mutex_unlock(&ps[i].mu);
    }
    for (int i = 0; i < nprod; i++)
        pthread_join(th[i], NULL);
    double el = (double)(bench_now_ns() - t0) / 1e9;
    oplog_get_stats(log, &s1);
    oplog_close(log);
    size_t total = 0;
    uint64_t acked = 0;
    for (int i = 0; i < nprod; i++) {
        total += ps[i].nlat;
        acked += atomic_load(&ps[i].acked_records);
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t at = 0;
    for (int i = 0; i < nprod; i++) {
        memcpy(all + at, ps[i].lat, ps[i].nlat * sizeof *all);
        at += ps[i].nlat;
        free(ps[i].lat);
        free(ps[i].slots);
        pthread_cond_destroy(&ps[i].cv);
        pthread_mutex_destroy(&ps[i].mu);
    }
    r.recs_per_s = (double)acked / el;
    r.p99_us = bench_quantile(all, total, 0.99);
    r.p50_us = bench_quantile(all, total, 0.50);
    uint64_t fs = s1.fsyncs - s0.fsyncs;
    r.bytes_per_fsync = fs ? (double)(s1.bytes_written - s0.bytes_written) /
                                 (double)fs
                           : 0;
    r.recs_per_fsync = r.bytes_per_fsync / (double)oplog_record_size(len);
    free(all);
    return r;
}

/* ---- driver ----------------------------------------------------------- */

struct cfg_result {
    struct log_result log;
    double raw_recs_per_s;
    double raw_p99_us; /* raw pwrite + fdatasync of the same bytes */
};

static struct cfg_result run_config(int nprod, uint32_t len, int no_uring)
{
    double rps[RUNS], p50[RUNS], p99[RUNS], bpf[RUNS], raw[RUNS], rpf[RUNS];
    double rp99[RUNS];
    for (int i = 0; i < RUNS; i++) {
        const char *d = bench_dir("oplog");
        char dir[600];
        snprintf(dir, sizeof dir, "%s", d);
        struct log_result lr = log_run(dir, nprod, len, no_uring, g_secs);
        size_t chunk = lr.bytes_per_fsync > 64 ? (size_t)lr.bytes_per_fsync
                                               : 64;
        chunk = (chunk + 7) & ~(size_t)7;
        struct raw_result rr = raw_run(dir, chunk, g_secs);
        bench_rmtree(dir);
        rps[i] = lr.recs_per_s;
        p50[i] = lr.p50_us;
        p99[i] = lr.p99_us;
        bpf[i] = lr.bytes_per_fsync;
        rpf[i] = lr.recs_per_fsync;
        raw[i] = rr.bytes_per_s / (double)oplog_record_size(len);
        rp99[i] = rr.p99_us;
    }
    struct cfg_result c;
    c.log.recs_per_s = bench_median(rps, RUNS);
    c.log.p50_us = bench_median(p50, RUNS);
    c.log.p99_us = bench_median(p99, RUNS);
    c.log.bytes_per_fsync = bench_median(bpf, RUNS);
    c.log.recs_per_fsync = bench_median(rpf, RUNS);
    c.raw_recs_per_s = bench_median(raw, RUNS);
    c.raw_p99_us = bench_median(rp99, RUNS);
    return c;
}

/* Summary rows, printed at the end (bench_row). */
static struct {
    char fig[128];
    double v, c;
    const char *unit, *cl;
} g_rows[16];
static int g_nrows;

static void bench_rows_add(const char *fig, double v, const char *unit,
                           const char *cl, double c)
{
    if (g_nrows >= 16)
        return;
    snprintf(g_rows[g_nrows].fig, sizeof g_rows[g_nrows].fig, "%s", fig);
    g_rows[g_nrows].v = v;
    g_rows[g_nrows].c = c;
    g_rows[g_nrows].unit = unit;
    g_rows[g_nrows].cl = cl;
    g_nrows++;
}

static void print_table(const uint32_t *sizes, const int *prods,
                        double raw_p99)
{
    printf("%-22s %11s %7s %7s %9s %11s %7s %8s %8s\n", "config",
           "durable r/s", "p50 us", "p99 us", "recs/sync", "raw r/s",
           "vs raw", "p99/raw64", "p99/rawB");
    for (int si = 0; si < 2; si++) {
        for (int pi = 0; pi < 3; pi++) {
            struct cfg_result c = run_config(prods[pi], sizes[si], 0);
            char name[64];
            snprintf(name, sizeof name, "%u B, %d producer%s", sizes[si],
                     prods[pi], prods[pi] > 1 ? "s" : "");
            printf("%-22s %11.0f %7.0f %7.0f %9.1f %11.0f %6.0f%% %8.2f "
                   "%8.2f\n",
                   name, c.log.recs_per_s, c.log.p50_us, c.log.p99_us,
                   c.log.recs_per_fsync, c.raw_recs_per_s,
                   100.0 * c.log.recs_per_s / c.raw_recs_per_s,
                   c.log.p99_us / raw_p99, c.log.p99_us / c.raw_p99_us);
            fflush(stdout);
            if (prods[pi] == 4) {
                char fig[128];
                snprintf(fig, sizeof fig, "oplog durable r/s, %s, W=%d", name,
                         g_inflight);
                bench_rows_add(fig, c.log.recs_per_s, "rec/s",
                               "raw write+fdatasync", c.raw_recs_per_s);
                snprintf(fig, sizeof fig, "oplog ack p99, %s, W=%d", name,
                         g_inflight);
                bench_rows_add(fig, c.log.p99_us / 1000.0, "ms",
                               "raw fdatasync p99", raw_p99 / 1000.0);
            }
        }
    }
}

int main(void)
{
    const char *q = getenv("BENCH_QUICK");
    if (q && *q && strcmp(q, "0") != 0)
        g_secs = 0.3;
    const char *w = getenv("BENCH_INFLIGHT"); /* one window only */
    int nwin = 2;
    int windows[2] = {g_windows[0], g_windows[1]};
    if (w && atoi(w) > 0) {
        windows[0] = atoi(w);
        nwin = 1;
    }
    printf("bench_oplog: %d runs per figure (medians), %.1f s each, "
           "batches of %d records\n", RUNS, g_secs, BATCH);

    double sps[RUNS], sp50[RUNS], sp99[RUNS];
    for (int i = 0; i < RUNS; i++) {
        const char *d = bench_dir("oplog-raw");
        char dir[600];
        snprintf(dir, sizeof dir, "%s", d);
        struct raw_result rr = raw_run(dir, 64, g_secs);
        bench_rmtree(dir);
        sps[i] = rr.syncs_per_s;
        sp50[i] = rr.p50_us;
        sp99[i] = rr.p99_us;
    }
    double raw_p99 = bench_median(sp99, RUNS);
    printf("raw fdatasync (64 B pwrite + fdatasync, one writer): %.0f/s, "
           "p50 %.0f us, p99 %.0f us\n",
           bench_median(sps, RUNS), bench_median(sp50, RUNS), raw_p99);

    printf("oplog ALWAYS: ack = append call to callback; raw = pwrite + "
           "fdatasync of the bytes per fdatasync the writer achieved, same "
           "run; p99/raw64 = ack p99 / the 64 B fdatasync p99 above; "
           "p99/rawB = ack p99 / raw p99 at the same bytes\n");
    const uint32_t sizes[] = {64, 256};
    const int prods[] = {1, 4, 16};
    for (int wi = 0; wi < nwin; wi++) {
        g_inflight = windows[wi];
        printf("window: %d batches (%d records) outstanding in total\n",
               g_inflight, g_inflight * BATCH);
        print_table(sizes, prods, raw_p99);
    }
    double prep[RUNS];
    for (int i = 0; i < RUNS; i++) {
        const char *d = bench_dir("oplog-prep");
        char dir[600];
        snprintf(dir, sizeof dir, "%s", d);
        int fd = -1;
        uint64_t t0 = bench_now_ns();
        int rc = oplog_segment_prepare(wb_io_default(), dir,
                                       OPLOG_DEFAULT_SEGMENT_SIZE, &fd);
        prep[i] = (double)(bench_now_ns() - t0) / 1e6;
        if (rc == 0)
            close(fd);
        bench_rmtree(dir);
    }
    printf("spare segment prepare (%u MiB zero-fill + fdatasync, helper "
           "thread): %.0f ms\n",
           OPLOG_DEFAULT_SEGMENT_SIZE >> 20, bench_median(prep, RUNS));
    g_inflight = windows[0];
    struct cfg_result u = run_config(4, 64, 0);
    struct cfg_result f = run_config(4, 64, 1);
    printf("io_uring vs fallback (64 B, 4 producers, window %d): %.0f vs "
           "%.0f r/s "
           "(%.2fx), p99 %.0f vs %.0f us\n",
           g_inflight, u.log.recs_per_s, f.log.recs_per_s,
           u.log.recs_per_s / f.log.recs_per_s, u.log.p99_us, f.log.p99_us);
    for (int i = 0; i < g_nrows; i++)
        bench_row(g_rows[i].fig, g_rows[i].v, g_rows[i].unit, g_rows[i].cl,
                  g_rows[i].c);
    return 0;
}
