/*
 * board.c: the board object: creation, the element hash map, element value
 * storage, accessors and tombstone purge. The merge itself (apply, check)
 * is board_apply.c; renderings are board_json.c and board_state.c. The
 * layout and its invariants are in board_internal.h; the merge rule in
 * board.h and docs/board-model.md.
 *
 * The map is open addressing with linear probing over element pointers,
 * keyed by XXH3-64 of the id with a random per-board seed (ids are chosen
 * by clients: a fixed hash would let one craft colliding ids and turn every
 * probe into a scan), grown at 70% load; removal (purge only) uses
 * backward-shift deletion so no tombstone slots are needed in the map.
 * Called by the engine thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "board_internal.h"
#include "codec_internal.h"
#include "wb_error.h"

void board_limits_default(board_limits *l)
{
    l->max_elements = 100000;
    l->max_bytes = 256ull << 20;
    l->max_points = WB_MAX_POINTS;
    l->max_text = WB_MAX_TEXT_BYTES;
}

int board_create(const char *id, size_t id_len, const board_limits *limits,
                 board **out)
{
    if (!id || codec_check_id(id, id_len, 0) != 0)
        return WB_EINVAL;
    board *b = calloc(1, sizeof *b);
    if (!b)
        return WB_ENOMEM;
    memcpy(b->id, id, id_len);
    if (getrandom(&b->seed, sizeof b->seed, GRND_NONBLOCK) != sizeof b->seed)
        b->seed = XXH3_64bits_withSeed(&b, sizeof b, (uint64_t)time(NULL));
    if (limits)
        b->limits = *limits;
    else
        board_limits_default(&b->limits);
    vv_init(&b->version);
    *out = b;
    return 0;
}

static size_t board_pts_size(uint32_t n, int pressure)
{
    return sizeof(board_pts) + (size_t)n * 2 * sizeof(int32_t) +
           (pressure ? (size_t)n * sizeof(uint16_t) : 0);
}

static size_t board_elem_size(size_t idlen)
{
    return sizeof(board_elem) + idlen + 1;
}

/* Frees value k of e (strings, points) and adjusts the byte count. */
static void board_elem_drop_value(board *b, board_elem *e, unsigned k)
{
    switch (k) {
    case WB_PROP_TEXT:
        b->bytes -= e->text_len;
        free(e->text);
        e->text = NULL;
        e->text_len = 0;
        break;
    case WB_PROP_Z:
        b->bytes -= e->z_len;
        free(e->z);
        e->z = NULL;
        e->z_len = 0;
        break;
    case WB_PROP_GROUP:
        b->bytes -= e->group_len;
        free(e->group);
        e->group = NULL;
        e->group_len = 0;
        break;
    case WB_PROP_POINTS:
        if (e->points)
            b->bytes -= board_pts_size(e->points->n, e->points->has_pressure);
        free(e->points);
        e->points = NULL;
        break;
    default:
        break;
    }
}

static void board_elem_free(board *b, board_elem *e)
{
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        board_elem_drop_value(b, e, k);
    b->bytes -= (size_t)e->cst * sizeof(wb_stamp);
    free(e->st);
    b->bytes -= board_elem_size(e->idlen);
    free(e);
}

void board_free(board *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i])
            board_elem_free(b, b->slots[i]);
    free(b->slots);
    vv_free(&b->version);
    free(b);
}

const char *board_id(const board *b)
{
    return b->id;
}

void board_get_limits(const board *b, board_limits *out)
{
    *out = b->limits;
}

void board_set_limits(board *b, const board_limits *l)
{
    b->limits = *l;
}

const vv *board_version(const board *b)
{
    return &b->version;
}

uint64_t board_ops_applied(const board *b)
{
    return b->ops_applied;
}

size_t board_element_count(const board *b)
{
    return b->visible;
}

size_t board_record_count(const board *b)
{
    return b->count;
}

size_t board_memory_usage(const board *b)
{
    return sizeof *b + b->bytes + b->cap * sizeof *b->slots +
           (size_t)b->version.cap * sizeof(vv_entry);
}

