/*
 * wb_io.c: the default wb_io table (direct system calls) and the
 * whole-buffer helpers. See wb_io.h for the contract.
 */
#include "wb_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int sys_open(const wb_io *io, const char *path, int flags, mode_t mode)
{
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int sys_close(const wb_io *io, int fd)
{
    return close(fd) < 0 ? -errno : 0;
}

static ssize_t sys_pread(const wb_io *io, int fd, void *buf, size_t n,
                         off_t off)
{
    ssize_t r = pread(fd, buf, n, off);
    return r < 0 ? -errno : r;
}

static ssize_t sys_pwrite(const wb_io *io, int fd, const void *buf, size_t n,
                          off_t off)
{
    ssize_t r = pwrite(fd, buf, n, off);
    return r < 0 ? -errno : r;
}

static int sys_fdatasync(const wb_io *io, int fd)
{
    return fdatasync(fd) < 0 ? -errno : 0;
}

static int sys_ftruncate(const wb_io *io, int fd, off_t len)
{
    return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int sys_rename(const wb_io *io, const char *from, const char *to)
{
    return rename(from, to) < 0 ? -errno : 0;
}

static int sys_unlink(const wb_io *io, const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

static int sys_fsync_dir(const wb_io *io, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static const wb_io wb_io_sys = {
    .open = sys_open,
    .close = sys_close,
    .pread = sys_pread,
    .pwrite = sys_pwrite,
    .fdatasync = sys_fdatasync,
    .ftruncate = sys_ftruncate,
    .rename = sys_rename,
    .unlink = sys_unlink,
    .fsync_dir = sys_fsync_dir,
    .uring_result = NULL,
    .ctx = NULL,
};

const wb_io *wb_io_default(void)
{
    return &wb_io_sys;
}

int wb_io_pwrite_all(const wb_io *io, int fd, const void *buf, size_t n,
                     off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = io->pwrite(io, fd, p, n, off);
        if (w == -EINTR)
            continue;
        if (w < 0)
            return (int)w;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

ssize_t wb_io_pread_all(const wb_io *io, int fd, void *buf, size_t n,
                        off_t off)
{
    char *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t r = io->pread(io, fd, p + done, n - done, off + (off_t)done);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}
