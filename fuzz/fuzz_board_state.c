/*
 * fuzz_board_state.c: arbitrary bytes into the board state decoder
 * (snapshots and welcome messages come from disk and peers).
 *
 * Properties checked (abort() on violation):
 *   - the decoder returns 0 or a typed error, never crashes or leaks;
 *   - an accepted state re-encodes to exactly the input bytes (canonical),
 *     decodes again to the same hash, renders as JSON, and survives a
 *     tombstone purge and a further op (the restored structure is usable:
 *     hash map, stamp tables and counters consistent).
 * Seed corpus: fuzz/corpus/board_state/ (`test_board --write-corpus`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int typed_error(int rc)
{
    return rc == WB_EBADMAGIC || rc == WB_EBADVERSION || rc == WB_ETRUNCATED ||
           rc == WB_ETOOBIG || rc == WB_EUTF8 || rc == WB_EUNKNOWN ||
           rc == WB_EMALFORMED || rc == WB_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    board *b = NULL;
    int rc = board_state_decode(data, size, NULL, &b);
    if (rc != 0) {
        if (!typed_error(rc) || b != NULL)
            abort();
        return 0;
    }
    uint8_t *buf;
    size_t len;
    if (board_state_encode(b, &buf, &len) != 0)
        abort();
    if (len != size || memcmp(buf, data, size) != 0)
        abort();
    board *again = NULL;
    uint64_t h1, h2;
    if (board_state_decode(buf, len, NULL, &again) != 0 ||
        board_state_hash(b, &h1) != 0 || board_state_hash(again, &h2) != 0 ||
        h1 != h2)
        abort();
    if (board_element_count(b) > board_record_count(b))
        abort();
    char *json;
    if (board_to_json(b, &json, NULL) != 0)
        abort();
    free(json);
    /* Exercise the restored structures: a delete and an upsert on "a",
     * then purge every tombstone. */
    wb_op del = {.kind = WB_OP_DELETE, .elem = {"a", 1}, .has_stamp = 1,
                 .stamp = {UINT64_MAX - 1, 1, 1}};
    wb_op up = {.kind = WB_OP_UPSERT, .elem = {"a", 1}, .has_stamp = 1,
                .stamp = {UINT64_MAX, 1, 2}};
    up.props.mask = 1u << WB_PROP_TYPE;
    up.props.type = WB_ELEM_RECT;
    rc = board_apply_op(again, &del);
    if (rc == 0)
        rc = board_apply_op(again, &up);
    if (rc != 0 && rc != WB_ETOOBIG) /* ETOOBIG: vv full of origins */
        abort();
    board_purge_tombstones(again, UINT64_MAX);
    if (board_element_count(again) > board_record_count(again))
        abort();
    free(buf);
    board_free(again);
    board_free(b);
    return 0;
}