/* ---- hash map --------------------------------------------------------- */

static uint64_t board_hash(const board *b, const char *id, size_t len)
{
    return XXH3_64bits_withSeed(id, len, b->seed);
}

board_elem *board_find(const board *b, const char *id, size_t len)
{
    if (!b->cap)
        return NULL;
    uint64_t h = board_hash(b, id, len);
    size_t mask = b->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        board_elem *e = b->slots[i];
        if (!e)
            return NULL;
        if (e->hash == h && e->idlen == len && memcmp(e->id, id, len) == 0)
            return e;
    }
}

static void board_slot_put(board_elem **slots, size_t cap, board_elem *e)
{
    size_t mask = cap - 1;
    size_t i = e->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = e;
}

static int board_grow(board *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    board_elem **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return WB_ENOMEM;
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i])
            board_slot_put(slots, cap, b->slots[i]);
    free(b->slots);
    b->slots = slots;
    b->cap = cap;
    return 0;
}

int board_insert_record(board *b, const char *id, size_t len,
                        board_elem **out)
{
    if ((b->count + 1) * 10 > b->cap * 7) {
        int rc = board_grow(b);
        if (rc)
            return rc;
    }
    board_elem *e = calloc(1, board_elem_size(len));
    if (!e)
        return WB_ENOMEM;
    memcpy(e->id, id, len);
    e->idlen = (uint8_t)len;
    e->hash = board_hash(b, id, len);
    board_slot_put(b->slots, b->cap, e);
    b->count++;
    b->bytes += board_elem_size(len);
    *out = e;
    return 0;
}

