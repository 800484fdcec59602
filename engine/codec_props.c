/*
 * codec_props.c: property values: their ranges, their byte encoding, and a
 * total order on them (for breaking stamp ties in the board model).
 *
 * Value encodings (key numbers in op.h; normative table in
 * docs/protocol.md):
 *   type                 u8, 1..7 (other values: WB_EUNKNOWN)
 *   x, y                 svar, int32 range
 *   width, height        uvar, 0..INT32_MAX
 *   rotation             uvar, 0..35999
 *   strokeColor, fill    u32 big endian 0xRRGGBBAA (4 bytes, as written)
 *   strokeWidth          uvar, 0..100000
 *   opacity              uvar, 0..100
 *   text                 str, UTF-8, <= WB_MAX_TEXT_BYTES
 *   fontSize             uvar, 1..100000
 *   points               n:uvar flags:u8 (bit 0: pressure; 0 if n == 0)
 *                        then n x (dx:svar dy:svar [pressure:uvar 0..1000]),
 *                        deltas from the previous point (the first from 0,0);
 *                        every absolute coordinate within int32
 *   z                    str, 1..64 bytes of [0-9A-Za-z]
 *   locked               u8, 0 or 1
 *   groupId              str, id or empty
 */
#include <string.h>

#include "codec_internal.h"
#include "utf8.h"
#include "wb_error.h"

static int codec_check_z(const char *s, size_t n)
{
    if (n == 0)
        return WB_EMALFORMED;
    if (n > WB_MAX_Z_LEN)
        return WB_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return WB_EMALFORMED;
    }
    return 0;
}

static int codec_check_points(const wb_points *pt)
{
    if (pt->n > WB_MAX_POINTS)
        return WB_ETOOBIG;
    if (pt->n == 0)
        return pt->pressure ? WB_EMALFORMED : 0;
    if (!pt->xy)
        return WB_EINVAL;
    if (pt->pressure)
        for (uint32_t i = 0; i < pt->n; i++)
            if (pt->pressure[i] > WB_MAX_PRESSURE)
                return WB_EMALFORMED;
    return 0;
}

static int codec_validate_prop(unsigned key, const wb_props *p)
{
    switch (key) {
    case WB_PROP_TYPE:
        return p->type >= 1 && p->type <= WB_ELEM_TYPE_MAX ? 0 : WB_EUNKNOWN;
    case WB_PROP_X:
    case WB_PROP_Y:
    case WB_PROP_STROKE_COLOR:
    case WB_PROP_FILL_COLOR:
        return 0;
    case WB_PROP_WIDTH:
        return p->width >= 0 ? 0 : WB_EMALFORMED;
    case WB_PROP_HEIGHT:
        return p->height >= 0 ? 0 : WB_EMALFORMED;
    case WB_PROP_ROTATION:
        return p->rotation <= WB_MAX_ROTATION ? 0 : WB_EMALFORMED;
    case WB_PROP_STROKE_WIDTH:
        return p->stroke_width <= WB_MAX_STROKE_WIDTH ? 0 : WB_EMALFORMED;
    case WB_PROP_OPACITY:
        return p->opacity <= WB_MAX_OPACITY ? 0 : WB_EMALFORMED;
    case WB_PROP_TEXT:
        if (p->text.len > WB_MAX_TEXT_BYTES)
            return WB_ETOOBIG;
        if (p->text.len && !p->text.ptr)
            return WB_EINVAL;
        return utf8_validate((const uint8_t *)p->text.ptr, p->text.len);
    case WB_PROP_FONT_SIZE:
        return p->font_size >= 1 && p->font_size <= WB_MAX_FONT_SIZE
                   ? 0
                   : WB_EMALFORMED;
    case WB_PROP_POINTS:
        return codec_check_points(&p->points);
    case WB_PROP_Z:
        return codec_check_z(p->z.ptr, p->z.len);
    case WB_PROP_LOCKED:
        return p->locked <= 1 ? 0 : WB_EMALFORMED;
    case WB_PROP_GROUP:
        return codec_check_id(p->group.ptr, p->group.len, 1);
    default:
        return WB_EUNKNOWN;
    }
}

