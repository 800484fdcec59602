/*
 * vv.h: version vectors: origin node id -> highest op sequence number seen
 * (public API).
 *
 * Used as the board's "what have I applied" summary, as the resume token a
 * client sends back after a reconnect (DESIGN.md section 6), and stored with
 * every snapshot. A small array of (node, seq) sorted by node, without
 * entries of seq 0 (absent and 0 mean the same thing), at most VV_MAX_NODES
 * entries.
 *
 * Encoding (embedded in frames and snapshots, no version byte of its own):
 *   vv    = n:uvar (node:uvar seq:uvar){n}
 * nodes strictly ascending, seq >= 1, n <= VV_MAX_NODES, minimal LEB128
 * varints (see codec.h). At most VV_MAX_ENCODED bytes.
 *
 * Ownership: a vv owns its entry array; vv_free releases it. Not
 * thread-safe (the engine thread owns each board's vv).
 */
#ifndef WB_VV_H
#define WB_VV_H

#include <stddef.h>
#include <stdint.h>

#define VV_MAX_NODES 1024u
#define VV_MAX_ENCODED (3u + VV_MAX_NODES * 20u)

typedef struct vv_entry {
    uint64_t node;
    uint64_t seq;
} vv_entry;

typedef struct vv {
    uint32_t n;   /* entries in use, sorted by node, seq >= 1 */
    uint32_t cap; /* allocated entries */
    vv_entry *e;
} vv;

typedef enum vv_order {
    VV_EQUAL = 0,
    VV_BEFORE = 1,     /* a < b: b covers a, a does not cover b */
    VV_AFTER = 2,      /* a > b */
    VV_CONCURRENT = 3, /* neither covers the other */
} vv_order;

void vv_init(vv *v);          /* empty, no allocation */
void vv_free(vv *v);          /* releases entries; v is empty afterwards */
void vv_clear(vv *v);         /* empty, keeps the allocation */
int vv_copy(vv *dst, const vv *src); /* dst := src; 0 or WB_ENOMEM */

/* seq for node (0 if absent). */
uint64_t vv_get(const vv *v, uint64_t node);

/* Sets node's seq exactly (0 removes it). 0, WB_ENOMEM, or WB_ETOOBIG
 * (VV_MAX_NODES reached). */
int vv_set(vv *v, uint64_t node, uint64_t seq);

/* Raises node's seq to seq if it is lower (never lowers). Same returns. */
int vv_advance(vv *v, uint64_t node, uint64_t seq);

/* dst := pointwise max(dst, src). Same returns; on error dst is unchanged. */
int vv_merge(vv *dst, const vv *src);

/* 1 if a covers b (for every node, b's seq <= a's seq), else 0. */
int vv_covers(const vv *a, const vv *b);

/* The partial order of a and b. */
vv_order vv_compare(const vv *a, const vv *b);

/* Bytes vv_encode writes for v. */
size_t vv_encoded_size(const vv *v);

/* Writes v to dst[0..cap); length through *len. 0, WB_ETOOBIG (cap too
 * small) or WB_EINVAL (dst NULL). */
int vv_encode(const vv *v, uint8_t *dst, size_t cap, size_t *len);

/* Reads a vv from buf[0..len) into v (which is cleared first). *used (may
 * be NULL) gets the bytes consumed; if used is NULL, trailing bytes are an
 * error (WB_EMALFORMED). Errors: WB_ETRUNCATED, WB_ETOOBIG (n), WB_EMALFORMED
 * (unsorted, duplicate node, seq 0, non-minimal varint), WB_ENOMEM; on error
 * v is left empty. */
int vv_decode(vv *v, const uint8_t *buf, size_t len, size_t *used);

#endif /* WB_VV_H */
