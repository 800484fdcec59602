/*
 * oplog_segment.c: segment files as files: naming, listing, the zero-filled
 * spare, activation, retention, and read-only mapping.
 *
 * Life of a segment file (callers: the writer thread, recovery):
 *   1. oplog_segment_prepare() writes OPLOG_SPARE_NAME full of zeros (real
 *      blocks, not a sparse file) and fdatasyncs it, ahead of need.
 *   2. oplog_segment_activate() writes and syncs the header, renames the
 *      spare to <first_seq>.wbseg and syncs the directory. From the rename
 *      on, the file is part of the log; before it, recovery deletes it.
 *   3. Records are written into the zeros; the file never changes size.
 *   4. oplog_segment_retain() unlinks whole old segments, oldest first.
 * Readers map segment files read-only (oplog_seg_map_open): files are never
 * truncated, only unlinked, so a mapping never faults on a vanished page.
 * All writes go through wb_io so that tests can inject failures.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oplog_format.h"
#include "oplog_internal.h"
#include "wb_error.h"

#define ZERO_CHUNK (1u << 20)

void oplog_segment_path(const char *dir, uint64_t first_seq, char *out)
{
    snprintf(out, PATH_MAX, "%s/%020" PRIu64 "%s", dir, first_seq,
             OPLOG_SEG_SUFFIX);
}

int oplog_segment_parse_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;
    for (int i = 0; i < OPLOG_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (strcmp(name + OPLOG_SEG_NAME_DIGITS, OPLOG_SEG_SUFFIX) != 0 || v == 0)
        return 0;
    *first = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int oplog_segment_list(const char *dir, uint64_t **firsts, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        if (!oplog_segment_parse_name(e->d_name, &first))
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = WB_ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = first;
    }
    closedir(d);
    if (rc) {
        free(v);
        return rc;
    }
    if (len > 1)
        qsort(v, len, sizeof *v, cmp_u64);
    *firsts = v;
    *n = len;
    return 0;
}

int oplog_segment_prepare(const wb_io *io, const char *dir, uint64_t size,
                          int *fd)
{
    if (size < OPLOG_MIN_SEGMENT_SIZE || size > OPLOG_MAX_SEGMENT_SIZE ||
        size % 8 != 0)
        return WB_EINVAL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, OPLOG_SPARE_NAME);
    uint8_t *zeros = calloc(1, ZERO_CHUNK);
    if (!zeros)
        return WB_ENOMEM;
    int f = io->open(io, path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int rc = f < 0 ? f : 0;
    for (uint64_t off = 0; rc == 0 && off < size; off += ZERO_CHUNK) {
        uint64_t n = size - off < ZERO_CHUNK ? size - off : ZERO_CHUNK;
        rc = wb_io_pwrite_all(io, f, zeros, (size_t)n, (off_t)off);
    }
    if (rc == 0)
        rc = io->fdatasync(io, f);
    free(zeros);
    if (rc) {
        if (f >= 0) {
            io->close(io, f);
            io->unlink(io, path);
        }
        return rc;
    }
    *fd = f;
    return 0;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int oplog_segment_activate(const wb_io *io, const char *dir, int fd,
                           uint64_t node_id, uint64_t first_seq,
                           uint64_t size, char *path_out)
{
    if (first_seq == 0)
        return WB_EINVAL;
    oplog_seg_header h = {.node_id = node_id,
                          .first_seq = first_seq,
                          .created_us = now_us(),
                          .segment_size = size};
    uint8_t buf[OPLOG_SEG_HEADER_SIZE];
    oplog_seg_header_encode(buf, &h);
    int rc = wb_io_pwrite_all(io, fd, buf, sizeof buf, 0);
    if (rc == 0)
        rc = io->fdatasync(io, fd);
    if (rc)
        return rc;
    char spare[PATH_MAX];
    snprintf(spare, sizeof spare, "%s/%s", dir, OPLOG_SPARE_NAME);
    oplog_segment_path(dir, first_seq, path_out);
    if (access(path_out, F_OK) == 0)
        return WB_EEXIST;
    rc = io->rename(io, spare, path_out);
    if (rc == 0)
        rc = io->fsync_dir(io, dir);
    return rc;
}

int oplog_segment_retain(const wb_io *io, const char *dir, uint64_t keep_from,
                         uint64_t active_first, uint64_t *freed)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = oplog_segment_list(dir, &firsts, &n);
    if (rc)
        return rc;
    int deleted = 0;
    uint64_t bytes = 0;
    /* Oldest first, and only while the next segment starts at or below
     * keep_from (then every record of this one is below it): never a hole. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (firsts[i] == active_first || firsts[i + 1] > keep_from)
            break;
        char path[PATH_MAX];
        struct stat st;
        oplog_segment_path(dir, firsts[i], path);
        uint64_t sz = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        rc = io->unlink(io, path);
        if (rc)
            break;
        deleted++;
        bytes += sz;
    }
    free(firsts);
    if (deleted) {
        int src = io->fsync_dir(io, dir);
        if (rc == 0)
            rc = src;
    }
    if (freed)
        *freed = bytes;
    return rc ? rc : deleted;
}

int oplog_seg_map_open(const char *path, oplog_seg_map *m)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            rc = -errno;
        else {
            m->data = p;
            m->size = (size_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

void oplog_seg_map_close(oplog_seg_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int oplog_seg_header_read(const char *path, uint64_t node_id,
                          uint64_t expect_first, oplog_seg_header *h)
{
    uint8_t buf[OPLOG_SEG_HEADER_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? -errno : 0;
    ssize_t got = 0;
    if (rc == 0) {
        got = pread(fd, buf, sizeof buf, 0);
        if (got < 0)
            rc = -errno;
    }
    close(fd);
    if (rc == 0)
        rc = oplog_seg_header_decode(buf, (size_t)got, h);
    if (rc)
        return rc;
    if (node_id && h->node_id != node_id)
        return WB_ENODEID;
    if (expect_first && h->first_seq != expect_first)
        return WB_ECORRUPT;
    if ((uint64_t)st.st_size < h->segment_size)
        return WB_ETRUNCATED;
    if ((uint64_t)st.st_size > h->segment_size)
        return WB_ECORRUPT;
    return 0;
}

int oplog_seg_check_open(const char *dir, uint64_t first, uint64_t node_id,
                         oplog_seg_check *c)
{
    memset(c, 0, sizeof *c);
    c->first = first;
    oplog_segment_path(dir, first, c->path);
    int rc = oplog_seg_map_open(c->path, &c->map);
    if (rc)
        return rc;
    c->rc = oplog_check_image(c->map.data, c->map.size, node_id, first,
                              &c->hdr, &c->scan);
    return 0;
}

void oplog_seg_check_close(oplog_seg_check *c)
{
    oplog_seg_map_close(&c->map);
}

int oplog_zero_range(const wb_io *io, const char *path, uint64_t from,
                     uint64_t to)
{
    static const uint8_t zeros[65536];
    int fd = io->open(io, path, O_RDWR, 0);
    if (fd < 0)
        return fd;
    int rc = 0;
    for (uint64_t off = from; rc == 0 && off < to; off += sizeof zeros) {
        uint64_t n = to - off < sizeof zeros ? to - off : sizeof zeros;
        rc = wb_io_pwrite_all(io, fd, zeros, (size_t)n, (off_t)off);
    }
    if (rc == 0)
        rc = io->fdatasync(io, fd);
    io->close(io, fd);
    return rc;
}