int codec_validate_props(const wb_props *p)
{
    if (p->mask == 0)
        return WB_EMALFORMED;
    if (p->mask & ~WB_PROP_ALL_MASK)
        return WB_EUNKNOWN;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(p->mask & WB_PROP_BIT(k)))
            continue;
        int rc = codec_validate_prop(k, p);
        if (rc)
            return rc;
    }
    return 0;
}

static void codec_put_points(codec_writer *w, const wb_points *pt)
{
    codec_put_uvar(w, pt->n);
    codec_put_u8(w, pt->n && pt->pressure ? 1 : 0);
    int64_t px = 0, py = 0;
    for (uint32_t i = 0; i < pt->n; i++) {
        int64_t x = pt->xy[2 * i], y = pt->xy[2 * i + 1];
        codec_put_svar(w, x - px);
        codec_put_svar(w, y - py);
        if (pt->pressure)
            codec_put_uvar(w, pt->pressure[i]);
        px = x;
        py = y;
    }
}

void codec_put_prop_value(codec_writer *w, unsigned key, const wb_props *p)
{
    switch (key) {
    case WB_PROP_TYPE: codec_put_u8(w, p->type); break;
    case WB_PROP_X: codec_put_svar(w, p->x); break;
    case WB_PROP_Y: codec_put_svar(w, p->y); break;
    case WB_PROP_WIDTH: codec_put_uvar(w, (uint64_t)p->width); break;
    case WB_PROP_HEIGHT: codec_put_uvar(w, (uint64_t)p->height); break;
    case WB_PROP_ROTATION: codec_put_uvar(w, p->rotation); break;
    case WB_PROP_STROKE_COLOR: codec_put_u32be(w, p->stroke_color); break;
    case WB_PROP_FILL_COLOR: codec_put_u32be(w, p->fill_color); break;
    case WB_PROP_STROKE_WIDTH: codec_put_uvar(w, p->stroke_width); break;
    case WB_PROP_OPACITY: codec_put_uvar(w, p->opacity); break;
    case WB_PROP_TEXT: codec_put_str(w, p->text.ptr, p->text.len); break;
    case WB_PROP_FONT_SIZE: codec_put_uvar(w, p->font_size); break;
    case WB_PROP_POINTS: codec_put_points(w, &p->points); break;
    case WB_PROP_Z: codec_put_str(w, p->z.ptr, p->z.len); break;
    case WB_PROP_LOCKED: codec_put_u8(w, p->locked); break;
    case WB_PROP_GROUP: codec_put_str(w, p->group.ptr, p->group.len); break;
    default: break;
    }
}

/* An unsigned varint no greater than max. */
static int codec_get_ubounded(codec_reader *r, uint64_t max, uint64_t *v)
{
    size_t save = r->pos;
    int rc = codec_get_uvar(r, v);
    if (rc)
        return rc;
    if (*v > max) {
        r->pos = save;
        return WB_EMALFORMED;
    }
    return 0;
}

static int codec_get_i32(codec_reader *r, int32_t *v)
{
    int64_t x;
    int rc = codec_get_svar(r, &x);
    if (rc)
        return rc;
    if (x < INT32_MIN || x > INT32_MAX)
        return WB_EMALFORMED;
    *v = (int32_t)x;
    return 0;
}

