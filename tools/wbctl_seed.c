/*
 * wbctl_seed.c: `wbctl seed`: development data through a running node's
 * REST API (the original runbook's "reseed DB"): N boards, each with M
 * elements of every type, laid out on a grid.
 *
 *   wbctl seed --url URL [--boards N] [--elements M] [--title PREFIX]
 *              [--batch K] [--token T | --secret-file F | --secret-env VAR]
 *              [--user ID] [--json]
 *
 * Each board is created with POST /api/v1/boards (the token's user owns
 * it), then filled with POST /api/v1/boards/{id}/ops in batches of K ops;
 * every answer comes after the node's durable ack, so what the summary
 * reports is on disk. The ops carry no clientOpId (none of them is ever
 * deduplicated against another board's), and a batch refused with 429 or
 * 503 (not applied) is resent after Retry-After, at most SEED_RETRIES
 * times. Element k of every board is "seed-%05d", its type the k-th of
 * seed_types, so a seeded board is the same whatever the node.
 *
 * Output: a line per board and a summary (or, with --json, one object:
 * {"url", "boards": [{"id", "title", "elements", "seq"}], "elements",
 * "requests", "seconds"}); a progress bar on a terminal.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wbctl.h"
#include "wbctl_http.h"

#define SEED_RETRIES 30
#define SEED_MAX_BOARDS 1000
#define SEED_MAX_ELEMENTS 100000
#define SEED_BATCH_MAX 1024 /* the node's ops-per-request bound */

static const char seed_usage[] =
    "wbctl seed --url URL [--boards N] [--elements M] [--title PREFIX] "
    "[--batch K] [--token T | --secret-file F | --secret-env VAR] "
    "[--user ID] [--json]";
static const char seed_help[] =
    "Creates N boards (default 3, at most 1000) through the node at URL\n"
    "(http://HOST:PORT) and fills each with M elements (default 50, at most\n"
    "100000) of every type (rect, ellipse, sticky, text, arrow, stroke),\n"
    "K ops per request (default 200, at most 1024). Credentials: --token T\n"
    "as is; --secret-file F or --secret-env VAR: the node's JWT_SECRET, a\n"
    "token for user ID (default wbctl-seed, editor on every board) is minted\n"
    "here; none: guest sign-in (development nodes). Prints each board id and\n"
    "a summary (--json: one JSON object). Exit 0 ok, 1 failure (the node's\n"
    "error is printed), 2 usage error.\n";

typedef struct seed_opts {
    const char *url, *title, *user;
    wbctl_creds creds;
    unsigned long long boards, elements, batch;
    int json;
} seed_opts;

typedef struct seed_run {
    wbctl_url u;
    char *token;
    unsigned long long requests;
    wbctl_progress bar;
    uint64_t done, total;
} seed_run;

static const char *const seed_types[] = {"rect",  "ellipse", "sticky",
                                          "text",  "arrow",   "stroke"};

