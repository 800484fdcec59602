/*
 * wbctl_restore.c: `wbctl restore`: a board's state from the snapshot
 * store plus oplog replay (engine/restore.h does the work), as of the end
 * of the log, a snapshot, a seq or a time.
 *
 *   wbctl restore DATA_DIR --board ID [--snapshot SNAP_ID|latest]
 *                 [--until seq:N|ISO8601|@UNIX] [--out FILE.json]
 *                 [--into DATA_DIR2] [--as NEW_ID]
 *
 * Without --into/--as it only reads (safe beside a running node) and
 * writes board_to_json (the shape GET /api/v1/boards/{id} serves) to
 * stdout or FILE. --as alone forks the restored state into DATA_DIR under
 * NEW_ID (restore_fork; needs the node stopped). --into writes the state
 * (under ID, or NEW_ID with --as) as a snapshot into DATA_DIR2 at the end
 * of DATA_DIR2's oplog, so a node started there serves it; DATA_DIR2 must
 * not be in use by a node either. One summary line goes to stderr (plain
 * restore) or stdout (--into/--as): where the state came from, elements
 * and its state hash (XXH3 of the canonical state, board_state_hash).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "oplog.h"
#include "oplog_internal.h"
#include "restore.h"
#include "vv.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"
#include "wbctl_mongo.h"

static const char restore_usage[] =
    "wbctl restore DATA_DIR --board ID [--snapshot SNAP_ID|latest] "
    "[--until seq:N|TIME] [--out FILE.json] [--into DATA_DIR2] [--as NEW_ID]";

static const char restore_help[] =
    "Rebuilds board ID from DATA_DIR (DATA_DIR/snap + DATA_DIR/oplog): the\n"
    "newest good snapshot at or before the target, then the oplog records\n"
    "after it. Prints the board as JSON (the shape of GET\n"
    "/api/v1/boards/{id}) to stdout, or to FILE with --out, and a summary\n"
    "line to stderr: source snapshot, records replayed, elements, state hash.\n"
    "\n"
    "Targets (at most one; default: everything in the log):\n"
    "  --until seq:N        every record with local oplog seq <= N\n"
    "  --until TIME         every record appended at or before TIME:\n"
    "                       ISO 8601 2026-11-28T17:05:00Z (optional .ffffff,\n"
    "                       Z or +HH:MM) or @UNIX_SECONDS (e.g. @1764349500)\n"
    "                       A bare number is refused: write seq:N or @N.\n"
    "  --snapshot ID|latest exactly the state stored in that snapshot\n"
    "\n"
    "Writing (the node owning the directory must be stopped; refused while\n"
    "DATA_DIR/oplog/LOCK is held):\n"
    "  --as NEW_ID          fork: store the restored state as a new board\n"
    "                       NEW_ID in DATA_DIR; the original is untouched\n"
    "  --into DATA_DIR2     store the restored state (as ID, or NEW_ID with\n"
    "                       --as) in another data directory, created if\n"
    "                       needed; the board must not exist there yet\n"
    "\n"
    "From the Mongo mirror instead of DATA_DIR: wbctl restore --from-mongo\n"
    "URL --board ID [--until ...] [--out FILE | --into DIR] (its --help;\n"
    "docs/mongo.md).\n"
    "\n"
    "Read-only restores work while a node runs. Exit 0 ok, 1 failure\n"
    "(board not found, history retained away, corrupt data, lock held),\n"
    "2 usage error.\n";

typedef struct restore_opts {
    const char *dir, *board, *snapshot, *until, *out, *into, *as;
} restore_opts;

enum { R_HELP = 'h', R_BOARD = 1000, R_SNAP, R_UNTIL, R_OUT, R_INTO, R_AS };

static int parse(int argc, char **argv, restore_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, R_HELP},
        {"board", required_argument, NULL, R_BOARD},
        {"snapshot", required_argument, NULL, R_SNAP},
        {"until", required_argument, NULL, R_UNTIL},
        {"out", required_argument, NULL, R_OUT},
        {"into", required_argument, NULL, R_INTO},
        {"as", required_argument, NULL, R_AS},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case R_HELP:
            printf("usage: %s\n%s", restore_usage, restore_help);
            return WBCTL_OK;
        case R_BOARD: o->board = optarg; break;
        case R_SNAP: o->snapshot = optarg; break;
        case R_UNTIL: o->until = optarg; break;
        case R_OUT: o->out = optarg; break;
        case R_INTO: o->into = optarg; break;
        case R_AS: o->as = optarg; break;
        default:
            return wbctl_usage_error("restore", restore_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return wbctl_usage_error("restore", restore_usage,
                                 optind >= argc ? "missing DATA_DIR"
                                                : "too many arguments");
    o->dir = argv[optind];
    if (!o->board)
        return wbctl_usage_error("restore", restore_usage, "--board is required");
    if (o->snapshot && o->until)
        return wbctl_usage_error("restore", restore_usage,
                                 "--snapshot and --until exclude each other");
    return -1;
}

/* Resolves the target from the options; -1 on a usage error (printed),
 * -2 on a failure (printed), 0 ok. */
