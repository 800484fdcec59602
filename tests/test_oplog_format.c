/*
 * test_oplog_format.c: the segment layout of oplog_format.h: record framing
 * and header round trips, distinct errors for bad magic / version /
 * checksum, every single-bit flip of a record detected, and the worked hex
 * example of docs/oplog-format.md equal to what the encoder produces.
 *
 *   test_oplog_format --print-example   prints the example in the docs' form
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wbtest.h"

static void test_record_sizes(void)
{
    CHECK_EQ_U64(oplog_record_size(0), 32);
    CHECK_EQ_U64(oplog_record_size(1), 40);
    CHECK_EQ_U64(oplog_record_size(8), 40);
    CHECK_EQ_U64(oplog_record_size(9), 48);
    CHECK_EQ_U64(oplog_record_size(OPLOG_MAX_PAYLOAD), 32 + OPLOG_MAX_PAYLOAD);
}

static void roundtrip_one(uint32_t len)
{
    size_t size = oplog_record_size(len);
    uint8_t *payload = malloc(len ? len : 1);
    uint8_t *buf = malloc(size + 16);
    CHECK(payload && buf);
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 31u + len);
    memset(buf, 0xAA, size + 16);
    CHECK_EQ_U64(oplog_record_encode(buf, 42 + len, -5 - (int64_t)len,
                                     0xBEEF, OPLOG_FLAG_BATCH_END, payload, len),
                 size);
    CHECK_EQ_INT(size % 8, 0);
    for (size_t i = OPLOG_REC_HEADER_SIZE + len;
         i < size - OPLOG_REC_CHECK_SIZE; i++)
        CHECK_MSG(buf[i] == 0, "padding byte %zu not zero", i);
    oplog_record rec;
    size_t got = 0;
    CHECK_EQ_INT(oplog_record_decode(buf, size + 16, &rec, &got, NULL), 1);
    CHECK_EQ_U64(got, size);
    CHECK_EQ_U64(rec.seq, 42 + len);
    CHECK_EQ_INT(rec.time_us, -5 - (int64_t)len);
    CHECK_EQ_INT(rec.type, 0xBEEF);
    CHECK_EQ_INT(rec.flags, OPLOG_FLAG_BATCH_END);
    CHECK_EQ_U64(rec.len, len);
    CHECK_MEM(rec.payload, payload, len);
    /* One byte short of the record: truncated, never read past n. */
    const char *why = NULL;
    CHECK_RC(oplog_record_decode(buf, size - 1, &rec, &got, &why),
             WB_ETRUNCATED);
    CHECK(why != NULL);
    free(payload);
    free(buf);
}

static void test_record_roundtrip(void)
{
    const uint32_t lens[] = {0, 1, 7, 8, 9, 15, 16, 100, 4095, 65536,
                             OPLOG_MAX_PAYLOAD - 1, OPLOG_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        roundtrip_one(lens[i]);
        if (wb_test_current_failed) {
            fprintf(stderr, "  (payload length %u)\n", lens[i]);
            return;
        }
    }
}

static void test_record_bad_framing(void)
{
    uint8_t buf[256] = {0};
    oplog_record rec;
    size_t got;
    CHECK_EQ_INT(oplog_record_decode(buf, sizeof buf, &rec, &got, NULL), 0);
    CHECK_EQ_INT(oplog_record_decode(buf, 10, &rec, &got, NULL), 0);
    /* A length beyond the maximum is refused before anything is sized. */
    oplog_put32(buf, OPLOG_MAX_PAYLOAD + 1);
    oplog_put64(buf + OPLOG_RH_SEQ, 1);
    CHECK_RC(oplog_record_decode(buf, sizeof buf, &rec, &got, NULL),
             WB_ECORRUPT);
    oplog_put32(buf, UINT32_MAX);
    CHECK_RC(oplog_record_decode(buf, sizeof buf, &rec, &got, NULL),
             WB_ECORRUPT);
    /* A plausible length that runs past the end. */
    oplog_put32(buf, 1000);
    CHECK_RC(oplog_record_decode(buf, sizeof buf, &rec, &got, NULL),
             WB_ETRUNCATED);
    /* Non-zero bytes in a too-short tail. */
    memset(buf, 0, sizeof buf);
    buf[3] = 1;
    CHECK_RC(oplog_record_decode(buf, 10, &rec, &got, NULL), WB_ETRUNCATED);
}

