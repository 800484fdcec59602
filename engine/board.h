/*
 * board.h: the in-memory board and its merge rule (public API).
 *
 * A board is a set of elements; an element is an id plus properties
 * (op.h). Every property value carries the stamp of the op that wrote it;
 * every element may carry a tombstone stamp (the newest delete seen). The
 * merge rule (normative text: docs/board-model.md):
 *
 *   1. Per (element, property), the value with the greatest stamp wins
 *      (stamps are totally ordered, op.h). Equal stamps with different
 *      values (never produced by a correct node) are broken by comparing
 *      the values, so that even then the result does not depend on order.
 *   2. A delete sets the element's tombstone to max(tombstone, its stamp).
 *   3. A property is live iff its stamp > the tombstone. Dead properties
 *      are dropped (they can never become live again: the tombstone only
 *      grows).
 *   4. An element is visible iff its `type` property is live. So an upsert
 *      newer than a delete that sets the type resurrects the element with
 *      exactly the properties written after the delete; a concurrent move
 *      (x, y only) of a deleted element does not resurrect it.
 *
 * Each rule is a max over a totally ordered set, so applying a set of ops
 * gives the same state in any order, with any duplicates (idempotent,
 * commutative, associative). The board's state is a pure function of the set
 * of ops applied (until board_purge_tombstones forgets old tombstones: ops
 * older than the retention window must not arrive after a purge).
 *
 * The board also keeps its version vector (per origin node, the highest
 * oseq applied) and a count of ops applied (statistics, not part of the
 * state encoding).
 *
 * Limits (board_limits) are enforced by board_check_op, which the engine
 * calls before it logs a local op; board_apply_op itself applies every valid
 * stamped op (replicated ops must converge even if they break a local limit).
 *
 * Threads: a board is owned by one thread (the engine thread); nothing here
 * locks. Memory returned by accessors is borrowed, valid until the next call
 * that mutates the board.
 */
#ifndef WB_BOARD_H
#define WB_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"
#include "vv.h"

typedef struct board board;

/* Per-board limits; 0 in a field means "no limit" except where noted. */
typedef struct board_limits {
    uint32_t max_elements; /* visible elements (default 100000) */
    uint64_t max_bytes;    /* board_memory_usage() (default 256 MiB) */
    uint32_t max_points;   /* points in one element (default WB_MAX_POINTS) */
    uint32_t max_text;     /* bytes of text in one element (default
                              WB_MAX_TEXT_BYTES) */
} board_limits;

/* Fills l with the defaults above. */
void board_limits_default(board_limits *l);

/* Creates an empty board. id: 1..WB_MAX_ID_LEN bytes of [A-Za-z0-9_-],
 * copied. limits may be NULL (defaults); copied. Returns 0, WB_EINVAL or
 * WB_ENOMEM; *out is set on success (free with board_free). */
int board_create(const char *id, size_t id_len, const board_limits *limits,
                 board **out);
void board_free(board *b);

const char *board_id(const board *b); /* NUL-terminated, borrowed */
void board_get_limits(const board *b, board_limits *out);
void board_set_limits(board *b, const board_limits *l);

/* Checks whether applying op (a local op about to be logged) is allowed:
 * codec validity, the per-element limits (WB_ETOOBIG: points or text over
 * the board's limit), the element count and the byte budget (WB_ELIMIT;
 * a delete of an id the board has no record of counts too: it creates a
 * tombstone record).
 * An op without a stamp is judged as if it won every property (as a freshly
 * stamped local op does). Never mutates the board. Returns 0 or an error. */
int board_check_op(const board *b, const wb_op *op);

/* Applies one stamped op (op->has_stamp must be 1, else WB_EINVAL).
 * Validates it (codec rules) first; on a validation error, or WB_ETOOBIG
 * (the version vector already holds VV_MAX_NODES origins), nothing changes.
 * Advances the version vector (stamp.node -> max(.., stamp.oseq)) and the
 * ops counter. An op that loses every property (older than what the board
 * has) still counts as applied. On WB_ENOMEM the op may be partly applied;
 * the board stays consistent and applying the op again completes it. */
int board_apply_op(board *b, const wb_op *op);

