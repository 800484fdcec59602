/*
 * bench_snap.c: snapshot store figures for a board of 100k elements.
 *
 * The state is synthetic but shaped like an encoded board (the engine's
 * real encoder will replace it): per element a random 21-character id (like
 * nanoid, incompressible), a type tag, varint-like version and z-order
 * bytes, geometry as floats on a 0.5 px grid, a stroke color from a small
 * palette, a fractional-index string, and for a third of the elements a
 * short text. About 80 bytes per element.
 *
 * For zstd levels 1 and 3, over RUNS runs each (medians printed):
 *   encode   compress + build the value (snap_value_encode), no I/O
 *   put      snap_put: encode + one durable LMDB write transaction
 *   load     snap_get_latest: read + decompress + checksums
 * plus the stored size. Targets from the issue: put <= 150 ms, load <= 60 ms.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "snap.h"
#include "snap_format.h"

#define ELEMENTS 100000u
#define RUNS 7

static uint64_t rng_state = 0x1234567;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t put_float(uint8_t *p, float f)
{
    memcpy(p, &f, 4);
    return 4;
}

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

/* Appends one element; returns its size. */
static size_t gen_element(uint8_t *p, uint32_t i)
{
    static const char *alphabet =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
    static const char *colors[] = {"#1e1e1e", "#e03131", "#2f9e44",
                                   "#1971c2", "#f08c00", "#ffffff"};
    static const char *texts[] = {"TODO", "Sprint review", "API v2",
                                  "ship it", "latency?", "owner: ops"};
    size_t n = 0;
    p[n++] = (uint8_t)(rng() % 7); /* type */
    p[n++] = 21;
    for (int k = 0; k < 21; k++)
        p[n++] = (uint8_t)alphabet[rng() % 64];
    p[n++] = (uint8_t)(1 + rng() % 20); /* version varint */
    p[n++] = (uint8_t)(i & 0x7f) | 0x80; /* seq varint */
    p[n++] = (uint8_t)(i >> 7);
    n += put_float(p + n, (float)(rng() % 8000) / 2.0f); /* x */
    n += put_float(p + n, (float)(rng() % 6000) / 2.0f); /* y */
    n += put_float(p + n, (float)(rng() % 800) / 2.0f);  /* w */
    n += put_float(p + n, (float)(rng() % 600) / 2.0f);  /* h */
    n += put_float(p + n, 1.0f + (float)(rng() % 4));    /* stroke width */
    n += put_str(p + n, colors[rng() % 6]);
    char zi[8];
    snprintf(zi, sizeof zi, "a%c%c", alphabet[rng() % 64], alphabet[i % 64]);
    n += put_str(p + n, zi);
    if (rng() % 3 == 0)
        n += put_str(p + n, texts[rng() % 6]);
    else
        p[n++] = 0;
    return n;
}

static uint8_t *gen_state(size_t *len)
{
    uint8_t *buf = malloc((size_t)ELEMENTS * 128);
    size_t n = 0;
    for (uint32_t i = 0; i < ELEMENTS; i++)
        n += gen_element(buf + n, i);
    *len = n;
    return buf;
}

static double ms_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e6;
}

static int bench_level(const char *dir, int level, const uint8_t *state,
                       size_t len)
{
    snap_options o;
    snap_options_init(&o);
    o.zstd_level = level;
    snap_store *s;
    int rc = snap_store_open(dir, &o, &s);
    if (rc != 0) {
        fprintf(stderr, "open: %d\n", rc);
        return 1;
    }
    double enc[RUNS], put[RUNS], load[RUNS];
    uint64_t stored = 0;
    const uint8_t vv[24] = {1, 2, 3};
    for (int r = 0; r < RUNS && rc == 0; r++) {
        snap_value_fields f = {.pos = (uint64_t)r + 1, .created_us = 1,
                               .elements = ELEMENTS, .board = "bench"};
        uint8_t *v;
        size_t vlen;
        uint64_t t0 = bench_now_ns();
        rc = snap_value_encode(&f, state, len, vv, sizeof vv, level, &v,
                               &vlen);
        enc[r] = ms_since(t0);
        free(rc == 0 ? v : NULL);
        t0 = bench_now_ns();
        if (rc == 0)
            rc = snap_put(s, "bench", state, len, (uint64_t)r + 1, vv,
                          sizeof vv, ELEMENTS, 0, NULL);
        put[r] = ms_since(t0);
        snap_loaded l;
        t0 = bench_now_ns();
        if (rc == 0)
            rc = snap_get_latest(s, "bench", UINT64_MAX, INT64_MAX, &l);
        load[r] = ms_since(t0);
        if (rc == 0 && (l.state_len != len || memcmp(l.state, state, len)))
            rc = -1;
        stored = rc == 0 ? l.info.stored_size : 0;
        snap_loaded_free(&l);
    }
    snap_store_close(s);
    if (rc != 0) {
        fprintf(stderr, "bench_snap: level %d failed: %d\n", level, rc);
        return 1;
    }
    printf("snap  level %d  state %.2f MB -> %.2f MB (ratio %.2f)  "
           "encode %.1f ms  put %.1f ms  load %.1f ms  (medians of %d)\n",
           level, (double)len / 1e6, (double)stored / 1e6,
           (double)len / (double)stored, bench_median(enc, RUNS),
           bench_median(put, RUNS), bench_median(load, RUNS), RUNS);
    if (level == 1) {
        bench_row("snapshot put, 100k elements (zstd 1)",
                  bench_median(put, RUNS), "ms", "target", 150);
        bench_row("snapshot load, 100k elements (zstd 1)",
                  bench_median(load, RUNS), "ms", "target", 60);
    }
    return 0;
}

int main(void)
{
    size_t len;
    uint8_t *state = gen_state(&len);
    printf("snap  %u elements, %.1f bytes/element; targets: put <= 150 ms, "
           "load <= 60 ms\n",
           ELEMENTS, (double)len / ELEMENTS);
    int fail = 0;
    const int levels[] = {1, 3};
    for (int i = 0; i < 2; i++) {
        const char *dir = bench_dir("snap");
        fail |= bench_level(dir, levels[i], state, len);
        bench_rmtree(dir);
    }
    free(state);
    return fail;
}