/* Every single-bit flip of an encoded record is caught by the framing or the
 * checksum; none decodes as a valid record. */
static void test_record_every_bit_flip(void)
{
    uint8_t payload[13], buf[64];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i + 1);
    size_t size = oplog_record_encode(buf, 77, 123456, 3, 1, payload,
                                      sizeof payload);
    for (size_t bit = 0; bit < size * 8; bit++) {
        uint8_t copy[64];
        memcpy(copy, buf, size);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        oplog_record rec;
        size_t got;
        int rc = oplog_record_decode(copy, size, &rec, &got, NULL);
        CHECK_MSG(rc != 1, "flip of bit %zu decoded as valid", bit);
        CHECK_MSG(rc == WB_ECORRUPT || rc == WB_ETRUNCATED,
                  "flip of bit %zu: unexpected %d", bit, rc);
    }
}

static void test_header_roundtrip(void)
{
    oplog_seg_header h = {.node_id = 0x1122334455667788ull,
                          .first_seq = 1000,
                          .created_us = 1700000000123456LL,
                          .segment_size = 1 << 20};
    uint8_t buf[OPLOG_SEG_HEADER_SIZE];
    oplog_seg_header_encode(buf, &h);
    CHECK_MEM(buf, "WBOPLOG\0", 8);
    CHECK_EQ_INT(buf[OPLOG_SH_VERSION], 1);
    CHECK_EQ_INT(buf[OPLOG_SH_HEADER_SIZE], 64);
    CHECK_EQ_INT(buf[OPLOG_SH_NODE_ID], 0x88); /* little-endian */
    oplog_seg_header d;
    CHECK_OK(oplog_seg_header_decode(buf, sizeof buf, &d));
    CHECK_EQ_U64(d.version, 1);
    CHECK_EQ_U64(d.node_id, h.node_id);
    CHECK_EQ_U64(d.first_seq, h.first_seq);
    CHECK_EQ_INT(d.created_us, h.created_us);
    CHECK_EQ_U64(d.segment_size, h.segment_size);
}

static void test_header_errors_distinct(void)
{
    oplog_seg_header h = {.node_id = 9, .first_seq = 1, .segment_size = 4096};
    uint8_t good[OPLOG_SEG_HEADER_SIZE], buf[OPLOG_SEG_HEADER_SIZE];
    oplog_seg_header d;
    oplog_seg_header_encode(good, &h);

    memcpy(buf, good, sizeof buf);
    buf[0] = 'X';
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_EBADMAGIC);

    memcpy(buf, good, sizeof buf);
    oplog_put32(buf + OPLOG_SH_VERSION, 2);
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_EBADVERSION);

    memcpy(buf, good, sizeof buf);
    buf[OPLOG_SH_FIRST_SEQ] ^= 4;
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_ECORRUPT);
    memcpy(buf, good, sizeof buf);
    buf[OPLOG_SH_CHECK + 7] ^= 0x80;
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_ECORRUPT);

    CHECK_RC(oplog_seg_header_decode(good, 40, &d), WB_ETRUNCATED);
    CHECK_RC(oplog_seg_header_decode(good, 4, &d), WB_ETRUNCATED);

    /* Structurally wrong but correctly checksummed: still corrupt. */
    oplog_seg_header bad = h;
    bad.segment_size = 100;
    oplog_seg_header_encode(buf, &bad);
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_ECORRUPT);
    bad = h;
    bad.first_seq = 0;
    oplog_seg_header_encode(buf, &bad);
    CHECK_RC(oplog_seg_header_decode(buf, sizeof buf, &d), WB_ECORRUPT);
}

