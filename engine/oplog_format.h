/*
 * oplog_format.h: the on-disk layout of oplog segment files.
 *
 * This comment and docs/oplog-format.md are the same specification; keep
 * them in agreement (the _Static_asserts below pin the numbers).
 *
 * DIRECTORY. An oplog is a directory of segment files named by the sequence
 * number of their first record, 20 decimal digits, zero-padded, so that
 * names sort in log order:  00000000000000000001.wbseg
 * A file named "spare.wbseg.tmp" is the writer's zero-filled spare (not yet
 * part of the log); recovery deletes it. Nothing else in the directory is
 * read.
 *
 * SEGMENT FILE. Fixed size S (OPLOG_MIN_SEGMENT_SIZE <= S <=
 * OPLOG_MAX_SEGMENT_SIZE, S a multiple of 8), written full of zeros before
 * use. It holds a 64-byte header, then records packed from offset 64, then
 * zeros. All integers are little-endian.
 *
 *   Segment header (64 bytes):
 *     0   8  magic        "WBOPLOG\0" (57 42 4f 50 4c 4f 47 00)
 *     8   4  version      1
 *    12   4  header_size  64
 *    16   8  node_id      id of the node that wrote the segment
 *    24   8  first_seq    seq of the first record (= the file name), >= 1
 *    32   8  created_us   creation time, microseconds since the Unix epoch
 *    40   8  segment_size S; the file is exactly S bytes long
 *    48   8  reserved     0
 *    56   8  hdr_check    XXH3_64bits(bytes 0..55), seed 0
 *
 *   Record at offset R (R a multiple of 8, R >= 64):
 *     R+0    4  len        payload length, <= OPLOG_MAX_PAYLOAD (4 MiB)
 *     R+4    2  type       record type (opaque to the oplog)
 *     R+6    2  flags      bit 0: OPLOG_FLAG_BATCH_END; others written 0
 *     R+8    8  seq        local sequence number
 *     R+16   8  time_us    wall clock, microseconds since the Unix epoch
 *     R+24   len payload
 *     ...    P  zero padding, P = (8 - len % 8) % 8
 *     R+24+len+P  8  check  XXH3_64bits(bytes R .. R+24+len+P-1), seed 0
 *   The record occupies 32 + len + P bytes; the next one starts right after.
 *
 *   Checksum in pseudo-code:
 *     body  = file[R .. R + 24 + align8(len))     -- header, payload, padding
 *     check = XXH3_64bits(body, seed = 0)
 *     store check as u64 little-endian at R + 24 + align8(len)
 *
 * A RECORD IS VALID iff
 *   (1) its 24-byte header is not all zero,
 *   (2) len <= OPLOG_MAX_PAYLOAD and R + 32 + align8(len) <= S
 *       (checked before anything else is sized from len),
 *   (3) check equals XXH3_64bits of its body, and
 *   (4) seq is the expected one: first_seq for the first record of a
 *       segment, the previous record's seq + 1 after that.
 * The log of a segment is its longest prefix of valid records. A 24-byte
 * all-zero header (or fewer than 24 bytes left before S) ends it.
 *
 * ACROSS SEGMENTS. Seqs are contiguous across files: the first_seq of
 * segment k+1 is the last seq of segment k plus one. A gap is corruption.
 *
 * BATCHES. The records of one append batch are consecutive; the last one
 * carries OPLOG_FLAG_BATCH_END. The writer rolls to a fresh segment before
 * a batch that does not fit; only a batch larger than a whole segment spans
 * segments (split at record boundaries), and its atomicity holds per
 * segment. Records after the last BATCH_END at the tail of the newest
 * segment belong to an unfinished batch: recovery drops them, readers do not
 * return them. A sealed (non-newest) segment may end without BATCH_END.
 *
 * TAIL RULES (see oplog_recover.c). In the newest segment an invalid record
 * after which the rest of the file holds no valid record is a torn tail: it
 * is cut by zeroing from its offset to the end of written data. An invalid
 * record followed (at any later 8-byte aligned offset) by a valid record
 * with a plausible seq is corruption: reported with segment and offset,
 * never applied, never skipped. Non-zero bytes after an all-zero header
 * that hold no valid record are zeroed in the newest segment and ignored in
 * a sealed one (they affect no record; records lost at the end of a sealed
 * segment show as a seq gap to the next).
 */
