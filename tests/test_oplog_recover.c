/*
 * test_oplog_recover.c: open-time recovery (oplog_recover) on logs built by
 * hand (tests/oplog_testlog.h): empty directory, leftover spare, clean
 * multi-segment logs, an empty newest segment, a torn tail at every byte of
 * the last record, a flipped bit at every byte of a small log (recovery,
 * verify and the reader all catch it), unfinished batches, mid-log
 * corruption with and without repair, seq gaps, foreign node ids.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/file.h>

#include "oplog_testlog.h"
#include "wbtest.h"

#define SEG 4096u
#define NODE 77u

static int recover(const char *dir, int repair, oplog_tail *t,
                   oplog_recovery *rec, char *err, size_t errlen)
{
    return oplog_recover(wb_io_default(), dir, NODE, repair, t, rec, err,
                         errlen);
}

/* 1 if bytes [from, to) of path are all zero. */
static int zero_between(const char *path, uint64_t from, uint64_t to)
{
    uint8_t buf[SEG];
    if (to > SEG || tl_pread(path, buf, SEG, 0) != 0)
        return 0;
    for (uint64_t i = from; i < to; i++)
        if (buf[i])
            return 0;
    return 1;
}

static void test_prepare_and_activate(void)
{
    const char *dir = wb_test_tmpdir("seg-prep");
    const wb_io *io = wb_io_default();
    int fd = -1;
    CHECK_RC(oplog_segment_prepare(io, dir, 100, &fd), WB_EINVAL);
    CHECK_RC(oplog_segment_prepare(io, dir, SEG + 4, &fd), WB_EINVAL);
    CHECK_OK(oplog_segment_prepare(io, dir, 3 * SEG, &fd));
    char spare[PATH_MAX], path[PATH_MAX];
    snprintf(spare, sizeof spare, "%s/%s", dir, OPLOG_SPARE_NAME);
    struct stat st;
    CHECK(stat(spare, &st) == 0);
    CHECK_EQ_U64(st.st_size, 3 * SEG);
    /* Real blocks, not a sparse file. */
    CHECK_MSG((uint64_t)st.st_blocks * 512 >= 3 * SEG, "spare is sparse");
    uint64_t *firsts;
    size_t n;
    CHECK_OK(oplog_segment_list(dir, &firsts, &n));
    CHECK_EQ_U64(n, 0); /* the spare is not part of the log */
    free(firsts);
    CHECK_RC(oplog_segment_activate(io, dir, fd, NODE, 0, 3 * SEG, path),
             WB_EINVAL);
    CHECK_OK(oplog_segment_activate(io, dir, fd, NODE, 4711, 3 * SEG, path));
    close(fd);
    CHECK(access(spare, F_OK) != 0);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/00000000000000004711.wbseg", dir);
    CHECK_STR(path, want);
    oplog_seg_header h;
    CHECK_OK(oplog_seg_header_read(path, NODE, 4711, &h));
    CHECK_EQ_U64(h.node_id, NODE);
    CHECK_EQ_U64(h.first_seq, 4711);
    CHECK_EQ_U64(h.segment_size, 3 * SEG);
    CHECK(h.created_us > TL_TIME0);
    CHECK(zero_between(path, OPLOG_SEG_HEADER_SIZE, SEG));
    CHECK_OK(oplog_segment_list(dir, &firsts, &n));
    CHECK_EQ_U64(n, 1);
    CHECK_EQ_U64(firsts[0], 4711);
    free(firsts);
    /* Names that are not segments are ignored. */
    uint64_t v;
    CHECK(!oplog_segment_parse_name("0000000000000000471.wbseg", &v));
    CHECK(!oplog_segment_parse_name("00000000000000004711.wbseg.tmp", &v));
    CHECK(!oplog_segment_parse_name("00000000000000000000.wbseg", &v));
    CHECK(!oplog_segment_parse_name("99999999999999999999.wbseg", &v));
    CHECK(oplog_segment_parse_name("18446744073709551615.wbseg", &v));
    CHECK_EQ_U64(v, UINT64_MAX);
    wb_test_rmtree(dir);
}

