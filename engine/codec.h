/*
 * codec.h: the one binary encoding of ops (public API).
 *
 * The same bytes travel in WebSocket ops frames, in oplog record payloads,
 * in Redis stream entries: a batch (op.h) encoded as below. The normative
 * spec, with worked examples in hex, is docs/protocol.md ("Ops"); the test
 * vectors are tests/vectors/ops.vectors.
 *
 *   batch   = version:u8(=1) board:id nops:uvar op{nops}     (no trailing bytes)
 *   op      = head:u8 client_op_id:uvar user:str elem:id [stamp] [props]
 *             head: low nibble kind (1 upsert, 2 delete), bit 4 (0x10)
 *             stamp present, bits 5-7 zero
 *   stamp   = hlc:uvar node:uvar oseq:uvar        (node != 0, oseq != 0)
 *   props   = nprops:uvar (key:uvar value){nprops}  upsert only, 1..16 props,
 *             keys strictly ascending, each key's value as in docs
 *   uvar    = unsigned LEB128, minimal (no redundant 0x80 continuation)
 *   svar    = zigzag then uvar
 *   str/id  = len:uvar bytes
 *
 * Canonical: every value has exactly one encoding (minimal varints, sorted
 * keys, fixed flag bits), so decode(encode(x)) == x and encode(decode(b)) ==
 * b for every b the decoder accepts.
 *
 * Errors (decoder): WB_EBADVERSION (version byte), WB_ETRUNCATED (input ends
 * inside a structure, or a count/length claims more than the bytes left),
 * WB_ETOOBIG (a length or count over its bound in op.h), WB_EUTF8 (text or
 * user id not valid UTF-8: overlongs, surrogates, > U+10FFFF rejected),
 * WB_EUNKNOWN (unknown op kind, property key or element type), WB_EMALFORMED
 * (anything else: bad id characters, value out of range, unsorted or
 * duplicate keys, non-minimal varint, reserved bits, trailing bytes),
 * WB_ENOMEM. The encoder validates with the same rules and returns the same
 * codes, so it never produces bytes the decoder rejects.
 *
 * Threads: all functions are reentrant; a batch is not shared.
 */
#ifndef WB_CODEC_H
#define WB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"

/* Decodes one batch from buf[0..len). On success *out is a new batch that
 * owns all of its memory (free with codec_batch_free); buf is not retained.
 * On error *out is left untouched. */
int codec_decode_batch(const uint8_t *buf, size_t len, wb_batch **out);

/* Frees a batch returned by codec_decode_batch (NULL is fine). Must not be
 * called on caller-built batches. */
void codec_batch_free(wb_batch *b);

/* Validates a caller-built op against the codec rules (as the decoder
 * would). Returns 0 or the error the decoder would give. */
int codec_validate_op(const wb_op *op);

/* Exact number of bytes codec_encode_batch will produce, through *size.
 * Validates the batch; returns 0 or an error. */
int codec_batch_size(const wb_batch *b, size_t *size);

/* Encodes b into dst[0..cap). Returns 0 and the length through *len, or
 * WB_ETOOBIG when cap is too small (nothing useful in dst), or a
 * validation error. */
int codec_encode_batch_into(const wb_batch *b, uint8_t *dst, size_t cap,
                            size_t *len);

/* Encodes b into a new malloc'd buffer (*out, caller frees) of *len bytes. */
int codec_encode_batch(const wb_batch *b, uint8_t **out, size_t *len);

/* Deep equality of two ops / batches (stamps, every present property;
 * absent properties' fields are ignored). 1 if equal. */
int codec_op_equal(const wb_op *a, const wb_op *b);
int codec_batch_equal(const wb_batch *a, const wb_batch *b);

/* Renders a batch as canonical JSON (the third column of the test vectors,
 * and wbctl's op dump), malloc'd NUL-terminated into *out (caller frees),
 * length through *len (may be NULL). 64-bit integers (opId, hlc, node,
 * oseq) are JSON strings of decimal digits; property values as in
 * board_to_json. Returns 0 or WB_ENOMEM. */
int codec_batch_to_json(const wb_batch *b, char **out, size_t *len);

/* Name of an element type ("rect", ...) or NULL if unknown; and back
 * (returns 0 if unknown). */
const char *codec_elem_type_name(unsigned type);
unsigned codec_elem_type_from_name(const char *name, size_t len);

/* JSON key of a property ("strokeColor", ...) or NULL if unknown. */
const char *codec_prop_name(unsigned key);

#endif /* WB_CODEC_H */
