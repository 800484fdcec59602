/*
 * wbctl_export.c: `wbctl export`: a board as data (the canonical board
 * JSON, as `restore` prints it) or as a picture (SVG, wbctl_svg.c), as of
 * the end of the log or an --until target. Read-only.
 *
 *   wbctl export DATA_DIR --board ID --format json|svg [--until seq:N|TIME]
 *                [--out FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"

static const char export_usage[] =
    "wbctl export DATA_DIR --board ID --format json|svg [--until seq:N|TIME] "
    "[--out FILE]";
static const char export_help[] =
    "Writes board ID of DATA_DIR (restored from snapshot + oplog, as `wbctl\n"
    "restore` does) to stdout or FILE:\n"
    "  --format json   the board JSON (the shape GET /api/v1/boards/{id}\n"
    "                  serves)\n"
    "  --format svg    an SVG picture: one <g data-type=...> per element in\n"
    "                  z order (rect, ellipse, line, arrow with a marker,\n"
    "                  freehand stroke as a path, text, sticky note as a\n"
    "                  filled rect with its text); same board, same bytes\n"
    "--until takes seq:N, ISO 8601 (2026-11-28T17:05:00Z) or @UNIX_SECONDS.\n"
    "Read-only: safe while a node runs. Exit 0 ok, 1 failure, 2 usage.\n";

int wbctl_cmd_export(int argc, char **argv)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"board", required_argument, NULL, 'b'},
        {"format", required_argument, NULL, 'f'},
        {"until", required_argument, NULL, 'u'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *bid = NULL, *format = NULL, *until = NULL, *out = NULL;
    opterr = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'h':
            printf("usage: %s\n%s", export_usage, export_help);
            return WBCTL_OK;
        case 'b': bid = optarg; break;
        case 'f': format = optarg; break;
        case 'u': until = optarg; break;
        case 'o': out = optarg; break;
        default:
            return wbctl_usage_error("export", export_usage,
                                     "unknown or invalid option '%s'",
                                     argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return wbctl_usage_error("export", export_usage,
                                 optind >= argc ? "missing DATA_DIR"
                                                : "too many arguments");
    if (!bid)
        return wbctl_usage_error("export", export_usage, "--board is required");
    if (!format || (strcmp(format, "json") && strcmp(format, "svg")))
        return wbctl_usage_error("export", export_usage,
                                 "--format json or --format svg is required");
    restore_target t = {.kind = RESTORE_LATEST};
    if (until && wbctl_parse_until(until, &t) != 0)
        return wbctl_usage_error("export", export_usage,
                                 "bad --until '%s' (want seq:N, ISO 8601 or "
                                 "@UNIX)", until);
    wbctl_data d;
    if (wbctl_data_open("export", argv[optind], 0, 0, &d) != 0)
        return WBCTL_FAIL;
    restore_result r;
    int ok = wbctl_restore("export", &d, bid, &t, &r) == 0;
    char *json = NULL;
    size_t len = 0;
    int rc = ok ? board_to_json(r.board, &json, &len) : 0;
    FILE *f = NULL;
    if (ok && !rc) {
        f = out ? fopen(out, "w") : stdout;
        if (!f) {
            perror(out);
            ok = 0;
        }
    }
    if (ok && !rc && f) {
        if (!strcmp(format, "svg"))
            rc = wbctl_svg_render(json, f);
        else if (fwrite(json, 1, len, f) != len || fputc('\n', f) == EOF)
            rc = -EIO;
        if (out ? fclose(f) != 0 : fflush(f) != 0)
            rc = rc ? rc : -EIO;
    }
    if (rc) {
        fprintf(stderr, "wbctl export: %s\n", wb_strerror(rc));
        ok = 0;
    }
    free(json);
    restore_result_free(&r);
    wbctl_data_close(&d);
    return ok ? WBCTL_OK : WBCTL_FAIL;
}
