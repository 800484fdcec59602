/*
 * op.h: the data model of the whiteboard: element types, properties, the
 * stamp, the op and the batch of ops (plain structs, no behaviour beyond
 * the stamp order).
 *
 * Everything here is what the codec (codec.h) encodes byte for byte, what
 * the board model (board.h) merges, and what the engine stamps and logs.
 * The normative byte layout is docs/protocol.md ("Ops"); the merge rule is
 * docs/board-model.md.
 *
 * Numbers are integers so that they round-trip exactly through the binary
 * encoding, the state hash and the JSON rendering (no float formatting
 * anywhere):
 *   - coordinates, sizes, stroke width, font size: 1/100 pixel ("centi-px"),
 *     int32 (x, y, point coordinates) or 0..INT32_MAX (width, height);
 *   - rotation: 1/100 degree, 0..35999;
 *   - opacity: percent, 0..100;
 *   - colours: RGBA packed as 0xRRGGBBAA; 0x00000000 is "none";
 *   - point pressure: permille, 0..1000.
 * Stroke points are relative to the element's (x, y).
 *
 * Strings (wb_str) are (pointer, length) views; they are NOT NUL-terminated
 * in general. Who owns the bytes is stated where a wb_str is produced: a
 * decoded batch owns all of its strings and arrays (codec_batch_free).
 */
#ifndef WB_OP_H
#define WB_OP_H

#include <stddef.h>
#include <stdint.h>

/* ---- bounds (enforced by the decoder before anything is allocated) ---- */

#define WB_OP_VERSION 1u         /* the version byte of an encoded batch */
#define WB_MAX_ID_LEN 64u        /* board, element and group ids: bytes */
#define WB_MAX_USER_LEN 128u     /* user id: bytes of UTF-8 */
#define WB_MAX_TEXT_BYTES 16384u /* text property: bytes of UTF-8 */
#define WB_MAX_Z_LEN 64u         /* z-order (fractional index): bytes */
#define WB_MAX_POINTS 16384u     /* points of one stroke/line/arrow */
#define WB_MAX_OPS_PER_BATCH 1024u

#define WB_MAX_COORD INT32_MAX    /* |x|, |y|, point coordinates */
#define WB_MAX_SIZE INT32_MAX     /* width, height */
#define WB_MAX_ROTATION 35999u    /* 1/100 degree */
#define WB_MAX_OPACITY 100u       /* percent */
#define WB_MAX_STROKE_WIDTH 100000u /* centi-px (1000 px) */
#define WB_MAX_FONT_SIZE 100000u  /* centi-px (1000 px); 0 is invalid */
#define WB_MAX_PRESSURE 1000u     /* permille */

/* Ids (board, element, group): 1..WB_MAX_ID_LEN bytes of [A-Za-z0-9_-]
 * (group ids may also be empty: "no group"). Z-order: 1..WB_MAX_Z_LEN bytes
 * of [0-9A-Za-z], compared bytewise. */

/* ---- element types (values of WB_PROP_TYPE) -------------------------- */

typedef enum wb_elem_type {
    WB_ELEM_STROKE = 1,  /* freehand: points (+ optional pressure) */
    WB_ELEM_RECT = 2,
    WB_ELEM_ELLIPSE = 3,
    WB_ELEM_LINE = 4,    /* points (2 or more) */
    WB_ELEM_ARROW = 5,   /* points (2 or more) */
    WB_ELEM_TEXT = 6,
    WB_ELEM_STICKY = 7,  /* sticky note: rect + text */
} wb_elem_type;
#define WB_ELEM_TYPE_MAX 7u

/* ---- properties: the key numbers are part of the wire format ---------- */

