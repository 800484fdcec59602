/*
 * board_elem.c: element records and their values: allocation, the value
 * blocks (text, z, group id, points), the per-record stamp table, and the
 * byte accounting behind board_memory_usage. Layout and invariants in
 * board_internal.h; the merge that drives these is board_apply.c.
 *
 * Every allocation and free of a record or value adjusts board.bytes by
 * the requested size, so board_memory_usage is exact up to malloc's own
 * overhead.
 */
#include <stdlib.h>
#include <string.h>

#include "board_internal.h"
#include "wb_error.h"

static size_t board_pts_size(uint32_t n, int pressure)
{
    return sizeof(board_pts) + (size_t)n * 2 * sizeof(int32_t) +
           (pressure ? (size_t)n * sizeof(uint16_t) : 0);
}

static size_t board_elem_size(size_t idlen)
{
    return sizeof(board_elem) + idlen + 1;
}

board_elem *board_elem_new(board *b, const char *id, size_t len)
{
    board_elem *e = calloc(1, board_elem_size(len));
    if (!e)
        return NULL;
    memcpy(e->id, id, len);
    e->idlen = (uint8_t)len;
    b->bytes += board_elem_size(len);
    return e;
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

void board_elem_free(board *b, board_elem *e)
{
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        board_elem_drop_value(b, e, k);
    b->bytes -= (size_t)e->cst * sizeof(wb_stamp);
    free(e->st);
    b->bytes -= board_elem_size(e->idlen);
    free(e);
}

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