static int resolve_target(const restore_opts *o, wbctl_data *d,
                          restore_target *t)
{
    memset(t, 0, sizeof *t);
    t->kind = RESTORE_LATEST;
    if (o->until && wbctl_parse_until(o->until, t) != 0) {
        wbctl_usage_error("restore", restore_usage,
                          "bad --until '%s' (want seq:N, ISO 8601 or @UNIX)",
                          o->until);
        return -1;
    }
    if (!o->snapshot)
        return 0;
    t->kind = RESTORE_SNAPSHOT;
    unsigned long long id;
    if (strcmp(o->snapshot, "latest") == 0) {
        snap_info info;
        int rc = d->store ? snap_latest_info(d->store, o->board, UINT64_MAX,
                                             &info)
                          : WB_ENOTFOUND;
        if (rc) {
            fprintf(stderr, "wbctl restore: no snapshot of board '%s': %s\n",
                    o->board, wb_strerror(rc));
            return -2;
        }
        t->snap_id = info.id;
    } else if (wbctl_parse_u64(o->snapshot, &id) == 0 && id > 0) {
        t->snap_id = id;
    } else {
        wbctl_usage_error("restore", restore_usage, "bad --snapshot '%s'",
                          o->snapshot);
        return -1;
    }
    if (!d->store) {
        fprintf(stderr, "wbctl restore: %s has no snapshot store\n", o->dir);
        return -2;
    }
    return 0;
}

static void summary(FILE *f, const char *name, const restore_result *r)
{
    uint64_t hash = 0;
    board_state_hash(r->board, &hash);
    fprintf(f, "board %s: ", name);
    if (r->has_snapshot)
        fprintf(f, "snapshot %" PRIu64 " (pos %" PRIu64 ") + ", r->snap_id,
                r->snap_pos);
    fprintf(f, "%" PRIu64 " records (%" PRIu64 " ops) replayed, last seq %"
               PRIu64 ", %zu elements, state_hash=%016" PRIx64,
            r->records_applied, r->ops_applied, r->last_seq,
            board_element_count(r->board), hash);
    if (r->skipped_snapshots)
        fprintf(f, ", %u damaged snapshot(s) skipped", r->skipped_snapshots);
    fputc('\n', f);
}

static int write_json(const char *path, const board *b)
{
    char *json;
    size_t len;
    int rc = board_to_json(b, &json, &len);
    if (rc) {
        fprintf(stderr, "wbctl restore: %s\n", wb_strerror(rc));
        return -1;
    }
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        perror(path);
        free(json);
        return -1;
    }
    int bad = fwrite(json, 1, len, f) != len || fputc('\n', f) == EOF;
    if (path)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    free(json);
    if (bad)
        fprintf(stderr, "wbctl restore: writing %s failed\n",
                path ? path : "stdout");
    return bad ? -1 : 0;
}

/* Copies the source's board metadata (if any) to dst under id. */
static void copy_meta(snap_store *src, const char *from, snap_store *dst,
                      const char *id)
{
    snap_board_meta *m = calloc(2, sizeof *m);
    if (m && src && snap_board_get(src, from, &m[0]) == 0 &&
        snap_board_get(dst, id, &m[1]) == WB_ENOTFOUND) {
        snprintf(m[0].board, sizeof m[0].board, "%s", id);
        snap_board_put(dst, &m[0]);
    }
    free(m);
}

/* --into: the restored board r as a snapshot of id in d2. */
static int put_into(const restore_opts *o, wbctl_data *src, wbctl_data *d2,
                    const char *id, const board *b)
{
    snap_info info;
    int rc = snap_latest_info(d2->store, id, UINT64_MAX, &info);
    if (rc == 0) {
        fprintf(stderr, "wbctl restore: %s already has board '%s' "
                        "(choose another id with --as)\n", o->into, id);
        return -1;
    }
    uint8_t *state = NULL, *vbuf = NULL;
    size_t len = 0, vlen = vv_encoded_size(board_version(b));
    uint64_t pos = 0, snap_id = 0, hash = 0;
    rc = rc == WB_ENOTFOUND ? 0 : rc;
    if (!rc)
        rc = strcmp(id, board_id(b)) ? restore_rename_state(b, id, &state, &len)
                                     : board_state_encode(b, &state, &len);
    if (!rc && !(vbuf = malloc(vlen ? vlen : 1)))
        rc = WB_ENOMEM;
    if (!rc)
        rc = vv_encode(board_version(b), vbuf, vlen ? vlen : 1, &vlen);
    if (!rc)
        rc = wbctl_oplog_last_seq(d2->oplog, &pos);
    if (!rc)
        rc = snap_put(d2->store, id, state, len, pos, vbuf, vlen,
                      (uint32_t)board_element_count(b), 0, &snap_id);
    if (!rc)
        rc = board_state_hash(b, &hash); /* a rename keeps the records */
    free(state);
    free(vbuf);
    if (rc) {
        fprintf(stderr, "wbctl restore: writing into %s: %s\n", o->into,
                wb_strerror(rc));
        return -1;
    }
    copy_meta(src->store, o->board, d2->store, id);
    printf("restored board %s into %s as %s: snapshot %" PRIu64 " at pos %"
           PRIu64 ", %zu elements\n",
           o->board, o->into, id, snap_id, pos, board_element_count(b));
    return 0;
}

