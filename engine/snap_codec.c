/*
 * snap_codec.c: encodes and decodes the snapshot value (layout and validity
 * rule: snap_format.h and docs/snapshot-format.md).
 *
 * Callers: snap.c (put and get), wbctl, fuzz/fuzz_snap_value.c. No LMDB
 * here: the codec sees a byte buffer, so the fuzzer and the dump tool reuse
 * it unchanged.
 *
 * Invariants: the parser reads only inside [buf, buf + len); it allocates
 * nothing; the decoder allocates exactly raw_size bytes, and only after the
 * parser bounded raw_size by the cap and the declared frame content size
 * agreed with it.
 */
#include "snap_format.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "snap.h"
#include "wb_error.h"

_Static_assert(SNAP_OFF_VERSION == SNAP_OFF_MAGIC + 4, "layout");
_Static_assert(SNAP_OFF_FLAGS == SNAP_OFF_VERSION + 2, "layout");
_Static_assert(SNAP_OFF_ID == SNAP_OFF_FLAGS + 2, "layout");
_Static_assert(SNAP_OFF_POS == SNAP_OFF_ID + 8, "layout");
_Static_assert(SNAP_OFF_CREATED == SNAP_OFF_POS + 8, "layout");
_Static_assert(SNAP_OFF_RAW_SIZE == SNAP_OFF_CREATED + 8, "layout");
_Static_assert(SNAP_OFF_STORED_SIZE == SNAP_OFF_RAW_SIZE + 8, "layout");
_Static_assert(SNAP_OFF_STATE_HASH == SNAP_OFF_STORED_SIZE + 8, "layout");
_Static_assert(SNAP_OFF_ELEMENTS == SNAP_OFF_STATE_HASH + 8, "layout");
_Static_assert(SNAP_OFF_BOARD_LEN == SNAP_OFF_ELEMENTS + 4, "layout");
_Static_assert(SNAP_OFF_VV_LEN == SNAP_OFF_BOARD_LEN + 2, "layout");
_Static_assert(SNAP_OFF_VAR_HASH == SNAP_OFF_VV_LEN + 2, "layout");
_Static_assert(SNAP_OFF_HEADER_HASH == SNAP_OFF_VAR_HASH + 8, "layout");
_Static_assert(SNAP_VALUE_HEADER_SIZE == SNAP_OFF_HEADER_HASH + 8, "layout");
_Static_assert(sizeof(SNAP_VALUE_MAGIC) - 1 == 4, "magic is 4 bytes");
_Static_assert(SNAP_VV_MAX == UINT16_MAX, "vv_len is a u16");

/* ---- little-endian helpers ------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- encode ------------------------------------------------------------ */

static void seal_header(uint8_t *value)
{
    put64(value + SNAP_OFF_HEADER_HASH,
          XXH3_64bits(value, SNAP_OFF_HEADER_HASH));
}

void snap_value_set_id(uint8_t *value, uint64_t id)
{
    put64(value + SNAP_OFF_ID, id);
    seal_header(value);
}

/* Compresses state into dst (cap bytes); returns the payload size and sets
 * *flags, storing raw bytes when zstd does not shrink them. */
static int compress_payload(uint8_t *dst, size_t cap, const void *state,
                            size_t len, int level, size_t *stored,
                            uint16_t *flags)
{
    *flags = 0;
    *stored = len;
    if (len > 0) {
        size_t n = ZSTD_compress(dst, cap, state, len, level);
        if (ZSTD_isError(n))
            return WB_EIO;
        if (n < len) {
            *flags = SNAP_VALUE_FLAG_ZSTD;
            *stored = n;
            return 0;
        }
        memcpy(dst, state, len);
    }
    return 0;
}

