/*
 * wbctl_oplog.c: the oplog subcommands of wbctl.
 *
 * DATA_DIR is a node's data directory (its oplog is DATA_DIR/oplog) or a
 * bare oplog directory (wbctl_oplog_dir decides).
 *
 *   wbctl verify DATA_DIR                 every segment checked in full;
 *                                         one line per problem:
 *                                         SEGMENT:OFFSET: reason
 *   wbctl inspect DATA_DIR [--from SEQ] [--limit N] [--json]
 *   wbctl repair DATA_DIR [--force]
 *
 * Payload rendering goes through wbctl_renderers, a table keyed by record
 * type: the engine's op decoder plugs in there to print ops instead of hex.
 * They use the engine's reader/verify/repair (oplog.h), the same code the
 * node runs, the way pg_waldump reuses the server's WAL reader.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oplog.h"
#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"
#include "wb_records.h"
#include "wbctl.h"
#include "wbctl_data.h"
#include "wbctl_ops.h"

/* ---- payload renderers ------------------------------------------------ */

/* Writes a rendering of rec's payload: for text, free text on one line; for
 * JSON, one JSON value. */
typedef void (*wbctl_render_fn)(FILE *out, const oplog_record *rec, int json);

typedef struct wbctl_renderer {
    uint16_t type;
    const char *name; /* type name shown by inspect */
    wbctl_render_fn render;
} wbctl_renderer;

/* Record types with a decoder. Add {type, "name", fn} entries here; types
 * without one print as hex. The last entry is a sentinel. */
static const wbctl_renderer wbctl_renderers[] = {
    {WB_REC_OPS, "ops", wbctl_render_ops},
    {0, NULL, NULL},
};

static const wbctl_renderer *find_renderer(uint16_t type)
{
    for (const wbctl_renderer *r = wbctl_renderers; r->render; r++)
        if (r->type == type)
            return r;
    return NULL;
}

static void put_hex(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}



static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- option parsing ---------------------------------------------------- */

typedef struct oplog_opts {
    const char *dir; /* the oplog directory (DATA_DIR/oplog or DATA_DIR) */
    char dir_buf[PATH_MAX];
    int json, force;
    unsigned long long from, limit;
} oplog_opts;

enum { OPT_HELP = 'h', OPT_JSON = 1000, OPT_FROM, OPT_LIMIT, OPT_FORCE };

/* Parses argv for command cmd accepting the options in `allowed` (a
 * subset of "jflF": json, from, limit, force). Returns -1 to go on, or an
 * exit code (help printed, or usage error). */
static int parse_opts(int argc, char **argv, const char *usage,
                      const char *help, const char *allowed, oplog_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, OPT_HELP},
        {"json", no_argument, NULL, OPT_JSON},
        {"from", required_argument, NULL, OPT_FROM},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"force", no_argument, NULL, OPT_FORCE},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    memset(o, 0, sizeof *o);
    o->from = 1;
    opterr = 0;
    optind = 0; /* GNU: full reinitialisation */
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case OPT_HELP:
            printf("usage: %s\n%s", usage, help);
            return WBCTL_OK;
        case OPT_JSON:
            ok = strchr(allowed, 'j') != NULL;
            o->json = 1;
            break;
        case OPT_FORCE:
            ok = strchr(allowed, 'F') != NULL;
            o->force = 1;
            break;
        case OPT_FROM:
            if (!strchr(allowed, 'f'))
                ok = 0;
            else if (wbctl_parse_u64(optarg, &o->from) != 0)
                return wbctl_usage_error(cmd, usage, "bad --from value '%s'",
                                         optarg);
            break;
        case OPT_LIMIT:
            if (!strchr(allowed, 'l'))
                ok = 0;
            else if (wbctl_parse_u64(optarg, &o->limit) != 0)
                return wbctl_usage_error(cmd, usage, "bad --limit value '%s'",
                                         optarg);
            break;
        default:
            ok = 0;
        }
        if (!ok)
            return wbctl_usage_error(cmd, usage, "unknown or invalid option '%s'",
                                     argv[optind - 1]);
    }
    if (optind + 1 != argc)
        return wbctl_usage_error(cmd, usage, optind >= argc
                                                 ? "missing DATA_DIR"
                                                 : "too many arguments");
    o->dir = wbctl_oplog_dir(argv[optind], o->dir_buf, sizeof o->dir_buf);
    return -1;
}

