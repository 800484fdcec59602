/*
 * test_oplog_reader.c: the oplog reader over logs built by hand: across
 * segments, from every seq, empty and growing logs, records held back while
 * their batch or their bytes are incomplete, errors with their place
 * (corruption in a sealed segment, seq gaps), retention, and a concurrent
 * tail-follow against a thread that appends byte by byte in pieces.
 *
 * Also a log generator for tests/test_wbctl.sh:
 *   test_oplog_reader --make-log DIR N   writes records 1..N into DIR
 *   (created if missing) with 4 KiB segments, batches of 3, node id 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <time.h>

#include "oplog_testlog.h"
#include "wbtest.h"

#define SEG 4096u

static void test_across_segments_from_every_seq(void)
{
    const char *dir = wb_test_tmpdir("rd-all");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 300, 4, 0));
    CHECK(L.nsegs >= 5);
    for (uint64_t from = 0; from <= 302; from++) {
        oplog_reader *r;
        CHECK_OK(oplog_reader_open(dir, from, &r));
        uint64_t want = from ? from : 1;
        oplog_record rec;
        int rc;
        while ((rc = oplog_reader_next(r, &rec)) == 1) {
            CHECK_MSG(tl_matches(&rec, want), "from %" PRIu64 ": got seq %"
                      PRIu64 " want %" PRIu64, from, rec.seq, want);
            CHECK_EQ_INT(rec.flags, L.recs[want].flags);
            uint64_t off;
            const char *where = oplog_reader_where(r, &off);
            char path[PATH_MAX];
            tl_seg_path(&L, L.recs[want].seg_first, path);
            CHECK_STR(where, path);
            CHECK_EQ_U64(off, L.recs[want].off);
            want++;
        }
        CHECK_RC(rc, 0);
        CHECK_MSG(want == 301 || (from > 300 && want == from),
                  "from %" PRIu64 ": stopped at %" PRIu64, from, want);
        /* At the end it stays at the end. */
        CHECK_RC(oplog_reader_next(r, &rec), 0);
        oplog_reader_close(r);
    }
    wb_test_rmtree(dir);
}

static void test_empty_then_growing(void)
{
    const char *dir = wb_test_tmpdir("rd-grow");
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 5, 1, 0));
    for (uint64_t s = 1; s <= 5; s++) {
        CHECK_RC(oplog_reader_next(r, &rec), 1);
        CHECK(tl_matches(&rec, s));
    }
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

/* Appends record seq at *off of the segment at path; split: write it in two
 * pieces and stop after the first if half_only. */
static void append_rec(const char *path, uint64_t *off, uint64_t seq,
                       uint16_t flags, int half_only)
{
    uint8_t payload[128], buf[256];
    uint32_t len = tl_payload(seq, payload, sizeof payload);
    size_t size = oplog_record_encode(buf, seq, TL_TIME0 + (int64_t)seq,
                                      tl_type(seq), flags, payload, len);
    size_t half = size / 2;
    if (tl_pwrite(path, buf, half, *off) != 0)
        abort();
    if (!half_only) {
        if (tl_pwrite(path, buf + half, size - half, *off + half) != 0)
            abort();
        *off += size;
    }
}

static void test_holds_back_incomplete_tail(void)
{
    const char *dir = wb_test_tmpdir("rd-hold");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 3, 1, 0));
    char seg[PATH_MAX];
    tl_seg_path(&L, 1, seg);
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    for (int i = 0; i < 3; i++)
        CHECK_RC(oplog_reader_next(r, &rec), 1);
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    uint64_t off = L.tail_off;
    /* Half a record: not an error, not a record. */
    append_rec(seg, &off, 4, 0, 1);
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    /* Whole, but its batch is unfinished: held back. */
    append_rec(seg, &off, 4, 0, 0);
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    append_rec(seg, &off, 5, 0, 0);
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    /* The batch end arrives: all three come out, in order. */
    append_rec(seg, &off, 6, OPLOG_FLAG_BATCH_END, 0);
    for (uint64_t s = 4; s <= 6; s++) {
        CHECK_RC(oplog_reader_next(r, &rec), 1);
        CHECK(tl_matches(&rec, s));
    }
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    /* A roll: the reader follows into the new segment. */
    int fd;
    char next[PATH_MAX];
    CHECK_OK(oplog_segment_prepare(wb_io_default(), dir, SEG, &fd));
    CHECK_OK(oplog_segment_activate(wb_io_default(), dir, fd, 1, 7, SEG, next));
    close(fd);
    off = OPLOG_SEG_HEADER_SIZE;
    append_rec(next, &off, 7, OPLOG_FLAG_BATCH_END, 0);
    CHECK_RC(oplog_reader_next(r, &rec), 1);
    CHECK(tl_matches(&rec, 7));
    CHECK_RC(oplog_reader_next(r, &rec), 0);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