static int do_into(const restore_opts *o, wbctl_data *d,
                   const restore_target *t)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(o->dir, a) && realpath(o->into, b) && !strcmp(a, b)) {
        fprintf(stderr, "wbctl restore: --into names DATA_DIR itself; use "
                        "--as NEW_ID alone to fork in place\n");
        return WBCTL_FAIL;
    }
    wbctl_data d2;
    if (wbctl_data_open("restore", o->into, 1, 1, &d2) != 0)
        return WBCTL_FAIL;
    restore_result r;
    int ok = wbctl_restore("restore", d, o->board, t, &r) == 0;
    if (ok) {
        summary(stderr, o->board, &r);
        ok = put_into(o, d, &d2, o->as ? o->as : o->board, r.board) == 0;
        if (ok && o->out)
            ok = write_json(o->out, r.board) == 0;
    }
    restore_result_free(&r);
    wbctl_data_close(&d2);
    return ok ? WBCTL_OK : WBCTL_FAIL;
}

static int do_fork(const restore_opts *o, wbctl_data *d,
                   const restore_target *t)
{
    if (!d->store) {
        fprintf(stderr, "wbctl restore: %s has no snapshot store to fork "
                        "into\n", o->dir);
        return WBCTL_FAIL;
    }
    restore_fork_result fr;
    restore_options opts = {0};
    wbctl_replay_bar rb;
    wbctl_replay_bar_begin(&rb, "restore", d->oplog, &opts);
    int rc = restore_fork(d->store, d->oplog, o->board, t, &opts, o->as,
                          d->store, 0, &fr);
    wbctl_replay_bar_end(&rb);
    if (rc == WB_EEXIST)
        fprintf(stderr, "wbctl restore: board '%s' already exists in %s\n",
                o->as, o->dir);
    else if (rc == WB_EINVAL)
        fprintf(stderr, "wbctl restore: bad --as '%s' (a board id of "
                        "[A-Za-z0-9_-], not the source's)\n", o->as);
    else if (rc)
        wbctl_restore_error("restore", o->board, rc, &fr.restored);
    if (rc) {
        restore_fork_result_free(&fr);
        return WBCTL_FAIL;
    }
    copy_meta(d->store, o->board, d->store, o->as);
    summary(stderr, o->board, &fr.restored);
    printf("forked board %s as %s: snapshot %" PRIu64 " at pos %" PRIu64
           ", %zu elements, state_hash=%016" PRIx64 "\n",
           o->board, o->as, fr.fork_snap_id, fr.fork_pos,
           board_element_count(fr.restored.board), fr.state_hash);
    int ok = !o->out || write_json(o->out, fr.restored.board) == 0;
    restore_fork_result_free(&fr);
    return ok ? WBCTL_OK : WBCTL_FAIL;
}

int wbctl_cmd_restore(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* from the Mongo mirror: wbctl_mongo.c */
        if (strncmp(argv[i], "--from-mongo", 12) == 0)
            return wbctl_cmd_restore_mongo(argc, argv);
    restore_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    int in_place = o.as && !o.into;
    wbctl_data d;
    if (wbctl_data_open("restore", o.dir, in_place, 0, &d) != 0)
        return WBCTL_FAIL;
    restore_target t;
    rc = resolve_target(&o, &d, &t);
    if (rc) {
        wbctl_data_close(&d);
        return rc == -1 ? WBCTL_USAGE : WBCTL_FAIL;
    }
    if (o.into)
        rc = do_into(&o, &d, &t);
    else if (in_place)
        rc = do_fork(&o, &d, &t);
    else {
        restore_result r;
        rc = WBCTL_FAIL;
        if (wbctl_restore("restore", &d, o.board, &t, &r) == 0) {
            summary(stderr, o.board, &r);
            rc = write_json(o.out, r.board) == 0 ? WBCTL_OK : WBCTL_FAIL;
        }
        restore_result_free(&r);
    }
    wbctl_data_close(&d);
    return rc;
}