static int codec_get_points(codec_reader *r, wb_points *pt, codec_arena *a)
{
    uint64_t n;
    uint8_t flags;
    int rc = codec_get_uvar(r, &n);
    if (rc)
        return rc;
    if (n > WB_MAX_POINTS)
        return WB_ETOOBIG;
    if ((rc = codec_get_u8(r, &flags)))
        return rc;
    if ((flags & ~1u) || (n == 0 && flags))
        return WB_EMALFORMED;
    int pressure = flags & 1;
    if (n * (pressure ? 3u : 2u) > codec_left(r))
        return WB_ETRUNCATED; /* checked before allocating */
    pt->n = (uint32_t)n;
    pt->xy = NULL;
    pt->pressure = NULL;
    if (n == 0)
        return 0;
    int32_t *xy = codec_arena_alloc(a, (size_t)n * 2 * sizeof *xy);
    uint16_t *pr = pressure ? codec_arena_alloc(a, (size_t)n * sizeof *pr)
                            : NULL;
    if (!xy || (pressure && !pr))
        return WB_ENOMEM;
    int64_t x = 0, y = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t dx, dy;
        uint64_t p;
        if ((rc = codec_get_svar(r, &dx)) || (rc = codec_get_svar(r, &dy)))
            return rc;
        /* Deltas are bounded by 2^33 so the sum never overflows int64. */
        if (dx < -(INT64_C(1) << 33) || dx > (INT64_C(1) << 33) ||
            dy < -(INT64_C(1) << 33) || dy > (INT64_C(1) << 33))
            return WB_EMALFORMED;
        x += dx;
        y += dy;
        if (x < INT32_MIN || x > INT32_MAX || y < INT32_MIN || y > INT32_MAX)
            return WB_EMALFORMED;
        xy[2 * i] = (int32_t)x;
        xy[2 * i + 1] = (int32_t)y;
        if (pressure) {
            if ((rc = codec_get_ubounded(r, WB_MAX_PRESSURE, &p)))
                return rc;
            pr[i] = (uint16_t)p;
        }
    }
    pt->xy = xy;
    pt->pressure = pr;
    return 0;
}

static int codec_get_text(codec_reader *r, wb_str *s)
{
    int rc = codec_get_str(r, WB_MAX_TEXT_BYTES, s);
    if (rc)
        return rc;
    return utf8_validate((const uint8_t *)s->ptr, s->len);
}

static int codec_get_scalar(codec_reader *r, unsigned key, wb_props *p)
{
    uint64_t v = 0;
    uint8_t b;
    int rc;
    switch (key) {
    case WB_PROP_TYPE:
        if ((rc = codec_get_u8(r, &b)))
            return rc;
        if (b < 1 || b > WB_ELEM_TYPE_MAX)
            return WB_EUNKNOWN;
        p->type = b;
        return 0;
    case WB_PROP_X: return codec_get_i32(r, &p->x);
    case WB_PROP_Y: return codec_get_i32(r, &p->y);
    case WB_PROP_WIDTH:
        rc = codec_get_ubounded(r, WB_MAX_SIZE, &v);
        p->width = (int32_t)v;
        return rc;
    case WB_PROP_HEIGHT:
        rc = codec_get_ubounded(r, WB_MAX_SIZE, &v);
        p->height = (int32_t)v;
        return rc;
    case WB_PROP_ROTATION:
        rc = codec_get_ubounded(r, WB_MAX_ROTATION, &v);
        p->rotation = (uint32_t)v;
        return rc;
    case WB_PROP_STROKE_COLOR: return codec_get_u32be(r, &p->stroke_color);
    case WB_PROP_FILL_COLOR: return codec_get_u32be(r, &p->fill_color);
    case WB_PROP_STROKE_WIDTH:
        rc = codec_get_ubounded(r, WB_MAX_STROKE_WIDTH, &v);
        p->stroke_width = (uint32_t)v;
        return rc;
    case WB_PROP_OPACITY:
        rc = codec_get_ubounded(r, WB_MAX_OPACITY, &v);
        p->opacity = (uint8_t)v;
        return rc;
    case WB_PROP_FONT_SIZE:
        rc = codec_get_ubounded(r, WB_MAX_FONT_SIZE, &v);
        if (!rc && v == 0)
            rc = WB_EMALFORMED;
        p->font_size = (uint32_t)v;
        return rc;
    case WB_PROP_LOCKED:
        if ((rc = codec_get_u8(r, &b)))
            return rc;
        if (b > 1)
            return WB_EMALFORMED;
        p->locked = b;
        return 0;
    default:
        return WB_EUNKNOWN;
    }
}

