/*
 * wb_error.c: messages and names for the codes of wb_error.h.
 *
 * One table, indexed by code, so that a new code without a message is a
 * visible gap ("unknown error") rather than a crash.
 */
#include "wb_error.h"

#include <errno.h>
#include <string.h>

struct wb_error_entry {
    int code;
    const char *name;
    const char *message;
};

static const struct wb_error_entry wb_errors[] = {
    {WB_OK, "WB_OK", "success"},
    {WB_EINVAL, "WB_EINVAL", "invalid argument"},
    {WB_ENOMEM, "WB_ENOMEM", "out of memory"},
    {WB_ECLOSED, "WB_ECLOSED", "closed or shutting down"},
    {WB_ENOTFOUND, "WB_ENOTFOUND", "not found"},
    {WB_EEXIST, "WB_EEXIST", "already exists"},
    {WB_EBUSY, "WB_EBUSY", "held by another process"},
    {WB_ETIMEDOUT, "WB_ETIMEDOUT", "timed out"},
    {WB_EAGAIN, "WB_EAGAIN", "queue full, try again"},
    {WB_ECORRUPT, "WB_ECORRUPT", "data corrupt (checksum or structure)"},
    {WB_ETRUNCATED, "WB_ETRUNCATED", "data truncated"},
    {WB_EBADMAGIC, "WB_EBADMAGIC", "bad magic: not a whiteboard file"},
    {WB_EBADVERSION, "WB_EBADVERSION", "unsupported format version"},
    {WB_EFULL, "WB_EFULL", "no space left on device"},
    {WB_EIO, "WB_EIO", "I/O error; log refuses writes until reopened"},
    {WB_EFAILED, "WB_EFAILED", "log failed earlier; reopen it"},
    {WB_ENODEID, "WB_ENODEID", "file belongs to another node"},
    {WB_ENOHISTORY, "WB_ENOHISTORY", "target precedes the retained oplog and every snapshot"},
    {WB_EMALFORMED, "WB_EMALFORMED", "malformed encoding"},
    {WB_EUTF8, "WB_EUTF8", "text is not valid UTF-8"},
    {WB_ETOOBIG, "WB_ETOOBIG", "length or count exceeds its bound"},
    {WB_EUNKNOWN, "WB_EUNKNOWN", "unknown key, type or tag"},
    {WB_ELIMIT, "WB_ELIMIT", "board limit exceeded"},
    {WB_ESTALE, "WB_ESTALE", "version token older than retention"},
    {WB_EBADSIG, "WB_EBADSIG", "token signature does not match"},
    {WB_EEXPIRED, "WB_EEXPIRED", "token expired"},
    {WB_ENOTYET, "WB_ENOTYET", "token not yet valid"},
    {WB_EBADALG, "WB_EBADALG", "token algorithm missing or not HS256"},
};

static const struct wb_error_entry *wb_error_find(int code)
{
    for (size_t i = 0; i < sizeof wb_errors / sizeof wb_errors[0]; i++)
        if (wb_errors[i].code == code)
            return &wb_errors[i];
    return NULL;
}

const char *wb_strerror(int code)
{
    const struct wb_error_entry *e = wb_error_find(code);
    if (e)
        return e->message;
    if (code < 0 && code > WB_ERR_BASE)
        return strerror(-code);
    return "unknown error";
}

const char *wb_errname(int code)
{
    const struct wb_error_entry *e = wb_error_find(code);
    if (e)
        return e->name;
    if (code < 0 && code > WB_ERR_BASE) {
        const char *n = strerrorname_np(-code);
        return n ? n : "E?";
    }
    return "WB_E?";
}