static void test_empty_dir(void)
{
    const char *dir = wb_test_tmpdir("rec-empty");
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_INT(t.has_segment, 0);
    CHECK_EQ_U64(t.next_seq, 1);
    CHECK_EQ_U64(rec.segments, 0);
    CHECK_EQ_U64(rec.first_seq, 0);
    CHECK_EQ_U64(rec.last_seq, 0);
    wb_test_rmtree(dir);
}

static void test_missing_dir(void)
{
    oplog_tail t;
    char err[512];
    CHECK_RC(recover("/nonexistent/oplog-dir", 0, &t, NULL, err, sizeof err),
             -ENOENT);
    CHECK(strstr(err, "/nonexistent/oplog-dir") != NULL);
}

static void test_leftover_spare_deleted(void)
{
    const char *dir = wb_test_tmpdir("rec-spare");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 3, 1, 0));
    int fd;
    CHECK_OK(oplog_segment_prepare(wb_io_default(), dir, SEG, &fd));
    close(fd);
    char spare[PATH_MAX];
    snprintf(spare, sizeof spare, "%s/%s", dir, OPLOG_SPARE_NAME);
    CHECK(access(spare, F_OK) == 0);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK(access(spare, F_OK) != 0);
    CHECK_EQ_U64(t.next_seq, 4);
    CHECK_EQ_U64(rec.segments, 1);
    wb_test_rmtree(dir);
}

static void test_clean_multi_segment(void)
{
    const char *dir = wb_test_tmpdir("rec-clean");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 200, 3, 0));
    CHECK_MSG(L.nsegs >= 4, "want several segments, got %zu", L.nsegs);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_INT(t.has_segment, 1);
    CHECK_EQ_U64(t.next_seq, 201);
    CHECK_EQ_U64(t.segment_first, L.segs[L.nsegs - 1]);
    CHECK_EQ_U64(t.segment_size, SEG);
    CHECK_EQ_U64(t.write_off, L.tail_off);
    CHECK_EQ_U64(t.oldest_seq, 1);
    char path[PATH_MAX];
    tl_seg_path(&L, L.segs[L.nsegs - 1], path);
    CHECK_STR(t.path, path);
    CHECK_EQ_U64(rec.segments, L.nsegs);
    CHECK_EQ_U64(rec.first_seq, 1);
    CHECK_EQ_U64(rec.last_seq, 200);
    CHECK_EQ_U64(rec.torn_bytes, 0);
    CHECK_EQ_U64(rec.dropped_records, 0);
    CHECK_EQ_INT(rec.repaired, 0);
    /* node id 0 accepts any node; another id is refused. */
    CHECK_OK(oplog_recover(wb_io_default(), dir, 0, 0, &t, NULL, NULL, 0));
    char err[512];
    CHECK_RC(oplog_recover(wb_io_default(), dir, NODE + 1, 0, &t, NULL, err,
                           sizeof err),
             WB_ENODEID);
    CHECK(strstr(err, ".wbseg:0:") != NULL);
    wb_test_rmtree(dir);
}

static void test_empty_newest_segment(void)
{
    const char *dir = wb_test_tmpdir("rec-emptynew");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 10, 1, 0));
    int fd;
    char path[PATH_MAX];
    CHECK_OK(oplog_segment_prepare(wb_io_default(), dir, SEG, &fd));
    CHECK_OK(oplog_segment_activate(wb_io_default(), dir, fd, NODE, 11, SEG,
                                    path));
    close(fd);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_U64(t.segment_first, 11);
    CHECK_EQ_U64(t.write_off, OPLOG_SEG_HEADER_SIZE);
    CHECK_EQ_U64(t.next_seq, 11);
    CHECK_EQ_U64(rec.last_seq, 10);
    CHECK_STR(t.path, path);
    /* Activating over an existing segment is refused. */
    CHECK_OK(oplog_segment_prepare(wb_io_default(), dir, SEG, &fd));
    CHECK_RC(oplog_segment_activate(wb_io_default(), dir, fd, NODE, 11, SEG,
                                    path),
             WB_EEXIST);
    close(fd);
    wb_test_rmtree(dir);
}