#ifndef WB_OPLOG_FORMAT_H
#define WB_OPLOG_FORMAT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "oplog.h"
#include "wb_io.h"

#define OPLOG_SEG_MAGIC "WBOPLOG" /* 7 chars + NUL = the 8 magic bytes */
#define OPLOG_SEG_MAGIC_LEN 8
#define OPLOG_SEG_VERSION 1u
#define OPLOG_SEG_HEADER_SIZE 64u
#define OPLOG_REC_HEADER_SIZE 24u
#define OPLOG_REC_CHECK_SIZE 8u
#define OPLOG_REC_MIN_SIZE (OPLOG_REC_HEADER_SIZE + OPLOG_REC_CHECK_SIZE)
#define OPLOG_MIN_SEGMENT_SIZE 4096u
#define OPLOG_MAX_SEGMENT_SIZE (1ull << 40)
#define OPLOG_SEG_SUFFIX ".wbseg"
#define OPLOG_SEG_NAME_DIGITS 20
#define OPLOG_SPARE_NAME "spare.wbseg.tmp"
#define OPLOG_FLAGS_KNOWN OPLOG_FLAG_BATCH_END

/* Segment header field offsets. */
enum {
    OPLOG_SH_MAGIC = 0,
    OPLOG_SH_VERSION = 8,
    OPLOG_SH_HEADER_SIZE = 12,
    OPLOG_SH_NODE_ID = 16,
    OPLOG_SH_FIRST_SEQ = 24,
    OPLOG_SH_CREATED_US = 32,
    OPLOG_SH_SEGMENT_SIZE = 40,
    OPLOG_SH_RESERVED = 48,
    OPLOG_SH_CHECK = 56,
};

/* Record header field offsets (relative to the record start). */
enum {
    OPLOG_RH_LEN = 0,
    OPLOG_RH_TYPE = 4,
    OPLOG_RH_FLAGS = 6,
    OPLOG_RH_SEQ = 8,
    OPLOG_RH_TIME_US = 16,
    OPLOG_RH_PAYLOAD = 24,
};

_Static_assert(OPLOG_SH_CHECK + 8 == OPLOG_SEG_HEADER_SIZE,
               "segment header: checksum is its last 8 bytes");
_Static_assert(OPLOG_SH_RESERVED + 8 == OPLOG_SH_CHECK, "header layout");
_Static_assert(OPLOG_SH_SEGMENT_SIZE + 8 == OPLOG_SH_RESERVED, "header layout");
_Static_assert(OPLOG_SH_CREATED_US + 8 == OPLOG_SH_SEGMENT_SIZE, "layout");
_Static_assert(OPLOG_SH_FIRST_SEQ + 8 == OPLOG_SH_CREATED_US, "layout");
_Static_assert(OPLOG_SH_NODE_ID + 8 == OPLOG_SH_FIRST_SEQ, "layout");
_Static_assert(OPLOG_SH_HEADER_SIZE + 4 == OPLOG_SH_NODE_ID, "layout");
_Static_assert(OPLOG_SH_VERSION + 4 == OPLOG_SH_HEADER_SIZE, "layout");
_Static_assert(OPLOG_SH_MAGIC + OPLOG_SEG_MAGIC_LEN == OPLOG_SH_VERSION,
               "layout");
_Static_assert(sizeof(OPLOG_SEG_MAGIC) == OPLOG_SEG_MAGIC_LEN,
               "magic is 8 bytes including its NUL");
_Static_assert(OPLOG_RH_TIME_US + 8 == OPLOG_REC_HEADER_SIZE,
               "record header: time_us is its last field");
