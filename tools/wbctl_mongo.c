/*
 * wbctl_mongo.c: `wbctl restore --from-mongo`: a board rebuilt from what
 * the Mongo mirror exported (docs/mongo.md), the runbook's procedure in one
 * command:
 *
 *   wbctl restore --from-mongo URL --board ID [--until seq:N|TIME]
 *                 [--out FILE.json | --into DATA_DIR]
 *
 * 1. The newest `snapshots` document of the board at or before the target
 *    (TIME: createdUs <= T, sorted by createdAt descending, the runbook's
 *    query; seq:N: pos <= N, by pos descending; no target: the newest).
 *    Its state (inline `state`, or the `statePart`s of its snapshot_chunks
 *    in order) is zstd-decompressed, checked against stateSize and
 *    stateHash, and decoded (board_state_decode). No snapshot: an empty
 *    board.
 * 2. The board's `ops` documents within the target (timeUs <= T, or
 *    seq <= N), in seq order, except those the snapshot's version vector
 *    already covers (oseq <= version[node]); each document's `enc` (the op
 *    as an encoded batch) is decoded and applied.
 * 3. The result as board_to_json to stdout or FILE, and a summary line on
 *    stderr with the state hash (the same hash `wbctl restore DATA_DIR`
 *    prints, so the two can be compared); or, with --into, stored as a
 *    snapshot of ID in DATA_DIR (created if needed, must not be in use by a
 *    node, must not have the board yet) with the board's metadata from
 *    `boards`, so a node started there serves it.
 *
 * seq:N counts in the oplog of the node that mirrored the ops (the `seq`
 * field); in a cluster where each node mirrors its own ops, use a TIME.
 *
 * Reading the documents: wbctl_mongo_read.c.
 *
 * Exit 0 ok, 1 failure (Mongo unreachable, board not found, damaged
 * snapshot), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "board.h"
#include "oplog.h"
#include "oplog_internal.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"
#include "wbctl_mongo.h"
#include "wbctl_mongo_internal.h"

static const char mongo_usage[] =
    "wbctl restore --from-mongo URL --board ID [--until seq:N|TIME] "
    "[--out FILE.json | --into DATA_DIR]";

static const char mongo_help[] =
    "Rebuilds board ID from the Mongo mirror (docs/mongo.md): the newest\n"
    "snapshot document at or before the target, then the mirrored ops after\n"
    "it. URL: mongodb://host:port/db (db default: whiteboard).\n"
    "  --until seq:N   ops with seq <= N in the mirroring node's oplog\n"
    "  --until TIME    ops logged at or before TIME (ISO 8601 or @UNIX)\n"
    "  --out FILE      the board JSON to FILE instead of stdout\n"
    "  --into DIR      store the board as a snapshot in data directory DIR\n"
    "                  (not in use by a node) so a node started there serves\n"
    "                  it\n"
    "A summary line with the state hash goes to stderr (stdout with --into).\n";

enum { M_HELP = 'h', M_URL = 1000, M_BOARD, M_UNTIL, M_OUT, M_INTO };

static int parse(int argc, char **argv, mopts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, M_HELP},
        {"from-mongo", required_argument, NULL, M_URL},
        {"board", required_argument, NULL, M_BOARD},
        {"until", required_argument, NULL, M_UNTIL},
        {"out", required_argument, NULL, M_OUT},
        {"into", required_argument, NULL, M_INTO},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case M_HELP:
            printf("usage: %s\n%s", mongo_usage, mongo_help);
            return WBCTL_OK;
        case M_URL:
            o->url = optarg;
            break;
        case M_BOARD:
            o->board = optarg;
            break;
        case M_UNTIL:
            o->until = optarg;
            break;
        case M_OUT:
            o->out = optarg;
            break;
        case M_INTO:
            o->into = optarg;
            break;
        default:
            return wbctl_usage_error("restore", mongo_usage,
                                     "unknown or invalid option '%s' (with "
                                     "--from-mongo)",
                                     argv[optind - 1]);
        }
    }
    if (optind != argc)
        return wbctl_usage_error("restore", mongo_usage,
                                 "no DATA_DIR with --from-mongo");
    if (!o->url || !o->board)
        return wbctl_usage_error("restore", mongo_usage,
                                 "--from-mongo URL and --board are required");
    if (o->out && o->into)
        return wbctl_usage_error("restore", mongo_usage,
                                 "--out and --into exclude each other");
    return -1;
}

/* ---- output ----------------------------------------------------------- */

static void summary(FILE *f, const mctx *c)
{
    uint64_t hash = 0;
    board_state_hash(c->b, &hash);
    fprintf(f, "board %s: ", c->o.board);
    if (c->has_snap)
        fprintf(f, "mongo snapshot %s (pos %" PRId64 ") + ", c->snap_id,
                c->snap_pos);
    fprintf(f,
            "%" PRIu64 " ops replayed (%" PRIu64 " already in the "
            "snapshot), %zu elements, state_hash=%016" PRIx64 "\n",
            c->ops_applied, c->ops_skipped, board_element_count(c->b), hash);
}

static int write_json(const char *path, const board *b)
{
    char *json;
    size_t len;
    if (board_to_json(b, &json, &len) != 0)
        return -1;
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f) {
        perror(path);
        free(json);
        return -1;
    }
    int bad = fwrite(json, 1, len, f) != len || fputc('\n', f) == EOF;
    bad |= path ? fclose(f) != 0 : fflush(f) != 0;
    free(json);
    return bad ? -1 : 0;
}