/* ---- verify ------------------------------------------------------------ */

static void print_problem(void *arg, const char *segment, uint64_t offset,
                          int code, const char *reason)
{
    (*(int *)arg)++;
    printf("%s:%" PRIu64 ": %s\n", segment, offset, reason);
}

/* verify: problems and a per-segment progress bar (erased before each
 * problem line so that the two never share a line on a terminal). */
typedef struct verify_ctx {
    int problems;
    wbctl_progress bar;
} verify_ctx;

static void verify_problem(void *arg, const char *segment, uint64_t offset,
                           int code, const char *reason)
{
    verify_ctx *v = arg;
    wbctl_progress_end(&v->bar);
    fflush(stdout);
    print_problem(&v->problems, segment, offset, code, reason);
    fflush(stdout);
}

static void verify_progress(void *arg, size_t done, size_t total)
{
    verify_ctx *v = arg;
    wbctl_progress_update(&v->bar, done, total);
}

int wbctl_cmd_verify(int argc, char **argv)
{
    static const char usage[] = "wbctl verify DATA_DIR";
    static const char help[] =
        "Checks every segment of the oplog in DATA_DIR in full: headers,\n"
        "record checksums and framing, sequence continuity. Prints one line\n"
        "per problem, SEGMENT:OFFSET: reason; on a terminal a progress bar\n"
        "(segments checked) on stderr. Exit 0: clean; 1: problems found or\n"
        "the check failed; 2: usage error.\n";
    oplog_opts o;
    int rc = parse_opts(argc, argv, usage, help, "", &o);
    if (rc >= 0)
        return rc;
    verify_ctx v = {0};
    wbctl_progress_begin(&v.bar, "verify: checking segments");
    rc = oplog_verify_progress(o.dir, verify_problem, &v, verify_progress, &v);
    wbctl_progress_end(&v.bar);
    if (rc < 0) {
        fprintf(stderr, "wbctl verify: %s: %s\n", o.dir, wb_strerror(rc));
        return WBCTL_FAIL;
    }
    if (rc > 0) {
        fprintf(stderr, "wbctl verify: %d problem(s) in %s\n", rc, o.dir);
        return WBCTL_FAIL;
    }
    uint64_t *firsts;
    size_t n = 0;
    if (oplog_segment_list(o.dir, &firsts, &n) == 0)
        free(firsts);
    printf("%s: clean (%zu segment%s)\n", o.dir, n, n == 1 ? "" : "s");
    return WBCTL_OK;
}

/* ---- inspect ------------------------------------------------------------ */

static void print_record_text(const oplog_record *rec, const char *seg,
                              uint64_t off)
{
    char when[80];
    wbctl_format_time(rec->time_us, when, sizeof when);
    const wbctl_renderer *r = find_renderer(rec->type);
    printf("%-8" PRIu64 " %s type=%u%s%s flags=0x%x size=%u %s:%" PRIu64 " ",
           rec->seq, when, rec->type, r ? "/" : "", r ? r->name : "",
           rec->flags, rec->len, base_name(seg), off);
    if (r)
        r->render(stdout, rec, 0);
    else
        put_hex(stdout, rec->payload, rec->len);
    putchar('\n');
}

static void print_record_json(const oplog_record *rec, const char *seg,
                              uint64_t off, int first)
{
    char when[80];
    wbctl_format_time(rec->time_us, when, sizeof when);
    const wbctl_renderer *r = find_renderer(rec->type);
    printf("%s\n  {\"seq\": %" PRIu64 ", \"time\": \"%s\", \"time_us\": %"
           PRId64 ", \"type\": %u, \"flags\": %u, \"size\": %u, "
           "\"segment\": ",
           first ? "" : ",", rec->seq, when, rec->time_us, rec->type,
           rec->flags, rec->len);
    wbctl_json_str(stdout, base_name(seg));
    printf(", \"offset\": %" PRIu64 ", \"payload_hex\": \"", off);
    put_hex(stdout, rec->payload, rec->len);
    putchar('"');
    if (r) {
        printf(", \"type_name\": ");
        wbctl_json_str(stdout, r->name);
        printf(", \"payload\": ");
        r->render(stdout, rec, 1);
    }
    putchar('}');
}

