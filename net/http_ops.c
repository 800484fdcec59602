/*
 * http_ops.c: the REST API's JSON ops -> one encoded batch (engine codec).
 *
 *   [{"op":"upsert","id":"el-1","type":"rect","props":{"x":10,"y":20.5},
 *     "clientOpId":"42"},
 *    {"op":"delete","id":"el-2"}]
 * or {"ops":[...]}. Units are those of the board JSON (board_to_json):
 * x, y, width, height, strokeWidth, fontSize in px with up to 2 decimals
 * (stored as centi-px), rotation in degrees (centi-degrees), opacity 0..100,
 * colours "#rrggbb" / "#rrggbbaa" / "none", points [[x,y],...] or
 * [[x,y,pressure 0..1],...] (all or none with pressure), text, z, groupId
 * strings, locked bool. "type" may be given beside "props" or inside it.
 * clientOpId: a non-negative integer or a string of decimal digits; absent:
 * a random one (no dedupe across resends).
 *
 * The batch is built with borrowed pointers into the parsed JSON, then
 * validated and encoded by codec_encode_batch, which applies every codec
 * bound; errors come back as a message for a 400.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "codec.h"
#include "http_internal.h"
#include "wb_error.h"

typedef struct ops_build {
    wb_op *ops;
    int32_t **points; /* per op: owned xy arrays */
    uint16_t **press;
    char *err;
    size_t errlen;
} ops_build;

static int ops_fail(ops_build *b, size_t i, const char *what)
{
    snprintf(b->err, b->errlen, "op %zu: %s", i, what);
    return WB_EINVAL;
}

/* A JSON number in units -> fixed point with `scale` (100: centi). */
static int ops_fixed(json_t *v, double scale, double lo, double hi,
                     int64_t *out)
{
    if (!json_is_number(v))
        return 0;
    double d = json_number_value(v) * scale;
    if (!isfinite(d) || d < lo || d > hi)
        return 0;
    *out = (int64_t)llround(d);
    return 1;
}

static int ops_color(json_t *v, uint32_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 0xffffffffLL) {
        *out = (uint32_t)json_integer_value(v);
        return 1;
    }
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    if (!strcmp(s, "none")) {
        *out = WB_COLOR_NONE;
        return 1;
    }
    size_t len = strlen(s);
    if (s[0] != '#' || (len != 7 && len != 9) ||
        strspn(s + 1, "0123456789abcdefABCDEF") != len - 1)
        return 0;
    unsigned long x = strtoul(s + 1, NULL, 16);
    *out = len == 7 ? (uint32_t)(x << 8 | 0xff) : (uint32_t)x;
    return 1;
}

static wb_str ops_str(json_t *v)
{
    wb_str s = {json_string_value(v), (uint32_t)json_string_length(v)};
    return s;
}

static int ops_points(ops_build *b, size_t i, json_t *v, wb_props *p)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0 || n > WB_MAX_POINTS)
        return ops_fail(b, i, "points must be 1..16384 [x,y] pairs");
    int32_t *xy = calloc(2 * n, sizeof *xy);
    int with_p = json_array_size(json_array_get(v, 0)) == 3;
    uint16_t *pr = with_p ? calloc(n, sizeof *pr) : NULL;
    b->points[i] = xy;
    b->press[i] = pr;
    if (!xy || (with_p && !pr))
        return ops_fail(b, i, "out of memory");
    for (size_t k = 0; k < n; k++) {
        json_t *pt = json_array_get(v, k);
        int64_t x, y, q = 0;
        if (!json_is_array(pt) || json_array_size(pt) != (with_p ? 3u : 2u) ||
            !ops_fixed(json_array_get(pt, 0), 100, -WB_MAX_COORD, WB_MAX_COORD, &x) ||
            !ops_fixed(json_array_get(pt, 1), 100, -WB_MAX_COORD, WB_MAX_COORD, &y) ||
            (with_p && !ops_fixed(json_array_get(pt, 2), 1000, 0,
                                  WB_MAX_PRESSURE, &q)))
            return ops_fail(b, i, "bad point");
        xy[2 * k] = (int32_t)x;
        xy[2 * k + 1] = (int32_t)y;
        if (pr)
            pr[k] = (uint16_t)q;
    }
    p->points.n = (uint32_t)n;
    p->points.xy = xy;
    p->points.pressure = pr;
    return 0;
}

