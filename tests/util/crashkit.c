/*
 * crashkit.c: known-content payloads and whole-log checks. See crashkit.h.
 */
#include "crashkit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint8_t fill_byte(uint32_t producer, uint32_t counter, uint32_t i)
{
    return (uint8_t)(producer * 31u + counter * 7u + i * 13u + 5u);
}

static uint32_t head_check(uint32_t producer, uint32_t counter, uint32_t len)
{
    return (producer * 0x9e3779b1u) ^ (counter * 0x85ebca77u) ^
           (len * 0xc2b2ae3du) ^ 0x5bd1e995u;
}

void ck_payload_fill(uint8_t *buf, uint32_t len, uint32_t producer,
                     uint32_t counter)
{
    put32(buf, producer);
    put32(buf + 4, counter);
    put32(buf + 8, len);
    put32(buf + 12, head_check(producer, counter, len));
    for (uint32_t i = CK_MIN_PAYLOAD; i < len; i++)
        buf[i] = fill_byte(producer, counter, i);
}

int ck_payload_check(const uint8_t *buf, uint32_t len, uint32_t *producer,
                     uint32_t *counter)
{
    if (len < CK_MIN_PAYLOAD)
        return -1;
    uint32_t p = get32(buf), c = get32(buf + 4);
    if (get32(buf + 8) != len || get32(buf + 12) != head_check(p, c, len))
        return -1;
    for (uint32_t i = CK_MIN_PAYLOAD; i < len; i++)
        if (buf[i] != fill_byte(p, c, i))
            return -1;
    *producer = p;
    *counter = c;
    return 0;
}

uint64_t ck_hash(const void *buf, size_t len)
{
    return XXH3_64bits(buf, len);
}

int ck_read_all(const char *dir, ck_record_fn cb, void *arg, ck_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    oplog_reader *r = NULL;
    int rc = oplog_reader_open(dir, 0, &r);
    if (rc) {
        snprintf(sum->error, sizeof sum->error, "reader_open: %d", rc);
        return -1;
    }
    oplog_record rec;
    uint16_t last_flags = OPLOG_FLAG_BATCH_END;
    int ret = 0;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        uint32_t p = 0, c = 0;
        if (sum->records && rec.seq != sum->last_seq + 1) {
            snprintf(sum->error, sizeof sum->error,
                     "seq %" PRIu64 " follows %" PRIu64, rec.seq,
                     sum->last_seq);
            ret = -1;
            break;
        }
        if (ck_payload_check(rec.payload, rec.len, &p, &c) != 0) {
            snprintf(sum->error, sizeof sum->error,
                     "record %" PRIu64 " (len %u) has a bad payload", rec.seq,
                     rec.len);
            ret = -1;
            break;
        }
        if (!sum->records)
            sum->first_seq = rec.seq;
        sum->records++;
        sum->last_seq = rec.seq;
        last_flags = rec.flags;
        if (cb && cb(arg, &rec, p, c) != 0) {
            snprintf(sum->error, sizeof sum->error,
                     "callback rejected record %" PRIu64, rec.seq);
            ret = -1;
            break;
        }
    }
    if (ret == 0 && rc < 0) {
        uint64_t off = 0;
        const char *where = oplog_reader_where(r, &off);
        snprintf(sum->error, sizeof sum->error, "reader: %d at %s+%" PRIu64,
                 rc, where ? where : "?", off);
        ret = -1;
    }
    if (ret == 0 && !(last_flags & OPLOG_FLAG_BATCH_END)) {
        snprintf(sum->error, sizeof sum->error,
                 "last record %" PRIu64 " ends no batch", sum->last_seq);
        ret = -1;
    }
    oplog_reader_close(r);
    return ret;
}