/* Removes the record in slot i (backward-shift deletion) and frees it. */
static void board_remove_slot(board *b, size_t i)
{
    size_t mask = b->cap - 1;
    board_elem_free(b, b->slots[i]);
    b->slots[i] = NULL;
    b->count--;
    for (size_t j = (i + 1) & mask; b->slots[j]; j = (j + 1) & mask) {
        size_t home = b->slots[j]->hash & mask;
        /* Move j back into the hole unless its home lies in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        b->slots[i] = b->slots[j];
        b->slots[j] = NULL;
        i = j;
    }
}

void board_remove_record(board *b, board_elem *e)
{
    size_t mask = b->cap - 1;
    for (size_t i = e->hash & mask; b->slots[i]; i = (i + 1) & mask) {
        if (b->slots[i] == e) {
            if (e->live & WB_PROP_BIT(WB_PROP_TYPE))
                b->visible--;
            board_remove_slot(b, i);
            return;
        }
    }
}

/* ---- element values --------------------------------------------------- */

size_t board_record_bytes(size_t len)
{
    return board_elem_size(len) + 2 * sizeof(wb_stamp);
}

size_t board_value_bytes(unsigned k, const wb_props *p)
{
    switch (k) {
    case WB_PROP_TEXT: return p->text.len;
    case WB_PROP_Z: return p->z.len;
    case WB_PROP_GROUP: return p->group.len;
    case WB_PROP_POINTS:
        return board_pts_size(p->points.n, p->points.n && p->points.pressure);
    default: return 0;
    }
}

void board_elem_kill(board *b, board_elem *e, unsigned k)
{
    if (!(e->live & WB_PROP_BIT(k)))
        return;
    if (k == WB_PROP_TYPE)
        b->visible--;
    board_elem_drop_value(b, e, k);
    e->live &= ~WB_PROP_BIT(k);
}

void board_elem_compact(board *b, board_elem *e)
{
    uint8_t remap[WB_PROP_COUNT + 1];
    uint32_t used = 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        if (e->live & WB_PROP_BIT(k))
            used |= 1u << e->sidx[k];
    uint8_t n = 0;
    for (uint8_t i = 0; i < e->nst; i++) {
        if (!(used & (1u << i)))
            continue;
        remap[i] = n;
        e->st[n++] = e->st[i];
    }
    if (n == e->nst)
        return;
    e->nst = n;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        if (e->live & WB_PROP_BIT(k))
            e->sidx[k] = remap[e->sidx[k]];
    if (n == 0) {
        b->bytes -= (size_t)e->cst * sizeof(wb_stamp);
        free(e->st);
        e->st = NULL;
        e->cst = 0;
    }
}

static int board_copy_str(board *b, char **dst, uint32_t *dst_len,
                          const wb_str *s)
{
    char *p = NULL;
    if (s->len) {
        p = malloc(s->len);
        if (!p)
            return WB_ENOMEM;
        memcpy(p, s->ptr, s->len);
    }
    b->bytes -= *dst_len;
    free(*dst);
    *dst = p;
    *dst_len = s->len;
    b->bytes += s->len;
    return 0;
}

static int board_copy_points(board *b, board_elem *e, const wb_points *pt)
{
    int pr = pt->n && pt->pressure;
    size_t size = board_pts_size(pt->n, pr);
    board_pts *p = malloc(size);
    if (!p)
        return WB_ENOMEM;
    p->n = pt->n;
    p->has_pressure = (uint32_t)pr;
    p->xy = (int32_t *)(p + 1);
    p->pressure = pr ? (uint16_t *)(p->xy + 2 * (size_t)pt->n) : NULL;
    if (pt->n)
        memcpy(p->xy, pt->xy, (size_t)pt->n * 2 * sizeof(int32_t));
    if (pr)
        memcpy(p->pressure, pt->pressure, (size_t)pt->n * sizeof(uint16_t));
    board_elem_drop_value(b, e, WB_PROP_POINTS);
    e->points = p;
    b->bytes += size;
    return 0;
}

int board_elem_set(board *b, board_elem *e, unsigned k, const wb_props *p,
                   uint8_t si)
{
    int rc = 0;
    switch (k) {
    case WB_PROP_TYPE: e->type = p->type; break;
    case WB_PROP_X: e->x = p->x; break;
    case WB_PROP_Y: e->y = p->y; break;
    case WB_PROP_WIDTH: e->width = p->width; break;
    case WB_PROP_HEIGHT: e->height = p->height; break;
    case WB_PROP_ROTATION: e->rotation = p->rotation; break;
    case WB_PROP_STROKE_COLOR: e->stroke_color = p->stroke_color; break;
    case WB_PROP_FILL_COLOR: e->fill_color = p->fill_color; break;
    case WB_PROP_STROKE_WIDTH: e->stroke_width = p->stroke_width; break;
    case WB_PROP_OPACITY: e->opacity = p->opacity; break;
    case WB_PROP_FONT_SIZE: e->font_size = p->font_size; break;
    case WB_PROP_LOCKED: e->locked = p->locked; break;
    case WB_PROP_TEXT: rc = board_copy_str(b, &e->text, &e->text_len, &p->text); break;
    case WB_PROP_Z: rc = board_copy_str(b, &e->z, &e->z_len, &p->z); break;
    case WB_PROP_GROUP:
        rc = board_copy_str(b, &e->group, &e->group_len, &p->group);
        break;
    case WB_PROP_POINTS: rc = board_copy_points(b, e, &p->points); break;
    default: return WB_EUNKNOWN;
    }
    if (rc)
        return rc;
    if (k == WB_PROP_TYPE && !(e->live & WB_PROP_BIT(k)))
        b->visible++;
    e->live |= WB_PROP_BIT(k);
    e->sidx[k] = si;
    return 0;
}

int board_elem_add_stamp(board *b, board_elem *e, const wb_stamp *s)
{
    if (e->nst == e->cst) {
        uint8_t cst = e->cst ? (uint8_t)(e->cst * 2) : 2;
        if (cst > WB_PROP_COUNT + 1)
            cst = WB_PROP_COUNT + 1;
        if (cst <= e->nst)
            return -1;
        wb_stamp *st = realloc(e->st, cst * sizeof *st);
        if (!st)
            return -1;
        b->bytes += (size_t)(cst - e->cst) * sizeof *st;
        e->st = st;
        e->cst = cst;
    }
    e->st[e->nst] = *s;
    return e->nst++;
}

void board_elem_props(const board_elem *e, wb_props *out)
{
    memset(out, 0, sizeof *out);
    out->mask = e->live;
    out->type = e->type;
    out->opacity = e->opacity;
    out->locked = e->locked;
    out->x = e->x;
    out->y = e->y;
    out->width = e->width;
    out->height = e->height;
    out->rotation = e->rotation;
    out->stroke_color = e->stroke_color;
    out->fill_color = e->fill_color;
    out->stroke_width = e->stroke_width;
    out->font_size = e->font_size;
    out->text = (wb_str){e->text, e->text_len};
    out->z = (wb_str){e->z, e->z_len};
    out->group = (wb_str){e->group, e->group_len};
    if (e->points) {
        out->points.n = e->points->n;
        out->points.xy = e->points->xy;
        out->points.pressure = e->points->pressure;
    }
}

int board_get_element(const board *b, const char *id, size_t id_len,
                      wb_props *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e || !(e->live & WB_PROP_BIT(WB_PROP_TYPE)))
        return WB_ENOTFOUND;
    board_elem_props(e, out);
    return 0;
}

int board_get_stamp(const board *b, const char *id, size_t id_len,
                    unsigned prop, wb_stamp *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e || prop < WB_PROP_MIN || prop > WB_PROP_MAX ||
        !(e->live & WB_PROP_BIT(prop)))
        return WB_ENOTFOUND;
    *out = e->st[e->sidx[prop]];
    return 0;
}

