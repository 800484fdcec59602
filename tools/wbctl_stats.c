/*
 * wbctl_stats.c: `wbctl stats`: what a data directory holds, read-only
 * (safe while a node runs): oplog segments and bytes, records (all, and
 * ops records), seq range, oldest and newest record time, boards (named by
 * ops records, snapshots or board metadata), snapshots and their bytes,
 * and the positions that bound retention (snapshot min pos, applied pos,
 * mirror cursor).
 *
 *   wbctl stats DATA_DIR [--json]
 *
 * Reads every record (a checksum pass, as restore does); an oplog error
 * stops the count and is reported (exit 1) with what was counted so far.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oplog.h"
#include "oplog_internal.h"
#include "restore.h"
#include "wb_error.h"
#include "wb_records.h"
#include "wbctl.h"
#include "wbctl_data.h"

static const char stats_usage[] = "wbctl stats DATA_DIR [--json]";
static const char stats_help[] =
    "Summarizes DATA_DIR: oplog segments and bytes, records (all; ops),\n"
    "first and last seq, oldest and newest record time, boards (from ops\n"
    "records, snapshots and board metadata), snapshots and bytes, and the\n"
    "positions that bound compaction (snapshot min pos, applied pos, mirror\n"
    "cursor). Read-only: safe while a node runs. Exit 0 ok, 1 failure\n"
    "(including an oplog error, reported with the partial counts), 2 usage.\n";

/* A sorted set of board ids. */
typedef struct idset {
    char **v;
    size_t n, cap;
} idset;

static int idset_add(idset *s, const char *id, size_t len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(s->v[mid], id, len);
        if (c == 0 && s->v[mid][len] == 0)
            return 0;
        if (c < 0 || (c == 0 && s->v[mid][len] == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return WB_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    char *copy = strndup(id, len);
    if (!copy)
        return WB_ENOMEM;
    memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
    s->v[lo] = copy;
    s->n++;
    return 0;
}

static void idset_free(idset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

typedef struct stats {
    uint64_t segments, seg_bytes, records, ops_records, first_seq, last_seq;
    int64_t oldest_us, newest_us;
    uint64_t snapshots, snap_bytes, snap_damaged;
    int has_min_pos, has_applied, has_mirror;
    uint64_t min_pos, applied_pos, mirror;
    idset boards;
    int oplog_rc;
    char oplog_where[PATH_MAX + 32];
} stats;

static int scan_oplog(const char *dir, stats *s)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = oplog_segment_list(dir, &firsts, &n);
    if (rc)
        return rc == -ENOENT ? 0 : rc; /* no oplog yet: empty */
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        oplog_segment_path(dir, firsts[i], path);
        if (stat(path, &st) == 0)
            s->seg_bytes += (uint64_t)st.st_size;
    }
    s->segments = n;
    uint64_t est = n ? firsts[n - 1] : 0; /* records: at least this many */
    free(firsts);
    oplog_reader *r;
    if ((rc = oplog_reader_open(dir, 1, &r)))
        return rc;
    wbctl_progress bar;
    wbctl_progress_begin(&bar, "stats: reading oplog");
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        wbctl_progress_update(&bar, rec.seq, est);
        if (!s->records++) {
            s->first_seq = rec.seq;
            s->oldest_us = rec.time_us;
        }
        s->last_seq = rec.seq;
        s->newest_us = rec.time_us;
        const char *id;
        size_t id_len;
        if (rec.type == WB_REC_OPS) {
            s->ops_records++;
            if (restore_batch_board(rec.payload, rec.len, &id, &id_len) == 0 &&
                (rc = idset_add(&s->boards, id, id_len)) != 0)
                break;
        }
    }
    wbctl_progress_end(&bar);
    if (rc < 0) {
        uint64_t off = 0;
        const char *seg = oplog_reader_where(r, &off);
        snprintf(s->oplog_where, sizeof s->oplog_where, "%s:%" PRIu64,
                 seg ? seg : dir, off);
    }
    oplog_reader_close(r);
    return rc < 0 ? rc : 0;
}

static int count_snap(void *arg, const snap_info *i)
{
    stats *s = arg;
    s->snapshots++;
    s->snap_bytes += i->value_size;
    if (i->status)
        s->snap_damaged++;
    return idset_add(&s->boards, i->board, strlen(i->board));
}

static int count_meta(void *arg, const snap_board_meta *m)
{
    return idset_add(&((stats *)arg)->boards, m->board, strlen(m->board));
}

static int scan_store(snap_store *st, stats *s)
{
    int rc = snap_list(st, NULL, count_snap, s);
    if (rc < 0)
        return rc;
    rc = snap_board_list(st, NULL, 0, count_meta, s);
    if (rc < 0)
        return rc;
    s->has_min_pos = snap_min_pos(st, &s->min_pos) == 0;
    s->has_applied = snap_applied_pos_get(st, &s->applied_pos) == 0;
    s->has_mirror = snap_cursor_get(st, "mirror", &s->mirror) == 0;
    return 0;
}

static void print_opt_u64(const char *key, int has, uint64_t v, int last)
{
    if (has)
        printf("\"%s\": %" PRIu64 "%s", key, v, last ? "" : ", ");
    else
        printf("\"%s\": null%s", key, last ? "" : ", ");
}

