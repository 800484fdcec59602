/*
 * wb_io.h: the thin file-I/O interface under the oplog and snapshot store.
 *
 * Every file operation of the storage code goes through a wb_io table so
 * that tests can replace it and inject EIO, ENOSPC, short writes and crashes
 * at any step (SQLite's os.h, moved one failure point at a time). The
 * default table calls the system directly.
 *
 * io_uring does not go through the function pointers (the kernel does the
 * I/O), so the writer passes each io_uring completion through
 * `uring_result` before it acts on it: an injector sees the real result and
 * returns the one the writer must believe (a short count, -EIO, -ENOSPC) or
 * kills the process there. Injectors must keep real and believed state
 * consistent in the safe direction: they may claim less was written than
 * was, never more.
 *
 * Conventions: every function returns the system call's result, or a
 * negative errno on failure (never -1 with errno). Each call receives its
 * table so that injectors can keep state in `ctx`.
 */
#ifndef WB_IO_H
#define WB_IO_H

#include <stddef.h>
#include <sys/types.h>

enum wb_io_op {
    WB_IO_OP_WRITE = 1, /* a write completion (result: bytes or -errno) */
    WB_IO_OP_FSYNC = 2, /* an fdatasync completion (result: 0 or -errno) */
};

typedef struct wb_io wb_io;
struct wb_io {
    int (*open)(const wb_io *io, const char *path, int flags, mode_t mode);
    int (*close)(const wb_io *io, int fd);
    ssize_t (*pread)(const wb_io *io, int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(const wb_io *io, int fd, const void *buf, size_t n,
                      off_t off);
    int (*fdatasync)(const wb_io *io, int fd);
    int (*ftruncate)(const wb_io *io, int fd, off_t len);
    int (*rename)(const wb_io *io, const char *from, const char *to);
    int (*unlink)(const wb_io *io, const char *path);
    /* fsync of a directory, after creating, renaming or unlinking in it. */
    int (*fsync_dir)(const wb_io *io, const char *dir);
    /* Filter for io_uring completions; NULL means "believe the kernel". */
    int (*uring_result)(const wb_io *io, enum wb_io_op op, int fd, int res);
    void *ctx; /* injector state; unused by the default table */
};

/* The table that calls the system directly. Static; never freed. */
const wb_io *wb_io_default(void);

/* Writes all n bytes at off through io, retrying short writes and EINTR.
 * Returns 0 or a negative errno. */
int wb_io_pwrite_all(const wb_io *io, int fd, const void *buf, size_t n,
                     off_t off);

/* Reads up to n bytes at off, retrying short reads until EOF. Returns the
 * number of bytes read (< n only at end of file) or a negative errno. */
ssize_t wb_io_pread_all(const wb_io *io, int fd, void *buf, size_t n,
                        off_t off);

#endif /* WB_IO_H */
