/*
 * fuzz_repl_entry.c: arbitrary bytes as the records field ("r") of a
 * replication stream entry read from Redis (net/repl_entry.c), each record
 * then decoded as net/repl_sub.c does (codec_decode_batch).
 *
 * Properties checked (abort() on violation):
 *   - repl_entry_records returns 0 or WB_ETRUNCATED, never reads outside
 *     the input (ASan) and hands fn only records lying inside it, back to
 *     back from the start;
 *   - 0 means the records cover the input exactly; WB_ETRUNCATED means
 *     they stop short of it;
 *   - a nonzero fn result stops the walk at once and is returned;
 *   - each record decodes to a batch or a typed codec error.
 * Seed corpus: fuzz/corpus/repl_entry/ (entries of valid batches from
 * fuzz/corpus/op_decode, empty ones, zero-length and cut records, a length
 * near 2^32, trailing bytes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec.h"
#include "repl_entry.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct walk {
    const uint8_t *base;
    size_t size;
    size_t next; /* offset where the next record's length must be */
    size_t calls;
    size_t stop_at; /* fn returns 7 on this call (0: never) */
} walk;

static int on_record(void *arg, const uint8_t *rec, uint32_t len)
{
    walk *w = arg;
    w->calls++;
    if (rec != w->base + w->next + 4 || (size_t)len > w->size - w->next - 4)
        abort(); /* not the next record, or past the input */
    w->next += 4 + (size_t)len;
    wb_batch *b = NULL;
    int rc = codec_decode_batch(rec, len, &b);
    if (rc == 0)
        codec_batch_free(b);
    else if (b || !(rc == WB_EBADVERSION || rc == WB_ETRUNCATED ||
                    rc == WB_ETOOBIG || rc == WB_EUTF8 || rc == WB_EUNKNOWN ||
                    rc == WB_EMALFORMED || rc == WB_ENOMEM))
        abort();
    return w->calls == w->stop_at ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk w = {data, size, 0, 0, 0};
    size_t n = 0;
    int rc = repl_entry_records(data, size, on_record, &w, &n);
    if (n != w.calls)
        abort();
    if (rc == 0 && w.next != size)
        abort();
    if (rc == WB_ETRUNCATED && w.next >= size)
        abort();
    if (rc != 0 && rc != WB_ETRUNCATED)
        abort();
    if (w.calls >= 1) { /* stop on the first record: returned as is */
        walk s = {data, size, 0, 0, 1};
        if (repl_entry_records(data, size, on_record, &s, &n) != 7 ||
            s.calls != 1 || n != 0)
            abort();
    }
    return 0;
}
