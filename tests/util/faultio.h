/*
 * faultio.h: a wb_io table that breaks on purpose (tests only).
 *
 * The storage code does all its file I/O through a wb_io table (wb_io.h).
 * faultio wraps another table (normally wb_io_default()) and, following
 * SQLite's test VFS, lets a test:
 *
 *   - count operations by kind (faultio_count);
 *   - make the Nth operation of a kind fail with a chosen errno (EIO, ENOSPC,
 *     ...) without doing it;
 *   - make the Nth write short: only k bytes are written and k is returned;
 *   - write only k bytes and then fail with an errno (a disk filling up);
 *   - "crash" at the Nth operation: _exit(FAULTIO_CRASH_EXIT) (or raise a
 *     signal) before doing it or right after doing it;
 *   - apply the same rules to io_uring completions: the writer passes every
 *     completion through io->uring_result, which faultio counts as a WRITE
 *     or FSYNC. The kernel has already done the I/O then, so "fail" and
 *     "short" only make the writer believe less was done than was (the safe
 *     direction wb_io.h requires), and "crash before" equals "crash after".
 *
 * Kinds. FAULTIO_WRITE counts pwrite calls and io_uring write completions
 * together, FAULTIO_FSYNC counts fdatasync calls and io_uring fsync
 * completions together, so one test script drives both writer paths.
 * FAULTIO_ANY counts every operation of every kind (a "step" for moving a
 * crash point across a whole run, one step at a time).
 *
 * Rules. faultio_add() arms a rule: "the nth operation of kind K (1-based,
 * counted from the last faultio_reset_counts) and the times-1 after it get
 * action A". times == FAULTIO_FOREVER keeps failing (a dead disk). The
 * first rule that matches an operation wins; several rules may be armed
 * (e.g. a short write followed by ENOSPC on the continuation).
 *
 * Usage:
 *     faultio f;
 *     faultio_init(&f, NULL);
 *     faultio_add(&f, FAULTIO_FSYNC, 3, FAULTIO_FAIL, EIO, 0, 1);
 *     opts.io = faultio_io(&f);       // borrowed: f must outlive the user
 *     ...
 *     faultio_destroy(&f);
 *
 * Threads: every entry point may be called from any thread (a mutex guards
 * the counters and rules). A faultio lives in the test's memory; a forked
 * child inherits a copy (state is per process).
 */
#ifndef WB_FAULTIO_H
#define WB_FAULTIO_H

#include <pthread.h>
#include <stddef.h>

#include "wb_io.h"

#define FAULTIO_CRASH_EXIT 99 /* exit status of a simulated crash */
#define FAULTIO_FOREVER (~0ul)
#define FAULTIO_MAX_RULES 8

enum faultio_op {
    FAULTIO_ANY = 0,
    FAULTIO_OPEN,
    FAULTIO_CLOSE,
    FAULTIO_PREAD,
    FAULTIO_WRITE, /* pwrite + io_uring write completions */
    FAULTIO_FSYNC, /* fdatasync + io_uring fsync completions */
    FAULTIO_FTRUNCATE,
    FAULTIO_RENAME,
    FAULTIO_UNLINK,
    FAULTIO_FSYNC_DIR,
    FAULTIO_NOPS
};

enum faultio_action {
    FAULTIO_FAIL = 1,         /* return -err, do nothing */
    FAULTIO_SHORT,            /* write min(n, arg) bytes, return that */
    FAULTIO_PARTIAL_FAIL,     /* write min(n, arg) bytes, return -err */
    FAULTIO_CRASH_BEFORE,     /* die before doing the operation */
    FAULTIO_CRASH_AFTER,      /* do it, then die */
};

struct faultio_rule {
    enum faultio_op op;
    unsigned long nth;   /* first matching operation, 1-based */
    unsigned long times; /* how many from nth on; FAULTIO_FOREVER */
    enum faultio_action action;
    int err;    /* positive errno for FAIL / PARTIAL_FAIL */
    size_t arg; /* bytes for SHORT / PARTIAL_FAIL */
};

typedef struct faultio {
    wb_io io;          /* the table to hand out; io.ctx points here */
    const wb_io *base; /* wrapped table; borrowed */
    pthread_mutex_t mu;
    unsigned long count[FAULTIO_NOPS]; /* guarded by mu */
    struct faultio_rule rules[FAULTIO_MAX_RULES];
    int nrules;
    unsigned long fired; /* rules applied so far */
    int crash_signal;    /* 0: _exit(FAULTIO_CRASH_EXIT); else raise() it */
} faultio;

/* Initializes f around base (NULL: wb_io_default()). */
void faultio_init(faultio *f, const wb_io *base);
void faultio_destroy(faultio *f);

/* The table to pass to the code under test. Valid while f lives. */
const wb_io *faultio_io(faultio *f);

/* Arms a rule. Returns 0, or WB_ELIMIT when FAULTIO_MAX_RULES are armed. */
int faultio_add(faultio *f, enum faultio_op op, unsigned long nth,
                enum faultio_action action, int err, size_t arg,
                unsigned long times);

/* Disarms every rule (counting goes on): "the disk is healthy again". */
void faultio_clear(faultio *f);

/* Zeroes the operation counters (rules count from here). */
void faultio_reset_counts(faultio *f);

/* Operations of kind op seen so far (FAULTIO_ANY: all kinds). */
unsigned long faultio_count(faultio *f, enum faultio_op op);

/* How many times a rule was applied. */
unsigned long faultio_fired(faultio *f);

/* Crash with this signal (e.g. SIGKILL) instead of _exit(99). */
void faultio_set_crash_signal(faultio *f, int sig);

#endif /* WB_FAULTIO_H */
