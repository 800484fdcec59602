/*
 * oplog_format.c: encoding and validation of the segment layout described in
 * oplog_format.h (header, record framing, the scan of a segment image).
 *
 * Everything here works on bytes in memory and does no I/O, so the fuzz
 * harness (fuzz/fuzz_oplog_segment.c) drives exactly the code that recovery,
 * the reader and verify run on mapped segment files.
 *
 * Invariants: no length read from the data is used before it is bounds-
 * checked against OPLOG_MAX_PAYLOAD and the bytes available; every read is
 * inside seg[0..n).
 */
#include "oplog_format.h"

#include <string.h>
#include <xxhash.h>

#include "oplog_internal.h"
#include "wb_error.h"

size_t oplog_record_size(uint32_t len)
{
    size_t padded = ((size_t)len + 7u) & ~(size_t)7u;
    return OPLOG_REC_HEADER_SIZE + padded + OPLOG_REC_CHECK_SIZE;
}

size_t oplog_record_encode(uint8_t *dst, uint64_t seq, int64_t time_us,
                           uint16_t type, uint16_t flags, const void *payload,
                           uint32_t len)
{
    size_t size = oplog_record_size(len);
    size_t body = size - OPLOG_REC_CHECK_SIZE;
    oplog_put32(dst + OPLOG_RH_LEN, len);
    oplog_put16(dst + OPLOG_RH_TYPE, type);
    oplog_put16(dst + OPLOG_RH_FLAGS, flags);
    oplog_put64(dst + OPLOG_RH_SEQ, seq);
    oplog_put64(dst + OPLOG_RH_TIME_US, (uint64_t)time_us);
    if (len)
        memcpy(dst + OPLOG_RH_PAYLOAD, payload, len);
    memset(dst + OPLOG_RH_PAYLOAD + len, 0, body - OPLOG_RH_PAYLOAD - len);
    oplog_put64(dst + body, XXH3_64bits(dst, body));
    return size;
}

void oplog_seg_header_encode(uint8_t *dst, const oplog_seg_header *h)
{
    memset(dst, 0, OPLOG_SEG_HEADER_SIZE);
    memcpy(dst + OPLOG_SH_MAGIC, OPLOG_SEG_MAGIC, OPLOG_SEG_MAGIC_LEN);
    oplog_put32(dst + OPLOG_SH_VERSION, OPLOG_SEG_VERSION);
    oplog_put32(dst + OPLOG_SH_HEADER_SIZE, OPLOG_SEG_HEADER_SIZE);
    oplog_put64(dst + OPLOG_SH_NODE_ID, h->node_id);
    oplog_put64(dst + OPLOG_SH_FIRST_SEQ, h->first_seq);
    oplog_put64(dst + OPLOG_SH_CREATED_US, (uint64_t)h->created_us);
    oplog_put64(dst + OPLOG_SH_SEGMENT_SIZE, h->segment_size);
    oplog_put64(dst + OPLOG_SH_CHECK, XXH3_64bits(dst, OPLOG_SH_CHECK));
}