/* Zeroes (fill 0) or scribbles (fill 0xFF, then zeros) the last record from
 * byte k on, for every k: recovery keeps exactly the records before it. */
static void torn_every_byte(uint8_t fill)
{
    const char *base = wb_test_tmpdir("rec-torn");
    static tl_log L;
    char src[400], dir[400];
    snprintf(src, sizeof src, "%s/src", base);
    mkdir(src, 0755);
    CHECK_OK(tl_build(&L, src, NODE, SEG, 6, 1, 0));
    const tl_rec *last = &L.recs[6];
    char srcseg[PATH_MAX], seg[PATH_MAX];
    tl_seg_path(&L, last->seg_first, srcseg);
    for (size_t k = 0; k < last->size; k++) {
        snprintf(dir, sizeof dir, "%s/t%zu", base, k);
        mkdir(dir, 0755);
        oplog_segment_path(dir, last->seg_first, seg);
        CHECK(tl_copy(srcseg, seg) == 0);
        uint8_t junk[256];
        memset(junk, fill, sizeof junk);
        CHECK(tl_pwrite(seg, junk, last->size - k, last->off + k) == 0);
        oplog_tail t;
        oplog_recovery rec;
        char err[512] = "";
        int rc = recover(dir, 0, &t, &rec, err, sizeof err);
        CHECK_MSG(rc == 0, "k=%zu: %s (%s)", k, wb_errname(rc), err);
        CHECK_MSG(t.next_seq == 6, "k=%zu: next_seq %" PRIu64, k, t.next_seq);
        CHECK_EQ_U64(t.write_off, last->off);
        CHECK_EQ_U64(rec.last_seq, 5);
        int whole = (k == 0 && fill == 0);
        CHECK_MSG(whole ? rec.torn_bytes == 0 : rec.torn_bytes > 0,
                  "k=%zu torn_bytes %" PRIu64, k, rec.torn_bytes);
        CHECK_MSG(zero_between(seg, last->off, SEG), "k=%zu: tail not zeroed",
                  k);
        /* A second recovery finds a clean log. */
        CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
        CHECK_EQ_U64(rec.torn_bytes, 0);
        CHECK_EQ_U64(t.next_seq, 6);
        wb_test_rmtree(dir);
    }
    wb_test_rmtree(base);
}

static void test_torn_tail_zeroed_every_byte(void) { torn_every_byte(0); }
static void test_torn_tail_garbage_every_byte(void) { torn_every_byte(0xFF); }

static void count_problem(void *arg, const char *segment, uint64_t offset,
                          int code, const char *reason)
{
    (*(int *)arg)++;
}

/* Reads the whole log in dir; returns the reader's final status (0 at the
 * end, or an error) and the count of records read; fails the test (returns
 * -99999) if any record differs from what tl_build wrote. */
static int read_all(const char *dir, uint64_t *count)
{
    oplog_reader *r;
    int rc = oplog_reader_open(dir, 1, &r);
    *count = 0;
    if (rc)
        return rc;
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        if (!tl_matches(&rec, *count + 1)) {
            rc = -99999;
            break;
        }
        (*count)++;
    }
    oplog_reader_close(r);
    return rc;
}

/* Flips one bit of byte b (bit b % 8) in a 5-record log, for every byte up
 * to the end of the data: the reader never returns altered content, verify
 * reports a problem, and recovery cuts the last record as a torn tail or
 * refuses an earlier one as corruption naming its offset. */