static void test_corruption_in_sealed_segment(void)
{
    const char *dir = wb_test_tmpdir("rd-sealed");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 100, 1, 0));
    CHECK(L.nsegs >= 3);
    /* The last record of the first segment, which is sealed. */
    uint64_t victim = L.segs[1] - 1;
    char seg[PATH_MAX];
    tl_seg_path(&L, L.segs[0], seg);
    uint8_t b = 0x5A;
    CHECK(tl_pwrite(seg, &b, 1, L.recs[victim].off + 20) == 0);
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    uint64_t n = 0;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        CHECK(tl_matches(&rec, n + 1));
        n++;
    }
    CHECK_RC(rc, WB_ECORRUPT);
    CHECK_EQ_U64(n, victim - 1);
    uint64_t off;
    CHECK_STR(oplog_reader_where(r, &off), seg);
    CHECK_EQ_U64(off, L.recs[victim].off);
    CHECK(oplog_reader_reason(r) != NULL);
    /* Sticky. */
    CHECK_RC(oplog_reader_next(r, &rec), WB_ECORRUPT);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

static void test_gap_between_segments(void)
{
    const char *dir = wb_test_tmpdir("rd-gap");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 150, 1, 0));
    CHECK(L.nsegs >= 4);
    char seg[PATH_MAX];
    tl_seg_path(&L, L.segs[1], seg);
    CHECK(unlink(seg) == 0);
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    uint64_t n = 0;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1)
        n++;
    CHECK_RC(rc, WB_ECORRUPT);
    CHECK_EQ_U64(n, L.segs[1] - 1);
    tl_seg_path(&L, L.segs[0], seg);
    uint64_t off;
    CHECK_STR(oplog_reader_where(r, &off), seg);
    CHECK_STR(oplog_reader_reason(r),
              "sequence gap: next segment does not follow this one");
    oplog_reader_close(r);
    /* Starting after the gap works: seq 1 was retained away. */
    CHECK_OK(oplog_reader_open(dir, L.segs[2], &r));
    CHECK_RC(oplog_reader_next(r, &rec), 1);
    CHECK(tl_matches(&rec, L.segs[2]));
    oplog_reader_close(r);
    /* Before the oldest segment: starts at the oldest record. */
    tl_seg_path(&L, L.segs[0], seg);
    CHECK(unlink(seg) == 0);
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    CHECK_RC(oplog_reader_next(r, &rec), 1);
    CHECK(tl_matches(&rec, L.segs[2]));
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

/* Retention deletes the segment being read and the next one: the reader
 * says it fell behind (WB_ESTALE), not corruption. Deleting only the
 * segment being read is harmless: its mapping stays valid. */
static void test_retention_under_reader(void)
{
    const char *dir = wb_test_tmpdir("rd-retain");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 300, 1, 0));
    CHECK(L.nsegs >= 6);
    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    CHECK_RC(oplog_reader_next(r, &rec), 1);
    CHECK_RC(oplog_segment_retain(wb_io_default(), dir, L.segs[1],
                                  L.segs[L.nsegs - 1], NULL),
             1);
    uint64_t n = 1;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1 && rec.seq < L.segs[2]) {
        CHECK(tl_matches(&rec, n + 1));
        n++;
    }
    CHECK_RC(rc, 1); /* crossed into segment 2 */
    CHECK(tl_matches(&rec, L.segs[2]));
    n++;
    CHECK_RC(oplog_segment_retain(wb_io_default(), dir, L.segs[4],
                                  L.segs[L.nsegs - 1], NULL),
             3);
    while ((rc = oplog_reader_next(r, &rec)) == 1)
        n++;
    CHECK_RC(rc, WB_ESTALE);
    CHECK_EQ_U64(n, L.segs[3] - 1);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

static void test_bad_header(void)
{
    const char *dir = wb_test_tmpdir("rd-hdr");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, 1, SEG, 3, 1, 0));
    char seg[PATH_MAX];
    tl_seg_path(&L, 1, seg);
    uint8_t v = 9;
    CHECK(tl_pwrite(seg, &v, 1, OPLOG_SH_VERSION) == 0);
    oplog_reader *r;
    CHECK_RC(oplog_reader_open(dir, 1, &r), WB_EBADVERSION);
    wb_test_rmtree(dir);
}

/* ---- concurrent tail-follow ------------------------------------------ */

#define LIVE_RECORDS 3000

typedef struct live {
    const char *dir;
    atomic_int done;
} live;