/* One property by JSON name. */
static int ops_prop(ops_build *b, size_t i, const char *key, json_t *v,
                    wb_props *p)
{
    int64_t x = 0;
    unsigned k = 0;
    int ok = 1;
    if (!strcmp(key, "type")) {
        k = WB_PROP_TYPE;
        ok = json_is_string(v) &&
             (p->type = (uint8_t)codec_elem_type_from_name(
                  json_string_value(v), json_string_length(v))) != 0;
    } else if (!strcmp(key, "x") || !strcmp(key, "y")) {
        k = key[0] == 'x' ? WB_PROP_X : WB_PROP_Y;
        ok = ops_fixed(v, 100, -WB_MAX_COORD, WB_MAX_COORD, &x);
        if (ok)
            *(k == WB_PROP_X ? &p->x : &p->y) = (int32_t)x;
    } else if (!strcmp(key, "width") || !strcmp(key, "height")) {
        k = key[0] == 'w' ? WB_PROP_WIDTH : WB_PROP_HEIGHT;
        ok = ops_fixed(v, 100, 0, WB_MAX_SIZE, &x);
        if (ok)
            *(k == WB_PROP_WIDTH ? &p->width : &p->height) = (int32_t)x;
    } else if (!strcmp(key, "rotation")) {
        k = WB_PROP_ROTATION;
        ok = ops_fixed(v, 100, 0, WB_MAX_ROTATION, &x);
        p->rotation = (uint32_t)x;
    } else if (!strcmp(key, "strokeColor")) {
        k = WB_PROP_STROKE_COLOR;
        ok = ops_color(v, &p->stroke_color);
    } else if (!strcmp(key, "fillColor")) {
        k = WB_PROP_FILL_COLOR;
        ok = ops_color(v, &p->fill_color);
    } else if (!strcmp(key, "strokeWidth")) {
        k = WB_PROP_STROKE_WIDTH;
        ok = ops_fixed(v, 100, 0, WB_MAX_STROKE_WIDTH, &x);
        p->stroke_width = (uint32_t)x;
    } else if (!strcmp(key, "opacity")) {
        k = WB_PROP_OPACITY;
        ok = ops_fixed(v, 1, 0, WB_MAX_OPACITY, &x);
        p->opacity = (uint8_t)x;
    } else if (!strcmp(key, "text") || !strcmp(key, "z") ||
               !strcmp(key, "groupId")) {
        k = key[0] == 't' ? WB_PROP_TEXT : key[0] == 'z' ? WB_PROP_Z
                                                         : WB_PROP_GROUP;
        ok = json_is_string(v);
        if (ok)
            *(k == WB_PROP_TEXT ? &p->text : k == WB_PROP_Z ? &p->z
                                                            : &p->group) =
                ops_str(v);
    } else if (!strcmp(key, "fontSize")) {
        k = WB_PROP_FONT_SIZE;
        ok = ops_fixed(v, 100, 1, WB_MAX_FONT_SIZE, &x);
        p->font_size = (uint32_t)x;
    } else if (!strcmp(key, "locked")) {
        k = WB_PROP_LOCKED;
        ok = json_is_boolean(v);
        p->locked = json_is_true(v);
    } else if (!strcmp(key, "points")) {
        if (ops_points(b, i, v, p))
            return WB_EINVAL;
        k = WB_PROP_POINTS;
    } else {
        char what[160];
        snprintf(what, sizeof what, "unknown property \"%.64s\"", key);
        return ops_fail(b, i, what);
    }
    if (!ok) {
        char what[160];
        snprintf(what, sizeof what, "bad value for \"%s\"", key);
        return ops_fail(b, i, what);
    }
    p->mask |= WB_PROP_BIT(k);
    return 0;
}

