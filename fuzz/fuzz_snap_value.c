/*
 * fuzz_snap_value.c: arbitrary bytes into the snapshot value decoder
 * (snap_value_parse: header and framing; snap_value_decode_state: bounded
 * zstd decompression and the state checksum). Format: snap_format.h.
 *
 * Each input is decoded twice: as given, and with its header_hash and
 * var_hash recomputed ("resealed"), so that mutations of header fields
 * reach the checks behind the hashes (lengths, flags, the zstd frame)
 * instead of all stopping at WB_ECORRUPT. The raw-size cap is 16 MiB so a
 * forged size cannot make the fuzzer run out of memory; the decoder must
 * never read outside the input, never allocate beyond the cap, and must
 * return exactly raw_size bytes that hash to state_hash when it succeeds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "snap_format.h"
#include "wb_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CAP (16u << 20)

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void reseal(uint8_t *v, size_t len)
{
    if (len < SNAP_VALUE_HEADER_SIZE)
        return;
    size_t var = (size_t)(v[SNAP_OFF_BOARD_LEN] | v[SNAP_OFF_BOARD_LEN + 1] << 8) +
                 (size_t)(v[SNAP_OFF_VV_LEN] | v[SNAP_OFF_VV_LEN + 1] << 8);
    if (var <= len - SNAP_VALUE_HEADER_SIZE)
        put64(v + SNAP_OFF_VAR_HASH,
              XXH3_64bits(v + SNAP_VALUE_HEADER_SIZE, var));
    put64(v + SNAP_OFF_HEADER_HASH, XXH3_64bits(v, SNAP_OFF_HEADER_HASH));
}

static void decode(const uint8_t *buf, size_t len)
{
    snap_value_view v;
    int rc = snap_value_parse(buf, len, FUZZ_CAP, &v);
    if (rc != 0) {
        if (rc != WB_ETRUNCATED && rc != WB_EBADMAGIC &&
            rc != WB_EBADVERSION && rc != WB_ECORRUPT && rc != WB_ETOOBIG)
            abort(); /* an error the spec does not allow */
        return;
    }
    if (v.board_len == 0 || v.board_len > 64 || v.raw_size > FUZZ_CAP ||
        v.payload + v.stored_size != buf + len)
        abort();
    uint8_t *state = NULL;
    rc = snap_value_decode_state(&v, &state);
    if (rc == 0) {
        if (XXH3_64bits(state ? state : (const uint8_t *)"", v.raw_size) !=
            v.state_hash)
            abort();
    } else if (rc != WB_ECORRUPT && rc != WB_ENOMEM) {
        abort();
    }
    free(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    reseal(copy, size);
    decode(copy, size);
    free(copy);
    return 0;
}