/* Appends batches of 1..5 records, each record in two pwrites with a yield
 * between, rolling to a new segment (prepare + activate) when a batch does
 * not fit: what a reader can observe of the real writer, and worse. */
static void *live_writer(void *arg)
{
    live *lv = arg;
    uint64_t seq = 1, off = 0;
    char seg[PATH_MAX];
    unsigned rnd = 12345;
    while (seq <= LIVE_RECORDS) {
        rnd = rnd * 1103515245u + 12345u;
        uint64_t n = 1 + (rnd >> 16) % 5;
        if (seq + n - 1 > LIVE_RECORDS)
            n = LIVE_RECORDS - seq + 1;
        uint64_t need = 0;
        uint8_t p[128];
        for (uint64_t i = 0; i < n; i++)
            need += oplog_record_size(tl_payload(seq + i, p, sizeof p));
        if (off == 0 || off + need > SEG) {
            int fd;
            if (oplog_segment_prepare(wb_io_default(), lv->dir, SEG, &fd) ||
                oplog_segment_activate(wb_io_default(), lv->dir, fd, 1, seq,
                                       SEG, seg))
                abort();
            close(fd);
            off = OPLOG_SEG_HEADER_SIZE;
        }
        for (uint64_t i = 0; i < n; i++) {
            append_rec(seg, &off, seq, i + 1 == n ? OPLOG_FLAG_BATCH_END : 0,
                       0);
            seq++;
            if (seq % 3 == 0)
                sched_yield();
        }
    }
    lv->done = 1;
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_follow_live_writer(void)
{
    const char *dir = wb_test_tmpdir("rd-live");
    live lv = {.dir = dir, .done = 0};
    oplog_reader *r;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, live_writer, &lv) == 0);
    uint64_t want = 1;
    int rc = 0, bad = 0;
    double deadline = now_s() + 60;
    while (want <= LIVE_RECORDS && now_s() < deadline) {
        oplog_record rec;
        rc = oplog_reader_next(r, &rec);
        if (rc < 0)
            break;
        if (rc == 1) {
            if (!tl_matches(&rec, want))
                bad = 1;
            want++;
        } else if (lv.done && want <= LIVE_RECORDS) {
            /* Writer finished: one more look must see everything. */
            continue;
        }
    }
    pthread_join(t, NULL);
    uint64_t off;
    const char *where = oplog_reader_where(r, &off);
    CHECK_MSG(rc >= 0, "reader failed at %s:%" PRIu64 ": %s (%s)", where, off,
              wb_errname(rc), oplog_reader_reason(r));
    CHECK_MSG(!bad, "a record differed from what was written");
    CHECK_EQ_U64(want, LIVE_RECORDS + 1);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

/* ---- against the real writer ------------------------------------------ */

/* Seq, type and payload as tl_payload/tl_type make them (the writer stamps
 * its own time). */
static int tl_matches_payload(const oplog_record *rec, uint64_t seq)
{
    uint8_t want[128];
    uint32_t len = tl_payload(seq, want, sizeof want);
    return rec->seq == seq && rec->type == tl_type(seq) && rec->len == len &&
           (len == 0 || memcmp(rec->payload, want, len) == 0);
}

static void count_problems(void *arg, const char *segment, uint64_t offset,
                           int code, const char *reason)
{
    fprintf(stderr, "  problem %s:%" PRIu64 ": %s\n", segment, offset, reason);
    (*(int *)arg)++;
}

/* Batches of 1..7 records and one batch larger than a whole segment (the
 * writer splits it across segments): reader, verify and recovery all accept
 * what the writer wrote and agree on it. */
