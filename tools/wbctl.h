/*
 * wbctl.h: what the wbctl subcommand files share.
 *
 * wbctl is the operator CLI. Each group of subcommands lives in its own
 * file (wbctl_oplog.c: verify, inspect, repair; later wbctl_snap.c, ...)
 * and exports one function per subcommand; wbctl.c lists them in its table.
 *
 * Exit codes of every subcommand: 0 success, 1 failure or problems found
 * (corruption, I/O error, refused repair), 2 usage error (unknown option,
 * missing or extra argument). --help prints usage to stdout and exits 0.
 */
#ifndef WBCTL_H
#define WBCTL_H

#include <stdint.h>
#include <stdio.h>

enum { WBCTL_OK = 0, WBCTL_FAIL = 1, WBCTL_USAGE = 2 };

/* A subcommand: argv[0] is its name; returns the exit code. */
typedef int (*wbctl_fn)(int argc, char **argv);

typedef struct wbctl_cmd {
    const char *name;
    const char *summary; /* one line for `wbctl --help` */
    wbctl_fn fn;
} wbctl_cmd;

/* Prints "wbctl NAME: msg" and the subcommand's usage hint to stderr and
 * returns WBCTL_USAGE. */
int wbctl_usage_error(const char *cmd, const char *usage, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

/* Parses an unsigned decimal option value; 0 on success. */
int wbctl_parse_u64(const char *s, unsigned long long *out);

/* Subcommands of wbctl_oplog.c. */
int wbctl_cmd_verify(int argc, char **argv);
int wbctl_cmd_inspect(int argc, char **argv);
int wbctl_cmd_repair(int argc, char **argv);

/* wbctl_restore.c, wbctl_snap.c, wbctl_export.c, wbctl_compact.c,
 * wbctl_stats.c, wbctl_token.c (data-directory helpers: wbctl_data.h). */
int wbctl_cmd_restore(int argc, char **argv);
int wbctl_cmd_snapshots(int argc, char **argv);
int wbctl_cmd_export(int argc, char **argv);
int wbctl_cmd_compact(int argc, char **argv);
int wbctl_cmd_stats(int argc, char **argv);
int wbctl_cmd_token(int argc, char **argv);

/* wbctl_seed.c, wbctl_snaptake.c: through a running node's REST API
 * (HTTP client and credentials: wbctl_http.h). */
int wbctl_cmd_seed(int argc, char **argv);
int wbctl_cmd_snapshot(int argc, char **argv);

/* wbctl_progress.c: a progress bar on stderr, only on a terminal. */
typedef struct wbctl_progress {
    int on, drawn;
    const char *label;
    unsigned long long last_ns;
} wbctl_progress;
void wbctl_progress_begin(wbctl_progress *p, const char *label);
void wbctl_progress_update(wbctl_progress *p, uint64_t done, uint64_t total);
void wbctl_progress_end(wbctl_progress *p);

/* wbctl_svg.c: board_json (board_to_json's document) as SVG into out.
 * 0, WB_EMALFORMED (not a board document) or WB_ENOMEM. */
int wbctl_svg_render(const char *board_json, FILE *out);

#endif /* WBCTL_H */
