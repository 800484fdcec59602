/*
 * fuzz_oplog_segment.c: arbitrary bytes as an oplog segment.
 *
 * Input: one mode byte, then the segment image. The image is zero-padded to
 * a multiple of 8 and at least OPLOG_MIN_SEGMENT_SIZE (4 KiB), capped at
 * 64 KiB. Mode bits:
 *   1  fix up the header (magic, version, size, checksum) so that the
 *      records behind it get exercised;
 *   2  also recompute each record's checksum while walking the framing, so
 *      that seq, batch and length logic is reached, not just the checksum;
 *   4  also write the image as a segment file (under /dev/shm when it
 *      exists) and run the reader and recovery on it (8: with repair);
 *  16  instead, write it as a sealed segment followed by a newest one of
 *      one record (32: after a seq gap), run the reader, then recovery or
 *      (8) oplog_repair with force; a log that recovered verifies clean.
 * Always: the raw bytes through the header decoder and the record decoder,
 * the image through oplog_check_image. Besides "no crash, no out-of-bounds
 * read" (ASan), the harness checks that scan, reader and recovery agree:
 * the reader returns exactly the records the scan says are readable, and
 * recovery leaves exactly the complete batches, followed only by zeros.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IMAGE (64u << 10)

#define REQUIRE(c)                                                           \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                         \
        }                                                                    \
    } while (0)

static void fix_header(uint8_t *img, size_t len)
{
    oplog_seg_header h;
    h.node_id = oplog_get64(img + OPLOG_SH_NODE_ID);
    h.first_seq = oplog_get64(img + OPLOG_SH_FIRST_SEQ) % 1000000 + 1;
    h.created_us = (int64_t)oplog_get64(img + OPLOG_SH_CREATED_US);
    h.segment_size = len;
    oplog_seg_header_encode(img, &h);
}

static void fix_records(uint8_t *img, size_t len)
{
    uint64_t off = OPLOG_SEG_HEADER_SIZE;
    while (off + OPLOG_REC_HEADER_SIZE <= len) {
        uint32_t n = oplog_get32(img + off);
        if (n > OPLOG_MAX_PAYLOAD || oplog_record_size(n) > len - off)
            return;
        size_t body = oplog_record_size(n) - OPLOG_REC_CHECK_SIZE;
        oplog_put64(img + off + body, XXH3_64bits(img + off, body));
        off += body + OPLOG_REC_CHECK_SIZE;
    }
}

static void check_scan(const uint8_t *img, size_t len, const oplog_scan *s)
{
    REQUIRE(s->end_off <= len && s->batch_off <= s->end_off);
    REQUIRE(s->batch_records <= s->records);
    REQUIRE(s->data_end <= len);
    REQUIRE(s->last_seq == s->first_seq - 1 + s->records);
    uint64_t off = OPLOG_SEG_HEADER_SIZE;
    for (uint64_t i = 0; i < s->records; i++) {
        oplog_record rec;
        size_t sz;
        REQUIRE(oplog_record_decode(img + off, len - off, &rec, &sz, NULL) == 1);
        REQUIRE(rec.seq == s->first_seq + i);
        off += sz;
    }
    REQUIRE(off == s->end_off);
    if (s->stop == OPLOG_STOP_CORRUPT)
        REQUIRE(s->later_off > s->bad_off && s->later_off < len);
    if (s->stop == OPLOG_STOP_END)
        REQUIRE(s->data_end <= s->end_off);
}

static char scratch[128];

static void remove_scratch(void)
{
    rmdir(scratch);
}

static const char *scratch_dir(void)
{
    char *dir = scratch;
    if (!dir[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof scratch, "%s/fuzz-oplog-%d", base, (int)getpid());
        mkdir(dir, 0755);
        atexit(remove_scratch);
    }
    return dir;
}

static void clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void run_files(const uint8_t *img, size_t len, const oplog_seg_header *h,
                      const oplog_scan *s, int repair)
{
    const char *dir = scratch_dir();
    clear_dir(dir);
    char path[PATH_MAX];
    oplog_segment_path(dir, h->first_seq, path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    size_t w = fwrite(img, 1, len, f);
    fclose(f);
    if (w != len)
        return;

    oplog_reader *r;
    REQUIRE(oplog_reader_open(dir, 1, &r) == 0);
    oplog_record rec;
    uint64_t n = 0;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        REQUIRE(rec.seq == h->first_seq + n);
        n++;
    }
    oplog_reader_close(r);
    int zero_hdr = s->stop == OPLOG_STOP_CORRUPT;
    for (uint64_t i = s->bad_off; zero_hdr && i < len &&
                                  i < s->bad_off + OPLOG_REC_HEADER_SIZE; i++)
        zero_hdr = img[i] == 0;
    if (zero_hdr) {
        /* A zero header ends the newest segment for a reader (see
         * oplog_reader.c); recovery and verify report what follows. */
        REQUIRE(rc == 0 && n == s->records);
    } else if (s->stop == OPLOG_STOP_CORRUPT) {
        REQUIRE(rc == WB_ECORRUPT && n == s->records);
    } else {
        REQUIRE(rc == 0 && n == s->batch_records);
    }

    oplog_tail tail;
    oplog_recovery rec_info;
    char err[PATH_MAX + 256];
    rc = oplog_recover(wb_io_default(), dir, 0, repair, &tail, &rec_info, err,
                       sizeof err);
    if (s->stop == OPLOG_STOP_CORRUPT && !repair) {
        REQUIRE(rc == WB_ECORRUPT);
    } else {
        REQUIRE(rc == 0);
        if (s->stop != OPLOG_STOP_CORRUPT) {
            REQUIRE(tail.write_off == s->batch_off);
            REQUIRE(tail.next_seq == h->first_seq + s->batch_records);
        }
        oplog_seg_map m;
        REQUIRE(oplog_seg_map_open(path, &m) == 0);
        oplog_seg_header h2;
        oplog_scan s2;
        REQUIRE(oplog_check_image(m.data, m.size, 0, 0, &h2, &s2) == 0);
        REQUIRE(s2.stop == OPLOG_STOP_END && s2.end_off == tail.write_off);
        REQUIRE(s2.batch_off == s2.end_off);
        oplog_seg_map_close(&m);
        REQUIRE(oplog_verify(dir, NULL, NULL) == 0);
    }
    clear_dir(dir);
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Mode 16: the image becomes a sealed segment, followed by a newest segment
 * holding one record (after a seq gap with mode 32). Whatever is wrong in
 * the sealed one is corruption for reader and recovery alike; mode 8 runs
 * oplog_repair with force, which must leave a log that verifies clean. */