_Static_assert(OPLOG_RH_SEQ + 8 == OPLOG_RH_TIME_US, "record layout");
_Static_assert(OPLOG_RH_FLAGS + 2 == OPLOG_RH_SEQ, "record layout");
_Static_assert(OPLOG_RH_TYPE + 2 == OPLOG_RH_FLAGS, "record layout");
_Static_assert(OPLOG_RH_LEN + 4 == OPLOG_RH_TYPE, "record layout");
_Static_assert(OPLOG_RH_PAYLOAD == OPLOG_REC_HEADER_SIZE, "record layout");
_Static_assert(OPLOG_REC_HEADER_SIZE % 8 == 0 && OPLOG_SEG_HEADER_SIZE % 8 == 0,
               "records stay 8-byte aligned");
_Static_assert(OPLOG_MAX_PAYLOAD <= UINT32_MAX - 64,
               "record size arithmetic cannot overflow 32 bits");
_Static_assert(OPLOG_MIN_SEGMENT_SIZE >= OPLOG_SEG_HEADER_SIZE + OPLOG_REC_MIN_SIZE,
               "a minimal segment holds at least one record");

/* ---- little-endian helpers ------------------------------------------- */

static inline uint16_t oplog_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t oplog_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t oplog_get64(const uint8_t *p)
{
    return (uint64_t)oplog_get32(p) | (uint64_t)oplog_get32(p + 4) << 32;
}
static inline void oplog_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void oplog_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void oplog_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- segment header --------------------------------------------------- */

typedef struct oplog_seg_header {
    uint32_t version;     /* decode: as read; encode: ignored (writes 1) */
    uint64_t node_id;
    uint64_t first_seq;
    int64_t created_us;
    uint64_t segment_size;
} oplog_seg_header;

/* Writes the 64-byte header for h into dst (version 1, checksum filled). */
void oplog_seg_header_encode(uint8_t *dst, const oplog_seg_header *h);

/* Decodes and validates a header from the n bytes at src. Returns 0,
 * WB_ETRUNCATED (n too small), WB_EBADMAGIC, WB_EBADVERSION, or WB_ECORRUPT
 * (checksum, header_size, first_seq 0, segment_size out of range). Checks
 * run in that order, so each error names its cause. */
int oplog_seg_header_decode(const uint8_t *src, size_t n, oplog_seg_header *h);

/* ---- records ---------------------------------------------------------- */

/* Decodes the record at buf[0..n) (n: bytes left before the segment end).
 * Returns 1 (valid framing and checksum; *rec filled, payload pointing into
 * buf; *size = bytes it occupies), 0 (all-zero header, or n < 24 and all
 * zero: end of written data), WB_ETRUNCATED (the record would run past n),
 * or WB_ECORRUPT (len too large, bad checksum). *reason (may be NULL) gets a
 * static description on errors. The seq rule is the caller's. */
int oplog_record_decode(const uint8_t *buf, size_t n, oplog_record *rec,
                        size_t *size, const char **reason);

/* ---- scanning a segment image ---------------------------------------- */

enum oplog_scan_stop {
    OPLOG_STOP_END = 0,     /* zero header or no room: clean end */
    OPLOG_STOP_TORN = 1,    /* invalid record, no valid record after it */
    OPLOG_STOP_CORRUPT = 2, /* invalid record followed by a valid one */
    OPLOG_STOP_STRAY = 3,   /* clean end at a zero header, but non-zero bytes
                               holding no valid record follow: harmless in a
                               sealed segment (no record is affected; lost
                               records there show as a seq gap), zeroed as a
                               torn tail in the newest */
};

