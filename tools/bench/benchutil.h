/*
 * benchutil.h: shared helpers for the benchmark programs.
 *
 * Benchmarks print figures; they never pass or fail on speed. Each figure is
 * the median of several runs (machines here are noisy), and where a peer or a
 * raw limit is measured in the same run, the ratio to it is printed too.
 */
#ifndef WB_BENCHUTIL_H
#define WB_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Sorts v[0..n) in place and returns the q-quantile (0 <= q <= 1). */
double bench_quantile(double *v, size_t n, double q);

/* Median of v[0..n) (sorts v). */
double bench_median(double *v, size_t n);

/* A scratch directory for benchmark files: $BENCH_DIR or ./bench-tmp,
 * plus tag and pid; created fresh. Returns a static buffer. */
const char *bench_dir(const char *tag);

/* Removes a directory tree made by bench_dir. */
void bench_rmtree(const char *path);

/* One machine-readable summary line for the suite (infra/bench.sh), after
 * the human output:  @row<TAB>figure<TAB>value<TAB>unit<TAB>ceiling-label
 * <TAB>ceiling. The ceiling is the raw limit measured in the same run (or a
 * target, labelled so); label NULL: none. */
void bench_row(const char *figure, double value, const char *unit,
               const char *ceiling_label, double ceiling);

#endif
