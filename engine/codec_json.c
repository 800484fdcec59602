/*
 * codec_json.c: JSON text for ops and property values: a growable text
 * buffer, RFC 8259 string escaping, exact fixed-point number rendering, and
 * the canonical rendering of property sets and batches.
 *
 * Canonical means: properties in key-number order, numbers rendered from
 * integers without floating point (centi-px 1050 -> 10.5, -5 -> -0.05),
 * colours "#rrggbbaa" (or "none" for 0x00000000), 64-bit ids as strings of
 * decimal digits, no whitespace. The same op always renders to the same
 * bytes, which the test vectors (third column) rely on.
 *
 * Callers: board_json.c (board rendering), codec_batch_to_json (test
 * vectors, wbctl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_internal.h"
#include "wb_error.h"

static const char *const codec_type_names[] = {
    NULL, "stroke", "rect", "ellipse", "line", "arrow", "text", "sticky",
};

static const char *const codec_prop_names[] = {
    NULL,          "type",        "x",        "y",       "width",
    "height",      "rotation",    "strokeColor", "fillColor", "strokeWidth",
    "opacity",     "text",        "fontSize", "points",  "z",
    "locked",      "groupId",
};
_Static_assert(sizeof codec_prop_names / sizeof codec_prop_names[0] ==
                   WB_PROP_COUNT,
               "one JSON name per property key");
_Static_assert(sizeof codec_type_names / sizeof codec_type_names[0] ==
                   WB_ELEM_TYPE_MAX + 1,
               "one name per element type");

const char *codec_elem_type_name(unsigned type)
{
    return type >= 1 && type <= WB_ELEM_TYPE_MAX ? codec_type_names[type]
                                                 : NULL;
}

unsigned codec_elem_type_from_name(const char *name, size_t len)
{
    for (unsigned t = 1; t <= WB_ELEM_TYPE_MAX; t++)
        if (strlen(codec_type_names[t]) == len &&
            memcmp(codec_type_names[t], name, len) == 0)
            return t;
    return 0;
}

const char *codec_prop_name(unsigned key)
{
    return key >= WB_PROP_MIN && key <= WB_PROP_MAX ? codec_prop_names[key]
                                                     : NULL;
}

/* ---- text buffer ------------------------------------------------------ */

void codec_sbuf_put(codec_sbuf *s, const char *text, size_t n)
{
    if (s->err)
        return;
    if (s->cap - s->len <= n) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap - s->len <= n)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) {
            s->err = WB_ENOMEM;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    if (n)
        memcpy(s->p + s->len, text, n);
    s->len += n;
    s->p[s->len] = '\0';
}

void codec_sbuf_puts(codec_sbuf *s, const char *text)
{
    codec_sbuf_put(s, text, strlen(text));
}

void codec_sbuf_u64(codec_sbuf *s, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    codec_sbuf_put(s, b, (size_t)n);
}

void codec_sbuf_i64(codec_sbuf *s, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    codec_sbuf_put(s, b, (size_t)n);
}

void codec_sbuf_fixed(codec_sbuf *s, int64_t v, unsigned digits)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++)
        scale *= 10;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = a / scale, fp = a % scale;
    char b[48];
    int n = snprintf(b, sizeof b, "%s%llu", v < 0 ? "-" : "",
                     (unsigned long long)ip);
    if (fp) {
        char f[24];
        snprintf(f, sizeof f, "%0*llu", (int)digits, (unsigned long long)fp);
        size_t fl = strlen(f);
        while (fl > 0 && f[fl - 1] == '0')
            f[--fl] = '\0';
        n += snprintf(b + n, sizeof b - (size_t)n, ".%s", f);
    }
    codec_sbuf_put(s, b, (size_t)n);
}

void codec_sbuf_jstr(codec_sbuf *s, const char *text, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    codec_sbuf_put(s, "\"", 1);
    if (n == 0) { /* text may be NULL */
        codec_sbuf_put(s, "\"", 1);
        return;
    }
    size_t run = 0; /* start of the pending unescaped run */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        codec_sbuf_put(s, text + run, i - run);
        run = i + 1;
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        codec_sbuf_put(s, e, el);
    }
    codec_sbuf_put(s, text + run, n - run);
    codec_sbuf_put(s, "\"", 1);
}

/* ---- properties ------------------------------------------------------- */

static void codec_json_color(codec_sbuf *s, uint32_t c)
{
    if (c == WB_COLOR_NONE) {
        codec_sbuf_puts(s, "\"none\"");
        return;
    }
    char b[16];
    snprintf(b, sizeof b, "\"#%08x\"", (unsigned)c);
    codec_sbuf_puts(s, b);
}

static void codec_json_points(codec_sbuf *s, const wb_points *pt)
{
    codec_sbuf_put(s, "[", 1);
    for (uint32_t i = 0; i < pt->n; i++) {
        codec_sbuf_puts(s, i ? ",[" : "[");
        codec_sbuf_fixed(s, pt->xy[2 * i], 2);
        codec_sbuf_put(s, ",", 1);
        codec_sbuf_fixed(s, pt->xy[2 * i + 1], 2);
        if (pt->pressure) {
            codec_sbuf_put(s, ",", 1);
            codec_sbuf_fixed(s, pt->pressure[i], 3);
        }
        codec_sbuf_put(s, "]", 1);
    }
    codec_sbuf_put(s, "]", 1);
}