static void test_bit_flip_every_byte(void)
{
    const char *base = wb_test_tmpdir("rec-flip");
    static tl_log L;
    char src[400], dir[400], srcseg[PATH_MAX], seg[PATH_MAX];
    snprintf(src, sizeof src, "%s/src", base);
    mkdir(src, 0755);
    CHECK_OK(tl_build(&L, src, NODE, SEG, 5, 1, 0));
    tl_seg_path(&L, 1, srcseg);
    for (uint64_t b = 0; b < L.tail_off; b++) {
        uint8_t byte;
        snprintf(dir, sizeof dir, "%s/f%" PRIu64, base, b);
        mkdir(dir, 0755);
        oplog_segment_path(dir, 1, seg);
        CHECK(tl_copy(srcseg, seg) == 0);
        CHECK(tl_pread(seg, &byte, 1, b) == 0);
        byte ^= (uint8_t)(1u << (b % 8));
        CHECK(tl_pwrite(seg, &byte, 1, b) == 0);
        uint64_t hit = 0; /* seq of the record holding byte b (0: header) */
        for (uint64_t s = 1; s <= 5; s++)
            if (b >= L.recs[s].off && b < L.recs[s].off + L.recs[s].size)
                hit = s;

        uint64_t nread;
        int rrc = read_all(dir, &nread);
        CHECK_MSG(rrc != -99999, "b=%" PRIu64 ": reader returned altered data",
                  b);
        if (hit == 5) /* the tail: a writer may be writing it right now */
            CHECK_MSG(rrc == 0 && nread == 4, "b=%" PRIu64 ": rc %d n %" PRIu64,
                      b, rrc, nread);
        else
            CHECK_MSG(rrc < 0 && nread == (hit ? hit - 1 : 0),
                      "b=%" PRIu64 ": reader rc %d after %" PRIu64, b, rrc,
                      nread);

        int problems = 0;
        int vrc = oplog_verify(dir, count_problem, &problems);
        CHECK_MSG(vrc >= 1 && problems >= 1, "b=%" PRIu64 ": verify %d/%d", b,
                  vrc, problems);

        oplog_tail t;
        oplog_recovery rec;
        char err[PATH_MAX + 256] = "";
        int rc = recover(dir, 0, &t, &rec, err, sizeof err);
        if (hit == 0) {
            CHECK_MSG(rc == WB_EBADMAGIC || rc == WB_EBADVERSION ||
                          rc == WB_ECORRUPT,
                      "b=%" PRIu64 ": header flip gave %s", b, wb_errname(rc));
        } else if (hit == 5) {
            CHECK_MSG(rc == 0 && t.next_seq == 5 && rec.torn_bytes > 0,
                      "b=%" PRIu64 ": %s next %" PRIu64, b, wb_errname(rc),
                      t.next_seq);
        } else {
            char want[64];
            snprintf(want, sizeof want, ".wbseg:%" PRIu64 ":", L.recs[hit].off);
            CHECK_MSG(rc == WB_ECORRUPT && strstr(err, want),
                      "b=%" PRIu64 ": %s, err \"%s\", want \"%s\"", b,
                      wb_errname(rc), err, want);
        }
        wb_test_rmtree(dir);
    }
    wb_test_rmtree(base);
}

static void test_unfinished_batch_dropped(void)
{
    const char *dir = wb_test_tmpdir("rec-batch");
    static tl_log L;
    /* Batches of 4: 1-4, 5-8, then 9-10 without BATCH_END. */
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 10, 4, 2));
    CHECK_EQ_INT(L.recs[8].flags, OPLOG_FLAG_BATCH_END);
    CHECK_EQ_INT(L.recs[10].flags, 0);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_U64(rec.dropped_records, 2);
    CHECK_EQ_U64(t.next_seq, 9);
    CHECK_EQ_U64(t.write_off, L.recs[9].off);
    CHECK(strstr(rec.detail, "unfinished batch") != NULL);
    char seg[PATH_MAX];
    tl_seg_path(&L, 1, seg);
    CHECK(zero_between(seg, L.recs[9].off, SEG));
    wb_test_rmtree(dir);
}