static void write_header(uint8_t *v, const snap_value_fields *f,
                         uint16_t flags, uint64_t raw, uint64_t stored,
                         uint64_t state_hash, uint16_t board_len,
                         uint16_t vv_len)
{
    memcpy(v + SNAP_OFF_MAGIC, SNAP_VALUE_MAGIC, 4);
    put16(v + SNAP_OFF_VERSION, SNAP_VALUE_VERSION);
    put16(v + SNAP_OFF_FLAGS, flags);
    put64(v + SNAP_OFF_ID, f->id);
    put64(v + SNAP_OFF_POS, f->pos);
    put64(v + SNAP_OFF_CREATED, (uint64_t)f->created_us);
    put64(v + SNAP_OFF_RAW_SIZE, raw);
    put64(v + SNAP_OFF_STORED_SIZE, stored);
    put64(v + SNAP_OFF_STATE_HASH, state_hash);
    put32(v + SNAP_OFF_ELEMENTS, f->elements);
    put16(v + SNAP_OFF_BOARD_LEN, board_len);
    put16(v + SNAP_OFF_VV_LEN, vv_len);
    put64(v + SNAP_OFF_VAR_HASH,
          XXH3_64bits(v + SNAP_VALUE_HEADER_SIZE, (size_t)board_len + vv_len));
    seal_header(v);
}

int snap_value_encode(const snap_value_fields *f, const void *state,
                      size_t len, const void *vv, size_t vv_len, int level,
                      uint8_t **out, size_t *out_len)
{
    size_t board_len = f->board ? strlen(f->board) : 0;
    if (board_len == 0 || board_len > SNAP_BOARD_ID_MAX)
        return WB_EINVAL;
    if (vv_len > SNAP_VV_MAX)
        return WB_ETOOBIG;
    if (len > 0 && !state)
        return WB_EINVAL;
    size_t var = board_len + vv_len;
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound) || bound < len)
        return WB_ETOOBIG;
    uint8_t *v = malloc(SNAP_VALUE_HEADER_SIZE + var + bound);
    if (!v)
        return WB_ENOMEM;
    memcpy(v + SNAP_VALUE_HEADER_SIZE, f->board, board_len);
    if (vv_len)
        memcpy(v + SNAP_VALUE_HEADER_SIZE + board_len, vv, vv_len);
    uint8_t *payload = v + SNAP_VALUE_HEADER_SIZE + var;
    size_t stored;
    uint16_t flags;
    int rc = compress_payload(payload, bound, state, len, level, &stored,
                              &flags);
    if (rc != 0) {
        free(v);
        return rc;
    }
    uint64_t hash = XXH3_64bits(len ? state : "", len);
    write_header(v, f, flags, len, stored, hash, (uint16_t)board_len,
                 (uint16_t)vv_len);
    *out = v;
    *out_len = SNAP_VALUE_HEADER_SIZE + var + stored;
    return 0;
}

/* ---- decode ------------------------------------------------------------ */

static void read_fields(const uint8_t *p, snap_value_view *v)
{
    v->version = get16(p + SNAP_OFF_VERSION);
    v->flags = get16(p + SNAP_OFF_FLAGS);
    v->id = get64(p + SNAP_OFF_ID);
    v->pos = get64(p + SNAP_OFF_POS);
    v->created_us = (int64_t)get64(p + SNAP_OFF_CREATED);
    v->raw_size = get64(p + SNAP_OFF_RAW_SIZE);
    v->stored_size = get64(p + SNAP_OFF_STORED_SIZE);
    v->state_hash = get64(p + SNAP_OFF_STATE_HASH);
    v->elements = get32(p + SNAP_OFF_ELEMENTS);
    v->board_len = get16(p + SNAP_OFF_BOARD_LEN);
    v->vv_len = get16(p + SNAP_OFF_VV_LEN);
}

/* Step 5: field semantics once the header hash held. */
static int check_fields(const snap_value_view *v, uint64_t max_raw)
{
    if (v->flags & ~SNAP_VALUE_FLAG_ZSTD)
        return WB_ECORRUPT;
    if (v->board_len == 0 || v->board_len > SNAP_BOARD_ID_MAX)
        return WB_ECORRUPT;
    if (v->raw_size > max_raw)
        return WB_ETOOBIG;
    if (!(v->flags & SNAP_VALUE_FLAG_ZSTD) && v->stored_size != v->raw_size)
        return WB_ECORRUPT;
    return 0;
}