int codec_get_prop_value(codec_reader *r, unsigned key, wb_props *p,
                         codec_arena *arena)
{
    int rc;
    switch (key) {
    case WB_PROP_TEXT:
        rc = codec_get_text(r, &p->text);
        break;
    case WB_PROP_POINTS:
        rc = codec_get_points(r, &p->points, arena);
        break;
    case WB_PROP_Z:
        rc = codec_get_str(r, WB_MAX_Z_LEN, &p->z);
        if (!rc)
            rc = codec_check_z(p->z.ptr, p->z.len);
        break;
    case WB_PROP_GROUP:
        rc = codec_get_str(r, WB_MAX_ID_LEN, &p->group);
        if (!rc)
            rc = codec_check_id(p->group.ptr, p->group.len, 1);
        break;
    default:
        rc = codec_get_scalar(r, key, p);
        break;
    }
    if (!rc)
        p->mask |= WB_PROP_BIT(key);
    return rc;
}

/* ---- total order on values ------------------------------------------- */

#define CODEC_CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int codec_str_cmp(const wb_str *a, const wb_str *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return CODEC_CMP(a->len, b->len);
}

static int codec_points_cmp(const wb_points *a, const wb_points *b)
{
    if (a->n != b->n)
        return CODEC_CMP(a->n, b->n);
    int pa = a->pressure != NULL, pb = b->pressure != NULL;
    if (pa != pb)
        return CODEC_CMP(pa, pb);
    for (uint32_t i = 0; i < 2 * a->n; i++)
        if (a->xy[i] != b->xy[i])
            return CODEC_CMP(a->xy[i], b->xy[i]);
    for (uint32_t i = 0; pa && i < a->n; i++)
        if (a->pressure[i] != b->pressure[i])
            return CODEC_CMP(a->pressure[i], b->pressure[i]);
    return 0;
}

int codec_prop_cmp(unsigned key, const wb_props *a, const wb_props *b)
{
    switch (key) {
    case WB_PROP_TYPE: return CODEC_CMP(a->type, b->type);
    case WB_PROP_X: return CODEC_CMP(a->x, b->x);
    case WB_PROP_Y: return CODEC_CMP(a->y, b->y);
    case WB_PROP_WIDTH: return CODEC_CMP(a->width, b->width);
    case WB_PROP_HEIGHT: return CODEC_CMP(a->height, b->height);
    case WB_PROP_ROTATION: return CODEC_CMP(a->rotation, b->rotation);
    case WB_PROP_STROKE_COLOR:
        return CODEC_CMP(a->stroke_color, b->stroke_color);
    case WB_PROP_FILL_COLOR: return CODEC_CMP(a->fill_color, b->fill_color);
    case WB_PROP_STROKE_WIDTH:
        return CODEC_CMP(a->stroke_width, b->stroke_width);
    case WB_PROP_OPACITY: return CODEC_CMP(a->opacity, b->opacity);
    case WB_PROP_TEXT: return codec_str_cmp(&a->text, &b->text);
    case WB_PROP_FONT_SIZE: return CODEC_CMP(a->font_size, b->font_size);
    case WB_PROP_POINTS: return codec_points_cmp(&a->points, &b->points);
    case WB_PROP_Z: return codec_str_cmp(&a->z, &b->z);
    case WB_PROP_LOCKED: return CODEC_CMP(a->locked, b->locked);
    case WB_PROP_GROUP: return codec_str_cmp(&a->group, &b->group);
    default: return 0;
    }
}