/* Every bit of the header matters: each flip is an error. */
static void test_header_every_bit_flip(void)
{
    oplog_seg_header h = {.node_id = 3, .first_seq = 17, .segment_size = 8192};
    uint8_t good[OPLOG_SEG_HEADER_SIZE];
    oplog_seg_header_encode(good, &h);
    for (size_t bit = 0; bit < sizeof good * 8; bit++) {
        uint8_t buf[OPLOG_SEG_HEADER_SIZE];
        memcpy(buf, good, sizeof buf);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        oplog_seg_header d;
        int rc = oplog_seg_header_decode(buf, sizeof buf, &d);
        int want = bit < 64 ? WB_EBADMAGIC : bit < 96 ? WB_EBADVERSION
                                                      : WB_ECORRUPT;
        CHECK_MSG(rc == want, "flip of header bit %zu: got %s want %s", bit,
                  wb_errname(rc), wb_errname(want));
    }
}

/* Scanning a segment image: clean end, torn tail, corruption. */
static void test_scan_image(void)
{
    enum { SZ = 4096 };
    uint8_t *seg = calloc(1, SZ);
    CHECK(seg);
    oplog_seg_header h = {.node_id = 1, .first_seq = 5, .segment_size = SZ};
    oplog_seg_header_encode(seg, &h);
    uint64_t off = OPLOG_SEG_HEADER_SIZE, offs[4];
    for (int i = 0; i < 4; i++) {
        offs[i] = off;
        off += oplog_record_encode(seg + off, 5 + (uint64_t)i, 0, 1,
                                   i == 1 || i == 3 ? OPLOG_FLAG_BATCH_END : 0,
                                   "abcdefghij", (uint32_t)(3 * i));
    }
    oplog_seg_header d;
    oplog_scan s;
    CHECK_OK(oplog_check_image(seg, SZ, 1, 5, &d, &s));
    CHECK_EQ_INT(s.stop, OPLOG_STOP_END);
    CHECK_EQ_U64(s.records, 4);
    CHECK_EQ_U64(s.last_seq, 8);
    CHECK_EQ_U64(s.end_off, off);
    CHECK_EQ_U64(s.batch_off, off);
    CHECK_EQ_U64(s.data_end, off);
    CHECK_RC(oplog_check_image(seg, SZ, 2, 5, &d, &s), WB_ENODEID);
    CHECK_RC(oplog_check_image(seg, SZ, 1, 6, &d, &s), WB_ECORRUPT);
    CHECK_RC(oplog_check_image(seg, SZ - 8, 1, 5, &d, &s), WB_ETRUNCATED);

    /* Flip in the last record: torn tail at its offset. */
    seg[offs[3] + 30] ^= 1;
    CHECK_OK(oplog_check_image(seg, SZ, 0, 0, &d, &s));
    CHECK_EQ_INT(s.stop, OPLOG_STOP_TORN);
    CHECK_EQ_U64(s.bad_off, offs[3]);
    CHECK_EQ_U64(s.records, 3);
    CHECK_EQ_U64(s.batch_off, offs[2]);
    CHECK_EQ_U64(s.batch_records, 2);
    CHECK_EQ_U64(s.data_end, off);
    seg[offs[3] + 30] ^= 1;

    /* Flip in an earlier record: corruption, pointing at the later one. */
    seg[offs[1] + 9] ^= 0x10;
    CHECK_OK(oplog_check_image(seg, SZ, 0, 0, &d, &s));
    CHECK_EQ_INT(s.stop, OPLOG_STOP_CORRUPT);
    CHECK_EQ_U64(s.bad_off, offs[1]);
    CHECK_EQ_U64(s.later_off, offs[2]);
    CHECK_EQ_U64(s.records, 1);
    free(seg);
}

/* Every bit of a 5-record segment image flipped in turn: the scan never
 * counts a record whose content differs from what was written. A flip in
 * the header is a header error, in the last record a torn tail, before it
 * corruption at that record's offset. */
