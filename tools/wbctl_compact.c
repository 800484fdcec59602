/*
 * wbctl_compact.c: `wbctl compact`: oplog retention, offline. Deletes the
 * oldest segments whose every record is below the retention floor:
 *
 *   keep_from = min( snap_min_pos + 1        every board's oldest snapshot
 *                                            covers the records below it,
 *                    applied_pos + 1         the engine's clean position
 *                                            (recovery replays after it),
 *                    mirror cursor + 1       if the "mirror" cursor is set
 *                                            (it names the last seq mirrored),
 *                    first seq with time >= now - N   with --retain-seconds N )
 *
 * With no snapshot store, or a store whose min pos is 0 (a board without
 * snapshot), keep_from is 1: nothing is deleted. The newest segment is
 * never deleted; segments go oldest first and only whole ones (the engine's
 * oplog_segment_retain, the same code the node's engine_compact runs), so
 * the log never gets a hole.
 *
 *   wbctl compact DATA_DIR [--dry-run] [--retain-seconds N] [--json]
 *
 * A real run takes the node's lock (DATA_DIR/oplog/LOCK) and refuses while
 * a node holds it: a running node compacts itself. --dry-run only reads and
 * works beside a running node.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oplog.h"
#include "oplog_internal.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"

static const char compact_usage[] =
    "wbctl compact DATA_DIR [--dry-run] [--retain-seconds N] [--json]";
static const char compact_help[] =
    "Deletes the oldest oplog segments that nothing needs any more: every\n"
    "record in them is covered by every board's oldest snapshot, is at or\n"
    "below the engine's applied position and the mirror cursor (if set),\n"
    "and, with --retain-seconds N, is older than N seconds. The newest\n"
    "segment is always kept. Prints each segment deleted (or, with\n"
    "--dry-run, that would be) and the bytes freed; --json prints\n"
    "{\"dry_run\", \"keep_from\", \"limits\": {...}, \"segments\": [...],\n"
    "\"freed_bytes\"}.\n"
    "A real run refuses while a node holds DATA_DIR/oplog/LOCK (a running\n"
    "node compacts itself); --dry-run works beside it.\n"
    "Exit 0 ok (also when nothing is freed), 1 failure or refused, 2 usage.\n";

typedef struct compact_opts {
    const char *dir;
    int dry_run, json, has_retain;
    unsigned long long retain_s;
} compact_opts;

typedef struct floors {
    uint64_t keep_from;
    uint64_t snap, applied, mirror, retain; /* UINT64_MAX: no limit */
} floors;

static int parse(int argc, char **argv, compact_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"retain-seconds", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'h':
            printf("usage: %s\n%s", compact_usage, compact_help);
            return WBCTL_OK;
        case 'n': o->dry_run = 1; break;
        case 'j': o->json = 1; break;
        case 'r':
            if (wbctl_parse_u64(optarg, &o->retain_s) != 0)
                return wbctl_usage_error("compact", compact_usage,
                                         "bad --retain-seconds '%s'", optarg);
            o->has_retain = 1;
            break;
        default:
            return wbctl_usage_error("compact", compact_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return wbctl_usage_error("compact", compact_usage,
                                 optind >= argc ? "missing DATA_DIR"
                                                : "too many arguments");
    o->dir = argv[optind];
    return -1;
}

/* The first seq whose record time is >= cutoff_us (UINT64_MAX: none). */
static int first_seq_since(const char *dir, int64_t cutoff_us, uint64_t *seq)
{
    *seq = UINT64_MAX;
    uint64_t *firsts = NULL, est = 0;
    size_t n = 0;
    if (oplog_segment_list(dir, &firsts, &n) == 0 && n)
        est = firsts[n - 1];
    free(firsts);
    oplog_reader *r;
    int rc = oplog_reader_open(dir, 1, &r);
    if (rc)
        return rc;
    wbctl_progress bar;
    wbctl_progress_begin(&bar, "compact: reading record times");
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1) {
        wbctl_progress_update(&bar, rec.seq, est);
        if (rec.time_us >= cutoff_us) {
            *seq = rec.seq;
            break;
        }
    }
    wbctl_progress_end(&bar);
    oplog_reader_close(r);
    return rc < 0 ? rc : 0;
}