static void test_midlog_corruption_and_repair(void)
{
    const char *dir = wb_test_tmpdir("rec-mid");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 8, 1, 0));
    char seg[PATH_MAX], err[PATH_MAX + 256];
    tl_seg_path(&L, 1, seg);
    uint8_t junk[4] = {1, 2, 3, 4};
    CHECK(tl_pwrite(seg, junk, sizeof junk, L.recs[4].off + 24) == 0);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_RC(recover(dir, 0, &t, &rec, err, sizeof err), WB_ECORRUPT);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:%" PRIu64 ":", seg, L.recs[4].off);
    CHECK_MSG(strncmp(err, want, strlen(want)) == 0, "err \"%s\" want \"%s\"",
              err, want);
    /* Not modified by the refused open. */
    uint8_t back[4];
    CHECK(tl_pread(seg, back, 4, L.recs[4].off + 24) == 0);
    CHECK_MEM(back, junk, 4);
    CHECK_OK(recover(dir, 1, &t, &rec, err, sizeof err));
    CHECK_EQ_INT(rec.repaired, 1);
    CHECK_EQ_U64(t.next_seq, 4);
    CHECK_EQ_U64(t.write_off, L.recs[4].off);
    CHECK(strstr(rec.detail, "repair") != NULL);
    CHECK(zero_between(seg, L.recs[4].off, SEG));
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_U64(t.next_seq, 4);
    wb_test_rmtree(dir);
}

static void test_seq_gap_between_segments(void)
{
    const char *dir = wb_test_tmpdir("rec-gap");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 150, 1, 0));
    CHECK(L.nsegs >= 4);
    char path[PATH_MAX], err[PATH_MAX + 256];
    /* Delete the second newest: the newest no longer follows its
     * predecessor. */
    tl_seg_path(&L, L.segs[L.nsegs - 2], path);
    CHECK(unlink(path) == 0);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_RC(recover(dir, 0, &t, &rec, err, sizeof err), WB_ECORRUPT);
    CHECK_MSG(strstr(err, "sequence gap") != NULL, "err: %s", err);
    CHECK_OK(recover(dir, 1, &t, &rec, err, sizeof err));
    CHECK_EQ_INT(rec.repaired, 1);
    CHECK_EQ_U64(t.segment_first, L.segs[L.nsegs - 3]);
    CHECK_EQ_U64(t.next_seq, L.segs[L.nsegs - 2]);
    tl_seg_path(&L, L.segs[L.nsegs - 1], path);
    CHECK_MSG(access(path, F_OK) != 0, "segments after the cut remain");
    wb_test_rmtree(dir);
}

static void test_torn_tail_in_older_segment_is_corruption(void)
{
    const char *dir = wb_test_tmpdir("rec-oldtorn");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 60, 1, 0));
    CHECK(L.nsegs >= 2);
    uint64_t prev_first = L.segs[L.nsegs - 2];
    uint64_t lastrec = L.segs[L.nsegs - 1] - 1;
    CHECK_EQ_U64(L.recs[lastrec].seg_first, prev_first);
    char seg[PATH_MAX], err[PATH_MAX + 256];
    tl_seg_path(&L, prev_first, seg);
    uint8_t z[8] = {0};
    CHECK(tl_pwrite(seg, z, 8, L.recs[lastrec].off + L.recs[lastrec].size - 8) ==
          0);
    oplog_tail t;
    CHECK_RC(recover(dir, 0, &t, NULL, err, sizeof err), WB_ECORRUPT);
    char want[64];
    snprintf(want, sizeof want, ":%" PRIu64 ":", L.recs[lastrec].off);
    CHECK_MSG(strstr(err, want) != NULL, "err %s want %s", err, want);
    wb_test_rmtree(dir);
}