static void test_image_every_bit_flip(void)
{
    enum { SZ = 4096 };
    uint8_t *good = calloc(1, SZ), *img = malloc(SZ);
    CHECK(good && img);
    oplog_seg_header h = {.node_id = 2, .first_seq = 100, .segment_size = SZ};
    oplog_seg_header_encode(good, &h);
    uint64_t off = OPLOG_SEG_HEADER_SIZE, offs[6];
    for (int i = 0; i < 5; i++) {
        offs[i] = off;
        off += oplog_record_encode(good + off, 100 + (uint64_t)i, 7 * i, 1,
                                   OPLOG_FLAG_BATCH_END, "0123456789abcdef",
                                   (uint32_t)(i * 4));
    }
    offs[5] = off;
    for (uint64_t bit = 0; bit < off * 8; bit++) {
        memcpy(img, good, SZ);
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        oplog_seg_header d;
        oplog_scan s;
        int rc = oplog_check_image(img, SZ, 0, 0, &d, &s);
        uint64_t byte = bit / 8;
        if (byte < OPLOG_SEG_HEADER_SIZE) {
            CHECK_MSG(rc != 0, "header bit %" PRIu64 " flip accepted", bit);
            continue;
        }
        CHECK_OK(rc);
        int hit = 0;
        while (byte >= offs[hit + 1])
            hit++;
        CHECK_MSG(s.records == (uint64_t)hit, "bit %" PRIu64 ": %" PRIu64
                  " records kept, want %d", bit, s.records, hit);
        CHECK_MSG(memcmp(img, good, offs[hit]) == 0, "kept bytes differ");
        CHECK_EQ_U64(s.bad_off, offs[hit]);
        CHECK_EQ_INT(s.stop, hit == 4 ? OPLOG_STOP_TORN : OPLOG_STOP_CORRUPT);
    }
    free(good);
    free(img);
}

/* The worked example of docs/oplog-format.md. */
static const uint8_t example_payload[] = "hello";
static size_t example_record(uint8_t *buf)
{
    return oplog_record_encode(buf, 1, 1700000000000000LL, 1,
                               OPLOG_FLAG_BATCH_END, example_payload, 5);
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        printf("%04zx:", i);
        for (size_t j = i; j < i + 8 && j < n; j++)
            printf(" %02x", p[j]);
        printf("\n");
    }
}

/* Parses the hex lines ("0000: 05 00 ...") between the example markers. */
static long parse_doc_hex(const char *path, uint8_t *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "<!-- example-record-begin -->"))
            in = 1;
        else if (strstr(line, "<!-- example-record-end -->"))
            in = 0;
        else if (in && strlen(line) > 5 && line[4] == ':') {
            char *p = line + 5, *end;
            for (;;) {
                unsigned long v = strtoul(p, &end, 16);
                if (end == p || n == cap)
                    break;
                out[n++] = (uint8_t)v;
                p = end;
            }
        }
    }
    fclose(f);
    return (long)n;
}

static void test_doc_example_matches_encoder(void)
{
    uint8_t rec[64], doc[128];
    size_t n = example_record(rec);
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    CHECK_MSG(slash != NULL, "cannot locate the source tree from %s", __FILE__);
    snprintf(slash, sizeof path - (size_t)(slash - path),
             "/../docs/oplog-format.md");
    long got = parse_doc_hex(path, doc, sizeof doc);
    CHECK_MSG(got >= 0, "cannot read %s", path);
    CHECK_EQ_U64((uint64_t)got, n);
    CHECK_MEM(doc, rec, n);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-example") == 0) {
        uint8_t rec[64];
        print_hex(rec, example_record(rec));
        return 0;
    }
    WB_RUN(test_record_sizes);
    WB_RUN(test_record_roundtrip);
    WB_RUN(test_record_bad_framing);
    WB_RUN(test_record_every_bit_flip);
    WB_RUN(test_header_roundtrip);
    WB_RUN(test_header_errors_distinct);
    WB_RUN(test_header_every_bit_flip);
    WB_RUN(test_scan_image);
    WB_RUN(test_image_every_bit_flip);
    WB_RUN(test_doc_example_matches_encoder);
    return wb_test_summary();
}
