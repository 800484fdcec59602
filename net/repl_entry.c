/*
 * repl_entry.c: walks the records of a replication stream entry
 * (repl_entry.h). Pure bytes in, no Redis, no engine: the reader
 * (repl_sub.c) decodes and submits each record, fuzz/fuzz_repl_entry.c
 * feeds it arbitrary bytes.
 */
#include "repl_entry.h"

#include "wb_error.h"

int repl_entry_records(const uint8_t *p, size_t len, repl_entry_fn fn,
                       void *arg, size_t *nrec)
{
    size_t n = 0;
    int rc = 0;
    while (len >= 4) {
        uint32_t rlen = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                        (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (rlen > len - 4) {
            rc = WB_ETRUNCATED;
            break;
        }
        rc = fn(arg, p + 4, rlen);
        if (rc)
            break;
        n++;
        p += 4 + (size_t)rlen;
        len -= 4 + (size_t)rlen;
    }
    if (!rc && len)
        rc = WB_ETRUNCATED; /* 1..3 bytes: not even a length */
    if (nrec)
        *nrec = n;
    return rc;
}