static int ops_client_id(json_t *v, uint64_t *out)
{
    if (!v) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return 0;
        *out = (r >> 1) | 1;
        return 1;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (len == 0 || len > 20 || strspn(s, "0123456789") != len)
        return 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    *out = x;
    return *end == '\0';
}

static int ops_one(ops_build *b, size_t i, json_t *o, const char *user)
{
    wb_op *op = &b->ops[i];
    if (!json_is_object(o))
        return ops_fail(b, i, "not an object");
    const char *kind = json_string_value(json_object_get(o, "op"));
    json_t *id = json_object_get(o, "id");
    if (!kind || (strcmp(kind, "upsert") && strcmp(kind, "delete")))
        return ops_fail(b, i, "\"op\" must be \"upsert\" or \"delete\"");
    if (!json_is_string(id) ||
        !http_board_id_ok(json_string_value(id), json_string_length(id)))
        return ops_fail(b, i, "\"id\" must be 1..64 of [A-Za-z0-9_-]");
    if (!ops_client_id(json_object_get(o, "clientOpId"), &op->client_op_id))
        return ops_fail(b, i, "bad \"clientOpId\"");
    op->kind = kind[0] == 'u' ? WB_OP_UPSERT : WB_OP_DELETE;
    op->elem = ops_str(id);
    op->user.ptr = user;
    op->user.len = (uint32_t)strlen(user);
    if (op->kind == WB_OP_DELETE)
        return 0;
    json_t *type = json_object_get(o, "type");
    if (type && ops_prop(b, i, "type", type, &op->props))
        return WB_EINVAL;
    json_t *props = json_object_get(o, "props");
    if (props && !json_is_object(props))
        return ops_fail(b, i, "\"props\" must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(props, key, v)
    {
        if (ops_prop(b, i, key, v, &op->props))
            return WB_EINVAL;
    }
    if (op->props.mask == 0)
        return ops_fail(b, i, "an upsert needs at least one property");
    return 0;
}

int http_ops_encode(const char *body, size_t len, const char *bid,
                    const char *user, uint8_t **out, size_t *outlen,
                    uint32_t *nops, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "malformed JSON: %s (line %d)", jerr.text,
                 jerr.line);
        return WB_EMALFORMED;
    }
    json_t *arr = json_is_object(root) ? json_object_get(root, "ops") : root;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > WB_MAX_OPS_PER_BATCH) {
        json_decref(root);
        snprintf(err, errlen, "expected a JSON array of 1..%u ops",
                 WB_MAX_OPS_PER_BATCH);
        return WB_EINVAL;
    }
    ops_build b = {calloc(n, sizeof(wb_op)), calloc(n, sizeof(int32_t *)),
                   calloc(n, sizeof(uint16_t *)), err, errlen};
    int rc = b.ops && b.points && b.press ? 0 : WB_ENOMEM;
    if (rc)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; i < n && !rc; i++)
        rc = ops_one(&b, i, json_array_get(arr, i), user);
    if (!rc) {
        wb_batch batch = {{bid, (uint32_t)strlen(bid)}, (uint32_t)n,
                          b.ops, NULL};
        rc = codec_encode_batch(&batch, out, outlen);
        if (rc)
            snprintf(err, errlen, "invalid ops: %s", wb_strerror(rc));
        *nops = (uint32_t)n;
    }
    for (size_t i = 0; b.points && b.press && i < n; i++) {
        free(b.points[i]);
        free(b.press[i]);
    }
    free(b.ops);
    free(b.points);
    free(b.press);
    json_decref(root);
    return rc;
}