/* board_apply_op without the validation, for ops that came out of
 * codec_decode_batch (the decoder enforced the same rules). Passing
 * anything else is undefined. */
int board_apply_decoded(board *b, const wb_op *op);

/* Applies every op of a batch in order; stops at the first error (earlier
 * ops stay applied) and returns it. Ops of a batch returned by
 * codec_decode_batch are not validated again. */
int board_apply_batch(board *b, const wb_batch *batch);

/* The version vector (borrowed). */
const vv *board_version(const board *b);

/* Ops applied since creation (or decode; not part of the state). */
uint64_t board_ops_applied(const board *b);

/* Visible elements, and all element records (visible, tombstoned or
 * invisible remnants). */
size_t board_element_count(const board *b);
size_t board_record_count(const board *b);

/* Bytes of heap the board uses (elements, values, stamps, hash table,
 * version vector), counted from allocation sizes (malloc's own overhead
 * excluded). */
size_t board_memory_usage(const board *b);

/* Reads a visible element's live properties into *out (strings and points
 * are borrowed from the board, valid until the next mutation). Returns 0,
 * or WB_ENOTFOUND if the element is absent or not visible. */
int board_get_element(const board *b, const char *id, size_t id_len,
                      wb_props *out);

/* The stamp of an element's live property (0 or WB_ENOTFOUND), and its
 * tombstone (zero stamp if none; 0 or WB_ENOTFOUND if no record). */
int board_get_stamp(const board *b, const char *id, size_t id_len,
                    unsigned prop, wb_stamp *out);
int board_get_tombstone(const board *b, const char *id, size_t id_len,
                        wb_stamp *out);

/* Forgets tombstones whose hlc < older_than_hlc: an element record with
 * such a tombstone and no live property is removed; otherwise only the
 * tombstone is cleared. Returns the number of tombstones forgotten. */
size_t board_purge_tombstones(board *b, uint64_t older_than_hlc);

/* The state as stamped ops (board_ops.c): per record in id order, a delete
 * with its tombstone (if any), then one upsert per distinct stamp of its
 * live properties (exactly those properties). Applied to an empty board
 * they rebuild the records; applied to another board they merge this state
 * into it (LWW). cb gets each op borrowed for the call (user empty, client
 * op id 0); a non-zero return stops and is returned. 0, WB_ENOMEM or cb's
 * value. */
typedef int (*board_op_fn)(void *arg, const wb_op *op);
int board_for_each_op(const board *b, board_op_fn cb, void *arg);

/* ---- renderings (board_json.c, board_state.c) ----------------------- */

/* Canonical JSON: {"id":..,"elements":[..],"version":{..}}, elements
 * (visible only) sorted by id bytewise, keys in property-number order,
 * numbers rendered exactly (centi-px as decimals: 1050 -> 10.5), strings
 * escaped per RFC 8259. malloc'd, NUL-terminated (*out, caller frees),
 * length through *len (may be NULL). Returns 0 or WB_ENOMEM. */
int board_to_json(const board *b, char **out, size_t *len);

/* Canonical binary state, including live property stamps and tombstones
 * (so a restored board merges exactly like the original). Layout in
 * docs/board-model.md. malloc'd into *out (caller frees), *len bytes.
 * Returns 0 or WB_ENOMEM. */
int board_state_encode(const board *b, uint8_t **out, size_t *len);

/* Rebuilds a board from board_state_encode's bytes (buf is not retained).
 * limits may be NULL (defaults). Errors: WB_EBADMAGIC, WB_EBADVERSION,
 * WB_ETRUNCATED, WB_ETOOBIG, WB_EMALFORMED (non-canonical or inconsistent:
 * unsorted ids, dead property, unreferenced stamp, ...), WB_EUTF8,
 * WB_EUNKNOWN, WB_ENOMEM. Every byte string it accepts re-encodes to itself.
 * *out is set on success only. */
int board_state_decode(const uint8_t *buf, size_t len,
                       const board_limits *limits, board **out);

/* XXH3-64 of the canonical state encoding (equal states <=> equal hash,
 * short of a collision). Returns 0 or WB_ENOMEM. */
int board_state_hash(const board *b, uint64_t *out);

#endif /* WB_BOARD_H */