static void test_bad_header_of_old_segment(void)
{
    const char *dir = wb_test_tmpdir("rec-oldhdr");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 120, 1, 0));
    CHECK(L.nsegs >= 3);
    char seg[PATH_MAX], err[PATH_MAX + 256];
    tl_seg_path(&L, L.segs[0], seg);
    CHECK(tl_pwrite(seg, "X", 1, 0) == 0);
    oplog_tail t;
    CHECK_RC(recover(dir, 0, &t, NULL, err, sizeof err), WB_EBADMAGIC);
    CHECK_MSG(strstr(err, seg) != NULL, "err %s", err);
    /* A truncated old segment. */
    CHECK(tl_pwrite(seg, "W", 1, 0) == 0);
    CHECK(truncate(seg, SEG - 8) == 0);
    CHECK_RC(recover(dir, 0, &t, NULL, err, sizeof err), WB_ETRUNCATED);
    wb_test_rmtree(dir);
}

static void test_stray_bytes_after_end(void)
{
    const char *dir = wb_test_tmpdir("rec-stray");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 4, 1, 0));
    char seg[PATH_MAX];
    tl_seg_path(&L, 1, seg);
    CHECK(tl_pwrite(seg, "garbage!", 8, 2048) == 0);
    int problems = 0;
    CHECK_RC(oplog_verify(dir, count_problem, &problems), 1);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_U64(t.next_seq, 5);
    CHECK_EQ_U64(t.write_off, L.tail_off);
    CHECK(rec.torn_bytes > 0);
    CHECK(zero_between(seg, L.tail_off, SEG));
    CHECK_RC(oplog_verify(dir, count_problem, &problems), 0);
    wb_test_rmtree(dir);
}

/* In a sealed segment, stray bytes past its last record affect nothing:
 * recovery, the reader and verify all accept the log. */
static void test_stray_bytes_in_sealed_segment(void)
{
    const char *dir = wb_test_tmpdir("rec-stray-sealed");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 60, 1, 0));
    CHECK(L.nsegs == 2);
    uint64_t last0 = L.segs[1] - 1;
    uint64_t end0 = L.recs[last0].off + L.recs[last0].size;
    CHECK_MSG(end0 + 40 <= SEG, "no room after the first segment's records");
    char seg[PATH_MAX];
    tl_seg_path(&L, L.segs[0], seg);
    CHECK(tl_pwrite(seg, "zz", 2, SEG - 3) == 0);
    oplog_tail t;
    CHECK_OK(recover(dir, 0, &t, NULL, NULL, 0));
    CHECK_EQ_U64(t.next_seq, 61);
    int problems = 0;
    CHECK_RC(oplog_verify(dir, count_problem, &problems), 0);
    uint64_t n;
    CHECK_RC(read_all(dir, &n), 0);
    CHECK_EQ_U64(n, 60);
    wb_test_rmtree(dir);
}

static void test_retain(void)
{
    const char *dir = wb_test_tmpdir("rec-retain");
    static tl_log L;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 150, 1, 0));
    CHECK(L.nsegs >= 4);
    uint64_t freed = 0;
    /* Keep from the middle of segment 2: only segment 0 goes. */
    uint64_t keep = L.segs[1] + 1;
    CHECK_RC(oplog_segment_retain(wb_io_default(), dir, keep,
                                  L.segs[L.nsegs - 1], &freed),
             1);
    CHECK_EQ_U64(freed, SEG);
    /* Everything: all but the active one. */
    CHECK_RC(oplog_segment_retain(wb_io_default(), dir, UINT64_MAX,
                                  L.segs[L.nsegs - 1], &freed),
             (int)L.nsegs - 2);
    uint64_t *firsts;
    size_t n;
    CHECK_OK(oplog_segment_list(dir, &firsts, &n));
    CHECK_EQ_U64(n, 1);
    CHECK_EQ_U64(firsts[0], L.segs[L.nsegs - 1]);
    free(firsts);
    oplog_tail t;
    oplog_recovery rec;
    CHECK_OK(recover(dir, 0, &t, &rec, NULL, 0));
    CHECK_EQ_U64(t.oldest_seq, L.segs[L.nsegs - 1]);
    CHECK_EQ_U64(rec.first_seq, L.segs[L.nsegs - 1]);
    CHECK_EQ_U64(t.next_seq, 151);
    wb_test_rmtree(dir);
}