/* What a scan of one segment's records found. Offsets are file offsets. */
typedef struct oplog_scan {
    uint64_t first_seq;     /* from the header */
    uint64_t records;       /* valid records */
    uint64_t last_seq;      /* seq of the last valid one; first_seq-1 if none */
    uint64_t end_off;       /* just past the last valid record */
    uint64_t batch_off;     /* just past the last BATCH_END record (or 64) */
    uint64_t batch_records; /* valid records up to batch_off */
    uint64_t data_end;      /* past the last non-zero byte, 8-aligned */
    int stop;               /* enum oplog_scan_stop */
    int code;               /* not END: WB_E* of the invalid record */
    uint64_t bad_off;       /* not END: its offset (== end_off) */
    uint64_t later_off;     /* CORRUPT: offset of the later valid record */
    const char *reason;     /* not END: static description */
} oplog_scan;

/* Scans the records of a segment image seg[0..n) (n = segment size; the
 * header was validated by the caller) whose first seq is first_seq. */
void oplog_scan_records(const uint8_t *seg, size_t n, uint64_t first_seq,
                        oplog_scan *out);

/* Looks for a valid record at an 8-aligned offset in [from, n) whose seq is
 * plausible after a record expected to carry expect_seq at bad_off (seq in
 * [expect_seq, expect_seq + (off - bad_off) / 32]). Returns its offset or 0. */
uint64_t oplog_find_later_record(const uint8_t *seg, size_t n, uint64_t from,
                                 uint64_t bad_off, uint64_t expect_seq);

/* Validates a whole segment image: header (node_id must match unless 0;
 * first_seq must equal expect_first unless 0; segment_size must equal n:
 * WB_ETRUNCATED if n is smaller, WB_ECORRUPT if larger), then scans it.
 * Returns 0 (see scan->stop for record problems) or the header error. */
int oplog_check_image(const uint8_t *seg, size_t n, uint64_t node_id,
                      uint64_t expect_first, oplog_seg_header *h,
                      oplog_scan *scan);

/* ---- segment files, read side (oplog_segment.c) ------------------------ */

/* A segment file mapped read-only. */
typedef struct oplog_seg_map {
    const uint8_t *data; /* the file, size bytes; NULL when size is 0 */
    size_t size;
} oplog_seg_map;

/* Maps path read-only (whole file). Returns 0 or a negative errno. */
int oplog_seg_map_open(const char *path, oplog_seg_map *m);
void oplog_seg_map_close(oplog_seg_map *m);

/* Parses a directory entry name; returns 1 and *first if it is a segment. */
int oplog_segment_parse_name(const char *name, uint64_t *first);

/* Reads and validates the header of the segment file path: as
 * oplog_seg_header_decode, plus node_id (unless 0: WB_ENODEID), first_seq
 * equal to expect_first (unless 0) and the file size equal to segment_size
 * (WB_ETRUNCATED if shorter, WB_ECORRUPT if longer). Reads 64 bytes only. */
int oplog_seg_header_read(const char *path, uint64_t node_id,
                          uint64_t expect_first, oplog_seg_header *h);

/* One segment file, mapped and fully checked (oplog_check_image). */
typedef struct oplog_seg_check {
    char path[PATH_MAX];
    uint64_t first;     /* from the file name */
    oplog_seg_map map;
    int rc;             /* header/size error (0: hdr and scan are valid) */
    oplog_seg_header hdr;
    oplog_scan scan;
} oplog_seg_check;

/* Maps and checks segment first of dir. Returns 0 (then c->rc tells whether
 * the header was valid) or a negative errno; close with _close either way. */
int oplog_seg_check_open(const char *dir, uint64_t first, uint64_t node_id,
                         oplog_seg_check *c);
void oplog_seg_check_close(oplog_seg_check *c);

/* Why the reader failed (static text), NULL while it has not. An addition
 * to oplog.h's reader API for wbctl; oplog_reader.c. */
const char *oplog_reader_reason(const oplog_reader *r);

/* Zeroes bytes [from, to) of the file path through io and fdatasyncs it. */
int oplog_zero_range(const wb_io *io, const char *path, uint64_t from,
                     uint64_t to);

#endif /* WB_OPLOG_FORMAT_H */
