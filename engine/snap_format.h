/*
 * snap_format.h: the snapshot value, the bytes stored under a key of the
 * "snap" database (normative spec: docs/snapshot-format.md; this comment
 * and that page must agree). Implemented by snap_codec.c; used by the store
 * (snap.c), wbctl and fuzz/fuzz_snap_value.c.
 *
 * All integers little-endian. One value:
 *
 *   off  size  field
 *     0     4  magic        "WBSN" (57 42 53 4E)
 *     4     2  version      1
 *     6     2  flags        bit 0 SNAP_VALUE_FLAG_ZSTD: payload is one zstd
 *                           frame; clear: payload is the raw state. Other
 *                           bits must be 0.
 *     8     8  id           snapshot id (monotonic per store, >= 1)
 *    16     8  pos          oplog position covered (ops with seq <= pos)
 *    24     8  created_us   creation time, unix microseconds (signed)
 *    32     8  raw_size     uncompressed state bytes
 *    40     8  stored_size  payload bytes
 *    48     8  state_hash   XXH3-64 (seed 0) of the uncompressed state
 *    56     4  elements     element count, as given by the writer
 *    60     2  board_len    1..64
 *    62     2  vv_len       0..65535
 *    64     8  var_hash     XXH3-64 (seed 0) of the board_len + vv_len bytes
 *                           at offset 80
 *    72     8  header_hash  XXH3-64 (seed 0) of bytes [0, 72)
 *    80        board id (board_len bytes), then version vector (vv_len
 *              bytes), then payload (stored_size bytes); nothing after.
 *
 * A value is valid iff, checked in this order (first failure wins):
 *   1. len >= 4 and magic matches            else TRUNCATED / BADMAGIC
 *   2. len >= 6 and version == 1             else TRUNCATED / BADVERSION
 *   3. len >= 80                             else TRUNCATED
 *   4. header_hash matches                   else CORRUPT
 *   5. flags known, 1 <= board_len <= 64,
 *      raw_size <= the reader's cap (default 1 GiB; else TOOBIG),
 *      without ZSTD stored_size == raw_size  else CORRUPT
 *   6. len == 80 + board_len + vv_len + stored_size
 *                                            shorter TRUNCATED, longer CORRUPT
 *   7. var_hash matches, no NUL in the board id   else CORRUPT
 * (steps 1-7: snap_value_parse, header only, no allocation) and the body:
 *   8. with ZSTD: the payload is exactly one frame whose declared content
 *      size is raw_size and which decompresses to exactly raw_size bytes
 *                                            else CORRUPT
 *   9. XXH3-64 of the state == state_hash    else CORRUPT
 * Nothing is allocated from a length field before step 6 has bounded it by
 * the value's real length and step 5 by the cap.
 *
 * The id is assigned inside the write transaction after compression, so
 * the writer patches it in place with snap_value_set_id (which recomputes
 * header_hash).
 */
#ifndef WB_SNAP_FORMAT_H
#define WB_SNAP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_VALUE_MAGIC "WBSN"
#define SNAP_VALUE_VERSION 1u
#define SNAP_VALUE_HEADER_SIZE 80u
#define SNAP_VALUE_FLAG_ZSTD 0x0001u

/* Field offsets (pinned by _Static_assert in snap_codec.c). */
#define SNAP_OFF_MAGIC 0
#define SNAP_OFF_VERSION 4
#define SNAP_OFF_FLAGS 6
#define SNAP_OFF_ID 8
#define SNAP_OFF_POS 16
#define SNAP_OFF_CREATED 24
#define SNAP_OFF_RAW_SIZE 32
#define SNAP_OFF_STORED_SIZE 40
#define SNAP_OFF_STATE_HASH 48
#define SNAP_OFF_ELEMENTS 56
#define SNAP_OFF_BOARD_LEN 60
#define SNAP_OFF_VV_LEN 62
#define SNAP_OFF_VAR_HASH 64
#define SNAP_OFF_HEADER_HASH 72

/* A parsed value. Pointers borrow from the buffer given to the parser and
 * are valid as long as it is (inside LMDB: until the read txn ends). */
typedef struct snap_value_view {
    uint16_t version;
    uint16_t flags;
    uint64_t id;
    uint64_t pos;
    int64_t created_us;
    uint64_t raw_size;
    uint64_t stored_size;
    uint64_t state_hash;
    uint32_t elements;
    uint16_t board_len;
    uint16_t vv_len;
    const uint8_t *board;
    const uint8_t *vv;
    const uint8_t *payload;
    size_t value_len;
} snap_value_view;

/* What the writer supplies besides the state and vv bytes. */
typedef struct snap_value_fields {
    uint64_t id;            /* 0 until snap_value_set_id */
    uint64_t pos;
    int64_t created_us;
    uint32_t elements;
    const char *board;      /* 1..64 bytes, NUL-terminated */
} snap_value_fields;

/* Builds a value: compresses state (len bytes) with zstd at level (stored
 * raw when compression does not make it smaller). *out is malloc'd and
 * owned by the caller. Returns 0, WB_EINVAL (board id), WB_ETOOBIG
 * (vv_len), WB_ENOMEM, or WB_EIO (zstd failure). */
int snap_value_encode(const snap_value_fields *f, const void *state,
                      size_t len, const void *vv, size_t vv_len, int level,
                      uint8_t **out, size_t *out_len);

/* Rewrites the id of an encoded value and its header_hash. */
void snap_value_set_id(uint8_t *value, uint64_t id);

/* Steps 1-7 above: validates the header and the framing, fills *v.
 * max_raw caps raw_size (0: SNAP_DEFAULT_MAX_STATE). Never allocates. */
int snap_value_parse(const void *buf, size_t len, uint64_t max_raw,
                     snap_value_view *v);

/* Steps 8-9: decompresses and checks the state of a parsed value. *state is
 * malloc'd (NULL when raw_size is 0) and owned by the caller. Returns 0,
 * WB_ECORRUPT or WB_ENOMEM. */
int snap_value_decode_state(const snap_value_view *v, uint8_t **state);

#endif /* WB_SNAP_FORMAT_H */
