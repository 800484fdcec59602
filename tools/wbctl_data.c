/*
 * wbctl_data.c: data-directory access shared by wbctl's restore, snapshots,
 * export, compact and stats (layout, the node's lock, time parsing,
 * restore with error reporting). See wbctl_data.h for the rules.
 */
#include "wbctl_data.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oplog_internal.h"
#include "wb_error.h"
#include "wbctl.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *wbctl_oplog_dir(const char *dir, char *buf, size_t cap)
{
    char snapdir[PATH_MAX];
    snprintf(buf, cap, "%s/oplog", dir);
    snprintf(snapdir, sizeof snapdir, "%s/snap", dir);
    return is_dir(buf) || is_dir(snapdir) ? buf : dir;
}

int wbctl_lock_oplog(const char *cmd, const char *oplog_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/LOCK", oplog_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "wbctl %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            fprintf(stderr,
                    "wbctl %s: refused: %s is locked: a node is running on "
                    "this data directory (stop it, or point wbctl at a copy)\n",
                    cmd, path);
        else
            fprintf(stderr, "wbctl %s: %s: %s\n", cmd, path, strerror(e));
        return -1;
    }
    return fd;
}

static int open_store(const char *cmd, wbctl_data *d, int writable)
{
    snap_options so;
    snap_options_init(&so);
    so.read_only = !writable;
    int rc = snap_store_open(d->snap, &so, &d->store);
    if (rc == WB_ENOTFOUND && !writable) {
        d->store = NULL; /* no snapshots yet */
        return 0;
    }
    if (rc) {
        fprintf(stderr, "wbctl %s: snapshot store %s: %s\n", cmd, d->snap,
                wb_strerror(rc));
        return -1;
    }
    return 0;
}

int wbctl_data_open(const char *cmd, const char *dir, int writable,
                    int create, wbctl_data *d)
{
    memset(d, 0, sizeof *d);
    d->lock_fd = -1;
    snprintf(d->root, sizeof d->root, "%s", dir);
    if (create && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "wbctl %s: %s: %s\n", cmd, dir, strerror(errno));
        return -1;
    }
    if (!is_dir(dir)) {
        fprintf(stderr, "wbctl %s: %s: not a directory\n", cmd, dir);
        return -1;
    }
    snprintf(d->oplog, sizeof d->oplog, "%s/oplog", dir);
    snprintf(d->snap, sizeof d->snap, "%s/snap", dir);
    if (create) {
        if ((mkdir(d->oplog, 0755) != 0 && errno != EEXIST) ||
            (mkdir(d->snap, 0755) != 0 && errno != EEXIST)) {
            fprintf(stderr, "wbctl %s: %s: %s\n", cmd, dir, strerror(errno));
            return -1;
        }
    }
    int node_layout = is_dir(d->oplog) || is_dir(d->snap);
    if (!node_layout) { /* a bare oplog directory */
        snprintf(d->oplog, sizeof d->oplog, "%s", dir);
        d->snap[0] = 0;
    }
    if (writable && (d->lock_fd = wbctl_lock_oplog(cmd, d->oplog)) < 0)
        return -1;
    if (d->snap[0] && (is_dir(d->snap) || writable) &&
        open_store(cmd, d, writable) != 0) {
        wbctl_data_close(d);
        return -1;
    }
    return 0;
}

void wbctl_data_close(wbctl_data *d)
{
    snap_store_close(d->store);
    d->store = NULL;
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* drops the flock */
    d->lock_fd = -1;
}

/* ---- time --------------------------------------------------------------- */

/* Parses ".ffffff" (1..6 digits) at *p into microseconds. */
static int parse_frac(const char **p, int64_t *us)
{
    *us = 0;
    if (**p != '.')
        return 0;
    (*p)++;
    int digits = 0;
    int64_t v = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 6)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (!digits)
        return -1;
    while (digits++ < 6)
        v *= 10;
    *us = v;
    return 0;
}

static int parse_unix(const char *s, int64_t *us)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long long sec = strtoll(s, &end, 10);
    if (errno || sec > INT64_MAX / 1000000 - 1)
        return -1;
    const char *p = end;
    int64_t frac;
    if (parse_frac(&p, &frac) != 0 || *p)
        return -1;
    *us = (int64_t)sec * 1000000 + frac;
    return 0;
}

