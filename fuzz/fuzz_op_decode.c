/*
 * fuzz_op_decode.c: arbitrary bytes into the op batch decoder.
 *
 * Properties checked (abort() on violation, so libFuzzer and the replay
 * test both report it):
 *   - the decoder returns 0 or one of the codec's typed errors;
 *   - whatever it accepts re-encodes to exactly the input bytes (the
 *     encoding is canonical), decodes again to an equal batch, and renders
 *     as JSON; codec_batch_size agrees with the encoded length.
 * Seed corpus: fuzz/corpus/op_decode/ (written by
 * `test_codec --write-corpus`: every test vector, valid and bad).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int typed_error(int rc)
{
    return rc == WB_EBADVERSION || rc == WB_ETRUNCATED || rc == WB_ETOOBIG ||
           rc == WB_EUTF8 || rc == WB_EUNKNOWN || rc == WB_EMALFORMED ||
           rc == WB_ENOMEM;
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
    free(buf);
    codec_batch_free(again);
    codec_batch_free(b);
    return 0;
}