int wbctl_cmd_inspect(int argc, char **argv)
{
    static const char usage[] =
        "wbctl inspect DATA_DIR [--from SEQ] [--limit N] [--json]";
    static const char help[] =
        "Prints the records of the oplog in DATA_DIR from SEQ (default 1),\n"
        "at most N of them (default all): seq, time (ISO 8601, UTC), type,\n"
        "flags, payload size, SEGMENT:OFFSET and the payload (hex, or decoded\n"
        "for record types wbctl knows). --json prints one JSON object:\n"
        "{\"records\": [...], \"end\": \"clean\"|\"error\", \"error\": ...}.\n"
        "Exit 1 if the log is corrupt where it was read.\n";
    oplog_opts o;
    int rc = parse_opts(argc, argv, usage, help, "jfl", &o);
    if (rc >= 0)
        return rc;
    oplog_reader *r = NULL;
    rc = oplog_reader_open(o.dir, o.from, &r);
    if (o.json)
        printf("{\"records\": [");
    unsigned long long shown = 0;
    oplog_record rec;
    while (rc == 0 && (!o.limit || shown < o.limit)) {
        rc = oplog_reader_next(r, &rec);
        if (rc != 1)
            break;
        uint64_t off;
        const char *seg = oplog_reader_where(r, &off);
        if (o.json)
            print_record_json(&rec, seg, off, shown == 0);
        else
            print_record_text(&rec, seg, off);
        shown++;
        rc = 0;
    }
    uint64_t off = 0;
    const char *where = r ? oplog_reader_where(r, &off) : o.dir;
    const char *reason = r ? oplog_reader_reason(r) : NULL;
    if (!reason)
        reason = wb_strerror(rc);
    if (o.json) {
        printf("\n], \"end\": \"%s\"", rc < 0 ? "error" : "clean");
        if (rc < 0) {
            printf(", \"error\": {\"code\": \"%s\", \"segment\": ",
                   wb_errname(rc));
            wbctl_json_str(stdout, where);
            printf(", \"offset\": %" PRIu64 ", \"reason\": ", off);
            wbctl_json_str(stdout, reason);
            putchar('}');
        }
        printf("}\n");
    }
    if (rc < 0)
        fprintf(stderr, "wbctl inspect: %s:%" PRIu64 ": %s (%s)\n", where, off,
                reason, wb_errname(rc));
    oplog_reader_close(r);
    return rc < 0 ? WBCTL_FAIL : WBCTL_OK;
}

/* ---- repair ------------------------------------------------------------- */

int wbctl_cmd_repair(int argc, char **argv)
{
    static const char usage[] = "wbctl repair DATA_DIR [--force]";
    static const char help[] =
        "Repairs the oplog in DATA_DIR (the node must be stopped): cuts a\n"
        "torn tail and an unfinished batch at the end of the newest segment.\n"
        "Mid-log corruption is refused unless --force, which cuts the log at\n"
        "the first corrupt place: every record after it is lost. Prints each\n"
        "action as SEGMENT:OFFSET: what was done. Exit 0: repaired or nothing\n"
        "to do; 1: refused or failed; 2: usage error.\n";
    oplog_opts o;
    int rc = parse_opts(argc, argv, usage, help, "F", &o);
    if (rc >= 0)
        return rc;
    int actions = 0;
    rc = oplog_repair(o.dir, o.force, print_problem, &actions);
    if (rc == WB_ECORRUPT && !o.force) {
        fprintf(stderr, "wbctl repair: refused: mid-log corruption in %s; "
                        "rerun with --force to cut the log there\n", o.dir);
        return WBCTL_FAIL;
    }
    if (rc) {
        fprintf(stderr, "wbctl repair: %s: %s\n", o.dir, wb_strerror(rc));
        return WBCTL_FAIL;
    }
    if (!actions)
        printf("%s: nothing to repair\n", o.dir);
    return WBCTL_OK;
}
