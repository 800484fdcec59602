/*
 * fuzz_snap_board.c: arbitrary bytes into the board metadata record decoder
 * (snap_board_decode; format in snap_meta.c and docs/snapshot-format.md).
 * It must only return 0, WB_ECORRUPT or WB_EBADVERSION, never read past the
 * record, and on success leave NUL-terminated strings within their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snap_internal.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that ASan sees any read past the record. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    MDB_val d = {size, copy};
    static snap_board_meta m;
    strcpy(m.board, "fuzz");
    int rc = snap_board_decode(&d, &m);
    if (rc != 0 && rc != WB_ECORRUPT && rc != WB_EBADVERSION)
        abort();
    if (rc == 0 && (strnlen(m.title, sizeof m.title) > SNAP_TITLE_MAX ||
                    strnlen(m.owner, sizeof m.owner) > SNAP_USER_MAX ||
                    m.settings_len > SNAP_SETTINGS_MAX ||
                    strcmp(m.board, "fuzz") != 0 || m.deleted > 1))
        abort();
    free(copy);
    return 0;
}
