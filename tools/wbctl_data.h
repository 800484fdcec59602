/*
 * wbctl_data.h: what the data-directory subcommands of wbctl share
 * (restore, snapshots, export, compact, stats): finding the oplog and the
 * snapshot store of a DATA_DIR, the node's directory lock, time and target
 * parsing, small JSON helpers. Implemented in wbctl_data.c.
 *
 * Layout. The node (engine.c) keeps DATA_DIR/oplog (segment files and the
 * LOCK file it flocks while it runs) and DATA_DIR/snap (the LMDB snapshot
 * store). A directory with neither subdirectory is taken as a bare oplog
 * directory (what verify/inspect/repair and the oplog tests use): it has
 * no snapshot store.
 *
 * Locking. A running node holds flock(LOCK_EX) on DATA_DIR/oplog/LOCK.
 * Read-only subcommands never take it (LMDB read-only transactions and the
 * oplog reader are safe beside the node). Writing subcommands take it with
 * LOCK_NB before they open anything for writing and hold it until they
 * exit, so a node cannot start under them either.
 */
#ifndef WBCTL_DATA_H
#define WBCTL_DATA_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "restore.h"
#include "snap.h"
#include "wbctl.h"

typedef struct wbctl_data {
    char root[PATH_MAX];  /* as given */
    char oplog[PATH_MAX]; /* DATA/oplog, or DATA for a bare oplog dir */
    char snap[PATH_MAX];  /* DATA/snap; "" for a bare oplog dir */
    snap_store *store;    /* NULL when there is no store; owned */
    int lock_fd;          /* >= 0 while this process holds the lock */
} wbctl_data;

/* Opens the data directory dir for subcommand cmd. writable: takes the
 * node's lock first (refusing with a message naming the lock if a node
 * holds it), creates DATA/oplog and DATA/snap if create is set, and opens
 * the store for writing; otherwise opens the store read-only (a missing
 * store is not an error: d->store stays NULL). Prints what went wrong to
 * stderr; returns 0 or -1. Release with wbctl_data_close. */
int wbctl_data_open(const char *cmd, const char *dir, int writable,
                    int create, wbctl_data *d);
void wbctl_data_close(wbctl_data *d);

/* The oplog directory of dir: dir/oplog when dir is a node's data
 * directory (it has oplog/ or snap/), else dir itself. Returns buf or dir. */
const char *wbctl_oplog_dir(const char *dir, char *buf, size_t cap);

/* *last: the seq of the last record in oplog_dir (0 when it is empty or
 * missing). Returns 0 or a reader error. */
int wbctl_oplog_last_seq(const char *dir, uint64_t *last);

/* Takes flock(LOCK_EX | LOCK_NB) on oplog_dir/LOCK (creating the file).
 * Returns the fd, or -1 after printing "in use by a running node" (or the
 * system error) for cmd. */
int wbctl_lock_oplog(const char *cmd, const char *oplog_dir);

/* Parses a point in time: ISO 8601 UTC "2026-11-28T17:05:00Z" (optional
 * ".ffffff" fraction, "Z" or "+HH:MM"/"-HH:MM" offset), or "@SECONDS"
 * (Unix seconds, optional fraction). 0 and *us, or -1. */
int wbctl_parse_time(const char *s, int64_t *us);

/* Parses --until: "seq:N" (local oplog seq) or a time as above. A bare
 * number is refused (ambiguous between a seq and Unix seconds). 0 or -1. */
int wbctl_parse_until(const char *s, restore_target *t);

/* ISO 8601 UTC with microseconds: 2023-11-14T22:13:20.000001Z. */
void wbctl_format_time(int64_t us, char *buf, size_t n);

/* Writes s as a JSON string (quotes, escapes). */
void wbctl_json_str(FILE *out, const char *s);

/* Restores board per target t from d (snapshot store, if any, plus the
 * oplog); on failure prints the error (and where replay stopped) for cmd
 * and returns -1. out as restore_board's. */
int wbctl_restore(const char *cmd, wbctl_data *d, const char *board_name,
                  const restore_target *t, restore_result *out);

/* A progress bar over an oplog replay (restore_board, restore_fork) on a
 * terminal: begin fills opts->progress; the total is estimated as the
 * first seq of the newest segment of oplog_dir. End it before printing. */
typedef struct wbctl_replay_bar {
    wbctl_progress bar;
    uint64_t total;
    char label[64];
} wbctl_replay_bar;
void wbctl_replay_bar_begin(wbctl_replay_bar *rb, const char *cmd,
                            const char *oplog_dir, restore_options *opts);
void wbctl_replay_bar_end(wbctl_replay_bar *rb);

/* Prints restore error rc of board (and r->where when set) for cmd. */
void wbctl_restore_error(const char *cmd, const char *board_name, int rc,
                         const restore_result *r);

#endif /* WBCTL_DATA_H */