int snap_value_parse(const void *buf, size_t len, uint64_t max_raw,
                     snap_value_view *v)
{
    const uint8_t *p = buf;
    if (max_raw == 0)
        max_raw = SNAP_DEFAULT_MAX_STATE;
    memset(v, 0, sizeof *v);
    if (len < 4)
        return WB_ETRUNCATED;
    if (memcmp(p, SNAP_VALUE_MAGIC, 4) != 0)
        return WB_EBADMAGIC;
    if (len < 6)
        return WB_ETRUNCATED;
    if (get16(p + SNAP_OFF_VERSION) != SNAP_VALUE_VERSION)
        return WB_EBADVERSION;
    if (len < SNAP_VALUE_HEADER_SIZE)
        return WB_ETRUNCATED;
    if (XXH3_64bits(p, SNAP_OFF_HEADER_HASH) != get64(p + SNAP_OFF_HEADER_HASH))
        return WB_ECORRUPT;
    read_fields(p, v);
    int rc = check_fields(v, max_raw);
    if (rc != 0)
        return rc;
    /* Each term is bounded (u16, u16, <= max_raw <= 2^63), no overflow when
     * compared piecewise against the real length. */
    size_t var = (size_t)v->board_len + v->vv_len;
    size_t room = len - SNAP_VALUE_HEADER_SIZE;
    if (room < var || room - var < v->stored_size)
        return WB_ETRUNCATED;
    if (room - var > v->stored_size)
        return WB_ECORRUPT;
    const uint8_t *var_bytes = p + SNAP_VALUE_HEADER_SIZE;
    if (XXH3_64bits(var_bytes, var) != get64(p + SNAP_OFF_VAR_HASH))
        return WB_ECORRUPT;
    if (memchr(var_bytes, 0, v->board_len) != NULL)
        return WB_ECORRUPT;
    v->board = var_bytes;
    v->vv = var_bytes + v->board_len;
    v->payload = var_bytes + var;
    v->value_len = len;
    return 0;
}

/* Step 8, before any allocation: one frame, exactly the payload, whose
 * declared content size is raw_size. */
static int check_frame(const snap_value_view *v)
{
    unsigned long long declared =
        ZSTD_getFrameContentSize(v->payload, v->stored_size);
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN ||
        declared == ZSTD_CONTENTSIZE_ERROR || declared != v->raw_size)
        return WB_ECORRUPT;
    size_t frame = ZSTD_findFrameCompressedSize(v->payload, v->stored_size);
    if (ZSTD_isError(frame) || frame != v->stored_size)
        return WB_ECORRUPT;
    return 0;
}

static int fill_state(const snap_value_view *v, uint8_t *dst, size_t cap)
{
    if (!(v->flags & SNAP_VALUE_FLAG_ZSTD)) {
        if (cap > 0)
            memcpy(dst, v->payload, cap);
        return 0;
    }
    size_t n = ZSTD_decompress(dst, cap, v->payload, v->stored_size);
    if (ZSTD_isError(n) || n != v->raw_size)
        return WB_ECORRUPT;
    return 0;
}

int snap_value_decode_state(const snap_value_view *v, uint8_t **state)
{
    *state = NULL;
    if (v->flags & SNAP_VALUE_FLAG_ZSTD) {
        int rc = check_frame(v);
        if (rc != 0)
            return rc;
    }
    uint8_t empty = 0;
    uint8_t *dst = v->raw_size > 0 ? malloc(v->raw_size) : NULL;
    if (v->raw_size > 0 && !dst)
        return WB_ENOMEM;
    size_t cap = (size_t)v->raw_size;
    int rc = fill_state(v, dst ? dst : &empty, cap);
    if (rc == 0 && XXH3_64bits(dst ? dst : &empty, cap) != v->state_hash)
        rc = WB_ECORRUPT;
    if (rc != 0) {
        free(dst);
        return rc;
    }
    *state = dst;
    return 0;
}
