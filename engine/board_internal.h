/*
 * board_internal.h: the board's in-memory layout, shared by board.c (the
 * object, hash map, accessors, purge), board_elem.c (records and values),
 * board_apply.c (merge, limits), board_json.c (JSON rendering) and
 * board_state.c (canonical binary state); not for use outside
 * engine/board*.c.
 *
 * Element record (board_elem): one malloc block with the id at its end.
 * Scalar property values are stored inline, strings and points in their own
 * blocks. Stamps are interned per element: st[] holds the distinct stamps
 * that live properties reference (an upsert writes all its properties with
 * one stamp, so a record typically holds one to three), and sidx[k] is the
 * index of property k's stamp. Invariants, restored after every mutation:
 *   - bit k of live set  <=>  property k has a value, st[sidx[k]] is its
 *     stamp, and that stamp > tomb;
 *   - every st[i], i < nst, is referenced by at least one live property;
 *   - a record has a non-zero tomb or at least one live property;
 *   - b->visible counts records with WB_PROP_TYPE live;
 *   - b->bytes is the sum of the sizes of every block the board allocated.
 */
#ifndef WB_BOARD_INTERNAL_H
#define WB_BOARD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "op.h"
#include "vv.h"

/* A points value: header and arrays in one block. */
typedef struct board_pts {
    uint32_t n;
    uint32_t has_pressure;
    int32_t *xy;        /* 2n, inside the block */
    uint16_t *pressure; /* n or NULL, inside the block */
} board_pts;

typedef struct board_elem {
    uint64_t hash;     /* XXH3 of the id, seeded with board.seed */
    uint32_t live;     /* WB_PROP_BIT mask of live properties */
    uint8_t nst, cst;  /* stamps in use, allocated */
    uint8_t idlen;
    uint8_t purge;     /* scratch flag for board_purge_tombstones */
    uint8_t type, opacity, locked;
    uint8_t sidx[WB_PROP_COUNT];
    int32_t x, y, width, height;
    uint32_t rotation, stroke_color, fill_color, stroke_width, font_size;
    uint32_t text_len, z_len, group_len;
    char *text, *z, *group; /* malloc'd, not NUL-terminated; NULL if len 0 */
    board_pts *points;
    wb_stamp tomb;          /* zero: no tombstone */
    wb_stamp *st;
    char id[];              /* idlen bytes + NUL */
} board_elem;

_Static_assert(WB_MAX_ID_LEN <= UINT8_MAX, "idlen is a uint8_t");
_Static_assert(WB_PROP_COUNT + 1 <= 32,
               "stamp tables hold <= WB_PROP_COUNT + 1 entries, tracked in a "
               "uint32_t bitmap with uint8_t indices");

struct board {
    char id[WB_MAX_ID_LEN + 1];
    board_limits limits;
    uint64_t seed;      /* random per board: ids are client-chosen, so
                           the map must not be floodable by collisions */
    board_elem **slots; /* open addressing, linear probing; cap power of 2 */
    size_t cap;
    size_t count;       /* records */
    size_t visible;     /* records whose type is live */
    size_t bytes;       /* heap blocks of elements and values */
    vv version;
    uint64_t ops_applied;
};

/* Looks an element record up (NULL if absent). */
board_elem *board_find(const board *b, const char *id, size_t len);

/* Fills *out with the live values of e (borrowed views). */
void board_elem_props(const board_elem *e, wb_props *out);

/* Records sorted by id bytewise: a malloc'd array of b->count pointers
 * (caller frees), or NULL with count 0 when empty. Returns 0 or
 * WB_ENOMEM. */
int board_sorted_records(const board *b, board_elem ***out);

/* A new zeroed record for id (hash not set, not in the map), counted in
 * b->bytes; NULL on ENOMEM. board_elem_free frees it and its values. */
board_elem *board_elem_new(board *b, const char *id, size_t len);
void board_elem_free(board *b, board_elem *e);

/* Adds a new record for id to the map (board.c). */
int board_insert_record(board *b, const char *id, size_t len,
                        board_elem **out);
/* Writes value k of p into e (replacing any value; sets the live bit and
 * sidx[k] = si). Returns 0 or WB_ENOMEM (then e is unchanged). */
int board_elem_set(board *b, board_elem *e, unsigned k, const wb_props *p,
                   uint8_t si);
/* Removes record e from the map and frees it. */
void board_remove_record(board *b, board_elem *e);
/* Frees value k of e and clears its live bit (and visible count). */
void board_elem_kill(board *b, board_elem *e, unsigned k);
/* Drops stamps no live property references; renumbers sidx. */
void board_elem_compact(board *b, board_elem *e);
/* Bytes the value of property k of p would occupy in a record. */
size_t board_value_bytes(unsigned k, const wb_props *p);
/* Bytes of a new record for an id of len bytes. */
size_t board_record_bytes(size_t len);
/* Appends stamp s to e's table (no dedup); returns its index or -1. */
int board_elem_add_stamp(board *b, board_elem *e, const wb_stamp *s);

#endif /* WB_BOARD_INTERNAL_H */