static void run_two_segments(const uint8_t *img, size_t len,
                             const oplog_seg_header *h, const oplog_scan *s,
                             int gap, int repair)
{
    if (s->records == 0 || s->last_seq > UINT64_MAX - 3)
        return;
    uint64_t first2 = s->last_seq + 1 + (gap ? 1 : 0);
    const char *dir = scratch_dir();
    clear_dir(dir);
    char p1[PATH_MAX], p2[PATH_MAX];
    oplog_segment_path(dir, h->first_seq, p1);
    oplog_segment_path(dir, first2, p2);
    static uint8_t seg2[OPLOG_MIN_SEGMENT_SIZE];
    memset(seg2, 0, sizeof seg2);
    oplog_seg_header h2 = {.node_id = h->node_id, .first_seq = first2,
                           .segment_size = sizeof seg2};
    oplog_seg_header_encode(seg2, &h2);
    oplog_record_encode(seg2 + OPLOG_SEG_HEADER_SIZE, first2, 0, 1,
                        OPLOG_FLAG_BATCH_END, "x", 1);
    if (write_file(p1, img, len) || write_file(p2, seg2, sizeof seg2))
        return;

    oplog_reader *r;
    REQUIRE(oplog_reader_open(dir, 1, &r) == 0);
    oplog_record rec;
    uint64_t n = 0;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        REQUIRE(rec.seq == h->first_seq + n);
        n++;
    }
    oplog_reader_close(r);
    int sound = (s->stop == OPLOG_STOP_END || s->stop == OPLOG_STOP_STRAY) &&
                !gap;
    if (sound)
        REQUIRE(rc == 0 && n == s->records + 1);
    else
        REQUIRE(rc == WB_ECORRUPT && n == s->records);

    if (repair) {
        REQUIRE(oplog_repair(dir, 1, NULL, NULL) == 0);
    } else {
        oplog_tail tail;
        rc = oplog_recover(wb_io_default(), dir, 0, 0, &tail, NULL, NULL, 0);
        REQUIRE(sound ? rc == 0 && tail.next_seq == first2 + 1
                      : rc == WB_ECORRUPT);
    }
    if (repair || sound)
        REQUIRE(oplog_verify(dir, NULL, NULL) == 0);
    clear_dir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    oplog_seg_header h;
    (void)oplog_seg_header_decode(data, size, &h);
    for (size_t off = 0; off < size && off < 512; off += 8) {
        oplog_record rec;
        size_t sz;
        if (oplog_record_decode(data + off, size - off, &rec, &sz, NULL) == 1)
            REQUIRE(sz <= size - off && rec.len <= OPLOG_MAX_PAYLOAD);
    }

    size_t len = size > MAX_IMAGE ? MAX_IMAGE : size;
    len = (len + 7u) & ~(size_t)7u;
    if (len < OPLOG_MIN_SEGMENT_SIZE)
        len = OPLOG_MIN_SEGMENT_SIZE;
    uint8_t *img = calloc(1, len);
    if (!img)
        return 0;
    memcpy(img, data, size < len ? size : len);
    if (mode & 1)
        fix_header(img, len);
    if (mode & 2)
        fix_records(img, len);
    oplog_scan s;
    if (oplog_check_image(img, len, 0, 0, &h, &s) == 0) {
        check_scan(img, len, &s);
        if (mode & 16)
            run_two_segments(img, len, &h, &s, (mode & 32) != 0,
                             (mode & 8) != 0);
        else if (mode & 4)
            run_files(img, len, &h, &s, (mode & 8) != 0);
    }
    free(img);
    return 0;
}