/* ---- verify and repair ------------------------------------------------ */

#define MAXP 16
typedef struct problems {
    int n;
    char seg[MAXP][PATH_MAX];
    uint64_t off[MAXP];
    int code[MAXP];
    char reason[MAXP][300];
} problems;

static void collect(void *arg, const char *segment, uint64_t offset,
                    int code, const char *reason)
{
    problems *p = arg;
    if (p->n < MAXP) {
        snprintf(p->seg[p->n], PATH_MAX, "%s", segment);
        p->off[p->n] = offset;
        p->code[p->n] = code;
        snprintf(p->reason[p->n], 300, "%s", reason);
    }
    p->n++;
}

static void test_verify_reports(void)
{
    const char *dir = wb_test_tmpdir("chk-verify");
    static tl_log L;
    static problems p;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 300, 1, 0));
    CHECK(L.nsegs >= 6);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 0);
    CHECK_EQ_INT(p.n, 0);

    /* Three problems: corruption in segment 1, a gap (segment 3 removed),
     * a torn tail in the newest. Each named with file and offset. */
    char s1[PATH_MAX], s3[PATH_MAX], s4[PATH_MAX], last[PATH_MAX];
    tl_seg_path(&L, L.segs[1], s1);
    tl_seg_path(&L, L.segs[3], s3);
    tl_seg_path(&L, L.segs[4], s4);
    tl_seg_path(&L, L.segs[L.nsegs - 1], last);
    uint64_t victim = L.segs[1] + 2;
    uint8_t b = 0xEE;
    CHECK(tl_pwrite(s1, &b, 1, L.recs[victim].off + 25) == 0);
    CHECK(unlink(s3) == 0);
    uint8_t z[8] = {0};
    CHECK(tl_pwrite(last, z, 8, L.recs[300].off + 8) == 0);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 3);
    CHECK_EQ_INT(p.n, 3);
    CHECK_STR(p.seg[0], s1);
    CHECK_EQ_U64(p.off[0], L.recs[victim].off);
    CHECK_EQ_INT(p.code[0], WB_ECORRUPT);
    CHECK_STR(p.seg[1], s4);
    CHECK_EQ_U64(p.off[1], 0);
    CHECK(strstr(p.reason[1], "sequence gap") != NULL);
    CHECK_STR(p.seg[2], last);
    CHECK_EQ_U64(p.off[2], L.recs[300].off);
    CHECK(strstr(p.reason[2], "torn tail") != NULL);
    wb_test_rmtree(dir);
}

static void test_verify_unfinished_batch_and_node(void)
{
    const char *dir = wb_test_tmpdir("chk-batch");
    static tl_log L;
    static problems p;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 10, 4, 2));
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 1);
    CHECK_EQ_U64(p.off[0], L.recs[9].off);
    CHECK(strstr(p.reason[0], "unfinished batch: 2 records") != NULL);
    /* A segment of another node in the same directory. */
    int fd;
    char path[PATH_MAX];
    CHECK_OK(oplog_segment_prepare(wb_io_default(), dir, SEG, &fd));
    CHECK_OK(oplog_segment_activate(wb_io_default(), dir, fd, NODE + 1, 11,
                                    SEG, path));
    close(fd);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 1);
    CHECK_EQ_INT(p.code[0], WB_ENODEID);
    CHECK_STR(p.seg[0], path);
    wb_test_rmtree(dir);
}