typedef enum wb_prop {
    WB_PROP_TYPE = 1,         /* u8 wb_elem_type */
    WB_PROP_X = 2,            /* int32 centi-px */
    WB_PROP_Y = 3,            /* int32 centi-px */
    WB_PROP_WIDTH = 4,        /* 0..INT32_MAX centi-px */
    WB_PROP_HEIGHT = 5,       /* 0..INT32_MAX centi-px */
    WB_PROP_ROTATION = 6,     /* 0..35999 centi-degree */
    WB_PROP_STROKE_COLOR = 7, /* u32 0xRRGGBBAA */
    WB_PROP_FILL_COLOR = 8,   /* u32 0xRRGGBBAA */
    WB_PROP_STROKE_WIDTH = 9, /* 0..100000 centi-px */
    WB_PROP_OPACITY = 10,     /* 0..100 percent */
    WB_PROP_TEXT = 11,        /* UTF-8, <= WB_MAX_TEXT_BYTES */
    WB_PROP_FONT_SIZE = 12,   /* 1..100000 centi-px */
    WB_PROP_POINTS = 13,      /* wb_points */
    WB_PROP_Z = 14,           /* fractional index string */
    WB_PROP_LOCKED = 15,      /* 0 or 1 */
    WB_PROP_GROUP = 16,       /* group id, may be empty */
} wb_prop;
#define WB_PROP_MIN 1u
#define WB_PROP_MAX 16u
#define WB_PROP_COUNT (WB_PROP_MAX + 1u) /* arrays indexed by key; [0] unused */
#define WB_PROP_BIT(k) (1u << (k))
#define WB_PROP_ALL_MASK (((1u << WB_PROP_COUNT) - 1u) & ~1u)

_Static_assert(WB_PROP_COUNT <= 32, "property masks are uint32_t");

#define WB_COLOR_NONE 0x00000000u

/* A string view: len bytes at ptr (ptr may be NULL when len is 0). */
typedef struct wb_str {
    const char *ptr;
    uint32_t len;
} wb_str;

/* Points of a stroke, line or arrow. xy holds 2n int32: x0, y0, x1, y1, ...
 * in centi-px relative to the element's (x, y). pressure is NULL or holds
 * n permille values. */
typedef struct wb_points {
    uint32_t n;
    const int32_t *xy;
    const uint16_t *pressure;
} wb_points;

/* A set of property values. Bit k of mask says property k is present; the
 * fields of absent properties are ignored (keep them zero). */
typedef struct wb_props {
    uint32_t mask;
    uint8_t type;
    uint8_t opacity;
    uint8_t locked;
    int32_t x, y;
    int32_t width, height;
    uint32_t rotation;
    uint32_t stroke_color, fill_color;
    uint32_t stroke_width;
    uint32_t font_size;
    wb_str text;
    wb_str z;
    wb_str group;
    wb_points points;
} wb_props;

/* ---- the stamp: total order over distinct ops ------------------------- */

/* hlc: 48-bit wall-clock milliseconds << 16 | 16-bit logical counter
 * (hlc.h). node: the origin node id (never 0). oseq: the origin's op
 * sequence number (from 1, no gaps per origin). Order: (hlc, node, oseq)
 * lexicographic. Two distinct ops never share (node, oseq), hence never a
 * stamp. */
typedef struct wb_stamp {
    uint64_t hlc;
    uint64_t node;
    uint64_t oseq;
} wb_stamp;

/* <0, 0, >0 as a orders before, equal to, after b. */
static inline int wb_stamp_cmp(const wb_stamp *a, const wb_stamp *b)
{
    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    if (a->oseq != b->oseq)
        return a->oseq < b->oseq ? -1 : 1;
    return 0;
}

static inline int wb_stamp_is_zero(const wb_stamp *s)
{
    return s->hlc == 0 && s->node == 0 && s->oseq == 0;
}

/* ---- ops and batches -------------------------------------------------- */

typedef enum wb_op_kind {
    WB_OP_UPSERT = 1, /* set the properties in props (at least one) */
    WB_OP_DELETE = 2, /* stamped tombstone for the element */
} wb_op_kind;

/* One op. Clients send ops without a stamp (has_stamp = 0); the server
 * stamps them (engine) and every op logged, replicated or sent to clients
 * carries one (has_stamp = 1). */
typedef struct wb_op {
    uint8_t kind;          /* wb_op_kind */
    uint8_t has_stamp;     /* 0 or 1 */
    uint64_t client_op_id; /* chosen by the client, echoed in its ack */
    wb_str user;           /* user id (UTF-8, may be empty) */
    wb_str elem;           /* element id */
    wb_stamp stamp;        /* valid iff has_stamp */
    wb_props props;        /* WB_OP_UPSERT only (mask != 0) */
} wb_op;

/* A batch: ops of one board. The top-level unit of the encoding (a
 * WebSocket ops frame body, an oplog record payload). */
typedef struct wb_batch {
    wb_str board;
    uint32_t nops;     /* 1..WB_MAX_OPS_PER_BATCH */
    wb_op *ops;
    void *owner_;      /* decoder's arena; NULL for caller-built batches */
} wb_batch;

#endif /* WB_OP_H */
