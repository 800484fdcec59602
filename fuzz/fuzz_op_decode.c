/*
 * fuzz_op_decode.c: arbitrary bytes into the op batch decoder.
 *
 * Properties checked (abort() on violation, so libFuzzer and the replay
 * test both report it):
 *   - the decoder returns 0 or one of the codec's typed errors;
 *   - whatever it accepts re-encodes to exactly the input bytes (the
 *     encoding is canonical), decodes again to an equal batch, and renders
 *     as JSON; codec_batch_size agrees with the encoded length;
 *   - its ops, stamped where they carry no stamp, pass through
 *     board_check_op without changing the board, apply without error, and
 *     the resulting board's state round-trips to the same hash.
 * Seed corpus: fuzz/corpus/op_decode/ (written by
 * `test_codec --write-corpus`: every test vector, valid and bad).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "codec.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int typed_error(int rc)
{
    return rc == WB_EBADVERSION || rc == WB_ETRUNCATED || rc == WB_ETOOBIG ||
           rc == WB_EUTF8 || rc == WB_EUNKNOWN || rc == WB_EMALFORMED ||
           rc == WB_ENOMEM;
}

static void apply_to_board(const wb_batch *b)
{
    board *bd;
    if (board_create(b->board.ptr, b->board.len, NULL, &bd) != 0)
        abort();
    for (uint32_t i = 0; i < b->nops; i++) {
        wb_op op = b->ops[i];
        uint64_t before, after;
        if (board_state_hash(bd, &before) != 0)
            abort();
        int rc = board_check_op(bd, &op);
        if (rc != 0 && rc != WB_ELIMIT && rc != WB_ETOOBIG)
            abort();
        if (board_state_hash(bd, &after) != 0 || after != before)
            abort(); /* the check must not mutate */
        if (!op.has_stamp) {
            op.has_stamp = 1;
            op.stamp = (wb_stamp){i + 1, 1, i + 1};
        }
        if (board_apply_op(bd, &op) != 0)
            abort();
    }
    uint8_t *st;
    size_t len;
    board *back;
    uint64_t h1, h2;
    if (board_state_encode(bd, &st, &len) != 0 ||
        board_state_decode(st, len, NULL, &back) != 0 ||
        board_state_hash(bd, &h1) != 0 || board_state_hash(back, &h2) != 0 ||
        h1 != h2)
        abort();
    free(st);
    board_free(back);
    board_free(bd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_batch *b = NULL;
    int rc = codec_decode_batch(data, size, &b);
    if (rc != 0) {
        if (!typed_error(rc) || b != NULL)
            abort();
        return 0;
    }
    uint8_t *buf;
    size_t len, want;
    if (codec_batch_size(b, &want) != 0)
        abort();
    if (codec_encode_batch(b, &buf, &len) != 0)
        abort();
    if (len != size || len != want || memcmp(buf, data, size) != 0)
        abort();
    wb_batch *again = NULL;
    if (codec_decode_batch(buf, len, &again) != 0)
        abort();
    if (!codec_batch_equal(b, again))
        abort();
    char *json;
    if (codec_batch_to_json(b, &json, NULL) != 0)
        abort();
    free(json);
    apply_to_board(b);
    free(buf);
    codec_batch_free(again);
    codec_batch_free(b);
    return 0;
}
