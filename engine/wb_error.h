/*
 * wb_error.h: the one error space of the project.
 *
 * Every function that can fail returns int: 0 (or a non-negative count where
 * documented), a negative errno (-EIO, -ENOMEM, ...) for system errors, or
 * one of the project codes below. Project codes live in a private range
 * (WB_ERR_BASE and below) so that they never collide with -errno, the way
 * LMDB keeps MDB_* codes apart from errno. wb_strerror() names both kinds.
 *
 * Adding a code: append it to its module's block, give it a message in
 * wb_error.c, never renumber an existing one (codes appear in logs and in
 * wbctl's output).
 */
#ifndef WB_ERROR_H
#define WB_ERROR_H

#define WB_ERR_BASE (-10000)

enum wb_error {
    WB_OK = 0,

    /* Generic. */
    WB_EINVAL = WB_ERR_BASE - 1,     /* bad argument or option */
    WB_ENOMEM = WB_ERR_BASE - 2,     /* allocation failed */
    WB_ECLOSED = WB_ERR_BASE - 3,    /* object closed or shutting down */
    WB_ENOTFOUND = WB_ERR_BASE - 4,  /* no such board/record/snapshot */
    WB_EEXIST = WB_ERR_BASE - 5,     /* already exists */
    WB_EBUSY = WB_ERR_BASE - 6,      /* resource held by someone else (lock) */
    WB_ETIMEDOUT = WB_ERR_BASE - 7,  /* wait exceeded its bound */
    WB_EAGAIN = WB_ERR_BASE - 8,     /* queue full: try again later */

    /* Storage: oplog, snapshots. */
    WB_ECORRUPT = WB_ERR_BASE - 100,    /* checksum or structure violated */
    WB_ETRUNCATED = WB_ERR_BASE - 101,  /* data ends before the structure */
    WB_EBADMAGIC = WB_ERR_BASE - 102,   /* not one of our files */
    WB_EBADVERSION = WB_ERR_BASE - 103, /* format version we do not read */
    WB_EFULL = WB_ERR_BASE - 104,       /* no space left on the device */
    WB_EIO = WB_ERR_BASE - 105,         /* I/O failed; log refuses writes */
    WB_EFAILED = WB_ERR_BASE - 106,     /* log failed earlier; reopen it */
    WB_ENODEID = WB_ERR_BASE - 107,     /* segment belongs to another node */
    WB_ENOHISTORY = WB_ERR_BASE - 108,  /* restore target precedes retained history */

    /* Codec and board model. */
    WB_EMALFORMED = WB_ERR_BASE - 200, /* bytes do not decode */
    WB_EUTF8 = WB_ERR_BASE - 201,      /* text is not valid UTF-8 */
    WB_ETOOBIG = WB_ERR_BASE - 202,    /* a length or count exceeds its bound */
    WB_EUNKNOWN = WB_ERR_BASE - 203,   /* unknown key, type or tag */
    WB_ELIMIT = WB_ERR_BASE - 204,     /* a board limit would be exceeded */
    WB_ESTALE = WB_ERR_BASE - 205,     /* version token older than retention */

    /* Auth (net/jwt): a token that decodes but must not be trusted. A token
     * that does not decode is WB_EMALFORMED; one over the size cap WB_ETOOBIG. */
    WB_EBADSIG = WB_ERR_BASE - 300,   /* signature matches no configured secret */
    WB_EEXPIRED = WB_ERR_BASE - 301,  /* token past its exp (beyond leeway) */
    WB_ENOTYET = WB_ERR_BASE - 302,   /* token before its nbf/iat (beyond leeway) */
    WB_EBADALG = WB_ERR_BASE - 303,   /* alg missing or not the pinned HS256 */
};

/* Returns a static, human-readable message for any code this project
 * returns: 0, a negative errno, or a WB_E* code. Never NULL. */
const char *wb_strerror(int code);

/* Returns the code's symbolic name ("WB_ECORRUPT", "EIO", ...), for logs
 * and JSON output. Never NULL. */
const char *wb_errname(int code);

#endif /* WB_ERROR_H */