static void codec_json_value(codec_sbuf *s, unsigned key, const wb_props *p)
{
    switch (key) {
    case WB_PROP_TYPE: {
        const char *t = codec_elem_type_name(p->type);
        codec_sbuf_jstr(s, t ? t : "?", t ? strlen(t) : 1);
        break;
    }
    case WB_PROP_X: codec_sbuf_fixed(s, p->x, 2); break;
    case WB_PROP_Y: codec_sbuf_fixed(s, p->y, 2); break;
    case WB_PROP_WIDTH: codec_sbuf_fixed(s, p->width, 2); break;
    case WB_PROP_HEIGHT: codec_sbuf_fixed(s, p->height, 2); break;
    case WB_PROP_ROTATION: codec_sbuf_fixed(s, p->rotation, 2); break;
    case WB_PROP_STROKE_COLOR: codec_json_color(s, p->stroke_color); break;
    case WB_PROP_FILL_COLOR: codec_json_color(s, p->fill_color); break;
    case WB_PROP_STROKE_WIDTH: codec_sbuf_fixed(s, p->stroke_width, 2); break;
    case WB_PROP_OPACITY: codec_sbuf_u64(s, p->opacity); break;
    case WB_PROP_TEXT: codec_sbuf_jstr(s, p->text.ptr, p->text.len); break;
    case WB_PROP_FONT_SIZE: codec_sbuf_fixed(s, p->font_size, 2); break;
    case WB_PROP_POINTS: codec_json_points(s, &p->points); break;
    case WB_PROP_Z: codec_sbuf_jstr(s, p->z.ptr, p->z.len); break;
    case WB_PROP_LOCKED: codec_sbuf_puts(s, p->locked ? "true" : "false"); break;
    case WB_PROP_GROUP: codec_sbuf_jstr(s, p->group.ptr, p->group.len); break;
    default: codec_sbuf_puts(s, "null"); break;
    }
}

void codec_json_props(codec_sbuf *s, const wb_props *p)
{
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(p->mask & WB_PROP_BIT(k)))
            continue;
        codec_sbuf_put(s, ",\"", 2);
        codec_sbuf_puts(s, codec_prop_names[k]);
        codec_sbuf_put(s, "\":", 2);
        codec_json_value(s, k, p);
    }
}

/* ---- batches ---------------------------------------------------------- */

static void codec_json_u64str(codec_sbuf *s, const char *key, uint64_t v)
{
    codec_sbuf_puts(s, key);
    codec_sbuf_put(s, "\"", 1);
    codec_sbuf_u64(s, v);
    codec_sbuf_put(s, "\"", 1);
}

static void codec_json_op(codec_sbuf *s, const wb_op *op)
{
    codec_sbuf_puts(s, op->kind == WB_OP_UPSERT ? "{\"kind\":\"upsert\""
                                                : "{\"kind\":\"delete\"");
    codec_json_u64str(s, ",\"opId\":", op->client_op_id);
    codec_sbuf_puts(s, ",\"user\":");
    codec_sbuf_jstr(s, op->user.ptr, op->user.len);
    codec_sbuf_puts(s, ",\"id\":");
    codec_sbuf_jstr(s, op->elem.ptr, op->elem.len);
    if (op->has_stamp) {
        codec_json_u64str(s, ",\"stamp\":{\"hlc\":", op->stamp.hlc);
        codec_json_u64str(s, ",\"node\":", op->stamp.node);
        codec_json_u64str(s, ",\"oseq\":", op->stamp.oseq);
        codec_sbuf_put(s, "}", 1);
    }
    if (op->kind == WB_OP_UPSERT) {
        codec_sbuf_puts(s, ",\"props\":{");
        size_t mark = s->len;
        codec_json_props(s, &op->props);
        if (!s->err && s->len > mark)
            memmove(s->p + mark, s->p + mark + 1, s->len - mark); /* lead comma */
        if (!s->err && s->len > mark)
            s->len--;
        codec_sbuf_put(s, "}", 1);
    }
    codec_sbuf_put(s, "}", 1);
}

int codec_batch_to_json(const wb_batch *b, char **out, size_t *len)
{
    codec_sbuf s = {0};
    codec_sbuf_puts(&s, "{\"board\":");
    codec_sbuf_jstr(&s, b->board.ptr, b->board.len);
    codec_sbuf_puts(&s, ",\"ops\":[");
    for (uint32_t i = 0; i < b->nops; i++) {
        if (i)
            codec_sbuf_put(&s, ",", 1);
        codec_json_op(&s, &b->ops[i]);
    }
    codec_sbuf_puts(&s, "]}");
    if (s.err) {
        free(s.p);
        return s.err;
    }
    *out = s.p;
    if (len)
        *len = s.len;
    return 0;
}
