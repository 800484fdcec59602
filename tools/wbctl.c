/*
 * wbctl.c: entry point of the operator CLI: dispatches to a subcommand from
 * one table. A new subcommand (restore, snapshots, export, token, seed,
 * compact, stats, ...) is one line here plus its function in the file of
 * its group (tools/wbctl_<group>.c), declared in wbctl.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "wbctl.h"

static const wbctl_cmd wbctl_cmds[] = {
    {"verify", "check every segment of an oplog directory", wbctl_cmd_verify},
    {"inspect", "print oplog records (text or JSON)", wbctl_cmd_inspect},
    {"repair", "cut torn tails; with --force, cut mid-log corruption",
     wbctl_cmd_repair},
    {"restore", "a board as of a seq, time or snapshot (JSON; fork)",
     wbctl_cmd_restore},
    {"snapshots", "list snapshots (id, board, position, time, size)",
     wbctl_cmd_snapshots},
    {"export", "a board as JSON or SVG", wbctl_cmd_export},
    {"compact", "delete oplog segments nothing needs any more",
     wbctl_cmd_compact},
    {"stats", "segments, records, boards, snapshots, time range",
     wbctl_cmd_stats},
    {"token", "mint a JWT for a user (HS256, the node's secret)",
     wbctl_cmd_token},
    {"seed", "development boards through a node's API (--url)",
     wbctl_cmd_seed},
    {"snapshot", "snapshot take: a snapshot now, by the running node (--url)",
     wbctl_cmd_snapshot},
};

static void print_help(FILE *out)
{
    fprintf(out, "usage: wbctl COMMAND [ARGS...]\n"
                 "       wbctl COMMAND --help\n\ncommands:\n");
    for (size_t i = 0; i < sizeof wbctl_cmds / sizeof wbctl_cmds[0]; i++)
        fprintf(out, "  %-10s %s\n", wbctl_cmds[i].name, wbctl_cmds[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 failure or problems found, "
                 "2 usage error\n");
}

int wbctl_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wbctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return WBCTL_USAGE;
}

int wbctl_parse_u64(const char *s, unsigned long long *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return WBCTL_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return WBCTL_OK;
    }
    for (size_t i = 0; i < sizeof wbctl_cmds / sizeof wbctl_cmds[0]; i++)
        if (strcmp(argv[1], wbctl_cmds[i].name) == 0)
            return wbctl_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "wbctl: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return WBCTL_USAGE;
}
