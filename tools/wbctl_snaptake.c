/*
 * wbctl_snaptake.c: `wbctl snapshot take`: a snapshot taken by the running
 * node that owns the data directory (only it may write its snapshot
 * store), through POST /api/v1/boards/{id}/snapshots.
 *
 *   wbctl snapshot take --url URL --board ID
 *                       [--token T | --secret-file F | --secret-env VAR]
 *                       [--json]
 *
 * The node snapshots every board with unsnapshotted ops in one pass and
 * answers with the board's snapshot list. A board whose newest snapshot
 * already covers all its ops gets no new one: the command says so and
 * names the snapshot that covers it (exit 0 either way: the board's state
 * is in a snapshot afterwards). The snapshot ids before the call come
 * from GET .../snapshots, so "new" means "not listed before".
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "wbctl.h"
#include "wbctl_http.h"

static const char take_usage[] =
    "wbctl snapshot take --url URL --board ID "
    "[--token T | --secret-file F | --secret-env VAR] [--json]";
static const char take_help[] =
    "Asks the node at URL (http://HOST:PORT) to snapshot board ID now\n"
    "(POST /api/v1/boards/ID/snapshots; editor role) and prints the\n"
    "snapshot that covers the board afterwards: id, oplog position,\n"
    "elements, bytes, and whether it is new (a board without ops since\n"
    "its last snapshot gets none). Credentials as for `wbctl seed`: --token,\n"
    "or --secret-file/--secret-env (the node's JWT_SECRET; a token for user\n"
    "wbctl, editor on ID, is minted), or none (guest sign-in). --json: one\n"
    "object {\"board\", \"taken\", \"snapshot\"}. Exit 0 ok, 1 failure (the\n"
    "node's error is printed), 2 usage error.\n";

typedef struct take_opts {
    const char *url, *board;
    wbctl_creds creds;
    int json;
} take_opts;

static int parse(int argc, char **argv, take_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"url", required_argument, NULL, 'U'},
        {"board", required_argument, NULL, 'b'},
        {"token", required_argument, NULL, 't'},
        {"secret-file", required_argument, NULL, 'f'},
        {"secret-env", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n%s", take_usage, take_help);
            return WBCTL_OK;
        case 'U': o->url = optarg; break;
        case 'b': o->board = optarg; break;
        case 't': o->creds.token = optarg; break;
        case 'f': o->creds.secret_file = optarg; break;
        case 'e': o->creds.secret_env = optarg; break;
        case 'j': o->json = 1; break;
        default:
            return wbctl_usage_error("snapshot take", take_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind != argc)
        return wbctl_usage_error("snapshot take", take_usage,
                                 "unexpected argument '%s'", argv[optind]);
    if (!o->url || !o->board)
        return wbctl_usage_error("snapshot take", take_usage,
                                 "--url and --board are required");
    size_t n = strlen(o->board);
    if (!n || n > JWT_BOARD_ID_MAX ||
        strspn(o->board, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-") != n)
        return wbctl_usage_error("snapshot take", take_usage,
                                 "bad board id '%s'", o->board);
    if (!!o->creds.token + !!o->creds.secret_file + !!o->creds.secret_env > 1)
        return wbctl_usage_error("snapshot take", take_usage, "give at most "
                                 "one of --token, --secret-file, --secret-env");
    return -1;
}

/* The board's snapshot list (a new reference) from one call; NULL on
 * failure (printed). */
static json_t *snap_list(const wbctl_url *u, const char *method,
                         const char *path, const char *token, int want)
{
    wbctl_http_resp r;
    char err[512];
    if (wbctl_http_request(u, method, path, token, NULL, 60000, &r, err,
                           sizeof err)) {
        fprintf(stderr, "wbctl snapshot take: %s %s: %s\n", method, path, err);
        return NULL;
    }
    json_t *j = r.status == want ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    json_t *arr = json_incref(json_object_get(j, "snapshots"));
    json_decref(j);
    if (!json_is_array(arr)) {
        wbctl_api_error("snapshot take", path, &r);
        json_decref(arr);
        arr = NULL;
    }
    wbctl_http_resp_free(&r);
    return arr;
}

/* The entry with the highest id (borrowed), or NULL. */
static json_t *newest(json_t *arr, json_int_t *id)
{
    json_t *best = NULL, *s;
    size_t i;
    *id = 0;
    json_array_foreach(arr, i, s) {
        json_int_t v = json_integer_value(json_object_get(s, "id"));
        if (v > *id) {
            *id = v;
            best = s;
        }
    }
    return best;
}

static void report(const take_opts *o, json_t *snap, int taken)
{
    if (o->json) {
        json_t *j = json_pack("{s:s,s:b,s:O}", "board", o->board, "taken",
                              taken, "snapshot", snap ? snap : json_null());
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
        return;
    }
    if (!snap) {
        printf("board %s has no snapshot: it has no ops yet\n", o->board);
        return;
    }
#define I(k) (long long)json_integer_value(json_object_get(snap, k))
    printf("%s snapshot %lld of board %s: pos %lld, %lld elements, %lld "
           "bytes stored (%lld raw)%s\n", taken ? "took" : "no new snapshot; "
           "newest is", I("id"), o->board, I("pos"), I("elements"),
           I("storedSize"), I("rawSize"),
           taken ? "" : " (no ops since it)");
#undef I
}

static int take(const take_opts *o)
{
    wbctl_url u;
    char err[512], path[160];
    if (wbctl_url_parse(o->url, &u, err, sizeof err))
        return wbctl_usage_error("snapshot take", take_usage, "%s", err);
    jwt_claims c = {0};
    snprintf(c.sub, sizeof c.sub, "wbctl");
    c.nboards = 1;
    snprintf(c.boards[0].id, sizeof c.boards[0].id, "%s", o->board);
    c.boards[0].role = JWT_ROLE_EDITOR;
    char *token;
    if (wbctl_api_token("snapshot take", &u, &o->creds, &c, 300, &token))
        return WBCTL_FAIL;
    snprintf(path, sizeof path, "/api/v1/boards/%s/snapshots", o->board);
    json_t *before = snap_list(&u, "GET", path, token, 200);
    json_t *after = before ? snap_list(&u, "POST", path, token, 201) : NULL;
    free(token);
    int rc = WBCTL_FAIL;
    if (after) {
        json_int_t old_id, new_id;
        newest(before, &old_id);
        json_t *snap = newest(after, &new_id);
        report(o, snap, new_id > old_id);
        rc = WBCTL_OK;
    }
    json_decref(before);
    json_decref(after);
    return rc;
}

int wbctl_cmd_snapshot(int argc, char **argv)
{
    static const char usage[] = "wbctl snapshot take --url URL --board ID ...";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s\n%s", take_usage, take_help);
        return WBCTL_OK;
    }
    if (argc < 2 || strcmp(argv[1], "take"))
        return wbctl_usage_error("snapshot", usage, "want the action 'take' "
                                 "(to list snapshots: wbctl snapshots DATA_DIR)");
    take_opts o;
    int rc = parse(argc - 1, argv + 1, &o);
    return rc >= 0 ? rc : take(&o);
}