/* The board's `boards` document as metadata in the target store. */
static int copy_meta(mctx *c, const bson_t *doc)
{
    snap_board_meta *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    snprintf(m->board, sizeof m->board, "%s", c->o.board);
    snprintf(m->title, sizeof m->title, "%s", wbctl_bson_str(doc, "title"));
    snprintf(m->owner, sizeof m->owner, "%s", wbctl_bson_str(doc, "owner"));
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "createdAt") &&
        BSON_ITER_HOLDS_DATE_TIME(&it))
        m->created_us = bson_iter_date_time(&it) * 1000;
    if (bson_iter_init_find(&it, doc, "updatedAt") &&
        BSON_ITER_HOLDS_DATE_TIME(&it))
        m->updated_us = bson_iter_date_time(&it) * 1000;
    const char *s = wbctl_bson_str(doc, "settings");
    size_t sl = strlen(s);
    if (sl < sizeof m->settings) {
        memcpy(m->settings, s, sl);
        m->settings_len = (uint32_t)sl;
    }
    int rc = snap_board_put(c->dst, m);
    free(m);
    if (rc)
        fprintf(stderr, "wbctl restore: board metadata: %s\n", wb_strerror(rc));
    return rc ? -1 : 1;
}

/* --into: the board as a snapshot of ID at the end of DIR's oplog. */
static int put_into(mctx *c)
{
    wbctl_data d;
    if (wbctl_data_open("restore", c->o.into, 1, 1, &d) != 0)
        return -1;
    snap_info info;
    int rc = snap_latest_info(d.store, c->o.board, UINT64_MAX, &info);
    if (rc == 0) {
        fprintf(stderr, "wbctl restore: %s already has board '%s'\n", c->o.into,
                c->o.board);
        wbctl_data_close(&d);
        return -1;
    }
    uint8_t *state = NULL, *vbuf = NULL;
    size_t len = 0, vlen = vv_encoded_size(board_version(c->b));
    uint64_t pos = 0, id = 0;
    rc = rc == WB_ENOTFOUND ? 0 : rc;
    if (!rc)
        rc = board_state_encode(c->b, &state, &len);
    if (!rc && !(vbuf = malloc(vlen ? vlen : 1)))
        rc = WB_ENOMEM;
    if (!rc)
        rc = vv_encode(board_version(c->b), vbuf, vlen ? vlen : 1, &vlen);
    if (!rc)
        rc = wbctl_oplog_last_seq(d.oplog, &pos);
    if (!rc)
        rc = snap_put(d.store, c->o.board, state, len, pos, vbuf, vlen,
                      (uint32_t)board_element_count(c->b), 0, &id);
    free(state);
    free(vbuf);
    if (!rc) {
        bson_t filter = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&filter, "_id", c->o.board);
        c->dst = d.store;
        int found =
            wbctl_mongo_find_each(c, "boards", &filter, NULL, copy_meta);
        rc = found < 0 ? WB_EIO : 0;
        if (found == 0) /* copy_meta stops the cursor (1) when it ran */
            fprintf(stderr,
                    "wbctl restore: warning: no `boards` document for '%s' "
                    "in Mongo: the state is in %s but a node will not list "
                    "or serve the board without its metadata\n",
                    c->o.board, c->o.into);
        bson_destroy(&filter);
    }
    wbctl_data_close(&d);
    if (rc) {
        fprintf(stderr, "wbctl restore: writing into %s: %s\n", c->o.into,
                wb_strerror(rc));
        return -1;
    }
    printf("restored board %s from Mongo into %s: snapshot %" PRIu64
           " at pos %" PRIu64 ", %zu elements\n",
           c->o.board, c->o.into, id, pos, board_element_count(c->b));
    return 0;
}

static int connect_db(mctx *c)
{
    mongoc_init();
    bson_error_t err;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(c->o.url, &err);
    if (!uri) {
        fprintf(stderr, "wbctl restore: bad URL: %s\n", err.message);
        return -1;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       5000);
    const char *db = mongoc_uri_get_database(uri);
    c->client = mongoc_client_new_from_uri_with_error(uri, &err);
    if (c->client) {
        mongoc_client_set_error_api(c->client, MONGOC_ERROR_API_VERSION_2);
        mongoc_client_set_appname(c->client, "wbctl-restore");
        c->db = mongoc_client_get_database(c->client,
                                           db && *db ? db : "whiteboard");
    } else {
        fprintf(stderr, "wbctl restore: %s\n", err.message);
    }
    mongoc_uri_destroy(uri);
    return c->client ? 0 : -1;
}

int wbctl_cmd_restore_mongo(int argc, char **argv)
{
    mctx c;
    memset(&c, 0, sizeof c);
    int rc = parse(argc, argv, &c.o);
    if (rc >= 0)
        return rc;
    c.t.kind = RESTORE_LATEST;
    if (c.o.until && wbctl_parse_until(c.o.until, &c.t) != 0)
        return wbctl_usage_error("restore", mongo_usage,
                                 "bad --until '%s' (want seq:N, ISO 8601 or "
                                 "@UNIX)",
                                 c.o.until);
    vv_init(&c.snap_vv);
    int ok = connect_db(&c) == 0 && wbctl_mongo_find_snapshot(&c) == 0 &&
             wbctl_mongo_replay_ops(&c) == 0;
    if (ok && !c.b) {
        fprintf(stderr,
                "wbctl restore: board '%s' has no snapshot and no op "
                "in Mongo at or before the target\n",
                c.o.board);
        ok = 0;
    }
    if (ok) {
        summary(c.o.into ? stdout : stderr, &c);
        ok = (c.o.into ? put_into(&c) : write_json(c.o.out, c.b)) == 0;
    }
    board_free(c.b);
    vv_free(&c.snap_vv);
    free(c.parts);
    if (c.db)
        mongoc_database_destroy(c.db);
    if (c.client)
        mongoc_client_destroy(c.client);
    mongoc_cleanup();
    return ok ? WBCTL_OK : WBCTL_FAIL;
}