static void test_repair_semantics(void)
{
    const char *dir = wb_test_tmpdir("chk-repair");
    static tl_log L;
    static problems p;
    CHECK_OK(tl_build(&L, dir, NODE, SEG, 150, 1, 0));
    CHECK(L.nsegs >= 4);
    /* Clean: nothing to do, nothing reported. */
    memset(&p, 0, sizeof p);
    CHECK_OK(oplog_repair(dir, 0, collect, &p));
    CHECK_EQ_INT(p.n, 0);
    /* Torn tail: repaired without force. */
    char last[PATH_MAX], s1[PATH_MAX];
    tl_seg_path(&L, L.segs[L.nsegs - 1], last);
    uint8_t z[8] = {0};
    CHECK(tl_pwrite(last, z, 8, L.recs[150].off + 8) == 0);
    memset(&p, 0, sizeof p);
    CHECK_OK(oplog_repair(dir, 0, collect, &p));
    CHECK_EQ_INT(p.n, 1);
    CHECK(strstr(p.reason[0], "torn tail") != NULL);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 0);
    /* Mid-log corruption: refused and untouched without force. */
    tl_seg_path(&L, L.segs[1], s1);
    uint64_t victim = L.segs[1] + 1;
    uint8_t b = 0x11, back;
    CHECK(tl_pwrite(s1, &b, 1, L.recs[victim].off + 30) == 0);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_repair(dir, 0, collect, &p), WB_ECORRUPT);
    CHECK_EQ_INT(p.n, 1);
    CHECK_EQ_U64(p.off[0], L.recs[victim].off);
    CHECK(tl_pread(s1, &back, 1, L.recs[victim].off + 30) == 0);
    CHECK_EQ_INT(back, 0x11);
    CHECK(access(last, F_OK) == 0);
    /* With force: cut there; later segments gone; verify clean. */
    memset(&p, 0, sizeof p);
    CHECK_OK(oplog_repair(dir, 1, collect, &p));
    CHECK(p.n >= 1);
    CHECK(strstr(p.reason[0], "cut the log") != NULL);
    CHECK(access(last, F_OK) != 0);
    memset(&p, 0, sizeof p);
    CHECK_RC(oplog_verify(dir, collect, &p), 0);
    oplog_tail t;
    CHECK_OK(recover(dir, 0, &t, NULL, NULL, 0));
    CHECK_EQ_U64(t.segment_first, L.segs[1]);
    CHECK_EQ_U64(t.next_seq, victim);
    /* A log in use (its LOCK held, as a running node does) is not touched. */
    char lock[PATH_MAX];
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    memset(&p, 0, sizeof p);
    int rc = oplog_repair(dir, 1, collect, &p);
    close(fd);
    CHECK_RC(rc, WB_EBUSY);
    CHECK_EQ_INT(p.n, 1);
    wb_test_rmtree(dir);
}

int main(void)
{
    WB_RUN(test_prepare_and_activate);
    WB_RUN(test_empty_dir);
    WB_RUN(test_missing_dir);
    WB_RUN(test_leftover_spare_deleted);
    WB_RUN(test_clean_multi_segment);
    WB_RUN(test_empty_newest_segment);
    WB_RUN(test_torn_tail_zeroed_every_byte);
    WB_RUN(test_torn_tail_garbage_every_byte);
    WB_RUN(test_bit_flip_every_byte);
    WB_RUN(test_unfinished_batch_dropped);
    WB_RUN(test_midlog_corruption_and_repair);
    WB_RUN(test_seq_gap_between_segments);
    WB_RUN(test_torn_tail_in_older_segment_is_corruption);
    WB_RUN(test_bad_header_of_old_segment);
    WB_RUN(test_stray_bytes_after_end);
    WB_RUN(test_stray_bytes_in_sealed_segment);
    WB_RUN(test_retain);
    WB_RUN(test_verify_reports);
    WB_RUN(test_verify_unfinished_batch_and_node);
    WB_RUN(test_repair_semantics);
    return wb_test_summary();
}