int wbctl_parse_time(const char *s, int64_t *us)
{
    if (!s)
        return -1;
    if (*s == '@')
        return parse_unix(s + 1, us);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p || strlen(s) < 19)
        return -1;
    int64_t frac;
    if (parse_frac(&p, &frac) != 0)
        return -1;
    int64_t offset = 0;
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int hh = (p[1] - '0') * 10 + (p[2] - '0');
        int mm = (p[4] - '0') * 10 + (p[5] - '0');
        for (int i = 1; i < 6; i++)
            if (i != 3 && (p[i] < '0' || p[i] > '9'))
                return -1;
        if (hh > 23 || mm > 59)
            return -1;
        offset = (int64_t)(hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *us = ((int64_t)t - offset) * 1000000 + frac;
    return 0;
}

int wbctl_parse_until(const char *s, restore_target *t)
{
    memset(t, 0, sizeof *t);
    if (strncmp(s, "seq:", 4) == 0) {
        unsigned long long v;
        if (wbctl_parse_u64(s + 4, &v) != 0)
            return -1;
        t->kind = RESTORE_SEQ;
        t->seq = v;
        return 0;
    }
    if (wbctl_parse_time(s, &t->time_us) != 0)
        return -1;
    t->kind = RESTORE_TIME;
    return 0;
}

void wbctl_format_time(int64_t us, char *buf, size_t n)
{
    int64_t sec = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, n, "%" PRId64 "us", us);
        return;
    }
    char date[40];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%06dZ", date, (int)frac);
}

void wbctl_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* ---- restore ---------------------------------------------------------- */

void wbctl_restore_error(const char *cmd, const char *board_name, int rc,
                         const restore_result *r)
{
    if (rc == WB_ENOTFOUND)
        fprintf(stderr, "wbctl %s: board '%s' not found at that point "
                        "(no snapshot and no op of it)\n", cmd, board_name);
    else if (rc == WB_ENOHISTORY)
        fprintf(stderr, "wbctl %s: board '%s': the oplog no longer reaches "
                        "back that far and no snapshot covers it (%s)\n",
                cmd, board_name, wb_errname(rc));
    else
        fprintf(stderr, "wbctl %s: board '%s': %s (%s)\n", cmd, board_name,
                wb_strerror(rc), wb_errname(rc));
    if (r->where.segment[0])
        fprintf(stderr, "wbctl %s: replay stopped at %s:%" PRIu64
                        " seq %" PRIu64 ": %s\n",
                cmd, r->where.segment, r->where.offset, r->where.seq,
                r->where.detail);
}

static void replay_progress(void *arg, uint64_t seq)
{
    wbctl_replay_bar *rb = arg;
    wbctl_progress_update(&rb->bar, seq, rb->total);
}

void wbctl_replay_bar_begin(wbctl_replay_bar *rb, const char *cmd,
                            const char *oplog_dir, restore_options *opts)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    rb->total = 0;
    if (oplog_segment_list(oplog_dir, &firsts, &n) == 0 && n)
        rb->total = firsts[n - 1];
    free(firsts);
    snprintf(rb->label, sizeof rb->label, "%s: replaying oplog", cmd);
    wbctl_progress_begin(&rb->bar, rb->label);
    opts->progress = replay_progress;
    opts->progress_arg = rb;
}

void wbctl_replay_bar_end(wbctl_replay_bar *rb)
{
    wbctl_progress_end(&rb->bar);
}

int wbctl_restore(const char *cmd, wbctl_data *d, const char *board_name,
                  const restore_target *t, restore_result *out)
{
    restore_options opts = {0};
    wbctl_replay_bar rb;
    wbctl_replay_bar_begin(&rb, cmd, d->oplog, &opts);
    int rc = restore_board(d->store, d->oplog, board_name, t, &opts, out);
    wbctl_replay_bar_end(&rb);
    if (rc == 0)
        return 0;
    wbctl_restore_error(cmd, board_name, rc, out);
    return -1;
}

int wbctl_oplog_last_seq(const char *dir, uint64_t *last)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    *last = 0;
    int rc = oplog_segment_list(dir, &firsts, &n);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    uint64_t from = n ? firsts[n - 1] : 1;
    free(firsts);
    oplog_reader *r;
    if ((rc = oplog_reader_open(dir, from, &r)))
        return rc;
    oplog_record rec;
    while ((rc = oplog_reader_next(r, &rec)) == 1)
        *last = rec.seq;
    oplog_reader_close(r);
    return rc;
}