int board_get_tombstone(const board *b, const char *id, size_t id_len,
                        wb_stamp *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e)
        return WB_ENOTFOUND;
    *out = e->tomb;
    return 0;
}

/* Sort key: the first 8 id bytes big endian (ids never contain NUL, so
 * zero padding orders a prefix first), then the rest. Comparing the cached
 * key first keeps the sort out of the records for almost every compare. */
typedef struct board_sort_ent {
    uint64_t key;
    board_elem *e;
} board_sort_ent;

static int board_sort_cmp(const void *pa, const void *pb)
{
    const board_sort_ent *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    size_t la = a->e->idlen, lb = b->e->idlen;
    if (la > 8 && lb > 8) {
        size_t n = (la < lb ? la : lb) - 8;
        int c = memcmp(a->e->id + 8, b->e->id + 8, n);
        if (c)
            return c;
    }
    return (la > lb) - (la < lb);
}

int board_sorted_records(const board *b, board_elem ***out)
{
    *out = NULL;
    if (!b->count)
        return 0;
    board_elem **v = malloc(b->count * sizeof *v);
    board_sort_ent *ent = malloc(b->count * sizeof *ent);
    if (!v || !ent) {
        free(v);
        free(ent);
        return WB_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->cap; i++) {
        board_elem *e = b->slots[i];
        if (!e)
            continue;
        uint64_t key = 0;
        for (size_t k = 0; k < 8; k++)
            key = key << 8 | (k < e->idlen ? (uint8_t)e->id[k] : 0);
        ent[n].key = key;
        ent[n++].e = e;
    }
    qsort(ent, n, sizeof *ent, board_sort_cmp);
    for (size_t i = 0; i < n; i++)
        v[i] = ent[i].e;
    free(ent);
    *out = v;
    return 0;
}

/* ---- purge ------------------------------------------------------------ */

size_t board_purge_tombstones(board *b, uint64_t older_than_hlc)
{
    size_t purged = 0, marked = 0;
    for (size_t i = 0; i < b->cap; i++) {
        board_elem *e = b->slots[i];
        if (!e || wb_stamp_is_zero(&e->tomb) || e->tomb.hlc >= older_than_hlc)
            continue;
        purged++;
        if (e->live) {
            e->tomb = (wb_stamp){0, 0, 0};
        } else {
            e->purge = 1;
            marked++;
        }
    }
    /* Backward shift only moves records into the hole at or after i, so
     * one pass with a `while` at each slot sees every marked record. */
    for (size_t i = 0; marked && i < b->cap; i++) {
        while (b->slots[i] && b->slots[i]->purge) {
            board_remove_slot(b, i);
            marked--;
        }
    }
    return purged;
}
