/*
 * fuzz_ws_frame.c: libFuzzer harness for the WebSocket frame decoder
 * (net/ws_frame.c).
 *
 * Input: one frame. Properties checked: no crash or sanitizer report; only
 * documented codes are returned; an accepted frame re-encodes to exactly
 * the input bytes (canonical form), and every proper prefix of it is
 * refused with WB_ETRUNCATED (checked for the last 8 cuts: cost bound).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wb_error.h"
#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int documented(int rc)
{
    switch (rc) {
    case WB_ETRUNCATED:
    case WB_EBADVERSION:
    case WB_EUNKNOWN:
    case WB_ETOOBIG:
    case WB_EUTF8:
    case WB_EMALFORMED:
    case WB_ENOMEM:
        return 1;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_frame f;
    int rc = ws_frame_decode(data, size, 1u << 20, &f);
    if (rc) {
        if (!documented(rc))
            abort();
        return 0;
    }
    uint8_t *enc = NULL;
    size_t len = 0;
    if (ws_frame_encode(&f, &enc, &len) != 0 || len != size ||
        memcmp(enc, data, size) != 0)
        abort();
    free(enc);
    ws_frame_clear(&f);
    /* Canonical prefixes: the last few cuts must all be "truncated". */
    for (size_t cut = size > 8 ? size - 8 : 0; cut < size; cut++) {
        ws_frame g;
        rc = ws_frame_decode(data, cut, 0, &g);
        if (rc != WB_ETRUNCATED)
            abort();
    }
    return 0;
}
