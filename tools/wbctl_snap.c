/*
 * wbctl_snap.c: `wbctl snapshots`: the snapshots of a data directory, from
 * a read-only open of DATA_DIR/snap (snap_list: keys and headers, no body
 * check), safe while a node runs.
 *
 *   wbctl snapshots DATA_DIR [--board ID] [--json]
 *
 * Text: one line per snapshot (id, board, oplog position, created at,
 * elements, stored bytes, raw bytes). JSON: {"snapshots": [{"id", "board",
 * "pos", "created", "created_us", "elements", "bytes", "raw_bytes",
 * "status"}, ...]}; status is "ok" or the header's decode error name.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"

static const char snap_usage[] = "wbctl snapshots DATA_DIR [--board ID] [--json]";
static const char snap_help[] =
    "Lists the snapshots in DATA_DIR/snap (all boards, or board ID): id,\n"
    "board, oplog position covered (ops with seq <= pos are in it), creation\n"
    "time (ISO 8601 UTC), elements, stored (compressed) and raw bytes.\n"
    "Opens the store read-only: safe while a node runs. --json prints\n"
    "{\"snapshots\": [...]}. A damaged header is listed with its error.\n"
    "Exit 0 ok (also when there are none), 1 failure, 2 usage error.\n";

typedef struct list_ctx {
    int json;
    unsigned n;
} list_ctx;

static int print_snap(void *arg, const snap_info *i)
{
    list_ctx *c = arg;
    char when[64];
    wbctl_format_time(i->created_us, when, sizeof when);
    const char *status = i->status ? wb_errname(i->status) : "ok";
    if (c->json) {
        printf("%s\n  {\"id\": %" PRIu64 ", \"board\": ", c->n ? "," : "",
               i->id);
        wbctl_json_str(stdout, i->board);
        printf(", \"pos\": %" PRIu64 ", \"created\": \"%s\", \"created_us\": %"
               PRId64 ", \"elements\": %u, \"bytes\": %" PRIu64
               ", \"raw_bytes\": %" PRIu64 ", \"status\": \"%s\"}",
               i->pos, i->status ? "" : when, i->created_us, i->elements,
               i->value_size, i->raw_size, status);
    } else {
        if (!c->n)
            printf("%-8s %-24s %-10s %-27s %9s %10s %10s\n", "ID", "BOARD",
                   "POS", "CREATED", "ELEMENTS", "BYTES", "RAW");
        printf("%-8" PRIu64 " %-24s %-10" PRIu64 " %-27s %9u %10" PRIu64
               " %10" PRIu64 "%s%s\n",
               i->id, i->board, i->pos, i->status ? "?" : when, i->elements,
               i->value_size, i->raw_size, i->status ? "  DAMAGED: " : "",
               i->status ? status : "");
    }
    c->n++;
    return 0;
}

int wbctl_cmd_snapshots(int argc, char **argv)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"board", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *board_id = NULL;
    list_ctx c = {0, 0};
    opterr = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: %s\n%s", snap_usage, snap_help);
            return WBCTL_OK;
        } else if (ch == 'b') {
            board_id = optarg;
        } else if (ch == 'j') {
            c.json = 1;
        } else {
            return wbctl_usage_error("snapshots", snap_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return wbctl_usage_error("snapshots", snap_usage,
                                 optind >= argc ? "missing DATA_DIR"
                                                : "too many arguments");
    wbctl_data d;
    if (wbctl_data_open("snapshots", argv[optind], 0, 0, &d) != 0)
        return WBCTL_FAIL;
    int rc = 0;
    if (c.json)
        printf("{\"snapshots\": [");
    if (d.store)
        rc = snap_list(d.store, board_id, print_snap, &c);
    if (c.json)
        printf("%s]}\n", c.n ? "\n" : "");
    else if (!c.n)
        printf("no snapshots in %s\n", argv[optind]);
    wbctl_data_close(&d);
    if (rc < 0) {
        fprintf(stderr, "wbctl snapshots: %s: %s\n", argv[optind],
                wb_strerror(rc));
        return WBCTL_FAIL;
    }
    return WBCTL_OK;
}