int oplog_seg_header_decode(const uint8_t *src, size_t n, oplog_seg_header *h)
{
    if (n < OPLOG_SH_VERSION)
        return WB_ETRUNCATED;
    if (memcmp(src, OPLOG_SEG_MAGIC, OPLOG_SEG_MAGIC_LEN) != 0)
        return WB_EBADMAGIC;
    if (n < OPLOG_SH_HEADER_SIZE)
        return WB_ETRUNCATED;
    h->version = oplog_get32(src + OPLOG_SH_VERSION);
    if (h->version != OPLOG_SEG_VERSION)
        return WB_EBADVERSION;
    if (n < OPLOG_SEG_HEADER_SIZE)
        return WB_ETRUNCATED;
    if (oplog_get64(src + OPLOG_SH_CHECK) != XXH3_64bits(src, OPLOG_SH_CHECK))
        return WB_ECORRUPT;
    h->node_id = oplog_get64(src + OPLOG_SH_NODE_ID);
    h->first_seq = oplog_get64(src + OPLOG_SH_FIRST_SEQ);
    h->created_us = (int64_t)oplog_get64(src + OPLOG_SH_CREATED_US);
    h->segment_size = oplog_get64(src + OPLOG_SH_SEGMENT_SIZE);
    if (oplog_get32(src + OPLOG_SH_HEADER_SIZE) != OPLOG_SEG_HEADER_SIZE ||
        h->first_seq == 0 || h->segment_size < OPLOG_MIN_SEGMENT_SIZE ||
        h->segment_size > OPLOG_MAX_SEGMENT_SIZE || h->segment_size % 8 != 0)
        return WB_ECORRUPT;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int oplog_record_decode(const uint8_t *buf, size_t n, oplog_record *rec,
                        size_t *size, const char **reason)
{
    const char *why = NULL;
    int rc;
    if (n < OPLOG_REC_HEADER_SIZE) {
        if (all_zero(buf, n))
            return 0;
        why = "partial record header at the segment end";
        rc = WB_ETRUNCATED;
        goto bad;
    }
    if (all_zero(buf, OPLOG_REC_HEADER_SIZE))
        return 0;
    uint32_t len = oplog_get32(buf + OPLOG_RH_LEN);
    if (len > OPLOG_MAX_PAYLOAD) {
        why = "payload length out of range";
        rc = WB_ECORRUPT;
        goto bad;
    }
    size_t sz = oplog_record_size(len);
    if (sz > n) {
        why = "record runs past the segment end";
        rc = WB_ETRUNCATED;
        goto bad;
    }
    size_t body = sz - OPLOG_REC_CHECK_SIZE;
    if (oplog_get64(buf + body) != XXH3_64bits(buf, body)) {
        why = "record checksum mismatch";
        rc = WB_ECORRUPT;
        goto bad;
    }
    rec->len = len;
    rec->type = oplog_get16(buf + OPLOG_RH_TYPE);
    rec->flags = oplog_get16(buf + OPLOG_RH_FLAGS);
    rec->seq = oplog_get64(buf + OPLOG_RH_SEQ);
    rec->time_us = (int64_t)oplog_get64(buf + OPLOG_RH_TIME_US);
    rec->payload = buf + OPLOG_RH_PAYLOAD;
    *size = sz;
    return 1;
bad:
    if (reason)
        *reason = why;
    return rc;
}

/* Offset just past the last non-zero byte of seg[from..n), rounded up to 8
 * (and at most n); from if everything there is zero. */
static uint64_t data_end_from(const uint8_t *seg, size_t n, uint64_t from)
{
    size_t i = n;
    while (i > from && (i - from) >= 8 && i % 8 == 0) {
        uint64_t w;
        memcpy(&w, seg + i - 8, 8);
        if (w)
            break;
        i -= 8;
    }
    while (i > from && seg[i - 1] == 0)
        i--;
    if (i == from)
        return from;
    uint64_t end = ((uint64_t)i + 7u) & ~(uint64_t)7u;
    return end > n ? n : end;
}

uint64_t oplog_find_later_record(const uint8_t *seg, size_t n, uint64_t from,
                                 uint64_t bad_off, uint64_t expect_seq)
{
    uint64_t limit = data_end_from(seg, n, from);
    from = (from + 7u) & ~(uint64_t)7u;
    for (uint64_t o = from; o < limit && o + OPLOG_REC_MIN_SIZE <= n; o += 8) {
        uint64_t seq = oplog_get64(seg + o + OPLOG_RH_SEQ);
        if (seq < expect_seq || seq - expect_seq > (o - bad_off) / 32)
            continue;
        oplog_record rec;
        size_t sz;
        if (oplog_record_decode(seg + o, n - o, &rec, &sz, NULL) == 1)
            return o;
    }
    return 0;
}

void oplog_scan_records(const uint8_t *seg, size_t n, uint64_t first_seq,
                        oplog_scan *s)
{
    memset(s, 0, sizeof *s);
    s->first_seq = first_seq;
    s->last_seq = first_seq - 1;
    s->batch_off = OPLOG_SEG_HEADER_SIZE;
    s->data_end = data_end_from(seg, n, OPLOG_SEG_HEADER_SIZE);
    uint64_t off = OPLOG_SEG_HEADER_SIZE;
    for (;;) {
        oplog_record rec;
        size_t sz = 0;
        const char *why = NULL;
        int rc = oplog_record_decode(seg + off, n - off, &rec, &sz, &why);
        if (rc == 1 && rec.seq != s->last_seq + 1) {
            rc = WB_ECORRUPT;
            why = "sequence number out of order";
        }
        if (rc != 1) {
            s->end_off = off;
            if (s->data_end < off)
                s->data_end = off;
            if (rc == 0 && s->data_end <= off) {
                s->stop = OPLOG_STOP_END;
                return;
            }
            uint64_t later = oplog_find_later_record(seg, n, off + 8, off,
                                                     s->last_seq + 1);
            s->bad_off = off;
            if (later) {
                s->stop = OPLOG_STOP_CORRUPT;
                s->later_off = later;
                s->code = WB_ECORRUPT;
                s->reason = rc == 0 ? "zero record header before valid records"
                                    : why;
            } else if (rc == 0) {
                /* Zero header with stray non-zero bytes after it that hold
                 * no valid record (data_end > off). */
                s->stop = OPLOG_STOP_STRAY;
                s->code = WB_ETRUNCATED;
                s->reason = "stray bytes after the end of the log";
            } else {
                s->stop = OPLOG_STOP_TORN;
                s->code = rc;
                s->reason = why;
            }
            return;
        }
        s->records++;
        s->last_seq = rec.seq;
        off += sz;
        if (rec.flags & OPLOG_FLAG_BATCH_END) {
            s->batch_off = off;
            s->batch_records = s->records;
        }
    }
}

int oplog_check_image(const uint8_t *seg, size_t n, uint64_t node_id,
                      uint64_t expect_first, oplog_seg_header *h,
                      oplog_scan *scan)
{
    int rc = oplog_seg_header_decode(seg, n, h);
    if (rc)
        return rc;
    if (node_id && h->node_id != node_id)
        return WB_ENODEID;
    if (expect_first && h->first_seq != expect_first)
        return WB_ECORRUPT;
    if (h->segment_size > n)
        return WB_ETRUNCATED;
    if (h->segment_size < n)
        return WB_ECORRUPT;
    oplog_scan_records(seg, n, h->first_seq, scan);
    return 0;
}