static int parse(int argc, char **argv, seed_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"url", required_argument, NULL, 'U'},
        {"boards", required_argument, NULL, 'B'},
        {"elements", required_argument, NULL, 'M'},
        {"title", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'K'},
        {"token", required_argument, NULL, 't'},
        {"secret-file", required_argument, NULL, 'f'},
        {"secret-env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->boards = 3;
    o->elements = 50;
    o->batch = 200;
    o->title = "Seed board";
    o->user = "wbctl-seed";
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        unsigned long long *num = NULL, max = 0;
        switch (c) {
        case 'h':
            printf("usage: %s\n%s", seed_usage, seed_help);
            return WBCTL_OK;
        case 'U': o->url = optarg; break;
        case 'T': o->title = optarg; break;
        case 't': o->creds.token = optarg; break;
        case 'f': o->creds.secret_file = optarg; break;
        case 'e': o->creds.secret_env = optarg; break;
        case 'u': o->user = optarg; break;
        case 'j': o->json = 1; break;
        case 'B': num = &o->boards; max = SEED_MAX_BOARDS; break;
        case 'M': num = &o->elements; max = SEED_MAX_ELEMENTS; break;
        case 'K': num = &o->batch; max = SEED_BATCH_MAX; break;
        default:
            return wbctl_usage_error("seed", seed_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
        if (num && (wbctl_parse_u64(optarg, num) != 0 || *num > max ||
                    (*num == 0 && c != 'M')))
            return wbctl_usage_error("seed", seed_usage, "bad count '%s' "
                                     "(at most %llu)", optarg, max);
    }
    if (optind != argc)
        return wbctl_usage_error("seed", seed_usage, "unexpected argument '%s'",
                                 argv[optind]);
    if (!o->url)
        return wbctl_usage_error("seed", seed_usage, "--url is required");
    if (!!o->creds.token + !!o->creds.secret_file + !!o->creds.secret_env > 1)
        return wbctl_usage_error("seed", seed_usage, "give at most one of "
                                 "--token, --secret-file, --secret-env");
    if (!*o->user || strlen(o->user) > JWT_SUB_MAX || strlen(o->title) > 200)
        return wbctl_usage_error("seed", seed_usage, "bad --user or --title");
    return -1;
}

/* Element k's upsert op. */
static json_t *seed_op(unsigned long long k)
{
    char id[32], text[48];
    snprintf(id, sizeof id, "seed-%05llu", k);
    const char *type = seed_types[k % 6];
    double x = 40 + (double)(k % 10) * 140, y = 40 + (double)(k / 10) * 120;
    json_t *p = json_pack("{s:f,s:f}", "x", x, "y", y);
    switch (k % 6) {
    case 0: /* rect */
    case 1: /* ellipse */
        json_object_update_new(p, json_pack("{s:i,s:i,s:s,s:s,s:i}", "width",
                                            110, "height", 80, "fillColor",
                                            k % 6 ? "#88ccff" : "#ffcc00",
                                            "strokeColor", "#333333",
                                            "strokeWidth", 2));
        break;
    case 2: /* sticky */
    case 3: /* text */
        snprintf(text, sizeof text, "%s %llu", k % 6 == 2 ? "Note" : "Text", k);
        json_object_update_new(p, json_pack("{s:i,s:i,s:s,s:i}", "width", 110,
                                            "height", 80, "text", text,
                                            "fontSize", 16));
        if (k % 6 == 2)
            json_object_set_new(p, "fillColor", json_string("#fff59d"));
        break;
    case 4: /* arrow */
        json_object_update_new(p, json_pack("{s:[[i,i],[i,i]],s:s,s:i}",
                                            "points", 0, 0, 100, 60,
                                            "strokeColor", "#333333",
                                            "strokeWidth", 2));
        break;
    default: /* stroke */
        json_object_update_new(p, json_pack("{s:[[i,i,f],[i,i,f],[i,i,f]],"
                                            "s:s,s:i}", "points", 0, 0, 0.5,
                                            40, 25, 0.7, 90, 10, 0.5,
                                            "strokeColor", "#1e88e5",
                                            "strokeWidth", 3));
    }
    return json_pack("{s:s,s:s,s:s,s:o}", "op", "upsert", "id", id, "type",
                     type, "props", p);
}

/* One API call, resent after Retry-After while the node answers 429/503.
 * Returns the status (answer in *r, caller frees) or -1 (printed). */
static int call(seed_run *s, const char *method, const char *path,
                const char *body, wbctl_http_resp *r)
{
    for (int attempt = 0;; attempt++) {
        char err[512];
        s->requests++;
        if (wbctl_http_request(&s->u, method, path, s->token, body, 0, r, err,
                               sizeof err)) {
            wbctl_progress_end(&s->bar);
            fprintf(stderr, "wbctl seed: %s %s: %s\n", method, path, err);
            return -1;
        }
        if ((r->status != 429 && r->status != 503) || attempt == SEED_RETRIES)
            return r->status;
        int wait = r->retry_after > 0 && r->retry_after <= 10 ? r->retry_after
                                                               : 1;
        wbctl_http_resp_free(r);
        sleep((unsigned)wait);
    }
}

/* Creates board i and fills it; appends its summary to arr. 0 or -1. */
static int seed_board(seed_run *s, const seed_opts *o, unsigned long long i,
                      json_t *arr)
{
    char title[256], path[160];
    snprintf(title, sizeof title, "%s %llu", o->title, i + 1);
    json_t *req = json_pack("{s:s}", "title", title);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    wbctl_http_resp r;
    int st = call(s, "POST", "/api/v1/boards", body, &r);
    free(body);
    json_t *b = st == 201 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(b, "id"));
    if (!id) {
        if (st >= 0)
            wbctl_api_error("seed", "creating a board", &r);
        wbctl_http_resp_free(&r);
        json_decref(b);
        return -1;
    }
    json_t *sum = json_pack("{s:s,s:s,s:I,s:I}", "id", id, "title", title,
                            "elements", (json_int_t)o->elements, "seq",
                            (json_int_t)0);
    wbctl_http_resp_free(&r);
    json_decref(b);
    json_array_append_new(arr, sum);
    snprintf(path, sizeof path, "/api/v1/boards/%s/ops",
             json_string_value(json_object_get(sum, "id")));
    for (unsigned long long k = 0; k < o->elements; k += o->batch) {
        json_t *ops = json_array();
        for (unsigned long long j = k; j < o->elements && j < k + o->batch; j++)
            json_array_append_new(ops, seed_op(j));
        size_t n = json_array_size(ops);
        body = json_dumps(ops, JSON_COMPACT);
        json_decref(ops);
        st = call(s, "POST", path, body, &r);
        free(body);
        json_t *a = st == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        json_t *seq = json_object_get(a, "seq");
        if (!json_is_integer(seq) ||
            json_integer_value(json_object_get(a, "applied")) != (json_int_t)n) {
            if (st >= 0)
                wbctl_api_error("seed", path, &r);
            wbctl_http_resp_free(&r);
            json_decref(a);
            return -1;
        }
        json_object_set(sum, "seq", seq);
        wbctl_http_resp_free(&r);
        json_decref(a);
        s->done += n;
        wbctl_progress_update(&s->bar, s->done, s->total);
    }
    return 0;
}