static void test_reads_what_the_writer_wrote(void)
{
    const char *dir = wb_test_tmpdir("rd-writer");
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 5;
    o.segment_size = SEG;
    o.sync = OPLOG_SYNC_NONE;
    oplog *log;
    CHECK_OK(oplog_open(&o, &log, NULL, NULL, 0));
    static oplog_entry e[200];
    static uint8_t payloads[200][128];
    uint64_t seq = 1, total = 0;
    for (int b = 0; b < 60; b++) {
        size_t n = b == 30 ? 120 : (size_t)(b % 7) + 1; /* 120: > 1 segment */
        for (size_t i = 0; i < n; i++) {
            e[i].type = tl_type(seq + i);
            e[i].len = tl_payload(seq + i, payloads[i], sizeof payloads[i]);
            e[i].payload = payloads[i];
        }
        uint64_t first = 0;
        CHECK_OK(oplog_append_batch(log, e, n, NULL, NULL, &first));
        CHECK_EQ_U64(first, seq);
        seq += n;
        total += n;
    }
    CHECK_OK(oplog_close(log));

    oplog_reader *r;
    oplog_record rec;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    uint64_t got = 0;
    int rc;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        CHECK_EQ_U64(rec.seq, got + 1);
        uint8_t want[128];
        uint32_t len = tl_payload(rec.seq, want, sizeof want);
        CHECK_EQ_U64(rec.len, len);
        CHECK_EQ_INT(rec.type, tl_type(rec.seq));
        CHECK_MEM(rec.payload, want, len);
        got++;
    }
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(got, total);
    oplog_reader_close(r);

    int problems = 0;
    CHECK_RC(oplog_verify(dir, count_problems, &problems), 0);
    oplog_tail t;
    oplog_recovery info;
    CHECK_OK(oplog_recover(wb_io_default(), dir, 5, 0, &t, &info, NULL, 0));
    CHECK_EQ_U64(t.next_seq, total + 1);
    CHECK_EQ_U64(info.torn_bytes, 0);
    CHECK_EQ_U64(info.dropped_records, 0);
    CHECK(info.segments >= 4);
    wb_test_rmtree(dir);
}

typedef struct real_live {
    oplog *log;
    atomic_int done;
    int rc;
} real_live;

static void *real_writer(void *arg)
{
    real_live *lv = arg;
    static oplog_entry e[8];
    static uint8_t payloads[8][128];
    uint64_t seq = 1;
    while (seq <= LIVE_RECORDS) {
        size_t n = (size_t)(seq % 5) + 1;
        if (seq + n - 1 > LIVE_RECORDS)
            n = LIVE_RECORDS - seq + 1;
        for (size_t i = 0; i < n; i++) {
            e[i].type = tl_type(seq + i);
            e[i].len = tl_payload(seq + i, payloads[i], sizeof payloads[i]);
            e[i].payload = payloads[i];
        }
        int rc = oplog_append_batch(lv->log, e, n, NULL, NULL, NULL);
        if (rc) {
            lv->rc = rc;
            break;
        }
        seq += n;
    }
    lv->done = 1;
    return NULL;
}

/* A reader tails the directory while the real writer appends and rolls. */
static void test_follow_real_writer(void)
{
    const char *dir = wb_test_tmpdir("rd-reallive");
    oplog_options o;
    oplog_options_init(&o);
    o.dir = dir;
    o.node_id = 6;
    o.segment_size = SEG;
    o.sync = OPLOG_SYNC_NONE;
    real_live lv = {0};
    CHECK_OK(oplog_open(&o, &lv.log, NULL, NULL, 0));
    oplog_reader *r;
    CHECK_OK(oplog_reader_open(dir, 1, &r));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, real_writer, &lv) == 0);
    uint64_t want = 1;
    int rc = 0, bad = 0;
    double deadline = now_s() + 60;
    while (want <= LIVE_RECORDS && now_s() < deadline) {
        oplog_record rec;
        rc = oplog_reader_next(r, &rec);
        if (rc < 0)
            break;
        if (rc == 1) {
            if (!tl_matches_payload(&rec, want))
                bad = 1;
            want++;
        } else if (lv.done) {
            sched_yield();
        }
    }
    pthread_join(t, NULL);
    CHECK_OK(oplog_close(lv.log));
    uint64_t off;
    const char *where = oplog_reader_where(r, &off);
    CHECK_MSG(rc >= 0, "reader failed at %s:%" PRIu64 ": %s (%s)", where, off,
              wb_errname(rc), oplog_reader_reason(r));
    CHECK_OK(lv.rc);
    CHECK_MSG(!bad, "a record differed from what was appended");
    CHECK_EQ_U64(want, LIVE_RECORDS + 1);
    oplog_reader_close(r);
    wb_test_rmtree(dir);
}

static int make_log(const char *dir, const char *count)
{
    static tl_log L;
    mkdir(dir, 0755);
    int rc = tl_build(&L, dir, 1, SEG, strtoull(count, NULL, 10), 3, 0);
    if (rc)
        fprintf(stderr, "make-log: %s\n", wb_strerror(rc));
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--make-log") == 0)
        return make_log(argv[2], argv[3]);
    WB_RUN(test_across_segments_from_every_seq);
    WB_RUN(test_empty_then_growing);
    WB_RUN(test_holds_back_incomplete_tail);
    WB_RUN(test_corruption_in_sealed_segment);
    WB_RUN(test_gap_between_segments);
    WB_RUN(test_bad_header);
    WB_RUN(test_retention_under_reader);
    WB_RUN(test_follow_live_writer);
    WB_RUN(test_reads_what_the_writer_wrote);
    WB_RUN(test_follow_real_writer);
    return wb_test_summary();
}
