/*
 * node_fault.c: fault injection from the environment, for tests and chaos
 * drills on a node that is not serving real users.
 *
 *   WB_FAULT_FSYNC_DELAY_MS=N   every oplog fdatasync takes N ms longer
 *                               (1..60000): a stalled disk. Acks wait; REST
 *                               writes run into --request-timeout (504).
 *
 * Unset (the default), the engine gets wb_io_default() and nothing changes.
 * The delay sits in the oplog writer thread: after the io_uring fsync
 * completion (wb_io.uring_result) or before the fallback's fdatasync, so
 * the ack is late exactly as with a slow device.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "node_internal.h"

static wb_io fault_io;
static long fault_delay_ms;

static void fault_sleep(void)
{
    struct timespec ts = {fault_delay_ms / 1000,
                          (fault_delay_ms % 1000) * 1000000l};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int fault_uring_result(const wb_io *io, enum wb_io_op op, int fd,
                              int res)
{
    (void)io;
    (void)fd;
    if (op == WB_IO_OP_FSYNC)
        fault_sleep();
    return res;
}

static int fault_fdatasync(const wb_io *io, int fd)
{
    (void)io;
    fault_sleep();
    return wb_io_default()->fdatasync(wb_io_default(), fd);
}

const wb_io *node_fault_io(void)
{
    const char *v = getenv("WB_FAULT_FSYNC_DELAY_MS");
    if (!v || !*v)
        return NULL;
    char *end;
    long ms = strtol(v, &end, 10);
    if (*end || ms < 1 || ms > 60000) {
        WBLOGF(WBLOG_WARN, "WB_FAULT_FSYNC_DELAY_MS ignored (1..60000)",
               WBF_STR("value", v));
        return NULL;
    }
    fault_delay_ms = ms;
    fault_io = *wb_io_default();
    fault_io.uring_result = fault_uring_result;
    fault_io.fdatasync = fault_fdatasync;
    WBLOGF(WBLOG_WARN, "fault injection: every oplog fdatasync is delayed",
           WBF_INT("delayMs", ms));
    return &fault_io;
}
