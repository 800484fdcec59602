/*
 * faultio.c: the fault-injecting wb_io table. See faultio.h for the contract.
 *
 * Every wrapper calls faultio_step(), which counts the operation (under its
 * kind and under FAULTIO_ANY) and returns the rule that applies to it, if
 * any; the wrapper then fails, shortens, or crashes around the base call.
 */
#include "faultio.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "wb_error.h"

static faultio *fio_of(const wb_io *io)
{
    return (faultio *)io->ctx;
}

static int rule_matches(const struct faultio_rule *r, enum faultio_op op,
                        unsigned long nth_of_kind, unsigned long nth_any)
{
    unsigned long n = r->op == FAULTIO_ANY ? nth_any : nth_of_kind;
    if (r->op != FAULTIO_ANY && r->op != op)
        return 0;
    if (n < r->nth)
        return 0;
    return r->times == FAULTIO_FOREVER || n - r->nth < r->times;
}

/* Counts one operation; returns 1 and fills *out if a rule applies. */
static int faultio_step(faultio *f, enum faultio_op op,
                        struct faultio_rule *out)
{
    int hit = 0;
    pthread_mutex_lock(&f->mu);
    unsigned long kind = ++f->count[op];
    unsigned long any = ++f->count[FAULTIO_ANY];
    for (int i = 0; i < f->nrules && !hit; i++) {
        if (rule_matches(&f->rules[i], op, kind, any)) {
            *out = f->rules[i];
            f->fired++;
            hit = 1;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return hit;
}

static void faultio_die(faultio *f)
{
    if (f->crash_signal)
        raise(f->crash_signal);
    _exit(FAULTIO_CRASH_EXIT);
}

/* Handles the actions common to every kind. Returns 1 if the operation
 * must not be performed, with *rc set; crashes for CRASH_BEFORE. */
static int faultio_pre(faultio *f, const struct faultio_rule *r, int *rc)
{
    if (r->action == FAULTIO_CRASH_BEFORE)
        faultio_die(f);
    if (r->action == FAULTIO_FAIL) {
        *rc = -r->err;
        return 1;
    }
    return 0;
}

static void faultio_post(faultio *f, const struct faultio_rule *r)
{
    if (r->action == FAULTIO_CRASH_AFTER)
        faultio_die(f);
}

/* Wraps an operation that returns int and has no length to shorten. */
#define FIO_SIMPLE(kind, call)                                               \
    do {                                                                     \
        faultio *f = fio_of(io);                                             \
        struct faultio_rule r;                                               \
        int rc;                                                              \
        if (!faultio_step(f, kind, &r))                                      \
            return call;                                                     \
        if (faultio_pre(f, &r, &rc))                                         \
            return rc;                                                       \
        rc = call;                                                           \
        faultio_post(f, &r);                                                 \
        return rc;                                                           \
    } while (0)

static int fio_open(const wb_io *io, const char *path, int flags, mode_t mode)
{
    FIO_SIMPLE(FAULTIO_OPEN, fio_of(io)->base->open(fio_of(io)->base, path,
                                                    flags, mode));
}

static int fio_close(const wb_io *io, int fd)
{
    FIO_SIMPLE(FAULTIO_CLOSE, fio_of(io)->base->close(fio_of(io)->base, fd));
}

static ssize_t fio_pread(const wb_io *io, int fd, void *buf, size_t n,
                         off_t off)
{
    faultio *f = fio_of(io);
    struct faultio_rule r;
    int rc;
    if (!faultio_step(f, FAULTIO_PREAD, &r))
        return f->base->pread(f->base, fd, buf, n, off);
    if (faultio_pre(f, &r, &rc))
        return rc;
    ssize_t got = f->base->pread(f->base, fd, buf, n, off);
    faultio_post(f, &r);
    return got;
}

static ssize_t fio_pwrite(const wb_io *io, int fd, const void *buf, size_t n,
                          off_t off)
{
    faultio *f = fio_of(io);
    struct faultio_rule r;
    int rc;
    if (!faultio_step(f, FAULTIO_WRITE, &r))
        return f->base->pwrite(f->base, fd, buf, n, off);
    if (faultio_pre(f, &r, &rc))
        return rc;
    size_t nwrite = n;
    if (r.action == FAULTIO_SHORT || r.action == FAULTIO_PARTIAL_FAIL)
        nwrite = r.arg < n ? r.arg : n;
    ssize_t w = nwrite ? f->base->pwrite(f->base, fd, buf, nwrite, off) : 0;
    faultio_post(f, &r);
    if (r.action == FAULTIO_PARTIAL_FAIL && w >= 0)
        return -r.err;
    return w;
}

static int fio_fdatasync(const wb_io *io, int fd)
{
    FIO_SIMPLE(FAULTIO_FSYNC, fio_of(io)->base->fdatasync(fio_of(io)->base,
                                                          fd));
}

static int fio_ftruncate(const wb_io *io, int fd, off_t len)
{
    FIO_SIMPLE(FAULTIO_FTRUNCATE,
               fio_of(io)->base->ftruncate(fio_of(io)->base, fd, len));
}

static int fio_rename(const wb_io *io, const char *from, const char *to)
{
    FIO_SIMPLE(FAULTIO_RENAME,
               fio_of(io)->base->rename(fio_of(io)->base, from, to));
}

static int fio_unlink(const wb_io *io, const char *path)
{
    FIO_SIMPLE(FAULTIO_UNLINK, fio_of(io)->base->unlink(fio_of(io)->base,
                                                        path));
}

static int fio_fsync_dir(const wb_io *io, const char *dir)
{
    FIO_SIMPLE(FAULTIO_FSYNC_DIR,
               fio_of(io)->base->fsync_dir(fio_of(io)->base, dir));
}

/* io_uring completions: the kernel already did the work. */
static int fio_uring_result(const wb_io *io, enum wb_io_op op, int fd,
                            int res)
{
    faultio *f = fio_of(io);
    if (f->base->uring_result)
        res = f->base->uring_result(f->base, op, fd, res);
    enum faultio_op kind = op == WB_IO_OP_WRITE ? FAULTIO_WRITE
                                                : FAULTIO_FSYNC;
    struct faultio_rule r;
    if (!faultio_step(f, kind, &r))
        return res;
    if (r.action == FAULTIO_CRASH_BEFORE || r.action == FAULTIO_CRASH_AFTER)
        faultio_die(f);
    if (r.action == FAULTIO_FAIL || r.action == FAULTIO_PARTIAL_FAIL)
        return -r.err;
    if (r.action == FAULTIO_SHORT && kind == FAULTIO_WRITE && res > 0 &&
        (size_t)res > r.arg)
        return (int)r.arg;
    return res;
}

void faultio_init(faultio *f, const wb_io *base)
{
    memset(f, 0, sizeof *f);
    f->base = base ? base : wb_io_default();
    pthread_mutex_init(&f->mu, NULL);
    f->io = (wb_io){
        .open = fio_open,
        .close = fio_close,
        .pread = fio_pread,
        .pwrite = fio_pwrite,
        .fdatasync = fio_fdatasync,
        .ftruncate = fio_ftruncate,
        .rename = fio_rename,
        .unlink = fio_unlink,
        .fsync_dir = fio_fsync_dir,
        .uring_result = fio_uring_result,
        .ctx = f,
    };
}

void faultio_destroy(faultio *f)
{
    pthread_mutex_destroy(&f->mu);
}

const wb_io *faultio_io(faultio *f)
{
    return &f->io;
}

int faultio_add(faultio *f, enum faultio_op op, unsigned long nth,
                enum faultio_action action, int err, size_t arg,
                unsigned long times)
{
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    if (f->nrules == FAULTIO_MAX_RULES) {
        rc = WB_ELIMIT;
    } else {
        f->rules[f->nrules++] = (struct faultio_rule){
            .op = op, .nth = nth ? nth : 1, .times = times ? times : 1,
            .action = action, .err = err, .arg = arg};
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void faultio_clear(faultio *f)
{
    pthread_mutex_lock(&f->mu);
    f->nrules = 0;
    pthread_mutex_unlock(&f->mu);
}

void faultio_reset_counts(faultio *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->count, 0, sizeof f->count);
    pthread_mutex_unlock(&f->mu);
}

unsigned long faultio_count(faultio *f, enum faultio_op op)
{
    pthread_mutex_lock(&f->mu);
    unsigned long n = f->count[op];
    pthread_mutex_unlock(&f->mu);
    return n;
}

unsigned long faultio_fired(faultio *f)
{
    pthread_mutex_lock(&f->mu);
    unsigned long n = f->fired;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void faultio_set_crash_signal(faultio *f, int sig)
{
    f->crash_signal = sig;
}