static void print_summary(const seed_opts *o, const seed_run *s, json_t *arr,
                          double secs)
{
    if (o->json) {
        json_t *j = json_pack("{s:s,s:O,s:I,s:I,s:f}", "url", o->url, "boards",
                              arr, "elements", (json_int_t)s->done, "requests",
                              (json_int_t)s->requests, "seconds", secs);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(j);
        return;
    }
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
        printf("board %s \"%s\": %lld elements, seq %lld\n",
               json_string_value(json_object_get(b, "id")),
               json_string_value(json_object_get(b, "title")),
               (long long)json_integer_value(json_object_get(b, "elements")),
               (long long)json_integer_value(json_object_get(b, "seq")));
    printf("seeded %zu board(s), %llu element(s) through %s in %.2f s "
           "(%llu requests)\n", json_array_size(arr),
           (unsigned long long)s->done, o->url, secs, s->requests);
}

int wbctl_cmd_seed(int argc, char **argv)
{
    seed_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    seed_run s = {0};
    char err[512];
    if (wbctl_url_parse(o.url, &s.u, err, sizeof err))
        return wbctl_usage_error("seed", seed_usage, "%s", err);
    jwt_claims c = {0};
    snprintf(c.sub, sizeof c.sub, "%s", o.user);
    snprintf(c.name, sizeof c.name, "wbctl seed");
    c.role = JWT_ROLE_EDITOR;
    if (wbctl_api_token("seed", &s.u, &o.creds, &c, 3600, &s.token))
        return WBCTL_FAIL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s.total = o.boards * o.elements;
    wbctl_progress_begin(&s.bar, "seed: posting ops");
    json_t *arr = json_array();
    rc = WBCTL_OK;
    for (unsigned long long i = 0; i < o.boards && rc == WBCTL_OK; i++)
        if (seed_board(&s, &o, i, arr))
            rc = WBCTL_FAIL;
    wbctl_progress_end(&s.bar);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc == WBCTL_OK)
        print_summary(&o, &s, arr, secs);
    else
        fprintf(stderr, "wbctl seed: stopped after %zu board(s) and %llu "
                        "element(s)\n", json_array_size(arr),
                (unsigned long long)s.done);
    json_decref(arr);
    free(s.token);
    return rc;
}