static int compute_floors(const compact_opts *o, wbctl_data *d, floors *f)
{
    f->snap = f->applied = f->mirror = f->retain = UINT64_MAX;
    uint64_t v;
    int rc = 0;
    if (!d->store) {
        f->snap = 1; /* nothing covers anything */
    } else {
        if ((rc = snap_min_pos(d->store, &v)))
            return rc;
        f->snap = v + 1;
        if ((rc = snap_applied_pos_get(d->store, &v)) == 0)
            f->applied = v + 1;
        else if (rc == WB_ENOTFOUND)
            f->applied = 1; /* the engine never recorded a clean position */
        else
            return rc;
        if ((rc = snap_cursor_get(d->store, "mirror", &v)) == 0)
            f->mirror = v + 1;
        else if (rc != WB_ENOTFOUND)
            return rc;
        rc = 0;
    }
    if (o->has_retain) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        rc = first_seq_since(d->oplog, now_us - (int64_t)o->retain_s * 1000000,
                             &f->retain);
    }
    f->keep_from = f->snap;
    if (f->applied < f->keep_from)
        f->keep_from = f->applied;
    if (f->mirror < f->keep_from)
        f->keep_from = f->mirror;
    if (f->retain < f->keep_from)
        f->keep_from = f->retain;
    return rc;
}

static void print_limit(const char *name, uint64_t v, int last)
{
    if (v == UINT64_MAX)
        printf("\"%s\": null%s", name, last ? "" : ", ");
    else
        printf("\"%s\": %" PRIu64 "%s", name, v, last ? "" : ", ");
}

/* Lists (and, unless dry_run, deletes) the segments below f->keep_from. */
static int run(const compact_opts *o, wbctl_data *d, const floors *f)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = oplog_segment_list(d->oplog, &firsts, &n);
    if (rc == -ENOENT)
        rc = 0;
    if (rc)
        return rc;
    const char *verb = o->dry_run ? "would delete" : "delete";
    uint64_t freed = 0;
    size_t count = 0;
    if (o->json) {
        printf("{\"dry_run\": %s, \"keep_from\": %" PRIu64 ", \"limits\": {",
               o->dry_run ? "true" : "false", f->keep_from);
        print_limit("snapshots", f->snap, 0);
        print_limit("applied", f->applied, 0);
        print_limit("mirror", f->mirror, 0);
        print_limit("retain", f->retain, 1);
        printf("},\n \"segments\": [");
    }
    for (size_t i = 0; i + 1 < n && firsts[i + 1] <= f->keep_from; i++) {
        char path[PATH_MAX];
        struct stat st;
        oplog_segment_path(d->oplog, firsts[i], path);
        uint64_t sz = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (o->json) {
            printf("%s\n  {\"file\": ", count ? "," : "");
            wbctl_json_str(stdout, path);
            printf(", \"first_seq\": %" PRIu64 ", \"last_seq\": %" PRIu64
                   ", \"bytes\": %" PRIu64 "}",
                   firsts[i], firsts[i + 1] - 1, sz);
        } else {
            printf("%s %s (seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes)\n",
                   verb, path, firsts[i], firsts[i + 1] - 1, sz);
        }
        freed += sz;
        count++;
    }
    uint64_t active = n ? firsts[n - 1] : 0;
    free(firsts);
    if (!o->dry_run && count) {
        uint64_t really = 0;
        rc = oplog_segment_retain(wb_io_default(), d->oplog, f->keep_from,
                                  active, &really);
        if (rc >= 0 && (size_t)rc != count)
            fprintf(stderr, "wbctl compact: deleted %d segment(s), expected "
                            "%zu\n", rc, count);
        freed = really;
        rc = rc < 0 ? rc : 0;
    }
    if (o->json)
        printf("%s], \"freed_bytes\": %" PRIu64 "}\n", count ? "\n " : "",
               freed);
    else
        printf("%s %zu segment(s), %" PRIu64 " bytes; keeping seq >= %" PRIu64
               "\n",
               o->dry_run ? "would free" : "freed", count, freed, f->keep_from);
    return rc;
}

int wbctl_cmd_compact(int argc, char **argv)
{
    compact_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    wbctl_data d;
    if (wbctl_data_open("compact", o.dir, 0, 0, &d) != 0)
        return WBCTL_FAIL;
    if (!o.dry_run && (d.lock_fd = wbctl_lock_oplog("compact", d.oplog)) < 0) {
        wbctl_data_close(&d);
        return WBCTL_FAIL;
    }
    floors f;
    rc = compute_floors(&o, &d, &f);
    if (!rc)
        rc = run(&o, &d, &f);
    if (rc)
        fprintf(stderr, "wbctl compact: %s: %s\n", o.dir, wb_strerror(rc));
    wbctl_data_close(&d);
    return rc ? WBCTL_FAIL : WBCTL_OK;
}
