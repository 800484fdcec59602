/* bench_util.c: see benchutil.h. */
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_median(double *v, size_t n)
{
    return bench_quantile(v, n, 0.5);
}

const char *bench_dir(const char *tag)
{
    static char path[512];
    const char *base = getenv("BENCH_DIR");
    if (!base || !*base)
        base = "bench-tmp";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s-%d", base, tag, (int)getpid());
    bench_rmtree(path);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(1);
    }
    return path;
}

void bench_rmtree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        /* best effort */
    }
}

void bench_row(const char *figure, double value, const char *unit,
               const char *ceiling_label, double ceiling)
{
    if (ceiling_label)
        printf("@row\t%s\t%.6g\t%s\t%s\t%.6g\n", figure, value, unit,
               ceiling_label, ceiling);
    else
        printf("@row\t%s\t%.6g\t%s\t\t\n", figure, value, unit);
    fflush(stdout);
}
