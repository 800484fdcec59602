/*
 * snap_testgen.h: deterministic board-state-like blobs for the snapshot
 * store's tests (header only; functions are static).
 *
 * snap_gen(seed, buf, len) fills buf with bytes that look like an encoded
 * board: short records of varint-ish ids, small floats and words from a
 * vocabulary, so zstd compresses them about as it would real data. The
 * same seed and len always give the same bytes, so a reader can verify a
 * snapshot knowing only its position.
 */
#ifndef WB_SNAP_TESTGEN_H
#define WB_SNAP_TESTGEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint64_t snap_gen_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void snap_gen(uint64_t seed, uint8_t *buf, size_t len)
{
    static const char *words[] = {"rect",  "stroke", "#1e1e1e", "ellipse",
                                  "arrow", "text",   "sticky",  "#ffc9c9",
                                  "a0",    "a1V",    "solid",   "hachure"};
    uint64_t s = seed;
    size_t i = 0;
    while (i < len) {
        uint64_t r = snap_gen_next(&s);
        uint8_t rec[48];
        size_t n = 0;
        rec[n++] = (uint8_t)(r & 7);                /* type tag */
        rec[n++] = (uint8_t)((r >> 3) & 0x7f);      /* id varint */
        rec[n++] = (uint8_t)((r >> 10) & 0x3f);
        float f = (float)((r >> 16) & 0xfff) / 4.0f; /* coordinate */
        memcpy(rec + n, &f, 4);
        n += 4;
        const char *w = words[(r >> 28) % 12];
        size_t wl = strlen(w);
        rec[n++] = (uint8_t)wl;
        memcpy(rec + n, w, wl);
        n += wl;
        size_t take = len - i < n ? len - i : n;
        memcpy(buf + i, rec, take);
        i += take;
    }
}

#endif