static void print_json(const wbctl_data *d, const stats *s)
{
    char oldest[64] = "", newest[64] = "";
    if (s->records) {
        wbctl_format_time(s->oldest_us, oldest, sizeof oldest);
        wbctl_format_time(s->newest_us, newest, sizeof newest);
    }
    printf("{\"oplog\": {\"dir\": ");
    wbctl_json_str(stdout, d->oplog);
    printf(", \"segments\": %" PRIu64 ", \"bytes\": %" PRIu64
           ", \"records\": %" PRIu64 ", \"ops_records\": %" PRIu64
           ", \"first_seq\": %" PRIu64 ", \"last_seq\": %" PRIu64,
           s->segments, s->seg_bytes, s->records, s->ops_records, s->first_seq,
           s->last_seq);
    if (s->records)
        printf(", \"oldest_time\": \"%s\", \"oldest_time_us\": %" PRId64
               ", \"newest_time\": \"%s\", \"newest_time_us\": %" PRId64,
               oldest, s->oldest_us, newest, s->newest_us);
    else
        printf(", \"oldest_time\": null, \"newest_time\": null");
    printf(", \"error\": ");
    if (s->oplog_rc) {
        printf("{\"code\": \"%s\", \"where\": ", wb_errname(s->oplog_rc));
        wbctl_json_str(stdout, s->oplog_where);
        printf("}");
    } else {
        printf("null");
    }
    printf("},\n \"snapshots\": {\"store\": %s, \"count\": %" PRIu64
           ", \"bytes\": %" PRIu64 ", \"damaged\": %" PRIu64 ", ",
           d->store ? "true" : "false", s->snapshots, s->snap_bytes,
           s->snap_damaged);
    print_opt_u64("min_pos", s->has_min_pos, s->min_pos, 0);
    print_opt_u64("applied_pos", s->has_applied, s->applied_pos, 0);
    print_opt_u64("mirror_cursor", s->has_mirror, s->mirror, 1);
    printf("},\n \"boards\": {\"count\": %zu, \"ids\": [", s->boards.n);
    for (size_t i = 0; i < s->boards.n; i++) {
        printf("%s", i ? ", " : "");
        wbctl_json_str(stdout, s->boards.v[i]);
    }
    printf("]}}\n");
}

static void print_text(const wbctl_data *d, const stats *s)
{
    printf("oplog      %s\n", d->oplog);
    printf("segments   %" PRIu64 " (%" PRIu64 " bytes)\n", s->segments,
           s->seg_bytes);
    printf("records    %" PRIu64 " (%" PRIu64 " ops), seq %" PRIu64
           "..%" PRIu64 "\n",
           s->records, s->ops_records, s->first_seq, s->last_seq);
    if (s->records) {
        char t[64];
        wbctl_format_time(s->oldest_us, t, sizeof t);
        printf("oldest     %s\n", t);
        wbctl_format_time(s->newest_us, t, sizeof t);
        printf("newest     %s\n", t);
    }
    printf("boards     %zu\n", s->boards.n);
    printf("snapshots  %" PRIu64 " (%" PRIu64 " bytes%s)\n", s->snapshots,
           s->snap_bytes, s->snap_damaged ? ", some DAMAGED" : "");
    if (s->has_min_pos)
        printf("min pos    %" PRIu64 " (oldest snapshot position)\n",
               s->min_pos);
    if (s->has_applied)
        printf("applied    %" PRIu64 "\n", s->applied_pos);
    if (s->has_mirror)
        printf("mirror     %" PRIu64 "\n", s->mirror);
    if (s->oplog_rc)
        printf("ERROR      %s at %s\n", wb_errname(s->oplog_rc), s->oplog_where);
}

int wbctl_cmd_stats(int argc, char **argv)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, ch;
    opterr = 0;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: %s\n%s", stats_usage, stats_help);
            return WBCTL_OK;
        }
        if (ch != 'j')
            return wbctl_usage_error("stats", stats_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        json = 1;
    }
    if (optind + 1 != argc)
        return wbctl_usage_error("stats", stats_usage,
                                 optind >= argc ? "missing DATA_DIR"
                                                : "too many arguments");
    wbctl_data d;
    if (wbctl_data_open("stats", argv[optind], 0, 0, &d) != 0)
        return WBCTL_FAIL;
    stats *s = calloc(1, sizeof *s);
    int rc = s ? 0 : WB_ENOMEM;
    if (!rc && d.store)
        rc = scan_store(d.store, s);
    if (!rc)
        s->oplog_rc = scan_oplog(d.oplog, s);
    if (!rc) {
        if (json)
            print_json(&d, s);
        else
            print_text(&d, s);
    }
    if (rc)
        fprintf(stderr, "wbctl stats: %s: %s\n", argv[optind], wb_strerror(rc));
    else if (s->oplog_rc)
        fprintf(stderr, "wbctl stats: oplog: %s at %s\n",
                wb_strerror(s->oplog_rc), s->oplog_where);
    int bad = rc || s->oplog_rc;
    if (s)
        idset_free(&s->boards);
    free(s);
    wbctl_data_close(&d);
    return bad ? WBCTL_FAIL : WBCTL_OK;
}
